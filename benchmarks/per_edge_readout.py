"""Does a last layer per edge follow the other metals' drags better than a map per edge?

    python benchmarks/per_edge_readout.py --cache runs/hidden.npz [--ridges 0.3 1 3] [--pair-weights 0 1 3]

The shipped edge models share one set of fine-tuned networks (the descriptor does not see the
absorber) and reshape their output with an energy-by-energy map per edge. A map acts on the
226 outputs, so it can only rescale or move along the energy axis a response the networks already
give. A last layer per edge acts on each network's 512 last hidden units instead: each edge reads
the shared hidden features its own way, so a move (a bend) that changes hidden units the shared
last layer hardly uses can still change that edge's spectrum. This script measures whether it does.

Per network and edge, the new last layer is the shared one plus ΔW, Δb: ridge regression of the
network's residual (the spectrum minus the edge's mean minus the network's deviation) on its
centred hidden units over that edge's training spectra (strength α times the mean diagonal of
HᵀH), and, weighted λ as in ``FdmnesTransfer``'s map, on that edge's own drags (each displaced
variant's hidden units and spectrum minus its parent's). A per-network change of the last layer
folds into the network as the map does: nothing is added to a prediction's cost.

First, once (the cache, ~6 minutes on 2 cores): the shipped recipe without its maps (``train-edges``
settings: N 25, R 1, pair weight 1, fine-tune 1e-4, 15 epochs, pair weight 3; real complexes of
``--real`` weighted 3) fitted on each training fold of the same 5-fold split grouped by parent as
``train-edges --cv 5 --seed 0``; every sample's last hidden units and spectra under that fold's
networks are kept. Then each (α, λ): Δμ median per edge out of fold and the drag fidelity of the
data's own pairs out of fold (``xanesviz.edges.pair_fidelity``), beside no map and the shipped
map per edge (α 1).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _machine import machine_line  # noqa: E402
from per_edge_maps import EDGES, fold_of, load_cache, load_pooled, print_rows, with_drags  # noqa: E402

from xanesviz.edges import FdmnesTransfer, variant_pairs  # noqa: E402

def hidden_units(network, Z: np.ndarray) -> np.ndarray:
    """(networks, n, width) of each network's last hidden layer for standardised inputs Z."""
    h = np.broadcast_to(np.asarray(Z, np.float32), (network.n_networks, *Z.shape))
    for w, b in zip(network.weights[:-1], network.biases[:-1]):
        h = np.maximum(np.matmul(h, w) + b[:, None, :], 0.0)
    return h


def build_cache(data, base, path: Path, k: int, seed: int, fine_tune: tuple = (1e-4, 15, 3.0)) -> None:
    fold = fold_of(data, k, seed)
    cache = {"fold": fold, "k": k, "seed": seed, "stems": np.array(data.stems)}
    for f in range(k):
        t0 = time.perf_counter()
        model = FdmnesTransfer.fit(data, base.ensemble, fold != f, prior=25.0, map_ridge=1.0,
                                   fine_tune=fine_tune, seed=seed + f, pair_weight=1.0)
        ens = model.ensemble
        cache[f"hidden{f}"] = hidden_units(ens.network, ens.standardise(data.X)).astype(np.float16)
        cache[f"last_w{f}"], cache[f"last_b{f}"] = ens.network.weights[-1], ens.network.biases[-1]
        cache[f"y_scale{f}"], cache[f"y_mean{f}"] = ens.y_scale, ens.y_mean
        cache[f"pooled{f}"] = model.pooled_mean
        cache[f"means{f}"] = np.array([model.mean_for(e) for e in EDGES])
        print(f"fold {f + 1}/{k} fitted in {time.perf_counter() - t0:.0f} s", flush=True)
    np.savez(path, **cache)


def ridge_update(H, R, w, dH, dR, wp, ridge: float, pair_weight: float):
    """(ΔW, Δb) minimising Σ w |R - (H - h̄)ΔW - Δb|² + λ' Σ wp |dR - dH ΔW|² + α' |ΔW|²."""
    h_bar = (w[:, None] * H).sum(0) / w.sum()
    r_bar = (w[:, None] * R).sum(0) / w.sum()
    Hc = H - h_bar
    wH = Hc * w[:, None]
    G, rhs = with_drags(wH.T @ Hc, wH.T @ (R - r_bar), dH, dR, wp, pair_weight)
    penalty = ridge * max(float(np.trace(G)), 1e-12) / len(G)
    dW = np.linalg.solve(G + penalty * np.eye(len(G)), rhs)
    return dW, r_bar - h_bar @ dW


def out_of_fold(data, cache, ridge: float | None, pair_weight: float, readout: bool) -> np.ndarray:
    """Out-of-fold spectra: the shared networks (``ridge`` None), a map per edge on the ensemble's
    deviation (``readout`` False) or a last layer per edge and network (``readout`` True)."""
    fold = cache["fold"]
    out = np.full(data.y.shape, np.nan)
    w_all = data.sample_weights()
    for f in range(int(cache["k"])):
        train = fold != f
        H = cache[f"hidden{f}"].astype(np.float64)  # (m, n, width)
        W, b = cache[f"last_w{f}"].astype(np.float64), cache[f"last_b{f}"].astype(np.float64)
        y_scale, y_mean, pooled = cache[f"y_scale{f}"], cache[f"y_mean{f}"], cache[f"pooled{f}"]
        member = (np.matmul(H, W) + b[:, None, :]) * y_scale + y_mean - pooled  # (m, n, E) deviations
        pairs = variant_pairs(data, train)
        for j, edge in enumerate(EDGES):
            rows = data.edges == edge
            test = rows & (fold == f)
            if not test.any():
                continue
            mean_e = cache[f"means{f}"][j]
            D = data.y - mean_e
            tr = rows & train
            edge_pairs = pairs[data.edges[pairs[:, 1]] == edge]
            parent, variant = edge_pairs[:, 0], edge_pairs[:, 1]
            if ridge is None:
                out[test] = member[:, test].mean(0) + mean_e
            elif not readout:
                from per_edge_maps import edge_map
                P = member.mean(0)
                A = edge_map(P[tr], D[tr], P[variant] - P[parent], D[variant] - D[parent], w_all[tr],
                             w_all[variant], ridge, pair_weight)
                out[test] = P[test] @ A + mean_e
            else:
                spectra = []
                for m in range(len(H)):
                    R = D - member[m]
                    dW, db = ridge_update(H[m][tr], R[tr], w_all[tr], H[m][variant] - H[m][parent],
                                          R[variant] - R[parent], w_all[variant], ridge, pair_weight)
                    spectra.append(member[m][test] + H[m][test] @ dW + db)
                out[test] = np.mean(spectra, axis=0) + mean_e
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/feff")
    parser.add_argument("--real", default="data/feff-real")
    parser.add_argument("--networks", default="pretrained/fe-k")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--ridges", type=float, nargs="+", default=[0.3, 1.0, 3.0, 10.0])
    parser.add_argument("--pair-weights", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    parser.add_argument("--fine-tune", type=lambda text: (float(text.split(",")[0]), int(text.split(",")[1]),
                                                          float(text.split(",")[2])),
                        default=(1e-4, 15, 3.0), metavar="LR,EPOCHS,PAIRS",
                        help="the fine-tuning of the cached fit (default the shipped 1e-4,15,3; the cache is of "
                             "that fit: give it a cache of its own)")
    parser.add_argument("--bend-weight", type=float, default=1.0, metavar="K",
                        help="multiply the weight of every bent structure (its spectrum and its drag) by K in the "
                             "fit (the cache is of that fit: give it a cache of its own)")
    args = parser.parse_args(argv)
    print(machine_line())
    base, data = load_pooled(args.data, args.real, 3.0, args.networks)
    if args.bend_weight != 1.0:
        from xanesviz.derived_set import variant_of

        bent = np.array([(variant_of(s) or "").startswith("bend") for s in data.stems])
        data = dataclasses.replace(data, weights=data.sample_weights() * np.where(bent, args.bend_weight, 1.0))
        print(f"{bent.sum()} bent structures weighted {args.bend_weight:g} times more")
    if not args.cache.is_file():
        build_cache(data, base, args.cache, 5, 0, args.fine_tune)
    cache, data = load_cache(args.cache, data)
    energy_rel = base.energy - base.energy[0] - 15.0
    rows = [("shared networks, no map", out_of_fold(data, cache, None, 0.0, False)),
            ("map per edge, α 1 (shipped)", out_of_fold(data, cache, 1.0, 0.0, False))]
    for ridge in args.ridges:
        for lam in args.pair_weights:
            t0 = time.perf_counter()
            rows.append((f"last layer per edge, α {ridge:g}, λ {lam:g}", out_of_fold(data, cache, ridge, lam, True)))
            print(f"({rows[-1][0]}: {time.perf_counter() - t0:.0f} s)", flush=True)
    print_rows(data, rows, energy_rel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
