"""The kernel ridge member: equal to scikit-learn's KernelRidge, exact gradient, blended mean."""

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from xanesviz.kernel import KernelMember, blend
from xanesviz.model import train

from helpers import TINY, synthetic_data


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(80, 6))
    Y = np.stack([np.sin(Z[:, 0]) + Z[:, 1] ** 2, Z[:, 2] * Z[:, 3], np.cos(Z[:, 4] - Z[:, 5])], axis=1)
    return Z, Y


def test_prediction_equals_scikit_learn(problem):
    Z, Y = problem
    member = KernelMember.fit(Z[:60], Y[:60], gamma=0.2, alpha=0.05)
    reference = KernelRidge(kernel="rbf", gamma=0.2, alpha=0.05).fit(Z[:60], Y[:60]).predict(Z[60:])
    np.testing.assert_allclose(member.forward(Z[60:]), reference, rtol=1e-9, atol=1e-9)


def test_gradient_equals_central_differences(problem):
    Z, Y = problem
    member = KernelMember.fit(Z, Y, gamma=0.2, alpha=0.05)
    z = Z[3] + 0.1
    out, jac = member.forward_with_gradient(z)
    np.testing.assert_allclose(out, member.forward(z[None])[0], rtol=1e-5)
    h = 1e-3
    numeric = np.stack([(member.forward((z + h * e)[None])[0] - member.forward((z - h * e)[None])[0]) / (2 * h)
                        for e in np.eye(len(z))], axis=1)
    np.testing.assert_allclose(jac, numeric, rtol=1e-5, atol=1e-7)


def test_round_trip_through_arrays(problem):
    Z, Y = problem
    member = KernelMember.fit(Z, Y, gamma=0.2, alpha=0.05)
    again = KernelMember.from_arrays(member.arrays())
    np.testing.assert_array_equal(again.forward(Z[:5]), member.forward(Z[:5]))


def test_trained_model_blends_networks_and_kernel():
    _, X, y = synthetic_data()
    model = train(X, y, TINY.with_overrides(neighbour_width=0.0), seed=1, n_members=2)  # the kernel blend alone
    assert model.kernel is not None and model.neighbours is None
    networks = model.predict_networks(X[:7]).mean(axis=0)
    kernel = model.kernel.forward(model.standardise(X[:7])) * model.y_scale + model.y_mean
    np.testing.assert_allclose(model.predict_mean(X[:7]), blend(networks, kernel, TINY.kernel_weight), rtol=1e-5)
    assert not np.allclose(networks, kernel)
    # interpolating the training data, the kernel member fits it more closely than the 4-epoch networks
    assert np.abs(kernel - y[:7]).mean() < np.abs(networks - y[:7]).mean()
