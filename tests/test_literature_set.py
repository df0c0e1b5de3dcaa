"""scripts/literature_set.py: textbook Ti–Zn complexes built as their table says."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from literature_set import COMPLEXES, SITES, Complex, build, fragment, write_structures  # noqa: E402

from xanesviz.derived_set import metal_of, parent_of  # noqa: E402
from xanesviz.edges import EDGE_METALS  # noqa: E402
from xanesviz.structure import read_structure  # noqa: E402


def _size(kind: str, tail: float) -> int:
    return 10 if kind == "Cp" else len(fragment(kind, tail))


def _anchors(complex_: Complex, atoms) -> tuple[np.ndarray, list[list[int]]]:
    """Each ligand's anchor (its donor atom; a Cp ring's centroid) and its donor atoms."""
    index, anchors, donors = 1, [], []
    for kind, _, tail in complex_.ligands:
        bonded = list(range(index, index + 5)) if kind == "Cp" else [index]
        anchors.append(atoms.positions[bonded].mean(axis=0))
        donors.append(bonded)
        index += _size(kind, tail)
    return np.array(anchors), donors


@pytest.mark.parametrize("complex_", COMPLEXES, ids=[c.stem for c in COMPLEXES])
def test_each_complex_has_its_tabled_bonds_and_shape(complex_):
    atoms = build(complex_)
    assert atoms.get_chemical_symbols()[0] == complex_.metal == metal_of(complex_.stem)
    assert np.allclose(atoms.positions[0], 0.0)
    assert len(atoms) == 1 + sum(_size(k, t) for k, _, t in complex_.ligands)
    anchors, donors = _anchors(complex_, atoms)
    for (kind, distance, _), bonded in zip(complex_.ligands, donors):
        np.testing.assert_allclose(atoms.get_distances(0, bonded), distance, atol=1e-9)
    # the donors (ring centroids) sit on the polyhedron's directions: the same angles at the metal
    sites = np.array([s / np.linalg.norm(s) for s in np.asarray(SITES[complex_.geometry], float)])
    unit = anchors / np.linalg.norm(anchors, axis=1)[:, None]
    np.testing.assert_allclose(unit @ unit.T, sites @ sites.T, atol=1e-9)
    # no two atoms of different ligands closer than 1.9 Å (hydrogens of neighbouring ligands apart)
    owner = np.concatenate([[-1]] + [[i] * _size(k, t) for i, (k, _, t) in enumerate(complex_.ligands)])
    distances = atoms.get_all_distances()
    other = (owner[:, None] != owner[None, :]) & (owner[:, None] >= 0) & (owner[None, :] >= 0)
    assert distances[other].min() > 1.9


def test_metallocene_rings_are_regular_and_eclipsed():
    ferrocene = build(next(c for c in COMPLEXES if c.stem == "Fe_Cp2-D5h"))
    top, bottom = ferrocene.positions[1:6], ferrocene.positions[11:16]
    ring_bonds = np.linalg.norm(top - np.roll(top, 1, axis=0), axis=1)
    np.testing.assert_allclose(ring_bonds, 1.43, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(ferrocene.positions[6:11] - top, axis=1), 1.09, atol=1e-9)
    assert np.linalg.norm(top.mean(axis=0)) == pytest.approx(1.66, abs=0.01)  # ferrocene's Fe–ring centroid
    angles = [np.sort(np.round(np.degrees(np.arctan2(ring[:, 1], ring[:, 0])), 6) % 360) for ring in (top, bottom)]
    np.testing.assert_allclose(*angles, atol=1e-6)  # eclipsed: each carbon above one of the other ring


def test_ligand_fragments_point_away_from_the_metal_with_their_textbook_shape():
    water = build(Complex("Zn_aqua1-test", "", "linear", (("OH2", 2.1, 0.0), ("Cl", 2.2, 0.0))))
    assert water.get_distance(1, 2) == pytest.approx(0.96) and water.get_angle(2, 1, 3) == pytest.approx(104.5)
    assert water.get_angle(0, 1, 2) == pytest.approx(127.75) == water.get_angle(0, 1, 3)  # planar at O
    ammine = build(Complex("Co_ammine1-test", "", "linear", (("NH3", 1.96, 0.0), ("Cl", 2.2, 0.0))))
    assert [ammine.get_angle(0, 1, h) for h in (2, 3, 4)] == pytest.approx([111.0] * 3)
    carbonyl = build(Complex("Ni_CO1-test", "", "linear", (("CO", 1.83, 1.15), ("Cl", 2.2, 0.0))))
    assert carbonyl.get_angle(0, 1, 2) == pytest.approx(180.0) and carbonyl.get_distance(1, 2) == pytest.approx(1.15)


def test_stems_group_a_kind_of_complex_across_metals_and_cover_every_edge():
    stems = [c.stem for c in COMPLEXES]
    assert len(set(stems)) == len(stems)
    assert {c.metal for c in COMPLEXES} == set(EDGE_METALS)
    groups = {parent_of(s) for s in stems}
    assert parent_of("Co_Cl4-Td") == parent_of("Zn_Cl4-Td") and "Cl4-Td" in groups
    assert len(groups) < len(stems)  # several metals share a kind: one CV group


def test_written_structures_read_back_with_the_metal_as_absorber(tmp_path):
    chosen = [c for c in COMPLEXES if c.metal in ("Cu", "V")]
    paths = write_structures(tmp_path, chosen)
    assert sorted(paths) == ["Cu", "V"] and sum(len(p) for p in paths.values()) == len(chosen)
    for complex_ in chosen:
        atoms = read_structure(tmp_path / complex_.metal.lower() / f"{complex_.stem}.xyz")
        np.testing.assert_allclose(atoms.positions, build(complex_).positions, atol=1e-5)
