"""Which way to model the nine K edges from the FEFF10 data: grouped CV of the candidates.

    python benchmarks/edge_models_cv.py [DATA_ROOT] [--seeds 0 1] [--members 2]

DATA_ROOT (default data/feff) holds ``{metal}-k/`` data sets from ``xanesviz simulate``. Every
method is cross-validated with 5 folds grouped by parent complex (a parent, its displaced
variants and its other metals in one fold), on each seed's shuffle of the parents:

* ``edge mean``: the edge's mean training spectrum (what a geometry-aware model must beat);
* ``FDMNES transfer``: the shipped method (``xanesviz.edges.FdmnesTransfer``);
* ``pooled network``: networks of the Fe recipe (without its nearest-neighbour member, ``--members``
  networks) trained on all edges' deviations from their edge's mean;
* each model again with the held-out spectrum's edge left out of training (``edge left out``:
  what an edge with no spectra of its own gets).

Prints Δμ median (%) per method and edge, parents and displaced variants apart, with the machine.
"""

import argparse
import time

import numpy as np

from _machine import machine_line

from xanesviz.bundle import load_bundle
from xanesviz.edges import FdmnesTransfer, PooledNetwork, cross_validate_edges, pool, read_edges
from xanesviz.model import get_recipe
from xanesviz.predictor import DEFAULT_BUNDLE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_root", nargs="?", default="data/feff")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--members", type=int, default=2, help="networks per pooled-network model")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()

    print(machine_line())
    base = load_bundle(DEFAULT_BUNDLE)
    sets = read_edges(args.data_root)
    data = pool(sets, base.descriptor)
    print(f"{len(data)} spectra ({int(data.variants.sum())} displaced variants) of "
          f"{len(np.unique(data.parents))} parents: " + ", ".join(f"{e} {len(d)}" for e, d in sets.items()))
    recipe = get_recipe(base.card["recipe"]["name"]).with_overrides(neighbour_width=0.0)
    fitters = {"FDMNES transfer": lambda mask, seed: FdmnesTransfer.fit(data, base.ensemble, mask),
               "pooled network": lambda mask, seed: PooledNetwork.fit(data, recipe, seed, args.members, mask)}
    energy_rel = base.energy - base.energy[0] - 15.0
    for seed in args.seeds:
        start = time.perf_counter()
        cv = cross_validate_edges(data, fitters, energy_rel, k=args.k, seed=seed)
        print(f"\nseed {seed} ({time.perf_counter() - start:.0f} s): Δμ median %, all / parents / variants")
        edges = [e for e in cv["scores"]["edge mean"] if e != "all"] + ["all"]
        print(f"{'method':32s}" + "".join(f"{e:>20s}" for e in edges))
        for method, table in cv["scores"].items():
            cells = []
            for edge in edges:
                kinds = table.get(edge, {})
                cells.append(" / ".join(f"{kinds[k]['delta_mu_median_pct']:.1f}" if kinds.get(k, {}).get("n_spectra")
                                        else "-" for k in ("all", "parents", "variants")))
            print(f"{method:32s}" + "".join(f"{c:>20s}" for c in cells))


if __name__ == "__main__":
    main()
