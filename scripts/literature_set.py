"""Well-known Ti–Zn complexes built from literature geometries, and their FEFF10 K-edge spectra.

    python scripts/literature_set.py data/feff-literature [--workers 2] [--only Cu Zn]
    python scripts/literature_set.py --write-xyz DIR        # the structures only

Every other FEFF10 structure of the project derives from an Fe complex (metal replaced, ligands
moved to typical bonds), so no Ti–Zn geometry of its own, a tetrahedral [ZnCl4]2−, a square-planar
[Ni(CN)4]2−, a vanadyl's 1.59 Å V=O, has been seen by the models or measured against them.
This builds 50 textbook complexes (the table ``COMPLEXES``: the metal at the origin, donors on
an ideal polyhedron at the distances listed, each ligand a rigid fragment with its donor towards
the metal) and computes each with ``xanesviz simulate`` and the reference settings into
``OUT/{metal}-k/`` (resumable; the layout of ``data/feff``). ``benchmarks/literature_complexes.py``
scores the shipped models against them.

``xanesviz.examples`` builds the dashboard gallery's ideal complexes the same way, one function
each; this table is broader (50 complexes, every metal) and lives apart because the gallery's Fe
complexes are pinned by the Fe model's reference predictions (``tests/make_reference_predictions.py``).

The distances are rounded values of crystal (or gas electron-diffraction) structures as standard
texts quote them (e.g. Greenwood & Earnshaw, *Chemistry of the Elements*, 2nd ed.); they were
written down here without access to the papers, so take them as ±0.02–0.03 Å.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from scipy.spatial.transform import Rotation

#: Ligand fragments in a local frame: the donor at the origin, the metal along −z.
#: Water is planar at O (M–O–H 127.75°, H–O–H 104.5°, O–H 0.96 Å); ammonia has M–N–H 111°,
#: N–H 1.01 Å; methyl M–C–H 110.6°, C–H 1.09 Å; CO and CN⁻ are linear (C–O 1.13–1.15, C–N
#: 1.15–1.16 Å: the ``tail`` below). An η5-cyclopentadienyl ring ("Cp") is built by
#: :func:`cyclopentadienyl`, its distance the metal–ring-carbon one, its ``tail`` a turn about its axis.
_WATER_H = np.deg2rad(180 - 127.75)
_AMMONIA_H = np.deg2rad(180 - 111.0)
_METHYL_H = np.deg2rad(180 - 110.6)


def fragment(kind: str, tail: float = 0.0) -> Atoms:
    """A ligand's atoms in the local frame (donor at the origin, pointing away from the metal along +z)."""
    if kind in ("Cl", "F", "O"):
        return Atoms(kind, positions=[[0, 0, 0]])
    if kind == "OH2":
        s, c = 0.96 * np.sin(_WATER_H), 0.96 * np.cos(_WATER_H)
        return Atoms("OH2", positions=[[0, 0, 0], [s, 0, c], [-s, 0, c]])
    if kind == "NH3":
        s, c = 1.01 * np.sin(_AMMONIA_H), 1.01 * np.cos(_AMMONIA_H)
        phis = np.deg2rad([0, 120, 240])
        return Atoms("NH3", positions=[[0, 0, 0], *[[s * np.cos(p), s * np.sin(p), c] for p in phis]])
    if kind == "CH3":
        s, c = 1.09 * np.sin(_METHYL_H), 1.09 * np.cos(_METHYL_H)
        phis = np.deg2rad([0, 120, 240])
        return Atoms("CH3", positions=[[0, 0, 0], *[[s * np.cos(p), s * np.sin(p), c] for p in phis]])
    if kind in ("CO", "CN"):
        return Atoms(kind, positions=[[0, 0, 0], [0, 0, tail]])
    raise ValueError(f"unknown ligand fragment {kind!r}")


def cyclopentadienyl(metal_carbon: float, direction: np.ndarray, turn: float = 0.0) -> Atoms:
    """An η5-C5H5 ring facing the metal at the origin: its centroid along ``direction``, every ring
    carbon ``metal_carbon`` Å from the metal (C–C 1.43 Å, C–H 1.09 Å in the ring plane). Unturned,
    rings on opposite sites are eclipsed (both measured from the same lab axis); ``turn`` (degrees)
    turns the ring about its axis (a bent metallocene's rings, to keep their hydrogens apart)."""
    radius = 1.43 / (2 * np.sin(np.pi / 5))
    height = np.sqrt(metal_carbon**2 - radius**2)
    axis = _unit(direction)
    lab = np.array([1.0, 0, 0]) if abs(axis[0]) < 0.9 else np.array([0, 1.0, 0])
    u = _unit(lab - lab @ axis * axis)
    v = np.cross(axis, u)
    phis = 2 * np.pi * np.arange(5) / 5 + np.deg2rad(turn)
    ring = np.array([np.cos(p) * u + np.sin(p) * v for p in phis])
    return Atoms("C5H5", positions=np.vstack([height * axis + radius * ring, height * axis + (radius + 1.09) * ring]))


def _unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _polar(theta_deg: float, phi_deg: float) -> np.ndarray:
    t, p = np.deg2rad(theta_deg), np.deg2rad(phi_deg)
    return np.array([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)])


#: Donor directions of each ideal polyhedron (unit vectors from the metal).
SITES = {
    "linear": [[0, 0, 1], [0, 0, -1]],
    "square planar": [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]],
    "tetrahedral": [[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]],
    "octahedral": [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
    "trigonal bipyramidal": [[0, 0, 1], [0, 0, -1], _polar(90, 0), _polar(90, 120), _polar(90, 240)],
    # VOCl3: O–V–Cl 108.2° (gas electron diffraction)
    "C3v oxo": [[0, 0, 1], _polar(108.2, 0), _polar(108.2, 120), _polar(108.2, 240)],
    # Cp2TiCl2: Cl–Ti–Cl 94.4°, ring centroid–Ti–centroid 131°
    "bent metallocene": [_polar(47.2, 0), _polar(47.2, 180), _polar(180 - 65.5, 90), _polar(180 - 65.5, 270)],
}


@dataclass(frozen=True)
class Complex:
    """One literature complex: ``ligands`` lists (fragment, M–donor Å, tail Å) in the order of its
    polyhedron's sites. Its stem, ``{Metal}_{ligands}-{symmetry}``, names the ligand set and shape but
    not the metal, so ``parent_of`` groups [CoCl4]2− with [ZnCl4]2− as it groups a derived complex
    with its other metals: a grouped CV holds out a kind of complex for every metal at once."""

    stem: str
    name: str
    geometry: str
    ligands: tuple
    note: str = ""

    @property
    def metal(self) -> str:
        return self.stem.split("_")[0]


def _same(kind: str, distance: float, n: int, tail: float = 0.0) -> tuple:
    return tuple((kind, distance, tail) for _ in range(n))


COMPLEXES = (
    Complex("Ti_Cl4-Td", "TiCl4", "tetrahedral", _same("Cl", 2.17, 4), "gas"),
    Complex("Ti_Cl6-Oh", "[TiCl6]2-", "octahedral", _same("Cl", 2.35, 6)),
    Complex("Ti_F6-Oh", "[TiF6]2-", "octahedral", _same("F", 1.87, 6)),
    Complex("Ti_aqua6-Oh", "[Ti(H2O)6]3+", "octahedral", _same("OH2", 2.03, 6), "alum"),
    Complex("V_Cl4-Td", "VCl4", "tetrahedral", _same("Cl", 2.14, 4), "gas"),
    Complex("V_oxoaqua5-C4v", "[VO(H2O)5]2+", "octahedral",
            _same("OH2", 2.03, 4) + (("O", 1.59, 0.0), ("OH2", 2.20, 0.0)), "vanadyl, V=O 1.59 Å"),
    Complex("V_aqua6-Oh", "[V(H2O)6]3+", "octahedral", _same("OH2", 1.99, 6)),
    Complex("V_oxo4-Td", "[VO4]3-", "tetrahedral", _same("O", 1.72, 4)),
    Complex("V_oxoCl3-C3v", "VOCl3", "C3v oxo", (("O", 1.57, 0.0),) + _same("Cl", 2.14, 3), "gas"),
    Complex("Cr_oxo4-Td", "[CrO4]2-", "tetrahedral", _same("O", 1.65, 4)),
    Complex("Cr_CO6-Oh", "Cr(CO)6", "octahedral", _same("CO", 1.92, 6, 1.14)),
    Complex("Cr_aqua6-Oh", "[Cr(H2O)6]3+", "octahedral", _same("OH2", 1.96, 6)),
    Complex("Cr_ammine6-Oh", "[Cr(NH3)6]3+", "octahedral", _same("NH3", 2.07, 6)),
    Complex("Cr_Cl6-Oh", "[CrCl6]3-", "octahedral", _same("Cl", 2.33, 6)),
    Complex("Mn_oxo4-Td", "[MnO4]-", "tetrahedral", _same("O", 1.63, 4)),
    Complex("Mn_aqua6-Oh", "[Mn(H2O)6]2+", "octahedral", _same("OH2", 2.18, 6)),
    Complex("Mn_Cl4-Td", "[MnCl4]2-", "tetrahedral", _same("Cl", 2.37, 4)),
    Complex("Mn_CO6-Oh", "[Mn(CO)6]+", "octahedral", _same("CO", 1.90, 6, 1.13)),
    Complex("Fe_CN6-Oh", "[Fe(CN)6]4-", "octahedral", _same("CN", 1.92, 6, 1.16)),
    Complex("Fe_aqua6-Oh", "[Fe(H2O)6]2+", "octahedral", _same("OH2", 2.12, 6)),
    Complex("Fe_Cl4-Td", "[FeCl4]-", "tetrahedral", _same("Cl", 2.19, 4)),
    Complex("Fe_CO5-D3h", "Fe(CO)5", "trigonal bipyramidal",
            _same("CO", 1.81, 2, 1.15) + _same("CO", 1.83, 3, 1.15), "gas"),
    Complex("Co_ammine6-Oh", "[Co(NH3)6]3+", "octahedral", _same("NH3", 1.96, 6)),
    Complex("Co_aqua6-Oh", "[Co(H2O)6]2+", "octahedral", _same("OH2", 2.09, 6)),
    Complex("Co_Cl4-Td", "[CoCl4]2-", "tetrahedral", _same("Cl", 2.27, 4)),
    Complex("Co_CN6-Oh", "[Co(CN)6]3-", "octahedral", _same("CN", 1.89, 6, 1.15)),
    Complex("Ni_aqua6-Oh", "[Ni(H2O)6]2+", "octahedral", _same("OH2", 2.05, 6)),
    Complex("Ni_CN4-D4h", "[Ni(CN)4]2-", "square planar", _same("CN", 1.86, 4, 1.16)),
    Complex("Ni_CO4-Td", "Ni(CO)4", "tetrahedral", _same("CO", 1.83, 4, 1.15), "gas"),
    Complex("Ni_Cl4-Td", "[NiCl4]2-", "tetrahedral", _same("Cl", 2.27, 4)),
    Complex("Ni_ammine6-Oh", "[Ni(NH3)6]2+", "octahedral", _same("NH3", 2.13, 6)),
    Complex("Cu_aqua6-D4h", "[Cu(H2O)6]2+", "octahedral",
            _same("OH2", 1.97, 4) + _same("OH2", 2.38, 2), "Jahn–Teller elongated"),
    Complex("Cu_Cl4-D4h", "[CuCl4]2-", "square planar", _same("Cl", 2.26, 4)),
    Complex("Cu_ammine4-D4h", "[Cu(NH3)4]2+", "square planar", _same("NH3", 2.03, 4)),
    Complex("Cu_Cl2-Dinfh", "[CuCl2]-", "linear", _same("Cl", 2.10, 2), "Cu(I)"),
    Complex("Cu_CN4-Td", "[Cu(CN)4]3-", "tetrahedral", _same("CN", 2.00, 4, 1.16), "Cu(I)"),
    Complex("Zn_aqua6-Oh", "[Zn(H2O)6]2+", "octahedral", _same("OH2", 2.10, 6)),
    Complex("Zn_Cl4-Td", "[ZnCl4]2-", "tetrahedral", _same("Cl", 2.28, 4)),
    Complex("Zn_ammine4-Td", "[Zn(NH3)4]2+", "tetrahedral", _same("NH3", 2.03, 4)),
    Complex("Zn_CN4-Td", "[Zn(CN)4]2-", "tetrahedral", _same("CN", 2.02, 4, 1.15)),
    # metallocenes (gas electron diffraction, mean M–C; D5h, eclipsed)
    Complex("V_Cp2-D5h", "V(C5H5)2", "linear", _same("Cp", 2.28, 2), "vanadocene"),
    Complex("Cr_Cp2-D5h", "Cr(C5H5)2", "linear", _same("Cp", 2.17, 2), "chromocene"),
    Complex("Mn_Cp2-D5h", "Mn(C5H5)2", "linear", _same("Cp", 2.38, 2), "manganocene, high-spin"),
    Complex("Fe_Cp2-D5h", "Fe(C5H5)2", "linear", _same("Cp", 2.06, 2), "ferrocene"),
    Complex("Co_Cp2-D5h", "Co(C5H5)2", "linear", _same("Cp", 2.12, 2), "cobaltocene"),
    Complex("Ni_Cp2-D5h", "Ni(C5H5)2", "linear", _same("Cp", 2.20, 2), "nickelocene"),
    Complex("Ti_Cp2Cl2-C2v", "Ti(C5H5)2Cl2", "bent metallocene", _same("Cl", 2.36, 2) + _same("Cp", 2.37, 2, 18.0),
            "titanocene dichloride, mean Ti–C; rings turned 18° (H···H 2.4 Å)"),
    Complex("Zn_Me2-Dinfh", "Zn(CH3)2", "linear", _same("CH3", 1.93, 2), "gas"),
    Complex("V_CO6-Oh", "V(CO)6", "octahedral", _same("CO", 2.01, 6, 1.14), "gas"),
    Complex("Cr_CN6-Oh", "[Cr(CN)6]3-", "octahedral", _same("CN", 2.08, 6, 1.15)),
)


def _frame(direction: np.ndarray) -> Rotation:
    """The rotation taking local +z to ``direction``, with the local x axis turned 45° about it
    from the nearest of the lab axes' perpendiculars (keeps neighbouring hydrogens apart)."""
    z = _unit(direction)
    helper = np.array([0, 0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0, 0])
    x0 = _unit(np.cross(helper, z))
    y0 = np.cross(z, x0)
    x = _unit(x0 + y0)
    rotation, _ = Rotation.align_vectors([z, x], [[0, 0, 1.0], [1.0, 0, 0]])
    return rotation


def build(complex_: Complex) -> Atoms:
    """The complex's atoms, the metal first, at the origin."""
    sites = SITES[complex_.geometry]
    if len(sites) != len(complex_.ligands):
        raise ValueError(f"{complex_.stem}: {len(complex_.ligands)} ligands for {len(sites)} {complex_.geometry} sites")
    atoms = Atoms(complex_.metal, positions=[[0, 0, 0]])
    for site, (kind, distance, tail) in zip(sites, complex_.ligands):
        direction = _unit(site)
        if kind == "Cp":
            atoms += cyclopentadienyl(distance, direction, turn=tail)
            continue
        ligand = fragment(kind, tail)
        ligand.positions = _frame(direction).apply(ligand.positions) + distance * direction
        atoms += ligand
    atoms.info.update(name=complex_.name, geometry=complex_.geometry)
    return atoms


def write_structures(folder: Path, complexes=COMPLEXES) -> dict[str, list[Path]]:
    """Each complex as ``folder/{metal}/{stem}.xyz``; the paths by metal."""
    from ase.io import write

    paths: dict[str, list[Path]] = {}
    for complex_ in complexes:
        target = folder / complex_.metal.lower() / f"{complex_.stem}.xyz"
        target.parent.mkdir(parents=True, exist_ok=True)
        atoms = build(complex_)
        atoms.info.clear()
        write(target, atoms, format="xyz", comment=f"{complex_.name} ({complex_.geometry}) {complex_.note}".strip())
        paths.setdefault(complex_.metal, []).append(target)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, nargs="?", help="data set root: OUT/{metal}-k/ as xanesviz simulate writes")
    parser.add_argument("--write-xyz", type=Path, metavar="DIR", help="only write the structures to DIR/{metal}/")
    parser.add_argument("--only", nargs="+", metavar="METAL", help="these metals only")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    chosen = [c for c in COMPLEXES if not args.only or c.metal in args.only]
    if args.write_xyz:
        write_structures(args.write_xyz, chosen)
        print(f"{len(chosen)} structures under {args.write_xyz}")
        return 0
    if args.out is None:
        parser.error("give OUT or --write-xyz DIR")
    import tempfile

    from xanesviz.simulate import pack_feff_files, simulate

    failed = 0
    with tempfile.TemporaryDirectory() as scratch:
        for metal, paths in write_structures(Path(scratch), chosen).items():
            counts = simulate(paths, args.out / f"{metal.lower()}-k", workers=args.workers)
            pack_feff_files(args.out / f"{metal.lower()}-k")  # FEFF's input and table gzipped, as in data/feff
            failed += counts["failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
