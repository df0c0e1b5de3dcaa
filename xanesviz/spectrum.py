"""Spectra: the Spectrum value object, Lorentzian/arctangent/Gaussian broadening, peaks, CSV.

Energies are absolute eV throughout. Broadening functions are pure: arrays in, arrays out.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np


def edge_energy(element: str, edge: str = "K") -> float:
    """The absorption edge's energy (eV) from xraydb (Fe K: 7112 eV)."""
    import xraydb

    return float(xraydb.xray_edge(element, edge).energy)


def core_hole_width(element: str, edge: str = "K") -> float:
    """Natural width (FWHM, eV) of the core hole from xraydb (Fe K: 1.25 eV)."""
    import xraydb

    return float(xraydb.core_width(element, edge))


def lorentzian_kernel(energy_out: np.ndarray, energy_in: np.ndarray, fwhm) -> np.ndarray:
    """Row-normalised Lorentzian weights K[i, j] of input point j for output point i.

    ``fwhm`` is a scalar or one width per output point. Rows sum to one, so the window
    ends are averaged over what lies inside the window rather than pulled towards zero.
    """
    gamma = np.broadcast_to(np.asarray(fwhm, float), energy_out.shape)[:, None] / 2.0
    gamma = np.maximum(gamma, 1e-6)
    kernel = gamma / ((energy_out[:, None] - energy_in[None, :]) ** 2 + gamma**2)
    return kernel / kernel.sum(axis=1, keepdims=True)


def lorentzian_broaden(energy: np.ndarray, mu: np.ndarray, fwhm, energy_out: np.ndarray | None = None) -> np.ndarray:
    """Convolve ``mu`` with a Lorentzian (scalar or energy-dependent FWHM), optionally resampling."""
    energy_out = energy if energy_out is None else energy_out
    return lorentzian_kernel(np.asarray(energy_out, float), np.asarray(energy, float), fwhm) @ np.asarray(mu, float)


def gaussian_broaden(energy: np.ndarray, mu: np.ndarray, fwhm: float) -> np.ndarray:
    """Convolve with a normalised Gaussian of the given FWHM (eV); 0 returns ``mu`` unchanged."""
    mu = np.asarray(mu, float)
    if fwhm <= 0:
        return mu.copy()
    sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    diff = np.asarray(energy, float)[:, None] - np.asarray(energy, float)[None, :]
    kernel = np.exp(-0.5 * (diff / sigma) ** 2)
    return (kernel / kernel.sum(axis=1, keepdims=True)) @ mu


def arctan_gamma(energy: np.ndarray, e_fermi: float, gamma_hole: float, gamma_max: float = 15.0,
                 e_cent: float = 30.0, e_larg: float = 30.0) -> np.ndarray:
    """FDMNES arctangent broadening width Γ(E) (FWHM, eV).

    Γ(E) = Γ_hole + Γ_max (1/2 + 1/π arctan(π/3 Γ_max/E_larg (e − 1/e²))), e = (E − E_F)/E_cent,
    and Γ(E) = Γ_hole at and below E_F.
    """
    e = (np.asarray(energy, float) - e_fermi) / e_cent
    above = e > 0
    extra = np.zeros_like(e)
    if gamma_max > 0 and np.any(above):
        ea = e[above]
        extra[above] = gamma_max * (0.5 + np.arctan(np.pi / 3.0 * gamma_max / e_larg * (ea - 1.0 / ea**2)) / np.pi)
    return gamma_hole + extra


@functools.lru_cache(maxsize=16)
def _broadening_matrix(broadening: "Broadening", energy_bytes: bytes) -> np.ndarray:
    matrix = broadening._build_matrix(np.frombuffer(energy_bytes, float))
    matrix.setflags(write=False)
    return matrix


@dataclass(frozen=True)
class Broadening:
    """Broadening added on top of a spectrum: the FDMNES arctangent Lorentzian plus a Gaussian.

    A model's targets already carry their own broadening (its card says which); the Lorentzian
    here is *extra*, so ``gamma_hole=0, gamma_max=0, gaussian_fwhm=0`` is the identity. ``e_fermi``
    (absolute eV), where the arctangent width starts to grow: None takes the spectrum's
    ``meta["fermi_level_eV"]`` in :meth:`Spectrum.broaden` (a model's predictions carry their
    model's), and :meth:`gamma` needs it set.
    """

    gamma_hole: float = 0.0
    gamma_max: float = 0.0
    e_cent: float = 30.0
    e_larg: float = 30.0
    e_fermi: float | None = None
    gaussian_fwhm: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.gamma_hole <= 0 and self.gamma_max <= 0 and self.gaussian_fwhm <= 0

    def gamma(self, energy: np.ndarray) -> np.ndarray:
        if self.e_fermi is None:
            raise ValueError("the arctangent broadening needs e_fermi (the Fermi level, absolute eV)")
        return arctan_gamma(energy, self.e_fermi, self.gamma_hole, self.gamma_max, self.e_cent, self.e_larg)

    def matrix(self, energy: np.ndarray) -> np.ndarray:
        """The linear operator B with broadened = B @ mu on this grid (read-only; cached, since a
        live dashboard applies the same broadening to every new prediction)."""
        energy = np.ascontiguousarray(energy, float)
        return _broadening_matrix(self, energy.tobytes())

    def _build_matrix(self, energy: np.ndarray) -> np.ndarray:
        out = np.eye(len(energy))
        if self.gamma_hole > 0 or self.gamma_max > 0:
            out = lorentzian_kernel(energy, energy, self.gamma(energy))
        if self.gaussian_fwhm > 0:
            out = gaussian_broaden(energy, out, self.gaussian_fwhm)
        return out

    def apply(self, energy: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu, float).copy() if self.is_identity else self.matrix(energy) @ np.asarray(mu, float)

    def describe(self) -> str:
        e_fermi = "unset" if self.e_fermi is None else f"{self.e_fermi:g} eV"
        return (f"extra arctan Lorentzian (Gamma_hole={self.gamma_hole:g} eV, Gamma_max={self.gamma_max:g} eV, "
                f"E_cent={self.e_cent:g} eV, E_larg={self.e_larg:g} eV, E_F={e_fermi}) + "
                f"Gaussian FWHM {self.gaussian_fwhm:g} eV on top of the model targets' own broadening")


def _frozen_array(values) -> np.ndarray:
    """A read-only float copy (shared, not copied again, when already one)."""
    if isinstance(values, np.ndarray) and values.dtype == float and not values.flags.writeable \
            and values.base is None:
        return values
    out = np.array(values, float)
    out.setflags(write=False)
    return out


def find_peaks(energy: np.ndarray, mu: np.ndarray, rel_prominence: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Peak energies and heights: scipy ``find_peaks`` with prominence >= rel_prominence * max."""
    mu = np.asarray(mu, float)
    if mu.size == 0 or not np.all(np.isfinite(mu)):
        return np.empty(0), np.empty(0)
    top = float(np.max(mu))
    if top <= 0:
        return np.empty(0), np.empty(0)
    import scipy.signal  # here, not at import: it brings scipy.stats, 0.7 s of a dashboard's start

    index, _ = scipy.signal.find_peaks(mu, prominence=rel_prominence * top)
    return np.asarray(energy, float)[index], mu[index]


@dataclass(frozen=True)
class Spectrum:
    """A K-edge XANES spectrum: absolute energies (eV), intensity, optional ensemble std.

    Immutable: the arrays are read-only copies and ``meta`` (provenance written to the CSV
    header: model, edge, broadening, structure) is a read-only mapping; :meth:`with_meta` and
    :meth:`broaden` return new spectra.
    """

    energy: np.ndarray
    mu: np.ndarray
    std: np.ndarray | None = None
    meta: Mapping = field(default_factory=dict)

    def __post_init__(self):
        energy, mu = _frozen_array(self.energy), _frozen_array(self.mu)
        if energy.shape != mu.shape or energy.ndim != 1:
            raise ValueError(f"energy {energy.shape} and mu {mu.shape} must be 1-D and the same length")
        if self.std is not None and np.shape(self.std) != mu.shape:
            raise ValueError("std must have the shape of mu")
        object.__setattr__(self, "energy", energy)
        object.__setattr__(self, "mu", mu)
        if self.std is not None:
            object.__setattr__(self, "std", _frozen_array(self.std))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    def __len__(self) -> int:
        return len(self.energy)

    def with_meta(self, **changes) -> "Spectrum":
        """The same spectrum with ``meta`` entries added or replaced (None removes one)."""
        meta = {**self.meta, **changes}
        return Spectrum(self.energy, self.mu, self.std, {k: v for k, v in meta.items() if v is not None})

    def peaks(self, rel_prominence: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        return find_peaks(self.energy, self.mu, rel_prominence)

    def broaden(self, broadening: Broadening) -> "Spectrum":
        """A new spectrum with extra broadening applied to mean and std (std propagated linearly).
        A broadening without ``e_fermi`` uses this spectrum's ``meta["fermi_level_eV"]``."""
        if broadening.is_identity:
            return self.with_meta()
        if broadening.e_fermi is None and "fermi_level_eV" in self.meta:
            broadening = replace(broadening, e_fermi=float(self.meta["fermi_level_eV"]))
        matrix = broadening.matrix(self.energy)
        std = None if self.std is None else np.sqrt((matrix**2) @ self.std**2)
        return Spectrum(self.energy, matrix @ self.mu, std, dict(self.meta, broadening=broadening.describe()))

    def header_lines(self) -> list[str]:
        """``meta['title']`` and ``meta['units']`` replace the predicted spectrum's first two lines."""
        lines = [self.meta.get("title", "xanesviz predicted K-edge XANES"),
                 "units: " + self.meta.get("units", "energy eV (absolute), intensity arbitrary (target scale)")]
        first = ("structure", "model", "edge", "broadening", "absorber")
        for key in first:
            if key in self.meta:
                lines.append(f"{key}: {self.meta[key]}")
        lines.extend(f"{k}: {v}" for k, v in self.meta.items() if k not in first + ("title", "units"))
        return lines

    def to_csv(self, path: str | os.PathLike | None = None, reference: "Spectrum | None" = None) -> str:
        """Write ``energy_eV,mu[,std][,reference]`` with a ``#`` header; returns the text."""
        columns = {"energy_eV": self.energy, "mu": self.mu}
        if self.std is not None:
            columns["std"] = self.std
        if reference is not None:
            columns["reference_mu"] = np.interp(self.energy, reference.energy, reference.mu)
        text = csv_text(self.header_lines(), columns)
        if path is not None:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        return text


def csv_text(header: list[str], columns: dict[str, np.ndarray]) -> str:
    """CSV with ``# `` comment lines, a column-name line and one row per energy point."""
    values = np.column_stack([np.asarray(v, float) for v in columns.values()])
    if not np.all(np.isfinite(values)):
        raise ValueError("refusing to write non-finite values to CSV")
    out = io.StringIO()
    for line in header:
        out.write(f"# {line}\n")
    out.write(",".join(columns) + "\n")
    for row in values:
        out.write(",".join(f"{v:.6g}" if i else f"{v:.4f}" for i, v in enumerate(row)) + "\n")
    return out.getvalue()
