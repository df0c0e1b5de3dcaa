"""The measured-spectrum panel: upload a measurement, have it drawn over the prediction
(aligned, and mapped onto the prediction's scale through the two normalisations) with the
residual, and show the figures of the comparison. Widgets only: reading, normalising and
aligning are :mod:`xanesviz.measured` and :mod:`xanesviz.compare`."""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from ..compare import Comparison, compare
from ..errors import XanesvizError
from ..measured import MeasuredSpectrum, read_measured
from ..spectrum import Broadening, Spectrum
from .controls import uploaded_file


def figures_html(result: Comparison, measured: MeasuredSpectrum) -> str:
    """The figures of a comparison as a small table (R-factor, Pearson, Δμ, shift, scale, E0 of each)."""
    n = result.normalisation
    rows = [("R-factor", f"{result.r_factor:.4f}", "Σ(exp−pred)² / Σexp²"),
            ("Pearson", f"{result.pearson:.3f}", "correlation over the overlap"),
            ("Δμ", f"{result.delta_mu_pct:.1f} %", "mean |exp−pred| / mean exp"),
            ("shift", f"{result.shift_eV:+.2f} eV", "prediction moved by"),
            ("scale", f"{result.scale:.3f}", "prediction multiplied by"),
            ("E0 measured", f"{result.e0_measured:.2f} eV", f"larch pre_edge, μ from {measured.mu_source}"),
            ("E0 predicted", f"{result.e0_predicted:.2f} eV", f"{result.e0_predicted + result.shift_eV:.2f} eV aligned")]
    body = "".join(f"<tr><td>{a}</td><td class='xanesviz-figure-{a.split()[0].lower().replace('-', '')}'><b>{b}</b>"
                   f"</td><td><small>{c}</small></td></tr>" for a, b, c in rows)
    note = (f"<small>normalised μ: measurement with larch's pre_edge defaults; prediction with pre-edge "
            f"{n['pre1']:g} to {n['pre2']:g} eV, post-edge {n['norm1']:g} to {n['norm2']:g} eV about its E0 "
            f"(its 75 eV window)</small>")
    warnings = "".join(f"<div class='xanesviz-measured-warning' style='color:#8a6d00'><small>⚠ {html.escape(w)}"
                       f"</small></div>" for w in result.warnings)
    return f"<table class='xanesviz-measured-table'>{body}</table>{note}{warnings}"


class MeasuredPanel(widgets.VBox):
    """Upload, overlay and figures; the dashboard calls :meth:`show_prediction` on every update.

    ``set_broadening(Broadening)`` is called with the fitted broadening by "Fit broadening"
    (the dashboard puts it on its sliders); ``message(text, level)`` shows one line;
    ``changed()`` follows a new, realigned or removed measurement (the dashboard refreshes its export);
    ``draw(energy, mu, residual)`` draws the measurement on the prediction's axes (``draw(None)`` removes it).
    The spectrum panel's plotly figure is used rather than one of its own: a FigureWidget costs
    page-load time, and one shown after the page loaded did not render in the browser tests.
    """

    def __init__(self, element: str, set_broadening=None, message=None, changed=None, draw=None):
        self.element = element
        self._set_broadening = set_broadening or (lambda broadening: None)
        self._message = message or (lambda text, level="info": None)
        self._changed = changed or (lambda: None)
        self._draw_on_plot = draw or (lambda energy, mu=None, residual=None: None)
        self.measured: MeasuredSpectrum | None = None
        self.result: Comparison | None = None
        self.shift: float | None = None  # held between "Align"s, so a drag moves the edge visibly
        self._prediction: Spectrum | None = None
        self._raw: Spectrum | None = None
        self._broadening = Broadening()
        self.upload = widgets.FileUpload(accept="", multiple=False, description="Upload measured")
        self.upload.add_class("xanesviz-measured-upload")
        self.align_button = widgets.Button(description="Align", icon="arrows-h", disabled=True,
                                           tooltip="fit the energy shift and scale of the prediction to the measurement")
        self.align_button.add_class("xanesviz-align")
        self.fit_button = widgets.Button(description="Fit broadening", icon="sliders", disabled=True,
                                         tooltip="fit the extra Γ_hole, Γ_max and Gaussian (and the shift) to the measurement")
        self.fit_button.add_class("xanesviz-fit-broadening")
        self.remove_button = widgets.Button(description="Remove", disabled=True)
        self.title = widgets.HTML("<small>Measured spectrum (XDI, Athena .prj, columns .dat/.txt/.csv/.xmu): "
                                  "drawn normalised over the aligned prediction</small>")
        self.figures = widgets.HTML()
        self.figures.add_class("xanesviz-measured-figures")
        self.upload.observe(self._uploaded, names="value")
        self.align_button.on_click(lambda _: self.align())
        self.fit_button.on_click(lambda _: self.fit_broadening())
        self.remove_button.on_click(lambda _: self.remove())
        super().__init__([self.title, widgets.HBox([self.upload, self.align_button, self.fit_button, self.remove_button]),
                          self.figures])
        self.add_class("xanesviz-measured")

    # -- loading --------------------------------------------------------------------------------
    def load_file(self, path, name: str | None = None) -> bool:
        """Read a measurement; on failure show one line and keep what was loaded before."""
        name = name or Path(path).name
        try:
            measured = read_measured(path, expected_element=self.element)
            result = None
            if self._prediction is not None:
                result = compare(measured, self._prediction)
        except XanesvizError as exc:
            self._message(str(exc).replace(str(path), name), "error")
            return False
        measured = _renamed(measured, name)
        self.measured, self.shift = measured, None if result is None else result.shift_eV
        for button in (self.align_button, self.fit_button, self.remove_button):
            button.disabled = False
        self._show(result and _with_warnings(result, measured.warnings))
        level = "warning" if measured.warnings else "info"
        self._message(f"Measured {name}: {measured.element or 'element not named'}, {len(measured)} points, E0 "
                      f"{measured.e0:.2f} eV, μ from {measured.mu_source}"
                      + (f" ({'; '.join(measured.warnings)})" if measured.warnings else "") + ".", level)
        self._changed()
        return True

    def _uploaded(self, change) -> None:
        with uploaded_file(change, "measured") as upload:
            if upload is not None:
                self.load_file(upload[1], upload[0])

    def remove(self) -> None:
        self.measured = self.result = self.shift = None
        self.figures.value = ""
        self._draw_on_plot(None)
        for button in (self.align_button, self.fit_button, self.remove_button):
            button.disabled = True
        self._changed()

    # -- comparing -------------------------------------------------------------------------------
    def show_prediction(self, spectrum: Spectrum, raw: Spectrum | None = None,
                        broadening: Broadening | None = None) -> None:
        """A new prediction (already broadened as shown; ``raw`` and ``broadening`` for the fit):
        the figures follow at once, with the shift held from the last alignment."""
        self._prediction, self._raw = spectrum, raw or spectrum
        self._broadening = broadening or Broadening()
        if self.measured is None:
            return
        try:
            result = compare(self.measured, spectrum, shift=self.shift)
        except XanesvizError as exc:
            self._message(str(exc), "error")
            return
        self.shift = result.shift_eV
        self._show(result)

    def align(self) -> None:
        """Refit the shift (and scale) to the current prediction."""
        if self.measured is None or self._prediction is None:
            return
        self.shift = None
        self.show_prediction(self._prediction, self._raw, self._broadening)
        self._message(f"Aligned: prediction moved by {self.shift:+.2f} eV.")
        self._changed()

    def fit_broadening(self) -> None:
        """Fit Γ_hole, Γ_max and the Gaussian (from the sliders' values) and the shift; the
        dashboard applies the result to its sliders, which re-broadens and re-compares."""
        if self.measured is None or self._raw is None:
            return
        try:
            result = compare(self.measured, self._raw, broadening=self._broadening, fit_broadening=True)
        except XanesvizError as exc:
            self._message(str(exc), "error")
            return
        self.shift = result.shift_eV
        b = result.broadening
        self._set_broadening(b)
        self._message(f"Fitted broadening: Γ_hole +{b.gamma_hole:.2f} eV, Γ_max {b.gamma_max:.1f} eV, Gaussian "
                      f"{b.gaussian_fwhm:.2f} eV; R-factor {result.r_factor:.4f}, Pearson {result.pearson:.3f}.")

    def _show(self, result: Comparison | None) -> None:
        self.result = result
        if result is None:
            self.figures.value = "<i>no prediction to compare yet</i>"
            return
        self.figures.value = figures_html(result, self.measured)
        self._draw(result)

    def _draw(self, result: Comparison) -> None:
        """The measurement on the prediction's axes: at the model's energies (moved back by the
        shift) and in its units, as prediction + residual x edge step / scale."""
        energy = result.energy - result.shift_eV
        spectrum = self._prediction
        mu = np.interp(energy, spectrum.energy, spectrum.mu)
        residual = result.residual * result.edge_step_predicted / result.scale
        self._draw_on_plot(energy, mu + residual, residual)

    # -- export ----------------------------------------------------------------------------------
    def extend_csv(self, text: str, energy: np.ndarray) -> str:
        """The spectrum CSV ``text`` (one row per point of ``energy``, the prediction's grid) with the
        aligned measurement, the aligned prediction (both normalised) and their residual added.
        Rows outside the overlap with the measurement are left out (no value to write there)."""
        result = self.result
        if result is None:
            return text
        lines = text.splitlines()
        comments = [line for line in lines if line.startswith("#")]
        body = [line for line in lines if not line.startswith("#")]
        moved = np.asarray(energy, float) + result.shift_eV
        inside = (moved >= result.energy[0] - 1e-9) & (moved <= result.energy[-1] + 1e-9)
        measured = np.interp(moved, result.energy, result.measured)
        predicted = np.interp(moved, result.energy, result.predicted)
        extra = [f"# measured: {self.measured.source}, normalised (larch pre_edge), moved by {-result.shift_eV:+.3f} eV "
                 f"onto the model's energy axis; predicted_aligned_norm = {result.scale:.4f} x normalised prediction; "
                 f"residual = measured - predicted",
                 f"# comparison: {result.format()}"]
        if not inside.all():
            extra.append(f"# rows limited to the overlap with the measurement ({energy[inside][0]:.2f}-"
                         f"{energy[inside][-1]:.2f} eV)")
        rows = [body[0] + ",measured_aligned_norm,predicted_aligned_norm,residual"]
        rows += [f"{row},{m:.6g},{p:.6g},{m - p:.6g}" for row, keep, m, p in zip(body[1:], inside, measured, predicted)
                 if keep]
        return "\n".join(comments + extra + rows) + "\n"


def _renamed(measured: MeasuredSpectrum, name: str) -> MeasuredSpectrum:
    """The measurement with its source shown as the uploaded file's name, not the temporary path."""
    from dataclasses import replace

    return replace(measured, source=name)


def _with_warnings(result: Comparison, warnings: tuple) -> Comparison:
    from dataclasses import replace

    return replace(result, warnings=tuple(warnings))
