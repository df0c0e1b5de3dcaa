"""Dashboard speed in headless Chromium: page to interactive, and drag -> redraw as a hand drags.

    python benchmarks/dashboard_latency.py [--seconds 6] [--drags 3] [--rate 60] [--memory-moves 1000]

Serves app.ipynb as ``voila app.ipynb`` does with the repository's voila.json (a pre-heated
kernel; 127.0.0.1), then
1. times opening the page until the viewer accepts drags and the spectrum is drawn;
2. holds an atom and moves the mouse by 3 px every 1/60 s (``--rate``, as a hand drags: many
   moves per position the viewer sends) for ``--seconds``, ``--drags`` times. Every position
   the viewer sends to Python counts: its latency runs from the pointer event that put the atom
   there (the page's event time stamp) to the first redraw of the spectrum (plotly's
   ``afterplot``) that shows that position or a later one. The dashboard tags each drag redraw
   with the position's number (``layout.datarevision``), so a position the kernel skipped
   because a newer one was waiting ("superseded") counts until the redraw of the newer one;
   none is dropped from the percentiles. Both ends are read from the page's own clock;
3. optionally makes many more moves and reports the kernel's memory before and after;
and reports uncaught errors in the page and error lines in the voila log. The drags start once
voila has refilled its pool of pre-heated kernels (it starts one ``fill_delay`` s after the page
takes the first, and running the notebook takes seconds of CPU on a 2-core machine): they
measure the steady state; ``--during-refill`` drags at once instead. ``--with-feff``
starts a FEFF10 run of the structure (reference settings, minutes) before the drags, so they
share the machine with it; ``--feff-to-end`` keeps dragging until that run has ended and reports
its time from the click to the spectrum on the plot. ``--structure FILE`` uploads a structure
through the dashboard's upload button first (default: the gallery's first complex), e.g. a
40-atom complex for the FEFF issue's goal (a FEFF10 spectrum from the dashboard in ≤ 90 s while
drags stay live):

    python benchmarks/dashboard_latency.py --structure FILE.xyz --with-feff --feff-to-end --seconds 6

``--interval 0.25`` gives the old slow-move mode (moves 250 ms apart, longer than the viewer's
send interval, so updates never queue): kinder than a real drag, kept only for comparison.
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
import psutil
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from test_browser import CHROMIUM, CHROMIUM_FLAGS, PLOT, find_atom_pixel  # noqa: E402
from _machine import machine_line  # noqa: E402
from _voila import RECORDERS, RESET_RECORDERS, drag_latencies, kernel_processes  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seconds", type=float, default=6.0, help="length of each drag (default 6 s)")
parser.add_argument("--drags", type=int, default=3, help="drags to measure, pooled (default 3)")
parser.add_argument("--rate", type=float, default=60.0, help="mouse moves per second (default 60, as a hand)")
parser.add_argument("--interval", type=float, help="seconds between moves; overrides --rate "
                    "(0.25 = the old slow-move mode, kinder than a real drag)")
parser.add_argument("--memory-moves", type=int, default=0)
parser.add_argument("--no-preheat", action="store_true")
parser.add_argument("--with-feff", action="store_true",
                    help="start 'Compute with FEFF10' (reference settings) before the drags: the live loop "
                         "shares the machine with a FEFF run, as when a user drags while FEFF computes")
parser.add_argument("--feff-to-end", action="store_true",
                    help="with --with-feff: keep dragging (drags of --seconds) until the FEFF10 run ends; report its time")
parser.add_argument("--structure", type=Path,
                    help="upload this structure file through the dashboard (default: the gallery's first complex)")
parser.add_argument("--during-refill", action="store_true",
                    help="drag at once, while voila refills its pool (it starts a kernel that runs the notebook "
                         "fill_delay s after the page took the pre-heated one, seconds of CPU on a 2-core machine); "
                         "by default the drags wait until the refill is done")
args = parser.parse_args()
interval = args.interval if args.interval else 1.0 / args.rate
if args.feff_to_end and not args.with_feff:
    parser.error("--feff-to-end needs --with-feff")
if args.structure and not args.structure.is_file():
    parser.error(f"--structure {args.structure}: no such file")
print("command: " + " ".join([Path(sys.executable).name] + sys.argv))
print(machine_line())

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
log_path = Path(tempfile.mkdtemp()) / "voila.log"
command = [sys.executable, "-m", "voila", "app.ipynb", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
command += (["--VoilaConfiguration.preheat_kernel=False"] if args.no_preheat  # voila.json pre-heats
            else ["--preheat_kernel=True", "--pool_size=1"])
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


def wait_for_pool_refill(server, timeout: float = 90) -> str:
    """Wait until voila has refilled its pool (a second kernel) and that kernel is idle."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        kernels = list(kernel_processes(server).values())
        if len(kernels) >= 2:
            newest = max(kernels, key=lambda k: k.create_time())
            try:
                before = sum(newest.cpu_times()[:2])
                time.sleep(1.0)
                if sum(newest.cpu_times()[:2]) - before < 0.05:
                    return f"voila refilled its pool ({time.time() - t0:.0f} s after the page was ready); the drags start now"
            except psutil.Error:
                pass
        else:
            time.sleep(0.5)
    return f"voila had not refilled its pool within {timeout:.0f} s; dragging anyway"


def drag(page, x: float, y: float, n_moves: int, step_px: float = 3) -> float:
    """Hold the button at (x, y) and move n_moves times, one move every ``interval`` seconds on
    an absolute schedule (a late move does not delay the later ones); returns the last x."""
    page.mouse.move(x, y)
    page.mouse.down()
    start = time.perf_counter()
    for step in range(n_moves):
        x += step_px if (step // 20) % 2 == 0 else -step_px
        page.mouse.move(x, y)
        wait = start + (step + 1) * interval - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    page.mouse.up()
    return x


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
        time.sleep(2)  # the first sensitivity colouring and side figure settle
        if not args.no_preheat and not args.during_refill:
            print(wait_for_pool_refill(server))
        if args.structure:
            before = page.evaluate(f"Array.from(document.querySelector('{PLOT}').data[1].y)")
            with page.expect_file_chooser() as chooser:
                page.click(".xanesviz-upload")
            chooser.value.set_files(str(args.structure))
            page.wait_for_function(f"(before) => {{ const y = document.querySelector('{PLOT}').data[1].y; "
                                   "return y.length !== before.length || y.some((v, i) => v !== before[i]); }",
                                   arg=before, timeout=60_000)
            time.sleep(2)  # the new structure's colouring and side figure settle
            print(f"uploaded {args.structure.name}: {page.inner_text('.xanesviz-message').strip() or 'drawn'}")
        if args.with_feff:
            feff_clicked = time.perf_counter()
            page.click(".xanesviz-feff button:has-text('Compute with FEFF10')")
            page.wait_for_function("/FEFF10: stage/.test(document.querySelector('.xanesviz-feff-status').innerText)",
                                   timeout=60_000)
            print(f"FEFF10 running during the drags: {page.inner_text('.xanesviz-feff-status').strip()}")
        page.evaluate(RECORDERS)
        atom = find_atom_pixel(page)
        n_moves = max(1, round(args.seconds / interval))
        all_latencies, totals = [], np.zeros(4, int)
        feff_done_at = None

        def feff_finished() -> bool:
            status = page.inner_text(".xanesviz-feff-status")
            return "done in" in status or "failed" in status or "cancelled" in status

        cdp = page.context.new_cdp_session(page)  # the page's own accounting of its main thread
        cdp.send("Performance.enable")

        def main_thread() -> dict:
            return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}

        k = 0
        while k < args.drags or (args.feff_to_end and feff_done_at is None and k < 200):
            page.evaluate(RESET_RECORDERS)
            before = main_thread()
            t_drag = time.perf_counter()
            drag(page, atom["x"], atom["y"], n_moves)
            held = time.perf_counter() - t_drag
            time.sleep(2.0)  # the last positions are drawn
            spent = {name: value - before.get(name, 0.0) for name, value in main_thread().items()}
            rec = page.evaluate("window._xvRec")
            moves, sends = np.array(rec["moves"]), np.array(rec["sends"], float).reshape(-1, 4)
            redraws = np.array(rec["redraws"], float).reshape(-1, 2)
            lat, redrawn, superseded, missing = drag_latencies(sends, redraws)
            all_latencies.append(lat)
            totals += [len(sends), redrawn, superseded, missing]
            pct = (lambda q: np.percentile(lat, q)) if len(lat) else (lambda q: np.nan)
            print(f"drag {k + 1}: {len(moves)} pointer moves in {held:.1f} s "
                  f"({len(moves) / held:.0f}/s; median gap {np.median(np.diff(moves)) if len(moves) > 1 else np.nan:.0f} ms), "
                  f"{len(sends)} positions sent, {redrawn} redrawn, {superseded} superseded, {missing} never drawn; "
                  f"p50 {pct(50):.0f} ms, p95 {pct(95):.0f} ms; {len(redraws)} spectrum redraws; "
                  f"page main thread in long tasks {rec['busy'] / 1e3 / held:.0%}; busy "
                  f"{spent.get('TaskDuration', 0) / (held + 2):.0%} of the drag and 2 s after it (scripts "
                  f"{spent.get('ScriptDuration', 0) / (held + 2):.0%}, layout {spent.get('LayoutDuration', 0) / (held + 2):.0%}, "
                  f"style {spent.get('RecalcStyleDuration', 0) / (held + 2):.0%})")
            if args.feff_to_end and feff_done_at is None and feff_finished():
                feff_done_at = time.perf_counter()
            k += 1
            atom = find_atom_pixel(page) or atom  # where the atom is now, for the next drag
        lat = np.concatenate(all_latencies)
        if len(lat) == 0:
            print(f"no sent position was ever redrawn; uncaught errors in the page: {len(page_errors)}"
                  + "".join(f"\n  {e}" for e in page_errors[:5]))
            sys.exit(1)
        if args.with_feff:
            print(f"FEFF10 after the drags: {page.inner_text('.xanesviz-feff-status').strip()}")
        if args.feff_to_end:
            if feff_done_at is None:
                print("FEFF10 had not ended after 200 drags")
            else:
                drawn = page.evaluate(f"(() => {{ const t = document.querySelector('{PLOT}').data"
                                      ".find(t => t.name && t.name.startsWith('FEFF10')); "
                                      "return !!(t && t.visible !== false && t.y && t.y.length); })()")
                print(f"FEFF10 run from the click to its end, seen between drags: "
                      f"{feff_done_at - feff_clicked:.0f} s (the panel's own figure is above); "
                      f"FEFF10 trace drawn: {drawn}; {k} drags of {args.seconds:.0f} s during it")
        message = page.inner_text(".xanesviz-message").strip()
        print(f"dragged {atom['element']} atom {atom['index']}; message after the drags: {message or '(none)'}")
        mode = (f"moves {interval * 1000:.0f} ms apart"
                + (" (slow-move mode, kinder than a real drag)" if interval > 0.1 else " (as a hand drags)"))
        print(f"drag -> spectrum redrawn, every sent position: p50 {np.percentile(lat, 50):.0f} ms, "
              f"p95 {np.percentile(lat, 95):.0f} ms, max {lat.max():.0f} ms; {totals[0]} positions sent, "
              f"{totals[1]} redrawn, {totals[2]} superseded, {totals[3]} never drawn; {mode}")
        if args.memory_moves:
            x, y = atom["x"], atom["y"]
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
print(machine_line())
