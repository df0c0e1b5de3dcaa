"""wACSF descriptor: size, invariances, an independent loop oracle, cutoff behaviour, batching."""

import math

import numpy as np
import pytest
from ase import Atoms
from scipy.spatial.transform import Rotation

from xanesviz import WACSF, read_structure
from xanesviz.descriptor import cosine_cutoff
from xanesviz.structure import Cluster

from conftest import make_octahedron, make_random_cluster

RTOL, ATOL = 1e-9, 1e-10


@pytest.fixture(scope="module")
def wacsf():
    return WACSF()


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
    assert wacsf(make_octahedron()).shape == (97,)


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
        WACSF(n_g4=60)


def test_extra_g2_weightings_change_size():
    d = WACSF(g2_weightings=("Z", "unit"))
    assert d.n_features == 1 + 64 + 64 == len(d.feature_names())
    assert d(make_octahedron()).shape == (d.n_features,)


def test_g4_weightings_add_blocks_computed_with_those_weights():
    d = WACSF(g4_weightings=("Z", "unit"))
    assert d.n_features == 1 + 32 + 2 * 64 == len(d.feature_names())
    assert d.get_params()["g4_weightings"] == ["Z", "unit"] and "g4_weightings" not in WACSF().get_params()
    rng = np.random.default_rng(4)
    vectors, numbers = rng.uniform(-3, 3, (12, 3)), rng.choice([1, 7, 8, 17], 12)
    features = d.featurise_vectors(numbers, vectors)
    published = WACSF()
    np.testing.assert_array_equal(features[:1 + 32 + 64], published.featurise_vectors(numbers, vectors))
    # the unit block is the published G4 of the same geometry with every neighbour weighted 1
    np.testing.assert_allclose(features[1 + 32 + 64:], published.featurise_vectors(np.ones(12), vectors)[1 + 32:],
                               rtol=1e-12)
    assert not np.allclose(features[1 + 32 + 64:], features[1 + 32:1 + 32 + 64])
    with pytest.raises(ValueError, match="g4_weightings"):
        WACSF(g4_weightings=("bogus",))


def test_element_channels_count_only_their_elements():
    rng = np.random.default_rng(5)
    vectors, numbers = rng.uniform(-3, 3, (14, 3)), rng.choice([1, 5, 6, 7, 8, 9, 15, 16, 17, 35], 14)
    numbers[:4] = [1, 6, 7, 8]
    d = WACSF(g2_weightings=("unit", "H", "C", "N", "O", "row2", "beyond_row2"), g4_weightings=("unit", "N"))
    features = d.featurise_vectors(numbers, vectors)
    g2 = features[1:1 + 7 * 32].reshape(7, 32)
    unit, h, c, n, o, row2, beyond = g2
    # every neighbour here is H, in the second row or beyond it: the channels add up to the count
    np.testing.assert_allclose(h + row2 + beyond, unit, rtol=1e-12)
    assert np.all(row2 >= c + n + o - 1e-12) and not np.allclose(c, n)
    # a channel is the unit-weighted G2 of its element's atoms alone
    only_n = numbers == 7
    np.testing.assert_allclose(n, WACSF(g2_weightings=("unit",)).featurise_vectors(numbers[only_n], vectors[only_n])[1:33],
                               rtol=1e-12)
    # the G4 channel keeps the pairs of two N atoms only
    np.testing.assert_allclose(features[1 + 7 * 32 + 64:],
                               WACSF(g4_weightings=("unit",)).featurise_vectors(numbers[only_n], vectors[only_n])[33:],
                               rtol=1e-12)


def test_params_round_trip(wacsf):
    again = WACSF.from_params(wacsf.get_params())
    np.testing.assert_array_equal(again(make_octahedron()), wacsf(make_octahedron()))


# -- invariances -------------------------------------------------------------------------------


def test_translation_invariance(wacsf, system):
    moved = system.copy()
    moved.positions += [3.7, -12.1, 0.45]
    np.testing.assert_allclose(wacsf(moved), wacsf(system), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rotation_invariance(wacsf, system, seed):
    rotation = Rotation.random(random_state=seed).as_matrix()
    assert np.allclose(rotation @ rotation.T, np.eye(3))
    turned = system.copy()
    turned.positions = system.positions @ rotation.T
    reference = wacsf(system)
    assert not np.allclose(turned.positions, system.positions)
    np.testing.assert_allclose(wacsf(turned), reference, rtol=RTOL, atol=ATOL)


def test_improper_rotation_invariance(wacsf, system):
    """A reflection (det = -1) keeps every distance and angle too."""
    mirrored = system.copy()
    mirrored.positions = system.positions * [1.0, -1.0, 1.0]
    np.testing.assert_allclose(wacsf(mirrored), wacsf(system), rtol=RTOL, atol=ATOL)


def test_neighbour_permutation_invariance(wacsf, system):
    rng = np.random.default_rng(5)
    order = np.concatenate([[0], 1 + rng.permutation(len(system) - 1)])
    shuffled = system[order]
    assert shuffled.get_chemical_symbols()[0] == "Fe"
    np.testing.assert_allclose(wacsf(shuffled), wacsf(system), rtol=RTOL, atol=ATOL)


def test_cluster_permutation_invariance(wacsf, system):
    cluster = wacsf.cluster(system)
    perm = np.random.default_rng(2).permutation(len(cluster.numbers))
    shuffled = Cluster(cluster.absorber_number, cluster.numbers[perm], cluster.vectors[perm])
    np.testing.assert_allclose(wacsf.featurise_cluster(shuffled), wacsf.featurise_cluster(cluster),
                               rtol=RTOL, atol=ATOL)


def test_features_respond_to_geometry(wacsf):
    """Guard against trivially constant features: stretching the bonds changes G1, G2 and G4."""
    a, b = wacsf(make_octahedron(2.0)), wacsf(make_octahedron(2.1))
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
    got = wacsf.featurise_cluster(single)
    expected = oracle(wacsf, single.numbers, single.vectors)
    np.testing.assert_allclose(got[1:33], expected[1:33], rtol=1e-10)


def test_oracle_agrees(wacsf, system):
    cluster = wacsf.cluster(system)
    expected = oracle(wacsf, cluster.numbers, cluster.vectors)
    got = wacsf.featurise_cluster(cluster)
    assert expected[0] > 0 and np.count_nonzero(expected[33:]) > 0
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-300)


def test_oracle_agrees_non_default_settings():
    descriptor = WACSF(r_max=5.0, n_g2=10, n_g4=16, lambdas=(1.0, -1.0), zetas=(1.0, 4.0))
    cluster = descriptor.cluster(make_random_cluster(seed=3))
    np.testing.assert_allclose(descriptor.featurise_cluster(cluster),
                               oracle(descriptor, cluster.numbers, cluster.vectors), rtol=1e-10, atol=1e-300)


def test_g1_of_octahedron_by_hand(wacsf):
    """6 O at 2.0 Å and 6 H at 2.96 Å: G1 = 6*8*fc(2.0) + 6*1*fc(2.96)."""
    expected = 48 * 0.5 * (math.cos(math.pi * 2.0 / 6.0) + 1) + 6 * 0.5 * (math.cos(math.pi * 2.96 / 6.0) + 1)
    assert math.isclose(wacsf(make_octahedron())[0], expected, rel_tol=1e-12)


# -- cutoff ------------------------------------------------------------------------------------


def test_cosine_cutoff_values():
    r = np.array([0.0, 3.0, 6.0, 6.0001, 10.0])
    np.testing.assert_allclose(cosine_cutoff(r, 6.0), [1.0, 0.5, 0.0, 0.0, 0.0], atol=1e-15)


def test_atom_beyond_cutoff_changes_nothing(wacsf, octahedron):
    far = octahedron + Atoms("Cl", positions=[[0.0, 6.5, 0.0]])
    assert len(wacsf.cluster(far).numbers) == len(wacsf.cluster(octahedron).numbers)
    np.testing.assert_array_equal(wacsf(far), wacsf(octahedron))
    # also when handed to featurise_vectors directly
    c = wacsf.cluster(octahedron)
    direct = wacsf.featurise_vectors(np.append(c.numbers, 17), np.vstack([c.vectors, [[0.0, 6.5, 0.0]]]))
    np.testing.assert_array_equal(direct, wacsf.featurise_cluster(c))


def test_atom_exactly_at_cutoff_contributes_zero(wacsf, octahedron):
    at_cutoff = octahedron + Atoms("Br", positions=[[0.0, 0.0, 6.0]])
    assert len(wacsf.cluster(at_cutoff).numbers) == len(octahedron)  # it is in the cluster...
    np.testing.assert_allclose(wacsf(at_cutoff), wacsf(octahedron), rtol=1e-13, atol=1e-300)  # ...but weighs 0


def test_features_continuous_at_cutoff(wacsf, octahedron):
    """An atom just inside the cutoff contributes almost nothing (smooth cutoff)."""
    near = octahedron + Atoms("Br", positions=[[0.0, 0.0, 5.999]])
    a, b = wacsf(near), wacsf(octahedron)
    assert 0 < np.max(np.abs(a - b)) < 1e-5  # fc(5.999 Å) is about 7e-8
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_isolated_absorber_is_all_zero(wacsf):
    assert not np.any(wacsf(Atoms("Fe", positions=[[0, 0, 0]])))


# -- batching ----------------------------------------------------------------------------------


def test_transform_equals_stacked_calls(wacsf):
    structures = [make_octahedron(d) for d in (1.9, 2.0, 2.1)] + [make_random_cluster(seed=s) for s in range(3)]
    matrix = wacsf.transform(structures)
    assert matrix.shape == (6, 97)
    np.testing.assert_array_equal(matrix, np.stack([wacsf(s) for s in structures]))
    clusters = [wacsf.cluster(s) for s in structures]
    np.testing.assert_array_equal(wacsf.transform(clusters), matrix)
    np.testing.assert_array_equal(wacsf.fit(structures).fit_transform(structures), matrix)


def test_transform_with_absorber_argument(wacsf):
    structure = make_octahedron()
    np.testing.assert_array_equal(wacsf.transform([structure], absorber=1)[0], wacsf(structure, absorber=1))
    assert not np.allclose(wacsf(structure, absorber=1), wacsf(structure))


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
