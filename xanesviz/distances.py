"""Distances to the training data in the standardised descriptor space.

One home for the three users: the kernel ridge member (its RBF kernel), the nearest-neighbour
member (its Gaussian weight) and the trust signal (the distance to the nearest training
complex). :class:`TrainingInputs` holds the training inputs with their squared norms, so a
distance matrix is one matrix product; members that hold the same ``TrainingInputs`` object
have the distances computed once for both (see :meth:`xanesviz.ensemble.Ensemble.forward`).
"""

from __future__ import annotations

import numpy as np


def squared_distances(Z: np.ndarray, train: np.ndarray, train_sq: np.ndarray) -> np.ndarray:
    """|z - z_i|^2 (n, n_train) for rows of Z against the rows of ``train``, whose squared norms
    are ``train_sq``: one matrix product, in the dtype of the inputs, clipped at 0."""
    return np.maximum(np.einsum("ij,ij->i", Z, Z)[:, None] + train_sq[None, :] - 2.0 * Z @ train.T, 0.0)


class TrainingInputs:
    """Standardised training inputs (n_train, d) in one dtype, and distances to them.

    float64 for the members (their weights are exponentials of the distance), float32 for the
    trust signal (a nearest distance: float32 ranks the candidates twice as fast, and the nearest
    few are measured again exactly, see :meth:`nearest`).
    """

    def __init__(self, inputs: np.ndarray, dtype=np.float64):
        # Taken as it is (no copy where the dtype matches): the matrix product's rounding depends
        # on the memory layout, and the trust signal's figures were calibrated with the stored one.
        self.array = np.asarray(inputs, dtype)
        self.squared_norms = np.einsum("ij,ij->i", self.array, self.array)

    def __len__(self) -> int:
        return len(self.array)

    @property
    def shape(self) -> tuple[int, int]:
        return self.array.shape

    def squared_distances(self, Z: np.ndarray) -> np.ndarray:
        """|z - z_i|^2 for each row of Z against every training input: (n, n_train)."""
        Z = np.atleast_2d(np.asarray(Z, self.array.dtype))
        return squared_distances(Z, self.array, self.squared_norms)

    def nearest(self, Z: np.ndarray, exclude_self: bool = False, block: int = 1024) -> np.ndarray:
        """Distance from each row of Z to its nearest training input (n,), in blocks to bound memory.
        ``exclude_self``: Z is the training inputs themselves, each row's own distance left out.

        The matrix product ranks the candidates; those whose product distance is within its
        rounding error of the row's smallest are measured again directly (differences, float64),
        so that a near-duplicate's distance does not depend on how the BLAS library rounds
        (in float32 a duplicate could come out as 0 or as 0.004, moving the trust percentile)."""
        Z = np.atleast_2d(Z)
        out = np.empty(len(Z))
        eps = np.finfo(self.array.dtype).eps
        largest_norm = float(self.squared_norms.max()) if len(self.squared_norms) else 0.0
        for start in range(0, len(Z), block):
            rows = np.asarray(Z[start:start + block])
            d2 = self.squared_distances(rows)
            if exclude_self:
                d2[np.arange(len(d2)), np.arange(start, start + len(d2))] = np.inf
            smallest = d2.min(axis=1)
            # the product's error is a few eps of |z|^2 + |x|^2 (generous factor: d ~ 100s)
            slack = 64.0 * eps * (np.einsum("ij,ij->i", rows, rows).astype(np.float64) + largest_norm)
            i, j = np.nonzero(d2 <= (smallest + slack)[:, None])
            if exclude_self:
                i, j = i[j != start + i], j[j != start + i]
            diff = rows[i].astype(np.float64) - self.array[j].astype(np.float64)
            exact = np.full(len(rows), np.inf)
            np.minimum.at(exact, i, np.einsum("ij,ij->i", diff, diff))
            out[start:start + len(d2)] = np.sqrt(exact)
        return out


def as_training_inputs(inputs, dtype=np.float64) -> TrainingInputs:
    """``inputs`` itself if it is a TrainingInputs of that dtype, else a new one over a
    C-contiguous copy of the array (the members' layout)."""
    if isinstance(inputs, TrainingInputs) and inputs.array.dtype == dtype:
        return inputs
    array = inputs.array if isinstance(inputs, TrainingInputs) else inputs
    return TrainingInputs(np.ascontiguousarray(array, dtype), dtype)
