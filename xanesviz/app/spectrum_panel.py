"""The spectrum panel: a plotly FigureWidget with mean, ±1σ band, peaks, pinned reference, difference."""

from __future__ import annotations

import html
from contextlib import contextmanager
from copy import deepcopy

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from ..spectrum import Spectrum
from .plotly_import import figure_widget_class


def _set_peaks(trace, energy: np.ndarray, mu: np.ndarray) -> None:
    """The peak markers' positions and their energy labels."""
    trace.x, trace.y, trace.text = energy.tolist(), mu.tolist(), [f"{v:.1f}" for v in energy]


class SpectrumPanel(widgets.VBox):
    """Draws a :class:`Spectrum`; knows nothing about how it was computed."""

    def __init__(self):
        self.figure = figure_widget_class()(
            data=[
                go.Scatter(name="±1σ", mode="lines", line={"width": 0}, fill="toself", fillcolor="rgba(31,119,180,0.2)",
                           hoverinfo="skip"),
                go.Scatter(name="predicted", mode="lines", line={"color": "#1f77b4", "width": 2}),
                go.Scatter(name="peaks", mode="markers+text", marker={"color": "#d62728", "size": 8, "symbol": "triangle-down"},
                           textposition="top center", textfont={"size": 10}),
                go.Scatter(name="pinned", mode="lines", line={"color": "#7f7f7f", "dash": "dash"}, visible=False),
                go.Scatter(name="current − pinned", mode="lines", line={"color": "#2ca02c"}, visible=False, yaxis="y2"),
                go.Scatter(name="measured (aligned)", mode="lines", line={"color": "#000000", "width": 1.5}, visible=False),
                go.Scatter(name="measured − predicted", mode="lines", line={"color": "#d62728", "width": 1},
                           visible=False, yaxis="y2"),
                go.Scatter(name="FEFF10, ab initio", mode="lines", line={"color": "#9467bd", "width": 2},
                           visible=False),
            ],
            layout=go.Layout(
                height=380, margin={"l": 60, "r": 60, "t": 30, "b": 50},
                xaxis={"title": "Energy (eV)"}, yaxis={"title": "μ (arb. units, target scale)"},
                yaxis2={"title": "Δμ", "overlaying": "y", "side": "right", "showgrid": False, "visible": False},
                legend={"orientation": "h", "y": 1.12}, shapes=[],
            ),
        )
        self.figure.add_class("xanesviz-spectrum-figure")
        self.peak_table = widgets.HTML()
        self.pinned: Spectrum | None = None
        self.current: Spectrum | None = None
        self.show_difference = False
        self._drawn_grid: np.ndarray | None = None  # the energies the band and line show
        self._drawn_pinned: Spectrum | None = None  # the spectrum the pinned trace shows
        self._extents: dict[str, dict[str, tuple[float, float]]] = {"y": {}, "y2": {}}  # drawn data, per axis
        self._settled: dict[str, tuple[float, float]] = {}  # data extents at the last full redraw
        self._held: dict[str, tuple[float, float]] | None = None  # mid-drag: the ranges the axes cover
        self._ranges_sent = False
        self._live = False  # inside a live redraw
        super().__init__([self.figure, self.peak_table])
        self.add_class("xanesviz-spectrum")

    def show(self, spectrum: Spectrum, revision: int | None = None, live: bool = False, peaks: bool = True) -> None:
        """Redraw for a new spectrum (one batched update of every trace); ``revision`` (the drag
        position's number) goes to the figure's ``layout.datarevision``, so the page can tell
        which position a redraw shows.

        ``live=True`` is for a position mid-drag: the traces are redrawn and nothing else (the
        axes keep their ranges, see :func:`traces_only`), and the peak table waits for
        :meth:`show_peak_table`; the next plain ``show`` (the release) redraws everything.
        ``peaks=False`` leaves the peaks (markers and table) to :meth:`show_peaks`."""
        if not (np.all(np.isfinite(spectrum.mu)) and (spectrum.std is None or np.all(np.isfinite(spectrum.std)))):
            raise ValueError("spectrum has non-finite values; not drawn")
        self.current = spectrum
        e, mu = spectrum.energy, spectrum.mu
        std = spectrum.std if spectrum.std is not None else np.zeros_like(mu)
        peak_e, peak_mu = spectrum.peaks() if peaks else (np.array([]), np.array([]))
        band, line, peak_trace, pinned, diff = self.figure.data[:5]
        measured_shown = bool(self.figure.data[6].visible)  # read before the batch: it queues writes
        # What did not change is not assigned again (plotly validates and compares every list
        # assigned: a third of an update's time in the kernel): the energy grid, the pinned trace.
        new_grid = self._drawn_grid is None or not np.array_equal(self._drawn_grid, e)
        with (traces_only(self.figure) if live else self.figure.batch_update()):
            # Plain lists: they reach the browser as JSON numbers that any client reads the same way.
            if new_grid:
                band.x = np.concatenate([e, e[::-1]]).tolist()
                line.x = e.tolist()
                self._drawn_grid = np.array(e)
            band.y = np.concatenate([mu + std, (mu - std)[::-1]]).tolist()
            line.y = mu.tolist()
            self._extents["y"]["prediction"] = (float(np.min(mu - std)), float(np.max(mu + std)))
            _set_peaks(peak_trace, peak_e, peak_mu)
            if self.pinned is not None:
                if self._drawn_pinned is not self.pinned:
                    pinned.x, pinned.y, pinned.visible = self.pinned.energy.tolist(), self.pinned.mu.tolist(), True
                    self._drawn_pinned = self.pinned
                self._extents["y"]["pinned"] = (float(np.min(self.pinned.mu)), float(np.max(self.pinned.mu)))
                if self.show_difference:
                    difference = mu - np.interp(e, self.pinned.energy, self.pinned.mu)
                    diff.x, diff.y = e.tolist(), difference.tolist()
                    self._extents["y2"]["difference"] = (float(difference.min()), float(difference.max()))
                else:
                    self._extents["y2"].pop("difference", None)
                diff.visible = self.show_difference
            else:
                pinned.visible = diff.visible = False
                self._drawn_pinned = None
                self._extents["y"].pop("pinned", None)
                self._extents["y2"].pop("difference", None)
            self.figure.layout.yaxis2.visible = bool(self.pinned is not None and self.show_difference) or measured_shown
            if revision is not None:
                self.figure.layout.datarevision = revision
        if not live:
            if peaks:
                self.show_peak_table()
            else:
                self.peak_table.value = ""
            if not self._live:
                self._settled = self._data_extents()

    @contextmanager
    def redraw(self, live: bool = False):
        """One redraw for all the drawing calls inside the block (``show``, ``show_measured``...).

        ``live`` (a drag position) redraws the traces only (:func:`traces_only`), axes held; an
        axis is widened only when the data would leave the extent it was autoranged to at the
        last full redraw (a difference to a pinned spectrum grows as you drag). The next redraw
        that is not live gives the axes back to plotly's autorange."""
        outer, self._live = self._live, live or self._live
        try:
            with (traces_only(self.figure) if self._live else self.figure.batch_update()):
                yield
                self._fit_axes(self._live)
        finally:
            self._live = outer

    def _data_extents(self) -> dict[str, tuple[float, float]]:
        return {axis: (min(lo for lo, _ in spans.values()), max(hi for _, hi in spans.values()))
                for axis, spans in self._extents.items() if spans}

    def _fit_axes(self, live: bool) -> None:
        extents = self._data_extents()
        if not live:
            if self._ranges_sent:
                self.figure.layout.yaxis.autorange = True
                self.figure.layout.yaxis2.autorange = True
            self._held, self._ranges_sent, self._settled = None, False, extents
            return
        if self._held is None:
            self._held = dict(self._settled)  # plotly's autorange covers at least these
        for axis, (lo, hi) in extents.items():
            held = self._held.get(axis)
            if held is not None and held[0] <= lo and hi <= held[1]:
                continue
            lo, hi = (lo, hi) if held is None else (min(lo, held[0]), max(hi, held[1]))
            pad = 0.05 * max(hi - lo, 1e-6)
            self._held[axis] = (lo - pad, hi + pad)
            self.figure.layout["yaxis" if axis == "y" else "yaxis2"].range = list(self._held[axis])
            self._ranges_sent = True

    def show_peaks(self) -> None:
        """The current spectrum's peak markers and table (after a ``show(..., peaks=False)``)."""
        if self.current is None:
            return
        with self.figure.batch_update():
            _set_peaks(self.figure.data[2], *self.current.peaks())
        self.show_peak_table()

    def show_peak_table(self) -> None:
        """The table of the current spectrum's peaks, below the figure."""
        if self.current is None:
            return
        peak_e, peak_mu = self.current.peaks()
        rows = "".join(f"<tr><td>{a:.2f}</td><td>{b:.4f}</td></tr>" for a, b in zip(peak_e, peak_mu))
        self.peak_table.value = (f"<table class='xanesviz-peaks'><tr><th>peak (eV)</th><th>μ</th></tr>{rows}</table>"
                                 if rows else "<i>no peaks above 5 % prominence</i>")

    def show_measured(self, energy: np.ndarray | None, mu: np.ndarray | None = None,
                      residual: np.ndarray | None = None) -> None:
        """Draw a measurement mapped onto the prediction's axes (and its residual on the Δμ axis);
        ``energy=None`` hides them."""
        measured, difference = self.figure.data[5:7]
        shown = energy is not None
        pinned_difference = bool(self.figure.data[4].visible)  # read before the batch: it queues writes
        with self.figure.batch_update():
            if not shown:
                measured.visible = difference.visible = False
                self._extents["y"].pop("measured", None)
                self._extents["y2"].pop("residual", None)
            else:
                e = np.asarray(energy, float).tolist()
                measured.x, measured.y, measured.visible = e, np.asarray(mu, float).tolist(), True
                difference.x, difference.y, difference.visible = e, np.asarray(residual, float).tolist(), True
                self._extents["y"]["measured"] = (float(np.min(mu)), float(np.max(mu)))
                self._extents["y2"]["residual"] = (float(np.min(residual)), float(np.max(residual)))
            self.figure.layout.yaxis2.visible = pinned_difference or shown
        if not self._live:
            self._settled = self._data_extents()

    def show_feff(self, spectrum: Spectrum | None, label: str = "FEFF10, ab initio", note: str = "") -> None:
        """Draw (or, with None, hide) a FEFF10 spectrum already aligned to the prediction; ``note`` says how."""
        trace = self.figure.data[7]
        with self.figure.batch_update():
            if spectrum is None:
                trace.visible = False
                self.figure.layout.annotations = []
                self._extents["y"].pop("feff", None)
                return
            trace.x, trace.y, trace.name, trace.visible = spectrum.energy.tolist(), spectrum.mu.tolist(), label, True
            self._extents["y"]["feff"] = (float(np.min(spectrum.mu)), float(np.max(spectrum.mu)))
            self.figure.layout.annotations = [{"text": note, "xref": "paper", "yref": "paper", "x": 0.0, "y": -0.22,
                                               "showarrow": False, "xanchor": "left",
                                               "font": {"size": 10, "color": "#9467bd"}}] if note else []
        if not self._live:
            self._settled = self._data_extents()

    def pin(self) -> None:
        self.pinned = self.current
        if self.current is not None:
            self.show(self.current)

    def unpin(self) -> None:
        self.pinned = None
        if self.current is not None:
            self.show(self.current)

    def set_difference(self, on: bool) -> None:
        self.show_difference = bool(on)
        if self.current is not None:
            self.show(self.current)

    def trace_values(self, name: str) -> np.ndarray:
        """The y values of a named trace (for tests and exports)."""
        for trace in self.figure.data:
            if trace.name == name:
                return np.asarray(trace.y if trace.y is not None else [], float)
        raise KeyError(name)


@contextmanager
def traces_only(figure: go.FigureWidget):
    """Like ``figure.batch_update()``, but the browser redraws only the changed traces.

    A plotly update of trace data replots the whole figure (defaults, axes, tick labels,
    legend): 35-50 ms on a 2-core machine, the largest part of the page's work per drag
    position. plotly's animation path with no transition and ``redraw: false`` redraws only the
    traces (axes keep their ranges; plotly's ``plotly_animated`` event follows the redraw).
    Falls back to ``batch_update`` if plotly's internals differ.
    """
    if not hasattr(figure, "_perform_batch_animate") or figure._in_batch_mode:
        with figure.batch_update():
            yield
        return
    figure._in_batch_mode = True
    try:
        yield
    finally:
        figure._in_batch_mode = False
        figure._perform_batch_animate({"transition": {"duration": 0, "easing": "linear"},
                                       "frame": {"duration": 0, "redraw": False}})


def sync_initial_state(figure: go.FigureWidget) -> None:
    """Copy a FigureWidget's current data into its initial-state traits.

    plotly's FigureWidget sends edits as messages to views that already exist; a view created
    later starts from ``_widget_data``. Call this once a figure is filled and before it is
    displayed (the dashboard does, at the end of its construction), not on every edit: it
    deep-copies and re-sends the whole figure.
    """
    figure._widget_data = deepcopy(figure._data)
    figure._widget_layout = deepcopy(figure._layout_obj._props)


def message_html(text: str, level: str = "info") -> str:
    colour = {"info": "#555", "error": "#b00020", "warning": "#8a6d00"}[level]
    return f"<span class='xanesviz-message-{level}' style='color:{colour}'>{html.escape(text)}</span>"
