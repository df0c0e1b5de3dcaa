"""What the network looks at: permutation feature importance per energy point and window."""

from __future__ import annotations

import numpy as np

#: Energy windows reported by default (absolute eV, Fe K edge at 7112 eV).
DEFAULT_WINDOWS = {"pre-edge": (7097.0, 7112.0), "edge": (7112.0, 7125.0), "post-edge": (7125.0, 7172.0)}


def permutation_importance(predict_members, X: np.ndarray, Y: np.ndarray, energy: np.ndarray, names: list[str],
                           repeats: int = 3, windows: dict | None = None, seed: int = 0) -> dict:
    """Scramble one descriptor column at a time; importance = rise of the squared error.

    ``predict_members(X)`` returns (members, n, n_energy). The rise is kept per energy point
    (``per_energy``: n_features x n_energy, averaged over ``repeats`` permutations), so that
    any energy window is a mean over its columns. ``overall`` and ``windows`` are normalised
    by the baseline mean squared error of that range (1.0 = doubles the error).
    """
    rng = np.random.default_rng(seed)
    X = np.asarray(X, float)
    base = (predict_members(X).mean(axis=0) - Y) ** 2  # (n, n_energy)
    base_per_energy = base.mean(axis=0)
    rise = np.zeros((X.shape[1], len(energy)))
    constant = np.ptp(X, axis=0) == 0
    for j in range(X.shape[1]):
        if constant[j]:
            continue
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            rise[j] += ((predict_members(shuffled).mean(axis=0) - Y) ** 2).mean(axis=0) - base_per_energy
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
