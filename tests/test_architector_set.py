"""scripts/architector_set.py's table: what it asks Architector to build (the building needs Architector
and xTB, which the package does not; the built structures are checked where they are computed)."""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from architector_set import _CN, COMPLEXES, DENTICITY, FIFTH_SET, FOURTH_SET, SECOND_SET, SETS, SHORT, SIXTH_SET, THIRD_SET  # noqa: E402

from xanesviz.derived_set import metal_of, parent_of, variant_of  # noqa: E402


METALS = ("Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")
EVERY = [c for complexes in SETS.values() for c in complexes]  # every table, however many there are


def test_every_metal_has_five_complexes_in_the_first_three_sets_ten_in_the_later_ones_and_stems_are_unique():
    for number, complexes in SETS.items():
        assert Counter(c.metal for c in complexes) == {m: 10 if number >= 4 else 5 for m in METALS}
    assert len({c.stem for c in EVERY}) == len(EVERY)


def test_the_ligands_fill_the_coordination_of_the_geometry():
    for c in EVERY:
        assert set(c.ligands) <= set(SHORT), c.name
        assert sum(DENTICITY[ligand] for ligand in c.ligands) == c.coordination == _CN[c.geometry], c.name
        assert 0 <= c.unpaired <= 5 and 0 <= c.oxidation <= 7, c.name


def test_stems_name_the_kind_so_that_a_grouped_cv_holds_it_out_for_every_metal():
    kinds = {}
    for c in COMPLEXES:
        assert metal_of(c.stem) == c.metal and variant_of(c.stem) is None
        kinds.setdefault(parent_of(c.stem), set()).add(c.metal)
    assert kinds["acac3-oct"] == {"V", "Cr", "Mn", "Fe", "Co"} and kinds["bipy3-oct"] == {"Mn", "Fe", "Co", "Ni", "Zn"}


def test_the_second_set_is_mostly_of_kinds_the_first_lacks():
    first_kinds = {parent_of(c.stem) for c in COMPLEXES}
    new = [c for c in SECOND_SET if parent_of(c.stem) not in first_kinds]
    assert len(new) >= 0.75 * len(SECOND_SET), [c.stem for c in SECOND_SET if c not in new]


def test_the_third_set_is_of_kinds_neither_other_set_holds():
    earlier = {parent_of(c.stem) for c in COMPLEXES + SECOND_SET}
    assert not [c.stem for c in THIRD_SET if parent_of(c.stem) in earlier]
    assert DENTICITY["edta"] == 6 and DENTICITY["terpy"] == DENTICITY["tacn"] == 3 and DENTICITY["porphyrin"] == 4


def test_the_fourth_fifth_and_sixth_sets_leave_the_third_a_test_of_new_kinds():
    """They are trained on, the third is the test: no kind and no ligand that only the third has."""
    third_kinds = {parent_of(c.stem) for c in THIRD_SET}
    assert not [c.stem for c in FOURTH_SET + FIFTH_SET + SIXTH_SET if parent_of(c.stem) in third_kinds]
    earlier_ligands = {ligand for c in COMPLEXES + SECOND_SET for ligand in c.ligands}
    only_third = {ligand for c in THIRD_SET for ligand in c.ligands} - earlier_ligands
    assert {"edta", "tacn", "oxinate", "porphyrin"} <= only_third
    assert not [c.stem for c in FOURTH_SET + FIFTH_SET + SIXTH_SET if set(c.ligands) & only_third]
    assert DENTICITY["tren"] == DENTICITY["nta"] == 4 and DENTICITY["ida"] == 3
