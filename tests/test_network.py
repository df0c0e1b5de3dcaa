"""The numpy ensemble forward pass and its input Jacobian."""

import numpy as np
import pytest

from xanesviz.network import StackedMLP


@pytest.fixture(scope="module")
def network():
    rng = np.random.default_rng(0)
    sizes = [12, 40, 30, 7]
    weights = [rng.normal(size=(3, a, b)) / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(size=(3, b)) * 0.3 for b in sizes[1:]]
    return StackedMLP(weights, biases)


def dense_jacobian(network, z):
    """d out / d z of each member by the plain chain rule: every unit, ReLU masks as 0/1 (float64)."""
    jacobians = []
    for m in range(network.n_members):
        h, jac = z.astype(np.float64), np.eye(len(z))
        for k, (w, b) in enumerate(zip(network.weights, network.biases)):
            pre = h @ w[m] + b[m]
            jac = w[m].T.astype(np.float64) @ jac
            if k < len(network.weights) - 1:
                jac, h = jac * (pre > 0)[:, None], np.maximum(pre, 0)
            else:
                h = pre
        jacobians.append(jac)
    return np.stack(jacobians)


def test_forward_with_gradient_matches_forward_and_the_chain_rule(network):
    rng = np.random.default_rng(1)
    for _ in range(5):
        z = rng.normal(size=network.n_inputs).astype(np.float32)
        out, jac = network.forward_with_gradient(z)
        np.testing.assert_allclose(out, network.forward(z[None])[:, 0], rtol=1e-5, atol=1e-5)
        assert jac.shape == (3, 7, 12)
        np.testing.assert_allclose(jac, dense_jacobian(network, z), rtol=1e-4, atol=1e-5)


def test_forward_with_gradient_when_a_layer_is_all_off(network):
    z = np.zeros(network.n_inputs, np.float32)
    silent = StackedMLP([network.weights[0], *network.weights[1:]],
                        [np.full_like(network.biases[0], -1.0), *network.biases[1:]])  # every first-layer unit off
    out, jac = silent.forward_with_gradient(z)
    np.testing.assert_allclose(out, silent.forward(z[None])[:, 0], rtol=1e-5, atol=1e-6)
    assert np.all(jac == 0) and jac.shape == (3, 7, 12)


def test_last_hidden_units_are_what_the_last_layer_reads_and_a_new_last_layer_replaces_it(network):
    """``last_hidden`` times the last layer is ``forward``; ``with_last_layer`` changes only that
    layer and refuses one of another shape."""
    Z = np.random.default_rng(3).normal(size=(6, network.n_inputs))
    hidden = network.last_hidden(Z)
    assert hidden.shape == (network.n_networks, 6, network.weights[-1].shape[1]) and hidden.min() >= 0
    np.testing.assert_allclose(np.matmul(hidden, network.weights[-1]) + network.biases[-1][:, None, :],
                               network.forward(Z), rtol=1e-5, atol=1e-5)
    weights, biases = 2.0 * network.weights[-1], network.biases[-1] - 1.0
    other = network.with_last_layer(weights, biases)
    np.testing.assert_allclose(other.forward(Z), 2.0 * network.forward(Z) - network.biases[-1][:, None, :] - 1.0,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(other.weights[0], network.weights[0])
    with pytest.raises(ValueError, match="a last layer must be"):
        network.with_last_layer(weights[:, :-1], biases)
