"""Ti–Zn complexes of each metal's own chemistry, built and relaxed by Architector with GFN2-xTB, and their FEFF10 spectra.

    python scripts/architector_set.py --build DIR [--only Cu Zn]           # the structures
    python scripts/architector_set.py OUT --structures DIR [--workers 2]   # their spectra

The derived FEFF10 structures are Fe complexes with the metal swapped, and the textbook set
(``scripts/literature_set.py``) is isolated ions on ideal polyhedra. Neither is what a real Ti–Zn
complex is: a metal with its preferred coordination and real ligands (chelates, phosphines,
N-heterocycles), at a geometry relaxed for that metal. Architector (LANL; ``pip install
architector==0.0.10 xtb tblite numba openbabel-wheel``, none of it needed by the package) builds
such complexes from its ligand library for a metal, oxidation state and coordination number, and
relaxes them with GFN2-xTB, the method of the tmQM geometries the Fe model learned from. The table
``COMPLEXES`` lists 45 common complexes of the nine metals (acetylacetonates, bipyridines,
phenanthrolines, ethylenediamines, oxalates, glycinates, pyridines, phosphines, chlorides, THF,
ammines, oxo ligands), each with its usual geometry and spin state (unpaired electrons on the
metal: high-spin Mn(II), Fe(III) and Co(II), low-spin Fe(II) with bipy and phen and Co(III)). ``--build`` writes one structure each, the lowest-energy of Architector's
conformers, as ``DIR/{metal}/{stem}.xyz`` (skipped when present; a complex Architector cannot build
is reported in one line and left out); with ``OUT``, ``xanesviz simulate`` computes them with the
reference settings into ``OUT/{metal}-k/`` (resumable; the layout of ``data/feff``), so
``benchmarks/literature_complexes.py --data OUT`` scores the shipped models against them.
Stems ``{Metal}_{ligands}-{geometry}`` name the kind of complex, so a grouped CV holds a kind out for every
metal at once (:func:`xanesviz.derived_set.parent_of`).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Complex:
    metal: str
    oxidation: int
    ligands: tuple[str, ...]  # Architector ligand names, one entry per ligand
    name: str
    coordination: int  # the metal's coordination number
    geometry: str  # Architector's core geometry: octahedral, tetrahedral, square_planar, ...
    unpaired: int  # the metal's unpaired electrons (the usual spin state of the complex)

    @property
    def stem(self) -> str:
        counts: dict[str, int] = {}
        for ligand in self.ligands:
            counts[ligand] = counts.get(ligand, 0) + 1
        kind = "-".join(f"{SHORT[l]}{n if n > 1 else ''}" for l, n in counts.items())
        return f"{self.metal}_{kind}-{GEOMETRY_TAGS[self.geometry]}"


#: Short names of the ligands in the stems.
SHORT = {"acac": "acac", "bipy": "bipy", "phen": "phen", "en": "en", "oxalate": "ox", "glycine": "gly",
         "chloride": "Cl", "water": "aqua", "ammonia": "NH3", "pyradine": "py", "thf": "thf", "oxo": "oxo",
         "triphenylphosphine": "PPh3", "cyanide": "CN", "carbonyl": "CO", "cp": "Cp", "dmgh-": "dmg",
         "terpy": "terpy", "tacn": "tacn", "hydroxyl": "OH", "methoxy": "OMe", "acetonitrile": "MeCN",
         "fluoride": "F", "bromide": "Br", "isothiocyanite": "NCS", "nitrite_n": "NO2",
         "oxinate": "oxin", "edta": "edta", "dien": "dien", "dppe": "dppe", "porphyrin": "por",
         "ethoxy": "OEt", "iodide": "I", "azide": "N3", "tmp": "PMe3", "methanol": "MeOH", "nitrosyl": "NO",
         "tren": "tren", "nta": "nta", "ida": "ida", "tp": "Tp", "trithia-9-crown-3": "9S3", "trien": "trien",
         "benzoate": "OBz", "benzoate_mono": "kOBz", "nitrate_mono": "ONO2", "trimethyl_phosphine_oxide": "OPMe3",
         "dppm": "dppm", "pyrazine": "pyz", "thiocyanite": "SCN"}


#: Donor atoms of each ligand (Architector's ligTypes: "mono", "bi_cis").
_CHELATES = {"acac": 2, "bipy": 2, "phen": 2, "en": 2, "oxalate": 2, "glycine": 2, "dmgh-": 2, "oxinate": 2,
             "dppe": 2, "terpy": 3, "tacn": 3, "dien": 3, "porphyrin": 4, "edta": 6,
             "tren": 4, "nta": 4, "ida": 3, "tp": 3, "trithia-9-crown-3": 3, "trien": 4, "benzoate": 2, "dppm": 2}
DENTICITY = {name: _CHELATES.get(name, 1) for name in SHORT}

#: Short names of the geometries in the stems.
GEOMETRY_TAGS = {"octahedral": "oct", "tetrahedral": "td", "square_planar": "sqp", "square_pyramidal": "sqpy",
                 "trigonal_bipyramidal": "tbp"}
_CN = {"octahedral": 6, "tetrahedral": 4, "square_planar": 4, "square_pyramidal": 5, "trigonal_bipyramidal": 5}


def _c(metal, oxidation, ligands, name, geometry, unpaired):
    return Complex(metal, oxidation, tuple(ligands), name, _CN[geometry], geometry, unpaired)


COMPLEXES = [
    _c("Ti", 4, ["chloride"] * 4 + ["thf"] * 2, "TiCl4(thf)2", "octahedral", 0),
    _c("Ti", 4, ["acac", "acac", "chloride", "chloride"], "Ti(acac)2Cl2", "octahedral", 0),
    _c("Ti", 4, ["methoxy"] * 4, "Ti(OMe)4", "tetrahedral", 0),
    _c("Ti", 3, ["water"] * 6, "[Ti(H2O)6]3+ (relaxed)", "octahedral", 1),
    _c("Ti", 4, ["oxalate"] * 3, "[Ti(ox)3]2-", "octahedral", 0),
    _c("V", 4, ["oxo", "acac", "acac"], "VO(acac)2", "square_pyramidal", 1),
    _c("V", 3, ["acac"] * 3, "V(acac)3", "octahedral", 2),
    _c("V", 4, ["oxo", "chloride", "chloride", "thf", "thf"], "VOCl2(thf)2", "square_pyramidal", 1),
    _c("V", 3, ["chloride"] * 3 + ["thf"] * 3, "VCl3(thf)3", "octahedral", 2),
    _c("V", 5, ["oxo", "oxo", "oxalate"], "[VO2(ox)]-", "tetrahedral", 0),
    _c("Cr", 3, ["acac"] * 3, "Cr(acac)3", "octahedral", 3),
    _c("Cr", 3, ["en"] * 3, "[Cr(en)3]3+", "octahedral", 3),
    _c("Cr", 3, ["oxalate"] * 3, "[Cr(ox)3]3-", "octahedral", 3),
    _c("Cr", 3, ["chloride"] * 3 + ["thf"] * 3, "CrCl3(thf)3", "octahedral", 3),
    _c("Cr", 3, ["ammonia"] * 5 + ["chloride"], "[Cr(NH3)5Cl]2+", "octahedral", 3),
    _c("Mn", 3, ["acac"] * 3, "Mn(acac)3", "octahedral", 4),
    _c("Mn", 2, ["bipy"] * 3, "[Mn(bipy)3]2+", "octahedral", 5),
    _c("Mn", 2, ["chloride"] * 2 + ["pyradine"] * 4, "MnCl2(py)4", "octahedral", 5),
    _c("Mn", 2, ["acac", "acac", "water", "water"], "Mn(acac)2(H2O)2", "octahedral", 5),
    _c("Mn", 2, ["chloride"] * 2 + ["triphenylphosphine"] * 2, "MnCl2(PPh3)2", "tetrahedral", 5),
    _c("Fe", 2, ["bipy"] * 3, "[Fe(bipy)3]2+", "octahedral", 0),
    _c("Fe", 3, ["acac"] * 3, "Fe(acac)3", "octahedral", 5),
    _c("Fe", 2, ["phen"] * 3, "[Fe(phen)3]2+", "octahedral", 0),
    _c("Fe", 3, ["oxalate"] * 3, "[Fe(ox)3]3-", "octahedral", 5),
    _c("Fe", 2, ["chloride"] * 2 + ["pyradine"] * 4, "FeCl2(py)4", "octahedral", 4),
    _c("Co", 3, ["en"] * 3, "[Co(en)3]3+", "octahedral", 0),
    _c("Co", 3, ["ammonia"] * 5 + ["chloride"], "[Co(NH3)5Cl]2+", "octahedral", 0),
    _c("Co", 2, ["chloride"] * 2 + ["pyradine"] * 2, "CoCl2(py)2", "tetrahedral", 3),
    _c("Co", 3, ["acac"] * 3, "Co(acac)3", "octahedral", 0),
    _c("Co", 2, ["bipy"] * 3, "[Co(bipy)3]2+", "octahedral", 3),
    _c("Ni", 2, ["dmgh-", "dmgh-"], "Ni(dmgH)2", "square_planar", 0),
    _c("Ni", 2, ["en"] * 3, "[Ni(en)3]2+", "octahedral", 2),
    _c("Ni", 2, ["chloride"] * 2 + ["triphenylphosphine"] * 2, "NiCl2(PPh3)2", "tetrahedral", 2),
    _c("Ni", 2, ["bipy"] * 3, "[Ni(bipy)3]2+", "octahedral", 2),
    _c("Ni", 2, ["acac", "acac"], "Ni(acac)2 (monomer)", "square_planar", 0),
    _c("Cu", 2, ["acac", "acac"], "Cu(acac)2", "square_planar", 1),
    _c("Cu", 2, ["glycine", "glycine"], "Cu(gly)2", "square_planar", 1),
    _c("Cu", 2, ["en", "en"], "[Cu(en)2]2+", "square_planar", 1),
    _c("Cu", 1, ["phen", "phen"], "[Cu(phen)2]+", "tetrahedral", 0),
    _c("Cu", 2, ["bipy", "bipy", "chloride"], "[Cu(bipy)2Cl]+", "trigonal_bipyramidal", 1),
    _c("Zn", 2, ["acac", "acac"], "Zn(acac)2", "tetrahedral", 0),
    _c("Zn", 2, ["en"] * 3, "[Zn(en)3]2+", "octahedral", 0),
    _c("Zn", 2, ["chloride"] * 2 + ["pyradine"] * 2, "ZnCl2(py)2", "tetrahedral", 0),
    _c("Zn", 2, ["glycine", "glycine", "water", "water"], "Zn(gly)2(H2O)2", "octahedral", 0),
    _c("Zn", 2, ["bipy"] * 3, "[Zn(bipy)3]2+", "octahedral", 0),
]


#: A second set, five a metal again, built after the first had gone into the edge models: kinds the
#: first lacks (aqua, ammine, cyano, carbonyl and halide complexes, oxoanions, NCS and nitro ligands,
#: low oxidation states) so that it scores models that learned from the first (``--set 2``).
SECOND_SET = [
    _c("Ti", 4, ["fluoride"] * 6, "[TiF6]2-", "octahedral", 0),
    _c("Ti", 4, ["chloride"] * 6, "[TiCl6]2-", "octahedral", 0),
    _c("Ti", 4, ["chloride"] * 4 + ["acetonitrile"] * 2, "TiCl4(MeCN)2", "octahedral", 0),
    _c("Ti", 3, ["chloride"] * 3 + ["thf"] * 3, "TiCl3(thf)3", "octahedral", 1),
    _c("Ti", 4, ["chloride"] * 4 + ["bipy"], "TiCl4(bipy)", "octahedral", 0),
    _c("V", 3, ["water"] * 6, "[V(H2O)6]3+", "octahedral", 2),
    _c("V", 4, ["oxo"] + ["water"] * 5, "[VO(H2O)5]2+", "octahedral", 1),
    _c("V", 4, ["chloride"] * 4, "VCl4", "tetrahedral", 1),
    _c("V", 2, ["bipy"] * 3, "[V(bipy)3]2+", "octahedral", 3),
    _c("V", 4, ["oxo"] + ["isothiocyanite"] * 4, "[VO(NCS)4]2-", "square_pyramidal", 1),
    _c("Cr", 0, ["carbonyl"] * 6, "Cr(CO)6", "octahedral", 0),
    _c("Cr", 3, ["water"] * 6, "[Cr(H2O)6]3+", "octahedral", 3),
    _c("Cr", 3, ["ammonia"] * 6, "[Cr(NH3)6]3+", "octahedral", 3),
    _c("Cr", 3, ["cyanide"] * 6, "[Cr(CN)6]3-", "octahedral", 3),
    _c("Cr", 6, ["oxo"] * 4, "[CrO4]2-", "tetrahedral", 0),
    _c("Mn", 7, ["oxo"] * 4, "[MnO4]-", "tetrahedral", 0),
    _c("Mn", 2, ["water"] * 6, "[Mn(H2O)6]2+", "octahedral", 5),
    _c("Mn", 1, ["carbonyl"] * 5 + ["bromide"], "Mn(CO)5Br", "octahedral", 0),
    _c("Mn", 2, ["chloride"] * 4, "[MnCl4]2-", "tetrahedral", 5),
    _c("Mn", 2, ["phen", "phen", "chloride", "chloride"], "MnCl2(phen)2", "octahedral", 5),
    _c("Fe", 2, ["cyanide"] * 6, "[Fe(CN)6]4-", "octahedral", 0),
    _c("Fe", 3, ["isothiocyanite"] * 6, "[Fe(NCS)6]3-", "octahedral", 5),
    _c("Fe", 2, ["water"] * 6, "[Fe(H2O)6]2+", "octahedral", 4),
    _c("Fe", 3, ["chloride"] * 4, "[FeCl4]-", "tetrahedral", 5),
    _c("Fe", 0, ["carbonyl"] * 5, "Fe(CO)5", "trigonal_bipyramidal", 0),
    _c("Co", 3, ["ammonia"] * 6, "[Co(NH3)6]3+", "octahedral", 0),
    _c("Co", 2, ["water"] * 6, "[Co(H2O)6]2+", "octahedral", 3),
    _c("Co", 2, ["chloride"] * 4, "[CoCl4]2-", "tetrahedral", 3),
    _c("Co", 3, ["cyanide"] * 6, "[Co(CN)6]3-", "octahedral", 0),
    _c("Co", 3, ["nitrite_n"] * 6, "[Co(NO2)6]3-", "octahedral", 0),
    _c("Ni", 2, ["cyanide"] * 4, "[Ni(CN)4]2-", "square_planar", 0),
    _c("Ni", 2, ["water"] * 6, "[Ni(H2O)6]2+", "octahedral", 2),
    _c("Ni", 2, ["ammonia"] * 6, "[Ni(NH3)6]2+", "octahedral", 2),
    _c("Ni", 2, ["chloride"] * 4, "[NiCl4]2-", "tetrahedral", 2),
    _c("Ni", 0, ["carbonyl"] * 4, "Ni(CO)4", "tetrahedral", 0),
    _c("Cu", 2, ["water"] * 6, "[Cu(H2O)6]2+", "octahedral", 1),
    _c("Cu", 2, ["chloride"] * 4, "[CuCl4]2-", "tetrahedral", 1),
    _c("Cu", 2, ["ammonia"] * 4, "[Cu(NH3)4]2+", "square_planar", 1),
    _c("Cu", 1, ["acetonitrile"] * 4, "[Cu(MeCN)4]+", "tetrahedral", 0),
    _c("Cu", 2, ["pyradine"] * 4, "[Cu(py)4]2+", "square_planar", 1),
    _c("Zn", 2, ["water"] * 6, "[Zn(H2O)6]2+", "octahedral", 0),
    _c("Zn", 2, ["chloride"] * 4, "[ZnCl4]2-", "tetrahedral", 0),
    _c("Zn", 2, ["ammonia"] * 4, "[Zn(NH3)4]2+", "tetrahedral", 0),
    _c("Zn", 2, ["cyanide"] * 4, "[Zn(CN)4]2-", "tetrahedral", 0),
    _c("Zn", 2, ["phen", "chloride", "chloride"], "ZnCl2(phen)", "tetrahedral", 0),
]

#: A third set, built after the edge models had learned from the first two and the textbook ions:
#: kinds none of them holds (edta, 8-quinolinolate (oxinate), tacn, dien, terpy, dppe, porphyrin
#: complexes, bromides, tetrahedral thiocyanates), to score those models (``--set 3``).
THIRD_SET = [
    _c("Ti", 4, ["bromide"] * 4, "TiBr4", "tetrahedral", 0),
    _c("Ti", 4, ["oxinate", "oxinate", "chloride", "chloride"], "TiCl2(oxine)2", "octahedral", 0),
    _c("Ti", 4, ["acac", "acac", "ethoxy", "ethoxy"], "Ti(acac)2(OEt)2", "octahedral", 0),
    _c("Ti", 3, ["tacn"] + ["chloride"] * 3, "TiCl3(tacn)", "octahedral", 1),
    _c("Ti", 4, ["ethoxy"] * 4, "Ti(OEt)4", "tetrahedral", 0),
    _c("V", 3, ["edta"], "[V(edta)]-", "octahedral", 2),
    _c("V", 4, ["oxo", "oxinate", "oxinate"], "VO(oxine)2", "square_pyramidal", 1),
    _c("V", 3, ["tacn"] + ["chloride"] * 3, "VCl3(tacn)", "octahedral", 2),
    _c("V", 4, ["oxo", "chloride", "chloride", "bipy"], "VOCl2(bipy)", "square_pyramidal", 1),
    _c("V", 3, ["oxinate"] * 3, "V(oxine)3", "octahedral", 2),
    _c("Cr", 3, ["edta"], "[Cr(edta)]-", "octahedral", 3),
    _c("Cr", 3, ["oxinate"] * 3, "Cr(oxine)3", "octahedral", 3),
    _c("Cr", 3, ["dien", "dien"], "[Cr(dien)2]3+", "octahedral", 3),
    _c("Cr", 3, ["chloride"] * 3 + ["pyradine"] * 3, "CrCl3(py)3", "octahedral", 3),
    _c("Cr", 3, ["tacn", "tacn"], "[Cr(tacn)2]3+", "octahedral", 3),
    _c("Mn", 2, ["edta"], "[Mn(edta)]2-", "octahedral", 5),
    _c("Mn", 2, ["isothiocyanite"] * 4, "[Mn(NCS)4]2-", "tetrahedral", 5),
    _c("Mn", 3, ["oxinate"] * 3, "Mn(oxine)3", "octahedral", 4),
    _c("Mn", 2, ["bromide", "bromide", "triphenylphosphine", "triphenylphosphine"], "MnBr2(PPh3)2", "tetrahedral", 5),
    _c("Mn", 2, ["dien", "dien"], "[Mn(dien)2]2+", "octahedral", 5),
    _c("Fe", 3, ["edta"], "[Fe(edta)]-", "octahedral", 5),
    _c("Fe", 3, ["oxinate"] * 3, "Fe(oxine)3", "octahedral", 5),
    _c("Fe", 3, ["tacn", "tacn"], "[Fe(tacn)2]3+", "octahedral", 1),
    _c("Fe", 3, ["bromide"] * 4, "[FeBr4]-", "tetrahedral", 5),
    _c("Fe", 3, ["porphyrin", "chloride"], "Fe(porphyrin)Cl", "square_pyramidal", 5),
    _c("Co", 3, ["edta"], "[Co(edta)]-", "octahedral", 0),
    _c("Co", 3, ["dien", "dien"], "[Co(dien)2]3+", "octahedral", 0),
    _c("Co", 2, ["isothiocyanite"] * 4, "[Co(NCS)4]2-", "tetrahedral", 3),
    _c("Co", 2, ["bromide", "bromide", "triphenylphosphine", "triphenylphosphine"], "CoBr2(PPh3)2", "tetrahedral", 3),
    _c("Co", 2, ["terpy", "terpy"], "[Co(terpy)2]2+", "octahedral", 1),
    _c("Ni", 2, ["edta"], "[Ni(edta)]2-", "octahedral", 2),
    _c("Ni", 2, ["oxinate", "oxinate"], "Ni(oxine)2", "square_planar", 0),
    _c("Ni", 2, ["dien", "dien"], "[Ni(dien)2]2+", "octahedral", 2),
    _c("Ni", 2, ["bromide", "bromide", "triphenylphosphine", "triphenylphosphine"], "NiBr2(PPh3)2", "tetrahedral", 2),
    _c("Ni", 2, ["terpy", "terpy"], "[Ni(terpy)2]2+", "octahedral", 2),
    _c("Cu", 2, ["oxinate", "oxinate"], "Cu(oxine)2", "square_planar", 1),
    _c("Cu", 2, ["dien", "chloride"], "[Cu(dien)Cl]+", "square_planar", 1),
    _c("Cu", 2, ["edta"], "[Cu(edta)]2-", "octahedral", 1),
    _c("Cu", 2, ["bromide"] * 4, "[CuBr4]2-", "tetrahedral", 1),
    _c("Cu", 1, ["dppe", "dppe"], "[Cu(dppe)2]+", "tetrahedral", 0),
    _c("Zn", 2, ["edta"], "[Zn(edta)]2-", "octahedral", 0),
    _c("Zn", 2, ["oxinate", "oxinate"], "Zn(oxine)2", "tetrahedral", 0),
    _c("Zn", 2, ["bromide", "bromide", "pyradine", "pyradine"], "ZnBr2(py)2", "tetrahedral", 0),
    _c("Zn", 2, ["tacn", "tacn"], "[Zn(tacn)2]2+", "octahedral", 0),
    _c("Zn", 2, ["isothiocyanite"] * 4, "[Zn(NCS)4]2-", "tetrahedral", 0),
]

#: A fourth set, ten a metal, built to train on while the third stays the test: mixed-ligand
#: complexes of the earlier sets' ligands and kinds none of the sets holds (iodides, azides, PMe3,
#: methanol, nitroprusside, tren, nta and iminodiacetate), and no ligand that only the third set has
#: (``--set 4``).
FOURTH_SET = [
    _c("Ti", 4, ["iodide"] * 4, "TiI4", "tetrahedral", 0),
    _c("Ti", 4, ["chloride"] * 4 + ["tmp"] * 2, "TiCl4(PMe3)2", "octahedral", 0),
    _c("Ti", 4, ["isothiocyanite"] * 6, "[Ti(NCS)6]2-", "octahedral", 0),
    _c("Ti", 4, ["chloride"] * 4 + ["pyradine"] * 2, "TiCl4(py)2", "octahedral", 0),
    _c("Ti", 3, ["chloride"] * 3 + ["acetonitrile"] * 3, "TiCl3(MeCN)3", "octahedral", 1),
    _c("Ti", 4, ["chloride"] * 4 + ["en"], "TiCl4(en)", "octahedral", 0),
    _c("Ti", 4, ["acac", "acac", "methoxy", "methoxy"], "Ti(acac)2(OMe)2", "octahedral", 0),
    _c("Ti", 4, ["chloride"] * 4 + ["phen"], "TiCl4(phen)", "octahedral", 0),
    _c("Ti", 4, ["oxalate", "oxalate", "water", "water"], "Ti(ox)2(H2O)2", "octahedral", 0),
    _c("Ti", 4, ["chloride"] * 4 + ["methanol"] * 2, "TiCl4(MeOH)2", "octahedral", 0),
    _c("V", 5, ["oxo"] + ["chloride"] * 3, "VOCl3", "tetrahedral", 0),
    _c("V", 4, ["oxo", "oxalate", "oxalate", "water"], "[VO(ox)2(H2O)]2-", "octahedral", 1),
    _c("V", 4, ["oxo", "acac", "acac", "pyradine"], "VO(acac)2(py)", "octahedral", 1),
    _c("V", 3, ["isothiocyanite"] * 6, "[V(NCS)6]3-", "octahedral", 2),
    _c("V", 3, ["chloride"] * 3 + ["acetonitrile"] * 3, "VCl3(MeCN)3", "octahedral", 2),
    _c("V", 4, ["oxo", "ida", "water", "water"], "VO(ida)(H2O)2", "octahedral", 1),
    _c("V", 5, ["oxo"] + ["methoxy"] * 3, "VO(OMe)3", "tetrahedral", 0),
    _c("V", 3, ["en"] * 3, "[V(en)3]3+", "octahedral", 2),
    _c("V", 3, ["chloride"] * 3 + ["tmp"] * 2, "VCl3(PMe3)2", "trigonal_bipyramidal", 2),
    _c("V", 3, ["oxalate"] * 3, "[V(ox)3]3-", "octahedral", 2),
    _c("Cr", 3, ["isothiocyanite"] * 6, "[Cr(NCS)6]3-", "octahedral", 3),
    _c("Cr", 3, ["chloride"] * 3 + ["acetonitrile"] * 3, "CrCl3(MeCN)3", "octahedral", 3),
    _c("Cr", 3, ["glycine"] * 3, "Cr(gly)3", "octahedral", 3),
    _c("Cr", 3, ["bipy"] * 3, "[Cr(bipy)3]3+", "octahedral", 3),
    _c("Cr", 3, ["phen", "phen", "chloride", "chloride"], "[CrCl2(phen)2]+", "octahedral", 3),
    _c("Cr", 0, ["carbonyl"] * 5 + ["triphenylphosphine"], "Cr(CO)5(PPh3)", "octahedral", 0),
    _c("Cr", 3, ["en", "en", "chloride", "chloride"], "[CrCl2(en)2]+", "octahedral", 3),
    _c("Cr", 3, ["ammonia"] * 5 + ["water"], "[Cr(NH3)5(H2O)]3+", "octahedral", 3),
    _c("Cr", 6, ["oxo", "oxo", "chloride", "chloride"], "CrO2Cl2", "tetrahedral", 0),
    _c("Cr", 3, ["water"] * 4 + ["chloride"] * 2, "[CrCl2(H2O)4]+", "octahedral", 3),
    _c("Mn", 2, ["isothiocyanite"] * 6, "[Mn(NCS)6]4-", "octahedral", 5),
    _c("Mn", 2, ["chloride"] * 2 + ["water"] * 4, "MnCl2(H2O)4", "octahedral", 5),
    _c("Mn", 2, ["en"] * 3, "[Mn(en)3]2+", "octahedral", 5),
    _c("Mn", 2, ["glycine", "glycine", "water", "water"], "Mn(gly)2(H2O)2", "octahedral", 5),
    _c("Mn", 2, ["ida", "ida"], "[Mn(ida)2]2-", "octahedral", 5),
    _c("Mn", 2, ["iodide", "iodide", "triphenylphosphine", "triphenylphosphine"], "MnI2(PPh3)2", "tetrahedral", 5),
    _c("Mn", 1, ["carbonyl"] * 5 + ["chloride"], "Mn(CO)5Cl", "octahedral", 0),
    _c("Mn", 3, ["oxalate"] * 3, "[Mn(ox)3]3-", "octahedral", 4),
    _c("Mn", 2, ["bipy", "bipy", "chloride", "chloride"], "MnCl2(bipy)2", "octahedral", 5),
    _c("Mn", 2, ["acac", "acac", "pyradine", "pyradine"], "Mn(acac)2(py)2", "octahedral", 5),
    _c("Fe", 3, ["oxalate", "oxalate", "water", "water"], "[Fe(ox)2(H2O)2]-", "octahedral", 5),
    _c("Fe", 2, ["isothiocyanite"] * 2 + ["pyradine"] * 4, "Fe(NCS)2(py)4", "octahedral", 4),
    _c("Fe", 2, ["cyanide"] * 5 + ["nitrosyl"], "[Fe(CN)5(NO)]2- (nitroprusside)", "octahedral", 0),
    _c("Fe", 2, ["en"] * 3, "[Fe(en)3]2+", "octahedral", 4),
    _c("Fe", 3, ["glycine"] * 3, "Fe(gly)3", "octahedral", 5),
    _c("Fe", 2, ["acac", "acac", "water", "water"], "Fe(acac)2(H2O)2", "octahedral", 4),
    _c("Fe", 2, ["iodide", "iodide", "triphenylphosphine", "triphenylphosphine"], "FeI2(PPh3)2", "tetrahedral", 4),
    _c("Fe", 3, ["ida", "ida"], "[Fe(ida)2]-", "octahedral", 5),
    _c("Fe", 0, ["carbonyl"] * 4 + ["triphenylphosphine"], "Fe(CO)4(PPh3)", "trigonal_bipyramidal", 0),
    _c("Fe", 2, ["tren", "isothiocyanite", "isothiocyanite"], "Fe(tren)(NCS)2", "octahedral", 4),
    _c("Co", 3, ["ammonia"] * 4 + ["chloride"] * 2, "[CoCl2(NH3)4]+", "octahedral", 0),
    _c("Co", 3, ["en", "en", "chloride", "chloride"], "[CoCl2(en)2]+", "octahedral", 0),
    _c("Co", 3, ["oxalate"] * 3, "[Co(ox)3]3-", "octahedral", 0),
    _c("Co", 3, ["glycine"] * 3, "Co(gly)3", "octahedral", 0),
    _c("Co", 2, ["azide"] * 4, "[Co(N3)4]2-", "tetrahedral", 3),
    _c("Co", 2, ["iodide", "iodide", "triphenylphosphine", "triphenylphosphine"], "CoI2(PPh3)2", "tetrahedral", 3),
    _c("Co", 2, ["isothiocyanite"] * 2 + ["pyradine"] * 4, "Co(NCS)2(py)4", "octahedral", 3),
    _c("Co", 3, ["phen"] * 3, "[Co(phen)3]3+", "octahedral", 0),
    _c("Co", 3, ["tren", "chloride", "chloride"], "[CoCl2(tren)]+", "octahedral", 0),
    _c("Co", 2, ["nta", "water", "water"], "[Co(nta)(H2O)2]-", "octahedral", 3),
    _c("Ni", 2, ["isothiocyanite"] * 6, "[Ni(NCS)6]4-", "octahedral", 2),
    _c("Ni", 2, ["acac", "acac", "water", "water"], "Ni(acac)2(H2O)2", "octahedral", 2),
    _c("Ni", 2, ["phen"] * 3, "[Ni(phen)3]2+", "octahedral", 2),
    _c("Ni", 2, ["iodide", "iodide", "triphenylphosphine", "triphenylphosphine"], "NiI2(PPh3)2", "tetrahedral", 2),
    _c("Ni", 2, ["chloride"] * 2 + ["pyradine"] * 4, "NiCl2(py)4", "octahedral", 2),
    _c("Ni", 2, ["en", "en"], "[Ni(en)2]2+", "square_planar", 0),
    _c("Ni", 2, ["glycine", "glycine", "water", "water"], "Ni(gly)2(H2O)2", "octahedral", 2),
    _c("Ni", 2, ["chloride", "chloride", "tmp", "tmp"], "NiCl2(PMe3)2", "square_planar", 0),
    _c("Ni", 2, ["tren", "water", "water"], "[Ni(tren)(H2O)2]2+", "octahedral", 2),
    _c("Ni", 2, ["ammonia"] * 4 + ["water"] * 2, "[Ni(NH3)4(H2O)2]2+", "octahedral", 2),
    _c("Cu", 1, ["bipy", "bipy"], "[Cu(bipy)2]+", "tetrahedral", 0),
    _c("Cu", 1, ["chloride"] + ["triphenylphosphine"] * 3, "CuCl(PPh3)3", "tetrahedral", 0),
    _c("Cu", 2, ["chloride", "chloride", "pyradine", "pyradine"], "CuCl2(py)2", "square_planar", 1),
    _c("Cu", 2, ["oxalate", "oxalate"], "[Cu(ox)2]2-", "square_planar", 1),
    _c("Cu", 2, ["phen", "chloride", "chloride"], "CuCl2(phen)", "square_planar", 1),
    _c("Cu", 2, ["tren", "chloride"], "[CuCl(tren)]+", "trigonal_bipyramidal", 1),
    _c("Cu", 2, ["ammonia"] * 4 + ["water"] * 2, "[Cu(NH3)4(H2O)2]2+", "octahedral", 1),
    _c("Cu", 1, ["iodide"] + ["triphenylphosphine"] * 3, "CuI(PPh3)3", "tetrahedral", 0),
    _c("Cu", 1, ["cyanide"] * 4, "[Cu(CN)4]3-", "tetrahedral", 0),
    _c("Cu", 2, ["nta", "water"], "[Cu(nta)(H2O)]-", "trigonal_bipyramidal", 1),
    _c("Zn", 2, ["azide"] * 4, "[Zn(N3)4]2-", "tetrahedral", 0),
    _c("Zn", 2, ["iodide"] * 4, "[ZnI4]2-", "tetrahedral", 0),
    _c("Zn", 2, ["en", "en"], "[Zn(en)2]2+", "tetrahedral", 0),
    _c("Zn", 2, ["phen"] * 3, "[Zn(phen)3]2+", "octahedral", 0),
    _c("Zn", 2, ["chloride", "chloride", "triphenylphosphine", "triphenylphosphine"], "ZnCl2(PPh3)2", "tetrahedral", 0),
    _c("Zn", 2, ["tren", "chloride"], "[ZnCl(tren)]+", "trigonal_bipyramidal", 0),
    _c("Zn", 2, ["acac", "acac", "water"], "Zn(acac)2(H2O)", "square_pyramidal", 0),
    _c("Zn", 2, ["pyradine"] * 4, "[Zn(py)4]2+", "tetrahedral", 0),
    _c("Zn", 2, ["oxalate", "oxalate", "water", "water"], "[Zn(ox)2(H2O)2]2-", "octahedral", 0),
    _c("Zn", 2, ["nta", "water"], "[Zn(nta)(H2O)]-", "trigonal_bipyramidal", 0),
]

#: A fifth set, ten a metal, built to train on beside the fourth (``--set 5``): more mixed-ligand
#: complexes of the same rules (no kind and no ligand that only the third set has).
FIFTH_SET = [
    _c("Ti", 4, ["methoxy"] * 2 + ["chloride"] * 2 + ["thf"] * 2, "TiCl2(OMe)2(thf)2", "octahedral", 0),
    _c("Ti", 4, ["chloride"] * 4 + ["water"] * 2, "TiCl4(H2O)2", "octahedral", 0),
    _c("Ti", 4, ["fluoride"] * 4 + ["acetonitrile"] * 2, "TiF4(MeCN)2", "octahedral", 0),
    _c("Ti", 3, ["chloride"] * 2 + ["water"] * 4, "[TiCl2(H2O)4]+", "octahedral", 1),
    _c("Ti", 3, ["chloride"] * 3 + ["ammonia"] * 3, "TiCl3(NH3)3", "octahedral", 1),
    _c("Ti", 4, ["hydroxyl"] * 2 + ["water"] * 4, "[Ti(OH)2(H2O)4]2+", "octahedral", 0),
    _c("Ti", 4, ["acac"] + ["chloride"] * 3 + ["thf"], "Ti(acac)Cl3(thf)", "octahedral", 0),
    _c("Ti", 4, ["chloride"] * 4 + ["triphenylphosphine"], "TiCl4(PPh3)", "trigonal_bipyramidal", 0),
    _c("Ti", 4, ["methoxy"] * 4 + ["methanol"] * 2, "Ti(OMe)4(MeOH)2", "octahedral", 0),
    _c("Ti", 4, ["fluoride"] * 5 + ["water"], "[TiF5(H2O)]-", "octahedral", 0),
    _c("V", 4, ["oxo", "acac", "acac", "methanol"], "VO(acac)2(MeOH)", "octahedral", 1),
    _c("V", 4, ["oxo"] + ["chloride"] * 4, "[VOCl4]2-", "square_pyramidal", 1),
    _c("V", 4, ["oxo", "oxalate"] + ["water"] * 3, "VO(ox)(H2O)3", "octahedral", 1),
    _c("V", 3, ["oxalate", "oxalate", "water", "water"], "[V(ox)2(H2O)2]-", "octahedral", 2),
    _c("V", 2, ["chloride"] * 2 + ["pyradine"] * 4, "VCl2(py)4", "octahedral", 3),
    _c("V", 5, ["oxo", "oxo", "chloride", "bipy"], "VO2Cl(bipy)", "square_pyramidal", 0),
    _c("V", 3, ["fluoride"] * 6, "[VF6]3-", "octahedral", 2),
    _c("V", 5, ["oxo"] + ["fluoride"] * 4, "[VOF4]-", "square_pyramidal", 0),
    _c("V", 3, ["ammonia"] * 6, "[V(NH3)6]3+", "octahedral", 2),
    _c("V", 4, ["oxo", "chloride", "chloride", "acetonitrile", "acetonitrile"], "VOCl2(MeCN)2", "square_pyramidal", 1),
    _c("Cr", 2, ["acac", "acac", "water", "water"], "Cr(acac)2(H2O)2", "octahedral", 4),
    _c("Cr", 3, ["fluoride"] * 6, "[CrF6]3-", "octahedral", 3),
    _c("Cr", 3, ["chloride"] * 3 + ["ammonia"] * 3, "CrCl3(NH3)3", "octahedral", 3),
    _c("Cr", 3, ["oxalate", "oxalate", "water", "water"], "[Cr(ox)2(H2O)2]-", "octahedral", 3),
    _c("Cr", 2, ["chloride"] * 2 + ["pyradine"] * 4, "CrCl2(py)4", "octahedral", 4),
    _c("Cr", 0, ["carbonyl"] * 4 + ["bipy"], "Cr(CO)4(bipy)", "octahedral", 0),
    _c("Cr", 0, ["carbonyl"] * 3 + ["tmp"] * 3, "Cr(CO)3(PMe3)3", "octahedral", 0),
    _c("Cr", 3, ["en", "oxalate", "oxalate"], "[Cr(en)(ox)2]-", "octahedral", 3),
    _c("Cr", 6, ["oxo"] * 3 + ["chloride"], "[CrO3Cl]-", "tetrahedral", 0),
    _c("Cr", 3, ["ammonia"] * 4 + ["chloride"] * 2, "[CrCl2(NH3)4]+", "octahedral", 3),
    _c("Mn", 4, ["fluoride"] * 6, "[MnF6]2-", "octahedral", 3),
    _c("Mn", 2, ["acac", "acac", "methanol", "methanol"], "Mn(acac)2(MeOH)2", "octahedral", 5),
    _c("Mn", 2, ["ammonia"] * 6, "[Mn(NH3)6]2+", "octahedral", 5),
    _c("Mn", 2, ["chloride"] * 2 + ["thf"] * 2, "MnCl2(thf)2", "tetrahedral", 5),
    _c("Mn", 3, ["cyanide"] * 6, "[Mn(CN)6]3-", "octahedral", 2),
    _c("Mn", 1, ["carbonyl"] * 3 + ["bipy", "chloride"], "Mn(CO)3(bipy)Cl", "octahedral", 0),
    _c("Mn", 2, ["glycine"] * 3, "[Mn(gly)3]-", "octahedral", 5),
    _c("Mn", 3, ["chloride"] * 5, "[MnCl5]2-", "square_pyramidal", 4),
    _c("Mn", 2, ["oxalate", "oxalate", "water", "water"], "[Mn(ox)2(H2O)2]2-", "octahedral", 5),
    _c("Mn", 2, ["azide"] * 4, "[Mn(N3)4]2-", "tetrahedral", 5),
    _c("Fe", 3, ["fluoride"] * 6, "[FeF6]3-", "octahedral", 5),
    _c("Fe", 2, ["ammonia"] * 6, "[Fe(NH3)6]2+", "octahedral", 4),
    _c("Fe", 2, ["chloride"] * 2 + ["thf"] * 2, "FeCl2(thf)2", "tetrahedral", 4),
    _c("Fe", 2, ["glycine", "glycine", "water", "water"], "Fe(gly)2(H2O)2", "octahedral", 4),
    _c("Fe", 0, ["carbonyl"] * 3 + ["triphenylphosphine"] * 2, "Fe(CO)3(PPh3)2", "trigonal_bipyramidal", 0),
    _c("Fe", 2, ["cyanide"] * 5 + ["ammonia"], "[Fe(CN)5(NH3)]3-", "octahedral", 0),
    _c("Fe", 3, ["chloride"] * 5 + ["water"], "[FeCl5(H2O)]2-", "octahedral", 5),
    _c("Fe", 2, ["acac", "acac", "pyradine", "pyradine"], "Fe(acac)2(py)2", "octahedral", 4),
    _c("Fe", 3, ["azide"] * 4, "[Fe(N3)4]-", "tetrahedral", 5),
    _c("Fe", 2, ["bipy", "bipy", "chloride", "chloride"], "FeCl2(bipy)2", "octahedral", 4),
    _c("Co", 3, ["ammonia"] * 5 + ["water"], "[Co(NH3)5(H2O)]3+", "octahedral", 0),
    _c("Co", 3, ["cyanide"] * 5 + ["water"], "[Co(CN)5(H2O)]2-", "octahedral", 0),
    _c("Co", 2, ["acac", "acac", "water", "water"], "Co(acac)2(H2O)2", "octahedral", 3),
    _c("Co", 3, ["fluoride"] * 6, "[CoF6]3-", "octahedral", 4),
    _c("Co", 2, ["chloride"] * 2 + ["thf"] * 2, "CoCl2(thf)2", "tetrahedral", 3),
    _c("Co", 3, ["en", "en", "oxalate"], "[Co(en)2(ox)]+", "octahedral", 0),
    _c("Co", 3, ["bipy", "bipy", "chloride", "chloride"], "[CoCl2(bipy)2]+", "octahedral", 0),
    _c("Co", 2, ["glycine", "glycine", "water", "water"], "Co(gly)2(H2O)2", "octahedral", 3),
    _c("Co", 3, ["nitrite_n"] * 4 + ["ammonia"] * 2, "[Co(NO2)4(NH3)2]-", "octahedral", 0),
    _c("Co", 2, ["chloride"] * 2 + ["pyradine"] * 4, "CoCl2(py)4", "octahedral", 3),
    _c("Ni", 2, ["cyanide"] * 5, "[Ni(CN)5]3-", "square_pyramidal", 0),
    _c("Ni", 2, ["oxalate", "oxalate", "water", "water"], "[Ni(ox)2(H2O)2]2-", "octahedral", 2),
    _c("Ni", 2, ["bipy", "bipy", "chloride", "chloride"], "NiCl2(bipy)2", "octahedral", 2),
    _c("Ni", 2, ["en", "en", "chloride", "chloride"], "NiCl2(en)2", "octahedral", 2),
    _c("Ni", 0, ["carbonyl"] * 3 + ["triphenylphosphine"], "Ni(CO)3(PPh3)", "tetrahedral", 0),
    _c("Ni", 0, ["tmp"] * 4, "Ni(PMe3)4", "tetrahedral", 0),
    _c("Ni", 2, ["glycine"] * 3, "[Ni(gly)3]-", "octahedral", 2),
    _c("Ni", 2, ["acac", "acac", "pyradine", "pyradine"], "Ni(acac)2(py)2", "octahedral", 2),
    _c("Ni", 2, ["en"] + ["water"] * 4, "[Ni(en)(H2O)4]2+", "octahedral", 2),
    _c("Ni", 2, ["tren", "chloride", "chloride"], "NiCl2(tren)", "octahedral", 2),
    _c("Cu", 2, ["en", "en", "water", "water"], "[Cu(en)2(H2O)2]2+", "octahedral", 1),
    _c("Cu", 2, ["bipy", "chloride", "chloride"], "CuCl2(bipy)", "square_planar", 1),
    _c("Cu", 2, ["glycine", "glycine", "water"], "Cu(gly)2(H2O)", "square_pyramidal", 1),
    _c("Cu", 1, ["acetonitrile", "acetonitrile", "triphenylphosphine", "triphenylphosphine"],
       "[Cu(MeCN)2(PPh3)2]+", "tetrahedral", 0),
    _c("Cu", 2, ["acac", "acac", "pyradine"], "Cu(acac)2(py)", "square_pyramidal", 1),
    _c("Cu", 2, ["oxalate", "bipy"], "Cu(ox)(bipy)", "square_planar", 1),
    _c("Cu", 1, ["chloride"] + ["tmp"] * 3, "CuCl(PMe3)3", "tetrahedral", 0),
    _c("Cu", 2, ["isothiocyanite", "isothiocyanite", "pyradine", "pyradine"], "Cu(NCS)2(py)2", "square_planar", 1),
    _c("Cu", 2, ["tren", "ammonia"], "[Cu(tren)(NH3)]2+", "trigonal_bipyramidal", 1),
    _c("Cu", 2, ["en", "oxalate"], "Cu(en)(ox)", "square_planar", 1),
    _c("Zn", 2, ["acac", "acac", "pyradine"], "Zn(acac)2(py)", "square_pyramidal", 0),
    _c("Zn", 2, ["glycine", "glycine"], "Zn(gly)2", "tetrahedral", 0),
    _c("Zn", 2, ["chloride"] * 2 + ["thf"] * 2, "ZnCl2(thf)2", "tetrahedral", 0),
    _c("Zn", 2, ["iodide", "iodide", "pyradine", "pyradine"], "ZnI2(py)2", "tetrahedral", 0),
    _c("Zn", 2, ["ammonia", "ammonia", "chloride", "chloride"], "ZnCl2(NH3)2", "tetrahedral", 0),
    _c("Zn", 2, ["bipy", "bipy", "chloride"], "[ZnCl(bipy)2]+", "trigonal_bipyramidal", 0),
    _c("Zn", 2, ["oxalate"] * 3, "[Zn(ox)3]4-", "octahedral", 0),
    _c("Zn", 2, ["iodide", "iodide", "triphenylphosphine", "triphenylphosphine"], "ZnI2(PPh3)2", "tetrahedral", 0),
    _c("Zn", 2, ["chloride"] * 3 + ["water"], "[ZnCl3(H2O)]-", "tetrahedral", 0),
    _c("Zn", 2, ["tren", "water"], "[Zn(tren)(H2O)]2+", "trigonal_bipyramidal", 0),
]

#: A sixth set, ten a metal, to train on beside the fourth and fifth (``--set 6``): donors and
#: ligands none of the sets holds (tris(pyrazolyl)borate, the S3 crown [9]aneS3, trien, carboxylates
#: bound through one or two O, nitrate, trimethylphosphine oxide, dppm, pyrazine, S-bound
#: thiocyanate), under the same rules (no kind and no ligand that only the third set has).
SIXTH_SET = [
    _c("Ti", 4, ["chloride"] * 4 + ["trimethyl_phosphine_oxide"] * 2, "TiCl4(OPMe3)2", "octahedral", 0),
    _c("Ti", 4, ["tp"] + ["chloride"] * 3, "TpTiCl3", "octahedral", 0),
    _c("Ti", 4, ["benzoate", "benzoate", "chloride", "chloride"], "TiCl2(O2CPh)2", "octahedral", 0),
    _c("Ti", 4, ["oxo"] + ["water"] * 5, "[TiO(H2O)5]2+", "octahedral", 0),
    _c("Ti", 4, ["chloride"] * 5 + ["acetonitrile"], "[TiCl5(MeCN)]-", "octahedral", 0),
    _c("Ti", 4, ["fluoride"] * 4 + ["water"] * 2, "TiF4(H2O)2", "octahedral", 0),
    _c("Ti", 3, ["trithia-9-crown-3"] + ["chloride"] * 3, "TiCl3([9]aneS3)", "octahedral", 1),
    _c("Ti", 4, ["chloride"] * 4 + ["dppm"], "TiCl4(dppm)", "octahedral", 0),
    _c("Ti", 4, ["chloride"] * 4 + ["pyrazine"] * 2, "TiCl4(pyz)2", "octahedral", 0),
    _c("Ti", 3, ["trien", "chloride", "chloride"], "[TiCl2(trien)]+", "octahedral", 1),
    _c("V", 4, ["oxo", "chloride", "chloride"] + ["trimethyl_phosphine_oxide"] * 2, "VOCl2(OPMe3)2",
       "square_pyramidal", 1),
    _c("V", 3, ["tp", "tp"], "[VTp2]+", "octahedral", 2),
    _c("V", 4, ["chloride"] * 4 + ["thf"] * 2, "VCl4(thf)2", "octahedral", 1),
    _c("V", 3, ["cyanide"] * 6, "[V(CN)6]3-", "octahedral", 2),
    _c("V", 0, ["carbonyl"] * 6, "V(CO)6", "octahedral", 1),
    _c("V", 5, ["oxo", "oxo", "oxalate", "oxalate"], "[VO2(ox)2]3-", "octahedral", 0),
    _c("V", 2, ["chloride", "chloride", "en", "en"], "VCl2(en)2", "octahedral", 3),
    _c("V", 4, ["oxo", "bipy", "bipy", "chloride"], "[VO(bipy)2Cl]+", "octahedral", 1),
    _c("V", 4, ["oxo", "benzoate_mono", "benzoate_mono"] + ["water"] * 3, "VO(O2CPh)2(H2O)3", "octahedral", 1),
    _c("V", 3, ["trithia-9-crown-3"] + ["chloride"] * 3, "VCl3([9]aneS3)", "octahedral", 2),
    _c("Cr", 3, ["tp", "tp"], "[CrTp2]+", "octahedral", 3),
    _c("Cr", 3, ["trien", "chloride", "chloride"], "[CrCl2(trien)]+", "octahedral", 3),
    _c("Cr", 2, ["chloride", "chloride", "thf", "thf"], "CrCl2(thf)2", "square_planar", 4),
    _c("Cr", 0, ["carbonyl"] * 3 + ["acetonitrile"] * 3, "Cr(CO)3(MeCN)3", "octahedral", 0),
    _c("Cr", 3, ["oxalate"] + ["water"] * 4, "[Cr(ox)(H2O)4]+", "octahedral", 3),
    _c("Cr", 0, ["carbonyl"] * 5 + ["pyradine"], "Cr(CO)5(py)", "octahedral", 0),
    _c("Cr", 3, ["trithia-9-crown-3"] + ["chloride"] * 3, "CrCl3([9]aneS3)", "octahedral", 3),
    _c("Cr", 3, ["chloride"] * 3 + ["trimethyl_phosphine_oxide"] * 3, "CrCl3(OPMe3)3", "octahedral", 3),
    _c("Cr", 3, ["nitrate_mono"] * 3 + ["water"] * 3, "Cr(NO3)3(H2O)3", "octahedral", 3),
    _c("Cr", 0, ["carbonyl"] * 4 + ["dppm"], "Cr(CO)4(dppm)", "octahedral", 0),
    _c("Mn", 2, ["chloride", "chloride"] + ["trimethyl_phosphine_oxide"] * 2, "MnCl2(OPMe3)2", "tetrahedral", 5),
    _c("Mn", 2, ["benzoate_mono", "benzoate_mono"] + ["water"] * 4, "Mn(O2CPh)2(H2O)4", "octahedral", 5),
    _c("Mn", 2, ["tp", "tp"], "MnTp2", "octahedral", 5),
    _c("Mn", 1, ["carbonyl"] * 5 + ["iodide"], "Mn(CO)5I", "octahedral", 0),
    _c("Mn", 2, ["trien", "chloride", "chloride"], "MnCl2(trien)", "octahedral", 5),
    _c("Mn", 2, ["nitrate_mono"] * 2 + ["water"] * 4, "Mn(NO3)2(H2O)4", "octahedral", 5),
    _c("Mn", 2, ["bipy"] + ["water"] * 4, "[Mn(bipy)(H2O)4]2+", "octahedral", 5),
    _c("Mn", 3, ["acac", "acac", "chloride"], "Mn(acac)2Cl", "square_pyramidal", 4),
    _c("Mn", 2, ["trithia-9-crown-3", "trithia-9-crown-3"], "[Mn([9]aneS3)2]2+", "octahedral", 5),
    _c("Mn", 1, ["carbonyl"] * 3 + ["tp"], "TpMn(CO)3", "octahedral", 0),
    _c("Fe", 2, ["tp", "tp"], "FeTp2", "octahedral", 0),
    _c("Fe", 3, ["trithia-9-crown-3"] + ["chloride"] * 3, "FeCl3([9]aneS3)", "octahedral", 5),
    _c("Fe", 3, ["nitrate_mono"] * 3 + ["water"] * 3, "Fe(NO3)3(H2O)3", "octahedral", 5),
    _c("Fe", 3, ["chloride"] * 3 + ["trimethyl_phosphine_oxide"] * 2, "FeCl3(OPMe3)2", "trigonal_bipyramidal", 5),
    _c("Fe", 3, ["trien", "chloride", "chloride"], "[FeCl2(trien)]+", "octahedral", 5),
    _c("Fe", 2, ["trithia-9-crown-3", "trithia-9-crown-3"], "[Fe([9]aneS3)2]2+", "octahedral", 0),
    _c("Fe", 3, ["acac", "acac", "chloride"], "Fe(acac)2Cl", "square_pyramidal", 5),
    _c("Fe", 2, ["oxalate"] + ["water"] * 4, "Fe(ox)(H2O)4", "octahedral", 4),
    _c("Fe", 2, ["benzoate_mono", "benzoate_mono"] + ["pyradine"] * 4, "Fe(O2CPh)2(py)4", "octahedral", 4),
    _c("Fe", 2, ["pyrazine"] * 2 + ["isothiocyanite"] * 2 + ["water"] * 2, "Fe(NCS)2(pyz)2(H2O)2", "octahedral", 4),
    _c("Co", 2, ["tp", "tp"], "CoTp2", "octahedral", 3),
    _c("Co", 3, ["trien", "chloride", "chloride"], "[CoCl2(trien)]+", "octahedral", 0),
    _c("Co", 2, ["nitrate_mono"] * 2 + ["water"] * 4, "Co(NO3)2(H2O)4", "octahedral", 3),
    _c("Co", 2, ["benzoate_mono", "benzoate_mono", "pyradine", "pyradine"], "Co(O2CPh)2(py)2", "tetrahedral", 3),
    _c("Co", 2, ["chloride", "chloride"] + ["trimethyl_phosphine_oxide"] * 2, "CoCl2(OPMe3)2", "tetrahedral", 3),
    _c("Co", 3, ["oxalate"] + ["ammonia"] * 4, "[Co(ox)(NH3)4]+", "octahedral", 0),
    _c("Co", 2, ["acac", "acac", "pyradine", "pyradine"], "Co(acac)2(py)2", "octahedral", 3),
    _c("Co", 3, ["trithia-9-crown-3"] + ["chloride"] * 3, "CoCl3([9]aneS3)", "octahedral", 0),
    _c("Co", 2, ["thiocyanite"] * 4, "[Co(SCN)4]2- (S-bound)", "tetrahedral", 3),
    _c("Co", 3, ["en", "en", "nitrite_n", "nitrite_n"], "[Co(en)2(NO2)2]+", "octahedral", 0),
    _c("Ni", 2, ["tp", "tp"], "NiTp2", "octahedral", 2),
    _c("Ni", 2, ["trien", "water", "water"], "[Ni(trien)(H2O)2]2+", "octahedral", 2),
    _c("Ni", 2, ["nitrate_mono"] * 2 + ["water"] * 4, "Ni(NO3)2(H2O)4", "octahedral", 2),
    _c("Ni", 2, ["benzoate_mono", "benzoate_mono"] + ["water"] * 4, "Ni(O2CPh)2(H2O)4", "octahedral", 2),
    _c("Ni", 2, ["isothiocyanite"] * 2 + ["pyradine"] * 4, "Ni(NCS)2(py)4", "octahedral", 2),
    _c("Ni", 2, ["trithia-9-crown-3", "trithia-9-crown-3"], "[Ni([9]aneS3)2]2+", "octahedral", 2),
    _c("Ni", 2, ["chloride", "chloride", "dppm"], "NiCl2(dppm)", "square_planar", 0),
    _c("Ni", 2, ["chloride", "chloride"] + ["trimethyl_phosphine_oxide"] * 2, "NiCl2(OPMe3)2", "tetrahedral", 2),
    _c("Ni", 2, ["oxalate"] + ["water"] * 4, "Ni(ox)(H2O)4", "octahedral", 2),
    _c("Ni", 2, ["benzoate", "benzoate", "pyradine", "pyradine"], "Ni(O2CPh)2(py)2", "octahedral", 2),
    _c("Cu", 2, ["benzoate_mono", "benzoate_mono", "water", "water"], "Cu(O2CPh)2(H2O)2", "square_planar", 1),
    _c("Cu", 2, ["nitrate_mono", "nitrate_mono", "water", "water"], "Cu(NO3)2(H2O)2", "square_planar", 1),
    _c("Cu", 2, ["trien", "water"], "[Cu(trien)(H2O)]2+", "trigonal_bipyramidal", 1),
    _c("Cu", 1, ["tp", "carbonyl"], "TpCu(CO)", "tetrahedral", 0),
    _c("Cu", 2, ["trithia-9-crown-3", "trithia-9-crown-3"], "[Cu([9]aneS3)2]2+", "octahedral", 1),
    _c("Cu", 1, ["iodide"] + ["pyradine"] * 3, "CuI(py)3", "tetrahedral", 0),
    _c("Cu", 2, ["phen", "water", "water"], "[Cu(phen)(H2O)2]2+", "square_planar", 1),
    _c("Cu", 1, ["chloride", "dppm", "tmp"], "CuCl(dppm)(PMe3)", "tetrahedral", 0),
    _c("Cu", 2, ["chloride", "chloride"] + ["trimethyl_phosphine_oxide"] * 2, "CuCl2(OPMe3)2", "square_planar", 1),
    _c("Cu", 2, ["pyrazine", "pyrazine", "chloride", "chloride"], "CuCl2(pyz)2", "square_planar", 1),
    _c("Zn", 2, ["tp", "hydroxyl"], "TpZn(OH)", "tetrahedral", 0),
    _c("Zn", 2, ["benzoate", "benzoate", "water", "water"], "Zn(O2CPh)2(H2O)2", "octahedral", 0),
    _c("Zn", 2, ["nitrate_mono"] * 2 + ["water"] * 4, "Zn(NO3)2(H2O)4", "octahedral", 0),
    _c("Zn", 2, ["trien", "chloride"], "[ZnCl(trien)]+", "trigonal_bipyramidal", 0),
    _c("Zn", 2, ["chloride", "chloride"] + ["trimethyl_phosphine_oxide"] * 2, "ZnCl2(OPMe3)2", "tetrahedral", 0),
    _c("Zn", 2, ["trithia-9-crown-3", "trithia-9-crown-3"], "[Zn([9]aneS3)2]2+", "octahedral", 0),
    _c("Zn", 2, ["chloride", "chloride", "bipy"], "ZnCl2(bipy)", "tetrahedral", 0),
    _c("Zn", 2, ["en"] + ["water"] * 4, "[Zn(en)(H2O)4]2+", "octahedral", 0),
    _c("Zn", 2, ["tp", "tp"], "ZnTp2", "octahedral", 0),
    _c("Zn", 2, ["benzoate_mono", "benzoate_mono", "pyradine", "pyradine"], "Zn(O2CPh)2(py)2", "tetrahedral", 0),
]

#: The sets by their number (``--set``).
SETS = {1: COMPLEXES, 2: SECOND_SET, 3: THIRD_SET, 4: FOURTH_SET, 5: FIFTH_SET, 6: SIXTH_SET}

#: Ligands given to Architector as SMILES, where its library has only another form: 8-quinolinolate
#: (oxinate), bound through O− and N (the library's "hydroxyquinoline" is the neutral, O-protonated,
#: methylated phenol).
CUSTOM_LIGANDS = {"oxinate": {"smiles": "[O-]c1cccc2cccnc12", "coordList": [0, 9], "ligType": "bi_cis"}}


def build(complex_: Complex):
    """The complex from Architector (GFN2-xTB relaxed; its lowest-energy conformer), as ASE Atoms,
    and a one-line description of how it was made."""
    import architector
    from architector import build_complex

    request = {"core": {"metal": complex_.metal, "coreCN": complex_.coordination, "coreType": [complex_.geometry]},
               "ligands": [CUSTOM_LIGANDS.get(ligand, ligand) for ligand in complex_.ligands],
               "parameters": {"metal_ox": complex_.oxidation, "metal_spin": complex_.unpaired, "n_conformers": 2,
                              "return_only_1": True}}
    built = build_complex(request)
    if not built:
        raise RuntimeError("Architector built no conformer")
    key = next(iter(built))
    result = built[key]
    atoms = result["ase_atoms"].copy()
    order = sorted(range(len(atoms)), key=lambda i: atoms.numbers[i] != _number(complex_.metal))
    atoms = atoms[order]  # the metal first
    atoms.positions -= atoms.positions[0]
    note = (f"{complex_.name}: Architector {getattr(architector, '__version__', '0.0.10')} {key}, GFN2-xTB relaxed, "
            f"charge {result.get('total_charge')}, unpaired electrons {result.get('xtb_n_unpaired_electrons')}")
    return atoms, note


def _number(symbol: str) -> int:
    from ase.data import atomic_numbers

    return atomic_numbers[symbol]


def build_all(folder: Path, complexes) -> dict[str, list[Path]]:
    """Each complex as ``folder/{metal}/{stem}.xyz`` (those present are kept); the paths by metal."""
    from ase.io import write

    paths: dict[str, list[Path]] = {}
    for complex_ in complexes:
        target = folder / complex_.metal.lower() / f"{complex_.stem}.xyz"
        if not target.is_file():
            try:
                atoms, note = build(complex_)
            except Exception as exc:  # Architector's own failures are many and varied: report, go on
                print(f"{complex_.stem} ({complex_.name}): not built: {type(exc).__name__}: {exc}".splitlines()[0],
                      file=sys.stderr, flush=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            atoms.info.clear()
            write(target, atoms, format="xyz", comment=note)
            print(f"{complex_.stem}: {len(atoms)} atoms ({note})", flush=True)
        paths.setdefault(complex_.metal, []).append(target)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", help="data set root: OUT/{metal}-k/ as xanesviz simulate writes")
    parser.add_argument("--build", type=Path, metavar="DIR", help="build the structures into DIR/{metal}/ (Architector)")
    parser.add_argument("--structures", type=Path, metavar="DIR", help="with OUT: the built structures")
    parser.add_argument("--only", nargs="+", metavar="METAL", help="these metals only")
    parser.add_argument("--set", type=int, choices=sorted(SETS), default=1,
                        help="the first table (COMPLEXES, data/feff-architector; default), the second (SECOND_SET, "
                             "data/feff-architector-2), the third (THIRD_SET, data/feff-architector-3, a test set) or "
                             "the fourth (FOURTH_SET, data/feff-architector-4), the fifth (FIFTH_SET, data/feff-architector-5) or "
                             "the sixth (SIXTH_SET, data/feff-architector-6)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    chosen = [c for c in SETS[args.set] if not args.only or c.metal in args.only]
    if args.build:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        built = build_all(args.build, chosen)
        print(f"{sum(map(len, built.values()))} of {len(chosen)} structures under {args.build}")
        return 0
    if args.out is None or args.structures is None:
        parser.error("give --build DIR, or OUT with --structures DIR")
    from xanesviz.simulate import pack_feff_files, simulate

    failed = 0
    for metal in dict.fromkeys(c.metal for c in chosen):
        paths = [p for c in chosen if c.metal == metal
                 for p in [args.structures / metal.lower() / f"{c.stem}.xyz"] if p.is_file()]
        if not paths:
            continue
        counts = simulate(paths, args.out / f"{metal.lower()}-k", workers=args.workers)
        pack_feff_files(args.out / f"{metal.lower()}-k")
        failed += counts["failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
