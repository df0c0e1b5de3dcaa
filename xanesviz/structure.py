"""Read structures, choose the absorbing atom, validate, and cut the absorber's cluster.

Every structure format that :func:`ase.io.read` knows is accepted, plus the XANESNET xyz
flavour whose first column holds atomic numbers instead of element symbols.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols

from .errors import StructureError
from .packed import GZ, find, read_text

#: Two atoms closer than this (Å) are taken to be a mistake (atoms on top of each other).
MIN_DISTANCE = 0.5
#: Structures larger than this are refused rather than left to exhaust memory.
MAX_ATOMS = 200_000
#: Clusters up to this many atoms (absorber included) are checked for overlaps pair by pair.
SMALL_CLUSTER = 256


def _parse_numbered_xyz(path: str) -> Atoms | None:
    """Parse an xyz file (plain or ``.gz``) whose first column holds atomic numbers; None if it is not one."""
    lines = read_text(path, errors="replace").splitlines()
    if len(lines) < 3:
        return None
    try:
        n_atoms = int(lines[0].split()[0])
    except (ValueError, IndexError):
        return None
    body = [line.split() for line in lines[2 : 2 + n_atoms]]
    if not body or not body[0] or not body[0][0].lstrip("+-").isdigit():
        return None
    extra = [line for line in lines[2 + n_atoms :] if line.strip()]
    if len(body) != n_atoms or extra:
        raise StructureError(f"{path}: header says {n_atoms} atoms but {len(body) + len(extra)} atom lines follow")
    numbers, positions = [], []
    for line_no, fields in enumerate(body, start=3):
        try:
            z = int(fields[0])
            xyz = [float(v) for v in fields[1:4]]
        except (ValueError, IndexError):
            raise StructureError(f"{path}: line {line_no} is not 'Z x y z'") from None
        if len(xyz) != 3:
            raise StructureError(f"{path}: line {line_no} is not 'Z x y z'")
        if not 1 <= z < len(chemical_symbols):
            raise StructureError(f"{path}: line {line_no} has atomic number {z}, which is no element")
        numbers.append(z)
        positions.append(xyz)
    return Atoms(numbers=numbers, positions=positions)


def read_structure(path: str | os.PathLike, format: str | None = None, index: int = -1) -> Atoms:
    """Read one structure from ``path`` into an :class:`ase.Atoms`.

    ``format`` is passed to :func:`ase.io.read` (guessed from the name when None). For a
    file with several frames the last one is used unless ``index`` says otherwise.
    Raises :class:`StructureError` with a one-line message on any failure.
    """
    import ase.io

    path = os.fspath(find(path) or path)  # NAME, else its packed form NAME.gz (as the data sets keep it)
    if not os.path.isfile(path):
        raise StructureError(f"{path}: no such file")
    if format == "xyz" or (format is None and path.lower().removesuffix(GZ).endswith(".xyz")):
        try:
            atoms = _parse_numbered_xyz(path)
        except (UnicodeDecodeError, OSError, EOFError):  # not text, or a damaged .gz: ASE reports it below
            atoms = None
        if atoms is not None:
            validate_atoms(atoms, source=path)
            return atoms
    try:
        atoms = ase.io.read(path, format=format, index=index)
    except StructureError:
        raise
    except Exception as exc:  # ase raises many types; the user needs one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StructureError(f"{path}: cannot read structure ({reason})") from None
    if not isinstance(atoms, Atoms):
        raise StructureError(f"{path}: file holds no single structure")
    validate_atoms(atoms, source=path)
    return atoms


def validate_atoms(atoms: Atoms, source: str = "structure") -> None:
    """Check that a structure is usable: not empty, not huge, finite coordinates."""
    if len(atoms) == 0:
        raise StructureError(f"{source}: structure has no atoms")
    if len(atoms) > MAX_ATOMS:
        raise StructureError(f"{source}: structure has {len(atoms)} atoms, more than the {MAX_ATOMS} allowed")
    positions = atoms.get_positions()
    if not np.all(np.isfinite(positions)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(positions), axis=1))[0])
        raise StructureError(f"{source}: atom {bad} has a non-finite (NaN or inf) coordinate")


def choose_absorber(atoms: Atoms, absorber: int | str | None = None, element: str | None = None,
                    source: str = "structure") -> int:
    """Return the index of the absorbing atom.

    ``absorber`` may be an index (negative counts from the end), an element symbol (its
    first atom), or None for the first atom of ``element``.
    """
    if isinstance(absorber, str) and absorber.lstrip("-").isdigit():
        absorber = int(absorber)
    if absorber is None and element is None:
        raise StructureError(f"{source}: no absorber chosen (name an atom index or element)")
    if absorber is None or isinstance(absorber, str):
        symbol = element if absorber is None else absorber
        if symbol not in atomic_numbers:
            raise StructureError(f"{source}: '{symbol}' is not an element symbol")
        hits = np.flatnonzero(atoms.numbers == atomic_numbers[symbol])
        if hits.size == 0:
            raise StructureError(f"{source}: no {symbol} atom to use as absorber")
        return int(hits[0])
    index = int(absorber)
    if not -len(atoms) <= index < len(atoms):
        raise StructureError(f"{source}: absorber index {index} out of range for {len(atoms)} atoms")
    return index % len(atoms)


#: The first-row transition metals: the absorbers the project predicts and simulates.
TRANSITION_METALS = ("Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn")


def default_absorber(atoms: Atoms, absorber: int | str | None = None, source: str = "structure") -> int:
    """The absorber's index: as given (index or element), else the structure's one first-row transition metal."""
    if absorber is not None:
        return choose_absorber(atoms, absorber, source=source)
    symbols = set(atoms.get_chemical_symbols())
    present = [s for s in TRANSITION_METALS if s in symbols]
    if not present:
        raise StructureError(f"{source}: no first-row transition metal (Sc-Zn) to use as absorber; give the absorber")
    if len(present) > 1:
        raise StructureError(f"{source}: several metals ({', '.join(present)}); name the absorber "
                             f"(an atom index or element, e.g. --absorber {present[0]})")
    return choose_absorber(atoms, present[0], source=source)


@dataclass(frozen=True)
class Cluster:
    """The absorber's neighbourhood: neighbour atomic numbers and vectors from the absorber (Å)."""

    absorber_number: int
    numbers: np.ndarray  # (n,) int
    vectors: np.ndarray  # (n, 3) float, neighbour position minus absorber position
    indices: np.ndarray | None = None  # (n,) index of each neighbour in the structure (images repeat)
    absorber_index: int | None = None
    n_atoms: int | None = None  # atoms in the structure the cluster was cut from

    @property
    def distances(self) -> np.ndarray:
        return np.sqrt(np.einsum("ij,ij->i", self.vectors, self.vectors))

    def atom_gradient(self, gradient: np.ndarray) -> np.ndarray:
        """Derivatives with respect to the neighbour vectors (..., n, 3) -> with respect to the
        positions of the structure's atoms (..., n_atoms, 3).

        Periodic images of an atom move with it, so their gradients add; the absorber's is minus
        the sum over its neighbours (moving it moves every vector the other way). Atoms beyond the
        cutoff get 0. A cluster not cut from a structure has the absorber as atom 0, then its
        neighbours (the order of :meth:`to_atoms`).
        """
        gradient = np.asarray(gradient)
        if self.indices is None:
            indices, absorber, n_atoms = np.arange(1, len(self.numbers) + 1), 0, len(self.numbers) + 1
        else:
            indices, absorber = self.indices, self.absorber_index
            n_atoms = self.n_atoms or int(max(indices.max(initial=-1), absorber)) + 1
        per_atom = np.zeros(gradient.shape[:-2] + (n_atoms, 3))
        np.add.at(per_atom, (Ellipsis, indices, slice(None)), gradient)
        per_atom[..., absorber, :] -= gradient.sum(axis=-2)
        return per_atom

    def to_atoms(self) -> Atoms:
        """The cluster as an :class:`ase.Atoms` with the absorber first, at the origin."""
        positions = np.vstack([np.zeros((1, 3)), self.vectors])
        return Atoms(numbers=np.concatenate([[self.absorber_number], self.numbers]), positions=positions)


def cut_cluster(atoms: Atoms, absorber: int, cutoff: float, source: str = "structure") -> Cluster:
    """Neighbours of atom ``absorber`` within ``cutoff`` Å, periodic images included.

    Also refuses atoms on top of each other (closer than :data:`MIN_DISTANCE`) among the
    absorber and its neighbours, and non-finite coordinates.
    """
    validate_atoms(atoms, source)
    if not -len(atoms) <= absorber < len(atoms):
        raise StructureError(f"{source}: absorber index {absorber} out of range for {len(atoms)} atoms")
    absorber %= len(atoms)
    if any(atoms.pbc):
        from ase.neighborlist import neighbor_list  # scipy.sparse underneath: only periodic structures need it

        i, j, vectors = neighbor_list("ijD", atoms, cutoff, self_interaction=False)
        mine = i == absorber
        indices, vectors = j[mine], vectors[mine]
    else:
        vectors = atoms.positions - atoms.positions[absorber]
        dist2 = np.einsum("ij,ij->i", vectors, vectors)
        keep = dist2 <= cutoff * cutoff
        keep[absorber] = False
        indices = np.flatnonzero(keep)
        vectors = vectors[indices]
    cluster = Cluster(int(atoms.numbers[absorber]), np.asarray(atoms.numbers[indices], dtype=int),
                      np.asarray(vectors, float), np.asarray(indices, dtype=int), int(absorber), len(atoms))
    check_overlaps(cluster, source)
    return cluster


def check_overlaps(cluster: Cluster, source: str = "structure") -> None:
    """Raise if any two atoms of the cluster (absorber included) are closer than MIN_DISTANCE."""
    vectors = cluster.vectors
    if not len(vectors):
        return
    if len(vectors) < SMALL_CLUSTER:  # all pairs at once: faster than a tree, and no scipy import
        # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b for every pair, and |a|^2 for the absorber's (at the
        # origin); the few candidates within a rounding margin are measured again directly below.
        gram = vectors @ vectors.T
        squares = gram.diagonal().copy()
        gram *= -2.0
        gram += squares[:, None]
        gram += squares[None, :]
        np.fill_diagonal(gram, squares)  # each neighbour's own entry: its distance to the absorber
        if gram.min() > MIN_DISTANCE ** 2 + 1e-9 * (1.0 + squares.max()):
            return
    _raise_first_overlap(cluster, source)


def _raise_first_overlap(cluster: Cluster, source: str) -> None:
    """The StructureError naming the first pair of the cluster closer than MIN_DISTANCE, if any."""
    points = np.vstack([np.zeros((1, 3)), cluster.vectors])
    if len(points) <= SMALL_CLUSTER:
        difference = points[:, None, :] - points[None, :, :]
        close = np.einsum("ijk,ijk->ij", difference, difference) <= MIN_DISTANCE ** 2
        pairs = np.argwhere(np.triu(close, 1))
    else:
        from scipy.spatial import cKDTree

        pairs = cKDTree(points).query_pairs(MIN_DISTANCE, output_type="ndarray")
    if len(pairs):
        a, b = sorted(int(k) for k in pairs[0])
        d = float(np.linalg.norm(points[a] - points[b]))
        who = "the absorber" if a == 0 else f"a {chemical_symbols[cluster.numbers[a - 1]]} neighbour"
        raise StructureError(
            f"{source}: atoms closer than {MIN_DISTANCE} Å ({who} and a "
            f"{chemical_symbols[cluster.numbers[b - 1]]} neighbour are {d:.2f} Å apart)"
        )
