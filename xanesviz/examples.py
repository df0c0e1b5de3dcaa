"""Example complexes built from ideal geometries and standard bond lengths (Å), Fe and the
other first-row metals.

Bond lengths: typical crystallographic values (Fe-O(aqua, high-spin Fe2+) 2.12, Fe-C(cyano) 1.92,
C≡N 1.16, Fe-Cl(FeCl4-) 2.19, ferrocene Fe-ring centroid 1.66 with C-C 1.42, Fe-C(carbonyl)
1.81 axial / 1.83 equatorial with C≡O 1.15, C-H 1.08, O-H 0.96, N-H 1.01). For the other
metals, mean M-O of the hexaaqua ions and M-Cl of the tetrachloro complexes as tabulated in
crystal structures (e.g. [Ti(H2O)6]3+ 2.03, [Cu(H2O)6]2+ 1.97 for the short Jahn-Teller bonds,
[ZnCl4]2- 2.28), rounded to 0.01 Å; [Ni(CN)4]2- Ni-C 1.86, [Co(NH3)6]3+ Co-N 1.97.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

OCTAHEDRON = np.vstack([np.eye(3), -np.eye(3)])
TETRAHEDRON = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
SQUARE = np.array([[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], float)


def _linear_ligands(directions, first: str, second: str, d1: float, d2: float, metal: str = "Fe") -> Atoms:
    """The metal plus X-Y ligands bound through X along each direction (e.g. C-N of cyanide)."""
    symbols, positions = [metal], [[0.0, 0.0, 0.0]]
    for u in directions:
        symbols += [first, second]
        positions += [d1 * u, (d1 + d2) * u]
    return Atoms(symbols, positions=positions)


def _perpendicular(u: np.ndarray) -> np.ndarray:
    v = np.cross(u, [0.0, 0.0, 1.0] if abs(u[2]) < 0.9 else [1.0, 0.0, 0.0])
    return v / np.linalg.norm(v)


def hexaaqua(metal: str = "Fe", distance: float = 2.12) -> Atoms:
    """[M(H2O)6]n+: octahedral, M-O ``distance`` Å, water planes staggered, H-O-H 104.5°."""
    symbols, positions = [metal], [[0.0, 0.0, 0.0]]
    half = np.radians(104.5 / 2)
    for k, u in enumerate(OCTAHEDRON):
        o = distance * u
        v = _perpendicular(u)
        if k % 2:
            v = np.cross(u, v)
        symbols.append("O")
        positions.append(o)
        for sign in (1, -1):  # water's bisector points away from Fe
            symbols.append("H")
            positions.append(o + 0.96 * (np.cos(half) * u + sign * np.sin(half) * v))
    return Atoms(symbols, positions=positions)


def hexacyanoferrate() -> Atoms:
    """[Fe(CN)6]4-: octahedral, Fe-C 1.92 Å, C≡N 1.16 Å."""
    return _linear_ligands(OCTAHEDRON, "C", "N", 1.92, 1.16)


def hexaaqua_iron() -> Atoms:
    """[Fe(H2O)6]2+: octahedral, Fe-O 2.12 Å."""
    return hexaaqua("Fe", 2.12)


def tetrachloro(metal: str = "Fe", distance: float = 2.19) -> Atoms:
    """[MCl4]n-: tetrahedral, M-Cl ``distance`` Å."""
    return Atoms([metal] + ["Cl"] * 4, positions=np.vstack([[0, 0, 0], distance * TETRAHEDRON]))


def tetrachloroferrate() -> Atoms:
    """[FeCl4]-: tetrahedral, Fe-Cl 2.19 Å."""
    return tetrachloro("Fe", 2.19)


def ferrocene() -> Atoms:
    """Fe(C5H5)2, eclipsed: rings 1.66 Å from Fe, C-C 1.42 Å, C-H 1.08 Å."""
    ring_radius = 1.42 / (2 * np.sin(np.pi / 5))
    symbols, positions = ["Fe"], [[0.0, 0.0, 0.0]]
    for z in (1.66, -1.66):
        for k in range(5):
            a = 2 * np.pi * k / 5
            direction = np.array([np.cos(a), np.sin(a), 0.0])
            symbols += ["C", "H"]
            positions += [ring_radius * direction + [0, 0, z], (ring_radius + 1.08) * direction + [0, 0, z]]
    return Atoms(symbols, positions=positions)


def iron_pentacarbonyl() -> Atoms:
    """Fe(CO)5: trigonal bipyramid, Fe-C 1.81 Å axial and 1.83 Å equatorial, C≡O 1.15 Å."""
    axial = _linear_ligands(np.array([[0, 0, 1.0], [0, 0, -1.0]]), "C", "O", 1.81, 1.15)
    angles = 2 * np.pi * np.arange(3) / 3
    equatorial = _linear_ligands(np.column_stack([np.cos(angles), np.sin(angles), np.zeros(3)]), "C", "O", 1.83, 1.15)
    return axial + equatorial[1:]


def tetracyanoferrate_square_planar() -> Atoms:
    """A square-planar model: [Fe(CN)4]2-, Fe-C 1.90 Å, C≡N 1.16 Å."""
    return _linear_ligands(SQUARE, "C", "N", 1.90, 1.16)


def hexaammine(metal: str = "Fe", distance: float = 2.20) -> Atoms:
    """[M(NH3)6]n+: octahedral, M-N ``distance`` Å, N-H 1.01 Å, H-N-M 111°."""
    symbols, positions = [metal], [[0.0, 0.0, 0.0]]
    tilt = np.radians(180 - 111)
    for u in OCTAHEDRON:
        n = distance * u
        v = _perpendicular(u)
        w = np.cross(u, v)
        symbols.append("N")
        positions.append(n)
        for k in range(3):
            a = 2 * np.pi * k / 3
            h_dir = np.cos(tilt) * u + np.sin(tilt) * (np.cos(a) * v + np.sin(a) * w)
            symbols.append("H")
            positions.append(n + 1.01 * h_dir)
    return Atoms(symbols, positions=positions)


def hexaammine_iron() -> Atoms:
    """[Fe(NH3)6]2+: octahedral, Fe-N 2.20 Å."""
    return hexaammine("Fe", 2.20)


#: Hexaaqua M-O and tetrachloro M-Cl distances (Å) of the other metals (see the module docstring).
AQUA_DISTANCE = {"Ti": 2.03, "V": 2.13, "Cr": 2.08, "Mn": 2.18, "Co": 2.09, "Ni": 2.05, "Cu": 1.97, "Zn": 2.10}
AQUA_CHARGE = {"Ti": "3+", "V": "2+", "Cr": "2+", "Mn": "2+", "Co": "2+", "Ni": "2+", "Cu": "2+", "Zn": "2+"}
CHLORO_DISTANCE = {"Ti": 2.17, "V": 2.14, "Mn": 2.36, "Co": 2.28, "Ni": 2.27, "Cu": 2.23, "Zn": 2.28}
CHLORO_CHARGE = {"Ti": "", "V": "", "Mn": "2-", "Co": "2-", "Ni": "2-", "Cu": "2-", "Zn": "2-"}


def _other_metals() -> dict:
    gallery = {}
    for metal, distance in AQUA_DISTANCE.items():
        gallery[f"[{metal}(H2O)6]{AQUA_CHARGE[metal]} (octahedral)"] = lambda m=metal, d=distance: hexaaqua(m, d)
        if metal in CHLORO_DISTANCE:
            formula = f"[{metal}Cl4]{CHLORO_CHARGE[metal]}" if CHLORO_CHARGE[metal] else f"{metal}Cl4"
            gallery[f"{formula} (tetrahedral)"] = \
                lambda m=metal, d=CHLORO_DISTANCE[metal]: tetrachloro(m, d)
        if metal == "Ni":
            gallery["[Ni(CN)4]2- (square planar)"] = lambda: _linear_ligands(SQUARE, "C", "N", 1.86, 1.16, "Ni")
        if metal == "Co":
            gallery["[Co(NH3)6]3+ (octahedral)"] = lambda: hexaammine("Co", 1.97)
    return gallery


#: The Fe complexes: label -> builder.
FE_EXAMPLES = {
    "[Fe(H2O)6]2+ (octahedral)": hexaaqua_iron,
    "[Fe(CN)6]4- (octahedral)": hexacyanoferrate,
    "[Fe(NH3)6]2+ (octahedral)": hexaammine_iron,
    "[FeCl4]- (tetrahedral)": tetrachloroferrate,
    "Ferrocene": ferrocene,
    "Fe(CO)5 (trigonal bipyramidal)": iron_pentacarbonyl,
    "[Fe(CN)4]2- (square planar)": tetracyanoferrate_square_planar,
}

#: Gallery shown in the dashboard: label -> builder. The first is the default; the Fe complexes
#: come first, then the other metals (Ti to Zn), each predicted with its own edge's model.
GALLERY = {**FE_EXAMPLES, **_other_metals()}


def example(name: str | None = None) -> Atoms:
    """A gallery complex by label (default: the first), its metal first at the origin."""
    builder = GALLERY[name] if name else next(iter(GALLERY.values()))
    return builder()
