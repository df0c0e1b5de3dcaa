"""A user's measured spectrum: read it (xraylarch), choose μ(E), normalise it as Athena/Larix do.

Readers: XDI (``larch.io.read_xdi``), Athena projects (``read_athena``, one group), plain
column files (``read_ascii``: any whitespace or commas, ``#`` headers), and the FDMNES /
XANESNET spectrum files of :mod:`xanesviz.data`. μ(E) comes from a μ column, from
transmission ln(i0/itrans) or from fluorescence ifluor/i0, whatever the column order; the
caller may say which (``mu_source``). Normalisation is larch's ``pre_edge`` with its
defaults, so E0, edge step and the normalised μ are the ones Athena/Larix show.

xraylarch takes seconds to import, so it is imported here only when a file is read.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import SpectrumFileError

#: Column names read as μ(E) directly, in order of preference.
MU_COLUMNS = ("mu", "mutrans", "mu_trans", "mufluor", "mu_fluor", "xmu", "norm")
ENERGY_COLUMNS = ("energy", "energy_ev", "e", "ev", "en")
I0_COLUMNS = ("i0", "io")
ITRANS_COLUMNS = ("itrans", "i1", "it", "itr")
IFLUOR_COLUMNS = ("ifluor", "if", "ifl", "fluor", "ifl1")
#: Fewer points than this is not a spectrum.
MIN_POINTS = 10

_SOURCE_RE = re.compile(r"^\s*(?:(ln|log)\s*\(\s*)?([A-Za-z_]\w*)\s*/\s*([A-Za-z_]\w*)\s*\)?\s*$")
_ELEMENT_RE = re.compile(r"^\s*#?\s*element\s*[._]\s*symbol\s*[:=]\s*([A-Za-z]{1,2})\b", re.I | re.M)
_EDGE_RE = re.compile(r"^\s*#?\s*element\s*[._]\s*edge\s*[:=]\s*([A-Za-z][A-Za-z0-9]{0,2})\b", re.I | re.M)


@dataclass(frozen=True)
class MeasuredSpectrum:
    """A measured spectrum, read and normalised (larch vocabulary: ``e0``, ``edge_step``, ``norm``).

    ``mu_source`` says which columns made μ (e.g. ``ln(i0/itrans)``); ``normalisation`` holds the
    pre-edge / post-edge ranges used (eV relative to E0) and ``warnings`` anything the user
    should know (element missing or not the model's, energies converted from keV, ...).
    """

    energy: np.ndarray
    mu: np.ndarray
    norm: np.ndarray
    e0: float
    edge_step: float
    element: str | None
    edge: str | None
    mu_source: str
    source: str
    normalisation: dict = field(default_factory=dict)
    warnings: tuple = ()

    def __len__(self) -> int:
        return len(self.energy)

    def summary(self) -> dict:
        """The JSON-friendly figures: element, edge, e0, edge_step, n_points, mu_source, ranges, warnings."""
        return {"file": self.source, "element": self.element, "edge": self.edge, "e0": round(self.e0, 3),
                "edge_step": float(f"{self.edge_step:.6g}"), "n_points": len(self.energy),
                "energy_range": [float(self.energy[0]), float(self.energy[-1])], "mu_source": self.mu_source,
                "normalisation": self.normalisation, "warnings": list(self.warnings)}

    def header_lines(self) -> list[str]:
        ranges = self.normalisation
        return [f"xanesviz measured spectrum: {self.source}",
                f"element: {self.element or 'unknown'}; edge: {self.edge or 'unknown'}; mu from {self.mu_source}",
                f"larch pre_edge: e0 {self.e0:.3f} eV, edge_step {self.edge_step:.6g}, "
                + ", ".join(f"{k} {v:g}" for k, v in ranges.items() if isinstance(v, (int, float))),
                "units: energy eV (absolute); mu as read; norm = (mu - pre-edge line) / edge_step"]

    def to_csv(self, path: str | os.PathLike | None = None) -> str:
        """``energy_eV,mu,norm`` with a ``#`` header; returns the text."""
        from .spectrum import csv_text

        text = csv_text(self.header_lines(), {"energy_eV": self.energy, "mu": self.mu, "norm": self.norm})
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


# -- reading ------------------------------------------------------------------------------------
def _larch_quiet():
    """Import larch's readers with its start-up chatter silenced (seconds, once per process)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import larch.io
        import larch.xafs  # noqa: F401
    return larch.io


def _header_text(path: Path) -> str:
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            lines = []
            for line in handle:
                if len(lines) > 400:
                    break
                lines.append(line)
    except OSError as exc:
        raise SpectrumFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return "".join(lines)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _header_element(text: str) -> tuple[str | None, str | None]:
    """Element symbol and edge from ``Element.symbol`` / ``Element.edge`` header lines (any case/spacing)."""
    from ase.data import atomic_numbers

    element = edge = None
    found = _ELEMENT_RE.search(text)
    if found:
        symbol = found.group(1).capitalize()
        element = symbol if symbol in atomic_numbers else None
    found = _EDGE_RE.search(text)
    if found:
        edge = found.group(1).upper()
    return element, edge


def _columns_from_group(group, path: Path) -> dict[str, np.ndarray]:
    labels = [str(label).strip().lower() for label in getattr(group, "array_labels", [])]
    data = getattr(group, "data", None)
    columns = {}
    if data is not None and len(labels):
        data = np.asarray(data, float)
        for label, row in zip(labels, data):
            columns.setdefault(label, row)
    for name in ("energy", "mu", "i0", "itrans", "ifluor", "norm"):  # Athena groups hold arrays as attributes
        value = getattr(group, name, None)
        if name not in columns and isinstance(value, np.ndarray) and value.ndim == 1:
            columns[name] = np.asarray(value, float)
    if not columns:
        raise SpectrumFileError(f"{path}: no data columns found")
    return columns


def _read_athena(path: Path, group) -> tuple[dict[str, np.ndarray], dict]:
    larch_io = _larch_quiet()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            project = larch_io.read_athena(str(path), do_preedge=False)
    except Exception as exc:  # larch raises many kinds on a bad project
        raise SpectrumFileError(f"{path}: not a readable Athena project ({type(exc).__name__}: {exc})") from None
    names = [name for name in dir(project) if not name.startswith("_")
             and hasattr(getattr(project, name), "energy")]
    if not names:
        raise SpectrumFileError(f"{path}: Athena project holds no spectra")
    if group is None:
        chosen = names[0]
    elif isinstance(group, int) or str(group).isdigit():
        index = int(group)
        if not 0 <= index < len(names):
            raise SpectrumFileError(f"{path}: group {index} out of range (project holds {len(names)}: {', '.join(names)})")
        chosen = names[index]
    else:
        matches = [name for name in names if name.lower() == str(group).lower()
                   or getattr(getattr(project, name), "label", "").lower() == str(group).lower()]
        if not matches:
            raise SpectrumFileError(f"{path}: no group '{group}' (project holds {', '.join(names)})")
        chosen = matches[0]
    chosen_group = getattr(project, chosen)
    element = str(getattr(chosen_group, "atsym", "") or "").capitalize() or None
    edge = str(getattr(chosen_group, "edge", "") or "").upper() or None
    return _columns_from_group(chosen_group, path), {"element": element, "edge": edge,
                                                      "format": f"Athena group '{chosen}'"}


def _looks_like_fdmnes(text: str) -> bool:
    lines = [line for line in text.splitlines() if line.strip()][:3]
    return bool(lines) and (("=" in lines[0] and "E_edge" in lines[0]) or any("<xanes>" in line for line in lines))


def read_columns(path: str | os.PathLike, group=None) -> tuple[dict[str, np.ndarray], dict]:
    """The file's columns by lower-case name, and what its header says (element, edge, format)."""
    path = Path(path)
    if not path.is_file():
        raise SpectrumFileError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise SpectrumFileError(f"{path}: empty file")
    if path.suffix.lower() == ".prj" or _is_gzip(path):
        return _read_athena(path, group)
    text = _header_text(path)
    element, edge = _header_element(text)
    if _looks_like_fdmnes(text):
        from .data import read_fdmnes, read_spectrum_file

        first = text.splitlines()[0]
        if "E_edge" in first:
            energy, mu, header = read_fdmnes(path)
            if element is None and header.get("Z"):
                from ase.data import chemical_symbols

                element = chemical_symbols[int(header["Z"])]
            fmt = "FDMNES output"
        else:
            energy, mu = read_spectrum_file(path)
            fmt = "XANESNET/FDMNES spectrum"
        return {"energy": energy, "mu": mu}, {"element": element, "edge": edge, "format": fmt}
    larch_io = _larch_quiet()
    is_xdi = text.lstrip().upper().startswith("# XDI") or text.lstrip().upper().startswith("#XDI")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            group_ = larch_io.read_xdi(str(path)) if is_xdi else larch_io.read_ascii(str(path))
    except Exception as exc:  # larch raises many kinds on a malformed file
        what = "XDI" if is_xdi else "column"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpectrumFileError(f"{path}: not a readable {what} file ({detail})") from None
    if is_xdi:
        element = element or (str(getattr(group_, "element", "") or "").capitalize() or None)
        edge = edge or (str(getattr(group_, "edge", "") or "").upper() or None)
    columns = _columns_from_group(group_, path)
    return columns, {"element": element, "edge": edge, "format": "XDI" if is_xdi else "columns"}


def _find(columns: dict, names: tuple) -> str | None:
    for name in names:
        if name in columns:
            return name
    return None


def _energy_column(columns: dict, path: Path) -> str:
    name = _find(columns, ENERGY_COLUMNS)
    if name is None:
        name = next(iter(columns))  # the first column, as Athena assumes
    return name


def choose_mu(columns: dict[str, np.ndarray], path: str | os.PathLike = "spectrum",
              mu_source: str | None = None) -> tuple[np.ndarray, str, list[str]]:
    """μ(E) from the columns: (μ, how it was made, notes).

    ``mu_source`` overrides the choice: a column name, ``"ln(A/B)"`` or ``"A/B"`` with column
    names A and B. Without it: a μ column (:data:`MU_COLUMNS`), else transmission
    ln(i0/itrans), else fluorescence ifluor/i0, else the only column besides energy.
    """
    path = Path(path)
    energy_name = _energy_column(columns, path)
    names = ", ".join(columns)
    notes = []

    def column(name):
        key = name.strip().lower()
        if key not in columns:
            raise SpectrumFileError(f"{path}: no column '{name}' for the mu source (columns: {names})")
        return columns[key]

    if mu_source:
        parsed = _SOURCE_RE.match(mu_source)
        if parsed:
            log, a, b = parsed.groups()
            ratio = _ratio(column(a), column(b), path, f"{a}/{b}")
            mu = _log(ratio, path, mu_source) if log else ratio
            return mu, (f"ln({a.lower()}/{b.lower()})" if log else f"{a.lower()}/{b.lower()}"), notes
        if re.fullmatch(r"\s*[A-Za-z_]\w*\s*", mu_source):
            return column(mu_source), mu_source.strip().lower(), notes
        raise SpectrumFileError(f"{path}: mu source '{mu_source}' is neither a column name nor 'ln(A/B)' / 'A/B'")
    mu_name = _find(columns, MU_COLUMNS)
    i0, itrans, ifluor = (_find(columns, n) for n in (I0_COLUMNS, ITRANS_COLUMNS, IFLUOR_COLUMNS))
    if mu_name:
        return columns[mu_name], mu_name, notes
    if i0 and itrans:
        if ifluor:
            notes.append(f"both transmission and fluorescence columns: used ln({i0}/{itrans}); "
                         f"'{ifluor}/{i0}' selects fluorescence")
        return _log(_ratio(columns[i0], columns[itrans], path, f"{i0}/{itrans}"), path, f"ln({i0}/{itrans})"), \
            f"ln({i0}/{itrans})", notes
    if i0 and ifluor:
        return _ratio(columns[ifluor], columns[i0], path, f"{ifluor}/{i0}"), f"{ifluor}/{i0}", notes
    others = [name for name in columns if name != energy_name]
    if len(others) == 1:
        notes.append(f"column '{others[0]}' taken as mu (the only one besides energy)")
        return columns[others[0]], others[0], notes
    raise SpectrumFileError(
        f"{path}: cannot tell mu(E) from columns {names}: give the mu source (a column name, or e.g. 'ln(i0/itrans)')")


def _ratio(a, b, path, label):
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.asarray(a, float) / np.asarray(b, float)
    if not np.all(np.isfinite(ratio)):
        raise SpectrumFileError(f"{path}: {label} is not finite at some points (zero or missing values)")
    return ratio


def _log(ratio, path, label):
    if np.any(ratio <= 0):
        raise SpectrumFileError(f"{path}: {label} needs positive intensities, but some ratio is <= 0")
    return np.log(ratio)


# -- normalisation ------------------------------------------------------------------------------
def normalise(energy: np.ndarray, mu: np.ndarray, **ranges) -> dict:
    """larch's ``pre_edge`` (its defaults unless ``ranges`` says e0, pre1, pre2, norm1, norm2,
    nnorm, nvict): {e0, edge_step, norm, pre1, pre2, norm1, norm2, nnorm}. Energies sorted."""
    _larch_quiet()
    from larch import Group
    from larch.xafs import pre_edge

    group = Group()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        pre_edge(np.asarray(energy, float), np.asarray(mu, float), group=group, make_flat=False, **ranges)
    details = group.pre_edge_details
    return {"e0": float(group.e0), "edge_step": float(group.edge_step), "norm": np.asarray(group.norm, float),
            "pre1": float(details.pre1), "pre2": float(details.pre2), "norm1": float(details.norm1),
            "norm2": float(details.norm2), "nnorm": int(details.nnorm)}


def tabulated_edge(element: str, edge: str = "K") -> float | None:
    """The tabulated absorption-edge energy (eV) from xraydb, None if unknown."""
    import xraydb

    try:
        return float(xraydb.xray_edge(element, edge).energy)
    except Exception:  # xraydb raises several kinds for an unknown element or edge
        return None


def read_measured(path: str | os.PathLike, mu_source: str | None = None, group=None,
                  expected_element: str | None = None) -> MeasuredSpectrum:
    """Read, choose μ(E) and normalise a measured spectrum; one-line :class:`SpectrumFileError` on failure.

    ``group``: the Athena project group (name or index; default the first). ``expected_element``:
    the model's absorber; a file that names another element is still read, with a warning.
    """
    path = Path(path)
    columns, header = read_columns(path, group)
    energy_name = _energy_column(columns, path)
    if mu_source is None and len(columns) < 2:
        raise SpectrumFileError(f"{path}: needs an energy column and at least one more (found {', '.join(columns)})")
    mu, source, notes = choose_mu(columns, path, mu_source)
    energy = np.asarray(columns[energy_name], float)
    if energy.shape != mu.shape:
        raise SpectrumFileError(f"{path}: energy and mu columns differ in length")
    finite = np.isfinite(energy) & np.isfinite(mu)
    if finite.sum() < MIN_POINTS:
        raise SpectrumFileError(f"{path}: only {int(finite.sum())} usable points (needs {MIN_POINTS})")
    if not finite.all():
        notes.append(f"{int((~finite).sum())} point(s) with missing values dropped")
    energy, mu = energy[finite], mu[finite]
    order = np.argsort(energy, kind="stable")
    energy, mu = energy[order], mu[order]
    keep = np.concatenate([[True], np.diff(energy) > 0])
    if not keep.all():
        notes.append(f"{int((~keep).sum())} repeated energy point(s) dropped")
        energy, mu = energy[keep], mu[keep]
    if energy[-1] < 100.0:  # keV, as some beamlines write
        energy = energy * 1000.0
        notes.append("energies read as keV and converted to eV")
    if np.ptp(mu) <= 0:
        raise SpectrumFileError(f"{path}: mu ({source}) is constant: no edge to normalise")
    result = normalise(energy, mu)
    if not (np.isfinite(result["e0"]) and np.all(np.isfinite(result["norm"])) and result["edge_step"] > 1e-10):
        raise SpectrumFileError(f"{path}: normalisation failed (no edge step found in mu from {source})")
    element, edge = header["element"], header["edge"]
    if element is None:
        notes.append("the file does not name its element")
    elif expected_element and element != expected_element:
        notes.append(f"the file is a {element} spectrum, the model's absorber is {expected_element}")
    if element:
        tabulated = tabulated_edge(element, edge or "K")
        if tabulated is not None and abs(result["e0"] - tabulated) > 50.0:
            notes.append(f"E0 {result['e0']:.1f} eV is {result['e0'] - tabulated:+.0f} eV from the tabulated "
                         f"{element} {edge or 'K'} edge ({tabulated:.1f} eV)")
    ranges = {key: round(result[key], 3) for key in ("pre1", "pre2", "norm1", "norm2", "nnorm")}
    ranges["method"] = "larch pre_edge defaults"
    return MeasuredSpectrum(energy, mu, result["norm"], result["e0"], result["edge_step"], element, edge,
                            source, str(path), ranges, tuple(notes))
