"""The fitted model: one class from training and from a bundle, one forward path for values and gradients."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from xanesviz.bundle import load_bundle
from xanesviz.ensemble import Ensemble

from helpers import synthetic_data, tiny_bundle

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A tiny bundle with all three members: networks, kernel ridge, nearest neighbours."""
    return load_bundle(tiny_bundle(tmp_path_factory.mktemp("ensemble") / "tiny", members=2))


def test_a_bundle_holds_the_class_training_returns(bundle):
    assert type(bundle.ensemble) is Ensemble
    assert bundle.ensemble.kernel is not None and bundle.ensemble.neighbours is not None
    assert bundle.network is bundle.ensemble.network  # one model, not two


@pytest.mark.parametrize("neighbours", [True, False])
def test_gradient_path_gives_the_value_path_and_exact_derivatives(bundle, neighbours):
    _, X, _ = synthetic_data()
    ensemble = bundle.ensemble
    z = ensemble.standardise(X[3:4])[0] + 0.05  # near, not on, a training complex: every member acts
    value = ensemble.forward(z[None], neighbours=neighbours)
    out = ensemble.forward(z, gradient=True, neighbours=neighbours, network_gradients=True)
    assert ensemble.forward(z, gradient=True).d_networks is None  # only when asked for
    np.testing.assert_allclose(out.mean, value.mean[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(out.networks, value.networks[:, 0], rtol=1e-6, atol=1e-7)
    assert out.d_mean.shape == (ensemble.n_energy, ensemble.n_inputs)
    assert out.d_networks.shape == (ensemble.n_networks, ensemble.n_energy, ensemble.n_inputs)
    h = 1e-3
    rng = np.random.default_rng(0)
    for k in rng.choice(ensemble.n_inputs, 6, replace=False):
        step = np.zeros_like(z)
        step[k] = h
        plus, minus = ensemble.forward(z + step, neighbours=neighbours), ensemble.forward(z - step, neighbours=neighbours)
        scale = np.abs(out.d_mean).max()
        np.testing.assert_allclose(out.d_mean[:, k], (plus.mean - minus.mean)[0] / (2 * h), atol=2e-3 * scale)
        np.testing.assert_allclose(out.d_networks[:, :, k], (plus.networks - minus.networks)[:, 0] / (2 * h),
                                   atol=2e-3 * np.abs(out.d_networks).max())


def test_predict_gives_mean_and_the_networks_spread(bundle):
    _, X, _ = synthetic_data()
    mean, std = bundle.ensemble.predict(X[:5], return_std=True)
    out = bundle.ensemble.forward(bundle.ensemble.standardise(X[:5]))
    np.testing.assert_array_equal(mean, out.mean)
    np.testing.assert_array_equal(std, out.networks.std(axis=0))


@pytest.mark.parametrize("module", ["xanesviz.predictor", "xanesviz.app", "xanesviz"])
def test_the_live_path_does_not_import_training(module):
    """Predicting (and the dashboard) never import xanesviz.model or TensorFlow."""
    code = (f"import sys, {module}, xanesviz.predictor as p; p.Predictor.load().predict(__import__('xanesviz.examples')"
            ".examples.example()); bad = sorted(m for m in sys.modules if m == 'xanesviz.model' or "
            "m.split('.')[0] in ('tensorflow', 'keras')); print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_output_map_needs_no_neighbour_member_and_a_square_map():
    import dataclasses

    from xanesviz.bundle import load_bundle
    from xanesviz.predictor import DEFAULT_BUNDLE

    ensemble = load_bundle(DEFAULT_BUNDLE).ensemble  # the shipped Fe model has a nearest-neighbour member
    n = ensemble.n_energy
    with pytest.raises(ValueError, match="nearest-neighbour"):
        ensemble.with_output_map(np.eye(n), np.zeros(n))
    networks_only = dataclasses.replace(ensemble, neighbours=None)
    with pytest.raises(ValueError, match=f"must be \\({n}, {n}\\)"):
        networks_only.with_output_map(np.eye(n - 1), np.zeros(n - 1))
    same = networks_only.with_output_map(np.eye(n), np.zeros(n))
    X = np.random.default_rng(0).normal(size=(2, len(ensemble.support)))
    np.testing.assert_allclose(same.predict_networks(X), networks_only.predict_networks(X), atol=1e-5)
