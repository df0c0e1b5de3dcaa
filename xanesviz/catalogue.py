"""The shipped model bundles, and which one predicts a given absorber's edge.

Each folder of ``pretrained/`` with a ``model_card.json`` is a model; its card says the element
and edge it predicts (``edge``), what it learned from (``training_data``) and its name. One model
per edge is the default for that element: the one whose card says ``"default_for_element": true``,
else one whose card does not say ``false`` (the Fe K FDMNES model is the default for Fe; the Fe K
FEFF10 model beside it declines). A structure's
absorber picks the model when none is named: the named atom, or the structure's one first-row
transition metal; with several metals the caller must name the absorber.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ase.data import chemical_symbols

from .errors import ModelBundleError
from .structure import TRANSITION_METALS, default_absorber

#: Where the shipped bundles live.
PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"


@dataclass(frozen=True)
class ModelEntry:
    """One bundle, as its card describes it."""

    name: str
    element: str
    edge: str
    path: Path
    spectra: str  # what it learned from, in words: e.g. "FDMNES, 4079 Fe complexes"
    default: bool | None  # the card asks to be its element's default (True), declines (False), or is silent
    figures: str = ""  # how good, in words: e.g. "CV Δμ 3.9 %; drags r 0.14-0.72 against FEFF10 (...)"

    @property
    def label(self) -> str:
        return f"{self.element} {self.edge} edge: {self.name} ({self.spectra})"


def training_summary(card: dict, element: str) -> str:
    """What a model learned from, in words: e.g. "FDMNES, 4079 spectra" or, for a FEFF10 edge
    model, "FEFF10, 17 Cu spectra, 97 of all edges"."""
    data = card.get("training_data", {}) if isinstance(card.get("training_data"), dict) else {}
    method = data.get("method") or ("FEFF10" if "feff" in str(data.get("directory", "")).lower() else "FDMNES")
    count, pooled = data.get("n_samples"), data.get("n_samples_all_edges")
    if pooled is not None:  # one of the FEFF10 edge models: its own spectra, and all edges'
        return (f"{method}, {count or 'no'} {element} spectra"
                + (" yet" if not count else "") + f", {pooled} of all edges")
    return f"{method}, {count} spectra" if count else method


def headline_figures(card: dict) -> str:
    """A card's figures in one line: its cross-validated Δμ median (for an edge model, its edge's)
    and, when the card carries a drag-fidelity table, the range of its families' median r of the
    model's change of spectrum against FEFF10's. Empty when the card has neither."""
    parts = []
    cv = card.get("cv_metrics") if isinstance(card.get("cv_metrics"), dict) else {}
    try:
        # an edge model: its own edge's spectra under the shipped method (train-edges' one fitter)
        median = cv["per_method"]["FDMNES transfer"]["all"]["delta_mu_median_pct"] if "per_method" in cv \
            else cv.get("delta_mu_median_pct")
        if median is not None and math.isfinite(float(median)):
            parts.append(f"CV Δμ {float(median):.1f} %")
    except (KeyError, TypeError, ValueError):
        pass
    drag = card.get("drag_fidelity") if isinstance(card.get("drag_fidelity"), dict) else {}
    try:
        rs = [float(f["median_r"]) for f in drag["families"].values()]
        pairs = max(int(f["pairs"]) for f in drag["families"].values())
        if rs and all(math.isfinite(r) for r in rs):  # a family without a figure: no range to show
            parts.append(f"drags r {min(rs):.2f}-{max(rs):.2f} against FEFF10 ({len(rs)} moves of {pairs} real Fe "
                         "complexes)")
    except (KeyError, TypeError, ValueError, AttributeError):
        pass
    return "; ".join(parts)


def _entry(folder: Path) -> ModelEntry | None:
    try:
        card = json.loads((folder / "model_card.json").read_text())
        edge = card["edge"]
        element, edge_name = str(edge["element"]), str(edge.get("edge", "K"))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not a bundle (or a damaged one: loading it names the problem)
    return ModelEntry(name=str(card.get("name", folder.name)), element=element, edge=edge_name, path=folder,
                      spectra=training_summary(card, element),
                      default=None if card.get("default_for_element") is None else bool(card["default_for_element"]),
                      figures=headline_figures(card))


def shipped_models(root: str | Path = PRETRAINED) -> list[ModelEntry]:
    """Every bundle under ``root`` (one folder each), sorted by element in Ti–Zn order, then name."""
    root = Path(root)
    entries = [e for folder in sorted(root.iterdir()) if folder.is_dir() for e in [_entry(folder)] if e] \
        if root.is_dir() else []
    order = {symbol: i for i, symbol in enumerate(TRANSITION_METALS)}
    rank = {True: 0, None: 1, False: 2}  # asks to be the default, is silent, declines
    return sorted(entries, key=lambda e: (order.get(e.element, len(order)), rank[e.default], e.name))


def model_for(element: str, edge: str = "K", root: str | Path = PRETRAINED) -> ModelEntry:
    """The default model for ``element``'s ``edge``; a one-line error naming what exists if none."""
    models = shipped_models(root)
    candidates = [m for m in models if m.element == element and m.edge == edge]
    if not candidates:
        have = ", ".join(dict.fromkeys(f"{m.element} {m.edge}" for m in models)) or "none"  # Ti to Zn
        raise ModelBundleError(f"no model for the {element} {edge} edge yet (models shipped for: {have})")
    return candidates[0]  # sorted: the one that asks to be the default, else one that does not decline


def absorber_element(atoms, absorber: int | str | None = None, source: str = "structure") -> str:
    """The element of the absorbing atom: the named one (index or symbol), else the structure's one
    first-row transition metal; several metals without a named absorber is an error."""
    return chemical_symbols[atoms.numbers[default_absorber(atoms, absorber, source)]]
