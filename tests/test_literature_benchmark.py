"""benchmarks/literature_complexes.py's scoring: complexes apart from their moves, drags paired."""

import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write

from xanesviz.feff import edge_grid

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from literature_complexes import figures, from_cv_predictions, trust_ranking  # noqa: E402

GRID = edge_grid("Cu")


def edge_at(shift: float) -> np.ndarray:
    return 0.6 / (1 + np.exp(-(GRID - GRID[0] - 15.0 - shift) / 1.5)) + 0.2 + 0.1 * np.exp(-((GRID - GRID[0] - 30) / 4) ** 2)


def a_run(sign: float) -> dict:
    """Two complexes and a bend of each; the model's drag is FEFF10's times ``sign``."""
    stems = ["Cu_Cl4-D4h", "Cu_Cl4-D4h_bend1", "Zn_Cl4-Td", "Zn_Cl4-Td_bend1"]
    true = np.array([edge_at(0.0), edge_at(1.0), edge_at(0.5), edge_at(-0.5)])
    model = true.copy()
    model[1] = model[0] + sign * (true[1] - true[0])
    model[3] = model[2] + sign * (true[3] - true[2])
    return {"stems": stems, "edges": np.array(["Cu", "Cu", "Zn", "Zn"]), "true": true, "model": model,
            "edge_mean": np.repeat(true.mean(axis=0, keepdims=True), 4, axis=0), "trust": [None] * 4}


def test_figures_score_complexes_and_pair_their_moves():
    result = figures(a_run(+1.0))
    assert [r["stem"] for r in result["rows"]] == ["Cu_Cl4-D4h", "Zn_Cl4-Td"]  # the moves are not complexes
    assert all(r["delta_mu_pct"] == 0.0 < r["edge_mean_delta_mu_pct"] for r in result["rows"])
    assert result["summary"]["all"]["n"] == 2 and set(result["summary"]) == {"Cu", "Zn", "all"}
    bend = result["drag_fidelity"]["bend10 (one atom)"]
    assert bend["pairs"] == 2 and bend["median_r"] == 1.0 and abs(bend["median_norm_ratio"] - 1.0) < 1e-9
    assert figures(a_run(-1.0))["drag_fidelity"]["bend10 (one atom)"]["median_r"] == -1.0
    assert result["moved_delta_mu_median_pct"] == 0.0


def test_cv_predictions_are_read_for_the_set_s_spectra_only(tmp_path):
    run = a_run(+1.0)
    data = tmp_path / "literature"
    for stem, mu in zip(run["stems"][:2], run["true"][:2]):  # the Cu complex and its bend
        for folder in ("xyz", "spectra"):
            (data / "cu-k" / folder).mkdir(parents=True, exist_ok=True)
        write(data / "cu-k" / "xyz" / f"{stem}.xyz", Atoms("CuCl", positions=[[0, 0, 0], [2.26, 0, 0]]))
        np.savetxt(data / "cu-k" / "spectra" / f"{stem}.txt", np.column_stack([GRID, mu]))
    saved = tmp_path / "oof.npz"
    np.savez(saved, stems=np.array(run["stems"] + ["Cu_AAAAAA"]), edges=np.array(["Cu", "Cu", "Zn", "Zn", "Cu"]),
             true=np.vstack([run["true"], run["true"][:1]]), FDMNES_transfer=np.vstack([run["model"], run["true"][:1]]),
             edge_mean=np.vstack([run["edge_mean"], run["true"][:1]]))
    picked = from_cv_predictions(saved, data)
    assert picked["stems"] == ["Cu_Cl4-D4h", "Cu_Cl4-D4h_bend1"]
    np.testing.assert_array_equal(picked["model"], run["model"][:2])
    assert figures(picked)["drag_fidelity"]["bend10 (one atom)"]["pairs"] == 1
    assert from_cv_predictions(saved, data, others=True)["stems"] == ["Zn_Cl4-Td", "Zn_Cl4-Td_bend1", "Cu_AAAAAA"]


def test_trust_ranking_says_whether_the_badge_s_figures_order_the_misses():
    rows = [{"delta_mu_pct": dmu, "trust_distance": distance, "ensemble_spread_pct": spread, "trust": label}
            for dmu, distance, spread, label in ((2.0, 5.0, 3.0, "within training data"), (4.0, 9.0, 2.0, "unusual"),
                                                 (8.0, 20.0, 1.0, "far outside"), (9.0, 30.0, 0.5, "far outside"))]
    ranking = trust_ranking(rows)
    assert ranking["trust_distance"] == 1.0 and ranking["ensemble_spread_pct"] == -1.0
    assert ranking["delta_mu_median_by_label"] == {"within training data": 2.0, "unusual": 4.0, "far outside": 8.5}
    rows[0]["trust_distance"] = rows[1]["trust_distance"] = None  # moves and CV runs have none
    assert trust_ranking(rows)["trust_distance"] is None
    assert trust_ranking([{**r, "trust": None} for r in rows])["delta_mu_median_by_label"] == {}
