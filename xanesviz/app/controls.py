"""Broadening sliders; they produce a :class:`Broadening`, nothing more (Γ(E) is drawn by the dashboard)."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from ..spectrum import Broadening


def on_slider_grid(slider: widgets.FloatSlider, value: float) -> float:
    """``value`` clamped to the slider's range and rounded onto its step grid.

    A browser slider snaps an off-grid value that Python sets and sends the snapped value back;
    values set from Python go through this, so what Python uses is what the slider shows.
    """
    value = min(max(float(value), slider.min), slider.max)
    decimals = max(0, -int(np.floor(np.log10(slider.step))))
    return round(slider.min + round((value - slider.min) / slider.step) * slider.step, decimals)


NOTE = ("The model's spectra already carry its training targets' broadening ({target}). "
        "These sliders add <b>extra</b> broadening on top of it: the FDMNES arctangent Lorentzian Γ(E) "
        "(Γ_hole = core-hole width, Γ_max, E_cent, E_larg, E_F) and a Gaussian for the instrument. "
        "All at zero shows the model's output unchanged.")


class BroadeningControls(widgets.VBox):
    """Sliders for the arctangent Lorentzian and the Gaussian; ``on_change(callback(Broadening))``.

    ``fermi_level``: the model's (E_F's starting value; the grid's start if None);
    ``target_broadening``: what the model's targets already carry, in words."""

    def __init__(self, energy: np.ndarray, core_hole_width: float, fermi_level: float | None = None,
                 target_broadening: str = "see the model card"):
        self.energy = np.asarray(energy, float)
        self.core_hole_width = core_hole_width
        self.fermi_level = float(self.energy[0] if fermi_level is None else fermi_level)
        style = {"description_width": "90px"}
        slider = dict(continuous_update=True, style=style, layout=widgets.Layout(width="330px"), readout_format=".2f")
        self.use_core_hole = widgets.Checkbox(value=False, description=f"add core-hole width ({core_hole_width:.2f} eV, xraydb)",
                                              indent=False)
        self.gamma_hole = widgets.FloatSlider(value=0.0, min=0.0, max=5.0, step=0.05, description="Γ_hole (eV)", **slider)
        self.gamma_max = widgets.FloatSlider(value=0.0, min=0.0, max=20.0, step=0.1, description="Γ_max (eV)", **slider)
        self.e_cent = widgets.FloatSlider(value=30.0, min=1.0, max=80.0, step=0.5, description="E_cent (eV)", **slider)
        self.e_larg = widgets.FloatSlider(value=30.0, min=1.0, max=80.0, step=0.5, description="E_larg (eV)", **slider)
        self.e_fermi = widgets.FloatSlider(value=self.fermi_level, min=float(energy[0]), max=float(energy[-1]), step=0.1,
                                           description="E_F (eV)", **slider)
        self.gaussian = widgets.FloatSlider(value=0.0, min=0.0, max=5.0, step=0.05, description="Gauss (eV)", **slider)
        self.gaussian.add_class("xanesviz-gaussian")
        self.gamma_hole.add_class("xanesviz-gamma-hole")
        self.reset_button = widgets.Button(description="Reset broadening", icon="undo")
        self.reset_button.on_click(lambda _: self.reset())
        self._callbacks = []
        self._sliders = [self.gamma_hole, self.gamma_max, self.e_cent, self.e_larg, self.e_fermi, self.gaussian]
        for w in self._sliders:
            w.observe(self._changed, names="value")
        self.use_core_hole.observe(self._core_hole_toggled, names="value")
        self.note = widgets.HTML(f"<small>{NOTE.format(target=target_broadening)}</small>",
                                 layout=widgets.Layout(width="340px"))
        super().__init__([self.note, self.use_core_hole, *self._sliders, self.reset_button])
        self.add_class("xanesviz-broadening")

    @property
    def broadening(self) -> Broadening:
        return Broadening(gamma_hole=self.gamma_hole.value, gamma_max=self.gamma_max.value, e_cent=self.e_cent.value,
                          e_larg=self.e_larg.value, e_fermi=self.e_fermi.value, gaussian_fwhm=self.gaussian.value)

    def on_change(self, callback) -> None:
        self._callbacks.append(callback)

    def reset(self) -> None:
        with self.hold_trait_notifications():
            for w, value in zip(self._sliders, (0.0, 0.0, 30.0, 30.0, self.fermi_level, 0.0)):
                w.unobserve(self._changed, names="value")
                w.value = value
                w.observe(self._changed, names="value")
            self.use_core_hole.value = False
        self._changed()

    def set_broadening(self, broadening: Broadening) -> None:
        """Put a broadening (e.g. a fitted one) on the sliders, on their grids; one change is announced."""
        values = (broadening.gamma_hole, broadening.gamma_max, broadening.e_cent, broadening.e_larg,
                  broadening.e_fermi, broadening.gaussian_fwhm)
        with self.hold_trait_notifications():
            for w, value in zip(self._sliders, values):
                w.unobserve(self._changed, names="value")
                w.value = on_slider_grid(w, value)
                w.observe(self._changed, names="value")
        self._changed()

    def set_model(self, energy: np.ndarray, core_hole_width: float, fermi_level: float | None = None,
                  target_broadening: str = "see the model card") -> None:
        """Another model's energy axis, core-hole width, Fermi level and target broadening; the
        sliders go back to their defaults (one change is announced)."""
        self.energy = np.asarray(energy, float)
        self.core_hole_width = core_hole_width
        self.fermi_level = float(self.energy[0] if fermi_level is None else fermi_level)
        self.note.value = f"<small>{NOTE.format(target=target_broadening)}</small>"
        self.use_core_hole.description = f"add core-hole width ({core_hole_width:.2f} eV, xraydb)"
        self.e_fermi.unobserve(self._changed, names="value")
        lo, hi = float(self.energy[0]), float(self.energy[-1])
        if lo > self.e_fermi.max:  # widen before narrowing, so min never exceeds max
            self.e_fermi.max, self.e_fermi.min = hi, lo
        else:
            self.e_fermi.min, self.e_fermi.max = lo, hi
        self.e_fermi.observe(self._changed, names="value")
        self.use_core_hole.unobserve(self._core_hole_toggled, names="value")
        self.use_core_hole.value = False
        self.use_core_hole.observe(self._core_hole_toggled, names="value")
        self.reset()

    def _core_hole_toggled(self, change) -> None:
        self.gamma_hole.value = on_slider_grid(self.gamma_hole, self.core_hole_width) if change["new"] else 0.0

    def _changed(self, _change=None) -> None:
        for callback in self._callbacks:
            callback(self.broadening)


@contextmanager
def uploaded_file(change, stem: str):
    """The first file of a ``FileUpload`` value change, written under a temporary name with its
    suffix: yields ``(name, path)`` while the block runs, or None when the change holds no file."""
    files = change["new"]
    if not files:
        yield None
        return
    name = files[0]["name"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{stem}{Path(name).suffix}"
        path.write_bytes(bytes(files[0]["content"]))
        yield name, path
