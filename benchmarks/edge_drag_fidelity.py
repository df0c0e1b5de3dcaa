"""The edge models against FEFF10 on the benchmark's single-atom moves of derived complexes.

    python benchmarks/edge_drag_fidelity.py [--data data/feff] [--metals Cu Ni Co Mn Zn]

For each edge, every parent of ``DATA/<metal>-k`` that ``scripts/atom_moves.py`` moved (tags
numbered 1-8, the drag-fidelity benchmark's families) is predicted as it is and moved by the
shipped FEFF10 model of that edge (``pretrained/<metal>-k-feff``), and the model's Δμ is set against
FEFF10's (Pearson r, norm ratio; on the edge's grid, no alignment, as the cards' drag table).
The parents are in the models' training data; since the models learn from the single-atom moves
too, ``--finished-after`` keeps only the moves computed after the shipped models were fitted: how
the models follow a drag they did not see, on every edge that has such moves. The benchmark on real complexes (``benchmarks/drag_fidelity.py``) needs real complexes of
the metal, which exist here only for Fe.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "benchmarks"))
from _machine import machine_line  # noqa: E402
from atom_moves import ALL_FAMILIES  # noqa: E402

from xanesviz.data import read_spectrum_file  # noqa: E402
from xanesviz.derived_set import move_family, variant_of  # noqa: E402
from xanesviz.simulate import read_manifest  # noqa: E402
from xanesviz.structure import read_structure  # noqa: E402


def single_atom_moves(edge_dir: Path, finished_after: str | None = None) -> dict[str, list[tuple[str, str]]]:
    """parent stem -> [(move stem, family)] of the finished single-atom moves in ``edge_dir``; with
    ``finished_after`` (ISO time, UTC), only moves FEFF10 finished after it."""
    records = [r for r in read_manifest(edge_dir) if r.get("status") == "ok"]
    done = {r["stem"] for r in records}
    late = {r["stem"] for r in records if finished_after is None or r.get("finished", "") > finished_after}
    moves: dict = {}
    for stem in sorted(done):
        tag = variant_of(stem)
        family = move_family(tag) if tag else ""
        parent = stem[: -len(tag) - 1] if tag else stem
        # derived variants are numbered 0 (a family without "(one atom)"); atom_moves.py's by family
        if family.endswith(" (one atom)") and parent in done and stem in late:
            moves.setdefault(parent, []).append((stem, family.removesuffix(" (one atom)")))
    return moves


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data/feff"))
    parser.add_argument("--metals", nargs="+", default=["Cu", "Ni", "Co", "Mn", "Zn", "Ti", "V", "Cr", "Fe"])
    parser.add_argument("--finished-after", metavar="TIME",
                        help="only moves FEFF10 finished after TIME (ISO, UTC, e.g. 2026-12-04T07:17:42): those "
                             "computed after the shipped models were fitted, which they never saw")
    args = parser.parse_args(argv)
    from xanesviz.predictor import Predictor

    print(f"Edge models against FEFF10 on single-atom moves of derived complexes; {machine_line()}")
    print("| edge | parents | family | pairs | median r of Δμ | median norm ratio (model/FEFF) |")
    print("|---|---|---|---|---|---|")
    found, pooled = 0, {}
    for metal in args.metals:
        edge_dir = args.data / f"{metal.lower()}-k"
        moves = single_atom_moves(edge_dir, args.finished_after)
        if not moves:
            continue
        predictor = Predictor.load(REPO / "pretrained" / f"{metal.lower()}-k-feff")
        grid = predictor.energy
        rows: dict = {}
        for parent, moved in moves.items():
            base = predictor.predict(read_structure(edge_dir / "xyz" / f"{parent}.xyz")).mu
            base_feff = read_spectrum_file(edge_dir / "spectra" / f"{parent}.txt", grid)[1]
            for stem, family in moved:
                d_model = predictor.predict(read_structure(edge_dir / "xyz" / f"{stem}.xyz")).mu - base
                d_feff = read_spectrum_file(edge_dir / "spectra" / f"{stem}.txt", grid)[1] - base_feff
                if d_model.std() > 0 and d_feff.std() > 0:
                    rows.setdefault(family, []).append((float(np.corrcoef(d_model, d_feff)[0, 1]),
                                                        float(np.linalg.norm(d_model) / np.linalg.norm(d_feff))))
        for family in [f for f in ALL_FAMILIES if f in rows]:
            r, ratio = np.array(rows[family]).T
            found += len(r)
            pooled.setdefault(family, []).extend(rows[family])
            print(f"| {metal} K ({predictor.name}) | {len(moves)} | {family} | {len(r)} | {np.median(r):.2f} "
                  f"| {np.median(ratio):.2f} |")
    for family in [f for f in ALL_FAMILIES if f in pooled]:
        r, ratio = np.array(pooled[family]).T
        print(f"| all edges | | {family} | {len(r)} | {np.median(r):.2f} | {np.median(ratio):.2f} |")
    if not found:
        sys.exit(f"edge_drag_fidelity: no single-atom moves in {args.data} (scripts/atom_moves.py makes them)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
