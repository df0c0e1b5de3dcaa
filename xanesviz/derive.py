"""Complexes of other first-row metals derived from Fe complexes, and displaced variants.

A derived complex is its parent with the metal replaced and each coordinated ligand moved
rigidly so that every metal-donor bond changes by the metal's bond shift
(:data:`METAL_STATES`): the parent's own bond lengths, plus the difference between the new
metal's and Fe(II)'s Shannon radii. The displacement families (:func:`displace`) are the
moves a user makes by dragging: one bond stretched, one donor bent, the first shell breathing,
one ligand pulled away. Science only: no widgets, no files (see :mod:`xanesviz.derived_set`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols, covalent_radii

from .errors import StructureError, XanesvizError


@dataclass(frozen=True)
class MetalState:
    """The oxidation and spin state a metal's bond lengths are taken from, and its radius."""

    label: str
    shannon_radius: float  # Å, effective ionic radius, six-coordinate (Shannon 1976)


#: Each metal's reference state and its six-coordinate Shannon (1976) effective ionic radius
#: (Acta Cryst. A32, 751; the values pymatgen's ``Species.get_shannon_radius`` returns). The
#: state is the metal's most common one in coordination complexes: Ti(IV), V(IV), Cr(III)
#: and M(II) (high-spin where it has a spin state) from Mn to Zn. Fe is the exception: the Fe
#: data's own bonds (Fe-N 1.95 Å on average) are those of low-spin Fe(II), so its radius is
#: the low-spin one. Keys are in generation order (the edges measured most often first).
METAL_STATES: dict[str, MetalState] = {
    "Cu": MetalState("Cu(II)", 0.73),
    "Ni": MetalState("Ni(II)", 0.69),
    "Co": MetalState("Co(II) high-spin", 0.745),
    "Mn": MetalState("Mn(II) high-spin", 0.83),
    "Zn": MetalState("Zn(II)", 0.74),
    "Ti": MetalState("Ti(IV)", 0.605),
    "V": MetalState("V(IV)", 0.58),
    "Cr": MetalState("Cr(III)", 0.615),
    "Fe": MetalState("Fe(II) low-spin", 0.61),
}
METALS = tuple(METAL_STATES)

#: Mean Fe-X distance (Å) over the first shells of the 4079 Fe complexes of
#: ``../shared/data/fe-k-xanes`` (donors as in :func:`first_shell`), per donor element.
#: A derived M-X bond is its parent's Fe-X bond plus :func:`bond_shift`, so the mean M-X
#: distance of a derived set is the typical distance :func:`typical_distance` gives.
FE_MEAN_DISTANCE: dict[str, float] = {
    "H": 1.527, "B": 2.067, "C": 2.031, "N": 1.953, "O": 2.032, "F": 1.953, "Si": 2.372, "P": 2.182,
    "S": 2.289, "Cl": 2.115, "As": 2.339, "Se": 2.342, "Br": 2.296, "I": 2.534,
}

#: An atom is a first-shell donor when its distance to the metal is below
#: FIRST_SHELL_FACTOR x (r_cov(Fe) + r_cov(X)) + bond_shift(metal) (ASE covalent radii):
#: the same atoms are donors in a parent and in every complex derived from it.
FIRST_SHELL_FACTOR = 1.2
#: Two atoms that are not bonded (not metal-donor, not in the same ligand) clash when closer
#: than CLASH_FACTOR x the sum of their covalent radii.
CLASH_FACTOR = 0.7
#: Two atoms are bonded (within a ligand) when closer than BOND_FACTOR x the sum of their ASE
#: covalent radii. At 1.0 most C-H bonds (1.09 Å against 0.76 + 0.31 Å) count as broken and a
#: typical complex falls apart into ~36 fragments; at 1.1 it is ~3 ligands (median over 400 Fe complexes).
BOND_FACTOR = 1.1
#: A ligand whose donors surround the metal (the mean of the unit metal->donor vectors is
#: shorter than this, e.g. a macrocycle) has no direction to move along; it stays in place.
MIN_MEAN_DIRECTION = 0.3

#: Displacement families and the range of their amounts used for training variants:
#: (smallest magnitude, largest magnitude, both signs?, unit).
FAMILIES: dict[str, tuple[float, float, bool, str]] = {
    "stretch": (0.05, 0.25, True, "Å"),   # one bond, its ligand moved rigidly along it
    "bend": (5.0, 15.0, False, "degrees"),  # one donor's ligand rotated about the metal
    "breathe": (0.02, 0.08, True, "Å"),   # every ligand moved so each bond changes by the amount
    "pull": (0.3, 0.6, False, "Å"),       # one ligand moved away along its mean donor direction
}


class ClashError(StructureError):
    """A derived or displaced structure in which two non-bonded atoms come too close."""


def _metal_symbol(metal: str, source: str = "structure") -> str:
    if metal not in METAL_STATES:
        raise XanesvizError(f"{source}: '{metal}' is not one of the metals {', '.join(METALS)}")
    return metal


def bond_shift(metal: str, parent_metal: str = "Fe") -> float:
    """Å added to every metal-donor bond when ``parent_metal`` is replaced by ``metal``."""
    return METAL_STATES[_metal_symbol(metal)].shannon_radius - METAL_STATES[_metal_symbol(parent_metal)].shannon_radius


def typical_distance(metal: str, donor: str) -> float:
    """Typical M-X distance (Å) of a derived set: the Fe data's mean Fe-X plus the bond shift."""
    if donor not in FE_MEAN_DISTANCE:
        raise XanesvizError(f"no Fe-{donor} bonds in the Fe data to derive an {metal}-{donor} distance from")
    return FE_MEAN_DISTANCE[donor] + bond_shift(metal)


@dataclass(frozen=True)
class FirstShell:
    """The metal, its donors, and the rigid ligands the donors belong to."""

    absorber: int
    donors: np.ndarray  # atom indices, ascending
    ligands: tuple  # one index array per coordinated ligand (a connected component with donors)
    components: np.ndarray = field(repr=False)  # component label of every atom (-1: the metal)

    def ligand_of(self, donor: int) -> int:
        """Position in :attr:`ligands` of the ligand that holds atom ``donor``."""
        for k, ligand in enumerate(self.ligands):
            if donor in ligand:
                return k
        raise XanesvizError(f"atom {donor} is not a first-shell donor")

    def ligand_donors(self, k: int) -> np.ndarray:
        return np.intersect1d(self.ligands[k], self.donors)


def bonded_pairs(atoms: Atoms) -> tuple[np.ndarray, np.ndarray]:
    """Both directions (i, j) of every pair closer than :data:`BOND_FACTOR` x the sum of their
    covalent radii (ASE's ``natural_cutoffs``)."""
    from ase.neighborlist import natural_cutoffs, neighbor_list  # scipy.sparse underneath: imported when used

    return neighbor_list("ij", atoms, natural_cutoffs(atoms, mult=BOND_FACTOR), self_interaction=False)


def first_shell(atoms: Atoms, absorber: int = 0, source: str = "structure") -> FirstShell:
    """Donors of atom ``absorber`` and its ligands (connected components without the metal).

    Bonds within ligands: :func:`bonded_pairs`.
    """
    if not -len(atoms) <= absorber < len(atoms):
        raise StructureError(f"{source}: absorber index {absorber} out of range for {len(atoms)} atoms")
    absorber %= len(atoms)
    metal = chemical_symbols[atoms.numbers[absorber]]
    shift = bond_shift(metal) if metal in METAL_STATES else 0.0
    distance = np.linalg.norm(atoms.positions - atoms.positions[absorber], axis=1)
    limit = FIRST_SHELL_FACTOR * (covalent_radii[atomic_numbers["Fe"]] + covalent_radii[atoms.numbers]) + shift
    is_donor = distance < limit
    is_donor[absorber] = False
    others = np.delete(np.arange(len(atoms)), absorber)
    rest = atoms[others]
    i, j = bonded_pairs(rest)
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n, labels = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(len(rest), len(rest))))
    components = np.full(len(atoms), -1)
    components[others] = labels
    donors = np.flatnonzero(is_donor)
    ligands = tuple(np.flatnonzero(components == c) for c in sorted(set(components[donors])))
    return FirstShell(absorber, donors, ligands, components)


def _mean_direction(atoms: Atoms, shell: FirstShell, k: int) -> np.ndarray:
    """Unit vectors' mean from the metal to ligand ``k``'s donors, not normalised."""
    vectors = atoms.positions[shell.ligand_donors(k)] - atoms.positions[shell.absorber]
    return (vectors / np.linalg.norm(vectors, axis=1)[:, None]).mean(axis=0)


def _move_ligand_bonds(atoms: Atoms, shell: FirstShell, k: int, change: float) -> tuple[np.ndarray, float]:
    """Translation of ligand ``k`` along its mean donor direction that best changes each of its
    metal-donor bonds by ``change`` Å (least squares over the donors; exact for one donor and
    for donors placed symmetrically about the direction), and the largest bond's miss (Å)."""
    centre = atoms.positions[shell.absorber]
    vectors = atoms.positions[shell.ligand_donors(k)] - centre
    lengths = np.linalg.norm(vectors, axis=1)
    targets = lengths + change
    if len(vectors) == 1:
        return vectors[0] / lengths[0] * change, 0.0
    mean = _mean_direction(atoms, shell, k)
    if np.linalg.norm(mean) < MIN_MEAN_DIRECTION:
        return np.zeros(3), float(abs(change))
    unit = mean / np.linalg.norm(mean)

    def misfit(step):
        return float(np.sum((np.linalg.norm(vectors + step * unit, axis=1) - targets) ** 2))

    guess = change / float(np.mean(vectors @ unit / lengths))
    width = 2.0 * abs(guess) + 0.1
    from scipy.optimize import minimize_scalar

    step = minimize_scalar(misfit, bounds=(guess - width, guess + width), method="bounded",
                           options={"xatol": 1e-12}).x
    miss = np.abs(np.linalg.norm(vectors + step * unit, axis=1) - targets).max()
    return step * unit, float(miss)


def check_clashes(atoms: Atoms, shell: FirstShell, source: str = "structure") -> None:
    """Raise :class:`ClashError` if two atoms that are neither metal-donor nor in the same
    component are closer than :data:`CLASH_FACTOR` x the sum of their covalent radii."""
    from scipy.spatial import cKDTree

    radii = covalent_radii[atoms.numbers]
    pairs = cKDTree(atoms.positions).query_pairs(CLASH_FACTOR * 2 * radii.max(), output_type="ndarray")
    if not len(pairs):
        return
    a, b = pairs[:, 0], pairs[:, 1]
    distance = np.linalg.norm(atoms.positions[a] - atoms.positions[b], axis=1)
    too_close = distance < CLASH_FACTOR * (radii[a] + radii[b])
    same = (shell.components[a] == shell.components[b]) & (shell.components[a] >= 0)
    metal_donor = ((a == shell.absorber) & np.isin(b, shell.donors)) | ((b == shell.absorber) & np.isin(a, shell.donors))
    bad = np.flatnonzero(too_close & ~same & ~metal_donor)
    if len(bad):
        i, j = int(a[bad[0]]), int(b[bad[0]])
        raise ClashError(f"{source}: atoms {i} ({atoms[i].symbol}) and {j} ({atoms[j].symbol}) clash, "
                         f"{distance[bad[0]]:.2f} Å apart (< {CLASH_FACTOR} x the sum of covalent radii)")


@dataclass(frozen=True)
class Derivation:
    """What :func:`derive` did: the metals, the bond shift and how well rigid ligands met it."""

    metal: str
    parent_metal: str
    shift: float  # Å added to every metal-donor bond
    n_donors: int
    n_ligands: int
    max_miss: float  # Å, largest |bond - target| (0 when every ligand could follow exactly)

    def as_dict(self) -> dict:
        return {"metal": self.metal, "parent_metal": self.parent_metal, "bond_shift": round(self.shift, 6),
                "donors": self.n_donors, "ligands": self.n_ligands, "max_miss": round(self.max_miss, 6)}


def derive(atoms: Atoms, metal: str, absorber: int = 0, source: str = "structure") -> tuple[Atoms, Derivation]:
    """The complex of ``metal`` derived from ``atoms`` (whose atom ``absorber`` is a metal of
    :data:`METAL_STATES`): metal replaced, ligands moved rigidly, clashes refused.

    Raises :class:`ClashError` on a clash, :class:`StructureError` when the metal has no donors.
    """
    _metal_symbol(metal, source)
    absorber %= len(atoms)
    parent_metal = chemical_symbols[atoms.numbers[absorber]]
    if parent_metal not in METAL_STATES:
        raise StructureError(f"{source}: atom {absorber} is {parent_metal}, not one of the metals {', '.join(METALS)}")
    shell = first_shell(atoms, absorber, source)
    if not len(shell.donors):
        raise StructureError(f"{source}: the {parent_metal} atom has no first-shell donors")
    shift = bond_shift(metal, parent_metal)
    derived = atoms.copy()
    derived.info = {}
    worst = 0.0
    for k, ligand in enumerate(shell.ligands):
        translation, miss = _move_ligand_bonds(atoms, shell, k, shift)
        derived.positions[ligand] += translation
        worst = max(worst, miss)
    derived.numbers[absorber] = atomic_numbers[metal]
    check_clashes(derived, shell, source)
    return derived, Derivation(metal, parent_metal, shift, len(shell.donors), len(shell.ligands), worst)


@dataclass(frozen=True)
class Move:
    """One displacement: its family, amount, the atoms it moved and what it moved them along."""

    family: str
    amount: float  # Å, or degrees for "bend"
    absorber: int
    moved: tuple  # indices of the atoms that moved
    donor: int | None = None  # the bond stretched, the donor bent (stretch, bend)
    axis: tuple | None = None  # the rotation axis (bend) or unit translation direction (pull)
    max_miss: float = 0.0  # breathe: Å by which a bond missed its target (ligands that cannot follow)

    def as_dict(self) -> dict:
        record = {"family": self.family, "amount": round(self.amount, 6), "absorber": self.absorber,
                  "moved": list(self.moved)}
        if self.donor is not None:
            record["donor"] = self.donor
        if self.axis is not None:
            record["axis"] = [round(v, 9) for v in self.axis]
        if self.family == "breathe":
            record["max_miss"] = round(self.max_miss, 6)
        return record


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rotation matrix about the unit ``axis`` by ``degrees`` (Rodrigues)."""
    theta = np.radians(degrees)
    x, y, z = axis
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * k @ k


def displace(atoms: Atoms, family: str, amount: float, rng: np.random.Generator | int | None = None,
             absorber: int = 0, donor: int | None = None, source: str = "structure") -> tuple[Atoms, Move]:
    """A displaced copy of ``atoms`` and the :class:`Move` made; ligands move as rigid bodies.

    - ``stretch``: the bond to one donor changes by ``amount`` Å (its ligand moves along it);
    - ``bend``: one donor's ligand turns by ``amount`` degrees about the metal, about an axis
      perpendicular to the metal-donor bond (bond lengths unchanged);
    - ``breathe``: every ligand moves along its mean donor direction so that each bond changes
      by ``amount`` Å (exact for one-donor ligands; see :func:`derive` for several donors);
    - ``pull``: one ligand moves ``amount`` Å along its mean donor direction.

    ``rng`` (a Generator or a seed) chooses the donor (or the ligand, for ``pull``) unless
    ``donor`` names it, and the bend axis. Raises :class:`ClashError` on a clash.
    """
    if family not in FAMILIES:
        raise XanesvizError(f"{source}: unknown displacement family '{family}' (one of {', '.join(FAMILIES)})")
    if not np.isfinite(amount):
        raise XanesvizError(f"{source}: displacement amount {amount} is not a number")
    rng = np.random.default_rng(rng)
    absorber %= len(atoms)
    shell = first_shell(atoms, absorber, source)
    if not len(shell.donors):
        raise StructureError(f"{source}: atom {absorber} has no first-shell donors to displace")
    centre = atoms.positions[absorber]
    moved_atoms = atoms.copy()
    if family == "breathe":
        worst = 0.0
        for k, ligand in enumerate(shell.ligands):
            translation, miss = _move_ligand_bonds(atoms, shell, k, amount)
            moved_atoms.positions[ligand] += translation
            worst = max(worst, miss)
        moved = np.concatenate(shell.ligands)
        move = Move(family, float(amount), absorber, tuple(int(i) for i in np.sort(moved)), max_miss=worst)
    elif family == "pull":
        movable = [k for k in range(len(shell.ligands))
                   if np.linalg.norm(_mean_direction(atoms, shell, k)) >= MIN_MEAN_DIRECTION]
        if donor is not None:
            movable = [k for k in movable if donor in shell.ligands[k]]
        if not movable:
            raise StructureError(f"{source}: no ligand that can be pulled away (every one surrounds the metal)")
        k = movable[int(rng.integers(len(movable)))]
        mean = _mean_direction(atoms, shell, k)
        unit = mean / np.linalg.norm(mean)
        moved_atoms.positions[shell.ligands[k]] += amount * unit
        move = Move(family, float(amount), absorber, tuple(int(i) for i in shell.ligands[k]), axis=tuple(unit))
    else:
        if donor is None:
            donor = int(shell.donors[int(rng.integers(len(shell.donors)))])
        elif donor not in shell.donors:
            raise XanesvizError(f"{source}: atom {donor} is not a first-shell donor of atom {absorber}")
        ligand = shell.ligands[shell.ligand_of(donor)]
        bond = atoms.positions[donor] - centre
        unit = bond / np.linalg.norm(bond)
        if family == "stretch":
            moved_atoms.positions[ligand] += amount * unit
            move = Move(family, float(amount), absorber, tuple(int(i) for i in ligand), donor=int(donor))
        else:  # bend: a random axis perpendicular to the bond
            axis = np.cross(unit, rng.normal(size=3))
            axis /= np.linalg.norm(axis)
            rotation = _rotation(axis, amount)
            moved_atoms.positions[ligand] = (atoms.positions[ligand] - centre) @ rotation.T + centre
            move = Move(family, float(amount), absorber, tuple(int(i) for i in ligand), donor=int(donor),
                        axis=tuple(float(v) for v in axis))
    check_clashes(moved_atoms, shell, source)
    return moved_atoms, move


def random_move(rng: np.random.Generator, family: str | None = None) -> tuple[str, float]:
    """A family (uniform over :data:`FAMILIES` unless given) and an amount drawn from its range."""
    if family is None:
        family = list(FAMILIES)[int(rng.integers(len(FAMILIES)))]
    low, high, signed, _ = FAMILIES[family]
    amount = float(rng.uniform(low, high))
    if signed and rng.random() < 0.5:
        amount = -amount
    return family, amount
