"""'Refine': fit the structure to the loaded measurement in a background thread, animated, stoppable.

Widgets only: the refinement is :func:`xanesviz.refine.refine`. The dashboard supplies what to
refine (``current()``), draws each step (``on_step(positions)``) and applies the result as one
undo step (``on_done(refinement)``).
"""

from __future__ import annotations

import html
import threading
import time
from typing import Callable

import ipywidgets as widgets

from ..errors import XanesvizError
from ..refine import WEAK_BONDS_NOTE, refine
from .background import BackgroundPanel

MODES = {"first shell, ligand by ligand": "ligands", "first shell together (breathing)": "breathing"}
#: Shortest time between two animation frames (s): each frame re-predicts and redraws.
FRAME_INTERVAL_S = 0.25


def bonds_html(result) -> str:
    """Each first-shell bond before → after ± the spread over the networks, and the misfit."""
    symbol = result.atoms[result.absorber].symbol
    def spread(value) -> str:
        return "" if value is None else f"± {value:.3f}"

    rows = "".join(f"<tr><td>{symbol}–{row['element']}{row['donor']}</td><td>{row['before']:.3f}</td><td>→</td>"
                   f"<td><b>{row['after']:.3f}</b></td><td>{spread(row['spread'])}</td></tr>"
                   for row in result.bonds())
    notes = "".join(f"<div><small>{html.escape(n)}</small></div>" for n in result.notes)
    return (f"<table class='xanesviz-refine-table'><tr><th>bond</th><th>before (Å)</th><th></th><th>after</th>"
            f"<th>spread over networks</th></tr>{rows}<tr><td><i>mean</i></td><td>{result.mean_before:.3f}</td>"
            f"<td>→</td><td><b>{result.mean_after:.3f}</b></td><td>{spread(result.mean_spread)}</td></tr></table>"
            f"<small>R-factor {result.before.r_factor:.4f} → {result.after.r_factor:.4f}, {result.evaluations} model "
            f"evaluations, {result.seconds:.1f} s</small>{notes}")


class RefinePanel(BackgroundPanel):
    """Mode, Refine and Stop buttons, a status line and the table of bond lengths.

    ``current()`` returns ``(predictor, atoms, measured, absorber, broadening)`` or raises
    :class:`XanesvizError` saying what is missing.
    """

    css, what = "xanesviz-refine", "Refinement"

    def __init__(self, current: Callable, on_step: Callable, on_done: Callable, refiner=refine):
        self.current, self.on_step, self.on_done, self.refiner = current, on_step, on_done, refiner
        self.mode = widgets.Dropdown(options=list(MODES), description="Refine", layout=widgets.Layout(width="330px"),
                                     style={"description_width": "50px"})
        self.button = widgets.Button(description="Refine", icon="compress", disabled=True,
                                     tooltip="move the first shell until the prediction matches the measurement")
        self.button.add_class("xanesviz-refine")
        self.stop_button = widgets.Button(description="Stop", disabled=True, layout=widgets.Layout(width="80px"))
        self.stop_button.add_class("xanesviz-refine-stop")
        self.status = widgets.HTML()
        self.status.add_class("xanesviz-refine-status")
        self.table = widgets.HTML()
        self.table.add_class("xanesviz-refine-result")
        self.button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self._stop = threading.Event()
        self.result = None
        super().__init__([widgets.HBox([self.mode, self.button, self.stop_button]), self.status, self.table])
        self.add_class("xanesviz-refine-panel")

    def enable(self, on: bool) -> None:
        """Refine is offered while a measurement is loaded."""
        if not self.running:
            self.button.disabled = not on

    def start(self, wait: bool = False) -> bool:
        """Start refining the current structure (``wait``: in this thread, for tests and scripts)."""
        if self.running:
            return False
        try:
            predictor, atoms, measured, absorber, broadening = self.current()
        except XanesvizError as exc:
            self.say(str(exc), "error")
            return False
        self._stop = threading.Event()
        mode = MODES[self.mode.value]
        self.say(f"Refining ({self.mode.value}) …"
                  + (f" Note: {WEAK_BONDS_NOTE}." if mode == "ligands" else ""))
        self.launch(self._work, (predictor, atoms.copy(), measured, absorber, broadening, mode),
                    name="xanesviz-refine", wait=wait)
        return True

    def stop(self) -> None:
        self._stop.set()
        self.say("Stopping: keeping the best structure so far …")

    def _work(self, predictor, atoms, measured, absorber, broadening, mode) -> None:
        last = [0.0]

        def step(positions, info) -> bool:
            if self._stop.is_set():
                return True
            now = time.perf_counter()
            if now - last[0] >= FRAME_INTERVAL_S:
                last[0] = now
                self.say(f"Refining ({info['stage']}): R-factor {info['r_factor']:.4f} after "
                          f"{info['evaluation']} model evaluations …")
                self.on_step(positions.copy())
            return False

        result = self.refiner(predictor, atoms, measured, mode=mode, absorber=absorber, broadening=broadening,
                              callback=step, source="structure")
        self.result = result
        self.table.value = bonds_html(result)
        self.say(("Stopped" if result.stopped else "Refined")
                 + f": R-factor {result.before.r_factor:.4f} → {result.after.r_factor:.4f}; "
                   f"mean first-shell distance {result.mean_before:.3f} → {result.mean_after:.3f} Å. "
                   "Undo restores the structure before.")
        self.on_done(result)
