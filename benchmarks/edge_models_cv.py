"""Which way to model the nine K edges from the FEFF10 data: grouped CV of the candidates.

    python benchmarks/edge_models_cv.py [DATA_ROOT] [--seeds 0 1] [--members 2] [--prior 10] [--no-pooled]
        [--ridges 3 10] [--residual-ridge 10] [--fine-tune 1e-4,100 1e-4,30,3 ...] [--fine-tune-ridge 3]
        [--pair-weight 1] [--no-edge-left-out] [--linear 0.3,0.3 0.3,1 ...] [--maps-only]

DATA_ROOT (default data/feff) holds ``{metal}-k/`` data sets from ``xanesviz simulate``. Every
method is cross-validated with 5 folds grouped by parent complex (a parent, its displaced
variants and its other metals in one fold), on each seed's shuffle of the parents:

* ``edge mean``: the edge's mean training spectrum (what a geometry-aware model must beat);
* ``FDMNES transfer``: the Fe FDMNES networks recalibrated per energy point
  (``xanesviz.edges.FdmnesTransfer``), each edge's mean shrunk toward all edges' (``--prior``);
* ``FDMNES transfer, full map R``: recalibrated by a full energy-by-energy map, ridge strength R
  (``--ridges``, each a method);
* ``FDMNES transfer, full map, nested``: the same with R (or per-energy factors) chosen inside
  each training fold by a grouped CV of its own, as ``xanesviz train-edges`` chooses it on all
  the data: the honest estimate of that choice;
* ``FDMNES transfer, full map R + residual kernel``: the full map (R = ``--residual-ridge``) and
  then a kernel ridge member on the descriptor fitted over all edges on what the map misses;
  ``..., nested``: the member's settings (or none) chosen inside each training fold by a grouped
  CV of its own, among ``xanesviz train-edges``' candidates (the honest estimate of that choice);
* ``map R + fine-tuned LR,EPOCHS[,PAIRS]``: the full map (R = ``--fine-tune-ridge``), then every
  layer of the networks trained further on all edges' FEFF10 spectra, and with PAIRS > 0 on the
  data's own drags (``--fine-tune LR,EPOCHS[,PAIRS]``, each a method; ``xanesviz train-edges
  --fine-tune``);
* ``full map R + linear member P,A``: the full map at each R of ``--ridges``, then a member linear
  in the descriptor fitted over all edges on what it misses in the spectra and, weighted P, in the
  data's own drags (ridge A; ``--linear``, each a method; ``xanesviz train-edges --linear-member``);
* ``pooled network``: networks of the Fe recipe (without its nearest-neighbour member, ``--members``
  networks) trained on all edges' deviations from their edge's mean;
* each model again with the held-out spectrum's edge left out of training (``edge left out``:
  what an edge with no spectra of its own gets).

Every full map is fitted with the data's own drags weighted ``--pair-weight`` (``xanesviz
train-edges --pair-weight``; default 0 here, 1 in ``train-edges``).

Prints Δμ median (%) per method and edge, parents and displaced variants apart, and per method
the data's own drags (``xanesviz.edges.pair_fidelity``), with the machine. ``--maps-only`` keeps
the edge mean, the full maps at ``--ridges``, their linear members and, unless ``--no-pooled``,
the pooled network (no per-energy factors, nested choices or kernel members).
"""

import argparse
import time

import numpy as np

from _machine import machine_line

from xanesviz.bundle import load_bundle
from xanesviz.cli import MAP_RIDGES, RESIDUAL_KERNELS, _fine_tune, _linear_member
from xanesviz.edges import (FdmnesTransfer, Pooled, PooledNetwork, cross_validate_edges, pair_fidelity, pool,
                            read_edges, transfer_cv_median)
from xanesviz.model import get_recipe
from xanesviz.predictor import DEFAULT_BUNDLE


def nested_fit(data: Pooled, base, prior: float, candidates, energy_rel, k: int, pair_weight: float = 0.0):
    """A fitter choosing the recalibration (None: per-energy factors, or a ridge strength) by a
    grouped CV within its training samples, then fitting it on them (a full map with the data's
    own drags weighted ``pair_weight``)."""
    def pairs(ridge) -> float:
        return 0.0 if ridge is None else pair_weight

    def fit(mask, seed):
        inner = data.subset(mask)
        medians = {r: transfer_cv_median(inner, base.ensemble, energy_rel, prior, r, k=k, seed=seed,
                                         pair_weight=pairs(r))
                   for r in candidates}
        chosen = min(medians, key=medians.get)
        return FdmnesTransfer.fit(data, base.ensemble, mask, prior, chosen, pair_weight=pairs(chosen))
    return fit


def nested_residual_fit(data: Pooled, base, prior: float, ridge: float, energy_rel, k: int, pair_weight: float = 0.0):
    """A fitter choosing the residual member (or none) by a grouped CV within its training samples."""
    def fit(mask, seed):
        inner = data.subset(mask)
        medians = {c: transfer_cv_median(inner, base.ensemble, energy_rel, prior, ridge, k=k, seed=seed, residual=c,
                                         pair_weight=pair_weight)
                   for c in RESIDUAL_KERNELS}
        return FdmnesTransfer.fit(data, base.ensemble, mask, prior, ridge, min(medians, key=medians.get),
                                  pair_weight=pair_weight)
    return fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_root", nargs="?", default="data/feff")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--members", type=int, default=2, help="networks per pooled-network model")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--prior", type=float, default=10.0, help="edge means shrunk as if N more spectra (default 10)")
    parser.add_argument("--ridges", type=float, nargs="*", default=[3.0, 10.0], help="full-map ridge strengths")
    parser.add_argument("--no-pooled", action="store_true", help="leave the pooled network out (it trains networks)")
    parser.add_argument("--residual-ridge", type=float, default=10.0,
                        help="the full map's R under the residual kernel member (default 10)")
    parser.add_argument("--no-edge-left-out", action="store_true",
                        help="skip the models trained without the held-out spectrum's edge (a fit per edge and fold)")
    parser.add_argument("--fine-tune", type=_fine_tune, nargs="*", default=[], metavar="LR,EPOCHS[,PAIRS]",
                        help="also the full map with its networks fine-tuned (each LR,EPOCHS[,PAIRS] a method)")
    parser.add_argument("--pair-weight", type=float, default=0.0,
                        help="the data's own drags in every full map's fit (default 0; train-edges' default is 1)")
    parser.add_argument("--fine-tune-ridge", type=float, default=3.0, help="the full map's R under fine-tuning")
    parser.add_argument("--linear", type=_linear_member, nargs="*", default=[], metavar="P,A",
                        help="also each full map with a linear member (pair weight P, ridge A), each a method")
    parser.add_argument("--maps-only", action="store_true",
                        help="only the edge mean, the full maps at --ridges, their linear members and (unless "
                             "--no-pooled) the pooled network")
    args = parser.parse_args()
    args.linear = [c for c in args.linear if isinstance(c, tuple)]  # 'none' or 'auto' mean nothing here

    print(machine_line())
    base = load_bundle(DEFAULT_BUNDLE)
    sets = read_edges(args.data_root)
    data = pool(sets, base.descriptor)
    print(f"{len(data)} spectra ({int(data.variants.sum())} displaced variants) of "
          f"{len(np.unique(data.parents))} parents: " + ", ".join(f"{e} {len(d)}" for e, d in sets.items()))
    recipe = get_recipe(base.card["recipe"]["name"]).with_overrides(neighbour_width=0.0)
    energy_rel = base.energy - base.energy[0] - 15.0
    fitters = {} if args.maps_only else {
        "FDMNES transfer": lambda mask, seed: FdmnesTransfer.fit(data, base.ensemble, mask, args.prior)}
    for ridge in args.ridges:
        fitters[f"FDMNES transfer, full map {ridge:g}"] = \
            lambda mask, seed, r=ridge: FdmnesTransfer.fit(data, base.ensemble, mask, args.prior, r,
                                                           pair_weight=args.pair_weight)
        for linear in args.linear:
            fitters[f"full map {ridge:g} + linear member {linear[0]:g},{linear[1]:g}"] = \
                lambda mask, seed, r=ridge, c=linear: FdmnesTransfer.fit(data, base.ensemble, mask, args.prior, r,
                                                                         pair_weight=args.pair_weight, linear=c)
    if args.maps_only:
        if not args.no_pooled:
            fitters["pooled network"] = lambda mask, seed: PooledNetwork.fit(data, recipe, seed, args.members, mask)
        run_cv(data, fitters, energy_rel, args)
        return
    fitters["FDMNES transfer, full map, nested"] = nested_fit(data, base, args.prior, MAP_RIDGES, energy_rel, args.k - 1,
                                                              args.pair_weight)
    r = args.residual_ridge
    for residual in RESIDUAL_KERNELS[1:]:
        fitters[f"map {r:g} + residual kernel {residual[0]:g},{residual[1]:g}"] = \
            lambda mask, seed, c=residual: FdmnesTransfer.fit(data, base.ensemble, mask, args.prior, r, c,
                                                              pair_weight=args.pair_weight)
    fitters[f"map {r:g} + residual kernel, nested"] = nested_residual_fit(data, base, args.prior, r, energy_rel,
                                                                         args.k - 1, args.pair_weight)
    for tune in args.fine_tune:
        fitters[f"map {args.fine_tune_ridge:g} + fine-tuned " + ",".join(f"{v:g}" for v in tune)] = \
            lambda mask, seed, t=tune: FdmnesTransfer.fit(data, base.ensemble, mask, args.prior, args.fine_tune_ridge,
                                                          fine_tune=t, seed=seed, pair_weight=args.pair_weight)
    if not args.no_pooled:
        fitters["pooled network"] = lambda mask, seed: PooledNetwork.fit(data, recipe, seed, args.members, mask)
    run_cv(data, fitters, energy_rel, args)


def run_cv(data: Pooled, fitters: dict, energy_rel, args) -> None:
    """Each seed's grouped CV of ``fitters``: Δμ per method and edge, then the data's own drags."""
    for seed in args.seeds:
        start = time.perf_counter()
        cv = cross_validate_edges(data, fitters, energy_rel, k=args.k, seed=seed,
                                  leave_edge_out=not args.no_edge_left_out)
        print(f"\nseed {seed} ({time.perf_counter() - start:.0f} s): Δμ median %, all / parents / variants")
        edges = [e for e in cv["scores"]["edge mean"] if e != "all"] + ["all"]
        print(f"{'method':46s}" + "".join(f"{e:>20s}" for e in edges))
        for method, table in cv["scores"].items():
            cells = []
            for edge in edges:
                kinds = table.get(edge, {})
                cells.append(" / ".join(f"{kinds[k]['delta_mu_median_pct']:.1f}" if kinds.get(k, {}).get("n_spectra")
                                        else "-" for k in ("all", "parents", "variants")))
            print(f"{method:46s}" + "".join(f"{c:>20s}" for c in cells))
        print("\nthe data's own drags (each displaced variant against its parent, both out of fold), all edges: "
              "pairs, median r of Δμ, median size ratio model/FEFF10, main peak moving the same way")
        for method, predicted in cv["predictions"].items():
            if method == "edge mean" or method.endswith("edge left out"):
                continue
            families = pair_fidelity(data, predicted, energy_rel).get("all", {})
            print(f"{method:46s} " + "; ".join(
                f"{family} {row['pairs']}, r {row['median_r']:.2f}, {row['median_norm_ratio']:.2f}, "
                f"{row['main_peak_same_direction']}" for family, row in families.items()
                if row["median_r"] is not None))


if __name__ == "__main__":
    main()
