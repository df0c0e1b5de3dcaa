"""Which way to model the nine K edges from the FEFF10 data: grouped CV of the candidates.

    python benchmarks/edge_models_cv.py [DATA_ROOT] [--seeds 0 1] [--members 2] [--prior 10] [--no-pooled]

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
* ``pooled network``: networks of the Fe recipe (without its nearest-neighbour member, ``--members``
  networks) trained on all edges' deviations from their edge's mean;
* each model again with the held-out spectrum's edge left out of training (``edge left out``:
  what an edge with no spectra of its own gets).

Prints Δμ median (%) per method and edge, parents and displaced variants apart, with the machine.
"""

import argparse
import time
from dataclasses import replace

import numpy as np

from _machine import machine_line

from xanesviz.bundle import load_bundle
from xanesviz.edges import FdmnesTransfer, Pooled, PooledNetwork, cross_validate_edges, pool, read_edges
from xanesviz.model import get_recipe
from xanesviz.predictor import DEFAULT_BUNDLE


def subset(data: Pooled, mask: np.ndarray) -> Pooled:
    return replace(data, X=data.X[mask], y=data.y[mask], edges=data.edges[mask], parents=data.parents[mask],
                   variants=data.variants[mask], stems=[s for s, keep in zip(data.stems, mask) if keep])


def nested_fit(data: Pooled, base, prior: float, candidates, energy_rel, k: int):
    """A fitter choosing the recalibration (None: per-energy factors, or a ridge strength) by a
    grouped CV within its training samples, then fitting it on them."""
    def fit(mask, seed):
        inner = subset(data, mask)
        medians = {}
        for ridge in candidates:
            trial = {"t": lambda m, s, r=ridge: FdmnesTransfer.fit(inner, base.ensemble, m, prior, r)}
            run = cross_validate_edges(inner, trial, energy_rel, k=k, seed=seed, leave_edge_out=False)
            medians[ridge] = run["scores"]["t"]["all"]["all"]["delta_mu_median_pct"]
        chosen = min(medians, key=medians.get)
        return FdmnesTransfer.fit(data, base.ensemble, mask, prior, chosen)
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
    args = parser.parse_args()

    print(machine_line())
    base = load_bundle(DEFAULT_BUNDLE)
    sets = read_edges(args.data_root)
    data = pool(sets, base.descriptor)
    print(f"{len(data)} spectra ({int(data.variants.sum())} displaced variants) of "
          f"{len(np.unique(data.parents))} parents: " + ", ".join(f"{e} {len(d)}" for e, d in sets.items()))
    recipe = get_recipe(base.card["recipe"]["name"]).with_overrides(neighbour_width=0.0)
    energy_rel = base.energy - base.energy[0] - 15.0
    fitters = {"FDMNES transfer": lambda mask, seed: FdmnesTransfer.fit(data, base.ensemble, mask, args.prior)}
    for ridge in args.ridges:
        fitters[f"FDMNES transfer, full map {ridge:g}"] = \
            lambda mask, seed, r=ridge: FdmnesTransfer.fit(data, base.ensemble, mask, args.prior, r)
    fitters["FDMNES transfer, full map, nested"] = nested_fit(data, base, args.prior, (None, 1.0, 3.0, 10.0, 30.0),
                                                             energy_rel, args.k - 1)
    if not args.no_pooled:
        fitters["pooled network"] = lambda mask, seed: PooledNetwork.fit(data, recipe, seed, args.members, mask)
    for seed in args.seeds:
        start = time.perf_counter()
        cv = cross_validate_edges(data, fitters, energy_rel, k=args.k, seed=seed)
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


if __name__ == "__main__":
    main()
