"""The real-complexes benchmark's scoring (its FEFF10 runs are drag_fidelity.py's, not a test's)."""

import sys
from pathlib import Path

import numpy as np

from xanesviz.feff import edge_grid

from helpers import random_complex

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from drag_fidelity import displace, write_xyz  # noqa: E402
from real_complexes import score  # noqa: E402

GRID = edge_grid("Fe")


def first_shell(atoms) -> float:
    return float(np.sort(atoms.get_distances(0, range(1, len(atoms))))[:4].mean())


def edge(bond) -> np.ndarray:
    """A smooth edge whose position follows the first shell's mean distance."""
    return 0.6 / (1 + np.exp(-(GRID - GRID[0] - 15.0 - 8 * (np.asarray(bond)[..., None] - 2.1)) / 1.5)) + 0.2


class FirstShell:
    """A stand-in descriptor: one number, the first shell's mean distance."""

    def transform(self, structures, absorber=None):
        return np.array([[first_shell(a)] for a in structures])


def fake_runs(root: Path, families=("stretch+0.1", "breathe+0.05")) -> Path:
    """drag_fidelity.py's layout: structures/ and feff-reference/spectra/, each complex and its moves."""
    (root / "structures").mkdir(parents=True)
    (root / "feff-reference" / "spectra").mkdir(parents=True)
    rng = np.random.default_rng(3)
    amounts = {"stretch+0.1": ("stretch", 0.1), "breathe+0.05": ("breathe", 0.05)}
    for k in range(3):
        atoms = random_complex(rng)
        for suffix, moved in [("", atoms)] + [(f"@{f}", displace(atoms, *amounts[f])) for f in families]:
            stem = f"C{k}_FeX{suffix}"
            write_xyz(root / "structures" / f"{stem}.xyz", moved)
            np.savetxt(root / "feff-reference" / "spectra" / f"{stem}.txt",
                       np.column_stack([GRID, edge(first_shell(moved))]))
    return root


def test_a_model_that_is_feff_scores_zero_error_and_follows_every_drag(tmp_path):
    runs = fake_runs(tmp_path / "runs")
    accuracy, table, rows = score(lambda X: edge(X[:, 0]), FirstShell(), runs)
    assert accuracy["n_spectra"] == 3 and accuracy["delta_mu_median_pct"] < 1e-4
    assert set(table) == set(rows) == {"stretch+0.1", "breathe+0.05"}
    assert all(len(pairs) == 3 and all(r > 0.999 for r, _ in pairs) for pairs in rows.values())
    for r, size, pairs in table.values():
        assert pairs == 3 and r > 0.999 and abs(size - 1) < 1e-3


def test_a_model_that_moves_the_other_way_is_anticorrelated_and_off(tmp_path):
    runs = fake_runs(tmp_path / "runs")
    accuracy, table, _ = score(lambda X: edge(4.2 - X[:, 0]), FirstShell(), runs)
    assert accuracy["delta_mu_median_pct"] > 0.1
    assert all(r < -0.9 for r, _, _ in table.values())
