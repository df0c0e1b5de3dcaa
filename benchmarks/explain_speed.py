"""Speed of the live explanations on a ~100-atom complex: atom sensitivity and trust signal.

    python benchmarks/explain_speed.py [--model DIR]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from xanesviz import Predictor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import complex_of  # noqa: E402


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model")
args = parser.parse_args()
predictor = Predictor.load(args.model)
atoms = complex_of(100)
predictor.sensitivity(atoms)
t0 = time.perf_counter()
predictor.domain_score(atoms)
print(f"trust-signal calibration on the training set (once, at first use): {1e3 * (time.perf_counter() - t0):.0f} ms")


def timed(fn, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * np.percentile(times, 50), 1e3 * np.percentile(times, 95)


p50, p95 = timed(lambda: predictor.sensitivity(atoms), 100)
p50w, p95w = timed(lambda: predictor.sensitivity(atoms, window=(7110, 7125)), 100)
d50, d95 = timed(lambda: predictor.domain_score(atoms), 500)
print(f"atom sensitivity, 100 atoms ({len(predictor.cluster(atoms).numbers)} within the cutoff): "
      f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (window 7110-7125 eV: p50 {p50w:.1f} ms)")
print(f"trust signal (nearest training neighbour + ensemble spread): p50 {d50:.2f} ms, p95 {d95:.2f} ms")
