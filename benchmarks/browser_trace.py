"""Where one page's browser spends a drag: Chromium's trace, by process, thread and event.

    python benchmarks/browser_trace.py [--seconds 5] [--rate 30] [--top 25]

Serves ``voila app.ipynb`` (127.0.0.1, the repository's voila.json), opens it in headless
Chromium (software WebGL, as in the tests), holds an atom of the gallery's first complex and
moves it ``--rate`` times a second for ``--seconds`` under Chromium's tracing (the
``devtools.timeline``, ``viz``, ``gpu`` and ``cc`` categories), and prints the events with the
most time by process and thread (inclusive: nested events count in their parents too), their
share of the drag and how many there were, then the renderer's frames, animation-frame callbacks
and WebGL read-backs. It shows the browser's native work (frames, commits, WebGL read-backs, the
display compositor) that ``page_profile.py``'s JS profile lumps together as "(program)".
"""

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from test_browser import PLOT, find_atom_pixel  # noqa: E402
from _machine import machine_line  # noqa: E402
from _voila import dashboard_page  # noqa: E402

TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel", "viz", "gpu", "cc"]


def drag(page, atom: dict, seconds: float, rate: float) -> None:
    """Hold ``atom`` (screen pixel, from ``find_atom_pixel``) and move it 3 px at a time."""
    x, y = atom["x"], atom["y"]
    page.mouse.move(x, y)
    page.mouse.down()
    start = time.perf_counter()
    for step in range(max(1, round(seconds * rate))):
        x += 3 if (step // 20) % 2 == 0 else -3
        page.mouse.move(x, y)
        wait = start + (step + 1) / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    page.mouse.up()
    time.sleep(1.0)  # the last position is drawn


def trace_totals(path: Path) -> tuple[collections.Counter, collections.Counter]:
    """Milliseconds, and how many, of complete events by (process, thread, event name)."""
    trace = json.loads(path.read_text())
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    names = {}
    for event in events:
        if event.get("ph") == "M" and event.get("name") in ("thread_name", "process_name"):
            key = (event["pid"], event["tid"] if event["name"] == "thread_name" else None)
            names[key] = event["args"]["name"]
    totals, counts = collections.Counter(), collections.Counter()
    for event in events:
        if event.get("ph") == "X" and "dur" in event:
            process = names.get((event["pid"], None), str(event["pid"]))
            thread = names.get((event["pid"], event["tid"]), str(event["tid"]))
            totals[(process, thread, event["name"])] += event["dur"] / 1e3
            counts[(process, thread, event["name"])] += 1
    return totals, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each drag (default 5 s)")
    parser.add_argument("--rate", type=float, default=30.0, help="mouse moves per second (default 30)")
    parser.add_argument("--top", type=int, default=25, help="lines per table (default 25)")
    args = parser.parse_args()
    print("command: " + " ".join([Path(sys.executable).name] + sys.argv))
    print(machine_line())
    trace_path = Path(tempfile.mkdtemp(prefix="xanesviz-trace-")) / "trace.json"
    with dashboard_page() as page:
        page.wait_for_function(f"document.querySelector('{PLOT}') && document.querySelector('{PLOT}').data[1].y",
                               timeout=60_000)
        time.sleep(4.0)  # the first explanations settle
        # Found before the trace starts: the search picks over a grid of pixels, each pick a
        # render and a read-back that would otherwise count as the drag's.
        atom = find_atom_pixel(page)
        page.context.browser.start_tracing(page=page, path=str(trace_path), categories=TRACE_CATEGORIES)
        drag(page, atom, args.seconds, args.rate)
        page.context.browser.stop_tracing()
    window = args.seconds + 1.0
    print(f"\ntraced drag ({args.seconds:g} s at {args.rate:g} moves/s, then 1 s): inclusive ms by process, thread, event")
    totals, counts = trace_totals(trace_path)
    for key, ms in totals.most_common(args.top):
        process, thread, name = key
        print(f"{ms:8.0f} ms ({ms / 1e3 / window:4.0%}) {counts[key]:6d}x  {process[:12]:12s} {thread[:24]:24s} {name}")
    # how often the page went through a frame, and what asked for one
    for name in ("ProxyMain::BeginMainFrame", "FireAnimationFrame", "GLES2::ReadPixels"):
        key = ("Renderer", "CrRendererMain", name)
        print(f"renderer main thread, {name}: {counts[key]} events, {totals[key]:.0f} ms")
    print(machine_line())


if __name__ == "__main__":
    main()
