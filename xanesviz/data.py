"""Data sets on disk (XANESNET layout: xyz/, spectra/, fdmnes/) and their file parsers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import packed
from .errors import SpectrumFileError, StructureError, XanesvizError
from .spectrum import lorentzian_broaden


@dataclass(frozen=True)
class SpectraSet:
    """What a data set's target spectra are: the absorber and edge, their energy grid, and how
    they were made from FDMNES output (fitted by ``benchmarks/fit_target_broadening.py``: the
    cross-section set to zero below the Fermi level, convolved with a Lorentzian of fixed FWHM,
    scaled and resampled on the grid)."""

    element: str
    edge: str
    grid: np.ndarray
    edge_energy_eV: float
    fermi_level_eV: float
    lorentzian_fwhm_eV: float
    scale: float

    def card(self) -> dict:
        """The model card entries a model trained on this set records (``edge``, target broadening)."""
        from .spectrum import core_hole_width

        return {"edge": {"element": self.element, "edge": self.edge, "edge_energy_eV": self.edge_energy_eV,
                         "fermi_level_eV": self.fermi_level_eV,
                         "core_hole_width_eV": core_hole_width(self.element, self.edge)},
                "target_lorentzian_fwhm_eV": self.lorentzian_fwhm_eV,
                "target_broadening": f"Lorentzian FWHM {self.lorentzian_fwhm_eV:g} eV (already in the targets)"}


#: The Fe K-edge FDMNES set (``../shared/data/fe-k-xanes``): 226 points, 7097 to 7172 eV
#: (1/3 eV steps; -15 to +60 eV about the 7112 eV edge).
FE_K_XANES = SpectraSet("Fe", "K", np.linspace(7097.0, 7172.0, 226), edge_energy_eV=7112.0, fermi_level_eV=7110.9,
                        lorentzian_fwhm_eV=1.275, scale=15.59)
FE_K_GRID = FE_K_XANES.grid


def fdmnes_to_target(energy: np.ndarray, cross_section: np.ndarray, spectra: SpectraSet = FE_K_XANES,
                     e_fermi: float | None = None, fwhm: float | None = None, scale: float | None = None) -> np.ndarray:
    """Turn a raw FDMNES cross-section into a data set's target spectrum on its grid (the set's
    Fermi level, Lorentzian and scale unless given)."""
    e_fermi = spectra.fermi_level_eV if e_fermi is None else e_fermi
    fwhm = spectra.lorentzian_fwhm_eV if fwhm is None else fwhm
    scale = spectra.scale if scale is None else scale
    occupied_removed = np.where(np.asarray(energy) < e_fermi, 0.0, np.asarray(cross_section, float))
    return scale * lorentzian_broaden(energy, occupied_removed, fwhm, energy_out=spectra.grid)


def _numeric_rows(path: Path, skip: int) -> np.ndarray:
    path = packed.find(path) or path  # NAME, else its packed form NAME.gz (as the data sets keep it)
    try:
        lines = packed.read_text(path, errors="replace").splitlines()[skip:]
    except (OSError, EOFError) as exc:  # EOFError: a truncated .gz
        raise SpectrumFileError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    rows = []
    for line_no, line in enumerate(lines, start=skip + 1):
        fields = line.replace(",", " ").split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            rows.append([float(fields[0]), float(fields[1])])
        except (ValueError, IndexError):
            if not rows:  # still in the header (e.g. 'FDMNES', 'energy <xanes>')
                continue
            raise SpectrumFileError(f"{path}: line {line_no} is not two numbers 'energy intensity'") from None
    if not rows:
        raise SpectrumFileError(f"{path}: no 'energy intensity' rows")
    data = np.asarray(rows)
    if not np.all(np.isfinite(data)):
        raise SpectrumFileError(f"{path}: contains NaN or infinite values")
    return data


def read_fdmnes(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict]:
    """Raw FDMNES output: (energy eV, cross-section, header values such as E_edge, Z, E_cut)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
    except OSError as exc:
        raise SpectrumFileError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    header = {}
    if "=" in first:
        values, names = first.split("=", 1)
        for name, value in zip((n.strip() for n in names.split(",")), values.split()):
            try:
                header[name] = float(value)
            except ValueError:
                pass
    data = _numeric_rows(path, skip=2)
    return data[:, 0], data[:, 1], header


def read_spectrum_file(path: str | os.PathLike, grid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A plain two-column spectrum (header lines skipped); checked against ``grid`` when given."""
    path = Path(path)
    data = _numeric_rows(path, skip=0)
    energy, mu = data[:, 0], data[:, 1]
    if grid is not None:
        if len(energy) != len(grid) or not np.allclose(energy, grid, atol=0.01):
            raise SpectrumFileError(
                f"{path}: energy grid ({len(energy)} points, {energy[0]:g}-{energy[-1]:g} eV) is not the "
                f"expected one ({len(grid)} points, {grid[0]:g}-{grid[-1]:g} eV)")
    return energy, mu


@dataclass
class Dataset:
    """Paired structures and target spectra of a data directory."""

    names: list[str]
    structures: list
    spectra: np.ndarray  # (n, n_energy)
    energy: np.ndarray
    skipped: list[str]

    def __len__(self) -> int:
        return len(self.names)


def list_stems(data_dir: str | os.PathLike) -> list[str]:
    """Stems present in both ``xyz/`` and ``spectra/`` of a XANESNET-style data directory (``STEM.xyz``
    and ``STEM.txt``, either of them gzip-packed as ``.gz``)."""
    data_dir = Path(data_dir)
    if not (data_dir / "xyz").is_dir() or not (data_dir / "spectra").is_dir():
        raise XanesvizError(f"{data_dir}: not a data directory (needs xyz/ and spectra/ subfolders)")
    return sorted(packed.stems(data_dir / "xyz", ".xyz") & packed.stems(data_dir / "spectra", ".txt"))


def load_dataset(data_dir: str | os.PathLike, grid: np.ndarray = FE_K_XANES.grid, limit: int | None = None,
                 progress: bool = False) -> Dataset:
    """Read every (xyz, spectrum) pair; files that fail are listed in ``skipped`` with the reason."""
    from .structure import read_structure

    data_dir = Path(data_dir)
    stems = list_stems(data_dir)[:limit]
    names, structures, spectra, skipped = [], [], [], []
    iterator = stems
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(stems, desc="reading", unit="file")
    for stem in iterator:
        try:
            atoms = read_structure(data_dir / "xyz" / f"{stem}.xyz")  # either form (packed or not)
            _, mu = read_spectrum_file(data_dir / "spectra" / f"{stem}.txt", grid)
        except (StructureError, SpectrumFileError) as exc:
            skipped.append(str(exc))
            continue
        names.append(stem)
        structures.append(atoms)
        spectra.append(mu)
    if not names:
        raise XanesvizError(f"{data_dir}: no readable (xyz, spectrum) pairs")
    return Dataset(names, structures, np.asarray(spectra), np.asarray(grid, float), skipped)
