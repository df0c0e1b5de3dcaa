"""Does a per-edge output map after the shared networks follow the other metals' drags better?

    python benchmarks/per_edge_maps.py --cache runs/folds.npz [--ridges 1 3 10] [--pair-weights 0 1 3 10]

The shipped edge models share one set of fine-tuned networks, and the descriptor does not see the
absorber's element: for one move of one geometry every edge gets the same Δμ, only the edge's mean
spectrum differs. FEFF10's response to a move does depend on the metal. This script measures
whether an energy-by-energy map per edge, applied to the shared networks' deviation from the
edge's mean, A_e = I + Δ_e, helps: Δ_e by ridge regression (strength α times the mean diagonal
of PᵀP, toward the identity) on that edge's training spectra, in-sample, and, weighted λ as in
``FdmnesTransfer``, on that edge's own drags (each displaced variant against its parent).

First, once (the cache): the shipped recipe (``train-edges`` settings: N 25, R 1, pair weight 1,
fine-tune 1e-4, 15 epochs, pair weight 3; real complexes of ``--real`` weighted 3) is fitted on
each training fold of the same 5-fold split grouped by parent as ``train-edges --cv 5 --seed 0``,
and its spectra of every sample are kept (40 minutes or so on 2 cores). Then every (α, λ) is a
matter of seconds: Δμ median per edge out of fold, and the drag fidelity of the data's own pairs
out of fold (``xanesviz.edges.pair_fidelity``), the no-map row first.
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

from xanesviz.edges import (FdmnesTransfer, concatenate, edge_means, pair_fidelity, pool, read_edges,  # noqa: E402
                            variant_pairs)
from xanesviz.evaluation import delta_mu  # noqa: E402


def load_pooled(data_root: str, real_root: str | None, real_weight: float, networks: str):
    from xanesviz.bundle import load_bundle

    base = load_bundle(networks)
    data = pool(read_edges(data_root), base.descriptor)
    if real_root:
        real = pool(read_edges(real_root), base.descriptor)
        data = concatenate([data, dataclasses.replace(real, weights=np.full(len(real), real_weight))])
    return base, data


def fold_of(data, k: int, seed: int) -> np.ndarray:
    """Each sample's test fold, as ``cross_validate_edges`` splits (GroupKFold on shuffled parents)."""
    from sklearn.model_selection import GroupKFold

    parents = np.unique(data.parents)
    rng = np.random.default_rng(seed)
    shuffled = {p: i for i, p in enumerate(rng.permutation(parents))}
    groups = np.array([shuffled[p] for p in data.parents])
    fold = np.full(len(data), -1)
    for f, (_, test_idx) in enumerate(GroupKFold(k).split(data.X, groups=groups)):
        fold[test_idx] = f
    return fold


def build_cache(data, base, path: Path, k: int, seed: int) -> None:
    fold = fold_of(data, k, seed)
    predicted = np.zeros((k, *data.y.shape))
    means = np.zeros((k, len(EDGES), data.y.shape[1]))
    for f in range(k):
        t0 = time.perf_counter()
        train = fold != f
        model = FdmnesTransfer.fit(data, base.ensemble, train, prior=25.0, map_ridge=1.0,
                                   fine_tune=(1e-4, 15, 3.0), seed=seed + f, pair_weight=1.0)
        predicted[f] = model.predict(data.X, data.edges)
        means[f] = [model.mean_for(e) for e in EDGES]
        print(f"fold {f + 1}/{k} fitted in {time.perf_counter() - t0:.0f} s", flush=True)
    np.savez_compressed(path, stems=np.array(data.stems), fold=fold, predicted=predicted, means=means, k=k, seed=seed)


EDGES = ("Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")


def with_drags(G, rhs, dX, dR, wp, pair_weight: float):
    """A ridge system's normal equations (G, rhs) with the drags' rows dX -> dR (each weighted wp)
    added, scaled so that together they weigh ``pair_weight`` times the spectra."""
    if not len(dX) or not pair_weight:
        return G, rhs
    w_dX = dX * wp[:, None]
    scale = pair_weight * np.trace(G) / max(float(np.sum(w_dX * dX)), 1e-12)
    return G + scale * w_dX.T @ dX, rhs + scale * w_dX.T @ dR


def edge_map(P, D, dP, dD, w, wp, ridge: float, pair_weight: float) -> np.ndarray:
    """I + Δ minimising Σ w |D - P(I+Δ)|² + λ' Σ wp |dD - dP(I+Δ)|² + α' |Δ|²."""
    wP = P * w[:, None]
    G, rhs = with_drags(wP.T @ P, wP.T @ (D - P), dP, dD - dP, wp, pair_weight)
    penalty = ridge * np.trace(G) / len(G)
    return np.eye(len(G)) + np.linalg.solve(G + penalty * np.eye(len(G)), rhs)


def mapped(data, cache, ridge: float, pair_weight: float) -> np.ndarray:
    """Out-of-fold spectra with each edge's map fitted on that fold's training samples."""
    fold, predicted, means = cache["fold"], cache["predicted"], cache["means"]
    out = np.full(data.y.shape, np.nan)
    w = data.sample_weights()
    for f in range(int(cache["k"])):
        train = fold != f
        pairs = variant_pairs(data, train)
        for j, edge in enumerate(EDGES):
            rows = data.edges == edge
            test = rows & (fold == f)
            if not test.any():
                continue
            m = means[f, j]
            P, D = predicted[f] - m, data.y - m
            tr = rows & train
            edge_pairs = pairs[data.edges[pairs[:, 1]] == edge]
            dP = P[edge_pairs[:, 1]] - P[edge_pairs[:, 0]]
            dD = D[edge_pairs[:, 1]] - D[edge_pairs[:, 0]]
            A = edge_map(P[tr], D[tr], dP, dD, w[tr], w[edge_pairs[:, 1]], ridge, pair_weight)
            out[test] = m + P[test] @ A
    return out


FAMILIES = ("stretch", "bend", "breathe", "pull", "stretch+0.05 (one atom)", "stretch+0.1 (one atom)",
            "stretch-0.1 (one atom)", "breathe+0.05 (one atom)", "bend10 (one atom)", "bend5 (one atom)")


def load_cache(path: Path, data):
    """The cache (in memory: an npz member is read again at each access) and the data it scores:
    with data added since the cache, the cached samples only."""
    with np.load(path) as saved:
        cache = {key: saved[key] for key in saved.files}
    stems = list(cache["stems"])
    if stems != list(data.stems):
        data = data.subset(np.isin(np.array(data.stems), stems))
        if list(data.stems) != stems:
            sys.exit(f"{path} is of another data set")
    return cache, data


def print_rows(data, rows, energy_rel) -> None:
    """Per (name, out-of-fold spectra): Δμ median per edge and the median r of the data's own drags per family."""
    for name, pred in rows:
        err = delta_mu(pred, data.y)
        fid = pair_fidelity(data, pred, energy_rel)
        print(f"\n{name}: Δμ median all {np.median(err):.2f} %, all pairs r {fid['all']['all']['median_r']:.2f}")
        for edge in EDGES:
            sel = data.edges == edge
            cells = []
            for fam in FAMILIES:
                row = fid.get(edge, {}).get(fam)
                cells.append("-" if not row or row["median_r"] is None else f"{row['median_r']:.2f}")
            print(f"  {edge:2s} Δμ {np.median(err[sel]):5.2f} %  r " + " ".join(f"{c:>5s}" for c in cells))
        cells = [fid["all"].get(fam, {}).get("median_r") for fam in FAMILIES]
        print("  all            r " + " ".join(f"{'-' if c is None else f'{c:.2f}':>5s}" for c in cells))
    print("  (r columns: " + ", ".join(FAMILIES) + ")")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/feff")
    parser.add_argument("--real", default="data/feff-real")
    parser.add_argument("--networks", default="pretrained/fe-k")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--ridges", type=float, nargs="+", default=[1.0, 3.0, 10.0, 30.0])
    parser.add_argument("--pair-weights", type=float, nargs="+", default=[0.0, 1.0, 3.0, 10.0])
    args = parser.parse_args(argv)
    print(machine_line())
    base, data = load_pooled(args.data, args.real, 3.0, args.networks)
    if not args.cache.is_file():
        build_cache(data, base, args.cache, 5, 0)
    cache, data = load_cache(args.cache, data)
    energy_rel = base.energy - base.energy[0] - 15.0
    fold = cache["fold"]
    baseline = np.array([cache["predicted"][fold[i], i] for i in range(len(data))])
    rows = [("no map (shipped recipe)", baseline)]
    for ridge in args.ridges:
        for lam in args.pair_weights:
            rows.append((f"per-edge map, α {ridge:g}, λ {lam:g}", mapped(data, cache, ridge, lam)))
    print_rows(data, rows, energy_rel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
