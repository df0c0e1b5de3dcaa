"""Explanation widgets: importance overlays (radial, angular), window choice, trust badge, colour bar."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from .spectrum_panel import sync_initial_state

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


class ImportancePanel(widgets.VBox):
    """G2 importance against μ over the neighbours' radial distribution; G4 importance by (λ, ζ)."""

    def __init__(self, g2_centres: np.ndarray, g4_labels: list[str]):
        self.g2_centres = np.asarray(g2_centres, float)
        self.radial = go.FigureWidget(
            data=[go.Bar(name="neighbours (count)", marker={"color": "rgba(120,120,120,0.45)"}, width=0.1, yaxis="y2"),
                  go.Scatter(name="G2 importance", mode="lines+markers", line={"color": "#d62728"})],
            layout=go.Layout(height=250, width=420, margin={"l": 50, "r": 50, "t": 30, "b": 40},
                             title={"text": "Radial: where the model looks", "font": {"size": 12}},
                             xaxis={"title": "distance from absorber (Å)", "range": [0, 6.2]},
                             yaxis={"title": "importance", "rangemode": "tozero"},
                             yaxis2={"title": "atoms", "overlaying": "y", "side": "right", "showgrid": False,
                                     "rangemode": "tozero"},
                             legend={"orientation": "h", "y": -0.35}, bargap=0))
        self.angular = go.FigureWidget(
            data=[go.Bar(name="G4 importance", x=g4_labels, marker={"color": "#1f77b4"})],
            layout=go.Layout(height=250, width=360, margin={"l": 50, "r": 10, "t": 30, "b": 60},
                             title={"text": "Angular: G4 by λ, ζ", "font": {"size": 12}},
                             yaxis={"title": "importance", "rangemode": "tozero"}))
        self.radial.add_class("xanesviz-importance-radial")
        self.angular.add_class("xanesviz-importance-angular")
        super().__init__([widgets.HBox([self.radial, self.angular])])
        self.add_class("xanesviz-importance")

    def show(self, g2_importance: np.ndarray, g4_importance: np.ndarray, distances: np.ndarray) -> None:
        bins = np.arange(0.0, 6.1, 0.1)
        counts, _ = np.histogram(distances, bins=bins)
        with self.radial.batch_update():
            self.radial.data[0].x = (bins[:-1] + 0.05).tolist()
            self.radial.data[0].y = counts.tolist()
            self.radial.data[1].x = self.g2_centres.tolist()
            self.radial.data[1].y = np.asarray(g2_importance, float).tolist()
        self.angular.data[0].y = np.asarray(g4_importance, float).tolist()
        sync_initial_state(self.radial)
        sync_initial_state(self.angular)


def trust_badge_html(score: dict) -> str:
    colour = TRUST_COLOURS[score["level"]]
    return (f"<span class='xanesviz-trust-{score['level']}' style='background:{colour};color:white;padding:2px 8px;"
            f"border-radius:10px'>{html.escape(score['label'])}</span> "
            f"<small>distance to nearest training structure {score['distance']:.2f} "
            f"(training 99th percentile {score['p99']:.2f}; {score['percentile']:.1f} % of training structures lie "
            f"closer to their own neighbour), ensemble spread {score['ensemble_spread_pct']:.1f} %"
            + (f", outside the training range by {score['range_excess']:.1f} σ" if score["range_excess"] > 0 else "")
            + "</small>")


def colour_bar_html(top: float, window_label: str) -> str:
    stops = ", ".join(VIRIDIS)
    return (f"<div class='xanesviz-colour-bar'><small>atom sensitivity |dμ/dr| ({window_label})</small>"
            f"<div style='display:flex;align-items:center;gap:6px'><small>0</small>"
            f"<div style='width:160px;height:10px;background:linear-gradient(to right, {stops})'></div>"
            f"<small>{top:.3g} per Å</small></div></div>")
