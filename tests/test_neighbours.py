"""The nearest-neighbour member: the model far away, the training spectrum on top of it, exact gradient;
in its residual mode, the model's own response to moving atoms kept."""

import numpy as np
import pytest

from tests.helpers import TINY, synthetic_data, tiny_bundle
from xanesviz import WACSF
from xanesviz.model import train
from xanesviz.data import FE_K_GRID
from xanesviz.neighbours import NeighbourMember


@pytest.fixture
def member():
    rng = np.random.default_rng(3)
    inputs, spectra = rng.normal(size=(40, 6)) * 3.0, rng.random((40, 9)) + 0.5
    return NeighbourMember(inputs, spectra, width=1.5, model_weight=0.1)


def test_far_from_training_data_the_model_is_unchanged(member):
    z = np.full((1, 6), 60.0)
    model = np.linspace(0.2, 1.0, 9)[None]
    np.testing.assert_allclose(member.blend(z, model), model, rtol=1e-15)


def test_on_a_training_complex_its_spectrum_dominates(member):
    member = NeighbourMember(member.train_inputs, member.train_values, width=0.6, model_weight=0.1)
    i = 7
    others = np.linalg.norm(member.train_inputs - member.train_inputs[i], axis=1)
    assert np.sort(others)[1] > 6 * member.width  # no other training input nearby
    model = np.zeros((1, 9))
    expected = member.train_values[i] / (1 + member.model_weight)
    np.testing.assert_allclose(member.blend(member.train_inputs[i:i + 1], model)[0], expected, rtol=1e-6)


def test_blend_is_a_weighted_mean_in_between(member):
    z = member.train_inputs[:1] + 0.8  # close to complex 0, not on it
    model = np.full((1, 9), 0.1)
    out = member.blend(z, model)[0]
    assert np.all(out > 0.1) and np.all(out < member.train_values.max(axis=0))


@pytest.mark.parametrize("mode", ["spectra", "residuals"])
def test_gradient_equals_finite_differences(member, mode):
    member = NeighbourMember(member.train_inputs, member.train_values - 0.8, member.width, member.model_weight, mode)
    rng = np.random.default_rng(5)
    A, c = rng.normal(size=(9, 6)), rng.normal(size=9)  # a smooth model m(z) = A z + c

    def f(z):
        return member.blend(z[None], (A @ z + c)[None])[0]

    z = member.train_inputs[3] + rng.normal(size=6) * 0.7
    out, jac = member.blend_with_gradient(z, A @ z + c, A)
    np.testing.assert_allclose(out, f(z), rtol=1e-12)
    h = 1e-6
    numeric = np.stack([(f(z + h * e) - f(z - h * e)) / (2 * h) for e in np.eye(6)], axis=1)
    np.testing.assert_allclose(jac, numeric, rtol=1e-5, atol=1e-7)
    model_share = member.model_weight if mode == "spectra" else 1.0
    assert np.abs(jac - A * model_share).max() > 1e-3  # the neighbours' share of it is not negligible


def test_residual_mode_adds_the_nearby_errors_and_keeps_the_models_response(member):
    residuals = NeighbourMember(member.train_inputs, member.train_values - 0.8, width=0.6, model_weight=0.1,
                                mode="residuals")
    i = 7
    assert np.sort(np.linalg.norm(residuals.train_inputs - residuals.train_inputs[i], axis=1))[1] > 6 * 0.6
    rng = np.random.default_rng(6)
    A, c = rng.normal(size=(9, 6)), rng.normal(size=9)
    z = residuals.train_inputs[i]
    out, jac = residuals.blend_with_gradient(z, A @ z + c, A)
    np.testing.assert_allclose(out, A @ z + c + residuals.train_values[i] / 1.1, rtol=1e-12)
    np.testing.assert_allclose(jac, A, atol=1e-12)  # on a training complex the correction is flat
    spectra = NeighbourMember(member.train_inputs, member.train_values, width=0.6, model_weight=0.1)
    np.testing.assert_allclose(spectra.blend_with_gradient(z, A @ z + c, A)[1], A * 0.1 / 1.1, atol=1e-12)
    far = np.full(6, 60.0)
    np.testing.assert_allclose(residuals.blend(far[None], (A @ far + c)[None])[0], A @ far + c, rtol=1e-15)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="positive"):
        NeighbourMember(np.zeros((2, 3)), np.zeros((2, 4)), width=0.0, model_weight=0.1)
    with pytest.raises(ValueError, match="neighbour mode 'errors'"):
        NeighbourMember(np.zeros((2, 3)), np.zeros((2, 4)), width=1.0, model_weight=0.1, mode="errors")


def test_trained_model_leans_on_its_training_spectra():
    _, X, y = synthetic_data()
    model = train(X, y, TINY, seed=1, n_members=2)
    without = train(X, y, TINY.with_overrides(neighbour_width=0.0), seed=1, n_members=2)
    on_training = np.abs(model.predict_mean(X[:10]) - y[:10]).mean()
    assert on_training < 0.5 * np.abs(without.predict_mean(X[:10]) - y[:10]).mean()


def test_residual_mode_stores_the_models_in_sample_errors(tmp_path):
    from xanesviz.bundle import load_bundle, save_bundle

    _, X, y = synthetic_data()
    recipe = TINY.with_overrides(neighbour_mode="residuals")
    model = train(X, y, recipe, seed=1, n_members=2)
    without = model.predict_mean(X, neighbours=False)
    np.testing.assert_allclose(model.neighbours.train_values, y - without, atol=1e-6)
    on_training = np.abs(model.predict_mean(X[:10]) - y[:10]).mean()
    assert on_training < 0.5 * np.abs(without[:10] - y[:10]).mean()
    save_bundle(tmp_path / "b", model, WACSF(), {"name": "residual"}, FE_K_GRID)
    bundle = load_bundle(tmp_path / "b")
    assert bundle.neighbours.mode == "residuals"
    np.testing.assert_allclose(bundle.forward(bundle.standardise(X[:6]))[0], model.predict_mean(X[:6]), rtol=1e-5)


def test_bundle_shares_the_kernel_inputs_and_predicts_as_without_sharing(tmp_path):
    from xanesviz.bundle import load_bundle
    from xanesviz.neighbours import NeighbourMember as Member

    _, X, _ = synthetic_data()
    bundle = load_bundle(tiny_bundle(tmp_path / "tiny", members=2))
    assert bundle.neighbours.train_inputs is bundle.kernel.train_inputs  # one distance computation for both
    Z = bundle.standardise(X[:6])
    shared = bundle.forward(Z)[0]
    bundle.ensemble.neighbours = Member(bundle.neighbours.train_inputs.copy(), bundle.neighbours.train_values,
                               bundle.neighbours.width, bundle.neighbours.model_weight, bundle.neighbours.mode)
    np.testing.assert_allclose(bundle.forward(Z)[0], shared, rtol=1e-12)


def test_bundle_without_a_kernel_stores_the_inputs_once_and_predicts_alike(tmp_path):
    """The member's training inputs are the trust signal's training features: stored once."""
    from xanesviz.bundle import ModelBundleError, load_bundle, save_bundle

    _, X, y = synthetic_data()
    model = train(X, y, TINY.with_overrides(kernel_weight=0.0, neighbour_mode="residuals"), seed=1, n_members=2)
    save_bundle(tmp_path / "b", model, WACSF(), {"name": "no-kernel"}, FE_K_GRID, training_features=X)
    assert "neighbour_inputs" not in np.load(tmp_path / "b" / "neighbours.npz").files
    bundle = load_bundle(tmp_path / "b")
    np.testing.assert_array_equal(bundle.neighbours.train_inputs, bundle.training_features)
    np.testing.assert_allclose(bundle.forward(bundle.standardise(X[:6]))[0], model.predict_mean(X[:6]), rtol=1e-5)
    # without the training features, the member's inputs are stored, and a bundle lacking both says so
    save_bundle(tmp_path / "c", model, WACSF(), {"name": "no-kernel"}, FE_K_GRID)
    assert "neighbour_inputs" in np.load(tmp_path / "c" / "neighbours.npz").files
    np.testing.assert_allclose(load_bundle(tmp_path / "c").forward(bundle.standardise(X[:6]))[0],
                               model.predict_mean(X[:6]), rtol=1e-5)
    residuals = np.load(tmp_path / "c" / "neighbours.npz")["neighbour_residuals"]
    np.savez(tmp_path / "c" / "neighbours.npz", neighbour_residuals=residuals)
    with pytest.raises(ModelBundleError, match="neighbours.npz: lacks neighbour_inputs"):
        load_bundle(tmp_path / "c")


def test_predictions_without_the_neighbour_member(tmp_path):
    """What `xanesviz importance` permutes: the model without the member, as training stores it."""
    from xanesviz import Predictor

    _, X, y = synthetic_data()
    predictor = Predictor.load(tiny_bundle(tmp_path / "tiny", members=2))
    with_member, std = predictor.predict_arrays(X[:6])
    without, std_without = predictor.predict_arrays(X[:6], neighbours=False)
    np.testing.assert_array_equal(std, std_without)  # the networks' spread is the same
    assert np.abs(with_member - y[:6]).mean() < 0.5 * np.abs(without - y[:6]).mean()


def test_the_screen_keeps_every_training_input_that_carries_weight():
    """The principal-axes screen is exact: screened distances equal the full ones wherever a
    weight can matter, and the blend equals the unscreened one."""
    from xanesviz import Predictor
    from xanesviz.neighbours import NEGLIGIBLE

    member = Predictor.load().ensemble.neighbours  # the shipped model's: 4079 inputs, 409 dimensions
    rng = np.random.default_rng(4)
    X = member.train_inputs
    Z = np.vstack([X[rng.choice(len(X), 60, replace=False)] + rng.normal(0, s, (60, X.shape[1]))
                   for s in (0.0, 0.2, 0.5, 1.0)])  # on, near and away from training complexes
    full = member.inputs.squared_distances(Z)
    screened = member.squared_distances(Z)
    matters = np.exp(-full / member.width ** 2) >= NEGLIGIBLE * member.model_weight
    assert matters.sum() > len(Z)  # the test reaches inputs that carry weight
    np.testing.assert_allclose(screened[matters], full[matters], rtol=1e-9, atol=1e-9)
    for z in Z[::37]:  # and, for one input, most are ruled out without their full distance
        assert np.isinf(member.squared_distances(z)).mean() > 0.9
    model_mean = rng.normal(1.0, 0.1, (len(Z), member.train_values.shape[1]))
    unscreened = member.blend(Z, model_mean, d2=full)
    np.testing.assert_allclose(member.blend(Z, model_mean), unscreened, rtol=1e-12, atol=1e-12)
