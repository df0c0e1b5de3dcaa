"""Python side of live drag updates in the dashboard (no browser), at the rate a drag sends them.

    python benchmarks/dashboard_update.py [--updates 150] [--every 0.1]

Feeds drag positions to the dashboard as the viewer does, one every ``--every`` seconds (the
viewer sends at most one per 100 ms, so a drag at 60 Hz mouse moves gives one per 100 ms), in
a running event loop as in the kernel, so that the steps scheduled in time (the sensitivity
colouring, which mid-drag waits until the atom rests ``REST_DELAY_S``) run as often as in
a real drag. Reports the time of one
update and its split: cluster + prediction, trust signal, sensitivity (and on how many updates
it ran), spectrum figure, side figure, atom editor and the rest (widget state, HTML). Without a
browser the widgets' messages are built but not sent.
"""

import argparse
import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_line  # noqa: E402
from xanesviz.app import Dashboard  # noqa: E402
from xanesviz.app.dashboard import REST_DELAY_S  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--updates", type=int, default=150)
parser.add_argument("--every", type=float, default=0.1, help="seconds between positions (default 0.1, as the "
                    "viewer sends them during a drag; 0 = back to back)")
args = parser.parse_args()
print("command: " + " ".join([Path(sys.executable).name] + sys.argv))
print(machine_line())

dashboard = Dashboard()
spent = defaultdict(float)
calls = defaultdict(int)


def timed(owner, name: str, label: str) -> None:
    """Replace owner.name by a wrapper adding its time to spent[label] (if owner has it)."""
    original = getattr(owner, name, None)
    if original is None:
        return

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            spent[label] += time.perf_counter() - t
            calls[label] += 1

    setattr(owner, name, wrapper)


predictor = dashboard.predictor
for name in ("cluster", "predict"):
    timed(predictor, name, "cluster + predict")
timed(predictor, "domain_score", "trust signal")
timed(predictor, "sensitivity", "sensitivity")
timed(dashboard.viewer, "color_atoms", "atom colours (message)")
timed(dashboard.panel, "show", "spectrum figure")
timed(dashboard.importance, "show_importance", "side figure")
timed(dashboard, "_refresh_atom_editor", "atom editor")
parts = ["cluster + predict", "trust signal", "sensitivity", "atom colours (message)", "spectrum figure",
         "side figure", "atom editor"]

start = dashboard.atoms.positions[1].copy()


async def drag(gaussian: float) -> np.ndarray:
    """One drag of args.updates positions, args.every apart; the time of each update (ms)."""
    times = []
    t_start = time.perf_counter()
    for k in range(args.updates):
        position = start * (1 + 0.1 * np.sin(k / 10))
        t = time.perf_counter()
        dashboard._dragged({"new": {"index": 1, "position": position.tolist(), "final": k == args.updates - 1,
                                    "seq": int(10_000 * (gaussian + 1) + k)}})
        await asyncio.sleep(0)  # the kernel applies the position (the newest waiting one)
        times.append(time.perf_counter() - t)
        await asyncio.sleep(max(0.0, t_start + (k + 1) * args.every - time.perf_counter()))
    return 1e3 * np.array(times)


for gaussian in (0.0, 1.0):
    dashboard.controls.gaussian.value = gaussian
    spent.clear()
    calls.clear()
    times = asyncio.run(drag(gaussian))
    total = times.sum()
    split = ", ".join(f"{label} {1e3 * spent[label] / args.updates:.2f}" for label in parts if label in calls)
    rest = total - 1e3 * sum(spent[label] for label in parts)
    print(f"drag update in Python (Gaussian {gaussian:g} eV, one position every {args.every * 1e3:.0f} ms): "
          f"p50 {np.percentile(times, 50):.1f} ms, p95 {np.percentile(times, 95):.1f} ms, mean {times.mean():.1f} ms")
    print(f"  mean per update (ms): {split}, rest {rest / args.updates:.2f}; sensitivity ran on "
          f"{calls['sensitivity']} of {args.updates} updates (mid-drag once the atom rests {REST_DELAY_S} s; "
          f"always on the release)")
print(machine_line())
