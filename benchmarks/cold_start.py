"""Cold start of the dashboard: ``voila app.ipynb`` from a shell to an interactive page.

    python benchmarks/cold_start.py [--no-preheat] [--second-after-refill 2] [--runs 1] [--voila-arg=--X.y=z]

Starts ``voila app.ipynb`` from the repository root as a user does (the repository's
``voila.json`` in effect; only ``--no-browser`` and a free port are added), records when the
server listens, and opens headless Chromium at once (the first visitor) and again once the
pool has a fresh kernel ready (the second visitor, ``--second-after-refill`` seconds after its
notebook finished; without pre-heating, that long after the first visitor became interactive).
``--no-preheat`` adds ``--VoilaConfiguration.preheat_kernel=False``: what voila did before
the repository had a ``voila.json`` (each visitor's kernel starts when the page is asked for).

For each visitor it prints, in seconds from the server's start and from the visitor's arrival:
the page's first byte, its first widget on screen, the spectrum plotted (plotly has drawn the
predicted trace), the 3D viewer's canvas, the viewer ready (the structure loaded and dragging
installed), and **interactive**: all of those, i.e. the dashboard's root present, the
spectrum's trace drawn and an atom draggable. From the kernel that served it (timing marks the
app writes when ``XANESVIZ_TIMING`` names a file, see ``xanesviz/timing.py``): the kernel
process started, the notebook's first import, imports done, the model bundle loaded, the
widgets built, the first prediction, the first spectrum sent, the first sensitivities and the
dashboard built. The machine and load average are printed before and after.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from test_browser import CHROMIUM, CHROMIUM_FLAGS, PLOT, server_errors  # noqa: E402
from _machine import machine_line  # noqa: E402
from _voila import free_port, kernel_processes, wait_listening  # noqa: E402

# Installed in every page before its scripts run: the Date.now() at which each stage is first seen.
PAGE_MARKS = f"""(() => {{
  const marks = window._xvMarks = {{}};
  const stages = {{
    widget: () => document.querySelector('.jupyter-widgets, .widget-box, .lm-Widget.jp-OutputArea-output'),
    dashboard: () => document.querySelector('.xanesviz-dashboard'),
    plotted: () => {{ const gd = document.querySelector('{PLOT}');
                      return gd && gd.data && gd.data[1] && gd.data[1].y && gd.data[1].y.length > 100
                             && gd.querySelector('.scatterlayer .trace path.js-line'); }},
    canvas: () => document.querySelector('.xanesviz-dashboard canvas'),
    viewer: () => {{ const c = document.querySelector('canvas[data-xanesviz-drag=ready]');
                     return c && c._xvView && c._xvView.stage.compList.length > 0; }},
  }};
  function check() {{
    for (const [name, test] of Object.entries(stages)) {{
      if (!(name in marks)) {{ try {{ if (test()) marks[name] = Date.now(); }} catch (e) {{}} }}
    }}
    if (['dashboard', 'plotted', 'viewer'].every(n => n in marks) && !('interactive' in marks)) {{
      marks.interactive = Date.now();
    }}
    if (!('interactive' in marks)) {{ setTimeout(check, 25); }}
  }}
  check();
}})()"""
KERNEL_MARKS = ["xanesviz import starts", "imports done", "bundle loaded", "widgets built", "first prediction",
                "first spectrum drawn", "first sensitivities", "dashboard built"]
PAGE_STAGES = [("first byte", "responseStart"), ("first widget", "widget"), ("spectrum plotted", "plotted"),
               ("3D canvas", "canvas"), ("viewer ready", "viewer"), ("interactive", "interactive")]


def read_marks(path: Path) -> dict[int, dict[str, float]]:
    marks: dict[int, dict[str, float]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            marks.setdefault(entry["pid"], {})[entry["mark"]] = entry["t"]
    return marks


def visit(browser, url: str, timeout_s: float) -> dict:
    """Open the dashboard in a fresh context; the epoch times of its stages (and the page)."""
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(PAGE_MARKS)
    arrived = time.time()
    page.goto(url, timeout=timeout_s * 1000, wait_until="commit")
    try:
        page.wait_for_function("window._xvMarks && window._xvMarks.interactive", timeout=timeout_s * 1000,
                               polling=50)
    except Exception as exc:  # a stage never came: report what did
        errors.append(f"not interactive within {timeout_s:.0f} s ({type(exc).__name__})")
    marks = page.evaluate("window._xvMarks || {}")
    navigation = page.evaluate("(() => { const n = performance.getEntriesByType('navigation')[0];"
                               " return n ? {responseStart: performance.timeOrigin + n.responseStart} : {}; })()")
    marks = {k: v / 1000 for k, v in {**marks, **navigation}.items()}
    return {"arrived": arrived, "marks": marks, "errors": errors, "context": context}


def report(name: str, launched: float, visitor: dict, kernel_pid: int | None, kernel_start: float | None,
           marks: dict[str, float]) -> tuple[float, float] | None:
    arrived = visitor["arrived"]
    print(f"\n{name}: arrived {arrived - launched:.2f} s after launch; kernel pid {kernel_pid}")
    print(f"  {'stage':<28}{'from launch':>12}{'from arrival':>14}")
    rows = []
    if kernel_start is not None:
        rows.append(("kernel: process started", kernel_start))
    rows += [(f"kernel: {label}", marks[label]) for label in KERNEL_MARKS if label in marks]
    rows += [(f"page: {label}", visitor["marks"][key]) for label, key in PAGE_STAGES if key in visitor["marks"]]
    for label, t in sorted(rows, key=lambda row: row[1]):
        print(f"  {label:<28}{t - launched:>11.2f}s{t - arrived:>13.2f}s")
    if "xanesviz import starts" in marks:
        m = marks
        parts = [("kernel start to first import", kernel_start, m.get("xanesviz import starts")),
                 ("imports", m.get("xanesviz import starts"), m.get("imports done")),
                 ("bundle load", m.get("imports done"), m.get("bundle loaded")),
                 ("widgets", m.get("bundle loaded"), m.get("widgets built")),
                 ("first prediction", m.get("widgets built"), m.get("first prediction")),
                 ("first spectrum drawn", m.get("first prediction"), m.get("first spectrum drawn")),
                 ("to the dashboard built", m.get("first spectrum drawn"), m.get("dashboard built"))]
        print("  kernel parts: " + "; ".join(f"{label} {b - a:.2f} s" for label, a, b in parts
                                             if a is not None and b is not None))
        if "first sensitivities" in m:
            print(f"  (first sensitivities at {m['first sensitivities'] - m['xanesviz import starts']:.2f} s "
                  f"after the first import)")
    for error in visitor["errors"][:5]:
        print(f"  page error: {error}")
    end = visitor["marks"].get("interactive")
    print(f"  => {name}: interactive {end - launched:.2f} s after launch, {end - arrived:.2f} s after arrival"
          if end else f"  => {name}: never interactive")
    return None if end is None else (end - launched, end - arrived)


def run_once(args) -> tuple:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="xanesviz-cold-"))
    timing, log_path = workdir / "timing.jsonl", workdir / "voila.log"
    command = [sys.executable, "-m", "voila", "app.ipynb", "--no-browser", f"--port={port}"]
    if args.no_preheat:
        command.append("--VoilaConfiguration.preheat_kernel=False")
    command += args.voila_arg
    env = {**os.environ, "XANESVIZ_TIMING": str(timing)}
    url = f"http://localhost:{port}/"
    print(f"\n$ {' '.join(['voila'] + command[3:])}   (cwd {REPO}; voila.json "
          f"{'present' if (REPO / 'voila.json').exists() else 'absent'})")
    print(machine_line())
    results = []
    with sync_playwright() as p:
        # the browser is open before the server starts, as a user's is
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        launched = time.time()
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            listening = wait_listening(url, server)
            print(f"server listening {listening - launched:.2f} s after launch")
            first = visit(browser, url, args.timeout)
            used = kernel_processes(server)
            # the second visitor: once a further kernel has run the notebook (a pre-heated pool
            # refilled; voila refills it fill_delay seconds after a kernel is taken), else a while later
            deadline = time.time() + (5 if args.no_preheat else 60)  # voila.json's fill_delay and more
            while time.time() < deadline and len(kernel_processes(server)) < 2:
                time.sleep(0.2)
            pooled = len(kernel_processes(server)) >= 2
            deadline = time.time() + args.timeout
            while pooled and time.time() < deadline:
                if sum("dashboard built" in m for m in read_marks(timing).values()) >= 2:
                    break
                time.sleep(0.2)
            print(f"pre-heated pool: {'refilled' if pooled else 'none (no second kernel started)'}")
            time.sleep(args.second_after_refill)
            second = visit(browser, url, args.timeout)
            running = {kernel_id: (process.pid, process.create_time())
                       for kernel_id, process in kernel_processes(server).items()}
            marks = read_marks(timing)
            log = log_path.read_text()
            # the kernel each visitor got, in order: voila logs the pre-heated one it hands out,
            # or the kernel it starts for the page
            served = re.findall(r"Using pre-heated kernel: (\S+)", log) or re.findall(r"Kernel started: (\S+)", log)
            for k, (name, visitor) in enumerate(zip(["first visitor", "second visitor"], (first, second))):
                pid, start = running.get(served[k], (None, None)) if k < len(served) else (None, None)
                results.append(report(name, launched, visitor, pid, start, marks.get(pid, {})))
            print(f"\nkernels running at the end: {len(running)} (2 visitors + the pool); "
                  f"when the first visitor was interactive: {len(used)}")
            for visitor in (first, second):
                visitor["context"].close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
            browser.close()
    errors = server_errors(log_path.read_text())
    print(f"voila log: {len(errors)} tracebacks" + "".join(f"\n  {e}" for e in errors[:5]))
    print(machine_line())
    return results[0] if results else None, results[1] if len(results) > 1 else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-preheat", action="store_true",
                        help="override voila.json: no pre-heated kernels (voila's default)")
    parser.add_argument("--second-after-refill", type=float, default=2.0,
                        help="seconds between the refilled pool's notebook finishing and the second visitor (default 2)")
    parser.add_argument("--voila-arg", action="append", default=[], metavar="ARG",
                        help="one more voila command-line argument, e.g. --voila-arg=--VoilaKernelManager.fill_delay=10")
    parser.add_argument("--runs", type=int, default=1, help="servers started one after another (default 1)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds a page may take (default 120)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped (SIGTERM)"))  # so the server is stopped too
    print("command: " + " ".join([Path(sys.executable).name] + sys.argv))
    summary = [run_once(args) for _ in range(args.runs)]
    print("\ninteractive, per run (from the server's launch / from the visitor's arrival):")
    for k, (first, second) in enumerate(summary, 1):
        fmt = lambda v: "never" if v is None else f"{v[0]:.2f} s / {v[1]:.2f} s"  # noqa: E731
        print(f"  run {k}: first visitor {fmt(first)}; second visitor {fmt(second)}")


if __name__ == "__main__":
    main()
