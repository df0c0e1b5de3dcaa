#!/usr/bin/env python
"""FEFF10 spectra of derived complexes moved the way a mouse drag moves them: one atom at a time.

    python scripts/atom_moves.py data/feff --metals Cu Ni Co Mn Zn --parents 4 --workers 2

The derived data sets' own displaced variants (``xanesviz derive``) move whole ligands rigidly. A
drag in the dashboard, and the drag-fidelity benchmark (``benchmarks/drag_fidelity.py``), move single
atoms: a donor along its bond (stretch), a donor swung about the metal with the rest of its ligand
left in place (bend), every donor along its bond (breathe). This takes parents already computed in
``DATA/<metal>-k`` (the first ``--parents`` of each edge: those begun by an earlier run, then a seeded order), moves each by the
benchmark's own ``displace`` in each of ``--families``, and computes the moved structures with the
reference FEFF10 settings into the same folder, named as the real-complex set names its moves
(``<Metal>_<REFCODE>_<kind><n>``, n from the family: bend1 = bend10, bend2 = bend5, breathe3 =
breathe+0.05, breathe4 = breathe-0.05, pull5 = pull0.5, stretch6 = stretch+0.05, stretch7 =
stretch+0.1, stretch8 = stretch-0.1; the derived variants are numbered 0), so that pooling pairs
each move with its parent. Rounds go parent by parent over the metals in the order given, so a stop
at any point leaves every edge about equally served; what is computed is skipped on a rerun, and a
move FEFF10 failed on (recorded in the manifest) is not given again.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from drag_fidelity import FAMILIES, displace  # noqa: E402

from xanesviz import packed  # noqa: E402
from xanesviz.derived_set import ONE_ATOM_MOVES, variant_of  # noqa: E402
from xanesviz.simulate import pack_feff_files, read_manifest, simulate  # noqa: E402
from xanesviz.structure import read_structure  # noqa: E402

ALL_FAMILIES = list(ONE_ATOM_MOVES)  # a family's tag number is its place here + 1, as in data/feff-real
DEFAULT_FAMILIES = ["stretch+0.05", "stretch+0.1", "stretch-0.1", "bend10", "bend5", "breathe+0.05", "breathe-0.05"]


def move_stem(parent_stem: str, family: str) -> str:
    """``Cu_ABCDEF`` and ``bend5`` -> ``Cu_ABCDEF_bend2`` (the real-complex set's tags)."""
    kind = FAMILIES[family][0]
    return f"{parent_stem}_{kind}{ALL_FAMILIES.index(family) + 1}"


def parents_in_order(edge_dir: Path, seed: int) -> list[str]:
    """The parents FEFF10 finished in ``edge_dir``: those already given single-atom moves first (so a
    rerun completes them), then the others in a seeded order that parents added later do not reshuffle."""
    records = read_manifest(edge_dir)
    done = {r["stem"] for r in records if r.get("status") == "ok" and variant_of(r["stem"]) is None
            and packed.exists(edge_dir / "xyz" / f"{r['stem']}.xyz")}
    started = {r["stem"].rsplit("_", 1)[0] for r in records if (variant_of(r["stem"]) or "0").endswith(
        tuple("12345678"))}
    return sorted(done, key=lambda stem: (stem not in started, hashlib.sha256(f"{seed}:{stem}".encode()).hexdigest()))


def write_moves(edge_dir: Path, parent: str, families: list[str], out: Path) -> list[Path]:
    """The moved structures of ``parent`` (as ``xyz`` files in ``out``), one per family."""
    from ase.io import write

    atoms = read_structure(edge_dir / "xyz" / f"{parent}.xyz")  # or its packed form, STEM.xyz.gz
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for family in families:
        kind, amount = FAMILIES[family]
        moved = displace(atoms, kind, amount)
        moved.info = {"stem": move_stem(parent, family), "parent": parent, "role": "variant",
                      "move": f"{family} (benchmarks/drag_fidelity.py displace: single atoms)"}
        path = out / f"{move_stem(parent, family)}.xyz"
        write(path, moved, format="extxyz")
        paths.append(path)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="root of the derived data sets (<metal>-k/ folders)")
    parser.add_argument("--metals", nargs="+", default=["Cu", "Ni", "Co", "Mn", "Zn"])
    parser.add_argument("--parents", type=int, default=4, help="parents per edge")
    parser.add_argument("--families", nargs="+", default=DEFAULT_FAMILIES, choices=ALL_FAMILIES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--structures", type=Path, default=Path("runs/atom-moves"),
                        help="where the moved structures are written before FEFF10 runs")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--together", action="store_true",
                        help="give each edge's moves of every parent to Dask at once instead of parent by parent "
                             "(for many workers: with one process per edge on a shared --scheduler, none waits)")
    args = parser.parse_args(argv)
    orders = {}
    for metal in args.metals:
        edge_dir = args.data / f"{metal.lower()}-k"
        if not (edge_dir / "manifest.jsonl").is_file():
            sys.exit(f"atom_moves: {edge_dir}/manifest.jsonl is missing: no FEFF10 data set for {metal}")
        orders[metal] = parents_in_order(edge_dir, args.seed)[: args.parents]
    if args.together:
        for metal in args.metals:
            compute(args, metal, orders[metal])
        return 0
    for round_ in range(args.parents):
        for metal in args.metals:
            if round_ < len(orders[metal]):
                compute(args, metal, orders[metal][round_:round_ + 1])
    return 0


def compute(args, metal: str, parents: list[str]) -> None:
    """FEFF10 spectra of the moves of ``parents`` (one Dask submission, in parent order)."""
    edge_dir = args.data / f"{metal.lower()}-k"
    paths = [path for parent in parents
             for path in write_moves(edge_dir, parent, args.families, args.structures / metal)]
    failed = {r["stem"] for r in read_manifest(edge_dir) if r.get("status") == "failed"}
    paths = [path for path in paths if path.stem not in failed]  # FEFF10 fails them again: not retried
    if paths:
        simulate(paths, edge_dir, workers=args.workers, scheduler=args.scheduler)
        pack_feff_files(edge_dir)  # FEFF's raw table and input, packed for the repository (data/feff README)


if __name__ == "__main__":
    sys.exit(main())
