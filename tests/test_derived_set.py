"""Sets of derived structures: parent selection, order, stems, folders and packed files."""

import json

import numpy as np
import pytest
from ase.data import covalent_radii

from conftest import make_octahedron, write_numbered_xyz
from xanesviz import cli
from xanesviz import derived_set as ds
from xanesviz.derive import FAMILIES, bond_shift
from xanesviz.errors import XanesvizError
from xanesviz.structure import read_structure

REFCODES = ["AAAAAA", "BBBBBB", "CCCCCC", "DDDDDD", "EEEEEE", "FFFFFF", "GGGGGG", "HHHHHH"]


def fake_parents(n=8):
    """Octahedra with different Fe-O bonds, named like the Fe data (REFCODE_formula(charge))."""
    return {f"{code}_FeH6O6(1+)": make_octahedron(fe_o=1.9 + 0.04 * i) for i, code in enumerate(REFCODES[:n])}


def test_stems_name_metal_parent_and_variant():
    assert ds.structure_stem("Cu", "ABAXIK_C11H21FeIN3O2(1+)") == "Cu_ABAXIK"
    assert ds.structure_stem("Cu", "ABAXIK_C11H21FeIN3O2(1+)", "bend0") == "Cu_ABAXIK_bend0"
    for stem in ("Cu_ABAXIK", "Zn_ABAXIK_stretch1", "ABAXIK_C11H21FeIN3O2(1+)", "runs/x/Ti_ABAXIK_pull0.xyz"):
        assert ds.parent_of(stem) == "ABAXIK"
    assert [ds.metal_of(s) for s in ("Cu_ABAXIK", "V_ABAXIK_bend0", "ABAXIK_C11H21FeIN3O2(1+)")] == ["Cu", "V", None]
    assert [ds.variant_of(s) for s in ("Cu_ABAXIK", "V_ABAXIK_bend0.xyz")] == [None, "bend0"]


def test_a_move_family_tells_a_ligand_move_from_each_single_atom_move():
    assert [ds.move_family(t) for t in ("stretch0", "bend0", "breathe0", "pull0")] == ["stretch", "bend", "breathe",
                                                                                       "pull"]
    assert [ds.move_family(t) for t in ("bend1", "bend2", "breathe4", "pull5", "stretch6", "stretch8")] == [
        "bend10 (one atom)", "bend5 (one atom)", "breathe-0.05 (one atom)", "pull0.5 (one atom)",
        "stretch+0.05 (one atom)", "stretch-0.1 (one atom)"]
    assert ds.move_family("bend6") == "bend"  # a number that names another kind's move is not that move


def test_spread_parents_covers_every_group_in_a_spread_order():
    parents = fake_parents()
    groups = ds.spread_parents(parents, 4, seed=0, atoms_within_6=(1, 100))
    assert len(groups) == 4 and sorted(s for g in groups for s in g) == sorted(parents)
    assert groups == ds.spread_parents(parents, 4, seed=0, atoms_within_6=(1, 100))
    with pytest.raises(XanesvizError, match="only 0 parents have 40-60 atoms within 6 Å; asked for 4"):
        ds.spread_parents(parents, 4)


def test_a_metal_set_lists_parents_then_variants_with_their_moves():
    parents = fake_parents()
    groups = ds.spread_parents(parents, 8, seed=0, atoms_within_6=(1, 100))
    result = ds.build_metal_set("Ni", parents, groups, variants_per_parent=2, seed=0)
    roles = [e.record["role"] for e in result.entries]
    assert roles == ["parent"] * 8 + ["variant"] * 16
    assert result.counts() == {"parents": 8, "variants": 16, "parent_clashes": 0, "parent_other_refusals": 0,
                               "variant_clashes": 0, "variant_other_refusals": 0}
    assert [e.record["parent"] for e in result.entries[:8]] == [g[0] for g in groups]
    families = [e.record["move"]["family"] for e in result.entries[8:]]
    assert {f: families.count(f) for f in FAMILIES} == {f: 4 for f in FAMILIES}  # balanced
    by_stem = {e.stem: e for e in result.entries}
    for entry in result.entries[8:]:
        parent = by_stem[ds.structure_stem("Ni", entry.record["parent"])]
        assert ds.parent_of(entry.stem) == ds.parent_of(parent.stem)
        moved = np.flatnonzero(np.linalg.norm(entry.atoms.positions - parent.atoms.positions, axis=1) > 1e-12)
        assert moved.tolist() == entry.record["move"]["moved"]
    again = ds.build_metal_set("Ni", parents, groups, variants_per_parent=2, seed=0)
    assert [e.stem for e in again.entries] == [e.stem for e in result.entries]
    assert all(np.array_equal(a.atoms.positions, b.atoms.positions) for a, b in zip(again.entries, result.entries))
    other = ds.build_metal_set("Ni", parents, groups, variants_per_parent=2, seed=1)
    assert any(a.record["move"] != b.record["move"] for a, b in zip(other.entries[8:], result.entries[8:]))


def test_a_clashing_parent_is_replaced_by_the_next_of_its_group_and_counted(monkeypatch):
    from ase import Atoms

    monkeypatch.setattr("xanesviz.derive.CLASH_FACTOR", 0.9)  # as in test_derive.test_clashes_are_rejected
    clashing = Atoms("FeOHH", positions=[[0, 0, 0], [2.0, 0, 0], [2.0, 0.96, 0], [2.72, 0.96, 0]])
    parents = {"AAAAAA_x": clashing, "BBBBBB_y": make_octahedron()}
    result = ds.build_metal_set("Mn", parents, [["AAAAAA_x", "BBBBBB_y"]], variants_per_parent=0)
    assert [e.stem for e in result.entries] == ["Mn_BBBBBB"]
    assert result.parent_clashes == 1 and result.clashed == ["AAAAAA_x"]


def test_folder_and_pack_round_trip(tmp_path):
    parents = fake_parents(3)
    groups = ds.spread_parents(parents, 3, seed=0, atoms_within_6=(1, 100))
    result = ds.build_metal_set("Cu", parents, groups, variants_per_parent=1, seed=0)
    folder = ds.write_folder(result, tmp_path / "set" / "Cu")
    order = (folder / "order.txt").read_text().split()
    assert [p.split("/")[-1] for p in order] == [f"{e.stem}.xyz" for e in result.entries]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [r["stem"] for r in manifest["structures"]] == [e.stem for e in result.entries]
    for entry in result.entries:
        atoms = read_structure(folder / f"{entry.stem}.xyz")
        np.testing.assert_allclose(atoms.positions, entry.atoms.positions, atol=1e-8)
        assert atoms.get_chemical_symbols()[0] == "Cu" and atoms.info["parent"] == entry.record["parent"]
        if entry.record["move"]:
            assert atoms.info["family"] == entry.record["move"]["family"]
    pack = ds.write_pack(result, tmp_path / "cu.extxyz.gz")
    assert ds.write_pack(result, tmp_path / "again.extxyz.gz").read_bytes() == pack.read_bytes()
    unpacked = ds.unpack(pack, tmp_path / "unpacked")
    assert unpacked.name == "Cu"
    assert [p.split("/")[-1] for p in (unpacked / "order.txt").read_text().split()] == [p.split("/")[-1] for p in order]
    for entry in result.entries:  # the same files as write_folder's
        assert (unpacked / f"{entry.stem}.xyz").read_bytes() == (folder / f"{entry.stem}.xyz").read_bytes()


def test_cli_derives_folders_in_generation_order(tmp_path, capsys):
    data = tmp_path / "fe"
    (data / "xyz").mkdir(parents=True)
    for stem, atoms in fake_parents(4).items():
        write_numbered_xyz(data / "xyz" / f"{stem}.xyz", atoms.numbers, atoms.positions)
    out = tmp_path / "out"
    rc = cli.main(["derive", str(data), "-o", str(out), "--metals", "Zn", "Cu", "--parents", "2",
                   "--variants-per-parent", "1", "--atoms-within-6", "1", "100", "--pack", str(tmp_path / "pack")])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["metals"]) == ["Cu", "Zn"]  # generation order, whatever order they were asked in
    assert summary["metals"]["Zn"]["parents"] == 2 and summary["metals"]["Zn"]["variants"] == 2
    first = read_structure((out / "Zn" / "order.txt").read_text().split()[0])
    bonds = np.linalg.norm(first.positions[1:7], axis=1)
    assert np.ptp(bonds) < 1e-9 and 1.9 + bond_shift("Zn") - 1e-6 <= bonds[0] <= 2.02 + bond_shift("Zn") + 1e-6
    assert sorted(p.name for p in (tmp_path / "pack").iterdir()) == ["cu.extxyz.gz", "zn.extxyz.gz"]
    assert "Zn: parents 2, variants 2, parent clashes 0" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--metals", "Cu", "Xx"], "error: unknown metal(s) Xx: choose from Cu, Ni, Co, Mn, Zn, Ti, V, Cr, Fe"),
    (["--parents", "0"], "error: --parents must be at least 1"),
])
def test_cli_refuses_bad_arguments_in_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "xyz").mkdir()
    assert cli.main(["derive", str(tmp_path), "-o", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_cli_refuses_a_folder_without_parents(tmp_path, capsys):
    assert cli.main(["derive", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {tmp_path}: no xyz/ folder of parent structures"


def test_real_parents_have_first_shells_and_moderate_size(data_dir):
    paths = sorted((data_dir / "xyz").glob("*.xyz"))[:40]
    parents = {p.stem: read_structure(p) for p in paths}
    groups = ds.spread_parents(parents, 5, seed=0)
    for group in groups:
        for stem in group:
            assert 40 <= ds.atoms_within(parents[stem]) <= 60
    result = ds.build_metal_set("Cu", parents, groups, variants_per_parent=1, seed=0)
    assert result.counts()["parents"] + result.parent_clashes >= 5
    for entry in result.entries:
        distances = np.linalg.norm(entry.atoms.positions[1:], axis=1)
        assert distances.min() > 0.7 * (covalent_radii[29] + covalent_radii[1])


def test_derive_has_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["derive", "--help"])
    assert info.value.code == 0
    assert "usage: xanesviz derive" in capsys.readouterr().out
