"""What the panels whose work takes seconds to minutes share: a start and a stop button, a status
line, the work in a background thread (so dragging stays live) whose failures are shown, never
lost in the thread."""

from __future__ import annotations

import html
import threading
from typing import Callable

import ipywidgets as widgets

from ..errors import XanesvizError

COLOURS = {"info": "#555", "error": "#b00020"}


class BackgroundPanel(widgets.VBox):
    """Base of :class:`~xanesviz.app.feff_panel.FeffPanel` and :class:`~xanesviz.app.refine_panel.RefinePanel`.

    A subclass makes ``self.button`` (start), ``self.stop_button`` and ``self.status``, sets
    ``css`` (the status line's class prefix) and ``what`` (named in an unexpected failure's
    message), and runs its work with :meth:`launch`.
    """

    css = "xanesviz-task"
    what = "The task"
    button: widgets.Button
    stop_button: widgets.Button
    status: widgets.HTML
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def say(self, text: str, level: str = "info") -> None:
        """One line in the status: ``level`` "info" or "error"."""
        self.status.value = (f"<span class='{self.css}-{level}' style='color:{COLOURS[level]}'>"
                             f"{html.escape(text)}</span>")

    def launch(self, work: Callable, args: tuple, name: str, wait: bool = False) -> None:
        """Run ``work(*args)`` in a background thread (in this one with ``wait``), the start button
        disabled and the stop button enabled until it ends; its errors go to the status line."""
        self.button.disabled, self.stop_button.disabled = True, False
        if wait:
            self._run(work, args)
            return
        self.thread = threading.Thread(target=self._run, args=(work, args), daemon=True, name=name)
        self.thread.start()

    def _run(self, work: Callable, args: tuple) -> None:
        try:
            work(*args)
        except XanesvizError as exc:
            self.say(str(exc), "error")
        except Exception as exc:  # noqa: BLE001 - shown, never lost in a thread
            self.say(f"{self.what} failed: {type(exc).__name__}: {exc}", "error")
        finally:
            self.button.disabled, self.stop_button.disabled = False, True
