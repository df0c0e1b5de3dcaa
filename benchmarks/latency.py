"""Live-inference speed: one ~100-atom structure (featurise + ensemble + mean/std), and batches.

    python benchmarks/latency.py [--model pretrained/fe-k]     # or pretrained/cu-k-feff, ...

Names the machine (CPU model, AVX512 or not) and, measured in the same run, in turn with the
predictions (so both see the same load), the time to stream the model's network weights from
memory once (summing every float32 weight: the floor for one prediction, which reads each
weight once), and one prediction's p50 as a multiple of it, over the whole run and in ten
sittings of it (the spread the machine's moving speed gives the ratio).
"""

import sys
import time
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import complex_of, timed_model  # noqa: E402
from _machine import machine_line  # noqa: E402


args, predictor, atoms, weights = timed_model(__doc__.splitlines()[0], repeats=2000)
metal = atomic_numbers[predictor.element]
n_neighbours = len(predictor.cluster(atoms).numbers)
n_bytes = sum(a.nbytes for a in weights)


def stream_once() -> float:
    t0 = time.perf_counter()
    for a in weights:
        a.sum()
    return time.perf_counter() - t0


for _ in range(50):
    predictor.predict(atoms)
# One prediction, then one pass over the weights, in turn: both see the same moments of a
# machine whose load moves, so their ratio holds where their absolute times do not.
times, stream = [], []
for _ in range(args.repeats):
    t0 = time.perf_counter()
    predictor.predict(atoms)
    times.append(time.perf_counter() - t0)
    stream.append(stream_once())
times, stream = np.array(times) * 1e3, np.array(stream) * 1e3
floor = float(np.median(stream))
print(f"single structure, 100 atoms ({n_neighbours} within the cutoff), {predictor.n_members} networks: "
      f"p50 {np.percentile(times, 50):.2f} ms, p95 {np.percentile(times, 95):.2f} ms")
print(f"streaming the {n_bytes / 1e6:.1f} MB of float32 network weights once, in turn with the predictions: "
      f"{floor:.2f} ms ({n_bytes / 1e6 / floor:.1f} GB/s); one prediction (p50) = "
      f"{np.percentile(times, 50) / floor:.2f} x that floor")
# The same ratio in ten consecutive sittings of the run: how far the machine's moving speed
# moves it (a ratio from one sitting is not steadier than that).
sittings = [np.median(t) / np.median(s) for t, s in zip(np.array_split(times, 10), np.array_split(stream, 10))]
print(f"  in ten sittings of {len(times) // 10} predictions: {min(sittings):.2f}-{max(sittings):.2f} x "
      f"(median {np.median(sittings):.2f} x)")
structures = [complex_of(60, seed, metal) for seed in range(500)]
t0 = time.perf_counter()
predictor.predict(structures)
rate = len(structures) / (time.perf_counter() - t0)
print(f"batch of {len(structures)} 60-atom structures: {rate:.0f} structures/s")
print(machine_line())
