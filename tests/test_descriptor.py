"""wACSF descriptor: size, invariances, an independent loop oracle, cutoff behaviour, batching,
the scikit-learn protocol, and exact derivatives; on the published and the shipped settings."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from scipy.spatial.transform import Rotation

from xanesviz import WACSF, read_structure
from xanesviz.descriptor import cosine_cutoff
from xanesviz.structure import Cluster

from conftest import make_octahedron, make_random_cluster

RTOL, ATOL = 1e-9, 1e-10
SHIPPED_CARD = Path(__file__).resolve().parents[1] / "pretrained" / "fe-k" / "model_card.json"


def shipped_wacsf() -> WACSF:
    """The descriptor of the shipped model, from its card."""
    return WACSF.from_params(json.loads(SHIPPED_CARD.read_text())["descriptor"]["params"])


@pytest.fixture(scope="module")
def wacsf():
    """The published settings (97 values), absorber Fe."""
    return WACSF(element="Fe")


@pytest.fixture(scope="module", params=["published", "shipped"])
def any_wacsf(request):
    """The published settings and the shipped model's (545 values: element channels, ζ up to 32, 5.5 Å)."""
    return WACSF(element="Fe") if request.param == "published" else shipped_wacsf()


@pytest.fixture(params=["octahedron", "random20", "data-file"])
def system(request):
    """An Fe structure with the absorber as atom 0 and no other Fe atom."""
    if request.param == "octahedron":
        return make_octahedron()
    if request.param == "random20":
        return make_random_cluster(seed=1)
    data_dir = request.getfixturevalue("data_dir")
    path = sorted((data_dir / "xyz").glob("*.xyz"))[7]
    return read_structure(path)


def test_default_size(wacsf):
    assert wacsf.n_features == 97
    assert len(wacsf.feature_names()) == 97
    assert len(set(wacsf.feature_names())) == 97
    assert wacsf.feature_names()[0] == "G1"
    assert wacsf.create(make_octahedron()).shape == (97,)


def test_parameter_grids(wacsf):
    mu = wacsf.g2_centres
    assert len(mu) == 32
    np.testing.assert_allclose([mu[0], mu[-1]], [0.5, 5.5])
    eta, lam, zeta = wacsf.g4_parameters
    assert len(eta) == len(lam) == len(zeta) == 64
    assert len(np.unique(eta)) == 8
    assert set(lam) == {1.0, -1.0} and set(zeta) == {1.0, 2.0, 4.0, 8.0}


def test_bad_g4_count():
    with pytest.raises(ValueError):
        WACSF(n_g4=60).fit()  # checked when used (scikit-learn: __init__ only stores)
    with pytest.raises(ValueError):
        WACSF.from_params({"n_g4": 60})


def test_extra_g2_weightings_change_size():
    d = WACSF(g2_weightings=("Z", "unit"))
    assert d.n_features == 1 + 64 + 64 == len(d.feature_names())
    assert d.create(make_octahedron(), absorber="Fe").shape == (d.n_features,)


def test_g4_weightings_add_blocks_computed_with_those_weights():
    d = WACSF(g4_weightings=("Z", "unit"))
    assert d.n_features == 1 + 32 + 2 * 64 == len(d.feature_names())
    assert d.to_params()["g4_weightings"] == ["Z", "unit"] and WACSF().get_params()["g4_weightings"] == ("Z",)
    rng = np.random.default_rng(4)
    vectors, numbers = rng.uniform(-3, 3, (12, 3)), rng.choice([1, 7, 8, 17], 12)
    features = d.create(Cluster(26, numbers, vectors))
    published = WACSF()
    np.testing.assert_array_equal(features[:1 + 32 + 64], published.create(Cluster(26, numbers, vectors)))
    # the unit block is the published G4 of the same geometry with every neighbour weighted 1
    np.testing.assert_allclose(features[1 + 32 + 64:], published.create(Cluster(26, np.ones(12), vectors))[1 + 32:],
                               rtol=1e-12)
    assert not np.allclose(features[1 + 32 + 64:], features[1 + 32:1 + 32 + 64])
    with pytest.raises(ValueError, match="g4_weightings"):
        WACSF(g4_weightings=("bogus",)).fit()


def test_element_channels_count_only_their_elements():
    rng = np.random.default_rng(5)
    vectors, numbers = rng.uniform(-3, 3, (14, 3)), rng.choice([1, 5, 6, 7, 8, 9, 15, 16, 17, 35], 14)
    numbers[:4] = [1, 6, 7, 8]
    d = WACSF(g2_weightings=("unit", "H", "C", "N", "O", "row2", "beyond_row2"), g4_weightings=("unit", "N"))
    features = d.create(Cluster(26, numbers, vectors))
    g2 = features[1:1 + 7 * 32].reshape(7, 32)
    unit, h, c, n, o, row2, beyond = g2
    # every neighbour here is H, in the second row or beyond it: the channels add up to the count
    np.testing.assert_allclose(h + row2 + beyond, unit, rtol=1e-12)
    assert np.all(row2 >= c + n + o - 1e-12) and not np.allclose(c, n)
    # a channel is the unit-weighted G2 of its element's atoms alone
    only_n = numbers == 7
    np.testing.assert_allclose(n, WACSF(g2_weightings=("unit",)).create(Cluster(26, numbers[only_n], vectors[only_n]))[1:33],
                               rtol=1e-12)
    # the G4 channel keeps the pairs of two N atoms only
    np.testing.assert_allclose(features[1 + 7 * 32 + 64:],
                               WACSF(g4_weightings=("unit",)).create(Cluster(26, numbers[only_n], vectors[only_n]))[33:],
                               rtol=1e-12)


def test_params_round_trip(wacsf):
    again = WACSF.from_params(wacsf.get_params())
    np.testing.assert_array_equal(again.create(make_octahedron()), wacsf.create(make_octahedron()))


# -- invariances -------------------------------------------------------------------------------


def test_translation_invariance(any_wacsf, system):
    moved = system.copy()
    moved.positions += [3.7, -12.1, 0.45]
    np.testing.assert_allclose(any_wacsf.create(moved), any_wacsf.create(system), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rotation_invariance(any_wacsf, system, seed):
    rotation = Rotation.random(random_state=seed).as_matrix()
    assert np.allclose(rotation @ rotation.T, np.eye(3))
    turned = system.copy()
    turned.positions = system.positions @ rotation.T
    reference = any_wacsf.create(system)
    assert not np.allclose(turned.positions, system.positions)
    np.testing.assert_allclose(any_wacsf.create(turned), reference, rtol=RTOL, atol=ATOL)


def test_improper_rotation_invariance(any_wacsf, system):
    """A reflection (det = -1) keeps every distance and angle too."""
    mirrored = system.copy()
    mirrored.positions = system.positions * [1.0, -1.0, 1.0]
    np.testing.assert_allclose(any_wacsf.create(mirrored), any_wacsf.create(system), rtol=RTOL, atol=ATOL)


def test_neighbour_permutation_invariance(any_wacsf, system):
    rng = np.random.default_rng(5)
    order = np.concatenate([[0], 1 + rng.permutation(len(system) - 1)])
    shuffled = system[order]
    assert shuffled.get_chemical_symbols()[0] == "Fe"
    np.testing.assert_allclose(any_wacsf.create(shuffled), any_wacsf.create(system), rtol=RTOL, atol=ATOL)


def test_cluster_permutation_invariance(any_wacsf, system):
    cluster = any_wacsf.cluster(system)
    perm = np.random.default_rng(2).permutation(len(cluster.numbers))
    shuffled = Cluster(cluster.absorber_number, cluster.numbers[perm], cluster.vectors[perm])
    np.testing.assert_allclose(any_wacsf.create(shuffled), any_wacsf.create(cluster),
                               rtol=RTOL, atol=ATOL)


def test_features_respond_to_geometry(wacsf):
    """Guard against trivially constant features: stretching the bonds changes G1, G2 and G4."""
    a, b = wacsf.create(make_octahedron(2.0)), wacsf.create(make_octahedron(2.1))
    assert not np.isclose(a[0], b[0])
    assert not np.allclose(a[1:33], b[1:33])
    assert not np.allclose(a[33:], b[33:])


# -- independent oracle ------------------------------------------------------------------------


def oracle(descriptor: WACSF, numbers, vectors):
    """G1, shifted G2 and centred G4 written out from the docstring formulas with plain loops."""
    rc = descriptor.r_max

    def fc(r):
        return 0.5 * (math.cos(math.pi * r / rc) + 1.0) if r <= rc else 0.0

    mus = descriptor.g2_centres
    spacing = mus[1] - mus[0]
    eta2 = 1.0 / (2.0 * spacing**2)
    etas4, lambdas, zetas = descriptor.g4_parameters
    atoms = [(float(z), [float(c) for c in v]) for z, v in zip(numbers, vectors)]
    dist = [math.sqrt(sum(c * c for c in v)) for _, v in atoms]

    g1 = sum(z * fc(r) for (z, _), r in zip(atoms, dist) if r <= rc)
    g2 = []
    for mu in mus:
        g2.append(sum(z * math.exp(-eta2 * (r - mu) ** 2) * fc(r) for (z, _), r in zip(atoms, dist) if r <= rc))
    g4 = []
    for eta, lam, zeta in zip(etas4, lambdas, zetas):
        total = 0.0
        for j in range(len(atoms)):
            for k in range(j + 1, len(atoms)):
                rj, rk = dist[j], dist[k]
                if rj > rc or rk > rc:
                    continue
                vj, vk = atoms[j][1], atoms[k][1]
                rjk = math.sqrt(sum((a - b) ** 2 for a, b in zip(vj, vk)))
                cos = sum(a * b for a, b in zip(vj, vk)) / (rj * rk)
                total += (atoms[j][0] * atoms[k][0] * (1.0 + lam * cos) ** zeta
                          * math.exp(-eta * (rj**2 + rk**2 + rjk**2)) * fc(rj) * fc(rk) * fc(rjk))
        g4.append(2.0 ** (1.0 - zeta) * total)
    return np.array([g1] + g2 + g4)


def test_oracle_g2_eta_matches_package(wacsf):
    """The oracle's G2 width is the one the package uses (1 / (2 spacing^2))."""
    single = Cluster(26, np.array([8]), np.array([[0.0, 0.0, 2.0]]))
    got = wacsf.create(single)
    expected = oracle(wacsf, single.numbers, single.vectors)
    np.testing.assert_allclose(got[1:33], expected[1:33], rtol=1e-10)


def test_oracle_agrees(wacsf, system):
    cluster = wacsf.cluster(system)
    expected = oracle(wacsf, cluster.numbers, cluster.vectors)
    got = wacsf.create(cluster)
    assert expected[0] > 0 and np.count_nonzero(expected[33:]) > 0
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-300)


def test_oracle_agrees_non_default_settings():
    descriptor = WACSF(r_max=5.0, n_g2=10, n_g4=16, lambdas=(1.0, -1.0), zetas=(1.0, 4.0), element="Fe")
    cluster = descriptor.cluster(make_random_cluster(seed=3))
    np.testing.assert_allclose(descriptor.create(cluster),
                               oracle(descriptor, cluster.numbers, cluster.vectors), rtol=1e-10, atol=1e-300)


def test_g1_of_octahedron_by_hand(wacsf):
    """6 O at 2.0 Å and 6 H at 2.96 Å: G1 = 6*8*fc(2.0) + 6*1*fc(2.96)."""
    expected = 48 * 0.5 * (math.cos(math.pi * 2.0 / 6.0) + 1) + 6 * 0.5 * (math.cos(math.pi * 2.96 / 6.0) + 1)
    assert math.isclose(wacsf.create(make_octahedron())[0], expected, rel_tol=1e-12)


# -- cutoff ------------------------------------------------------------------------------------


def test_cosine_cutoff_values():
    r = np.array([0.0, 3.0, 6.0, 6.0001, 10.0])
    np.testing.assert_allclose(cosine_cutoff(r, 6.0), [1.0, 0.5, 0.0, 0.0, 0.0], atol=1e-15)


def test_atom_beyond_cutoff_changes_nothing(wacsf, octahedron):
    far = octahedron + Atoms("Cl", positions=[[0.0, 6.5, 0.0]])
    assert len(wacsf.cluster(far).numbers) == len(wacsf.cluster(octahedron).numbers)
    np.testing.assert_array_equal(wacsf.create(far), wacsf.create(octahedron))
    # also when handed a cluster that holds it
    c = wacsf.cluster(octahedron)
    direct = wacsf.create(Cluster(26, np.append(c.numbers, 17), np.vstack([c.vectors, [[0.0, 6.5, 0.0]]])))
    np.testing.assert_array_equal(direct, wacsf.create(c))


def test_atom_exactly_at_cutoff_contributes_zero(wacsf, octahedron):
    at_cutoff = octahedron + Atoms("Br", positions=[[0.0, 0.0, 6.0]])
    assert len(wacsf.cluster(at_cutoff).numbers) == len(octahedron)  # it is in the cluster...
    np.testing.assert_allclose(wacsf.create(at_cutoff), wacsf.create(octahedron), rtol=1e-13, atol=1e-300)  # ...but weighs 0


def test_features_continuous_at_cutoff(wacsf, octahedron):
    """An atom just inside the cutoff contributes almost nothing (smooth cutoff)."""
    near = octahedron + Atoms("Br", positions=[[0.0, 0.0, 5.999]])
    a, b = wacsf.create(near), wacsf.create(octahedron)
    assert 0 < np.max(np.abs(a - b)) < 1e-5  # fc(5.999 Å) is about 7e-8
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_isolated_absorber_is_all_zero(wacsf):
    assert not np.any(wacsf.create(Atoms("Fe", positions=[[0, 0, 0]])))


# -- batching ----------------------------------------------------------------------------------


def test_transform_equals_stacked_calls(wacsf):
    structures = [make_octahedron(d) for d in (1.9, 2.0, 2.1)] + [make_random_cluster(seed=s) for s in range(3)]
    matrix = wacsf.transform(structures)
    assert matrix.shape == (6, 97)
    np.testing.assert_array_equal(matrix, np.stack([wacsf.create(s) for s in structures]))
    clusters = [wacsf.cluster(s) for s in structures]
    np.testing.assert_array_equal(wacsf.transform(clusters), matrix)
    np.testing.assert_array_equal(wacsf.fit(structures).fit_transform(structures), matrix)


def test_transform_with_absorber_argument(wacsf):
    structure = make_octahedron()
    np.testing.assert_array_equal(wacsf.transform([structure], absorber=1)[0], wacsf.create(structure, absorber=1))
    assert not np.allclose(wacsf.create(structure, absorber=1), wacsf.create(structure))


def test_transform_empty_list(wacsf):
    assert wacsf.transform([]).shape == (0, 97)


def test_transform_many_structures(wacsf):
    structures = [make_random_cluster(seed=s, n_atoms=12) for s in range(50)]
    matrix = wacsf.transform(structures)
    assert matrix.shape == (50, 97)
    assert np.all(np.isfinite(matrix))
    assert len(np.unique(matrix[:, 0])) == 50  # different structures, different rows


def test_transform_real_data(wacsf, data_dir):
    paths = sorted((data_dir / "xyz").glob("*.xyz"))[:10]
    matrix = wacsf.transform([read_structure(p) for p in paths])
    assert matrix.shape == (10, 97)
    assert np.all(np.isfinite(matrix)) and np.all(matrix[:, 0] > 0)


# -- scikit-learn protocol -----------------------------------------------------------------------


def test_scikit_learn_clone_and_params():
    from sklearn.base import clone

    d = shipped_wacsf()
    params = d.get_params()
    import inspect
    assert set(params) == set(inspect.signature(WACSF.__init__).parameters) - {"self"}  # every argument
    copy = clone(d)
    assert copy is not d and copy.get_params() == params
    np.testing.assert_array_equal(copy.create(make_octahedron()), d.create(make_octahedron()))
    assert clone(WACSF()).get_params() == WACSF().get_params()
    narrower = clone(d).set_params(r_max=4.0)
    assert narrower.r_max == 4.0 and d.r_max == 5.5
    assert not np.allclose(narrower.create(make_random_cluster(seed=2)), d.create(make_random_cluster(seed=2)))
    assert WACSF.from_params(d.to_params()).get_params() == {k: list(v) if isinstance(v, tuple) else v
                                                             for k, v in params.items()}


def test_feature_names_out_and_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    d = shipped_wacsf()
    names = d.get_feature_names_out()
    assert names.shape == (d.n_features,) == (545,) and names[0] == "G1" and len(set(names)) == 545
    structures = [make_random_cluster(seed=s, n_atoms=12) for s in range(5)]
    Z = make_pipeline(d, StandardScaler()).fit_transform(structures)
    np.testing.assert_allclose(Z, StandardScaler().fit_transform(d.transform(structures)))


def test_create_takes_one_structure_or_a_list():
    d = shipped_wacsf()
    structures = [make_octahedron(), make_random_cluster(seed=1)]
    matrix = d.create(structures)
    assert matrix.shape == (2, 545)
    np.testing.assert_array_equal(matrix[1], d.create(structures[1]))
    np.testing.assert_array_equal(matrix[0], d.create(d.cluster(structures[0])))


def test_no_absorber_element_needs_an_absorber():
    from xanesviz.errors import StructureError

    with pytest.raises(StructureError, match="no absorber chosen"):
        WACSF().create(make_octahedron())
    np.testing.assert_array_equal(WACSF().create(make_octahedron(), absorber=0), WACSF(element="Fe").create(make_octahedron()))


# -- derivatives ---------------------------------------------------------------------------------


def test_derivatives_equal_central_differences(any_wacsf):
    rng = np.random.default_rng(3)
    vectors = rng.uniform(-5, 5, (25, 3))
    numbers = rng.choice([1, 6, 8, 17], 25)
    features, jac = any_wacsf.derivatives(Cluster(26, numbers, vectors))
    np.testing.assert_array_equal(features, any_wacsf.create(Cluster(26, numbers, vectors)))
    assert jac.shape == (any_wacsf.n_features, 25, 3) and np.abs(jac).max() > 0
    h = 1e-6
    for j in (0, 7, 19):
        for c in range(3):
            plus, minus = vectors.copy(), vectors.copy()
            plus[j, c] += h
            minus[j, c] -= h
            numeric = (any_wacsf.create(Cluster(26, numbers, plus)) - any_wacsf.create(Cluster(26, numbers, minus))) / (2 * h)
            np.testing.assert_allclose(jac[:, j, c], numeric, rtol=1e-5, atol=1e-7 * np.abs(numeric).max())


def test_derivatives_per_atom_equal_central_differences_in_positions(any_wacsf):
    atoms = make_random_cluster(seed=4, n_atoms=10)
    atoms.positions += [1.0, -2.0, 0.5]  # absorber away from the origin, first atom
    atoms = atoms[[3, 0, 1, 2, 4, 5, 6, 7, 8, 9]]  # and not the first atom
    _, jac = any_wacsf.derivatives(atoms, per_atom=True)
    assert jac.shape == (any_wacsf.n_features, 10, 3)
    h = 1e-6
    for i in (0, 1, 5):  # a neighbour, the absorber, another neighbour
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, c] += h
            minus.positions[i, c] -= h
            numeric = (any_wacsf.create(plus) - any_wacsf.create(minus)) / (2 * h)
            np.testing.assert_allclose(jac[:, i, c], numeric, rtol=1e-5, atol=1e-7 * np.abs(numeric).max())


def test_the_descriptor_keeps_scikit_learns_protocol_but_importing_the_app_does_not_import_it():
    """Tags and parameter checks as scikit-learn's (clone and Pipeline: the tests above), while the
    package and the dashboard import without scikit-learn (over a second of a cold start)."""
    import subprocess
    import sys

    from sklearn.utils import get_tags

    assert get_tags(WACSF()).transformer_tags is not None
    with pytest.raises(ValueError, match="invalid parameter 'cutoff'"):
        WACSF().set_params(cutoff=5.0)
    assert repr(WACSF(element="Fe", r_max=5.5)) == "WACSF(element='Fe', r_max=5.5)"
    loaded = subprocess.run([sys.executable, "-c", "import sys, xanesviz, xanesviz.app; "
                             "print(sorted(m for m in ('sklearn', 'pandas') if m in sys.modules))"],
                            capture_output=True, text=True, timeout=120)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr
