"""Explanations: exact sensitivities, physically sensible importance, a trust signal that reacts."""

import numpy as np
import pytest

from xanesviz import Predictor
from xanesviz.bundle import load_importance
from xanesviz.examples import FE_EXAMPLES as GALLERY, example
from xanesviz.explain import DomainModel, window_importance


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load()


def finite_difference_sensitivity(predictor, atoms, window=None, h=1e-3):
    mask = np.ones(len(predictor.energy), bool) if window is None else \
        (predictor.energy >= window[0]) & (predictor.energy <= window[1])
    out = np.zeros(len(atoms))
    for i in range(len(atoms)):
        grad = np.zeros((mask.sum(), 3))
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, c] += h
            minus.positions[i, c] -= h
            grad[:, c] = (predictor.predict(plus).mu - predictor.predict(minus).mu)[mask] / (2 * h)
        out[i] = np.sqrt((grad**2).sum(axis=1).mean())
    return out


@pytest.mark.parametrize("label", ["[Fe(H2O)6]2+ (octahedral)", "Ferrocene", "Fe(CO)5 (trigonal bipyramidal)"])
@pytest.mark.parametrize("window", [None, (7110.0, 7125.0)])
def test_sensitivity_matches_finite_differences(predictor, label, window):
    atoms = GALLERY[label]()
    atoms.rattle(0.02, seed=1)  # break symmetry
    exact = predictor.sensitivity(atoms, window=window)
    numeric = finite_difference_sensitivity(predictor, atoms, window)
    np.testing.assert_allclose(exact, numeric, rtol=2e-2, atol=2e-3 * numeric.max())


def test_sensitivity_matches_finite_differences_near_a_training_complex(predictor, data_dir):
    """Where the nearest-neighbour member's correction is large and changes with the geometry."""
    from xanesviz.data import load_dataset

    atoms = load_dataset(data_dir, limit=3).structures[2]
    atoms.rattle(0.01, seed=2)
    z = predictor.bundle.standardise(predictor.features(atoms)[None])
    d2 = ((predictor.bundle.neighbours.train_inputs - z) ** 2).sum(axis=1)
    assert 0.05 < d2.min() < 1.0  # near its own training complex, not on it: the correction's slope counts
    exact = predictor.sensitivity(atoms)
    numeric = finite_difference_sensitivity(predictor, atoms)
    np.testing.assert_allclose(exact, numeric, rtol=2e-2, atol=2e-3 * numeric.max())


def test_atoms_beyond_cutoff_have_zero_sensitivity(predictor):
    atoms = example()
    atoms += atoms[:1].__class__("Cl", positions=[[0, 0, 7.5]])
    assert predictor.sensitivity(atoms)[-1] == 0.0


def test_first_shell_carries_largest_share(predictor, data_dir):
    from xanesviz.data import load_dataset

    dataset = load_dataset(data_dir, limit=40)
    wins = 0
    for atoms in dataset.structures:
        s = predictor.sensitivity(atoms)
        r = atoms.get_distances(0, range(len(atoms)))
        shells = [s[(r > 0) & (r < 2.6)].sum(), s[(r >= 2.6) & (r < 4.0)].sum(), s[r >= 4.0].sum(), s[0]]
        wins += shells[0] == max(shells)
    assert wins >= 0.8 * len(dataset.structures)


def test_g2_importance_peaks_in_first_shell_range(predictor):
    importance = load_importance(predictor.bundle)
    values = window_importance(importance["per_energy"], importance["baseline_mse"], importance["energy"], None)
    d = predictor.descriptor
    blocks = values[1:1 + d.n_g2 * len(d.g2_weightings)].reshape(len(d.g2_weightings), d.n_g2)
    z_weighted = blocks[list(d.g2_weightings).index("Z")]
    # The nearest neighbour of Fe lies 1.4-2.5 Å away in the data (median 1.78 Å), and the
    # Gaussians are 0.16 Å wide (one grid step). With the element channels, permutation
    # importance is shared among correlated columns, so the published Z-weighted block alone
    # may peak anywhere in that first-shell range.
    assert 1.4 <= d.g2_centres[np.argmax(z_weighted)] <= 2.3
    assert 1.55 <= d.g2_centres[np.argmax(blocks.sum(axis=0))] <= 2.35  # all blocks (neighbouring Gaussians share)
    # Shells beyond 4.5 Å (a fifth of the G2 centres) carry under a tenth of it: 6.6 % for the
    # recipe xanesviz-fe-k, 7.2 % for xanesviz-fe-k-zeta32 (shipped since 2026-12-02, late).
    radial = blocks.sum(axis=0)
    assert radial[d.g2_centres > 4.5].sum() < 0.10 * radial.sum()


def breathe(atoms, distance, ligand_size=3):
    """Move each (ligand atom + its two H) rigidly so the Fe-ligand bond becomes ``distance``."""
    out = atoms.copy()
    for i in range(1, len(out), ligand_size):
        u = out.positions[i] / np.linalg.norm(out.positions[i])
        out.positions[i:i + ligand_size] += u * (distance - np.linalg.norm(out.positions[i]))
    return out


def test_trust_signal(predictor):
    assert predictor.domain_score(example())["label"] != "far outside"
    far = predictor.domain_score(breathe(example(), 4.0))
    assert far["label"] == "far outside" and far["distance"] > far["p99"]
    squeezed = predictor.domain_score(breathe(example(), 1.6))
    assert squeezed["label"] == "far outside"
    assert np.isfinite(predictor.predict(breathe(example(), 4.0)).mu).all()  # still predicted


def test_a_clusters_features_are_computed_once_and_again_after_an_edit(predictor, monkeypatch):
    """The drag loop asks for one cluster's features for the prediction and the trust signal."""
    cluster = predictor.cluster(example())
    calls = []
    featurise = predictor.descriptor.create
    monkeypatch.setattr(predictor.descriptor, "create", lambda c, *a: calls.append(1) or featurise(c, *a))
    spectrum = predictor.predict(cluster)
    score = predictor.domain_score(cluster, prediction=spectrum)
    assert len(calls) == 1 and score["label"] == "within training data"
    first = predictor.features(cluster)
    assert not first.flags.writeable  # the kept row cannot be changed by a caller
    cluster.vectors[0] *= 1.05  # edited in place: featurised afresh
    moved = predictor.features(cluster)
    assert len(calls) == 2 and not np.array_equal(moved, first)
    np.testing.assert_array_equal(moved, featurise(cluster))
    predictor.features(predictor.cluster(example()))  # another cluster object: featurised too
    assert len(calls) == 3


def test_domain_model_calibration():
    """The scale is the training set's leave-one-out nearest distances (a training point's distance
    to itself, 0, must not count), so fresh points from the same distribution are mostly within."""
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(0)
    train = rng.normal(size=(500, 5)).astype(np.float32)
    model = DomainModel(train)
    own = cdist(train, train)
    np.fill_diagonal(own, np.inf)
    assert model.p99 == pytest.approx(np.percentile(own.min(axis=1), 99), rel=1e-4)
    fresh = rng.normal(size=(400, 5)).astype(np.float32)
    scores = [model.score(z) for z in fresh]
    np.testing.assert_allclose([s["distance"] for s in scores], cdist(fresh, train).min(axis=1), rtol=1e-4)
    within = np.mean([s["label"] == "within training data" for s in scores])
    assert 0.95 <= within < 1.0  # about 99 % by construction; 400 draws: 0.95 is 4 standard errors below
    assert model.score(np.full(5, 30.0))["label"] == "far outside"


def test_trust_distance_of_near_duplicates_is_exact():
    """Nearest distances are exact where the float32 matrix product is not: a duplicate of a
    training input is at 0, a near-duplicate at its true distance, whatever the BLAS rounding,
    and a training set's own duplicates count as each other's neighbours (not as themselves)."""
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(1)
    train = (rng.normal(size=(300, 120)) * 8 + 40).astype(np.float32)  # large norms: product's error ~1e-2
    train[7] = train[3]  # a duplicate pair
    model = DomainModel(train)
    probes = np.concatenate([train[:20], train[:20] + np.float32(1e-3)])
    got = [model.score(z)["distance"] for z in probes]
    expected = cdist(probes.astype(np.float64), train.astype(np.float64)).min(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    assert got[:20] == [0.0] * 20
    own = model.inputs.nearest(model.inputs.array, exclude_self=True)
    assert own[3] == 0.0 and own[7] == 0.0 and own[4] > 1.0
