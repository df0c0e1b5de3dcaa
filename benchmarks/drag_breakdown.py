"""Where a drag's time goes: per process, per message, and the two halves of each position's latency.

    python benchmarks/drag_breakdown.py [--seconds 6] [--drags 2] [--stop-kernel]

Serves app.ipynb with voila (127.0.0.1, the repository's voila.json), waits until voila has
refilled its pool (as ``dashboard_latency.py`` does), and drags an atom with mouse moves every
17 ms. For each drag it prints
- the pointer moves the page took, the positions sent and redrawn, and each position's latency
  split into *pointer event → sent* (the page waits for Python's acknowledgement of the previous
  position and at least 100 ms between sends; a waiting position is replaced by newer moves)
  and *sent → redrawn* (the kernel's update, the messages both ways, plotly's redraw);
- CPU seconds per process during the drag (renderer, GPU process with SwiftShader, kernel,
  voila server, ...): on 2 cores these compete;
- the websocket messages per kind (both directions), so a change that adds messages shows;
- synchronous time in the page's main calls (NGL's render and atom move, plotly's full updates).
``--stop-kernel`` freezes the kernel (SIGSTOP) during the drags: the page alone, nothing sent back.
"""

import argparse
import collections
import json
import signal
import struct
import sys
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
from _machine import machine_line  # noqa: E402
from _voila import (RECORDERS, RESET_RECORDERS, cpu_by_role, dashboard_page, drag_latencies,  # noqa: E402
                    kernel_processes)
from test_browser import find_atom_pixel  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--seconds", type=float, default=6.0)
parser.add_argument("--drags", type=int, default=2)
parser.add_argument("--stop-kernel", action="store_true")
args = parser.parse_args()

# Synchronous time of the page's main calls (wrapped in the page).
TIMERS = """() => {
  const canvas = document.querySelector('canvas[data-xanesviz-drag=ready]');
  const stage = canvas._xvView.stage;
  const acc = window._xvAcc = {};
  function wrap(obj, name, label) {
    const f = obj && obj[name]; if (!f) { return; }
    obj[name] = function () { const t = performance.now(); try { return f.apply(this, arguments); }
      finally { const a = acc[label] || (acc[label] = [0, 0]); a[0] += performance.now() - t; a[1]++; } };
  }
  wrap(stage.trackballControls, 'panAtom', 'NGL panAtom (move the held atom)');
  wrap(stage.viewer, 'render', 'NGL render');
  wrap(stage.pickingControls, 'pick', 'NGL pick (picking render + read-back)');
  for (const n of ['update', 'restyle', 'relayout', 'react', 'newPlot']) { wrap(window.Plotly, n, 'Plotly.' + n + ' (full redraw)'); }
}"""


def message_kind(payload) -> str:
    """'channel msg_type detail' of a Jupyter websocket message (JSON or the v1 binary protocol)."""
    try:
        if isinstance(payload, bytes):
            n = struct.unpack_from("<Q", payload, 0)[0]
            offsets = struct.unpack_from("<" + "Q" * n, payload, 8)
            parts = [payload[offsets[i]:offsets[i + 1] if i + 1 < n else None] for i in range(n)]
            message = {"channel": parts[0].decode(), "header": json.loads(parts[1]),
                       "content": json.loads(parts[4]) if len(parts) > 4 else {}}
        else:
            message = json.loads(payload)
    except (ValueError, struct.error, UnicodeDecodeError):
        return "(unparsed)"
    kind, content = message.get("header", {}).get("msg_type", "?"), message.get("content", {})
    detail = content.get("execution_state", "")
    if kind == "comm_msg":
        data = content.get("data", {})
        detail = data.get("method", "")
        if data.get("method") == "custom":
            detail += " " + str((data.get("content") or {}).get("xanesviz", ""))
        else:
            detail += " " + ",".join(sorted((data.get("state") or {}).keys()))
    return f"{message.get('channel', '')} {kind} {detail}".strip()


def drag(page, x: float, y: float, seconds: float) -> float:
    page.mouse.move(x, y)
    page.mouse.down()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        n += 1
        x += 3 if (n // 20) % 2 == 0 else -3
        page.mouse.move(x, y)
        time.sleep(max(0.0, start + n / 60 - time.perf_counter()))
    page.mouse.up()
    return time.perf_counter() - start


print("command: " + " ".join([Path(sys.executable).name] + sys.argv))
print(machine_line())
messages, recording = collections.Counter(), [False]


def watch(ws):
    for event, arrow in (("framereceived", "<-"), ("framesent", "->")):
        ws.on(event, lambda payload, arrow=arrow: recording[0] and messages.update([f"{arrow} {message_kind(payload)}"]))


with dashboard_page(before_load=lambda page: page.on("websocket", watch)) as page:
    server = next(c for c in psutil.Process().children() if "voila" in " ".join(c.cmdline()))
    deadline = time.time() + 90  # voila refills its pool: a second kernel runs the notebook
    while len(kernel_processes(server)) < 2 and time.time() < deadline:
        time.sleep(1)
    time.sleep(8)
    kernels = list(kernel_processes(server).values())
    page.evaluate(RECORDERS)
    page.evaluate(TIMERS)
    atom = find_atom_pixel(page)
    for k in range(args.drags):
        page.evaluate(RESET_RECORDERS)
        page.evaluate("() => { for (const k in window._xvAcc) { window._xvAcc[k] = [0, 0]; } }")
        messages.clear()
        if args.stop_kernel:
            for kernel in kernels:
                kernel.send_signal(signal.SIGSTOP)
        recording[0] = True
        before = cpu_by_role(server)
        held = drag(page, atom["x"], atom["y"], args.seconds)
        after = cpu_by_role(server)
        if args.stop_kernel:
            for kernel in kernels:
                kernel.send_signal(signal.SIGCONT)
        time.sleep(1.5)
        recording[0] = False
        rec, timers = page.evaluate("window._xvRec"), page.evaluate("window._xvAcc")
        sends = np.array(rec["sends"], float).reshape(-1, 4)
        redraws = np.array(rec["redraws"], float).reshape(-1, 2)
        latency, redrawn, superseded, missing = drag_latencies(sends, redraws)
        print(f"\ndrag {k + 1}: {len(rec['moves'])} pointer moves in {held:.1f} s "
              f"({len(rec['moves']) / held:.0f}/s), {len(sends)} positions sent, {redrawn} redrawn, "
              f"{superseded} superseded, {missing} never drawn")
        if len(latency):
            waited = (sends[:, 2] - sends[:, 1])[: len(latency)]
            back = latency - waited
            pct = lambda a: f"p50 {np.percentile(a, 50):.0f} ms, p95 {np.percentile(a, 95):.0f} ms"  # noqa: E731
            print(f"  pointer event -> redrawn: {pct(latency)}; of which pointer event -> sent: {pct(waited)}; "
                  f"sent -> redrawn: {pct(back)}")
        print("  CPU seconds during the drag: " + ", ".join(
            f"{role} {after[role] - before.get(role, 0.0):.2f}" for role in
            sorted(after, key=lambda r: before.get(r, 0.0) - after[r]) if after[role] - before.get(role, 0.0) >= 0.01))
        per = max(len(sends), 1)
        print(f"  websocket messages ({sum(messages.values())}; {sum(messages.values()) / per:.1f} per position sent):")
        for kind, count in messages.most_common(12):
            print(f"    {count:5d}  {kind}")
        print("  page main thread, synchronous time:")
        for name, (ms, calls) in sorted(timers.items(), key=lambda kv: -kv[1][0]):
            print(f"    {name:42s} {ms:7.0f} ms in {calls:4d} calls ({ms / max(calls, 1):5.1f} ms each)")
        atom = find_atom_pixel(page) or atom
print()
print(machine_line())
