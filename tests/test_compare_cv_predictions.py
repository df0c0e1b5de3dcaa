"""benchmarks/compare_cv_predictions.py: CVs compared on the spectra all of them scored."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from compare_cv_predictions import common_medians, main  # noqa: E402


def run(stems, edges, errors_pct):
    true = np.ones((len(stems), 5))
    return {"stems": np.array(stems), "edges": np.array(edges), "true": true,
            "FDMNES_transfer": true + np.asarray(errors_pct, float)[:, None] / 100.0}


def test_only_the_spectra_every_run_scored_count_matched_by_edge_and_stem():
    first = run(["a", "b", "a"], ["Cu", "Cu", "Ni"], [1.0, 3.0, 5.0])
    # The same spectra in another order, one more the first run lacks, and Cu/a scored differently.
    second = run(["x", "a", "a", "b"], ["Cu", "Ni", "Cu", "Cu"], [50.0, 6.0, 2.0, 4.0])
    n, (one, two) = common_medians([first, second])
    assert n == 3
    assert one == pytest.approx({"all": 3.0, "Cu": 2.0, "Ni": 5.0})
    assert two == pytest.approx({"all": 4.0, "Cu": 3.0, "Ni": 6.0})  # x (50 %) left out


def test_runs_without_common_spectra_and_foreign_files_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="no spectrum in common"):
        common_medians([run(["a"], ["Cu"], [1.0]), run(["b"], ["Cu"], [1.0])])
    good, foreign = tmp_path / "good.npz", tmp_path / "foreign.npz"
    np.savez(good, **run(["a"], ["Cu"], [1.0]))
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(KeyError, match="not a train-edges --cv-predictions file"):
        main([str(good), str(foreign)])


def test_prints_a_row_per_run(tmp_path, capsys):
    paths = []
    for name, errors in (("one", [1.0, 2.0]), ("two", [3.0, 4.0])):
        paths.append(tmp_path / f"{name}.npz")
        np.savez(paths[-1], **run(["a", "b"], ["Zn", "Zn"], errors))
    assert main([str(p) for p in paths]) == 0
    out = capsys.readouterr().out
    assert "on the 2 spectra all 2 runs scored" in out
    assert "| 1.50 | 1.50 |" in out and "| 3.50 | 3.50 |" in out
