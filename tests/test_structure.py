"""Reading structures (XANESNET numbered xyz and ase formats), absorber choice, cluster cutting, bad input."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import write

from xanesviz import read_structure
from xanesviz.errors import StructureError, XanesvizError
from xanesviz.structure import MIN_DISTANCE, Cluster, choose_absorber, cut_cluster, validate_atoms

from conftest import make_octahedron, write_numbered_xyz


def assert_one_line_naming(exc_info, name):
    """The error is a StructureError (a ValueError) with a one-line message naming the source."""
    message = str(exc_info.value)
    assert isinstance(exc_info.value, ValueError)
    assert "\n" not in message
    assert str(name) in message


# -- reading -----------------------------------------------------------------------------------


def test_error_hierarchy():
    assert issubclass(StructureError, XanesvizError)
    assert issubclass(StructureError, ValueError)


def test_numbered_xyz_is_read(tmp_path):
    numbers = [26, 8, 8, 1]
    positions = [[0, 0, 0], [2.0, 0, 0], [0, -2.1, 0.5], [2.9, 0.1, -0.2]]
    path = write_numbered_xyz(tmp_path / "numbered.xyz", numbers, positions)
    atoms = read_structure(path)
    assert list(atoms.numbers) == numbers
    assert atoms.get_chemical_symbols() == ["Fe", "O", "O", "H"]
    np.testing.assert_allclose(atoms.positions, positions, atol=1e-9)
    assert not atoms.pbc.any()


def test_numbered_xyz_tab_separated_like_the_reference_data(tmp_path):
    path = tmp_path / "tabs.xyz"
    path.write_text("3\nSAMPLE_bav\n26\t0.0\t0.0\t0.0\n7\t1.9\t0.0\t0.0\n6\t0.0\t2.5\t0.0\n")
    atoms = read_structure(path)
    assert atoms.get_chemical_symbols() == ["Fe", "N", "C"]
    np.testing.assert_allclose(atoms.positions[2], [0.0, 2.5, 0.0])


def test_real_data_file(data_dir):
    path = sorted((data_dir / "xyz").glob("*.xyz"))[0]
    atoms = read_structure(path)
    assert atoms.get_chemical_symbols()[0] == "Fe"
    assert np.allclose(atoms.positions[0], 0.0)
    assert len(atoms) == int(path.read_text().split()[0])


@pytest.mark.parametrize("name, fmt, periodic", [
    ("complex.extxyz", "extxyz", False),
    ("complex.xyz", "extxyz", False),  # ase-written symbol xyz under the .xyz suffix
    ("complex.pdb", "proteindatabank", False),
    ("complex.cif", "cif", True),
    ("POSCAR", "vasp", True),
])
def test_standard_formats_round_trip(tmp_path, name, fmt, periodic):
    atoms = make_octahedron()
    if periodic:  # these formats need a cell; keep the molecule inside it
        atoms.cell, atoms.pbc = [15.0, 15.0, 15.0], True
        atoms.positions += 7.5
    write(tmp_path / name, atoms, format=fmt)
    back = read_structure(tmp_path / name)
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    atol = 2e-3 if fmt == "proteindatabank" else 1e-5
    diff = back.positions - atoms.positions
    if periodic:
        diff -= 15.0 * np.round(diff / 15.0)
        assert back.pbc.all()
    np.testing.assert_allclose(diff, 0.0, atol=atol)
    # the absorber's cluster is the octahedron whatever the format
    cluster = cut_cluster(back, choose_absorber(back, element="Fe"), 2.5)
    np.testing.assert_allclose(np.sort(cluster.distances), [2.0] * 6, atol=atol)


def test_explicit_format_argument(tmp_path):
    atoms = make_octahedron()
    atoms.cell, atoms.pbc = [12.0, 12.0, 12.0], True
    write(tmp_path / "structure.dat", atoms, format="vasp")
    back = read_structure(tmp_path / "structure.dat", format="vasp")
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()


def test_multi_frame_file_uses_last_frame_by_default(tmp_path):
    frames = [make_octahedron(2.0), make_octahedron(2.2)]
    write(tmp_path / "traj.extxyz", frames, format="extxyz")
    last = read_structure(tmp_path / "traj.extxyz")
    first = read_structure(tmp_path / "traj.extxyz", index=0)
    assert np.isclose(last.get_distance(0, 1), 2.2)
    assert np.isclose(first.get_distance(0, 1), 2.0)


# -- absorber choice ---------------------------------------------------------------------------


@pytest.fixture
def two_iron():
    """H, Fe, O, Fe: the first Fe is atom 1."""
    return Atoms("HFeOFe", positions=[[0, 0, 0], [1.5, 0, 0], [3.5, 0, 0], [5.5, 0, 0]])


@pytest.mark.parametrize("absorber, expected", [
    (None, 1), ("Fe", 1), ("O", 2), ("H", 0), (3, 3), (0, 0), (-1, 3), (-4, 0), ("3", 3), ("-1", 3), ("2", 2),
])
def test_choose_absorber(two_iron, absorber, expected):
    assert choose_absorber(two_iron, absorber, element="Fe") == expected


def test_choose_absorber_default_follows_element(two_iron):
    assert choose_absorber(two_iron, None, element="O") == 2


def test_choose_absorber_needs_an_absorber_or_element(two_iron):
    with pytest.raises(StructureError, match="mol.xyz: no absorber chosen"):
        choose_absorber(two_iron, None, source="mol.xyz")


def test_choose_absorber_numpy_integer(two_iron):
    assert choose_absorber(two_iron, np.int64(2)) == 2


@pytest.mark.parametrize("absorber", [4, -5, 100, "7"])
def test_absorber_index_out_of_range(two_iron, absorber):
    with pytest.raises(StructureError) as info:
        choose_absorber(two_iron, absorber, source="mol.xyz")
    assert_one_line_naming(info, "mol.xyz")
    assert "out of range" in str(info.value)


def test_absorber_not_an_element(two_iron):
    with pytest.raises(StructureError) as info:
        choose_absorber(two_iron, "Xx", source="mol.xyz")
    assert_one_line_naming(info, "mol.xyz")


def test_no_fe_atom(tmp_path):
    path = write_numbered_xyz(tmp_path / "no_iron.xyz", [8, 1, 1], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    atoms = read_structure(path)
    with pytest.raises(StructureError) as info:
        choose_absorber(atoms, element="Fe", source=str(path))
    assert_one_line_naming(info, path)
    assert "Fe" in str(info.value)


def test_absorber_element_absent(two_iron):
    with pytest.raises(StructureError) as info:
        choose_absorber(two_iron, "Co", source="mol.xyz")
    assert_one_line_naming(info, "mol.xyz")


# -- cluster cutting ---------------------------------------------------------------------------


def test_molecular_cluster(octahedron):
    cluster = cut_cluster(octahedron, 0, 2.5)
    assert cluster.absorber_number == 26
    assert list(cluster.numbers) == [8] * 6
    np.testing.assert_allclose(cluster.distances, 2.0)
    wider = cut_cluster(octahedron, 0, 3.0)
    assert sorted(wider.numbers) == [1] * 6 + [8] * 6


def test_cluster_vectors_point_from_absorber(octahedron):
    shifted = octahedron.copy()
    shifted.positions += [10.0, -3.0, 2.0]
    cluster = cut_cluster(shifted, 0, 2.5)
    np.testing.assert_allclose(cluster.vectors, octahedron.positions[1:7], atol=1e-12)


def test_cluster_to_atoms(octahedron):
    atoms = cut_cluster(octahedron, 0, 5.0).to_atoms()
    assert atoms.get_chemical_symbols()[0] == "Fe"
    np.testing.assert_allclose(atoms.positions[0], 0.0)
    assert len(atoms) == len(octahedron)


def test_periodic_bcc_iron_includes_images():
    """bcc Fe (one atom per cell): 8 neighbours at a*sqrt(3)/2 and 6 at a, all periodic images."""
    atoms = bulk("Fe")
    assert len(atoms) == 1
    a = 2.87
    cluster = cut_cluster(atoms, 0, 3.0)
    d = np.sort(cluster.distances)
    assert len(d) == 14
    np.testing.assert_allclose(d[:8], a * np.sqrt(3) / 2, atol=1e-6)
    np.testing.assert_allclose(d[8:], a, atol=1e-6)
    assert set(cluster.numbers) == {26}


def test_periodic_cubic_cell_same_shells():
    atoms = bulk("Fe", cubic=True)
    for index in range(len(atoms)):
        assert len(cut_cluster(atoms, index, 3.0).distances) == 14


def test_periodic_negative_absorber_index():
    """cut_cluster accepts a negative index for molecules; a periodic structure must give the same shells."""
    molecule = make_octahedron()
    assert len(cut_cluster(molecule, -len(molecule), 2.5).numbers) == 6
    crystal = bulk("Fe", cubic=True)
    assert len(cut_cluster(crystal, -1, 3.0).numbers) == 14


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, text", [
    ("garbage.xyz", "hello world\nthis is\nnot a structure\n"),
    ("garbage.cif", "this is not a cif file\n"),
    ("garbage.pdb", "\x00\x01 binary junk ATOM nonsense\n"),
    ("POSCAR", "not a poscar\nat all\n"),
    ("bad_row.xyz", "2\ncomment\n26 0.0 0.0 0.0\n8 0.0 abc 0.0\n"),
    ("short_row.xyz", "2\ncomment\n26 0.0 0.0 0.0\n8 2.0 0.0\n"),
    ("bad_z.xyz", "2\ncomment\n26 0.0 0.0 0.0\n250 2.0 0.0 0.0\n"),
])
def test_unparsable_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(StructureError) as info:
        read_structure(path)
    assert_one_line_naming(info, path)


@pytest.mark.parametrize("name", ["empty.xyz", "empty.cif", "empty.pdb", "POSCAR"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("")
    with pytest.raises(StructureError) as info:
        read_structure(path)
    assert_one_line_naming(info, path)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.xyz"
    with pytest.raises(StructureError) as info:
        read_structure(path)
    assert_one_line_naming(info, path)


def test_empty_structure_file(tmp_path):
    path = tmp_path / "zero.xyz"
    path.write_text("0\nno atoms here\n")
    with pytest.raises(StructureError) as info:
        read_structure(path)
    assert_one_line_naming(info, path)
    assert "no atoms" in str(info.value)


def test_empty_atoms_object():
    with pytest.raises(StructureError) as info:
        validate_atoms(Atoms(), source="my-input")
    assert_one_line_naming(info, "my-input")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_coordinates_numbered(tmp_path, bad):
    path = tmp_path / "nan.xyz"
    path.write_text(f"3\nc\n26 0 0 0\n8 2 0 0\n8 0 {bad} 0\n")
    with pytest.raises(StructureError) as info:
        read_structure(path)
    assert_one_line_naming(info, path)
    assert "atom 2" in str(info.value)


def test_non_finite_coordinates_symbols(tmp_path):
    path = tmp_path / "nan_symbols.xyz"
    path.write_text("2\n\nFe 0 0 0\nO nan 0 0\n")
    with pytest.raises(StructureError) as info:
        read_structure(path)
    assert_one_line_naming(info, path)


def test_non_finite_coordinates_in_memory(octahedron):
    octahedron.positions[3, 1] = np.nan
    with pytest.raises(StructureError) as info:
        cut_cluster(octahedron, 0, 6.0, source="dragged")
    assert_one_line_naming(info, "dragged")


@pytest.mark.parametrize("text", [
    "5\nc\n26 0 0 0\n8 2 0 0\n8 -2 0 0\n",  # header says more atoms than follow
    "2\nc\n26 0 0 0\n8 2 0 0\n8 -2 0 0\n",  # header says fewer: an atom would be silently dropped
], ids=["header-too-large", "header-too-small"])
def test_header_count_mismatch_numbered(tmp_path, text):
    path = tmp_path / "mismatch.xyz"
    path.write_text(text)
    with pytest.raises(StructureError) as info:
        read_structure(path)
    assert_one_line_naming(info, path)


def test_header_count_mismatch_symbols(tmp_path):
    path = tmp_path / "mismatch_symbols.xyz"
    path.write_text("5\n\nFe 0 0 0\nO 2 0 0\n")
    with pytest.raises(StructureError) as info:
        read_structure(path)
    assert_one_line_naming(info, path)


def test_trailing_blank_lines_are_fine(tmp_path):
    path = tmp_path / "trailing.xyz"
    path.write_text("2\nc\n26 0 0 0\n8 2 0 0\n\n\n")
    assert len(read_structure(path)) == 2


def test_overlapping_atoms_from_file(tmp_path):
    path = write_numbered_xyz(tmp_path / "overlap.xyz", [26, 8, 8, 1],
                              [[0, 0, 0], [2.0, 0, 0], [2.3, 0, 0], [-2.0, 0, 0]])
    atoms = read_structure(path)
    with pytest.raises(StructureError) as info:
        cut_cluster(atoms, 0, 6.0, source=str(path))
    assert_one_line_naming(info, path)
    assert "closer than" in str(info.value)


def test_atom_on_top_of_absorber():
    atoms = Atoms("FeO", positions=[[0, 0, 0], [0.1, 0.2, 0.0]])
    with pytest.raises(StructureError) as info:
        cut_cluster(atoms, 0, 6.0, source="stacked")
    assert_one_line_naming(info, "stacked")
    assert "absorber" in str(info.value)


def test_just_above_min_distance_is_accepted():
    atoms = Atoms("FeOO", positions=[[0, 0, 0], [2.0, 0, 0], [2.0 + MIN_DISTANCE + 0.01, 0, 0]])
    assert len(cut_cluster(atoms, 0, 6.0).numbers) == 2


@pytest.mark.parametrize("n_atoms", [40, 400])  # checked pair by pair, and with a tree (> SMALL_CLUSTER)
def test_the_same_overlap_is_found_in_small_and_large_clusters(n_atoms):
    rng = np.random.default_rng(3)
    grid = np.stack(np.meshgrid(*[np.arange(-4, 5)] * 3, indexing="ij"), -1).reshape(-1, 3) * 1.2
    grid = grid[np.argsort(np.linalg.norm(grid, axis=1))][:n_atoms]  # the absorber at the origin first
    grid[1:] += rng.uniform(-0.05, 0.05, (n_atoms - 1, 3))
    near = np.flatnonzero(np.linalg.norm(grid, axis=1) > 2.0)[0]
    positions = np.vstack([grid, grid[near] + [0.3, 0, 0]])  # one atom 0.3 Å from another
    with pytest.raises(StructureError, match=r"a C neighbour and a H neighbour are 0\.30 Å apart"):
        cut_cluster(Atoms(numbers=[26] + [6] * (n_atoms - 1) + [1], positions=positions), 0, 20.0, "grid")
    assert len(cut_cluster(Atoms(numbers=[26] + [6] * (n_atoms - 1), positions=grid), 0, 20.0).numbers) == n_atoms - 1


def test_overlap_outside_cluster_is_ignored():
    """Only the absorber and its neighbours are checked; a clash 20 Å away does not matter."""
    atoms = Atoms("FeOHH", positions=[[0, 0, 0], [2.0, 0, 0], [20.0, 0, 0], [20.1, 0, 0]])
    assert len(cut_cluster(atoms, 0, 6.0).numbers) == 1


def test_cluster_dataclass_distances():
    cluster = Cluster(26, np.array([8, 1]), np.array([[3.0, 4.0, 0.0], [0.0, 0.0, -2.0]]))
    np.testing.assert_allclose(cluster.distances, [5.0, 2.0])
