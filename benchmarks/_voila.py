"""What the browser benchmarks share: a voila server on a free port, its kernel processes, and
the page-side recorders of a drag (each position the viewer sends, each spectrum redraw)."""

import contextlib
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_browser import PLOT  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(url: str, server: subprocess.Popen, timeout: float = 120) -> float:
    """Wait until the server answers; the time (epoch s) it first did."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit(f"voila exited with status {server.returncode} before listening")
        try:
            urllib.request.urlopen(url + "voila/static/", timeout=1)
        except urllib.error.HTTPError:
            return time.time()  # it answers
        except OSError:
            time.sleep(0.05)
            continue
        return time.time()
    sys.exit(f"voila did not listen within {timeout:.0f} s")


@contextlib.contextmanager
def served_app(settle: float = 12.0):
    """``voila app.ipynb`` on a free 127.0.0.1 port (the repository's voila.json in effect); yields
    its URL once it listens and ``settle`` s have passed (the pre-heated kernel runs the notebook);
    stopped with SIGTERM on exit."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "voila", "app.ipynb", "--no-browser", f"--port={port}",
                               "--Voila.ip=127.0.0.1"], cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_listening(url, server)
        time.sleep(settle)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


@contextlib.contextmanager
def dashboard_page(before_load=None, viewport=(1500, 1100)):
    """A headless Chromium page on a freshly served ``voila app.ipynb``, once its 3D viewer accepts
    drags; ``before_load(page)`` runs before the page loads (to attach listeners)."""
    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM, CHROMIUM_FLAGS

    with served_app() as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            if before_load is not None:
                before_load(page)
            page.goto(url, timeout=90_000)
            page.wait_for_selector("canvas[data-xanesviz-drag=ready]", timeout=90_000)
            yield page
        finally:
            browser.close()


def kernel_processes(server: subprocess.Popen) -> dict[str, psutil.Process]:
    """kernel id -> process, for the kernels the voila server runs now."""
    found = {}
    try:
        children = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return found
    for child in children:
        try:
            cmdline = child.cmdline()
        except psutil.Error:
            continue
        if any("ipykernel" in part for part in cmdline):
            ids = [m.group(1) for part in cmdline for m in [re.search(r"kernel-(.+)\.json", part)] if m]
            found[ids[0] if ids else str(child.pid)] = child
    return found


# Recorders installed in a page: pointer moves of a held button, each position the viewer
# sends (its number, the time stamp of the pointer event that put the atom there, send time),
# and each redraw of the spectrum (time, the drag position it shows).
RECORDERS = f"""() => {{
    const view = document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView;
    const rec = window._xvRec = {{moves: [], sends: [], redraws: [], busy: 0}};
    let lastMove = null;
    window.addEventListener('pointermove', e => {{ if (e.buttons) {{ lastMove = e.timeStamp; rec.moves.push(e.timeStamp); }} }}, true);
    window.addEventListener('pointerup', e => {{ lastMove = e.timeStamp; }}, true);
    view.model.on('change:drag_event', () => {{
        const ev = view.model.get('drag_event');
        rec.sends.push([ev.seq, lastMove === null ? performance.now() : lastMove, performance.now(), ev.final ? 1 : 0]);
    }});
    // every spectrum figure on the page (one, unless a view was rendered twice)
    rec.figures = document.querySelectorAll('{PLOT}').length;
    // a full redraw ends with 'plotly_afterplot', a drag position's traces-only redraw with 'plotly_animated'
    document.querySelectorAll('{PLOT}').forEach(gd => ['plotly_afterplot', 'plotly_animated'].forEach(name => gd.on(name, () => {{
        const r = gd.layout.datarevision; rec.redraws.push([performance.now(), typeof r === 'number' ? r : -1]);
    }})));
    try {{ new PerformanceObserver(l => {{ for (const e of l.getEntries()) rec.busy += e.duration; }})
           .observe({{entryTypes: ['longtask']}}); }} catch (e) {{}}
}}"""
RESET_RECORDERS = "() => { const r = window._xvRec; r.moves = []; r.sends = []; r.redraws = []; r.busy = 0; }"


def drag_latencies(sends: np.ndarray, redraws: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """Per sent position: ms from its pointer event to the first redraw showing it or a later
    position; also how many were redrawn themselves, superseded, or never followed by a redraw."""
    latencies, redrawn, superseded, missing = [], 0, 0, 0
    for seq, origin, _sent, _final in sends:
        later = np.nonzero(redraws[:, 1] >= seq)[0]
        if len(later) == 0:
            missing += 1
            continue
        t, shown = redraws[later[0]]
        latencies.append(t - origin)
        redrawn += shown == seq
        superseded += shown != seq
    return np.array(latencies), redrawn, superseded, missing


def cpu_by_role(server: subprocess.Popen | None = None) -> dict[str, float]:
    """CPU seconds (user + system) so far of the processes that take part, by role: Chromium's
    GPU process (software WebGL and compositing), renderers (the pages), the rest of Chromium,
    the kernels, the voila server (if given) and the Playwright driver."""
    roles = {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            seconds = sum(proc.cpu_times()[:2])
        except psutil.Error:
            continue
        if "chrom" in cmd:
            kind = "--type=gpu" in cmd and "gpu (SwiftShader)" or "--type=renderer" in cmd and "renderer" or "browser, other"
            role = f"chromium {kind}"
        elif "ipykernel" in cmd:
            role = "kernels"
        elif server is not None and proc.pid == server.pid:
            role = "voila server"
        elif "playwright" in cmd:
            role = "playwright driver"
        else:
            continue
        roles[role] = roles.get(role, 0.0) + seconds
    return roles
