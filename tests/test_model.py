"""Network, training loop, bundles and the predictor, on a tiny model trained in the test."""

import json
import shutil

import numpy as np
import pytest
from ase import Atoms

from xanesviz import Predictor, WACSF
from xanesviz.bundle import load_bundle
from xanesviz.errors import ModelBundleError, RecipeError, StructureError, XanesvizError
from xanesviz.model import (RECIPES, FusedAdam, Recipe, VarianceFilter, build_mlp, cross_validate, get_recipe,
                            make_preprocessing, train)
from xanesviz.data import FE_K_GRID

from helpers import TINY, synthetic_data, tiny_bundle


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_data()


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    return tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny")


def test_published_recipe_is_available():
    recipe = get_recipe("xanesnet-2022")
    assert (recipe.hidden, recipe.dropout, recipe.learning_rate, recipe.batch_size, recipe.epochs) == \
        ((512, 512), 0.25, 1e-4, 32, 512)
    assert recipe.variance_drop == 0.25 and recipe.lr_schedule == "constant"


def test_variance_filter_drops_lowest_quarter():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 8)) * np.arange(1, 9)
    kept = VarianceFilter(0.25).fit(X).support_
    assert kept.sum() == 6 and not kept[0] and not kept[1]


def test_training_reduces_loss_and_is_reproducible(synthetic):
    _, X, y = synthetic
    a = train(X, y, TINY, seed=5, n_members=2)
    b = train(X, y, TINY, seed=5, n_members=2)
    assert a.history[-1] < a.history[0]
    np.testing.assert_allclose(a.predict_networks(X[:4]), b.predict_networks(X[:4]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_fused_adam_matches_keras_adam(schedule):
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 5)).astype(np.float32), rng.normal(size=(16, 3)).astype(np.float32)
    lr = keras.optimizers.schedules.CosineDecay(0.05, 6, alpha=0.01) if schedule == "cosine" else 0.05
    runs = []
    for fused in (False, True):
        net = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3)])
        net.set_weights([np.linspace(-0.5, 0.5, w.size, dtype=np.float32).reshape(w.shape) for w in net.get_weights()])
        variables = net.trainable_variables
        optimizer = FusedAdam(variables, lr) if fused else keras.optimizers.Adam(lr)
        for _ in range(6):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(net(x) - y))
            grads = tape.gradient(loss, variables)
            optimizer.apply(grads) if fused else optimizer.apply_gradients(zip(grads, variables))
        runs.append(net.get_weights())
    for keras_w, fused_w in zip(*runs):
        assert not np.allclose(keras_w, np.linspace(-0.5, 0.5, keras_w.size).reshape(keras_w.shape))
        np.testing.assert_allclose(fused_w, keras_w, atol=1e-5)  # float32 rounding; a step is 0.05


@pytest.mark.parametrize("n_steps", [4, 5])  # the loop takes two steps at a time: even and odd counts
def test_training_loop_equals_a_plain_step_by_step_loop(synthetic, n_steps):
    import keras
    import tensorflow as tf

    _, X, y = synthetic
    recipe = TINY.with_overrides(epochs=2, batch_size=8, kernel_weight=0.0)
    assert recipe.loss == "mse" and recipe.lr_schedule == "constant"
    X, y = X[: n_steps * 8 + 3], y[: n_steps * 8 + 3]  # 3 left over each epoch
    fast = train(X, y, recipe, seed=4)

    # The same training written plainly: eager, one step at a time, Keras calls throughout.
    keras.utils.set_random_seed(4)
    Z = make_preprocessing(recipe.variance_drop).fit(X).transform(X).astype(np.float32)
    Y = ((y - y.mean(axis=0)) / (y.std(axis=0) + 1e-8)).astype(np.float32)
    net = build_mlp(Z.shape[1], Y.shape[1], recipe, seed=4 * 1000, name="member_0")
    optimizer = FusedAdam(net.trainable_variables, recipe.learning_rate)
    rng = np.random.default_rng(4)
    for _ in range(recipe.epochs):
        order = rng.permutation(len(Z))
        for i in range(n_steps):
            batch = order[i * 8:(i + 1) * 8]
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(net(Z[batch], training=True) - Y[batch]))
            optimizer.apply(tape.gradient(loss, net.trainable_variables))
    # Graph and eager runs round differently in float32, and Adam divides each gradient by its
    # own RMS, so an element whose gradient is near zero can move by a visible fraction of a step
    # (2e-6 seen on one machine): kernels are held to 2 % of one step (lr = 1e-3), while a step
    # more or less moves them by about a whole one. The biases before batch norm get gradients of
    # rounding noise only (batch norm cancels them), so they are compared through the networks'
    # outputs, which that noise moves by up to 1e-4 in graph and eager runs alike.
    for plain, fast_layer in zip(net.layers, fast.keras_networks[0].layers):
        if isinstance(plain, keras.layers.Dense):
            np.testing.assert_allclose(fast_layer.kernel.numpy(), plain.kernel.numpy(), rtol=0, atol=2e-5)
    np.testing.assert_allclose(fast.keras_networks[0](Z, training=False), net(Z, training=False), atol=3e-4)


def test_bfloat16_training_runs_in_bfloat16_and_returns_float32_networks(synthetic):
    _, X, y = synthetic
    recipe = TINY.with_overrides(epochs=6, kernel_weight=0.0, neighbour_width=0.0)
    single = train(X, y, recipe, seed=3)
    half = train(X, y, recipe.with_overrides(training_precision="bfloat16"), seed=3)
    # The same training, rounded differently: the kernels part, the losses follow each other.
    single_kernel, half_kernel = (m.keras_networks[0].get_layer("dense_1").kernel.numpy() for m in (single, half))
    assert np.abs(single_kernel - half_kernel).max() > 1e-4
    np.testing.assert_allclose(half.history, single.history, rtol=0.1)
    assert half.history[-1] < half.history[0]
    # What comes back (and is saved and folded) is a float32 network with the trained weights.
    member = half.keras_networks[0]
    assert {layer.dtype_policy.name for layer in member.layers} == {"float32"}
    Z = half.standardise(X[:5]).astype(np.float32)
    np.testing.assert_allclose(half.network.forward(Z)[0], member(Z, training=False).numpy(), rtol=1e-4, atol=1e-5)


def test_unknown_training_precision_is_refused():
    with pytest.raises(RecipeError, match="unknown training_precision 'float16'"):
        TINY.with_overrides(training_precision="float16")


@pytest.mark.parametrize("change, problem", [
    ({"loss": "huber"}, "unknown loss 'huber'"),
    ({"lr_schedule": "step"}, "unknown lr_schedule 'step'"),
    ({"epochs": 0}, "epochs must be a whole number ≥ 1, not 0"),
    ({"ensemble": -2}, "ensemble must be a whole number ≥ 1, not -2"),
    ({"batch_size": 3.5}, "batch_size must be a whole number ≥ 1"),
    ({"hidden": [512, 0]}, "hidden must list layer widths ≥ 1"),
    ({"hidden": 512}, "hidden must list layer widths ≥ 1, not 512"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\), not 1.0"),
    ({"learning_rate": float("nan")}, "learning_rate must be > 0, not nan"),
    ({"kernel_weight": 1.5}, r"kernel_weight must be in \[0, 1\]"),
    ({"standardise_targets": "yes"}, "standardise_targets must be true or false"),
    ({"neighbour_mode": "nearest"}, r"unknown neighbour_mode 'nearest' \(known: spectra, residuals\)"),
    ({"colour": "red"}, "unknown setting"),
])
def test_bad_recipe_settings_are_named(change, problem):
    """A recipe read from a (hand-edited) model card is checked when it is made, not deep in training."""
    with pytest.raises(RecipeError, match=problem):
        Recipe.from_dict({**RECIPES["xanesviz-fe-k"].to_dict(), **change})


def test_recipes_round_trip_through_a_card():
    for recipe in RECIPES.values():
        assert Recipe.from_dict(recipe.to_dict()) == recipe
    with pytest.raises(RecipeError, match="unknown recipe 'nope'"):
        get_recipe("nope")


def test_members_differ(synthetic):
    _, X, y = synthetic
    pred = train(X, y, TINY, seed=0, n_members=2).predict_networks(X[:5])
    assert not np.allclose(pred[0], pred[1])


def test_fast_path_equals_keras(bundle_dir, synthetic):
    _, X, _ = synthetic
    fast = load_bundle(bundle_dir, backend="numpy")
    slow = load_bundle(bundle_dir, backend="keras")
    Z = fast.standardise(X[:10])
    import keras

    members = [keras.saving.load_model(p, safe_mode=True) for p in sorted(bundle_dir.glob("member_*.keras"))]
    reference = np.stack([m(Z, training=False).numpy() for m in members])
    np.testing.assert_allclose(fast.network.forward(Z), reference, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(slow.network.forward(Z), reference, rtol=1e-4, atol=1e-5)


def test_predict_single_and_batch(bundle_dir, synthetic):
    structures, X, _ = synthetic
    predictor = Predictor.load(bundle_dir)
    spectrum = predictor.predict(structures[0])
    assert spectrum.mu.shape == spectrum.std.shape == (226,)
    assert np.all(np.isfinite(spectrum.mu)) and np.all(spectrum.std >= 0)
    assert spectrum.energy[0] == pytest.approx(7097.0) and spectrum.energy[-1] == pytest.approx(7172.0)
    batch = predictor.predict(structures[:5])
    assert len(batch) == 5
    np.testing.assert_allclose(batch[0].mu, spectrum.mu, rtol=1e-5)
    bundle = predictor.bundle
    Z = bundle.standardise(X[:1])
    members = bundle.network.forward(Z) * bundle.y_scale + bundle.y_mean
    kernel = bundle.kernel.forward(Z) * bundle.y_scale + bundle.y_mean
    w = bundle.kernel_weight
    assert w == TINY.kernel_weight
    expected = bundle.neighbours.blend(Z, (1 - w) * members.mean(0) + w * kernel)[0]
    np.testing.assert_allclose(expected, spectrum.mu, rtol=1e-5)
    np.testing.assert_allclose(members.std(0)[0], spectrum.std, rtol=1e-4, atol=1e-7)


def test_batch_goes_on_after_bad_structure(bundle_dir, synthetic):
    structures, _, _ = synthetic
    bad = Atoms("O2", positions=[[0, 0, 0], [0, 0, 1.2]])
    out = Predictor.load(bundle_dir).predict([structures[0], bad, structures[1]], on_error="return")
    assert isinstance(out[1], StructureError) and str(out[1]) == "structure 1: no Fe atom to use as absorber"
    assert np.all(np.isfinite(out[0].mu)) and np.all(np.isfinite(out[2].mu))


def bismuth_octahedron() -> Atoms:
    """Six Bi at 2.6 Å around Fe: no overlaps, but Z-weighted features far beyond any training complex."""
    axes = np.vstack([np.eye(3), -np.eye(3)])
    return Atoms(numbers=[26] + [83] * 6, positions=np.vstack([[0, 0, 0], 2.6 * axes]))


def test_far_out_structure_is_predicted_finite_and_flagged(bundle_dir):
    predictor = Predictor.load(bundle_dir)
    spectrum = predictor.predict(bismuth_octahedron())
    assert np.all(np.isfinite(spectrum.mu)) and np.all(np.isfinite(spectrum.std))
    assert predictor.domain_score(bismuth_octahedron())["label"] == "far outside"


@pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")  # on purpose here
@pytest.mark.parametrize("damage", ["overflow", "nan"])
def test_non_finite_prediction_is_refused_with_its_own_message(bundle_dir, damage):
    """Features that make the networks overflow (x 1e38 in float32) or are NaN give no spectrum."""
    predictor = Predictor.load(bundle_dir)
    X = np.array(predictor.features(bismuth_octahedron())).reshape(1, -1)
    if damage == "overflow":
        X *= 1e38
    else:
        X[0, :] = np.nan  # every feature: one the variance filter drops would not reach the networks
    with pytest.raises(XanesvizError, match=r"^prediction is not finite \(descriptor far outside the model's range\)$"):
        predictor.predict_arrays(X)


def test_bundle_records_card(bundle_dir):
    card = json.loads((bundle_dir / "model_card.json").read_text())
    assert card["descriptor"]["n_features"] == 97
    assert card["energy_grid"] == {"start_eV": 7097.0, "stop_eV": 7172.0, "n_points": 226, "units": "eV (absolute)"}
    assert card["recipe"]["name"] == "tiny-test" and card["ensemble_members"] == 3
    assert "package_version" in card and card["edge"] == {"element": "Fe", "edge": "K", "edge_energy_eV": 7112.0,
                                                          "fermi_level_eV": 7110.9, "core_hole_width_eV": 1.25}
    assert card["target_lorentzian_fwhm_eV"] == 1.275


DELETED = {"delete_card": "model_card.json", "delete_preprocessing": "preprocessing.npz",
           "delete_kernel": "kernel.npz", "delete_neighbours": "neighbours.npz"}
NAN_IN = {"nan_kernel_inputs": ("kernel.npz", "kernel_train_inputs"),
          "nan_neighbour_spectra": ("neighbours.npz", "neighbour_spectra")}


@pytest.mark.parametrize("damage, message", [
    ("delete_card", "model_card.json: missing"),
    ("bad_json", "not valid JSON"),
    ("truncate_weights", "fast_weights.npz"),
    ("delete_preprocessing", "preprocessing.npz: missing"),
    ("delete_kernel", "kernel.npz: missing"),
    ("nan_kernel_inputs", "non-finite kernel"),
    ("delete_neighbours", "neighbours.npz: missing"),
    ("nan_neighbour_spectra", "non-finite neighbours"),
    ("other_descriptor", "different descriptor"),
    ("unknown_neighbour_mode", "unknown neighbour_mode 'nearest'"),
    ("residual_mode_without_residuals", "neighbours.npz: lacks neighbour_residuals"),
])
def test_damaged_bundle_gives_one_line_error(bundle_dir, tmp_path, damage, message):
    copy = tmp_path / "copy"
    shutil.copytree(bundle_dir, copy)
    if damage in DELETED:
        (copy / DELETED[damage]).unlink()
    elif damage in NAN_IN:
        name, key = NAN_IN[damage]
        arrays = dict(np.load(copy / name))
        arrays[key].flat[7] = np.nan
        np.savez(copy / name, **arrays)
    elif damage == "bad_json":
        (copy / "model_card.json").write_text("{not json")
    elif damage == "truncate_weights":
        data = (copy / "fast_weights.npz").read_bytes()
        (copy / "fast_weights.npz").write_bytes(data[: len(data) // 3])
    elif damage == "other_descriptor":
        card = json.loads((copy / "model_card.json").read_text())
        card["descriptor"]["fingerprint"][0] *= 1.5
        (copy / "model_card.json").write_text(json.dumps(card))
    elif damage in ("unknown_neighbour_mode", "residual_mode_without_residuals"):
        card = json.loads((copy / "model_card.json").read_text())
        card["recipe"]["neighbour_mode"] = "nearest" if damage == "unknown_neighbour_mode" else "residuals"
        (copy / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelBundleError) as info:
        Predictor.load(copy)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_missing_bundle_and_corrupt_keras_file(bundle_dir, tmp_path):
    with pytest.raises(ModelBundleError, match="no such model bundle"):
        Predictor.load(tmp_path / "nowhere")
    copy = tmp_path / "copy"
    shutil.copytree(bundle_dir, copy)
    (copy / "member_0.keras").write_bytes(b"not a zip file")
    with pytest.raises(ModelBundleError, match="member_0.keras"):
        Predictor.load(copy, backend="keras")


def test_cross_validation_pools_out_of_fold_predictions(synthetic):
    _, X, y = synthetic
    result = cross_validate(X, y, FE_K_GRID, TINY, k=3, seed=0, n_members=1)
    assert len(result["folds"]) == 3
    assert result["oof_predictions"].shape == (1,) + y.shape
    assert np.all(result["oof_predictions"] != 0)
    assert 0 < result["summary"]["delta_mu_median_pct"] < 100


def test_cross_validation_with_groups_trains_on_folds_of_whole_groups(synthetic, monkeypatch):
    """``groups=`` reaches the splitter: no fold trains on a group it tests (training stubbed out)."""
    import xanesviz.model as model_module

    _, X, y = synthetic
    groups = np.repeat(np.arange(len(X) // 4), 4)[:len(X)]  # 24 groups of 4 samples
    trained_on = []

    class Remembered:
        train_seconds = 0.0

        def __init__(self, rows):
            self.mean = y[rows].mean(axis=0)

        def predict_mean(self, Xt):
            return np.tile(self.mean, (len(Xt), 1))

    def fake_train(Xt, yt, recipe, seed=0, progress=False, n_members=None):
        rows = [int(np.flatnonzero((X == row).all(axis=1))[0]) for row in Xt]
        trained_on.append(rows)
        return Remembered(rows)

    monkeypatch.setattr(model_module, "train", fake_train)
    result = cross_validate(X, y, FE_K_GRID, TINY, k=4, seed=0, groups=groups)
    assert result["grouped"] and len(trained_on) == 4 and result["oof_predicted"].all()
    for rows in trained_on:
        tested = np.setdiff1d(np.arange(len(X)), rows)
        assert not set(groups[rows]) & set(groups[tested])
    plain = cross_validate(X, y, FE_K_GRID, TINY, k=4, seed=0)
    assert not plain["grouped"]
    assert any(set(groups[rows]) & set(groups[np.setdiff1d(np.arange(len(X)), rows)]) for rows in trained_on[4:])


def test_cross_validation_can_stop_after_the_first_fold(synthetic):
    _, X, y = synthetic
    full = cross_validate(X, y, FE_K_GRID, TINY, k=3, seed=0, n_members=1)
    first = cross_validate(X, y, FE_K_GRID, TINY, k=3, seed=0, n_members=1, max_folds=1)
    assert len(first["folds"]) == 1
    assert first["summary"]["n_spectra"] == first["folds"][0]["n_spectra"] == full["folds"][0]["n_spectra"]
    assert first["summary"]["delta_mu_median_pct"] == pytest.approx(full["folds"][0]["delta_mu_median_pct"], rel=1e-4)
    with pytest.raises(XanesvizError, match="max_folds"):
        cross_validate(X, y, FE_K_GRID, TINY, k=3, max_folds=0)
