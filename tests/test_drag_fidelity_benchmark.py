"""The drag-fidelity benchmark's arithmetic (its FEFF10 runs are the benchmark's, not a test's)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from drag_fidelity import main, self_consistency, write_xyz  # noqa: E402


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


def test_the_table_goes_on_the_models_card_from_cached_runs(tmp_path, capsys):
    """With every FEFF10 spectrum already computed, the benchmark scores the model and, with
    --card, puts its table on the model's card (where ``xanesviz models`` reads it)."""
    import json
    import shutil

    from helpers import random_complex, tiny_bundle

    from xanesviz.catalogue import headline_figures
    from xanesviz.feff import edge_grid, get_settings

    data = tmp_path / "fe-set"
    (data / "xyz").mkdir(parents=True)
    write_xyz(data / "xyz" / "AAAAAA_FeX.xyz", random_complex(np.random.default_rng(4)))
    out = tmp_path / "runs"
    feff = out / "feff-reference"
    (feff / "spectra").mkdir(parents=True)
    grid = edge_grid("Fe")
    rows = []
    for k, stem in enumerate(["AAAAAA_FeX", "AAAAAA_FeX@stretch+0.1", "AAAAAA_FeX@bend10"]):
        mu = 1 / (1 + np.exp(-(grid - 7112.0))) + 0.3 * np.exp(-((grid - 7125.0 - 2 * k) / 4) ** 2)
        np.savetxt(feff / "spectra" / f"{stem}.txt", np.column_stack([grid, mu]))
        rows.append({"stem": stem, "status": "ok", "feff_settings": get_settings("reference").describe()})
    (feff / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = tiny_bundle(tmp_path / "model")
    args = ["--data", str(data), "--stems", "AAAAAA_FeX", "--families", "stretch+0.1", "bend10",
            "--model", str(model), "--out", str(out)]
    assert main(args) == 0
    assert "drag_fidelity" not in json.loads((model / "model_card.json").read_text())
    assert main(args + ["--card"]) == 0
    card = json.loads((model / "model_card.json").read_text())
    table = card["drag_fidelity"]
    assert table["benchmark"] == "benchmarks/drag_fidelity.py" and table["complexes"] == ["AAAAAA_FeX"]
    assert sorted(table["families"]) == ["bend10", "stretch+0.1"] and table["families"]["bend10"]["pairs"] == 1
    assert "against FEFF10 (2 moves of 1 real Fe complexes)" in headline_figures(card)
    assert "put the table on" in capsys.readouterr().out
    shutil.rmtree(model)
    with pytest.raises(SystemExit):
        main(args[:-4] + ["--out", str(out), "--card"])  # no --model: no card to write
