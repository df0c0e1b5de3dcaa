#!/usr/bin/env python
"""Generate the nine edges' FEFF10 training data, resumably, in rounds over the edges.

Each round gives every edge, in the order of how often it is measured (Cu, Ni, Co, Mn, Zn, then
Ti, V, Cr, Fe), its next ``--batch`` structures from ``STRUCTURES/<Metal>/order.txt`` through
``xanesviz simulate`` with the reference settings into ``OUT/<metal>-k``. ``--order pairs`` (the
default) gives each parent's displaced variants once FEFF10 has finished the parent, before any
new parent (so a round of new parents is followed by a round of their variants), so that at any
point about half the spectra are parents and half variants, and every variant has its parent:
the pairs are drags whose FEFF10 response is known; variants of a parent FEFF10 failed on come
last of all. ``--order parents-first`` keeps ``xanesviz derive``'s order (every parent, then the
variants), which at a few spectra an hour reaches no variant for months. With pairs, the k-th edge
of EDGE_ORDER starts k/9 of the way into the parents (``--no-spread``: all at the first), so that
the edges together cover many parent geometries rather than the same few with nine metals. A
structure already in a data set's manifest (done or failed) is not given again, so the script can
be stopped at any time and rerun. The same command runs on many cores (``--workers``) or on a Dask cluster (``--scheduler``).

    xanesviz derive data/structures/*.extxyz.gz -o runs/structures
    python scripts/generate_feff.py runs/structures -o data/feff --workers 1 --batch 4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from xanesviz.derived_set import parent_of, variant_of
from xanesviz.simulate import pack_feff_files, read_manifest, simulate

EDGE_ORDER = ["Cu", "Ni", "Co", "Mn", "Zn", "Ti", "V", "Cr", "Fe"]


def in_pairs(paths: list[Path]) -> list[Path]:
    """Each parent followed by its displaced variants (parents in their order; a variant whose
    parent is not listed keeps its place after them)."""
    variants: dict[str, list[Path]] = {}
    for path in paths:
        if variant_of(path.stem) is not None:
            variants.setdefault(parent_of(path.stem), []).append(path)
    ordered, placed = [], set()
    for path in paths:
        if variant_of(path.stem) is None:
            ordered.append(path)
            for variant in variants.get(parent_of(path.stem), []):
                ordered.append(variant)
                placed.add(variant)
    return ordered + [p for p in paths if variant_of(p.stem) is not None and p not in placed]


def pending(order_file: Path, out_dir: Path, order: str = "pairs", shift: float = 0.0) -> list[Path]:
    """Structures of ``order_file`` that ``out_dir``'s manifest does not hold yet, in the order
    ``order`` asks for ("pairs": each parent then its variants; "parents-first": the file's).
    With "pairs", variants of parents already computed come first (their pairs complete), then
    the parents not computed yet, then the variants waiting for them, and the variants of failed
    parents last; ``shift`` (0 to 1) starts the parents that far into the file's list, wrapping
    around."""
    records = read_manifest(out_dir) if out_dir.exists() else []
    finished = {record.get("stem") for record in records}
    paths = [Path(line.strip()) for line in order_file.read_text().splitlines() if line.strip()]
    if order == "pairs":
        parents = [p for p in paths if variant_of(p.stem) is None]
        start = int(round(shift * len(parents))) % len(parents) if parents else 0
        paths = in_pairs(parents[start:] + parents[:start] + [p for p in paths if variant_of(p.stem) is not None])

        def parent_stem(path: Path) -> str:
            return f"{path.stem.split('_')[0]}_{parent_of(path.stem)}"

        computed = {record.get("stem") for record in records if record.get("status") == "ok"}
        failed = {record.get("stem") for record in records if record.get("status") == "failed"}
        variants = [p for p in paths if variant_of(p.stem) is not None]
        first = [p for p in variants if parent_stem(p) in computed]
        # A variant waits until FEFF10 has finished its parent (a batch would otherwise hold both,
        # and a parent FEFF10 fails on takes its variants with it: Cu 19 of 19 by 2026-12-03).
        waiting = [p for p in variants if parent_stem(p) not in computed | failed]
        # a variant of a parent FEFF10 failed on makes no pair (and likely fails too): last
        orphan = [p for p in variants if parent_stem(p) in failed]
        later = set(first) | set(waiting) | set(orphan)
        paths = first + [p for p in paths if p not in later] + waiting + orphan
    return [p for p in paths if p.stem not in finished]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("structures", type=Path, help="folder with <Metal>/order.txt (xanesviz derive -o)")
    parser.add_argument("-o", "--output", type=Path, default=Path("data/feff"))
    parser.add_argument("--metals", nargs="+", default=EDGE_ORDER)
    parser.add_argument("--batch", type=int, default=4, help="structures per edge per round")
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--settings", default="reference")
    parser.add_argument("--order", choices=["pairs", "parents-first"], default="pairs",
                        help="each parent then its variants (default), or every parent first")
    parser.add_argument("--no-spread", dest="spread", action="store_false",
                        help="every edge takes the parents in the same order (by default the k-th edge of "
                             "EDGE_ORDER starts k/9 into the list, so the edges cover different parents)")
    args = parser.parse_args(argv)
    for _ in range(args.rounds):
        given = 0
        for metal in args.metals:
            order = args.structures / metal / "order.txt"
            if not order.exists():
                print(f"generate: {order} missing, {metal} skipped", file=sys.stderr)
                continue
            out = args.output / f"{metal.lower()}-k"
            shift = EDGE_ORDER.index(metal) / len(EDGE_ORDER) if args.spread and metal in EDGE_ORDER else 0.0
            todo = pending(order, out, args.order, shift)[: args.batch]
            if not todo:
                continue
            given += len(todo)
            start = time.time()
            counts = simulate(todo, out, settings=args.settings, workers=args.workers, scheduler=args.scheduler)
            pack_feff_files(out)  # FEFF's raw table and input, packed for the repository (data/feff README)
            print(f"generate: {metal} {counts} in {time.time() - start:.0f} s", file=sys.stderr, flush=True)
        if not given:
            print("generate: every structure has been computed", file=sys.stderr)
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
