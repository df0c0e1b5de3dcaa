"""FEFF10 settings against the FDMNES spectra of the same Fe complexes: agreement and cost.

For N Fe complexes of ``../shared/data/fe-k-xanes`` (a fixed random draw: a larger N keeps the
smaller N's complexes) and each settings name (default: no-scf, reference, large-scf), computes the
FEFF10 spectra with ``xanesviz.simulate`` into ``OUT/<settings>/`` (resumable: rerun with a larger N
or after a stop and only what is missing is computed), then prints per settings:

- own: Pearson correlation of a complex's FEFF spectrum with its own FDMNES target spectrum, at the
  best relative energy shift within +-10 eV (FEFF's and FDMNES's energy zeros differ);
- other: the same against the targets of the other N-1 complexes (median over them);
- own > other: share of complexes whose own correlation beats the median of their others;
- rank: the own target's rank among all N targets (1 = the most correlated);
- cost: wall seconds and CPU seconds of FEFF's stage processes per complex (median, range).

    python benchmarks/feff_settings.py --n 30 --workers 2

``--reference-from data/feff/fe-k`` takes the reference settings' spectra from the Fe K FEFF10
data set instead of computing them: its parents (``Fe_REFCODE``) are the Fe data's complexes
unchanged (``xanesviz derive`` moves no ligand when the metal stays Fe), computed with the
reference settings; with ``--stems`` omitted, the complexes are then that data set's parents.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xanesviz.data import read_spectrum_file  # noqa: E402
from xanesviz.simulate import read_manifest, simulate  # noqa: E402
from xanesviz.data import FE_K_GRID  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared/data/fe-k-xanes"
MAX_SHIFT_POINTS = 30  # +-10 eV on the 1/3 eV grid


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        model = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
        flags = next(line for line in text.splitlines() if line.startswith("flags"))
        return f"{model}, {os.cpu_count()} cores, {'AVX512' if 'avx512f' in flags else 'no AVX512'}"
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def best_shift_correlation(a: np.ndarray, b: np.ndarray, max_shift: int = MAX_SHIFT_POINTS) -> float:
    """Largest Pearson correlation of ``a`` shifted by up to ``max_shift`` grid points against ``b``."""
    n, best = len(a), -1.0
    for k in range(-max_shift, max_shift + 1):
        x = a[max(0, k): n + min(0, k)]
        y = b[max(0, -k): n - max(0, k)]
        if x.std() > 0 and y.std() > 0:
            best = max(best, float(np.corrcoef(x, y)[0, 1]))
    return best


def pick(n: int, seed: int) -> list[Path]:
    files = sorted((DATA / "xyz").glob("*.xyz"))
    order = np.random.default_rng(seed).permutation(len(files))
    return [files[i] for i in order[:n]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="Fe complexes (default 30)")
    parser.add_argument("--settings", nargs="+", default=["no-scf", "reference", "large-scf"])
    parser.add_argument("--out", default="runs/feff-settings", help="simulate output folders, one per settings")
    parser.add_argument("--workers", type=int, help="Dask worker processes (default: one per core)")
    parser.add_argument("--scheduler", help="a running Dask scheduler's address instead of a local cluster")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stems", nargs="+", help="these complexes (file stems) instead of a random draw of N")
    parser.add_argument("--report-only", action="store_true", help="compute nothing; score what is there")
    parser.add_argument("--reference-from", metavar="DATA_DIR",
                        help="the reference settings' spectra from this Fe K FEFF10 data set (e.g. data/feff/fe-k)")
    args = parser.parse_args(argv)
    if not (DATA / "xyz").is_dir():
        print(f"reference data {DATA} not present", file=sys.stderr)
        return 2
    by_refcode = {f.stem.split("_")[0]: f.stem for f in (DATA / "xyz").glob("*.xyz")}
    # where each settings' results are: (folder, the stem there) per Fe data stem
    alias = {}
    if args.reference_from:
        from xanesviz.derived_set import parent_of, variant_of

        parents = [r["stem"] for r in read_manifest(Path(args.reference_from))
                   if variant_of(r["stem"]) is None and parent_of(r["stem"]) in by_refcode]
        alias["reference"] = {by_refcode[parent_of(p)]: p for p in parents}
    if args.stems:
        files = [DATA / "xyz" / f"{s}.xyz" for s in args.stems]
    elif args.reference_from:
        files = [DATA / "xyz" / f"{s}.xyz" for s in list(alias["reference"])[: args.n]]
    else:
        files = pick(args.n, args.seed)
    stems = [f.stem for f in files]
    if not args.report_only:
        for name in args.settings:
            if name in alias:
                continue  # read from the data set
            simulate(files, Path(args.out) / name, settings=name, workers=args.workers, scheduler=args.scheduler)
    targets = {s: read_spectrum_file(DATA / "spectra" / f"{s}.txt", FE_K_GRID)[1] for s in stems}
    drawn = ("given" if args.stems else f"the parents of {args.reference_from}" if args.reference_from
             else f"seed {args.seed}")
    print(f"\nFEFF10 settings against FDMNES, {len(stems)} Fe complexes ({drawn}); {cpu_model()}")
    print("| settings | complexes | own r (median) | other r (median) | own > other | own rank (median of N) "
          "| wall s (median, range) | CPU s (median, range) | failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.settings:
        out = Path(args.reference_from) if name in alias else Path(args.out) / name
        there = alias.get(name, {s: s for s in stems})  # Fe data stem -> the stem in ``out``
        records = {r["stem"]: r for r in read_manifest(out)}
        latest = {s: records[there[s]] for s in stems if s in there and there[s] in records}
        ok = [s for s in stems if latest.get(s, {}).get("status") == "ok"
              and (out / "spectra" / f"{there[s]}.txt").is_file()]
        failed = [s for s in stems if latest.get(s, {}).get("status") == "failed"]
        if not ok:
            print(f"| {name} | {len(ok)} | – | – | – | – | – | – | {len(failed)} |")
            continue
        feff = {s: read_spectrum_file(out / "spectra" / f"{there[s]}.txt", FE_K_GRID)[1] for s in ok}
        own, other, wins, ranks = [], [], 0, []
        for s in ok:
            scores = {t: best_shift_correlation(feff[s], targets[t]) for t in stems}
            rest = [v for t, v in scores.items() if t != s]
            own.append(scores[s])
            other.append(float(np.median(rest)))
            wins += scores[s] > np.median(rest)
            ranks.append(1 + sum(v > scores[s] for v in rest))
        wall = np.array([latest[s]["seconds"] for s in ok], float)
        cpu = np.array([latest[s].get("cpu_seconds", np.nan) for s in ok], float)
        print(f"| {name} | {len(ok)} | {np.median(own):.2f} | {np.median(other):.2f} | {wins} of {len(ok)} "
              f"| {np.median(ranks):.0f} of {len(stems)} | {np.median(wall):.0f} ({wall.min():.0f}–{wall.max():.0f}) "
              f"| {np.nanmedian(cpu):.0f} ({np.nanmin(cpu):.0f}–{np.nanmax(cpu):.0f}) | {len(failed)} |")
        for s in failed:
            print(f"    failed: {latest[s].get('error')}")
    atoms_within = {}
    for name in args.settings:
        out = Path(args.reference_from) if name in alias else Path(args.out) / name
        there = alias.get(name, {s: s for s in stems})
        records = {r["stem"]: r for r in read_manifest(out)}
        for s in stems:
            if s in there and there[s] in records and records[there[s]].get("cluster_atoms"):
                atoms_within.setdefault(s, records[there[s]]["cluster_atoms"])
    print("atoms within 6 Å:", json.dumps(atoms_within))
    return 0


if __name__ == "__main__":
    sys.exit(main())
