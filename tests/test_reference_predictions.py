"""The shipped bundle reproduces its stored outputs (tests/make_reference_predictions.py) to float tolerance.

Guards refactors of the model, the descriptor and the explanations: predictions (mean and
spread), atom sensitivities and the trust signal must not change.
"""

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from xanesviz import Predictor

REFERENCE = Path(__file__).resolve().parent / "data" / "reference_predictions.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as data:
        ref = {key: data[key] for key in data.files}
    bounds = np.concatenate([[0], np.cumsum(ref["n_atoms"])])
    ref["structures"] = [Atoms(numbers=ref["numbers"][a:b], positions=ref["positions"][a:b])
                         for a, b in zip(bounds[:-1], bounds[1:])]
    ref["atom_slices"] = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    return ref


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load(Path(__file__).resolve().parents[1] / "pretrained" / "fe-k")


def test_reference_set_covers_the_neighbour_member(predictor, reference):
    """The stored set holds structures where the nearest-neighbour member acts (training complexes)."""
    assert len(reference["structures"]) >= 27
    X = np.stack([predictor.features(atoms) for atoms in reference["structures"]])
    without, _ = predictor.predict_arrays(X, neighbours=False)
    assert (np.abs(reference["mean"] - without).max(axis=1) > 1e-2).sum() >= 6


def test_predictions_are_unchanged(predictor, reference):
    np.testing.assert_array_equal(predictor.energy, reference["energy"])
    spectra = predictor.predict(reference["structures"])
    np.testing.assert_allclose(np.array([s.mu for s in spectra]), reference["mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.array([s.std for s in spectra]), reference["std"], rtol=1e-4, atol=1e-6)
    for atoms, mean in zip(reference["structures"], reference["mean"]):  # one at a time, as the dashboard asks
        np.testing.assert_allclose(predictor.predict(atoms).mu, mean, rtol=1e-5, atol=1e-6)


def test_sensitivities_are_unchanged(predictor, reference):
    window = tuple(reference["window"])
    for k, (atoms, atoms_slice) in enumerate(zip(reference["structures"], reference["atom_slices"])):
        # all energies for even structures, the window for odd ones (both for each complex: it has two copies)
        values, kwargs = (reference["sensitivity"], {}) if k % 2 == 0 else \
            (reference["window_sensitivity"], {"window": window})
        expected = values[atoms_slice]
        np.testing.assert_allclose(predictor.sensitivity(atoms, **kwargs), expected,
                                   rtol=1e-4, atol=1e-5 * expected.max())


def test_trust_signal_is_unchanged(predictor, reference):
    keys = [str(k) for k in reference["score_keys"]]
    for atoms, expected in zip(reference["structures"], reference["scores"]):
        score = predictor.domain_score(atoms)
        got = np.array([float(score[key]) for key in keys])
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6, err_msg=str(dict(zip(keys, expected))))
