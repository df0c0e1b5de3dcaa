"""A Gaussian-kernel ridge regression member that the networks' ensemble mean is blended with.

Kernel ridge regression on the same standardised descriptor errs differently from the
networks (it interpolates between the nearest training complexes), so a weighted mean of
the two is more accurate than either; the weight is chosen by cross-validation (see the
``xanesviz-fe-k`` recipe). Fitting uses scikit-learn's ``KernelRidge``; prediction and the
exact input gradient are a few numpy lines over the stored dual coefficients, so the live
path stays TensorFlow- and scikit-learn-free. The prediction runs in float64: with a small
ridge the dual coefficients are large and cancel (their absolute sum is ~10^4 times the
output), which float32 would turn into visible noise. The input gradient, which only feeds the
atom sensitivities, does its large product in float32 (see ``forward_with_gradient``).
"""

from __future__ import annotations

import functools

import numpy as np


def squared_distances(Z: np.ndarray, train: np.ndarray, train_sq: np.ndarray) -> np.ndarray:
    """|z - z_i|^2 (n, n_train) for rows of Z against the rows of ``train``, whose squared norms
    are ``train_sq``: one matrix product, in the dtype of the inputs, clipped at 0."""
    return np.maximum(np.einsum("ij,ij->i", Z, Z)[:, None] + train_sq[None, :] - 2.0 * Z @ train.T, 0.0)


class KernelMember:
    """RBF kernel ridge: f(z) = sum_i dual_i exp(-gamma |z - z_i|^2), outputs (n_energy,)."""

    def __init__(self, train_inputs: np.ndarray, dual: np.ndarray, gamma: float):
        self.train_inputs = np.ascontiguousarray(train_inputs, np.float64)
        self.dual = np.ascontiguousarray(dual, np.float64)
        self.gamma = float(gamma)
        self._train_sq = np.einsum("ij,ij->i", self.train_inputs, self.train_inputs)

    @classmethod
    def fit(cls, Z: np.ndarray, Y: np.ndarray, gamma: float, alpha: float) -> "KernelMember":
        """Fit on standardised inputs Z (n, d) and targets Y (n, n_energy) with scikit-learn."""
        from sklearn.kernel_ridge import KernelRidge

        model = KernelRidge(kernel="rbf", gamma=gamma, alpha=alpha).fit(np.asarray(Z, np.float64), Y)
        return cls(Z, model.dual_coef_, gamma)

    def squared_distances(self, Z: np.ndarray) -> np.ndarray:
        """|z - z_i|^2 for each row of Z against every training input: (n, n_train)."""
        return squared_distances(np.atleast_2d(np.asarray(Z, np.float64)), self.train_inputs, self._train_sq)

    def kernel(self, Z: np.ndarray, d2: np.ndarray | None = None) -> np.ndarray:
        """exp(-gamma |z - z_i|^2): (n, n_train); ``d2``, if given, holds the squared distances."""
        return np.exp(-self.gamma * (self.squared_distances(Z) if d2 is None else d2))

    def forward(self, Z: np.ndarray, d2: np.ndarray | None = None) -> np.ndarray:
        """Predictions (n, n_energy) for standardised inputs Z (n, d), in blocks to bound memory."""
        if d2 is not None:
            return self.kernel(Z, d2) @ self.dual
        Z = np.atleast_2d(Z)
        return np.concatenate([self.kernel(Z[s:s + 2048]) @ self.dual for s in range(0, len(Z), 2048)]) \
            if len(Z) else np.zeros((0, self.dual.shape[1]))

    @functools.cached_property
    def _float32_copies(self) -> tuple[np.ndarray, np.ndarray]:
        return self.train_inputs.astype(np.float32), self.dual.astype(np.float32)

    def forward_with_gradient(self, z: np.ndarray, d2: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Prediction (n_energy,) and its derivative with respect to z: (n_energy, d).

        The prediction is float64. The derivative's large product runs in float32, which halves
        the time of the live sensitivities; on the gallery complexes its largest error is 5e-5
        of the derivative's largest element.
        """
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


def ensemble_forward(network, kernel: KernelMember | None, kernel_weight: float, Z: np.ndarray,
                     y_mean: np.ndarray, y_scale: np.ndarray, neighbours=None) -> tuple[np.ndarray, np.ndarray]:
    """(mean, members) in spectrum units for standardised inputs Z (n, d).

    ``members`` (n_members, n, n_energy) is each network's output, whose spread is the
    ensemble's uncertainty; ``mean`` (n, n_energy) is their mean blended with the kernel member,
    then with the nearest-neighbour member (``xanesviz.neighbours.NeighbourMember``) if any.
    One function for training-time evaluation and for loaded bundles, so both predict alike.
    """
    members = network.forward(Z) * y_scale + y_mean
    mean = members.mean(axis=0)
    if kernel is None and neighbours is None:
        return mean, members
    for start in range(0, len(Z), 2048):  # blocks bound the (block, n_train) distance matrix
        block = slice(start, start + 2048)
        d2 = shared_squared_distances(kernel, neighbours, Z[block])
        if kernel is not None:
            mean[block] = blend(mean[block], kernel.forward(Z[block], d2) * y_scale + y_mean, kernel_weight)
        if neighbours is not None:
            mean[block] = neighbours.blend(Z[block], mean[block], d2)
    return mean, members


def shared_squared_distances(kernel: KernelMember | None, neighbours, Z: np.ndarray) -> np.ndarray | None:
    """The squared distances to the training inputs, computed once when both members hold the
    same inputs (reading them is most of either member's time); None otherwise."""
    if kernel is None or neighbours is None or neighbours.train_inputs is not kernel.train_inputs:
        return None
    return kernel.squared_distances(Z)
