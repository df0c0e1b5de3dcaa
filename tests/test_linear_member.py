"""The linear member on the descriptor: its ridge fit, the data's own drags in it, its derivative."""

import numpy as np
from sklearn.linear_model import Ridge

from xanesviz.linear_member import LinearMember


def rows(seed=0, n=40, d=6, n_energy=5):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    R = Z @ rng.normal(size=(d, n_energy)) + 0.1 * rng.normal(size=(n, n_energy)) + 0.3
    return Z, R


def test_without_pairs_it_is_scikit_learns_ridge_with_an_intercept_left_out():
    Z, R = rows()
    member = LinearMember.fit(Z, R, alpha=0.5)
    Zc = Z - Z.mean(axis=0)
    reference = Ridge(alpha=0.5 * np.trace(Zc.T @ Zc) / Z.shape[1]).fit(Z, R)
    np.testing.assert_allclose(member.weights, reference.coef_.T, atol=1e-10)
    # the member corrects shape, not the mean residual: zero at the training rows' centre
    np.testing.assert_allclose(member.forward(Z.mean(axis=0)[None]), 0.0, atol=1e-12)
    np.testing.assert_allclose(member.forward(Z), reference.predict(Z) - R.mean(axis=0), atol=1e-10)


def test_pairs_pull_the_fit_toward_the_drags_residuals():
    """Drags whose residual change disagrees with the rows': weighted in, they are followed."""
    Z, R = rows(1)
    pairs = np.array([(k, k + 1) for k in range(0, 20, 2)])
    R_drag = R.copy()
    R_drag[pairs[:, 1]] += 2.0 * (Z[pairs[:, 1]] - Z[pairs[:, 0]])[:, :1]  # a response the rows do not show

    def drag_error(member):
        dZ = Z[pairs[:, 1]] - Z[pairs[:, 0]]
        return np.abs(dZ @ member.weights - (R_drag[pairs[:, 1]] - R_drag[pairs[:, 0]])).mean()

    plain = LinearMember.fit(Z, R_drag, alpha=0.1)
    paired = LinearMember.fit(Z, R_drag, pairs, pair_weight=10.0, alpha=0.1)
    assert drag_error(paired) < 0.5 * drag_error(plain)
    same = LinearMember.fit(Z, R_drag, pairs, pair_weight=0.0, alpha=0.1)
    np.testing.assert_array_equal(same.weights, plain.weights)


def test_its_derivative_is_its_weights_and_it_survives_its_arrays():
    Z, R = rows(2)
    member = LinearMember.fit(Z, R, alpha=1.0)
    z = Z[3]
    out, jac = member.forward(z, gradient=True)
    np.testing.assert_allclose(out, member.forward(z[None])[0])
    step = 1e-6
    for j in range(Z.shape[1]):
        moved = z.copy()
        moved[j] += step
        np.testing.assert_allclose(jac[:, j], (member.forward(moved[None])[0] - out) / step, atol=1e-6)
    again = LinearMember.from_arrays(member.arrays())
    np.testing.assert_array_equal(again.forward(Z), member.forward(Z))
