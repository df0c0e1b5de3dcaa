"""What the network looks at: permutation feature importance per energy point and window."""

from __future__ import annotations

import numpy as np

from .kernel import squared_distances

#: Energy windows reported by default (absolute eV, Fe K edge at 7112 eV).
DEFAULT_WINDOWS = {"pre-edge": (7097.0, 7112.0), "edge": (7112.0, 7125.0), "post-edge": (7125.0, 7172.0)}


def permutation_importance(predict_mean, X: np.ndarray, Y: np.ndarray, energy: np.ndarray, names: list[str],
                           repeats: int = 3, windows: dict | None = None, seed: int = 0) -> dict:
    """Scramble one descriptor column at a time; importance = rise of the squared error.

    ``predict_mean(X)`` returns the model's prediction (n, n_energy). The rise is kept per energy point
    (``per_energy``: n_features x n_energy, averaged over ``repeats`` permutations), so that
    any energy window is a mean over its columns. ``overall`` and ``windows`` are normalised
    by the baseline mean squared error of that range (1.0 = doubles the error).
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
    windows = dict(DEFAULT_WINDOWS if windows is None else windows)
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


def spectrum_gradient(bundle, cluster) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble-mean spectrum and its exact derivative d mu(E) / d neighbour vector (n_E, n, 3).

    Chain rule through the wACSF (analytic gradient), the standardisation, every network
    (ReLU masks of this input) and the kernel member, combined like the prediction.
    """
    features, d_features = bundle.descriptor.featurise_with_gradient(cluster.numbers, cluster.vectors)
    Z = bundle.standardise(features[None, :])[0]
    mean, d_mean = bundle.forward_with_gradient(Z)  # (n_E,), (n_E, n_in)
    d_mu_d_input = d_mean / bundle.x_scale[None, :]
    d_features = d_features[bundle.support]  # (n_in, n, 3)
    return mean, np.tensordot(d_mu_d_input, d_features, axes=(1, 0))


def atom_sensitivity(bundle, cluster, window: tuple[float, float] | None = None) -> np.ndarray:
    """Per atom of the structure: RMS over the window of |d mu(E) / d r_atom| (μ units per Å).

    Periodic images of an atom move with it, so their gradients add; the absorber's is minus
    the sum over its neighbours. Atoms beyond the cutoff get 0.
    """
    n_atoms = cluster.n_atoms or int(max(cluster.indices.max(initial=-1), cluster.absorber_index)) + 1
    _, grad = spectrum_gradient(bundle, cluster)
    grad = grad[window_mask(bundle.energy, window)]  # (n_w, n, 3)
    per_atom = np.zeros((grad.shape[0], n_atoms, 3))
    np.add.at(per_atom, (slice(None), cluster.indices), grad)
    per_atom[:, cluster.absorber_index] -= grad.sum(axis=1)
    return np.sqrt((per_atom**2).sum(axis=2).mean(axis=0))


# -- trust signal ---------------------------------------------------------------------------
TRUST_LEVELS = ("within training data", "unusual", "far outside")


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
        self.train = np.asarray(training_features, np.float32)
        self.low, self.high = self.train.min(axis=0), self.train.max(axis=0)
        self.range_tolerance = range_tolerance
        self.train_sq = np.einsum("ij,ij->i", self.train, self.train)
        self.far_factor = far_factor
        own = self._nearest(self.train, exclude_self=True)
        self.reference = np.sort(own)
        self.p50, self.p95, self.p99 = np.percentile(own, [50, 95, 99])

    def _nearest(self, Z: np.ndarray, exclude_self: bool = False) -> np.ndarray:
        out = np.empty(len(Z))
        for start in range(0, len(Z), 1024):
            block = np.asarray(Z[start:start + 1024], np.float32)
            d2 = squared_distances(block, self.train, self.train_sq)
            if exclude_self:
                d2[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
            out[start:start + len(block)] = np.sqrt(d2.min(axis=1))
        return out

    def score(self, Z: np.ndarray) -> dict:
        """Distance, its percentile among the training set's own distances, and the level."""
        Z = np.atleast_2d(Z)
        distance = float(self._nearest(Z)[0])
        excess = float(np.max(np.maximum(Z[0] - self.high, 0) + np.maximum(self.low - Z[0], 0)))
        level = 0 if distance <= self.p99 else (1 if distance <= self.far_factor * self.p99 else 2)
        if excess > self.range_tolerance:
            level = 2
        percentile = 100.0 * np.searchsorted(self.reference, distance) / len(self.reference)
        return {"distance": distance, "percentile": float(percentile), "p99": float(self.p99),
                "range_excess": excess, "level": level,
                "label": TRUST_LEVELS[level]}
