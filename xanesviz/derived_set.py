"""Sets of derived structures for FEFF: parents spread over the Fe data, displaced variants,
per-metal folders of xyz files in generation order, packed files, and stem <-> parent.

Stems: ``{Metal}_{REFCODE}`` for a derived parent, ``{Metal}_{REFCODE}_{family}{k}`` for
its k-th displaced variant; REFCODE is the CSD refcode that begins the Fe parent's stem, so
:func:`parent_of` groups a variant with its parent, the same complex of other metals, and
the Fe data's own sample (``REFCODE_formula``).
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from .derive import FAMILIES, METALS, ClashError, derive, displace, random_move
from .errors import StructureError, XanesvizError

#: Attempts at a variant (new donor, axis and amount each time) before it counts as clashed.
VARIANT_TRIES = 5
#: Atoms within 6 Å of the metal that a parent may have (FEFF's cost grows with them).
ATOMS_WITHIN_6 = (40, 60)
_METAL_SYMBOLS = set(chemical_symbols[21:31])


def _fields(stem: str) -> list:
    name = Path(stem).name
    return (name[:-4] if name.endswith(".xyz") else name).split("_")


def structure_stem(metal: str, parent_stem: str, tag: str | None = None) -> str:
    """``{metal}_{refcode}`` or ``{metal}_{refcode}_{tag}`` for a parent stem ``REFCODE_formula``."""
    refcode = parent_of(parent_stem)
    return f"{metal}_{refcode}" if tag is None else f"{metal}_{refcode}_{tag}"


def parent_of(stem: str) -> str:
    """The parent complex (CSD refcode) of a derived stem, a variant's stem, or an Fe data stem.

    Use it as the group of a grouped cross-validation, so that no variant, and no other metal
    of the same complex, sits in the test fold of its parent's training fold.
    """
    fields = _fields(stem)
    if fields[0] in _METAL_SYMBOLS and len(fields) >= 2:
        return fields[1]
    return fields[0]


def metal_of(stem: str) -> str | None:
    """The metal a derived stem names (None for an Fe data stem ``REFCODE_formula``)."""
    first = _fields(stem)[0]
    return first if first in _METAL_SYMBOLS else None


#: The single-atom moves of the drag-fidelity benchmark (``benchmarks/drag_fidelity.py``), in tag
#: order: a move's tag is its kind and its place here + 1 (``bend1`` = bend10, ``stretch8`` =
#: stretch-0.1). The derived set's own variants (:func:`xanesviz.derive.displace`, whole ligands
#: moved rigidly) are numbered 0.
ONE_ATOM_MOVES = ("bend10", "bend5", "breathe+0.05", "breathe-0.05", "pull0.5", "stretch+0.05", "stretch+0.1",
                  "stretch-0.1", "stretch+0.2", "stretch-0.2")


def move_family(tag: str) -> str:
    """The family of a variant tag: ``stretch`` for a derived ligand move (``stretch0``), the
    benchmark's ``stretch+0.05 (one atom)`` for a single-atom move (``stretch6``)."""
    kind = tag.rstrip("0123456789")
    number = int(tag[len(kind):] or 0)
    if 1 <= number <= len(ONE_ATOM_MOVES) and ONE_ATOM_MOVES[number - 1].startswith(kind):
        return f"{ONE_ATOM_MOVES[number - 1]} (one atom)"
    return kind


def variant_of(stem: str) -> str | None:
    """The variant tag of a derived stem (``stretch0``...), None for a parent."""
    fields = _fields(stem)
    return fields[2] if fields[0] in _METAL_SYMBOLS and len(fields) > 2 else None


@dataclass
class Entry:
    """One structure of a set: its stem, atoms and the record of how it was made."""

    stem: str
    atoms: Atoms
    record: dict


@dataclass
class MetalSet:
    """A metal's structures in generation order (parents, then variants) and what was refused."""

    metal: str
    entries: list = field(default_factory=list)
    parent_clashes: int = 0  # candidate parents refused for a clash
    parent_other: int = 0  # candidate parents refused for another reason
    variant_clashes: int = 0  # variants given up after VARIANT_TRIES clashing draws
    variant_other: int = 0  # variants whose family does not apply (pull: every ligand surrounds the metal)
    clashed: list = field(default_factory=list)  # the refused candidates' stems

    def counts(self) -> dict:
        roles = [e.record["role"] for e in self.entries]
        return {"parents": roles.count("parent"), "variants": roles.count("variant"),
                "parent_clashes": self.parent_clashes, "parent_other_refusals": self.parent_other,
                "variant_clashes": self.variant_clashes, "variant_other_refusals": self.variant_other}


def atoms_within(atoms: Atoms, radius: float = 6.0, absorber: int = 0) -> int:
    """Atoms (the absorber included) within ``radius`` Å of the absorber."""
    return int(np.sum(np.linalg.norm(atoms.positions - atoms.positions[absorber], axis=1) <= radius))


def read_parents(data_dir, progress: bool = False) -> dict:
    """{stem: Atoms} of the Fe complexes in ``data_dir/xyz`` (absorbing Fe first)."""
    from .structure import read_structure

    xyz = Path(data_dir) / "xyz"
    if not xyz.is_dir():
        raise XanesvizError(f"{data_dir}: no xyz/ folder of parent structures")
    paths = sorted(xyz.glob("*.xyz"))
    if not paths:
        raise XanesvizError(f"{xyz}: no .xyz files")
    return {p.stem: read_structure(p) for p in paths}


def spread_parents(parents: dict, n: int, seed: int = 0, atoms_within_6=ATOMS_WITHIN_6) -> list:
    """Candidate groups of parent stems, spread over the data, in generation order.

    The parents with ``atoms_within_6`` atoms within 6 Å are clustered into ``n`` groups by
    k-means on their standardised wACSF descriptors; each group lists its members from the
    one nearest its centre outwards (the first is used, the next replaces it when it clashes).
    Groups are ordered by farthest-point traversal from the one nearest the overall mean,
    so that every prefix of the order is itself spread over the data.
    """
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    from .descriptor import WACSF

    low, high = atoms_within_6
    stems = [s for s, a in parents.items() if low <= atoms_within(a) <= high]
    if len(stems) < n:
        raise XanesvizError(f"only {len(stems)} parents have {low}-{high} atoms within 6 Å; asked for {n}")
    X = StandardScaler().fit_transform(WACSF().transform([parents[s] for s in stems], absorber=0))
    kmeans = KMeans(n_clusters=n, n_init=4, random_state=seed).fit(X)
    groups = []
    for c in range(n):
        members = np.flatnonzero(kmeans.labels_ == c)
        d = np.linalg.norm(X[members] - kmeans.cluster_centers_[c], axis=1)
        groups.append([stems[i] for i in members[np.argsort(d, kind="stable")]])
    centres = kmeans.cluster_centers_
    order = [int(np.argmin(np.linalg.norm(centres - X.mean(axis=0), axis=1)))]
    nearest = np.linalg.norm(centres - centres[order[0]], axis=1)
    while len(order) < n:
        nxt = int(np.argmax(nearest))
        order.append(nxt)
        nearest = np.minimum(nearest, np.linalg.norm(centres - centres[nxt], axis=1))
    return [groups[c] for c in order]


def variant_rng(seed: int, parent_stem: str, k: int) -> np.random.Generator:
    """The random stream of a parent's k-th variant: the same for every metal and every run."""
    return np.random.default_rng([seed, zlib.crc32(parent_of(parent_stem).encode()), k])


def _info(record: dict) -> dict:
    """Flat key=value pairs for the extxyz comment line."""
    info = {"stem": record["stem"], "metal": record["metal"], "parent": record["parent"], "role": record["role"],
            "bond_shift": record["derivation"]["bond_shift"], "max_miss": record["derivation"]["max_miss"]}
    move = record.get("move")
    if move:
        info.update({"family": move["family"], "amount": move["amount"],
                     "moved": np.array(move["moved"], dtype=int)})
        if "donor" in move:
            info["donor"] = move["donor"]
        if "axis" in move:
            info["axis"] = np.array(move["axis"])
    return info


def build_metal_set(metal: str, parents: dict, groups: list, variants_per_parent: int = 1, seed: int = 0,
                    progress=None) -> MetalSet:
    """Derive one parent per group (the first that does not clash), then the variants."""
    result, chosen = MetalSet(metal), []
    for rank, group in enumerate(groups):
        for stem in group:
            try:
                derived, how = derive(parents[stem], metal, source=stem)
            except ClashError:
                result.parent_clashes += 1
                result.clashed.append(stem)
                continue
            except StructureError:
                result.parent_other += 1
                continue
            record = {"stem": structure_stem(metal, stem), "metal": metal, "parent": stem, "role": "parent",
                      "derivation": how.as_dict(), "move": None}
            result.entries.append(Entry(record["stem"], derived, record))
            chosen.append((rank, stem, derived, how))
            break
        if progress:
            progress(metal, "parents", rank + 1, len(groups))
    families = list(FAMILIES)
    for k in range(variants_per_parent):  # variant k of every parent, then k + 1
        for rank, stem, derived, how in chosen:
            family = families[(rank * variants_per_parent + k) % len(families)]
            rng = variant_rng(seed, stem, k)
            for _ in range(VARIANT_TRIES):
                _, amount = random_move(rng, family)
                try:
                    moved, move = displace(derived, family, amount, rng, source=stem)
                except ClashError:
                    continue
                except StructureError:  # e.g. no ligand that can be pulled
                    result.variant_other += 1
                    break
                tag = f"{family}{k}"
                record = {"stem": structure_stem(metal, stem, tag), "metal": metal, "parent": stem,
                          "role": "variant", "derivation": how.as_dict(), "move": move.as_dict()}
                result.entries.append(Entry(record["stem"], moved, record))
                break
            else:  # every draw clashed
                result.variant_clashes += 1
        if progress:
            progress(metal, f"variants {k + 1}/{variants_per_parent}", len(chosen), len(chosen))
    return result


def _entry_text(entry: Entry) -> str:
    import ase.io

    atoms = Atoms(numbers=entry.atoms.numbers, positions=entry.atoms.positions)
    atoms.info.update(_info(entry.record))
    handle = io.StringIO()
    ase.io.write(handle, atoms, format="extxyz")
    return handle.getvalue()


def write_folder(metal_set: MetalSet, folder) -> Path:
    """``folder/STEM.xyz`` (extxyz, the record on the comment line) for each structure,
    ``order.txt`` (the files in generation order) and ``manifest.json`` (the full records)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for entry in metal_set.entries:
        (folder / f"{entry.stem}.xyz").write_text(_entry_text(entry), encoding="utf-8")
    (folder / "order.txt").write_text("".join(f"{folder / e.stem}.xyz\n" for e in metal_set.entries), encoding="utf-8")
    manifest = {"metal": metal_set.metal, "counts": metal_set.counts(), "clashed_parents": metal_set.clashed,
                "structures": [e.record for e in metal_set.entries]}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return folder


def write_pack(metal_set: MetalSet, path) -> Path:
    """All of a metal's structures, in generation order, in one gzipped extxyz file.

    The gzip header carries no time stamp, so the same set gives the same bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(_entry_text(e) for e in metal_set.entries).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
        handle.write(text)
    return path


def unpack(path, out_dir) -> Path:
    """Write a packed file's structures as ``out_dir/{metal}/STEM.xyz`` plus ``order.txt``
    (generation order); returns the folder."""
    import ase.io

    path = Path(path)
    try:
        frames = ase.io.read(path, index=":", format="extxyz")
    except Exception as exc:  # ase raises many types; the user needs one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StructureError(f"{path}: cannot read packed structures ({reason})") from None
    if not frames:
        raise StructureError(f"{path}: no structures")
    metals = {str(f.info.get("metal", "")) for f in frames}
    if len(metals) != 1 or not metals <= set(METALS):
        raise StructureError(f"{path}: expected the structures of one metal, found {sorted(metals)}")
    folder = Path(out_dir) / metals.pop()
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for atoms in frames:
        stem = str(atoms.info.get("stem", ""))
        if not stem:
            raise StructureError(f"{path}: a structure has no stem on its comment line")
        ase.io.write(folder / f"{stem}.xyz", atoms, format="extxyz")
        lines.append(f"{folder / stem}.xyz\n")
    (folder / "order.txt").write_text("".join(lines), encoding="utf-8")
    return folder


def metals_in_order(metals) -> list:
    """``metals`` in generation order (Cu, Ni, Co, Mn, Zn, Ti, V, Cr, Fe); unknown ones refused."""
    unknown = [m for m in metals if m not in METALS]
    if unknown:
        raise XanesvizError(f"unknown metal(s) {', '.join(unknown)}: choose from {', '.join(METALS)}")
    return [m for m in METALS if m in set(metals)]

