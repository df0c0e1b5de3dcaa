"""scripts/architector_set.py's table: what it asks Architector to build (the building needs Architector
and xTB, which the package does not; the built structures are checked where they are computed)."""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from architector_set import _CN, COMPLEXES, DENTICITY, SHORT  # noqa: E402

from xanesviz.derived_set import metal_of, parent_of, variant_of  # noqa: E402


def test_every_metal_has_five_complexes_with_unique_stems():
    assert Counter(c.metal for c in COMPLEXES) == {m: 5 for m in ("Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")}
    assert len({c.stem for c in COMPLEXES}) == len(COMPLEXES)


def test_the_ligands_fill_the_coordination_of_the_geometry():
    for c in COMPLEXES:
        assert set(c.ligands) <= set(SHORT), c.name
        assert sum(DENTICITY[ligand] for ligand in c.ligands) == c.coordination == _CN[c.geometry], c.name
        assert 0 <= c.unpaired <= 5 and 1 <= c.oxidation <= 5, c.name


def test_stems_name_the_kind_so_that_a_grouped_cv_holds_it_out_for_every_metal():
    kinds = {}
    for c in COMPLEXES:
        assert metal_of(c.stem) == c.metal and variant_of(c.stem) is None
        kinds.setdefault(parent_of(c.stem), set()).add(c.metal)
    assert kinds["acac3-oct"] == {"V", "Cr", "Mn", "Fe", "Co"} and kinds["bipy3-oct"] == {"Mn", "Fe", "Co", "Ni", "Zn"}
