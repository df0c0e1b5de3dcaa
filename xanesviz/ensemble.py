"""The fitted model: preprocessing state, the networks and the optional kernel and neighbour members.

One class for a model that :func:`xanesviz.model.train` returns and
:func:`xanesviz.bundle.load_bundle` loads, with one forward path for values and gradients:

1. standardise the descriptor rows: ``z = (x[support] - x_mean) / x_scale``;
2. the networks (:class:`~xanesviz.network.StackedMLP`), each output scaled back to spectrum
   units ``y = out * y_scale + y_mean``; their mean is the model's first estimate and their
   spread its uncertainty;
3. the kernel ridge member (:class:`~xanesviz.kernel.KernelMember`), if any, blended into that
   mean with the recipe's ``kernel_weight``;
4. a residual member (a :class:`~xanesviz.kernel.KernelMember` or a
   :class:`~xanesviz.linear_member.LinearMember`, in spectrum units), if any, added to the mean:
   the FEFF10 edge models' correction, learned from the descriptor, of what their recalibrated
   networks miss;
5. the nearest-neighbour member (:class:`~xanesviz.neighbours.NeighbourMember`), if any.

Every member provides its value and its derivative with respect to z, so
``forward(z, gradient=True)`` carries the Jacobian through the same steps. Members that hold
the same :class:`~xanesviz.distances.TrainingInputs` share one distance computation.
Numpy only: no TensorFlow at prediction time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .kernel import KernelMember, blend
from .linear_member import LinearMember
from .neighbours import NeighbourMember
from .network import StackedMLP

#: Rows per block of a batch forward pass: bounds the (block, n_train) distance matrices.
BLOCK = 2048


class EnsembleOutput(NamedTuple):
    """What :meth:`Ensemble.forward` returns, in spectrum units.

    For rows Z (n, d): ``mean`` (n, n_energy), ``networks`` (n_networks, n, n_energy). For one
    input with ``gradient=True``: ``mean`` (n_energy,), ``networks`` (n_networks, n_energy), and
    their derivatives with respect to z, ``d_mean`` (n_energy, d) and, if asked for,
    ``d_networks`` (n_networks, n_energy, d).
    """

    mean: np.ndarray
    networks: np.ndarray
    d_mean: np.ndarray | None = None
    d_networks: np.ndarray | None = None


@dataclass
class Ensemble:
    """A fitted ensemble, as arrays: everything needed to predict from raw descriptor rows."""

    support: np.ndarray  # (n_features,) bool: the variance filter's kept columns
    x_mean: np.ndarray  # (n_inputs,) standardisation of the kept columns
    x_scale: np.ndarray
    y_mean: np.ndarray  # (n_energy,) target scaling: spectrum = network output * y_scale + y_mean
    y_scale: np.ndarray
    network: StackedMLP
    kernel: KernelMember | None = None
    kernel_weight: float = 0.0
    neighbours: NeighbourMember | None = None
    training_inputs: np.ndarray | None = None  # standardised training features (float32), for the trust signal
    recipe: dict = field(default_factory=dict)  # the recipe's settings, as the model card records them
    keras_networks: list | None = None  # the trained Keras networks (after training only; saved as .keras)
    history: list = field(default_factory=list)  # mean training loss per epoch (after training only)
    train_seconds: float = 0.0
    residual: KernelMember | LinearMember | None = None  # added to the mean, in spectrum units (not mapped by with_output_map)

    # -- shapes ----------------------------------------------------------------------------
    @property
    def n_networks(self) -> int:
        return self.network.n_networks

    @property
    def n_inputs(self) -> int:
        return self.network.n_inputs

    @property
    def n_energy(self) -> int:
        return self.network.weights[-1].shape[-1]

    # -- prediction ----------------------------------------------------------------------------
    def standardise(self, X: np.ndarray) -> np.ndarray:
        """Raw descriptor rows (n, n_features) -> the members' standardised inputs (n, n_inputs)."""
        return (np.asarray(X, float)[:, self.support] - self.x_mean) / self.x_scale

    def forward(self, Z: np.ndarray, gradient: bool = False, neighbours: bool = True,
                network_gradients: bool = False) -> EnsembleOutput:
        """The model on standardised inputs: rows Z (n, d), or one input z with ``gradient=True``.

        ``neighbours=False`` leaves the nearest-neighbour member out; ``network_gradients=True``
        (with ``gradient``) also returns each network's derivative, ``d_networks``.
        """
        neighbour_member = self.neighbours if neighbours else None
        if gradient:
            z = np.asarray(Z, np.float64).reshape(-1)
            out, jac = self.network.forward(z, gradient=True)  # (m, E), (m, E, d)
            networks = out * self.y_scale + self.y_mean
            d_mean = jac.mean(axis=0).astype(np.float64) * self.y_scale[:, None]  # the mean first: 5x less work
            d_networks = jac * self.y_scale[:, None] if network_gradients else None
            mean, d_mean = self._other_members(z[None], networks.mean(axis=0), d_mean, neighbour_member)
            return EnsembleOutput(mean, networks, d_mean, d_networks)
        Z = np.atleast_2d(Z)
        networks = self.network.forward(Z) * self.y_scale + self.y_mean
        mean = networks.sum(axis=0) / len(networks)  # as .mean(axis=0), without its Python-level steps
        if self.kernel is not None or self.residual is not None or neighbour_member is not None:
            for start in range(0, len(Z), BLOCK):
                block = slice(start, start + BLOCK)
                mean[block] = self._other_members(Z[block], mean[block], None, neighbour_member)[0]
        return EnsembleOutput(mean, networks)

    def _other_members(self, Z, mean, d_mean, neighbour_member):
        """The networks' mean (and its derivative, for one input) through the kernel member, the
        residual member, then the nearest-neighbour member. Distances to training inputs two members share are computed once."""
        gradient = d_mean is not None
        shared = self.kernel is not None and neighbour_member is not None and \
            self.kernel.inputs is neighbour_member.inputs
        d2 = self.kernel.inputs.squared_distances(Z) if shared else None
        if self.kernel is not None:
            if gradient:
                k_out, k_jac = self.kernel.forward(Z[0], d2, gradient=True)
                d_mean = blend(d_mean, k_jac * self.y_scale[:, None], self.kernel_weight)
                mean = blend(mean, k_out * self.y_scale + self.y_mean, self.kernel_weight)
            else:
                mean = blend(mean, self.kernel.forward(Z, d2) * self.y_scale + self.y_mean, self.kernel_weight)
        if self.residual is not None:
            if gradient:
                r_out, r_jac = self.residual.forward(Z[0], gradient=True)
                mean, d_mean = mean + r_out, d_mean + r_jac
            else:
                mean = mean + self.residual.forward(Z)
        if neighbour_member is not None:
            if gradient:
                mean, d_mean = neighbour_member.forward(Z[0], mean, d_mean, d2)
            else:
                mean = neighbour_member.forward(Z, mean, None, d2)
        return mean, d_mean

    def predict(self, X: np.ndarray, return_std: bool = False, neighbours: bool = True):
        """The model's prediction for raw descriptor rows X (n, n_energy); with ``return_std``
        also the standard deviation over the networks."""
        out = self.forward(self.standardise(np.atleast_2d(X)), neighbours=neighbours)
        return (out.mean, _spread(out.networks)) if return_std else out.mean

    def predict_mean(self, X: np.ndarray, neighbours: bool = True) -> np.ndarray:
        """``predict(X)``: the networks' mean blended with the other members (n, n_energy)."""
        return self.predict(X, neighbours=neighbours)

    def predict_networks(self, X: np.ndarray) -> np.ndarray:
        """(n_networks, n, n_energy): each network's prediction for raw descriptor rows X."""
        return self.forward(self.standardise(np.atleast_2d(X))).networks

    predict_members = predict_networks  # the older name

    def with_output_map(self, output_map: np.ndarray, offset: np.ndarray) -> "Ensemble":
        """The ensemble whose spectra are this one's times a matrix plus an offset,
        ``spectrum @ output_map + offset`` (each network's), folded into the networks' last layer
        (and a kernel member's coefficients): an ordinary ensemble, gradients and spread included.
        A residual member is left as it is: it corrects the mapped spectra.
        Not for one with a nearest-neighbour member (it blends in training spectra, not a map of them)."""
        if self.neighbours is not None:
            raise ValueError("an output map does not apply to a nearest-neighbour member: drop it first")
        output_map = np.asarray(output_map, np.float64)
        n = self.n_energy
        if output_map.shape != (n, n) or np.shape(offset) != (n,):
            raise ValueError(f"an output map must be ({n}, {n}) with an offset of ({n},)")
        # spectrum = (h W + b) * y_scale + y_mean, then @ M + c  =  h (W y_scale M) + (b y_scale) M + (y_mean M + c)
        scaled = self.y_scale[:, None] * output_map
        weights = [*self.network.weights[:-1], self.network.weights[-1].astype(np.float64) @ scaled]
        biases = [*self.network.biases[:-1], self.network.biases[-1].astype(np.float64) @ scaled]
        kernel = None if self.kernel is None else KernelMember(self.kernel.inputs, self.kernel.dual @ scaled,
                                                               self.kernel.gamma)
        return dataclasses.replace(self, network=StackedMLP(weights, biases), kernel=kernel, y_scale=np.ones(n),
                                   y_mean=self.y_mean @ output_map + np.asarray(offset, np.float64),
                                   keras_networks=None)


def _spread(networks: np.ndarray) -> np.ndarray:
    """``networks.std(axis=0)``: the same operations, bit for bit, without the Python-level steps
    of numpy's ``_var`` (each a few microseconds in a live prediction, whose caches are cold)."""
    deviation = networks - networks.sum(axis=0) / len(networks)
    np.multiply(deviation, deviation, out=deviation)
    return np.sqrt(deviation.sum(axis=0) / len(networks))
