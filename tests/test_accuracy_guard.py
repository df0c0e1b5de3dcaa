"""Guards that fail when the product gets worse.

- The shipped bundle's stored out-of-fold predictions, rescored with ``xanesviz.evaluation``, give
  the card's CV figures to the printed precision, on the split the splitter makes today, and those
  figures are no more than half a point worse than the ones accepted when the model shipped.
- A short training of the shipped recipe on one fold of a subset of the reference data still
  learns to a stated Δμ.
The machinery is also checked on synthetic predictions, where a half-point regression must show.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xanesviz import cv_record
from xanesviz.errors import ModelBundleError
from xanesviz.evaluation import delta_mu
from xanesviz.data import FE_K_GRID
from xanesviz.splits import fold_numbers, formula_groups

SHIPPED = Path(__file__).resolve().parents[1] / "pretrained" / "fe-k"
#: The shipped model's 5-fold CV figures when it was accepted (README, "The models"); a bundle whose
#: figures are worse by more than half a point fails. Plain and grouped (each chemical formula in
#: one fold) CV of the recipe xanesviz-fe-k-zeta32, both stored with the bundle on 2026-12-02
#: (`cv_accuracy.py --recipe xanesviz-fe-k-zeta32 --k 5 [--group formula] --update-card DIR`).
GROUPED_DELTA_MU, GROUPED_HIT_RATE, GROUPED_PEAK_SHIFT = 3.98, 87.4, 0.590
ACCEPTED = {"cv_metrics": {"delta_mu_median_pct": 3.94, "peak_hit_rate": 87.4, "mean_abs_peak_shift_eV": 0.581},
            "cv_grouped": {"delta_mu_median_pct": GROUPED_DELTA_MU, "peak_hit_rate": GROUPED_HIT_RATE,
                           "mean_abs_peak_shift_eV": GROUPED_PEAK_SHIFT}}
HALF_POINT = {"delta_mu_median_pct": 0.5, "peak_hit_rate": 0.5, "mean_abs_peak_shift_eV": 0.05}


def regressions(figures: dict, accepted: dict) -> list[str]:
    """The printed figures worse than ``accepted`` by more than half a point (|ΔE|: 0.05 eV)."""
    worse = []
    for key, value in accepted.items():
        drop = figures[key] - value if key != "peak_hit_rate" else value - figures[key]
        if drop > HALF_POINT[key] + 1e-9:
            worse.append(f"{key}: {figures[key]} against {value} accepted")
    return worse


def spectra_with_peaks(n, seed=0):
    """Edge steps with two or three Gaussian peaks at random energies, like Fe K-edge targets."""
    rng = np.random.default_rng(seed)
    e = FE_K_GRID[None, :]
    y = 0.5 / (1 + np.exp(-(e - 7112 - rng.normal(0, 1, (n, 1))) / 1.5)) + 0.3
    for _ in range(3):
        centre, width = rng.uniform(7115, 7165, (n, 1)), rng.uniform(1.5, 4, (n, 1))
        y += rng.uniform(0.1, 0.5, (n, 1)) * np.exp(-0.5 * ((e - centre) / width) ** 2)
    return y


@pytest.fixture
def synthetic_cv(tmp_path):
    """A bundle directory (its card) with stored out-of-fold predictions of 60 synthetic complexes."""
    recipe = {"name": "tiny-test", "epochs": 3}
    (tmp_path / cv_record.CARD).write_text(json.dumps({"name": "tiny", "recipe": recipe}))
    true = spectra_with_peaks(60)
    predicted = true * (1 + np.random.default_rng(1).normal(0, 0.04, true.shape)) + 0.01
    names = [f"R{i:02d}_C{i % 20 + 1}H4Fe" for i in range(60)]
    cv_record.store(tmp_path, predicted, names, true, FE_K_GRID, recipe, k=3, seed=2, group="formula",
                    command="test")
    return tmp_path, true, names


def test_stored_predictions_reproduce_the_card_and_a_half_point_regression_shows(synthetic_cv):
    bundle, true, names = synthetic_cv
    entry, stored = cv_record.load(bundle, "cv_grouped")
    assert stored["names"] == names and stored["oof"].dtype == np.float32
    assert cv_record.printed(cv_record.rescore(stored, true)) == cv_record.printed(entry)
    np.testing.assert_array_equal(stored["fold"], fold_numbers(3, 60, 2, formula_groups(names)))
    accepted = {"delta_mu_median_pct": round(entry["delta_mu_median_pct"], 2)}
    assert regressions(cv_record.printed(entry), accepted) == []
    # Errors a fifth larger (Δμ median up by ~0.7 points), as a worse model would store them: caught
    # by the card's figures and by the accepted ones.
    worse = dict(stored, oof=(true + 1.2 * (stored["oof"] - true)).astype(np.float32))
    assert np.median(delta_mu(worse["oof"], true)) > entry["delta_mu_median_pct"] + 0.5
    assert cv_record.printed(cv_record.rescore(worse, true)) != cv_record.printed(entry)
    assert regressions(cv_record.printed(cv_record.rescore(worse, true)), accepted)


def test_stored_predictions_of_another_recipe_are_refused(synthetic_cv, tmp_path):
    bundle, _, _ = synthetic_cv
    card = json.loads((bundle / cv_record.CARD).read_text())
    card["recipe"]["epochs"] = 4
    (bundle / cv_record.CARD).write_text(json.dumps(card))
    with pytest.raises(ModelBundleError, match="cv_predictions_grouped.npz: predictions of another recipe"):
        cv_record.load(bundle, "cv_grouped")
    with pytest.raises(ModelBundleError, match="no cv_metrics with stored out-of-fold predictions"):
        cv_record.load(bundle, "cv_metrics")


@pytest.mark.parametrize("key", ["cv_grouped", "cv_metrics"])
def test_the_shipped_bundle_reproduces_its_cross_validation(data_dir, key):
    """The stored out-of-fold predictions of the shipped recipe's 5-fold CV (grouped by formula,
    and plain), rescored against the reference spectra, give the card's figures; the split is
    today's; and the figures are within half a point of those accepted."""
    entry, stored = cv_record.load(SHIPPED, key)
    names = stored["names"]
    grouped = key == "cv_grouped"
    assert len(names) == 4079 and stored["group"] == ("formula" if grouped else "none") and stored["k"] == 5
    np.testing.assert_array_equal(stored["fold"], fold_numbers(stored["k"], len(names), stored["seed"],
                                                               formula_groups(names) if grouped else None))
    true = read_true_spectra(data_dir, names)
    assert cv_record.printed(cv_record.rescore(stored, true)) == cv_record.printed(entry)
    assert regressions(cv_record.printed(entry), ACCEPTED[key]) == []


def read_true_spectra(data_dir, names):
    from xanesviz.data import read_spectrum_file

    return np.array([read_spectrum_file(data_dir / "spectra" / f"{name}.txt", FE_K_GRID)[1] for name in names])


#: The short training below: measured 6.11 % (seeds 1 and 2 of the networks: 6.23 % and 6.21 %)
#: against 18.4 % for the training spectra's mean, on an AMD EPYC (2 cores, shared), 2026-12-01,
#: for the recipe xanesviz-fe-k; 6.17, 6.13 and 6.14 % (seeds 0, 1, 2) for xanesviz-fe-k-zeta32
#: (AMD EPYC with AVX512, 2026-12-02); the bound leaves half a point above the worst of those.
SHORT_TRAINING_DELTA_MU_MAX = 6.7


@pytest.mark.slow
def test_a_short_training_of_the_shipped_recipe_still_learns(data_dir):
    """One network of the shipped recipe, 60 epochs, on 4/5 of every fourth reference complex
    (grouped by formula), tested on the other fifth."""
    from xanesviz.data import list_stems
    from xanesviz.descriptor import WACSF
    from xanesviz.evaluation import summarise
    from xanesviz.model import Recipe, train
    from xanesviz.structure import read_structure

    card = json.loads((SHIPPED / cv_record.CARD).read_text())
    recipe = Recipe.from_dict(card["recipe"]).with_overrides(ensemble=1, epochs=60)
    stems = list_stems(data_dir)[::4]
    X = WACSF(element="Fe", **recipe.descriptor).transform([read_structure(data_dir / "xyz" / f"{s}.xyz") for s in stems])
    y = read_true_spectra(data_dir, stems)
    fold = fold_numbers(5, len(stems), 0, formula_groups(stems))
    train_rows, test_rows = fold != 0, fold == 0
    model = train(X[train_rows], y[train_rows], recipe, seed=0)
    figures = summarise(FE_K_GRID, model.predict_mean(X[test_rows]), y[test_rows])
    baseline = np.median(delta_mu(np.broadcast_to(y[train_rows].mean(axis=0), y[test_rows].shape), y[test_rows]))
    assert baseline > 15
    assert figures["delta_mu_median_pct"] <= SHORT_TRAINING_DELTA_MU_MAX, figures
