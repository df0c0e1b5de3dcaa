"""Explanation widgets: importance overlays (radial, angular), window choice, trust badge, colour bar."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from .plotly_import import figure_widget_class


#: Colour map for atom sensitivity (viridis, 9 stops), low to high.
VIRIDIS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30", "#fde725"]
TRUST_COLOURS = {0: "#2e7d32", 1: "#ef6c00", 2: "#c62828"}


def colours_for(values: np.ndarray) -> tuple[list[str], float]:
    """One viridis colour per value, scaled to the maximum (returned too)."""
    top = float(np.max(values)) if len(values) else 0.0
    scaled = np.zeros(len(values)) if top <= 0 else np.clip(values / top, 0, 1)
    stops = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in VIRIDIS], float)
    position = np.linspace(0, 1, len(VIRIDIS))
    rgb = np.column_stack([np.interp(scaled, position, stops[:, k]) for k in range(3)]).round().astype(int)
    return ["#%02x%02x%02x" % tuple(c) for c in rgb], top


class SideFigure(widgets.VBox):
    """One plotly figure for the small plots: added Γ(E), radial importance, angular importance.

    One FigureWidget rather than three: each FigureWidget makes the browser evaluate
    plotly.js again (about a second each here), so fewer figures open the page faster.
    """

    def __init__(self, g2_centres: np.ndarray, g4_labels: list[str], cutoff: float):
        from plotly.subplots import make_subplots

        self.g2_centres = np.asarray(g2_centres, float)
        self.cutoff = float(cutoff)
        figure = make_subplots(rows=1, cols=3, column_widths=[0.28, 0.42, 0.3], horizontal_spacing=0.13,
                               specs=[[{}, {"secondary_y": True}, {}]],
                               subplot_titles=("added Γ(E) of the sliders", "Radial: where the model looks",
                                               "Angular: G4 by λ, ζ"))
        figure.add_trace(go.Scatter(name="added Γ", mode="lines", line={"color": "#9467bd"}, showlegend=False), 1, 1)
        figure.add_trace(go.Bar(name="neighbours (count)", marker={"color": "rgba(120,120,120,0.45)"}, width=0.1),
                         1, 2, secondary_y=True)
        figure.add_trace(go.Scatter(name="G2 importance", mode="lines+markers", line={"color": "#d62728"}), 1, 2)
        figure.add_trace(go.Bar(name="G4 importance", x=g4_labels, marker={"color": "#1f77b4"}, showlegend=False), 1, 3)
        figure.update_layout(height=290, width=980, margin={"l": 50, "r": 30, "t": 40, "b": 60}, bargap=0,
                             legend={"orientation": "h", "y": -0.3, "x": 0.35}, font={"size": 11})
        figure.update_annotations(font_size=12)
        figure.update_xaxes(title_text="E (eV)", row=1, col=1)
        figure.update_yaxes(title_text="Γ (eV)", rangemode="tozero", row=1, col=1)
        figure.update_xaxes(title_text="distance from absorber (Å)", range=[0, cutoff + 0.2], row=1, col=2)
        figure.update_yaxes(title_text="importance", rangemode="tozero", row=1, col=2, secondary_y=False)
        figure.update_yaxes(title_text="atoms", rangemode="tozero", showgrid=False, tickformat="d", row=1, col=2,
                            secondary_y=True)
        figure.update_yaxes(title_text="importance", rangemode="tozero", row=1, col=3)
        self.figure = figure_widget_class()(figure)
        self.figure.add_class("xanesviz-side-figure")
        super().__init__([self.figure])
        self.add_class("xanesviz-importance")

    def show_gamma(self, energy: np.ndarray, gamma: np.ndarray) -> None:
        trace = self.figure.data[0]
        trace.x, trace.y = np.asarray(energy, float).tolist(), np.asarray(gamma, float).tolist()

    def show_importance(self, g2_importance: np.ndarray, g4_importance: np.ndarray, distances: np.ndarray) -> None:
        bins = np.arange(0.0, self.cutoff + 0.05, 0.1)  # 0.1 Å bins up to the cutoff, as far as the axis goes
        counts, _ = np.histogram(distances, bins=bins)
        _, neighbours, radial, angular = self.figure.data
        with self.figure.batch_update():
            neighbours.x, neighbours.y = (bins[:-1] + 0.05).tolist(), counts.tolist()
            radial.x, radial.y = self.g2_centres.tolist(), np.asarray(g2_importance, float).tolist()
            angular.y = np.asarray(g4_importance, float).tolist()


def trust_badge_html(score: dict) -> str:
    colour = TRUST_COLOURS[score["level"]]
    return (f"<span class='xanesviz-trust-{score['level']}' style='background:{colour};color:white;padding:2px 8px;"
            f"border-radius:10px'>{html.escape(score['label'])}</span> "
            f"<small>distance to nearest training structure {score['distance']:.2f} "
            f"(training 99th percentile {score['p99']:.2f}; {score['percentile']:.1f} % of training structures lie "
            f"closer to their own neighbour), ensemble spread {score['ensemble_spread_pct']:.1f} %"
            + (f" (complexes of the training kind it never saw: up to {score['spread_limit_pct']:.1f} %)"
               if "spread_limit_pct" in score else "")
            + (f", outside the training range by {score['range_excess']:.1f} σ" if score["range_excess"] > 0 else "")
            + "</small>")


def colour_bar_html(top: float, window_label: str) -> str:
    stops = ", ".join(VIRIDIS)
    return (f"<div class='xanesviz-colour-bar'><small>atom sensitivity |dμ/dr| ({window_label})</small>"
            f"<div style='display:flex;align-items:center;gap:6px'><small>0</small>"
            f"<div style='width:160px;height:10px;background:linear-gradient(to right, {stops})'></div>"
            f"<small>{top:.3g} per Å</small></div></div>")
