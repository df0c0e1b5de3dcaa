"""'Compute with FEFF10': a FEFF run of the current geometry in a background thread, with progress, cancel and a cache."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Callable

import ipywidgets as widgets
import numpy as np

from ..feff import REFERENCE, STAGES, FeffCancelled, FeffSettings, run_feff
from .background import BackgroundPanel

#: Rough share of a reference run's time in each stage (the reference cards on a 13-atom octahedron:
#: pot, with SCF, about 60 %), used only for the estimate of time left.
STAGE_SHARE = {"rdinp": 0.01, "atomic": 0.04, "pot": 0.60, "screen": 0.07, "xsph": 0.05, "fms": 0.08,
               "mkgtr": 0.05, "path": 0.02, "genfmt": 0.04, "ff2x": 0.04}


#: CPU priority of the dashboard's FEFF10 stage workers (os.nice scale), and whether they also
#: run in Linux's SCHED_IDLE class (only on CPU time nothing else wants): the live loop comes first.
FEFF_NICENESS = 10
FEFF_IDLE_CLASS = True


def geometry_key(atoms, absorber: int, settings: FeffSettings) -> str:
    """Cache key of a geometry: elements, positions to 1e-4 Å, absorber and settings."""
    digest = hashlib.sha1(np.asarray(atoms.numbers, np.int64).tobytes())
    digest.update(np.round(np.asarray(atoms.positions, float), 4).tobytes())
    digest.update(f"{absorber}|{settings.describe()}".encode())
    return digest.hexdigest()


class FeffPanel(BackgroundPanel):
    """Buttons and a status line; ``on_result(spectrum, key)`` gets each finished (or cached) FEFF spectrum.

    ``current()`` returns (atoms, absorber index, name) of the geometry to compute. The run
    happens off the widget thread, so dragging stays live; Cancel kills the running FEFF stage.
    """

    css, what = "xanesviz-feff", "FEFF10"

    def __init__(self, current: Callable, on_result: Callable, settings: FeffSettings = REFERENCE, runner=run_feff):
        self.current, self.on_result, self.settings, self.runner = current, on_result, settings, runner
        self.cache: dict[str, object] = {}
        self.button = widgets.Button(description="Compute with FEFF10", icon="flask",
                                     tooltip="ab initio spectrum of the current geometry (reference settings; minutes)",
                                     layout=widgets.Layout(width="200px"))
        self.stop_button = widgets.Button(description="Cancel", disabled=True, layout=widgets.Layout(width="90px"))
        self.pin_button = widgets.Button(description="Pin FEFF10", disabled=True, layout=widgets.Layout(width="110px"))
        self.status = widgets.HTML()
        self.status.add_class("xanesviz-feff-status")
        self.button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.cancel())
        self._cancel = threading.Event()
        super().__init__([widgets.HBox([self.button, self.stop_button, self.pin_button]), self.status])
        self.add_class("xanesviz-feff")

    def start(self) -> bool:
        """Start a run for the current geometry (or show the cached result); False if one is running."""
        if self.running:
            return False
        atoms, absorber, name = self.current()
        atoms = atoms.copy()
        key = geometry_key(atoms, absorber, self.settings)
        if key in self.cache:
            self.say("FEFF10: this geometry was computed before; shown from the cache.")
            self.on_result(self.cache[key], key)
            return True
        self._cancel = threading.Event()
        self.say(f"FEFF10: starting ({self.settings.describe()}) …")
        self.launch(self._work, (atoms, absorber, name, key), name="xanesviz-feff")
        return True

    def cancel(self) -> None:
        self._cancel.set()
        self.say("FEFF10: cancelling …")

    def _progress(self, event) -> None:
        finished = STAGES[: event.index + (event.kind == "finished")]
        done = sum(STAGE_SHARE.get(s, 0.0) for s in finished)
        left = f", about {event.elapsed * (1 - done) / done / 60:.1f} min left" if done >= 0.03 else ""
        self.say(f"FEFF10: stage {event.index + 1} of {event.n_stages} ({event.stage}) {event.kind}, "
                  f"{event.elapsed:.0f} s{left}")

    def _work(self, atoms, absorber, name, key) -> None:
        start = time.perf_counter()
        try:
            spectrum = self.runner(atoms, absorber, self.settings, source=name, progress=self._progress,
                                   cancel=self._cancel, niceness=FEFF_NICENESS,
                                   idle=FEFF_IDLE_CLASS)
        except FeffCancelled:
            self.say("FEFF10: cancelled.")
            return
        self.cache[key] = spectrum
        self.say(f"FEFF10: done in {time.perf_counter() - start:.0f} s.")
        self.on_result(spectrum, key)
