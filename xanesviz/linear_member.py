"""A linear member on the standardised descriptor, added to a model's spectrum.

f(z) = (z - centre) @ W, in spectrum units: a ridge regression of what a model still misses on its
training spectra (its in-sample residuals) and, weighted, of what it misses in the *changes* of
spectrum between each displaced structure and its parent (the data's own drags). Where the
networks hardly respond to a descriptor change that FEFF10 does respond to, W can add that
response; being linear, it is cheap (one product with a d x n_energy matrix) and its derivative
is W itself, so sensitivities and refinement need nothing new.
"""

from __future__ import annotations

import numpy as np


class LinearMember:
    """f(z) = (z - centre) @ weights for standardised inputs z (d,), outputs (n_energy,)."""

    def __init__(self, centre: np.ndarray, weights: np.ndarray):
        self.centre = np.ascontiguousarray(centre, np.float64)
        self.weights = np.ascontiguousarray(weights, np.float64)

    @classmethod
    def fit(cls, Z: np.ndarray, residuals: np.ndarray, pairs: np.ndarray | None = None,
            pair_weight: float = 0.0, alpha: float = 1.0) -> "LinearMember":
        """Ridge regression on rows Z (n, d) of ``residuals`` (n, n_energy). ``pairs`` (m, 2):
        (parent row, variant row) of Z; their differences join the fit weighted so that together
        they count ``pair_weight`` times as much as the rows themselves. The ridge is ``alpha``
        times the mean diagonal of the centred rows' ZᵀZ."""
        Z = np.asarray(Z, np.float64)
        residuals = np.asarray(residuals, np.float64)
        centre = Z.mean(axis=0)
        Zc = Z - centre
        gram = Zc.T @ Zc
        scale = float(np.trace(gram))
        rhs = Zc.T @ residuals
        if pairs is not None and len(pairs) and pair_weight:
            dZ = Z[pairs[:, 1]] - Z[pairs[:, 0]]
            dR = residuals[pairs[:, 1]] - residuals[pairs[:, 0]]
            weight = float(pair_weight) * scale / max(float(np.sum(dZ * dZ)), 1e-12)
            gram = gram + weight * dZ.T @ dZ
            rhs = rhs + weight * dZ.T @ dR
        penalty = float(alpha) * scale / len(gram)
        weights = np.linalg.solve(gram + penalty * np.eye(len(gram)), rhs)
        return cls(centre, weights)

    def forward(self, Z: np.ndarray, gradient: bool = False):
        """Outputs (n, n_energy) for rows Z (n, d); with ``gradient=True`` (one input z):
        (output (n_energy,), its derivative (n_energy, d))."""
        if gradient:
            z = np.asarray(Z, np.float64).reshape(-1)
            return (z - self.centre) @ self.weights, self.weights.T
        return (np.atleast_2d(Z) - self.centre) @ self.weights

    def arrays(self) -> dict[str, np.ndarray]:
        return {"linear_centre": self.centre, "linear_weights": self.weights}

    @classmethod
    def from_arrays(cls, arrays) -> "LinearMember":
        return cls(arrays["linear_centre"], arrays["linear_weights"])
