"""Dashboard speed in headless Chromium: page to interactive, drag-to-redraw latency, memory.

    python benchmarks/dashboard_latency.py [--moves 100] [--memory-moves 1000]

Serves app.ipynb as ``scripts/app.sh`` does (voila, pre-heated kernel, 127.0.0.1), then
1. times opening the page until the viewer accepts drags and the spectrum is drawn;
2. holds an atom and moves the mouse in 3 px steps, each step 250 ms apart (longer than the
   100 ms send interval), timing each move, as the page receives it, to the next plotly redraw
   of the spectrum, both by the page's clock;
3. optionally makes many more moves and reports the kernel's memory before and after;
and reports uncaught errors in the page and error lines in the voila log.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_browser import CHROMIUM, CHROMIUM_FLAGS, PLOT, find_atom_pixel  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--moves", type=int, default=100)
parser.add_argument("--interval", type=float, default=0.25, help="seconds between moves (default 0.25)")
parser.add_argument("--memory-moves", type=int, default=0)
parser.add_argument("--no-preheat", action="store_true")
args = parser.parse_args()

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
log_path = Path(tempfile.mkdtemp()) / "voila.log"
command = [sys.executable, "-m", "voila", "app.ipynb", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
if not args.no_preheat:
    command += ["--preheat_kernel=True", "--pool_size=1"]
server = subprocess.Popen(command, cwd=REPO, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
url = f"http://127.0.0.1:{port}/"


def kernel_rss_mb() -> float:
    """Resident memory of the voila server's child kernels (MB)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"ipykernel" in cmdline and f"PPid:\t{server.pid}\n" in status:
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
    return total / 1024


try:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "voila/static/", timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.2)
    time.sleep(8 if not args.no_preheat else 0)  # let the pre-heated kernel finish the notebook
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page_errors = []
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        t0 = time.perf_counter()
        page.goto(url, timeout=90_000)
        page.wait_for_selector("canvas[data-xanesviz-drag=ready]", timeout=90_000)
        page.wait_for_function(f"document.querySelector('{PLOT}') && document.querySelector('{PLOT}').data[1].y "
                               f"&& document.querySelector('{PLOT}').data[1].y.length > 100", timeout=60_000)
        print(f"page to interactive: {time.perf_counter() - t0:.2f} s"
              f" ({'pre-heated kernel' if not args.no_preheat else 'cold kernel'})")
        # Both ends are timed by the page's own clock: the pointer event's time stamp (when the browser
        # created it, so queueing before the page handles it counts),
        # and plotly's afterplot event of the spectrum. Nothing polls the page during a move.
        page.evaluate(f"""() => {{ const gd = document.querySelector('{PLOT}'); window._xvRedraws = [];
            window._xvMoves = []; gd.on('plotly_afterplot', () => window._xvRedraws.push(performance.now()));
            window.addEventListener('pointermove', e => {{ if (e.buttons) window._xvMoves.push(e.timeStamp); }},
                                    true); }}""")
        atom = find_atom_pixel(page)
        x, y = atom["x"], atom["y"]
        page.mouse.move(x, y)
        page.mouse.down()
        for step in range(args.moves):
            direction = 1 if (step // 20) % 2 == 0 else -1
            x += 3 * direction
            page.mouse.move(x, y)
            time.sleep(args.interval)
        page.mouse.up()
        moves, redraws = np.array(page.evaluate("window._xvMoves")), np.array(page.evaluate("window._xvRedraws"))
        # Each move's latency is the time to the first redraw after it, if that comes before the next move.
        ends = np.append(moves[1:], np.inf)
        first = np.searchsorted(redraws, moves, side="right")
        lat = np.array([redraws[i] - m for i, m, end in zip(first, moves, ends) if i < len(redraws) and redraws[i] < end])
        message = page.inner_text(".xanesviz-message").strip()
        print(f"dragged {atom['element']} atom {atom['index']}; message after the drag: {message or '(none)'}")
        print(f"drag move -> spectrum redrawn: p50 {np.percentile(lat, 50):.0f} ms, p95 {np.percentile(lat, 95):.0f} ms "
              f"({len(lat)} of {len(moves)} moves redrawn before the next, moves {args.interval * 1000:.0f} ms apart)")
        if args.memory_moves:
            page.mouse.move(x, y)
            page.mouse.down()
            before = kernel_rss_mb()
            for step in range(args.memory_moves):
                x += 2 if (step // 50) % 2 == 0 else -2
                page.mouse.move(x, y)
                time.sleep(0.11)
                if step == 99:
                    warm = kernel_rss_mb()
            page.mouse.up()
            time.sleep(2)
            after = kernel_rss_mb()
            print(f"{args.memory_moves} drag updates: kernel RSS {before:.0f} MB before, {warm:.0f} MB after 100, "
                  f"{after:.0f} MB after all")
        print(f"uncaught errors in the page: {len(page_errors)}" + "".join(f"\n  {e}" for e in page_errors[:5]))
        browser.close()
finally:
    os.kill(server.pid, signal.SIGTERM)
    server.wait(timeout=15)
errors = [line for line in log_path.read_text().splitlines()
          if ("Traceback" in line or "ERROR" in line) and "KeyboardInterrupt caught in kernel" not in line]  # shutdown
print(f"voila log: {len(errors)} error lines" + ("".join(f"\n  {e}" for e in errors[:5]) if errors else ""))
