"""The edge models' methods on real Fe complexes: spectra and drags against FEFF10.

    python benchmarks/real_complexes.py [--runs runs/drag-fidelity] [--networks runs/refine/fold0-zeta32]
        [--methods map pooled] [--members 2] [--prior 25] [--ridge 1] [--pair-weight 1] [--linear P,A]
        [--fine-tune LR,EPOCHS[,PAIRS]] [--edge-map-ridge A [--edge-output map|layer]] [--real-weights K ...] [--json FILE] [--parent-fractions F ...]

The complexes and their FEFF10 reference spectra are those ``benchmarks/drag_fidelity.py`` computed
into ``--runs`` (each real tmQM Fe complex as it is and moved by each displacement family; on a
fresh clone ``python scripts/real_fe_set.py --restore data/feff-real`` writes those runs back, and
``benchmarks/refine_recovery.py --recipe xanesviz-fe-k-zeta32 --model runs/refine/fold0-zeta32 --n 1``
trains the fold-0 networks); no FEFF10 data set in ``data/feff`` derives from them. Each method is
trained here on all of ``data/feff`` (no bundle is written):

* ``map``: the FDMNES networks of ``--networks`` (a bundle whose networks never saw these
  complexes, e.g. fold 0's of ``benchmarks/refine_recovery.py``) recalibrated to FEFF10 as the
  shipped edge models are (``--prior``, ``--ridge``, ``--pair-weight``; with ``--linear P,A`` also a
  linear member, ``xanesviz train-edges --linear-member``; with ``--fine-tune`` the networks then
  trained further on the fit's FEFF10 spectra, ``xanesviz train-edges --fine-tune``);
* ``pooled``: ``--members`` networks of the Fe recipe trained on all edges' FEFF10 spectra (each
  as its deviation from its edge's mean), the "one network for all edges" of docs/models.md.

Prints per method the Δμ median of the unmoved complexes (same absolute grid, no alignment) and,
per displacement family, the median Pearson r of the model's change of spectrum against FEFF10's
and the median size ratio, aligned as ``drag_fidelity.py`` aligns them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_line  # noqa: E402
from drag_fidelity import FAMILIES  # noqa: E402

from xanesviz.bundle import load_bundle  # noqa: E402
from xanesviz.cli import _describe_fine_tune, _fine_tune, _linear_member  # noqa: E402
from xanesviz.data import read_spectrum_file  # noqa: E402
from xanesviz.edges import FdmnesTransfer, Pooled, PooledNetwork, concatenate, pool, read_edges  # noqa: E402
from xanesviz.evaluation import delta_mu, summarise  # noqa: E402
from xanesviz.feff import align_to, edge_grid  # noqa: E402
from xanesviz.model import get_recipe  # noqa: E402
from xanesviz.predictor import DEFAULT_BUNDLE  # noqa: E402
from xanesviz.spectrum import Spectrum  # noqa: E402
from xanesviz.structure import read_structure  # noqa: E402


def complexes(runs: Path) -> list[str]:
    """The stems of the unmoved complexes in ``runs``."""
    return sorted(p.stem for p in (runs / "feff-reference" / "spectra").glob("*.txt") if "@" not in p.stem)


def score(predict, descriptor, runs: Path, stems: list[str] | None = None) -> tuple[dict, dict, dict]:
    """(accuracy of the unmoved complexes, {family: (median r, median size ratio, pairs)},
    {family: [(r, size ratio) of each complex]}) over ``stems`` (default: every complex in ``runs``);
    the per-complex rows let held-out halves be pooled."""
    spectra, structures = runs / "feff-reference" / "spectra", runs / "structures"
    stems = complexes(runs) if stems is None else stems
    grid = edge_grid("Fe")

    def predicted(path: Path) -> np.ndarray:
        return predict(descriptor.transform([read_structure(path)], absorber="Fe"))[0]

    unmoved, feff_unmoved, drags = [], [], {}
    for stem in stems:
        p0 = predicted(structures / f"{stem}.xyz")
        e, mu = read_spectrum_file(spectra / f"{stem}.txt")
        unmoved.append(p0)
        feff_unmoved.append(read_spectrum_file(spectra / f"{stem}.txt", grid)[1])
        shift, scale, aligned = align_to(Spectrum(e, mu), Spectrum(grid, p0))
        for family in FAMILIES:
            moved = spectra / f"{stem}@{family}.txt"
            if not moved.is_file():
                continue
            d_model = predicted(structures / f"{stem}@{family}.xyz") - p0
            e2, mu2 = read_spectrum_file(moved)
            d_feff = scale * np.interp(grid - shift, e2, mu2) - aligned.mu
            drags.setdefault(family, []).append((np.corrcoef(d_model, d_feff)[0, 1],
                                                 np.linalg.norm(d_model) / np.linalg.norm(d_feff)))
    accuracy = summarise(grid - grid[0] - 15.0, np.array(unmoved), np.array(feff_unmoved))
    accuracy["errors"] = delta_mu(np.array(unmoved), np.array(feff_unmoved))
    table = {family: (float(np.nanmedian([r for r, _ in rows])), float(np.nanmedian([s for _, s in rows])), len(rows))
             for family, rows in drags.items()}
    return accuracy, table, drags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/drag-fidelity", help="drag_fidelity.py's --out")
    parser.add_argument("--data", default="data/feff")
    parser.add_argument("--networks", default="runs/refine/fold0-zeta32",
                        help="FDMNES bundle whose networks the map uses (one that never saw these complexes)")
    parser.add_argument("--methods", nargs="+", default=["map", "pooled"], choices=["map", "pooled"])
    parser.add_argument("--members", type=int, default=2, help="networks of the pooled method (default 2)")
    parser.add_argument("--prior", type=float, default=25.0)
    parser.add_argument("--ridge", type=float, default=1.0)
    parser.add_argument("--pair-weight", type=float, default=1.0)
    parser.add_argument("--linear", type=_linear_member, default=None, metavar="P,A")
    parser.add_argument("--fine-tune", type=_fine_tune, default=None, metavar="LR,EPOCHS[,PAIRS]",
                        help="map: then train the networks further on the fit's spectra (and, with PAIRS, its "
                             "own drags), as train-edges --fine-tune does; default none")
    parser.add_argument("--edge-map-ridge", type=float, default=None, metavar="A",
                        help="map: with --fine-tune, then a map per edge of ridge strength A, as train-edges "
                             "--edge-map-ridge fits it; default none")
    parser.add_argument("--edge-output", choices=("map", "layer"), default="map",
                        help="with --edge-map-ridge: a map of the output per edge (default) or a last layer per "
                             "edge, as train-edges --edge-output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real-weights", type=float, nargs="*", default=[], metavar="K",
                        help="also the map with one half of the real complexes (and their moves, from --real-data) "
                             "in its data, each weighted K, scored on the other half (two folds)")
    parser.add_argument("--json", metavar="FILE", help="with --real-weights: write the last weight's held-out table "
                                                       "as JSON (for the cards: train-edges --drag-fidelity FILE)")
    parser.add_argument("--real-data", nargs="+", default=["data/feff-real"],
                        help="the real complexes as a data set (scripts/real_fe_set.py; default data/feff-real); "
                             "further roots (e.g. data/feff-literature) join every fit, weighted alike, never scored")
    parser.add_argument("--parent-fractions", type=float, nargs="*", default=[], metavar="F",
                        help="also the map trained on these shares of the parents (three draws each): a learning "
                             "curve of the real complexes' figures")
    args = parser.parse_args()
    if args.fine_tune == "auto":
        parser.error("--fine-tune: give LR,EPOCHS[,PAIRS] (the choice by CV is train-edges')")
    runs = Path(args.runs)
    if not (runs / "feff-reference" / "spectra").is_dir():
        sys.exit(f"real_complexes: {runs}/feff-reference/spectra is missing: run benchmarks/drag_fidelity.py first "
                 "(or write the runs back from the data set: python scripts/real_fe_set.py --restore data/feff-real)")
    print(machine_line())
    fdmnes = load_bundle(DEFAULT_BUNDLE)
    data = pool(read_edges(args.data), fdmnes.descriptor)
    print(f"{len(data)} FEFF10 spectra ({int(data.variants.sum())} displaced variants) of "
          f"{len(np.unique(data.parents))} parents in {args.data}")
    for method in args.methods:
        start = time.perf_counter()
        if method == "map":
            networks = load_bundle(args.networks)
            model = FdmnesTransfer.fit(data, networks.ensemble, prior=args.prior, map_ridge=args.ridge,
                                       pair_weight=args.pair_weight, fine_tune=args.fine_tune,
                                       edge_map_ridge=args.edge_map_ridge, edge_output=args.edge_output,
                                       linear=args.linear if isinstance(args.linear, tuple) else None)
            label = (f"map of {args.networks}'s networks (N {args.prior:g}, R {args.ridge:g}, pairs "
                     f"{args.pair_weight:g}" + (f", linear member {args.linear}" if isinstance(args.linear, tuple)
                                                else "")
                     + (f"; fine-tuned: {_describe_fine_tune(args.fine_tune)}" if args.fine_tune else "")
                     + (f"; a {args.edge_output} per edge, ridge {args.edge_map_ridge:g}" if args.edge_map_ridge else "") + ")")
        else:
            recipe = get_recipe(fdmnes.card["recipe"]["name"]).with_overrides(neighbour_width=0.0)
            model = PooledNetwork.fit(data, recipe, seed=args.seed, n_members=args.members)
            label = f"pooled network ({args.members} networks of the Fe recipe on all edges' FEFF10 spectra)"
        accuracy, table, _ = score(lambda X: model.predict(X, ["Fe"] * len(X)), fdmnes.descriptor, runs)
        print(f"\n{label}, fitted in {time.perf_counter() - start:.0f} s")
        print(f"  {accuracy['n_spectra']} real Fe complexes as they are: Δμ median {accuracy['delta_mu_median_pct']:.2f} % "
              f"(quartiles {accuracy['delta_mu_q1_pct']:.2f}-{accuracy['delta_mu_q3_pct']:.2f} %)")
        print("  drags, median r of Δμ against FEFF10's (median size ratio): " + "; ".join(
            f"{family} {r:.2f} ({size:.2f})" for family, (r, size, _) in table.items()))
    if args.parent_fractions:
        learning_curve(data, load_bundle(args.networks), fdmnes.descriptor, runs, args)
    if args.real_weights:
        real_pairs_cv(data, load_bundle(args.networks), fdmnes.descriptor, runs, args)
    return 0


def real_pairs_cv(data: Pooled, networks, descriptor, runs: Path, args) -> None:
    """Two folds over the real complexes (alternate ones): the map fitted on data/feff plus one
    half's complexes and moves (from ``--real-data``, each weighted K of ``--real-weights``; with any
    other real complex there, never scored), scored on the other half; against the map without
    them, on the same halves."""
    stems = complexes(runs)
    halves = [stems[0::2], stems[1::2]]
    real = concatenate([pool(read_edges(root), descriptor) for root in args.real_data])
    print(f"\nthe map with real complexes and their moves in its data ({' '.join(args.real_data)}: {len(real)} spectra; two "
          f"halves of the {len(stems)} complexes here, each scored by the fit on {args.data} plus the other half): "
          "Δμ of each held-out half; median r per family, each half")
    for weight in [0.0] + args.real_weights:
        accuracies, drags, errors, pooled_rows = [], {}, [], {}
        for train, test in ((halves[0], halves[1]), (halves[1], halves[0])):
            # the other half, and any real complex of --real-data that is not among those scored here
            keep = np.isin(real.parents, [stem.split("_")[0] for stem in train]) | \
                ~np.isin(real.parents, [stem.split("_")[0] for stem in stems])
            half = dataclasses.replace(real.subset(keep), weights=np.full(int(keep.sum()), weight))
            fitted = data if weight == 0 else concatenate([dataclasses.replace(data, weights=None), half])
            model = FdmnesTransfer.fit(fitted, networks.ensemble, prior=args.prior, map_ridge=args.ridge,
                                       pair_weight=args.pair_weight, fine_tune=args.fine_tune,
                                       edge_map_ridge=args.edge_map_ridge, edge_output=args.edge_output)
            accuracy, table, rows = score(lambda X: model.predict(X, ["Fe"] * len(X)), descriptor, runs, test)
            accuracies.append(accuracy["delta_mu_median_pct"])
            errors.extend(accuracy["errors"])
            for family, (r, size, n) in table.items():
                drags.setdefault(family, []).append(r)
                pooled_rows.setdefault(family, []).extend(rows[family])
        label = "without real complexes" if weight == 0 else f"with one half's real complexes, weighted {weight:g}"
        print(f"  {label}: Δμ " + " / ".join(f"{a:.2f}" for a in accuracies) + " %; " + "; ".join(
            f"{family} " + "/".join(f"{r:.2f}" for r in rows) for family, rows in drags.items()))
        print(f"    all {len(errors)} complexes, each held out: Δμ median {np.median(errors):.2f} %; " + "; ".join(
            f"{family} {np.nanmedian([r for r, _ in rows]):.2f} ({np.nanmedian([q for _, q in rows]):.2f})"
            for family, rows in pooled_rows.items()))
        if args.json and weight == args.real_weights[-1]:
            write_table(args, weight, len(stems), float(np.median(errors)), pooled_rows)


def write_table(args, weight: float, n: int, median_error: float, rows: dict) -> None:
    """The held-out halves' drag table in drag_fidelity.py's JSON form (for a model card:
    ``xanesviz train-edges --drag-fidelity FILE``)."""
    import json

    record = {"benchmark": "benchmarks/real_complexes.py", "command": " ".join(sys.argv[1:]),
              "what": f"{n} real Fe complexes in two halves; each half scored by the map fitted on {args.data} plus "
                      f"the other half's complexes and moves and any further real complexes of {' '.join(args.real_data)}, "
                      f"each weighted {weight:g}" + (", the networks then fine-tuned on the same data" if args.fine_tune
                                                     else "")
                      + f"; fold-0 networks ({args.networks}), which never saw them",
              "model": f"map N {args.prior:g}, R {args.ridge:g}, pairs {args.pair_weight:g}, real weight {weight:g}"
                       + (f"; fine-tuned: {_describe_fine_tune(args.fine_tune)}" if args.fine_tune else "")
                       + (f"; a {args.edge_output} per edge, ridge {args.edge_map_ridge:g}" if args.edge_map_ridge else ""),
              "feff_settings": "reference", "machine": machine_line(), "date": time.strftime("%Y-%m-%d"),
              "unmoved_delta_mu_median_pct": round(median_error, 3),
              "families": {family: {"pairs": len(values), "median_r": round(float(np.nanmedian([r for r, _ in values])), 3),
                                    "median_norm_ratio": round(float(np.nanmedian([q for _, q in values])), 3)}
                           for family, values in rows.items()}}
    Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.json} (the table of weight {weight:g})")


def learning_curve(data, networks, descriptor, runs: Path, args) -> None:
    """The map fitted on shares of the parents (each with its variants and other metals), three
    draws a share: the real complexes' Δμ and drags against the amount of data."""
    parents = np.unique(data.parents)
    rng = np.random.default_rng(args.seed)
    print(f"\nlearning curve of the map (N {args.prior:g}, R {args.ridge:g}, pairs {args.pair_weight:g}), "
          "three draws of parents a share: Δμ median of the real complexes; median r per family")
    for fraction in args.parent_fractions:
        results = []
        for _ in range(3 if fraction < 1 else 1):
            keep = np.isin(data.parents, rng.choice(parents, max(2, round(fraction * len(parents))), replace=False))
            model = FdmnesTransfer.fit(data.subset(keep), networks.ensemble, prior=args.prior, map_ridge=args.ridge,
                                       pair_weight=args.pair_weight, fine_tune=args.fine_tune,
                                       edge_map_ridge=args.edge_map_ridge, edge_output=args.edge_output)
            results.append((int(keep.sum()),) + score(lambda X: model.predict(X, ["Fe"] * len(X)), descriptor, runs)[:2])
        families = results[0][2]
        print(f"  {fraction:.2f} of the parents ({', '.join(str(n) for n, _, _ in results)} spectra): Δμ "
              + ", ".join(f"{a['delta_mu_median_pct']:.2f}" for _, a, _ in results) + " %; "
              + "; ".join(f"{f} " + "/".join(f"{t[f][0]:.2f}" for _, _, t in results) for f in families))


if __name__ == "__main__":
    sys.exit(main())
