"""The dashboard: structure in, live spectrum out. Widgets and wiring only; the science is in xanesviz."""

from __future__ import annotations

import base64
import re
import os
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from ase import Atoms

from ..errors import StructureError, XanesvizError
from ..examples import GALLERY, example
from ..predictor import Predictor
from ..timing import mark
from .. import read_structure  # the package's public reader (ase.io + XANESNET xyz)
from .controls import BroadeningControls, on_slider_grid, uploaded_file
from .feff_panel import FeffPanel, geometry_key
from .explain_panel import SideFigure, colour_bar_html, colours_for, trust_badge_html
from .live import Coalescer, IdleTask, loop_running, one_blas_thread
from .measured_panel import MeasuredPanel
from .pool import on_hand_out
from .refine_panel import RefinePanel
from .spectrum_panel import SpectrumPanel, message_html, sync_initial_state
from .viewer import DraggableViewer

#: Larger (or periodic) structures are shown as the absorber's cluster within this radius (Å).
DISPLAY_RADIUS = 8.0
MAX_DISPLAY_ATOMS = 2000
UNDO_DEPTH = 200
#: During a drag each position redraws the spectrum only; what else follows the geometry (the
#: peak table, trust badge, radial histogram, atom colours by sensitivity and the atom editor's
#: fields) waits until the held atom has rested this long (no new position), so the kernel and
#: the page spend a drag on the spectrum; a release brings them up to date at once. Longer than
#: a pause between positions of a moving hand (the page sends one every 100 ms at most): at
#: 0.15 s this work (~0.1 s in the kernel, a full redraw of the side figure and new atom colours
#: in the page) started mid-drag and held the next positions up.
REST_DELAY_S = 0.4
#: In a kernel, the first structure's explanations (trust badge, peaks, importance, atom colours:
#: about 1.3 s on a first visit, the peak finder's import included) follow the first paint. The
#: kernel answers nothing while it computes them, so a page that connects meanwhile waits: with
#: a visitor's page waiting (a kernel started for it, or a pool kernel handed out while its
#: notebook ran) they wait for the page's 3D view to report its atoms draggable, at most
#: FIRST_EXPLAIN_PAGE_WAIT_S; in a pool kernel nobody has asked for yet, they come
#: FIRST_EXPLAIN_DELAY_S after the cell returns (time for voila to say whether a visitor took it).
FIRST_EXPLAIN_DELAY_S = 0.5
FIRST_EXPLAIN_PAGE_WAIT_S = 5.0
#: After the 3D view reports its atoms draggable (the page is interactive).
FIRST_EXPLAIN_AFTER_VIEW_S = 0.05


def data_link(text: str, filename: str, mime: str, label: str, css_class: str) -> str:
    """An <a download> link carrying ``text`` as a data URI (the browser saves it as a file)."""
    payload = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return (f"<a class='{css_class}' download='{filename}' href='data:{mime};base64,{payload}' "
            f"style='margin-right:1em'>{label}</a>")


def feff_settings_from_environment():
    """FEFF10 settings of the dashboard's button: $XANESVIZ_FEFF_SETTINGS names one of
    ``xanesviz.feff.SETTINGS`` (default ``reference``; ``no-scf`` is ~7x faster but hardly tells one
    complex from another; ``fast`` is for tests)."""
    from ..feff import REFERENCE, get_settings

    name = os.environ.get("XANESVIZ_FEFF_SETTINGS", "reference")
    try:
        return get_settings(name)
    except XanesvizError:
        import warnings

        warnings.warn(f"XANESVIZ_FEFF_SETTINGS={name!r} is not a known FEFF settings name; using 'reference'")
        return REFERENCE


def _model_key(predictor: Predictor) -> str:
    return str(Path(predictor.bundle.path).resolve())


def model_info_html(predictor: Predictor) -> str:
    """The line under the figures that says which model predicts, and from what data."""
    from ..catalogue import training_summary

    learned = training_summary(predictor.card, predictor.element)
    return (f"<small>model <b>{predictor.name}</b> ({learned}): {' + '.join(predictor.members)}, "
            f"{predictor.element} {predictor.edge} edge, band = ±1σ over the networks</small>")


class Dashboard(widgets.VBox):
    """3D viewer + live spectrum + broadening + export, for one structure at a time."""

    def __init__(self, predictor: Predictor | None = None, atoms: Atoms | None = None, name: str | None = None):
        self.predictor = predictor or Predictor.load()
        self._predictors = {_model_key(self.predictor): self.predictor}  # loaded models, by bundle folder
        mark("bundle loaded")
        self.atoms: Atoms | None = None
        self.loaded: Atoms | None = None
        self.name = ""
        self.absorber = 0
        self.undo_stack: list[np.ndarray] = []
        self._drag_start: np.ndarray | None = None
        self._mid_drag = False  # True while an update comes from a drag that has not been released
        self._at_rest = IdleTask(self._settle, REST_DELAY_S)
        self._first_explain = IdleTask(self._explain_after_first_paint, FIRST_EXPLAIN_DELAY_S)
        self._constructing = True  # the first structure's explanations may wait (see FIRST_EXPLAIN_DELAY_S)
        self._last_seq = -1
        self._drawing_seq: int | None = None  # the drag position being drawn (tags the spectrum's redraw)
        self._drags = Coalescer(self._apply_drag)
        self.spectrum = None
        self.raw_spectrum = None
        self.cluster = None

        self.message = widgets.HTML(layout=widgets.Layout(min_height="1.6em"))
        self.message.add_class("xanesviz-message")
        self.gallery = widgets.Dropdown(options=list(GALLERY), description="Example", layout=widgets.Layout(width="360px"))
        self.upload = widgets.FileUpload(accept="", multiple=False, description="Upload structure")
        self.upload.add_class("xanesviz-upload")
        self.absorber_choice = widgets.Dropdown(description="Absorber", layout=widgets.Layout(width="220px"))
        self.model_choice = widgets.Dropdown(description="Model", layout=widgets.Layout(width="330px"))
        self.model_choice.add_class("xanesviz-model")
        self._listing_models = False
        self._list_models()
        self.undo_button = widgets.Button(description="Undo", icon="undo", layout=widgets.Layout(width="90px"))
        self.reset_button = widgets.Button(description="Reset structure", icon="refresh")
        self.viewer = DraggableViewer()
        self.atom_info = widgets.HTML("<i>Press on an atom to select it; drag it to move it.</i>")
        self.atom_xyz = [widgets.FloatText(description=c, step=0.01, layout=widgets.Layout(width="150px")) for c in "xyz"]
        self.atom_distance = widgets.FloatSlider(description="r to absorber", min=0.5, max=8.0, step=0.01,
                                                 continuous_update=True, readout_format=".2f",
                                                 style={"description_width": "90px"}, layout=widgets.Layout(width="360px"))
        self.atom_box = widgets.VBox([self.atom_info, widgets.HBox(self.atom_xyz), self.atom_distance])
        self.atom_box.add_class("xanesviz-atom-editor")
        self.panel = SpectrumPanel()
        self.pin_button = widgets.Button(description="Pin", icon="thumb-tack")
        self.unpin_button = widgets.Button(description="Unpin")
        self.difference = widgets.Checkbox(description="show current − pinned", value=False, indent=False)
        self.controls = BroadeningControls(self.predictor.energy, self.predictor.core_hole_width,
                                           self.predictor.fermi_level, self.predictor.target_broadening)
        self.export = widgets.HTML()
        self.export.add_class("xanesviz-export")
        self.feff = FeffPanel(lambda: (self.atoms, self.absorber, self.name), self._feff_done,
                              settings=feff_settings_from_environment())
        self.feff_spectrum = None  # the last FEFF10 result, aligned to the prediction of its geometry
        self.feff_key = None
        self._feff_drawn = None
        energy = self.predictor.energy
        self.window = widgets.FloatRangeSlider(value=(float(energy[0]), float(energy[-1])), min=float(energy[0]),
                                               max=float(energy[-1]), step=0.5, description="Window (eV)",
                                               continuous_update=False, readout_format=".1f",
                                               style={"description_width": "90px"},
                                               layout=widgets.Layout(width="560px"))
        self.window.add_class("xanesviz-window")
        self.colour_by_sensitivity = widgets.Checkbox(value=True, description="colour atoms by sensitivity", indent=False)
        self.colour_by_sensitivity.add_class("xanesviz-sensitivity-toggle")
        self.colour_bar = widgets.HTML()
        self.trust = widgets.HTML()
        self.trust.add_class("xanesviz-trust")
        self.measured = MeasuredPanel(self.predictor.element, set_broadening=self._set_broadening,
                                      message=self.show_message, changed=self._measured_changed,
                                      draw=self.panel.show_measured)
        self.refine = RefinePanel(self._refine_inputs, self._refine_step, self._refine_done)
        self.importance = SideFigure(self.predictor.descriptor.g2_centres, self.predictor.descriptor.g4_angular_labels(),
                                     self.predictor.descriptor.r_max)
        self._draw_gamma()
        self.sensitivity_values = None
        self.model_info = widgets.HTML(model_info_html(self.predictor))
        self.model_info.add_class("xanesviz-model-info")

        self.gallery.observe(lambda c: self.load_example(c["new"]), names="value")
        self.upload.observe(self._uploaded, names="value")
        self.absorber_choice.observe(self._absorber_chosen, names="value")
        self.model_choice.observe(self._model_chosen, names="value")
        self.undo_button.on_click(lambda _: self.undo())
        self.reset_button.on_click(lambda _: self.reset())
        self.viewer.observe(self._dragged, names="drag_event")
        self.viewer.observe(lambda c: self.select_atom(c["new"]), names="selected_atom")
        for k, field in enumerate(self.atom_xyz):
            field.observe(lambda c, k=k: self._coordinate_edited(k, c["new"]), names="value")
        self.atom_distance.observe(lambda c: self._distance_edited(c["new"]), names="value")
        self.pin_button.on_click(lambda _: self._pin())
        self.feff.pin_button.on_click(lambda _: self._pin_feff())
        self.unpin_button.on_click(lambda _: self._unpin())
        self.difference.observe(lambda c: self.panel.set_difference(c["new"]), names="value")
        self.controls.on_change(lambda _: self._rebroaden())
        self.controls.on_change(lambda _: self._draw_gamma())
        self.window.observe(lambda _: self._window_changed(), names="value")
        self.colour_by_sensitivity.observe(lambda _: self._explain(), names="value")
        self._selected = -1
        self._editing = False

        top = widgets.HBox([self.gallery, self.upload, self.absorber_choice, self.model_choice, self.undo_button,
                            self.reset_button], layout=widgets.Layout(flex_flow="row wrap"))
        left = widgets.VBox([self.viewer, widgets.HBox([self.colour_by_sensitivity, self.colour_bar]), self.atom_box],
                            layout=widgets.Layout(width="48%"))
        right = widgets.VBox([self.trust, self.panel, self.window,
                              widgets.HBox([self.pin_button, self.unpin_button, self.difference]),
                              self.feff, self.export, self.measured, self.refine], layout=widgets.Layout(width="52%"))
        super().__init__([top, self.message, widgets.HBox([left, right]),
                          widgets.HBox([self.controls, widgets.VBox([self.importance, self.model_info])])])
        self.add_class("xanesviz-dashboard")
        mark("widgets built")
        if atoms is None or not self.load_atoms(atoms, name or "structure"):
            message = self.message.value
            self.load_example(self.gallery.value)
            if atoms is not None:
                self.message.value = message  # why the given structure was not loaded
        # The figures were filled before any browser view exists: make that their initial state.
        sync_initial_state(self.panel.figure)
        sync_initial_state(self.importance.figure)
        self._constructing = False
        # In voila's pool: one message when a visitor takes this kernel, counted by the server as
        # the kernel's activity, so the culler leaves it to the visitor's page (see app/pool.py).
        self._hand_out = on_hand_out(self._handed_out)
        if self._hand_out is None and self._first_explain.pending:
            self._explain_when_page_shows()  # not a pool kernel: its page is waiting
        mark("dashboard built")

    # -- loading ---------------------------------------------------------------------------
    def load_example(self, label: str) -> None:
        self.load_atoms(example(label), label)

    def load_file(self, path: str | os.PathLike, name: str | None = None) -> bool:
        """Load a structure file; on failure show the message and keep the current state."""
        try:
            atoms = read_structure(path)
        except XanesvizError as exc:
            self.show_message(str(exc), "error")
            return False
        return self.load_atoms(atoms, name or Path(path).name)

    def load_atoms(self, atoms: Atoms, name: str) -> bool:
        """Show a new structure; refuses (message, state kept) if it cannot be predicted."""
        note = ""
        predictor = self.predictor
        try:
            if predictor.element not in set(atoms.get_chemical_symbols()):
                predictor = self._model_for_structure(atoms, name)
            absorber = predictor.absorber_index(atoms, None, name)
            if any(atoms.pbc) or len(atoms) > MAX_DISPLAY_ATOMS:
                cluster = predictor.cluster(atoms, absorber, name, radius=DISPLAY_RADIUS)
                note = (f" (showing the {len(cluster.numbers) + 1} atoms within {DISPLAY_RADIUS:g} Å of the absorber "
                        f"of the {len(atoms)}-atom {'periodic ' if any(atoms.pbc) else ''}structure)")
                atoms, absorber = cluster.to_atoms(), 0
            cluster = predictor.cluster(atoms, absorber, name)
            spectrum = predictor.predict(cluster, source=name)
        except XanesvizError as exc:
            self.show_message(str(exc), "error")
            return False
        mark("first prediction")
        if predictor is not self.predictor:
            note += f"; {predictor.element} {predictor.edge} edge, model {predictor.name}"
            self.use_model(predictor)
        self.loaded, self.atoms, self.name, self.absorber = atoms.copy(), atoms.copy(), name, absorber
        self.cluster = cluster
        self.undo_stack.clear()
        self._selected = -1
        candidates = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == self.predictor.element]
        self.absorber_choice.unobserve(self._absorber_chosen, names="value")
        self.absorber_choice.options = [(f"{self.predictor.element} {i}", i) for i in candidates]
        self.absorber_choice.value = absorber
        self.absorber_choice.observe(self._absorber_chosen, names="value")
        self.viewer.show_atoms(self.atoms)
        if self.feff_spectrum is not None:  # a new structure: the last FEFF10 result is not its
            self.feff_spectrum = self.feff_key = self._feff_drawn = None
            self.feff.pin_button.disabled = True
            self.panel.show_feff(None)
        self._show(spectrum)
        self.atom_info.value = "<i>Press on an atom to select it; drag it to move it.</i>"
        self.show_message(f"Loaded {name}: {len(atoms)} atoms, absorber {self.predictor.element} {absorber}{note}.")
        return True

    def _model_for_structure(self, atoms: Atoms, name: str) -> Predictor:
        """The default model for a structure without the current model's element (its one Ti–Zn
        metal's edge); a one-line error if there is no such metal or no model for it."""
        from ..catalogue import absorber_element, model_for

        try:
            element = absorber_element(atoms, source=name)
        except XanesvizError:  # no metal, or several: the current model's own message says what is missing
            return self.predictor
        return self._load_model(model_for(element).path)

    def _load_model(self, path) -> Predictor:
        """A model bundle, loaded once per session (switching back and forth costs nothing)."""
        key = str(Path(path).resolve())
        if key not in self._predictors:
            self._predictors[key] = Predictor.load(path)
        return self._predictors[key]

    def use_model(self, predictor: Predictor) -> None:
        """Predict with ``predictor`` from now on: when its edge or energy axis differs, the
        broadening controls, window, measured spectrum (another element's is removed) and pinned
        reference follow. The caller re-predicts the structure."""
        old, self.predictor = self.predictor, predictor
        self._predictors.setdefault(_model_key(predictor), predictor)
        if old.element != predictor.element or not np.array_equal(old.energy, predictor.energy):
            self.raw_spectrum = None  # the old edge's prediction is not redrawn on the new axis
            self.controls.set_model(predictor.energy, predictor.core_hole_width, predictor.fermi_level,
                                    predictor.target_broadening)
            self._set_window_range(predictor.energy)
            if self.panel.pinned is not None:
                self._unpin()
            self.measured.element = predictor.element
            if self.measured.measured is not None and old.element != predictor.element:
                self.measured.remove()
        self.model_info.value = model_info_html(predictor)
        self._list_models()

    def _set_window_range(self, energy: np.ndarray) -> None:
        lo, hi = float(energy[0]), float(energy[-1])
        with self.window.hold_trait_notifications():
            if lo > self.window.max:  # widen before narrowing: min never exceeds max
                self.window.max = hi
                self.window.min = lo
            else:
                self.window.min = lo
                self.window.max = hi
            self.window.value = (lo, hi)

    def _list_models(self) -> None:
        """The model picker: the shipped models of the current model's element (and the current one)."""
        from ..catalogue import headline_figures, shipped_models

        current = _model_key(self.predictor)
        options = [(f"{m.name} ({m.spectra})", str(m.path.resolve())) for m in shipped_models()
                   if m.element == self.predictor.element and m.edge == self.predictor.edge]
        figures = headline_figures(self.predictor.card)  # how far to trust the model in use, on hover
        self.model_choice.tooltip = f"{self.predictor.name}: {figures}" if figures else self.predictor.name
        if current not in [value for _, value in options]:
            options.insert(0, (f"{self.predictor.name} (loaded from {Path(current).name})", current))
        self._listing_models = True  # setting the options is not a choice
        try:
            self.model_choice.options = options
            self.model_choice.value = current
        finally:
            self._listing_models = False

    def _model_chosen(self, change) -> None:
        """Another model of the same edge picked: re-predict the current geometry with it."""
        if self._listing_models or change["new"] is None or change["new"] == _model_key(self.predictor):
            return
        previous = self.predictor
        try:
            predictor = self._load_model(change["new"])
        except XanesvizError as exc:
            self.show_message(str(exc), "error")
            self._list_models()
            return
        self.use_model(predictor)
        if self.atoms is not None and not self.update():
            self.use_model(previous)
            return
        self.show_message(f"Predicting with {predictor.name} ({predictor.element} {predictor.edge} edge).")

    def _uploaded(self, change) -> None:
        with uploaded_file(change, "upload") as upload:
            if upload is None:
                return
            name, path = upload
            try:
                atoms = read_structure(path)
            except XanesvizError as exc:
                self.show_message(str(exc).replace(str(path), name), "error")
                return
        self.load_atoms(atoms, name)

    def _absorber_chosen(self, change) -> None:
        if change["new"] is None or self.atoms is None:
            return
        previous = self.absorber
        self.absorber = change["new"]
        if not self.update():
            self.absorber = previous
            self.absorber_choice.value = previous  # the dropdown shows what is in use

    # -- prediction ------------------------------------------------------------------------
    def update(self) -> bool:
        """Re-predict the current geometry; on bad geometry show why and keep the last spectrum."""
        with one_blas_thread():
            try:
                cluster = self.predictor.cluster(self.atoms, self.absorber, self.name)
                spectrum = self.predictor.predict(cluster, source=self.name)
            except XanesvizError as exc:
                self.show_message(str(exc), "error")
                return False
            self.cluster = cluster  # cut once; prediction, trust signal and sensitivity all use it
            self._show(spectrum)
        if self.message.value and "error" in self.message.value:
            self.show_message("")
        return True

    def _show(self, raw, explain: bool = True) -> None:
        self.raw_spectrum = raw
        self.spectrum = raw.broaden(self.controls.broadening).with_meta(structure=self.name)
        with self.panel.redraw(live=self._mid_drag):  # the prediction and a measurement's residual at once
            # In a kernel the first structure's peaks follow the first paint (the peak finder's
            # import is 0.7 s); elsewhere (scripts, tests) they come at once.
            first_paint = self._constructing and loop_running()
            self.panel.show(self.spectrum, revision=self._drawing_seq, live=self._mid_drag, peaks=not first_paint)
            self.measured.show_prediction(self.spectrum, raw, self.controls.broadening)
        mark("first spectrum drawn")
        if self.feff_spectrum is not None:
            self._label_feff()
        # Mid-drag the download links wait for the release; the first paint does not wait for
        # them (the xyz writer's import, ase.io, is 0.45 s): they follow with the explanations.
        if self._drag_start is None and not first_paint:
            self._refresh_export()
        if not explain:
            return
        if self._mid_drag:
            self._at_rest.restart()  # the rest follows once the atom rests (or on release)
            return
        self._at_rest.cancel()
        if self._constructing:
            self._first_explain.restart()  # in a kernel: after the cell returns
            if self._first_explain.pending:
                return
        self._first_explain.cancel()
        self._explain()

    def _handed_out(self) -> None:
        """voila gave this pool kernel to a visitor."""
        self.message.send({"xanesviz": "handed out"})
        if self._first_explain.pending:  # the notebook ran while the visitor waited
            self._explain_when_page_shows()

    def _explain_when_page_shows(self) -> None:
        """Hold the first explanations until the page's 3D view reports its atoms draggable (at
        most FIRST_EXPLAIN_PAGE_WAIT_S): the kernel then has answered what the page asked while
        it connected and drew, so the page is interactive before the kernel turns to them."""
        def page_ready(change) -> None:
            self.viewer.unobserve(page_ready, names="drag_ready")
            if change["new"] and self._first_explain.pending:
                self._first_explain.delay = FIRST_EXPLAIN_AFTER_VIEW_S
                self._first_explain.restart()

        if self.viewer.drag_ready:
            return
        self._first_explain.delay = FIRST_EXPLAIN_PAGE_WAIT_S
        self._first_explain.restart()
        self.viewer.observe(page_ready, names="drag_ready")

    def _explain_after_first_paint(self) -> None:
        self._refresh_export()
        self.panel.show_peaks()
        self._explain()
        sync_initial_state(self.importance.figure)  # for a page whose view is made after this

    def _settle(self) -> None:
        """The held atom rests: bring up to date what a drag left behind."""
        self.panel.show_peak_table()
        self._explain()
        if self._selected >= 0:
            self._refresh_atom_editor()

    # -- explanations ------------------------------------------------------------------------
    @property
    def window_range(self) -> tuple[float, float] | None:
        lo, hi = self.window.value
        e = self.predictor.energy
        return None if (lo <= e[0] and hi >= e[-1]) else (lo, hi)

    def importance_in_window(self) -> tuple[np.ndarray, np.ndarray]:
        """(G2 importance per centre, summed over weightings; G4 importance per (λ, ζ), summed over η)."""
        importance = self.predictor.importance(self.window_range)
        if importance is None:
            d = self.predictor.descriptor
            return np.zeros(len(d.g2_centres)), np.zeros(len(d.g4_angular_labels()))
        return importance["g2"], importance["g4"]

    def _window_changed(self) -> None:
        window = self.window_range
        self.panel.figure.layout.shapes = [] if window is None else [
            {"type": "rect", "xref": "x", "yref": "paper", "x0": window[0], "x1": window[1], "y0": 0, "y1": 1,
             "fillcolor": "rgba(255,165,0,0.15)", "line": {"width": 0}, "layer": "below"}]
        self._explain()

    def _explain(self) -> None:
        """Refresh trust badge, importance overlays and atom colours for the current geometry."""
        if self.atoms is None:
            return
        with one_blas_thread():  # a second BLAS thread spins on the core the page needs
            self._explain_now()

    def _explain_now(self) -> None:
        try:
            cluster = self.cluster
            score = self.predictor.domain_score(cluster, prediction=self.raw_spectrum)
            self.trust.value = trust_badge_html(score)
            g2, g4 = self.importance_in_window()
            self.importance.show_importance(g2, g4, cluster.distances)
        except XanesvizError as exc:
            self.show_message(str(exc), "error")
            return
        self._colour_atoms()

    def _colour_atoms(self) -> None:
        """Atom colours by sensitivity for the current geometry and window (or element colours)."""
        if self.atoms is None or self.cluster is None:
            return
        if not self.colour_by_sensitivity.value:
            self.viewer.color_atoms(None)
            self.colour_bar.value = ""
            return
        window = self.window_range
        label = "all energies" if window is None else f"{window[0]:.1f}-{window[1]:.1f} eV"
        try:
            with one_blas_thread():
                self.sensitivity_values = self.predictor.sensitivity(self.cluster, window=window)
        except XanesvizError as exc:
            self.show_message(str(exc), "error")
            return
        mark("first sensitivities")
        colours, top = colours_for(self.sensitivity_values)
        self.viewer.color_atoms(colours)
        self.colour_bar.value = colour_bar_html(top, label)

    def _draw_gamma(self) -> None:
        energy = self.predictor.energy
        self.importance.show_gamma(energy, self.controls.broadening.gamma(energy))

    def _rebroaden(self) -> None:
        if self.raw_spectrum is not None:
            self._show(self.raw_spectrum, explain=False)

    # -- editing -----------------------------------------------------------------------------
    def move_atom(self, index: int, position, final: bool = True, from_viewer: bool = False) -> bool:
        """Move one atom; on a bad geometry the move is undone (viewer included) and False returned."""
        if self._drag_start is None:
            self._drag_start = self.atoms.positions.copy()
        previous = self.atoms.positions[index].copy()
        self.atoms.positions[index] = np.asarray(position, float)
        self._mid_drag = not final
        try:
            ok = self.update()
        finally:
            self._mid_drag = False
        if not ok:
            self.atoms.positions[index] = previous
            self.viewer.set_positions(self.atoms.positions)
        elif not from_viewer:
            self.viewer.set_positions(self.atoms.positions)
        if final:
            if not np.array_equal(self._drag_start, self.atoms.positions):
                self.undo_stack.append(self._drag_start)
                del self.undo_stack[:-UNDO_DEPTH]
            self._drag_start = None
            self._refresh_export()
        if index == self._selected and (final or not ok):  # mid-drag the editor waits for the rest
            self._refresh_atom_editor()
        return ok

    def _dragged(self, change) -> None:
        """A position from the viewer: queued so that only the newest waiting one is drawn."""
        event = change["new"]
        if not event or event.get("seq", 0) == self._last_seq:
            return
        self._last_seq = event.get("seq", 0)
        self._drags.submit(event)

    def _apply_drag(self, event: dict) -> None:
        """Move the dragged atom and redraw; then tell the viewer this position is done."""
        seq = event.get("seq", 0)
        try:
            if self.atoms is None:
                return
            index = int(event["index"])
            if not 0 <= index < len(self.atoms):
                return
            position = np.asarray(event["position"], float)
            if position.shape != (3,) or not np.all(np.isfinite(position)):
                return
            if self.refine.running:  # the refinement owns the geometry until it ends or is stopped
                self.viewer.set_positions(self.atoms.positions)
                self.show_message("A refinement is running: Stop it to edit the structure.", "warning")
                return
            self._selected = index
            self._drawing_seq = seq
            self.move_atom(index, position, final=bool(event.get("final")), from_viewer=True)
        finally:
            self._drawing_seq = None
            if isinstance(seq, int):
                self.viewer.drag_ack = seq

    def select_atom(self, index: int) -> None:
        if self.atoms is None or not 0 <= index < len(self.atoms):
            return
        self._selected = index
        self._refresh_atom_editor()

    def _refresh_atom_editor(self) -> None:
        i = self._selected
        position = self.atoms.positions[i]
        distance = float(np.linalg.norm(position - self.atoms.positions[self.absorber]))
        self._editing = True
        try:
            for field, value in zip(self.atom_xyz, position):
                field.value = round(float(value), 4)
            self.atom_distance.disabled = i == self.absorber
            self.atom_distance.value = on_slider_grid(self.atom_distance, distance)
        finally:
            self._editing = False
        self.atom_info.value = (f"Selected <b>{self.atoms[i].symbol} {i}</b>"
                                + (" (the absorber)" if i == self.absorber else f": {distance:.3f} Å from the absorber"))

    def _coordinate_edited(self, axis: int, value: float) -> None:
        if self._editing or self._selected < 0:
            return
        position = self.atoms.positions[self._selected].copy()
        position[axis] = value
        self.move_atom(self._selected, position)

    def _distance_edited(self, distance: float) -> None:
        if self._editing or self._selected < 0 or self._selected == self.absorber:
            return
        centre = self.atoms.positions[self.absorber]
        vector = self.atoms.positions[self._selected] - centre
        norm = np.linalg.norm(vector)
        # Within half a step of the current distance is the slider showing it on its grid, not a
        # move (an echo arriving after the atom moved on must not pull it back).
        if norm == 0 or abs(distance - norm) <= self.atom_distance.step / 2 + 1e-9:
            return
        self.move_atom(self._selected, centre + vector * distance / norm)

    def undo(self) -> None:
        if not self.undo_stack:
            self.show_message("Nothing to undo.")
            return
        self.atoms.positions = self.undo_stack.pop()
        self.viewer.set_positions(self.atoms.positions)
        self.update()
        if self._selected >= 0:
            self._refresh_atom_editor()

    def reset(self) -> None:
        if self.loaded is None:
            return
        self.undo_stack.append(self.atoms.positions.copy())
        self.atoms = self.loaded.copy()
        self.viewer.set_positions(self.atoms.positions)
        self.update()

    # -- FEFF10 ------------------------------------------------------------------------------
    def _feff_done(self, spectrum, key) -> None:
        """A FEFF10 result (from the background thread or the cache): align it to the prediction and draw it."""
        from ..feff import align_to

        try:
            shift, scale, aligned = align_to(spectrum, self.raw_spectrum)
        except XanesvizError as exc:
            self.feff.status.value = message_html(str(exc), "error")
            return
        self.feff_spectrum, self.feff_key = aligned, key
        self.feff.pin_button.disabled = False
        self._label_feff()

    def _label_feff(self) -> None:
        same = self.atoms is not None and self.feff_key == geometry_key(self.atoms, self.absorber, self.feff.settings)
        alignment = self.feff_spectrum.meta.get("alignment", "")
        if self.predictor.card.get("training_data", {}).get("method") == "FEFF10":
            note = (f"FEFF10 {alignment}; the model learned FEFF10 spectra of these settings, so a large shift "
                    f"or scale says the model is off for this structure")
        else:
            note = f"FEFF10 {alignment}; its energy zero and scale differ from the FDMNES spectra the model learned"
        label = "FEFF10, ab initio" if same else "FEFF10, ab initio (earlier geometry)"
        if (label, note, id(self.feff_spectrum)) != self._feff_drawn:  # a drag redraws only what changed
            self.panel.show_feff(self.feff_spectrum, label, note)
            self._feff_drawn = (label, note, id(self.feff_spectrum))

    def _pin_feff(self) -> None:
        if self.feff_spectrum is None:
            return
        self.panel.pinned = self.feff_spectrum
        self.panel.show(self.panel.current)
        self._refresh_export()
        self.show_message("Pinned the FEFF10 spectrum (aligned to the prediction) as the reference.")

    # -- pin and export ----------------------------------------------------------------------
    def _pin(self) -> None:
        self.panel.pin()
        self._refresh_export()
        self.show_message("Pinned the current spectrum as the reference.")

    def _unpin(self) -> None:
        self.panel.unpin()
        self.difference.value = False
        self._refresh_export()

    def spectrum_csv(self) -> str:
        spectrum = self.spectrum.with_meta(structure=self.name)
        return self.measured.extend_csv(spectrum.to_csv(reference=self.panel.pinned), spectrum.energy)

    def _set_broadening(self, broadening) -> None:
        self.controls.set_broadening(broadening)

    def _measured_changed(self) -> None:
        self.refine.enable(self.measured.measured is not None)
        if self.spectrum is not None:
            self._refresh_export()

    # -- refinement against the measurement --------------------------------------------------
    def _refine_inputs(self):
        if self.measured.measured is None:
            raise XanesvizError("Upload a measured spectrum first: refinement fits the structure to it.")
        if self.atoms is None:
            raise XanesvizError("Load a structure first.")
        self._refine_start = self.atoms.positions.copy()
        return self.predictor, self.atoms, self.measured.measured, self.absorber, self.controls.broadening

    def _refine_step(self, positions) -> None:
        """One animation frame of a running refinement."""
        if self.atoms is None or positions.shape != self.atoms.positions.shape:
            return
        self.atoms.positions = positions
        self.viewer.set_positions(positions)
        self.update()

    def _refine_done(self, result) -> None:
        """The refined (or stopped) structure, as one undo step."""
        if self.atoms is None or result.atoms.positions.shape != self.atoms.positions.shape:
            return
        self.undo_stack.append(self._refine_start)
        del self.undo_stack[:-UNDO_DEPTH]
        self.atoms.positions = result.atoms.positions
        self.measured.shift = result.after.shift_eV  # the refinement refitted the alignment too
        self.viewer.set_positions(self.atoms.positions)
        self.update()

    def structure_xyz(self) -> str:
        from io import StringIO

        from ase.io import write

        out = StringIO()
        write(out, self.atoms, format="xyz", comment=f"{self.name} edited in xanesviz")
        return out.getvalue()

    def _refresh_export(self) -> None:
        stem = re.sub(r"[^A-Za-z0-9.-]+", "_", Path(self.name).stem).strip("_") or "structure"
        self.export.value = (
            data_link(self.spectrum_csv(), f"{stem}_xanes.csv", "text/csv", "⬇ Download spectrum (CSV)",
                      "xanesviz-download-csv")
            + data_link(self.structure_xyz(), f"{stem}_edited.xyz", "chemical/x-xyz", "⬇ Download structure (xyz)",
                        "xanesviz-download-xyz"))

    def show_message(self, text: str, level: str = "info") -> None:
        self.message.value = message_html(text, level) if text else ""
