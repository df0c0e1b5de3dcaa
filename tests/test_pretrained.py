"""The shipped Fe K-edge bundle: loads, matches its Keras networks, predicts sensible spectra."""

import numpy as np
import pytest

from xanesviz import Predictor
from xanesviz.bundle import load_bundle
from xanesviz.examples import FE_EXAMPLES as GALLERY  # the Fe model's complexes
from xanesviz.predictor import DEFAULT_BUNDLE


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load()


def test_card_describes_the_model(predictor):
    card = predictor.card
    assert card["edge"]["element"] == predictor.element == "Fe" and card["edge"]["edge"] == "K"
    assert card["training_data"]["n_samples"] == 4079
    assert card["recipe"]["name"] == "xanesviz-fe-k-zeta32" and predictor.n_members == card["ensemble_members"] >= 2
    assert len(card["feature_importance"]["overall"]) == predictor.descriptor.n_features


def test_fast_path_equals_keras_networks(predictor):
    keras_bundle = load_bundle(DEFAULT_BUNDLE, backend="keras")
    X = np.stack([predictor.features(build()) for build in GALLERY.values()])
    Z = predictor.bundle.standardise(X)
    np.testing.assert_allclose(predictor.bundle.network.forward(Z), keras_bundle.network.forward(Z), rtol=1e-5, atol=1e-5)
    import keras

    member = keras.saving.load_model(DEFAULT_BUNDLE / "member_0.keras", safe_mode=True)
    np.testing.assert_allclose(predictor.bundle.network.forward(Z)[0], member(Z, training=False).numpy(),
                               rtol=1e-4, atol=1e-5)


def test_mean_is_the_networks_mean_corrected_by_the_neighbour_member(predictor):
    bundle, recipe = predictor.bundle, predictor.card["recipe"]
    assert bundle.kernel is None and recipe.get("kernel_weight", 0.0) == 0.0  # no kernel ridge member
    assert bundle.neighbours is not None and bundle.neighbours.mode == recipe["neighbour_mode"] == "residuals"
    assert bundle.neighbours.width == recipe["neighbour_width"]
    assert bundle.neighbours.train_inputs.shape[0] == predictor.card["training_data"]["n_samples"]
    X = np.stack([predictor.features(build()) for build in GALLERY.values()])
    Z = bundle.standardise(X)
    networks = bundle.network.forward(Z).mean(axis=0) * bundle.y_scale + bundle.y_mean
    mean, std = predictor.predict_arrays(X)
    np.testing.assert_allclose(mean, bundle.neighbours.blend(Z, networks), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(predictor.predict_arrays(X, neighbours=False)[0], networks, rtol=1e-6, atol=1e-7)
    assert np.all(std > 0)


@pytest.mark.parametrize("label", list(GALLERY))
def test_gallery_spectra_are_edge_like(predictor, label):
    spectrum = predictor.predict(GALLERY[label]())
    assert np.all(np.isfinite(spectrum.mu)) and np.all(np.isfinite(spectrum.std))
    pre_edge = spectrum.mu[spectrum.energy < 7108].mean()
    post_edge = spectrum.mu[(spectrum.energy > 7125) & (spectrum.energy < 7150)].mean()
    assert post_edge > 3 * pre_edge  # an absorption edge, rising through ~7112 eV


def test_prediction_on_training_data_is_close(predictor, data_dir):
    from xanesviz.data import load_dataset
    from xanesviz.evaluation import delta_mu

    dataset = load_dataset(data_dir, limit=200)
    mean, _ = predictor.predict_arrays(predictor.descriptor.transform(dataset.structures))
    assert np.median(delta_mu(mean, dataset.spectra)) < 5.0


def test_every_shipped_card_records_xraydbs_core_hole_width():
    """The dashboard's broadening default comes from the card (no xraydb database read at start)."""
    import json

    from xanesviz.spectrum import core_hole_width

    cards = sorted(DEFAULT_BUNDLE.parent.glob("*/model_card.json"))
    assert len(cards) == 10
    for path in cards:
        edge = json.loads(path.read_text())["edge"]
        assert edge["core_hole_width_eV"] == pytest.approx(core_hole_width(edge["element"], edge["edge"])), path
        assert Predictor.load(path.parent).core_hole_width == edge["core_hole_width_eV"]
