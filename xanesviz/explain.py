"""What the network looks at: permutation feature importance per energy point and window."""

from __future__ import annotations

import numpy as np

from .distances import TrainingInputs

#: Width of the "edge" window above the edge energy (eV); beyond it lies the "post-edge" window.
EDGE_WINDOW_EV = 13.0


def default_windows(energy: np.ndarray, edge_energy: float) -> dict[str, tuple[float, float]]:
    """Energy windows reported by default (absolute eV), from a model's grid and edge energy:
    pre-edge (grid start to the edge), edge (the edge to 13 eV above it), post-edge (to the end)."""
    start, stop, edge = float(energy[0]), float(energy[-1]), float(edge_energy)
    return {"pre-edge": (start, edge), "edge": (edge, edge + EDGE_WINDOW_EV), "post-edge": (edge + EDGE_WINDOW_EV, stop)}


def permutation_importance(predict_mean, X: np.ndarray, Y: np.ndarray, energy: np.ndarray, names: list[str],
                           repeats: int = 3, windows: dict | None = None, seed: int = 0) -> dict:
    """Scramble one descriptor column at a time; importance = rise of the squared error.

    ``predict_mean(X)`` returns the model's prediction (n, n_energy). The rise is kept per energy point
    (``per_energy``: n_features x n_energy, averaged over ``repeats`` permutations), so that
    any energy window is a mean over its columns. ``overall`` and ``windows`` are normalised
    by the baseline mean squared error of that range (1.0 = doubles the error); ``windows`` maps
    names to (E1, E2) in absolute eV (e.g. :func:`default_windows`; none if None).
    """
    rng = np.random.default_rng(seed)
    X = np.asarray(X, float)
    base = (predict_mean(X) - Y) ** 2  # (n, n_energy)
    base_per_energy = base.mean(axis=0)
    rise = np.zeros((X.shape[1], len(energy)))
    constant = np.ptp(X, axis=0) == 0
    for j in range(X.shape[1]):
        if constant[j]:
            continue
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            rise[j] += ((predict_mean(shuffled) - Y) ** 2).mean(axis=0) - base_per_energy
    rise /= repeats
    windows = dict(windows or {})
    result = {"names": list(names), "energy": np.asarray(energy, float), "per_energy": rise,
              "baseline_mse": base_per_energy, "overall": window_importance(rise, base_per_energy, energy, None),
              "windows": {k: window_importance(rise, base_per_energy, energy, w) for k, w in windows.items()},
              "window_ranges": windows}
    return result


def window_importance(per_energy: np.ndarray, baseline_mse: np.ndarray, energy: np.ndarray,
                      window: tuple[float, float] | None) -> np.ndarray:
    """Importance of each feature in an energy window (all energies if None), relative to the baseline."""
    if window is None:
        mask = np.ones(len(energy), bool)
    else:
        lo, hi = sorted(window)
        mask = (energy >= lo) & (energy <= hi)
        if not mask.any():  # a window narrower than the grid spacing: its nearest point
            mask[np.argmin(np.abs(energy - 0.5 * (lo + hi)))] = True
    return per_energy[:, mask].mean(axis=1) / max(float(baseline_mse[mask].mean()), 1e-12)


def importance_to_card(result: dict) -> dict:
    """The JSON-friendly part of an importance result, for the model card."""
    return {"method": "permutation (rise of squared error / baseline MSE, mean over permutations)",
            "names": result["names"], "overall": [round(float(v), 6) for v in result["overall"]],
            "windows": {k: {"range_eV": list(result["window_ranges"][k]),
                            "values": [round(float(v), 6) for v in vals]} for k, vals in result["windows"].items()}}


def format_importance(result: dict, top: int = 15, window: str = "all") -> str:
    values = result["overall"] if window == "all" else result["windows"][window]
    label = "all energies" if window == "all" else \
        f"window {result['window_ranges'][window][0]:g}-{result['window_ranges'][window][1]:g} eV"
    order = np.argsort(values)[::-1][:top]
    lines = [f"permutation importance ({label}; 1.0 = the error doubles when the feature is scrambled)"]
    lines += [f"{rank:3d}. {result['names'][j]:<36s} {values[j]:8.4f}" for rank, j in enumerate(order, 1)]
    return "\n".join(lines)


# -- atom-resolved sensitivity ---------------------------------------------------------------
def window_mask(energy: np.ndarray, window: tuple[float, float] | None) -> np.ndarray:
    if window is None:
        return np.ones(len(energy), bool)
    lo, hi = sorted(window)
    mask = (energy >= lo) & (energy <= hi)
    if not mask.any():
        mask[np.argmin(np.abs(energy - 0.5 * (lo + hi)))] = True
    return mask


def spectrum_gradient(ensemble, descriptor, cluster, networks: bool = False) -> dict:
    """The model's spectrum at a cluster and its exact derivative with respect to the positions of
    the structure's atoms.

    Chain rule through the wACSF (analytic derivatives), the standardisation and every member of
    the ensemble (:meth:`~xanesviz.ensemble.Ensemble.forward` with ``gradient=True``). Returns
    ``mean`` (n_E,) and ``d_mean`` (n_E, n_atoms, 3); with ``networks``, also each network's
    ``networks`` (n_networks, n_E) and ``d_networks`` (n_networks, n_E, n_atoms, 3). Atoms are
    those of the structure the cluster was cut from (see :meth:`xanesviz.structure.Cluster.atom_gradient`).
    """
    features, d_features = descriptor.derivatives(cluster)  # (n_f,), (n_f, n, 3)
    z = ensemble.standardise(features[None, :])[0]
    out = ensemble.forward(z, gradient=True, network_gradients=networks)
    d_features = d_features[ensemble.support]  # (n_in, n, 3)
    d_mean = np.tensordot(out.d_mean / ensemble.x_scale[None, :], d_features, axes=(1, 0))  # (n_E, n, 3)
    result = {"mean": out.mean, "d_mean": cluster.atom_gradient(d_mean)}
    if networks:
        d_networks = np.tensordot(out.d_networks / ensemble.x_scale, d_features, axes=(2, 0))  # (m, n_E, n, 3)
        result.update(networks=out.networks, d_networks=cluster.atom_gradient(d_networks))
    return result


def atom_sensitivity(d_mean: np.ndarray, energy: np.ndarray, window: tuple[float, float] | None = None) -> np.ndarray:
    """Per atom: RMS over the window of |d mu(E) / d r_atom| (μ units per Å), from ``d_mean``
    (n_E, n_atoms, 3) of :func:`spectrum_gradient`."""
    grad = d_mean[window_mask(energy, window)]
    return np.sqrt((grad**2).sum(axis=2).mean(axis=0))


# -- trust signal ---------------------------------------------------------------------------
TRUST_LEVELS = ("within training data", "unusual", "far outside")


def spread_level(spread_pct: float, limit_pct: float, far_factor: float = 2.0) -> int:
    """The ensemble spread's own verdict (0, 1, 2 as in :data:`TRUST_LEVELS`): within ``limit_pct``
    (what complexes the model never saw, of its training data's kind, stay within) is 0, up to
    ``far_factor`` times that 1, beyond 2."""
    return 0 if spread_pct <= limit_pct else (1 if spread_pct <= far_factor * limit_pct else 2)


def spread_limit(ratios: np.ndarray, quantile: float = 99.0) -> dict:
    """A spread limit as a multiple of an edge's median training spread: the ``quantile`` of
    held-out complexes' spreads, each over its model's median spread on the training complexes
    of its edge, pooled over edges (so that a few complexes an edge still calibrate)."""
    ratios = np.asarray(ratios, float)
    if ratios.size == 0 or not np.all(np.isfinite(ratios)):
        raise ValueError("a spread limit needs held-out complexes with finite spreads")
    return {"ratio": float(np.percentile(ratios, quantile)), "quantile": quantile, "n_complexes": int(ratios.size)}


class DomainModel:
    """How far a descriptor lies from the training set, calibrated on the training set itself.

    The distance is to the nearest training sample in standardised feature space; the
    training set's own nearest-neighbour distances (leave-one-out) give the scale:
    within its 99th percentile is "within training data", up to ``far_factor`` times that is
    "unusual", beyond is "far outside". A descriptor value outside the training range by more
    than ``range_tolerance`` standard deviations in any feature is "far outside" too: the
    network would be extrapolating along that feature.
    """

    def __init__(self, training_features: np.ndarray, far_factor: float = 2.0, range_tolerance: float = 1.0):
        self.inputs = TrainingInputs(training_features, np.float32)
        self.low, self.high = self.inputs.array.min(axis=0), self.inputs.array.max(axis=0)
        self.range_tolerance = range_tolerance
        self.far_factor = far_factor
        own = self.inputs.nearest(self.inputs.array, exclude_self=True)
        self.reference = np.sort(own)
        self.p50, self.p95, self.p99 = np.percentile(own, [50, 95, 99])

    def score(self, Z: np.ndarray) -> dict:
        """Distance, its percentile among the training set's own distances, and the level."""
        Z = np.atleast_2d(Z)
        distance = float(self.inputs.nearest(Z[:1])[0])
        excess = float(np.max(np.maximum(Z[0] - self.high, 0) + np.maximum(self.low - Z[0], 0)))
        level = 0 if distance <= self.p99 else (1 if distance <= self.far_factor * self.p99 else 2)
        if excess > self.range_tolerance:
            level = 2
        percentile = 100.0 * np.searchsorted(self.reference, distance) / len(self.reference)
        return {"distance": distance, "percentile": float(percentile), "p99": float(self.p99),
                "range_excess": excess, "level": level,
                "label": TRUST_LEVELS[level]}
