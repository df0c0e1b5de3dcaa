"""Where one prediction's time goes, with caches as cold as in a drag: each step of ``predict``.

    python benchmarks/prediction_steps.py [--model pretrained/fe-k] [--repeats 1500]

Times, on ``latency.py``'s 100-atom complex, each step of a prediction after a pass over the
model's network weights (which, as in ``latency.py``, evicts everything else from the caches):
cutting the absorber's cluster (with its overlap check), the descriptor, standardising, the
networks, the other members (the nearest-neighbour member, where the model has one) and the
whole ``predict``; then the pass over the weights itself (the floor ``latency.py`` divides by).
Medians over ``--repeats``. Run it with ``PYTHONPATH`` at another checkout to time that code.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_line  # noqa: E402
from _common import timed_model  # noqa: E402

STEPS = ("cluster", "descriptor", "standardise", "networks", "other members", "whole predict", "weights once")


def main() -> None:
    args, predictor, atoms, weights = timed_model(__doc__.splitlines()[0], repeats=1500)
    ensemble = predictor.ensemble

    def stream() -> None:
        for array in weights:
            array.sum()

    times = {step: [] for step in STEPS}
    for _ in range(args.repeats):
        stream()
        t0 = time.perf_counter()
        cluster = predictor.cluster(atoms)
        t1 = time.perf_counter()
        X = predictor.descriptor.create(cluster)[None]
        t2 = time.perf_counter()
        Z = ensemble.standardise(X)
        t3 = time.perf_counter()
        networks = ensemble.network.forward(Z) * ensemble.y_scale + ensemble.y_mean
        t4 = time.perf_counter()
        if ensemble.neighbours is not None or ensemble.kernel is not None or ensemble.residual is not None:
            ensemble._other_members(Z, networks.sum(axis=0) / len(networks), None, ensemble.neighbours)
        t5 = time.perf_counter()
        stream()
        t6 = time.perf_counter()
        predictor.predict(atoms)
        t7 = time.perf_counter()
        stream()
        t8 = time.perf_counter()
        for step, seconds in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t7 - t6, t8 - t7)):
            times[step].append(seconds)
    median = {step: 1e3 * float(np.median(values)) for step, values in times.items()}
    print(f"{predictor.name}, {len(predictor.cluster(atoms).numbers)} neighbours, caches cold, median of "
          f"{args.repeats} (ms):")
    for step in STEPS:
        print(f"  {step:14s} {median[step]:6.3f}")
    print(f"  whole predict / weights once = {median['whole predict'] / median['weights once']:.2f} x; the steps "
          f"other than the networks {sum(median[s] for s in STEPS[:5]) - median['networks']:.3f} ms")
    print(machine_line())


if __name__ == "__main__":
    main()
