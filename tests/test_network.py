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
