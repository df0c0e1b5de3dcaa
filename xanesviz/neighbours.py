"""A nearest-neighbour member: lean on the training spectra of complexes that lie close by.

Cross-validation shows that a test complex whose standardised descriptor lies very close to
a training complex's has nearly the same spectrum (the closest tenth: Δμ 0.6 %, 99.6 % of its
peaks), closer than the networks predict it (1.3 %, 97 %); see ``benchmarks/peak_ceiling.py``.
With a Gaussian weight on the distance, K_i = exp(-|z - z_i|^2 / w^2), smooth in z (no jump
when the nearest complex changes), and a model weight a, the member works in one of two modes:

* ``"spectra"`` blends the model's prediction m(z) with the training spectra y_i,

      f(z) = (sum_i K_i y_i + a m(z)) / (sum_i K_i + a):

  on top of a training complex it is nearly y_i, and its response to moving atoms there is
  damped a / (1 + a)-fold (the ``xanesviz-fe-k-neighbours`` recipe);
* ``"residuals"`` adds the model's own errors on the training complexes nearby,
  r_i = y_i - m(z_i), computed when the model is trained,

      f(z) = m(z) + sum_i K_i r_i / (sum_i K_i + a):

  on top of a training complex it is nearly y_i too, but near one it moves as m(z) moves
  (the ``xanesviz-fe-k`` recipe and the shipped ``xanesviz-fe-k-zeta32``).

Far from every training complex, f(z) is m(z) in both modes. w and a are chosen by
cross-validation.
"""

from __future__ import annotations

import numpy as np

from .distances import TrainingInputs, as_training_inputs, squared_distances

#: Training complexes whose weight is below this share of the model's are left out of the sums.
NEGLIGIBLE = 1e-12
#: Directions of the screen: the training inputs' leading principal axes (see ``squared_distances``).
SCREEN_DIMENSIONS = 48
#: The screen's first pass uses the leading few of them (a third of the reading; on the Fe
#: model's training set it lets a median of 15 of 4079 complexes through to the full screen).
COARSE_DIMENSIONS = 16
#: The member's modes, and the name under which each stores its per-complex values in a bundle.
MODES = {"spectra": "neighbour_spectra", "residuals": "neighbour_residuals"}


class NeighbourMember:
    """Training inputs (n_train, d) and, per complex, its spectrum (mode ``"spectra"``) or the
    model's error there (mode ``"residuals"``), (n_train, n_energy) in spectrum units."""

    def __init__(self, train_inputs: np.ndarray | TrainingInputs, train_values: np.ndarray, width: float,
                 model_weight: float, mode: str = "spectra"):
        if width <= 0 or model_weight <= 0:
            raise ValueError(f"neighbour width and model weight must be positive, got {width}, {model_weight}")
        if mode not in MODES:
            raise ValueError(f"unknown neighbour mode {mode!r} (known: {', '.join(MODES)})")
        self.inputs = as_training_inputs(train_inputs, np.float64)
        self.train_values = np.ascontiguousarray(train_values, np.float64)
        self.width, self.model_weight, self.mode = float(width), float(model_weight), mode
        # The screen: the training inputs projected onto their leading principal axes. A
        # projection onto orthonormal axes never lengthens a distance, so a training input whose
        # projected distance is beyond the cut-off carries no weight; only the few within it
        # (a handful, typically) have their full distance computed.
        self._d2_limit = -self.width ** 2 * np.log(NEGLIGIBLE * self.model_weight)
        array = self.inputs.array
        self._centre = array.mean(axis=0)
        centred = array - self._centre
        _, axes = np.linalg.eigh(centred.T @ centred)
        self._axes = np.ascontiguousarray(axes[:, ::-1][:, :SCREEN_DIMENSIONS])
        screen = (centred @ self._axes).astype(np.float32)
        self._screen = TrainingInputs(screen, np.float32)
        self._coarse = TrainingInputs(np.ascontiguousarray(screen[:, :COARSE_DIMENSIONS]), np.float32)
        self._screen_max_sq = float(self._screen.squared_norms.max())
        self._coarse_max_sq = float(self._coarse.squared_norms.max())

    @property
    def train_inputs(self) -> np.ndarray:
        return self.inputs.array

    def forward(self, Z: np.ndarray, model_mean: np.ndarray, model_jac: np.ndarray | None = None,
                d2: np.ndarray | None = None):
        """f(Z) given the model's m(Z) (n, n_energy); with ``model_jac`` (dm/dz at one input z,
        (n_energy, d)) also df/dz: ``(f, df/dz)``. ``d2``: the squared distances, if known."""
        if model_jac is None:
            return self.blend(Z, model_mean, d2)
        return self.blend_with_gradient(Z, model_mean, model_jac, d2)

    def candidates(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The training inputs whose weight can matter for some row of Z (K_i ≥ NEGLIGIBLE a),
        and |z - z_i|^2 to them, ``(columns, d2)`` with d2 (n, len(columns)). The screen's lower
        bound (the distance along the principal axes, in float32 with a margin for its rounding)
        rules the others out exactly."""
        Z = np.atleast_2d(np.asarray(Z, np.float64))
        projected = (Z - self._centre) @ self._axes
        # float32 rounds the expanded |a|^2 + |b|^2 - 2ab by ~1e-6 of |a|^2 + |b|^2: a margin of 1e-4.
        # First along the leading axes (a looser bound, a third of the reading), then along all.
        columns = self._within(projected[:, :COARSE_DIMENSIONS], self._coarse.array, self._coarse.squared_norms,
                               self._coarse_max_sq)
        if len(columns):
            columns = columns[self._within(projected, self._screen.array[columns],
                                           self._screen.squared_norms[columns], self._screen_max_sq)]
        if not len(columns):  # the common case for a dragged structure: nothing near
            return columns, np.empty((len(Z), 0))
        return columns, squared_distances(Z, self.inputs.array[columns], self.inputs.squared_norms[columns])

    def _within(self, projected, screen, screen_sq, screen_max_sq) -> np.ndarray:
        """Indices of the ``screen`` rows within the weight cut-off of some row of ``projected``."""
        lower = squared_distances(projected.astype(np.float32), screen, screen_sq)
        scale = np.einsum("ij,ij->i", projected, projected)[:, None] + screen_max_sq
        return np.flatnonzero((lower <= self._d2_limit + 1e-4 * (scale + 1.0)).any(axis=0))

    def squared_distances(self, Z: np.ndarray) -> np.ndarray:
        """|z - z_i|^2 (n, n_train) for the training inputs whose weight can matter
        (:meth:`candidates`), +inf for the others."""
        Z = np.atleast_2d(np.asarray(Z, np.float64))
        columns, near_d2 = self.candidates(Z)
        d2 = np.full((len(Z), len(self.inputs)), np.inf)
        d2[:, columns] = near_d2
        return d2

    def _near_weights(self, Z: np.ndarray, d2: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(training inputs with a weight that matters, their weights K (n, len(those)))."""
        if d2 is None:
            columns, near_d2 = self.candidates(Z)
        else:
            columns, near_d2 = np.arange(d2.shape[1]), d2
        if not near_d2.size:
            return columns, near_d2
        K = np.exp(-near_d2 / self.width ** 2)
        K[K < NEGLIGIBLE * self.model_weight] = 0.0
        keep = K.any(axis=0)  # usually a handful of training complexes, or none
        return columns[keep], K[:, keep]

    def blend(self, Z: np.ndarray, model_mean: np.ndarray, d2: np.ndarray | None = None) -> np.ndarray:
        """f(z) for standardised inputs Z (n, d) and the model's predictions there (n, n_energy);
        ``d2`` (n, n_train), if given, holds the squared distances to the training inputs."""
        out = np.array(model_mean, np.float64)
        for start in range(0, len(out), 2048):
            near, K = self._near_weights(Z[start:start + 2048], None if d2 is None else d2[start:start + 2048])
            if not len(near):  # no training complex close enough to matter (most dragged structures)
                continue
            block = slice(start, start + len(K))
            total = (K.sum(axis=1) + self.model_weight)[:, None]
            if self.mode == "spectra":
                out[block] = (K @ self.train_values[near] + self.model_weight * out[block]) / total
            else:
                out[block] += K @ self.train_values[near] / total
        return out

    def blend_with_gradient(self, z: np.ndarray, model_mean: np.ndarray, model_jac: np.ndarray,
                            d2: np.ndarray | None = None):
        """f(z) (n_energy,) and df/dz (n_energy, d), given m(z) and dm/dz at one input z (d,)."""
        z = np.asarray(z, np.float64).ravel()
        near, K = self._near_weights(z[None], d2)
        K, inputs, values = K[0], self.train_inputs[near], self.train_values[near]
        total = K.sum() + self.model_weight
        # dK_i/dz = -2 K_i (z - z_i) / w^2, and the quotient rule gives
        # df/dz = sum_i dK_i (v_i - c) / total + s dm/dz, where
        #   "spectra":   f = (sum_i K_i y_i + a m) / total: v_i = y_i, c = f, s = a / total;
        #   "residuals": f = m + sum_i K_i r_i / total:     v_i = r_i, c = f - m, s = 1.
        if self.mode == "spectra":
            out = (K @ values + self.model_weight * model_mean) / total
            weighted, model_share = K[:, None] * (values - out), self.model_weight / total
        else:
            correction = K @ values / total
            out, weighted, model_share = model_mean + correction, K[:, None] * (values - correction), 1.0
        jac = (-2.0 / self.width ** 2 * (np.outer(weighted.sum(axis=0), z) - weighted.T @ inputs) / total
               + model_share * model_jac)
        return out, jac

    def arrays(self) -> dict[str, np.ndarray]:
        return {"neighbour_inputs": self.train_inputs.astype(np.float32),
                MODES[self.mode]: self.train_values.astype(np.float32)}

    @classmethod
    def from_arrays(cls, arrays, width: float, model_weight: float, mode: str = "spectra",
                    known_inputs=()) -> "NeighbourMember":
        """``known_inputs``: training-input arrays the bundle already holds (the kernel member's,
        the trust signal's), in order of preference. The first that equals the stored inputs, or
        the first at all if none are stored, is used itself: the kernel member's, shared so,
        have their distances computed once for both members."""
        inputs = arrays.get("neighbour_inputs")
        for candidate in known_inputs:
            if inputs is None or np.array_equal(getattr(candidate, "array", candidate), inputs):
                inputs = candidate
                break
        if inputs is None:
            raise ValueError("no training inputs: neither stored nor held elsewhere in the bundle")
        return cls(inputs, arrays[MODES[mode]], width, model_weight, mode)
