"""A Gaussian-kernel ridge regression member that the networks' mean can be blended with.

Kernel ridge regression on the same standardised descriptor errs differently from the
networks (it interpolates between the nearest training complexes); a recipe's
``kernel_weight`` sets its share of the predicted mean (0 in the shipped recipe). Fitting uses
scikit-learn's ``KernelRidge``; prediction and the exact input gradient are a few numpy lines
over the stored dual coefficients. The prediction runs in float64: with a small ridge the dual
coefficients are large and cancel (their absolute sum is ~10^4 times the output), which float32
would turn into visible noise. The input gradient, which only feeds the atom sensitivities,
does its large product in float32 (see ``forward``).
"""

from __future__ import annotations

import functools

import numpy as np

from .distances import TrainingInputs, as_training_inputs


class KernelMember:
    """RBF kernel ridge: f(z) = sum_i dual_i exp(-gamma |z - z_i|^2), outputs (n_energy,) in the
    networks' (standardised target) units."""

    def __init__(self, train_inputs: np.ndarray | TrainingInputs, dual: np.ndarray, gamma: float):
        self.inputs = as_training_inputs(train_inputs, np.float64)
        self.dual = np.ascontiguousarray(dual, np.float64)
        self.gamma = float(gamma)

    @property
    def train_inputs(self) -> np.ndarray:
        return self.inputs.array

    @classmethod
    def fit(cls, Z: np.ndarray, Y: np.ndarray, gamma: float, alpha: float) -> "KernelMember":
        """Fit on standardised inputs Z (n, d) and targets Y (n, n_energy) with scikit-learn."""
        from sklearn.kernel_ridge import KernelRidge

        model = KernelRidge(kernel="rbf", gamma=gamma, alpha=alpha).fit(np.asarray(Z, np.float64), Y)
        return cls(Z, model.dual_coef_, gamma)

    def kernel(self, Z: np.ndarray, d2: np.ndarray | None = None) -> np.ndarray:
        """exp(-gamma |z - z_i|^2): (n, n_train); ``d2``, if given, holds the squared distances."""
        return np.exp(-self.gamma * (self.inputs.squared_distances(Z) if d2 is None else d2))

    def forward(self, Z: np.ndarray, d2: np.ndarray | None = None, gradient: bool = False):
        """Predictions (n, n_energy) for standardised inputs Z (n, d), in blocks to bound memory.

        ``gradient=True`` (one input z): (prediction (n_energy,), its derivative (n_energy, d)).
        The derivative's large product runs in float32, which halves the time of the live
        sensitivities; on the gallery complexes its largest error is 5e-5 of its largest element.
        """
        if gradient:
            return self._forward_with_gradient(Z, d2)
        if d2 is not None:
            return self.kernel(Z, d2) @ self.dual
        Z = np.atleast_2d(Z)
        return np.concatenate([self.kernel(Z[s:s + 2048]) @ self.dual for s in range(0, len(Z), 2048)]) \
            if len(Z) else np.zeros((0, self.dual.shape[1]))

    def forward_with_gradient(self, z: np.ndarray, d2: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``forward(z, d2, gradient=True)``."""
        return self._forward_with_gradient(z, d2)

    @functools.cached_property
    def _float32_copies(self) -> tuple[np.ndarray, np.ndarray]:
        return self.train_inputs.astype(np.float32), self.dual.astype(np.float32)

    def _forward_with_gradient(self, z, d2):
        z = np.asarray(z, np.float64).reshape(1, -1)
        k = self.kernel(z, d2)[0]  # (n_train,)
        out = k @ self.dual
        # d/dz exp(-g |z - z_i|^2) = -2 g (z - z_i) k_i, summed with the duals: the z term is
        # the prediction itself, the z_i term one product with the k-weighted training inputs.
        inputs, dual = self._float32_copies
        weighted_inputs = dual.T @ (k.astype(np.float32)[:, None] * inputs)
        jac = -2.0 * self.gamma * (np.outer(out, z[0]) - weighted_inputs)
        return out, jac

    def arrays(self) -> dict[str, np.ndarray]:
        return {"kernel_train_inputs": self.train_inputs, "kernel_dual": self.dual,
                "kernel_gamma": np.array(self.gamma)}

    @classmethod
    def from_arrays(cls, arrays) -> "KernelMember":
        return cls(arrays["kernel_train_inputs"], arrays["kernel_dual"], float(arrays["kernel_gamma"]))


def blend(network_mean: np.ndarray, kernel_out: np.ndarray, weight: float) -> np.ndarray:
    """The predicted mean: (1 - weight) * networks' mean + weight * kernel member."""
    return (1.0 - weight) * network_mean + weight * kernel_out
