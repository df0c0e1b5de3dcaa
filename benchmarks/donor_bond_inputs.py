"""Do the networks follow a bend once they are shown the donors' own bonds?

    python benchmarks/donor_bond_inputs.py [--scale 1] [--folds 5] [--json OUT]

A bend swings one donor about the metal and leaves the rest of its ligand in place: the donor's
distance to the metal stays, its distances to its own ligand's atoms change to first order, and the
absorber-centred wACSF descriptor sees the move only through the angles at the metal (a 5° bend moves
it a third as far as a 0.05 Å stretch; docs/models.md). This appends to the descriptor the donors'
bond-length histogram (``drag_descriptor_probe.donor_bonds``: distances from each first-shell atom to
the atoms within 3.2 Å of it, two channels, hydrogen and heavier), widens the FDMNES networks' first
layer with zero weights for those inputs (the networks start as they were), and fits the shipped
edge-model recipe (recalibration map, fine-tuning 1e-4 × 15 epochs with the drags weighted 3, a last
layer per edge) in grouped 5-fold CV on the shipped fit's data, beside the same fit without them (the
same folds). Printed: Δμ median per edge and the drag fidelity (median r of the model's Δμ against
FEFF10's, out of fold) per family, for both.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _machine import machine_line  # noqa: E402
from drag_descriptor_probe import donor_bonds  # noqa: E402

from xanesviz.bundle import load_bundle  # noqa: E402
from xanesviz.edges import (FdmnesTransfer, concatenate, cross_validate_edges, pair_fidelity, pool,  # noqa: E402
                            read_edges)
from xanesviz.feff import edge_grid  # noqa: E402
from xanesviz.network import StackedMLP  # noqa: E402

REAL = ["data/feff-real", "data/feff-architector", "data/feff-architector-2", "data/feff-literature"]
FAMILIES = ["stretch+0.05 (one atom)", "stretch+0.1 (one atom)", "stretch-0.1 (one atom)", "bend10 (one atom)",
            "bend5 (one atom)", "pull0.5 (one atom)", "breathe+0.05 (one atom)", "breathe-0.05 (one atom)"]


def pooled_data(data_root: str, real_roots: list[str], real_weight: float, descriptor):
    """The shipped fit's data (every root pooled, the real complexes weighted) and each sample's
    donor-bond histogram, in the same order."""
    sets, bonds = [], []
    for root, weight in [(data_root, 1.0)] + [(r, real_weight) for r in real_roots]:
        edges = read_edges(root)
        data = pool(edges, descriptor)
        sets.append(dataclasses.replace(data, weights=np.full(len(data), weight)))
        bonds += [donor_bonds(atoms, element) for element, d in edges.items() for atoms in d.structures]
    return concatenate(sets), np.array(bonds)


def widened(ensemble, B: np.ndarray, scale: float):
    """The ensemble with ``B``'s columns appended to its inputs (standardised, times ``scale``) and
    zero first-layer weights for them: it predicts exactly as before until trained further."""
    network = ensemble.network
    first = network.weights[0]
    zeros = np.zeros((first.shape[0], B.shape[1], first.shape[2]), np.float32)
    std = B.std(axis=0)
    return dataclasses.replace(
        ensemble, support=np.concatenate([ensemble.support, np.ones(B.shape[1], bool)]),
        x_mean=np.concatenate([ensemble.x_mean, B.mean(axis=0)]),
        x_scale=np.concatenate([ensemble.x_scale, np.where(std > 0, std, 1.0) / scale]),
        network=StackedMLP([np.concatenate([first, zeros], axis=1), *network.weights[1:]], network.biases),
        neighbours=None, training_inputs=None, keras_networks=None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/feff")
    parser.add_argument("--real", nargs="*", default=REAL)
    parser.add_argument("--real-weight", type=float, default=3.0)
    parser.add_argument("--networks", default="pretrained/fe-k")
    parser.add_argument("--scale", type=float, default=1.0, help="the appended inputs' size, in standard deviations")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-widened", action="store_true", help="skip the fit without the appended inputs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    print(machine_line(), flush=True)
    base = load_bundle(args.networks)
    data, B = pooled_data(args.data, args.real, args.real_weight, base.descriptor)
    energy_rel = edge_grid("Fe") - edge_grid("Fe")[0] - 15.0
    print(f"{len(data)} spectra, {B.shape[1]} donor-bond inputs appended to {base.ensemble.n_inputs}", flush=True)
    runs = {"as shipped": (data, base.ensemble), "with donor bonds": (
        dataclasses.replace(data, X=np.hstack([data.X, B])), widened(base.ensemble, B, args.scale))}
    if args.only_widened:
        runs.pop("as shipped")
    table = {}
    for name, (d, ensemble) in runs.items():
        t0 = time.perf_counter()
        fit = {name: lambda mask, seed, d=d, e=ensemble: FdmnesTransfer.fit(
            d, e, mask, prior=25.0, map_ridge=1.0, fine_tune=(1e-4, 15, 3.0), seed=seed, edge_map_ridge=0.3,
            edge_output="layer")}
        cv = cross_validate_edges(d, fit, energy_rel, k=args.folds, seed=0, leave_edge_out=False, progress=True)
        scores = cv["scores"][name]
        drags = pair_fidelity(d, cv["predictions"][name], energy_rel)["all"]
        table[name] = {"delta_mu_median_pct": {e: scores[e]["all"]["delta_mu_median_pct"] for e in scores},
                       "drag_median_r": {f: drags[f]["median_r"] for f in FAMILIES + ["all"] if f in drags},
                       "seconds": round(time.perf_counter() - t0)}
        print(f"\n{name} ({table[name]['seconds']} s): Δμ median all {scores['all']['all']['delta_mu_median_pct']:.2f} %",
              flush=True)
        print("  " + ", ".join(f"{f.split(' ')[0]} {drags[f]['median_r']:.2f}" for f in FAMILIES if f in drags), flush=True)
    if args.json:
        args.json.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
