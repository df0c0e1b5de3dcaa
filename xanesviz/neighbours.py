"""A nearest-neighbour member: lean on the training spectra of complexes that lie close by.

Cross-validation shows that a test complex whose standardised descriptor lies very close to
a training complex's has nearly the same spectrum (the closest tenth: Δμ 0.6 %, 99.6 % of its
peaks), closer than the networks predict it (1.7 %, 94 %); see ``benchmarks/peak_ceiling.py``.
This member blends the model's prediction m(z) with the training spectra y_i by a Gaussian
weight on the distance, smooth in z (no jump when the nearest complex changes):

    f(z) = (sum_i K_i y_i + a m(z)) / (sum_i K_i + a),   K_i = exp(-|z - z_i|^2 / w^2)

with width w and model weight a chosen by cross-validation (the ``xanesviz-fe-k-neighbours`` recipe).
Far from every training complex, f(z) is m(z); on top of one, it is nearly y_i.
"""

from __future__ import annotations

import numpy as np

from .kernel import squared_distances

#: Training complexes whose weight is below this share of the model's are left out of the sums.
NEGLIGIBLE = 1e-12


class NeighbourMember:
    """Training inputs (n_train, d) and their spectra (n_train, n_energy), in spectrum units."""

    def __init__(self, train_inputs: np.ndarray, train_spectra: np.ndarray, width: float, model_weight: float):
        if width <= 0 or model_weight <= 0:
            raise ValueError(f"neighbour width and model weight must be positive, got {width}, {model_weight}")
        self.train_inputs = np.ascontiguousarray(train_inputs, np.float64)
        self.train_spectra = np.ascontiguousarray(train_spectra, np.float64)
        self.width, self.model_weight = float(width), float(model_weight)
        self._train_sq = np.einsum("ij,ij->i", self.train_inputs, self.train_inputs)

    def weights(self, Z: np.ndarray, d2: np.ndarray | None = None) -> np.ndarray:
        """K_i = exp(-|z - z_i|^2 / w^2) for each row of Z against every training input: (n, n_train);
        ``d2``, if given, holds the squared distances."""
        if d2 is None:
            d2 = squared_distances(np.atleast_2d(np.asarray(Z, np.float64)), self.train_inputs, self._train_sq)
        return np.exp(-d2 / self.width ** 2)

    def blend(self, Z: np.ndarray, model_mean: np.ndarray, d2: np.ndarray | None = None) -> np.ndarray:
        """f(z) for standardised inputs Z (n, d) and the model's predictions there (n, n_energy);
        ``d2`` (n, n_train), if given, holds the squared distances to the training inputs."""
        out = np.array(model_mean, np.float64)
        for start in range(0, len(out), 2048):
            K = self.weights(Z[start:start + 2048], None if d2 is None else d2[start:start + 2048])
            K[K < NEGLIGIBLE * self.model_weight] = 0.0
            near = np.flatnonzero(K.any(axis=0))  # usually a handful of training complexes, or none
            block = slice(start, start + len(K))
            out[block] = ((K[:, near] @ self.train_spectra[near] + self.model_weight * out[block])
                          / (K[:, near].sum(axis=1) + self.model_weight)[:, None])
        return out

    def blend_with_gradient(self, z: np.ndarray, model_mean: np.ndarray, model_jac: np.ndarray,
                            d2: np.ndarray | None = None):
        """f(z) (n_energy,) and df/dz (n_energy, d), given m(z) and dm/dz at one input z (d,)."""
        z = np.asarray(z, np.float64).ravel()
        K = self.weights(z[None], d2)[0]
        near = K >= NEGLIGIBLE * self.model_weight
        K, inputs, spectra = K[near], self.train_inputs[near], self.train_spectra[near]
        total = K.sum() + self.model_weight
        out = (K @ spectra + self.model_weight * model_mean) / total
        # dK_i/dz = -2 K_i (z - z_i) / w^2; the quotient rule gives sum_i (y_i - f) dK_i + a dm.
        weighted = K[:, None] * (spectra - out)  # (n_near, n_energy)
        jac = (-2.0 / self.width ** 2 * (np.outer(weighted.sum(axis=0), z) - weighted.T @ inputs)
               + self.model_weight * model_jac) / total
        return out, jac

    def arrays(self) -> dict[str, np.ndarray]:
        return {"neighbour_inputs": self.train_inputs.astype(np.float32),
                "neighbour_spectra": self.train_spectra.astype(np.float32)}

    @classmethod
    def from_arrays(cls, arrays, width: float, model_weight: float, same_inputs_as=None) -> "NeighbourMember":
        """``same_inputs_as``: a member (the kernel's) whose training inputs, if equal, are shared,
        so that the squared distances to them are computed once for both."""
        inputs = arrays["neighbour_inputs"]
        if same_inputs_as is not None and np.array_equal(same_inputs_as.train_inputs, inputs):
            inputs = same_inputs_as.train_inputs
        return cls(inputs, arrays["neighbour_spectra"], width, model_weight)
