"""Does the descriptor's change under a drag carry FEFF10's change of spectrum, family by family?

    python benchmarks/drag_descriptor_probe.py [--alphas 1 10 100 1000]

The edge models follow bonds, the first shell and a pulled ligand at r 0.8–0.9 and bends at
0.5–0.6 (docs/models.md). Whether that is the networks or the descriptor, this script asks the
simplest model that could follow a drag: FEFF10's Δμ of each (parent, displaced variant) pair
of the data, as a linear function of the change of the standardised descriptor (the shipped Fe
networks' standardisation), ΔD = ΔZ B, B by ridge regression (strength α times the mean diagonal
of ΔZᵀΔZ) on the pairs of the other parents (5-fold GroupKFold by parent), fitted per edge and
over all edges. Printed: median r of the probe's Δμ against FEFF10's, out of fold, per family;
beside it the median norm of ΔZ per family (how far the move moves the descriptor). A family
the probe follows and the models do not is the networks' to learn; one the probe cannot follow
either is beyond a linear reading of the descriptor (or of this much data).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _machine import machine_line  # noqa: E402
from per_edge_maps import EDGES, load_pooled  # noqa: E402

from xanesviz.derived_set import move_family, variant_of  # noqa: E402
from xanesviz.edges import variant_pairs  # noqa: E402


def first_shell_angles(atoms, element: str, cutoff: float = 3.0, width: float = 4.0) -> np.ndarray:
    """The angles between the absorber's neighbours within ``cutoff`` Å, each smoothly weighted by
    both neighbours' distance (cosine cutoff) and smeared over 2° bins from 50° to 180° (σ ``width``)."""
    from ase.data import atomic_numbers

    centre = int(np.flatnonzero(atoms.numbers == atomic_numbers[element])[0])
    vectors = np.delete(atoms.positions - atoms.positions[centre], centre, axis=0)
    r = np.linalg.norm(vectors, axis=1)
    near = r < cutoff
    vectors, r = vectors[near], r[near]
    weight = 0.5 * (np.cos(np.pi * r / cutoff) + 1.0)
    j, k = np.triu_indices(len(r), 1)
    theta = np.degrees(np.arccos(np.clip((vectors[j] * vectors[k]).sum(1) / (r[j] * r[k]), -1.0, 1.0)))
    bins = np.arange(50.0, 181.0, 2.0)
    return (weight[j] * weight[k])[:, None] * np.exp(-0.5 * ((theta[:, None] - bins) / width) ** 2)
    

def donor_bonds(atoms, element: str, cutoff: float = 3.0, reach: float = 3.2, width: float = 0.05) -> np.ndarray:
    """The distances from each of the absorber's neighbours within ``cutoff`` Å (its donors) to the
    other atoms within ``reach`` Å of that donor (the absorber left out), each weighted by the donor's
    distance (cosine cutoff) and smeared over 0.05 Å bins from 0.8 to ``reach`` Å (σ ``width``), in
    two channels: hydrogen and heavier atoms. A bend swings a donor about the absorber and leaves its
    ligand in place, so these distances change to first order, where absorber-centred ones do not."""
    from ase.data import atomic_numbers

    centre = int(np.flatnonzero(atoms.numbers == atomic_numbers[element])[0])
    r0 = np.linalg.norm(atoms.positions - atoms.positions[centre], axis=1)
    donors = [i for i in np.flatnonzero(r0 < cutoff) if i != centre]
    bins = np.arange(0.8, reach + 1e-9, 0.05)
    out = np.zeros((2, len(bins)))
    for d in donors:
        weight = 0.5 * (np.cos(np.pi * r0[d] / cutoff) + 1.0)
        r = np.linalg.norm(atoms.positions - atoms.positions[d], axis=1)
        near = (r < reach) & (np.arange(len(atoms)) != d) & (np.arange(len(atoms)) != centre)
        for channel, mask in enumerate((atoms.numbers[near] == 1, atoms.numbers[near] != 1)):
            out[channel] += weight * np.exp(-0.5 * ((r[near][mask][:, None] - bins) / width) ** 2).sum(0)
    return out.ravel()


def angle_features(roots: list[str], stems: list[str], features=None) -> np.ndarray:
    """:func:`first_shell_angles` (or ``features``) of every pooled sample, in the pooled order."""
    from xanesviz.edges import read_edges

    features = features or (lambda atoms, element: first_shell_angles(atoms, element).sum(0))
    table = {}
    for root in roots:
        for element, dataset in read_edges(root).items():
            for name, atoms in zip(dataset.names, dataset.structures):
                table[name] = features(atoms, element)
    return np.array([table[s] for s in stems])


def probe(dZ, dD, groups, alpha: float, k: int = 5) -> np.ndarray:
    """Out-of-fold ΔD predicted linearly from ΔZ (ridge, groups kept whole)."""
    from sklearn.model_selection import GroupKFold

    out = np.zeros_like(dD)
    for train, test in GroupKFold(min(k, len(np.unique(groups)))).split(dZ, groups=groups):
        G = dZ[train].T @ dZ[train]
        B = np.linalg.solve(G + alpha * np.trace(G) / len(G) * np.eye(len(G)), dZ[train].T @ dD[train])
        out[test] = dZ[test] @ B
    return out


def correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/feff")
    parser.add_argument("--real", default="data/feff-real")
    parser.add_argument("--networks", default="pretrained/fe-k")
    parser.add_argument("--alphas", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    parser.add_argument("--angles", type=float, default=0.0, metavar="S",
                        help="append the first shell's smeared angle histogram (first_shell_angles), its change "
                             "scaled so that its mean square is S times the descriptor's")
    parser.add_argument("--donor-bonds", type=float, default=0.0, metavar="S",
                        help="append the donors' own bond-length histogram (donor_bonds), scaled as --angles")
    parser.add_argument("--only-added", action="store_true", help="probe with the appended features alone")
    args = parser.parse_args(argv)
    print(machine_line())
    base, data = load_pooled(args.data, args.real, 3.0, args.networks)
    Z = base.ensemble.standardise(data.X)
    pairs = variant_pairs(data)
    dZ, dD = Z[pairs[:, 1]] - Z[pairs[:, 0]], data.y[pairs[:, 1]] - data.y[pairs[:, 0]]
    if args.angles:
        A = angle_features([args.data] + ([args.real] if args.real else []), data.stems)
        dA = A[pairs[:, 1]] - A[pairs[:, 0]]
        dA *= np.sqrt(args.angles * np.mean(dZ ** 2) * dZ.shape[1] / max(np.mean(dA ** 2) * dA.shape[1], 1e-30))
        dZ = np.hstack([dZ, dA])
        print(f"with the first shell's angle histogram ({dA.shape[1]} bins), its share of |ΔZ|² {args.angles:g}")
    if args.donor_bonds:
        B = angle_features([args.data] + ([args.real] if args.real else []), data.stems, donor_bonds)
        dB = B[pairs[:, 1]] - B[pairs[:, 0]]
        n_z = dZ.shape[1]
        dB *= np.sqrt(args.donor_bonds * np.mean(dZ ** 2) * n_z / max(np.mean(dB ** 2) * dB.shape[1], 1e-30))
        dZ = dB if args.only_added else np.hstack([dZ, dB])
        print(f"with the donors' bond-length histogram ({dB.shape[1]} bins), its share of |ΔZ|² {args.donor_bonds:g}"
              + (" (alone)" if args.only_added else ""))
    keep = np.abs(dD).sum(1) > 0
    pairs, dZ, dD = pairs[keep], dZ[keep], dD[keep]
    family = np.array([move_family(variant_of(data.stems[i])) for i in pairs[:, 1]])
    edges, groups = data.edges[pairs[:, 1]], data.parents[pairs[:, 1]]
    print(f"{len(pairs)} pairs of {len(np.unique(groups))} parents")
    families = sorted(set(family), key=lambda f: ("one atom" not in f, f))
    norms = np.linalg.norm(dZ, axis=1)
    print("median |ΔZ| per family: " + ", ".join(f"{f} {np.median(norms[family == f]):.2f}" for f in families))
    for alpha in args.alphas:
        pooled = correlations(probe(dZ, dD, groups, alpha), dD)
        per_edge = np.full(len(pairs), np.nan)
        for edge in EDGES:
            sel = edges == edge
            if sel.sum() >= 20:
                per_edge[sel] = correlations(probe(dZ[sel], dD[sel], groups[sel], alpha), dD[sel])
        print(f"\nα {alpha:g}: median r out of fold, fitted over all edges / per edge")
        for f in families:
            sel = family == f
            print(f"  {f:28s} {sel.sum():5d} pairs  {np.nanmedian(pooled[sel]):5.2f} / {np.nanmedian(per_edge[sel]):5.2f}")
        print(f"  {'all':28s} {len(pairs):5d} pairs  {np.nanmedian(pooled):5.2f} / {np.nanmedian(per_edge):5.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
