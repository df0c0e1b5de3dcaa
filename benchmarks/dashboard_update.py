"""Python side of one live drag update in the dashboard (no browser): cut, featurise, predict,
broaden, trust signal, sensitivity, and the widget/plot data sent to the page.

    python benchmarks/dashboard_update.py [--updates 200]
"""

import argparse
import time

import numpy as np

from xanesviz.app import Dashboard

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--updates", type=int, default=200)
args = parser.parse_args()
dashboard = Dashboard()
start = dashboard.atoms.positions[1].copy()
for gaussian in (0.0, 1.0):
    dashboard.controls.gaussian.value = gaussian
    times = []
    for k in range(args.updates):
        position = start * (1 + 0.1 * np.sin(k / 10))
        t = time.perf_counter()
        dashboard._dragged({"new": {"index": 1, "position": position.tolist(), "final": k == args.updates - 1,
                                    "seq": 10_000 * (gaussian + 1) + k}})
        times.append(time.perf_counter() - t)
    times = 1e3 * np.array(times)
    print(f"drag update in Python (Gaussian {gaussian:g} eV): p50 {np.percentile(times, 50):.1f} ms, "
          f"p95 {np.percentile(times, 95):.1f} ms")
