"""Scheduling of live updates: the newest drag position wins, and one BLAS thread per update.

Widgets only hand events over; nothing here knows about spectra.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import contextmanager
from typing import Callable


class Coalescer:
    """Hands the newest of the events submitted before it gets to run to ``apply``.

    In a running kernel, ``submit`` only stores the event and asks the event loop to run
    ``apply`` soon: events that arrive meanwhile (queued while the kernel was busy) replace a
    pending one, so a stale drag position is dropped rather than computed and drawn. An event
    marked ``final`` (the release of a drag) is never dropped. Without a running event loop
    (tests, scripts) ``apply`` runs at once.
    """

    def __init__(self, apply: Callable[[dict], None]):
        self.apply = apply
        self.pending: list[dict] = []
        self.superseded = 0
        self._scheduled = False

    def submit(self, event: dict) -> None:
        kept = [e for e in self.pending if e.get("final")]
        self.superseded += len(self.pending) - len(kept)
        self.pending = kept + [event]
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.drain()
            return
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.drain)

    def drain(self) -> None:
        """Apply the pending events (after coalescing, usually one), oldest first."""
        self._scheduled = False
        while self.pending:
            self.apply(self.pending.pop(0))

    @property
    def busy(self) -> bool:
        """True while a newer event waits: work for the current one can be skipped."""
        return bool(self.pending)


def loop_running() -> bool:
    """Whether an asyncio event loop runs in this thread (a kernel: work can wait for a callback)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class IdleTask:
    """Runs ``run`` once ``restart`` has not been called for ``delay`` seconds.

    For work that can wait while the user is still moving something (the sensitivity colouring
    during a drag): each new position restarts the timer, so the work runs when the atom rests.
    Without a running event loop (tests, scripts) nothing is scheduled; ``cancel`` drops a
    pending run (the caller then does the work itself, as on a release).
    """

    def __init__(self, run: Callable[[], None], delay: float):
        self.run = run
        self.delay = delay
        self._handle = None

    def restart(self) -> None:
        self.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._handle = loop.call_later(self.delay, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    @property
    def pending(self) -> bool:
        return self._handle is not None

    def _fire(self) -> None:
        self._handle = None
        self.run()


_controller = None  # (number of imported modules when made, ThreadpoolController)


@contextmanager
def one_blas_thread():
    """Run the block with one BLAS thread.

    The live update multiplies small matrices (one structure at a time); a second BLAS thread
    gains nothing there, and on a small machine whose other core draws the page (or is taken by
    other work) the threads wait for each other: on a loaded 2-core machine, one sensitivity
    took 560-700 ms with two OpenBLAS threads and 90-100 ms with one.
    """
    global _controller
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    # Scanning the loaded libraries costs ~1.6 ms: redo it only after new imports, which is how a
    # BLAS library arrives (scipy's OpenBLAS is another library than numpy's).
    if _controller is None or _controller[0] != len(sys.modules):
        _controller = (len(sys.modules), ThreadpoolController())
    with _controller[1].limit(limits=1, user_api="blas"):
        yield
