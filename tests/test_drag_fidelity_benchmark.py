"""The drag-fidelity benchmark's arithmetic (its FEFF10 runs are the benchmark's, not a test's)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from drag_fidelity import self_consistency  # noqa: E402


def test_self_consistency_negates_opposite_moves_and_pairs_only_one_kind():
    rng = np.random.default_rng(0)
    shape = rng.normal(size=226)
    noise = rng.normal(size=226)
    responses = {
        # a linear response: -0.1 Å is the negative of +0.1 Å; the model's too
        ("A", "stretch+0.1"): (shape, shape), ("A", "stretch-0.1"): (-shape, -shape),
        # FEFF10's 5° bend is noise; the model's follows its 10° one
        ("A", "bend10"): (shape, shape), ("A", "bend5"): (0.5 * shape, noise),
        ("A", "pull0.5"): (shape, shape),
    }
    table = self_consistency(responses, ["stretch+0.1", "stretch-0.1", "bend10", "bend5", "pull0.5"])
    assert set(table) == {"stretch+0.1 / stretch-0.1", "bend10 / bend5"}  # pull has no partner
    assert table["stretch+0.1 / stretch-0.1"]["feff_median_r"] == 1.0
    assert table["stretch+0.1 / stretch-0.1"]["model_median_r"] == 1.0
    assert table["bend10 / bend5"]["model_median_r"] == 1.0
    assert abs(table["bend10 / bend5"]["feff_median_r"]) < 0.3
    assert table["bend10 / bend5"]["complexes"] == 1
