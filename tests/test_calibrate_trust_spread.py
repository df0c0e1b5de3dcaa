"""scripts/calibrate_trust_spread.py: a fitted model's spread limit from a CV run's ratio and its own training spread."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from calibrate_trust_spread import main, run_ratio, stems_at  # noqa: E402

from xanesviz import Predictor, packed  # noqa: E402
from xanesviz.edges import read_edges  # noqa: E402
from xanesviz.errors import XanesvizError  # noqa: E402

LITERATURE = REPO / "data" / "feff-literature"


def a_run(tmp_path, ratio=2.5):
    run = tmp_path / "run"
    for element in ("cu", "ni"):
        (run / f"{element}-k-feff").mkdir(parents=True)
        card = {"trust_spread_limit": {"ratio": ratio, "quantile": 99.0, "n_held_out_complexes": 40, "limit_pct": 3.0}}
        (run / f"{element}-k-feff" / "model_card.json").write_text(json.dumps(card))
    return run


def test_the_ratio_comes_from_the_run_s_cards_and_its_absence_is_one_line(tmp_path):
    assert run_ratio(a_run(tmp_path)) == {"ratio": 2.5, "quantile": 99.0, "n_complexes": 40}
    with pytest.raises(XanesvizError, match="no card with a trust_spread_limit"):
        run_ratio(tmp_path / "nothing")


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs the repository's git history")
def test_the_fitted_spectra_are_read_from_git_at_the_commit():
    on_disk = {stem for spectra in LITERATURE.glob("*/spectra") for stem in packed.stems(spectra, ".txt")}
    assert len(on_disk) > 400 and stems_at("HEAD", LITERATURE) == on_disk
    with pytest.raises(XanesvizError, match="git cannot list"):
        stems_at("no-such-commit", LITERATURE)


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs the repository's git history")
def test_each_model_gets_the_ratio_times_its_median_spread_over_what_it_learned_from(tmp_path, capsys):
    models = tmp_path / "pretrained"
    for name in ("fe-k-feff", "cu-k-feff"):  # the Cu bundle reads the Fe one's networks
        shutil.copytree(REPO / "pretrained" / name, models / name)
    run = a_run(tmp_path)
    assert main(["--ratio-from", str(run), "--fitted-at", "HEAD", "--models", str(models), "--data", str(LITERATURE),
                 "--write"]) == 0
    cu = json.loads((models / "cu-k-feff" / "model_card.json").read_text())["trust_spread_limit"]
    predictor = Predictor.load(models / "cu-k-feff")
    dataset = read_edges(LITERATURE)["Cu"]
    spreads = [predictor.domain_score(atoms)["ensemble_spread_pct"]
               for stem, atoms in zip(dataset.names, dataset.structures) if stem.count("_") == 1]
    assert len(spreads) == 5 and cu["training_median_pct"] == pytest.approx(np.median(spreads), rel=1e-3)
    assert cu["limit_pct"] == pytest.approx(2.5 * np.median(spreads), rel=1e-3) and cu["ratio"] == 2.5
    assert predictor.domain_score(dataset.structures[0])["spread_limit_pct"] == pytest.approx(cu["limit_pct"])
    assert "trust_spread_limit" in json.loads((models / "fe-k-feff" / "model_card.json").read_text())
    assert "| Cu | 5 |" in capsys.readouterr().out
