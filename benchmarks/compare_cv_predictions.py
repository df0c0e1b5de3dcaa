"""Two or more edge-model CVs compared on the spectra all of them scored.

    python benchmarks/compare_cv_predictions.py FILE FILE [...]

Each FILE is what ``xanesviz train-edges ... --cv K --cv-predictions FILE`` writes. Refits on
different data score different spectra, so their overall medians do not compare; this keeps the
spectra (edge and stem) every file holds and prints, per file, the Δμ median of its out-of-fold
predictions over them, pooled and per edge. The folds of the runs differ, so differences of a
few hundredths are noise. The machine is printed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _machine import machine_line  # noqa: E402

from xanesviz.evaluation import delta_mu  # noqa: E402

METHOD = "FDMNES_transfer"


def keys_of(saved) -> list[str]:
    return [f"{edge}/{stem}" for edge, stem in zip(np.asarray(saved["edges"]).astype(str),
                                                    np.asarray(saved["stems"]).astype(str))]


def common_medians(runs: list) -> tuple[int, list[dict[str, float]]]:
    """The number of spectra all runs scored, and per run the Δμ median (%) over them, pooled and per edge."""
    keys = [keys_of(saved) for saved in runs]
    common = sorted(set.intersection(*(set(k) for k in keys)))
    if not common:
        raise ValueError("the runs have no spectrum in common")
    edges = np.array([key.split("/")[0] for key in common])
    tables = []
    for saved, run_keys in zip(runs, keys):
        where = {key: i for i, key in enumerate(run_keys)}
        rows = np.array([where[key] for key in common])
        dmu = delta_mu(np.asarray(saved[METHOD])[rows], np.asarray(saved["true"])[rows])
        table = {"all": float(np.median(dmu))}
        table.update({edge: float(np.median(dmu[edges == edge])) for edge in dict.fromkeys(edges)})
        tables.append(table)
    return len(common), tables


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    if len(args.files) < 2:
        parser.error("give two or more files")
    runs = []
    for path in args.files:
        with np.load(path) as saved:
            missing = {"edges", "stems", "true", METHOD} - set(saved.files)
            if missing:
                raise KeyError(f"{path}: not a train-edges --cv-predictions file (no {', '.join(sorted(missing))})")
            runs.append({key: saved[key] for key in ("edges", "stems", "true", METHOD)})
    n, tables = common_medians(runs)
    print(f"Δμ median (%) of out-of-fold predictions on the {n} spectra all {len(runs)} runs scored; {machine_line()}")
    edges = list(tables[0])
    print("| run | " + " | ".join(edges) + " |")
    print("|---|" + "---|" * len(edges))
    for path, table in zip(args.files, tables):
        print(f"| {path} | " + " | ".join(f"{table[e]:.2f}" for e in edges) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
