"""A pre-heated voila kernel, told when a visitor takes it.

voila keeps a pool of kernels that have already run the notebook, and never culls one while it
waits there; but once it hands one to a visitor, that kernel's idle time counts from the
notebook's end. A kernel that waited in the pool longer than ``cull_idle_timeout`` (voila.json:
600 s, a quiet hour on a beamline's server) could then be culled by a culler pass in the
seconds before the visitor's page connects to it, and that page would never become interactive.

voila tells a pool kernel that it was handed out through a websocket of its own
(``/voila/query/<kernel id>``, the one ``voila.utils.wait_for_request`` waits on).
:func:`on_hand_out` waits there without blocking the kernel and then calls back; the dashboard
then sends one message, which the server counts as the kernel's activity, so the visitor's page
has the whole cull timeout to connect. A page that never connects still has its kernel culled.
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable

#: How long a pool kernel tries to reach voila's query socket (the server may still be starting).
CONNECT_FOR_S = 30.0


def query_url() -> str | None:
    """The voila query socket of this kernel, or None when it is not a pre-heated voila kernel."""
    kernel_id = os.environ.get("VOILA_KERNEL_ID")
    if os.environ.get("VOILA_PREHEAT", "False") == "False" or not kernel_id:
        return None
    protocol = os.environ.get("VOILA_WS_PROTOCOL", "ws")
    ip, port = os.environ.get("VOILA_APP_IP", "127.0.0.1"), os.environ.get("VOILA_APP_PORT", "8866")
    base = os.environ.get("VOILA_WS_BASE_URL", os.environ.get("VOILA_SERVER_URL", "/"))
    return f"{protocol}://{ip}:{port}{base}voila/query/{kernel_id}"


def on_hand_out(callback: Callable[[], None]) -> asyncio.Task | None:
    """In a pre-heated voila kernel, call ``callback()`` once a visitor takes this kernel; returns
    the waiting task (keep a reference to it), or None where there is nothing to wait for (not
    a pool kernel, or no event loop running)."""
    url = query_url()
    if url is None:
        return None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None

    async def wait() -> None:
        import websockets

        deadline = loop.time() + CONNECT_FOR_S
        while True:
            try:
                async with websockets.connect(url, open_timeout=10) as socket:
                    await socket.recv()
                break
            except (OSError, asyncio.TimeoutError):
                if loop.time() > deadline:
                    return  # no query socket (voila without pre-heating): nothing to report
                await asyncio.sleep(1.0)
            except websockets.WebSocketException:
                return
        callback()

    return loop.create_task(wait())
