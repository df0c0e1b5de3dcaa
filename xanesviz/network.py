"""A numpy forward pass over an ensemble of MLPs with batch norm folded into the weights.

This is the live inference path: no TensorFlow import, no ``model.predict``; one matrix
product per layer for every ensemble member at once (float32).
"""

from __future__ import annotations

import numpy as np


class StackedMLP:
    """Ensemble of equally shaped ReLU MLPs: weights[l] is (members, n_in, n_out)."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]):
        self.weights = [np.ascontiguousarray(w, np.float32) for w in weights]
        self.biases = [np.ascontiguousarray(b, np.float32) for b in biases]
        m, n_in, _ = self.weights[0].shape
        # First layer of all members as one (n_in, members * hidden) matrix: one GEMM for all.
        self._first = np.ascontiguousarray(self.weights[0].transpose(1, 0, 2).reshape(n_in, -1))
        self._first_bias = self.biases[0].reshape(-1)

    @classmethod
    def from_members(cls, members: list[list[tuple[np.ndarray, np.ndarray]]]) -> "StackedMLP":
        n_layers = len(members[0])
        weights = [np.stack([m[k][0] for m in members]) for k in range(n_layers)]
        biases = [np.stack([m[k][1] for m in members]) for k in range(n_layers)]
        return cls(weights, biases)

    @property
    def n_members(self) -> int:
        return self.weights[0].shape[0]

    @property
    def n_inputs(self) -> int:
        return self.weights[0].shape[1]

    def forward(self, Z: np.ndarray) -> np.ndarray:
        """(n_members, n_samples, n_out) for standardised inputs Z (n_samples, n_inputs)."""
        Z = np.asarray(Z, np.float32)
        m = self.n_members
        h = Z @ self._first + self._first_bias  # (n, m * hidden)
        np.maximum(h, 0.0, out=h)
        h = h.reshape(len(Z), m, -1).transpose(1, 0, 2)  # (m, n, hidden)
        for k in range(1, len(self.weights)):
            h = np.matmul(h, self.weights[k]) + self.biases[k][:, None, :]
            if k < len(self.weights) - 1:
                np.maximum(h, 0.0, out=h)
        return h

    def forward_with_gradient(self, Z: np.ndarray):
        """Forward pass that also returns d(out)/d(Z) for a single sample: (m, n_out, n_inputs).

        The Jacobian is carried through the active ReLU units only (an inactive unit passes no
        gradient): each layer's product shrinks to the rows and columns of the units that are
        on, about half of each hidden layer, which makes it 2-3x faster than the dense product.
        """
        z = np.asarray(Z, np.float32).reshape(1, -1)
        pre = (z @ self._first + self._first_bias).reshape(self.n_members, -1)
        outputs, jacobians = [], []
        for i in range(self.n_members):
            active = np.flatnonzero(pre[i] > 0)
            h, jac = pre[i, active], self.weights[0][i][:, active].T  # (n_active, n_inputs)
            for k in range(1, len(self.weights)):
                w = self.weights[k][i][active]  # the rows of active inputs
                out = h @ w + self.biases[k][i]
                if k < len(self.weights) - 1:
                    active = np.flatnonzero(out > 0)
                    h, jac = out[active], w[:, active].T @ jac
                else:
                    h, jac = out, w.T @ jac
            outputs.append(h)
            jacobians.append(jac)
        return np.stack(outputs), np.stack(jacobians)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            out[f"W{k}"], out[f"b{k}"] = w, b
        return out

    @classmethod
    def from_arrays(cls, arrays) -> "StackedMLP":
        n = len([key for key in arrays if key.startswith("W")])
        return cls([arrays[f"W{k}"] for k in range(n)], [arrays[f"b{k}"] for k in range(n)])
