"""Where the dashboard page's main thread spends a drag: a CPU profile of the page while an atom
is dragged with mouse moves every 17 ms, in headless Chromium.

    python benchmarks/page_profile.py [--seconds 5]

Serves app.ipynb with voila (127.0.0.1, the repository's voila.json), drags a ligand atom as
``dashboard_latency.py`` does while Chrome's sampling profiler runs in the page (DevTools
protocol ``Profiler``), and prints the functions with the most self time (with their script),
the share of samples that were idle, and how many pointer moves the page took per second.
"""

import argparse
import collections
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from _machine import machine_line  # noqa: E402
from _voila import dashboard_page  # noqa: E402
from test_browser import find_atom_pixel  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--seconds", type=float, default=5.0)
parser.add_argument("--top", type=int, default=25)
args = parser.parse_args()

with dashboard_page() as page:
    time.sleep(4)
    atom = find_atom_pixel(page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Profiler.enable")
    cdp.send("Profiler.setSamplingInterval", {"interval": 500})
    cdp.send("Profiler.start")
    x, y = atom["x"], atom["y"]
    page.mouse.move(x, y)
    page.mouse.down()
    start, moves = time.perf_counter(), 0
    while time.perf_counter() - start < args.seconds:
        moves += 1
        x += 2 if (moves // 40) % 2 == 0 else -2
        page.mouse.move(x, y)
        time.sleep(0.017)
    page.mouse.up()
    held = time.perf_counter() - start
    profile = cdp.send("Profiler.stop")["profile"]


nodes = {n["id"]: n for n in profile["nodes"]}
counts = collections.Counter(profile["samples"])
self_time = collections.Counter()
for node_id, n in counts.items():
    frame = nodes[node_id]["callFrame"]
    url = frame["url"].rsplit("/", 1)[-1][:40]
    self_time[(frame["functionName"] or "(anonymous)", url)] += n
total = sum(counts.values())
idle = sum(n for (name, _), n in self_time.items() if name in ("(idle)", "(program)"))
print(f"{moves} pointer moves in {held:.1f} s ({moves / held:.0f}/s); {total} samples, idle/program {idle / total:.0%}")
for (name, url), n in self_time.most_common(args.top):
    print(f"  {100 * n / total:5.1f} %  {name}  [{url}]")
print(machine_line())
