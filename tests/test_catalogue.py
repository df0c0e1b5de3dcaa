"""Which model predicts which absorber: the shipped catalogue, the choice by element, and the CLI."""

import json
import shutil

import numpy as np
import pytest
from ase import Atoms
from ase.io import write

from xanesviz import Predictor
from xanesviz.catalogue import absorber_element, headline_figures, model_for, shipped_models
from xanesviz.cli import main
from xanesviz.errors import ModelBundleError, StructureError

from helpers import random_complex, tiny_bundle


def test_the_shipped_fe_model_is_listed_and_is_the_default_for_fe():
    models = shipped_models()
    fe = [m for m in models if m.element == "Fe" and m.edge == "K"]
    assert [m.name for m in fe] == ["fe-k", "fe-k-feff"] and "FDMNES" in fe[0].spectra and "4079" in fe[0].spectra
    assert "FEFF10" in fe[1].spectra
    assert model_for("Fe") == fe[0]
    assert Predictor.load(element="Fe").name == "fe-k"


def test_every_edge_from_ti_to_zn_has_a_shipped_model():
    for element in ("Ti", "V", "Cr", "Mn", "Co", "Ni", "Cu", "Zn"):
        model = model_for(element)
        assert model.name == f"{element.lower()}-k-feff" and model.spectra.startswith("FEFF10")
        predictor = Predictor.load(model.path)
        assert predictor.element == element and abs(predictor.energy[0] + 15 - predictor.edge_energy) < 1e-6


def test_an_edge_without_a_model_is_a_one_line_error_naming_what_exists():
    with pytest.raises(ModelBundleError, match=r"no model for the Sc K edge yet \(models shipped for: Ti K, V K"):
        model_for("Sc")


def relabelled(bundle, folder, element, default=False):
    """A copy of ``bundle`` whose card says it predicts ``element``'s K edge."""
    shutil.copytree(bundle, folder)
    card = json.loads((folder / "model_card.json").read_text())
    card["edge"]["element"] = element
    card["name"] = folder.name
    card["default_for_element"] = default
    (folder / "model_card.json").write_text(json.dumps(card))
    return folder


def test_the_card_that_asks_to_be_default_wins_and_models_sort_ti_to_zn(tmp_path):
    bundle = tiny_bundle(tmp_path / "tiny")
    root = tmp_path / "pretrained"
    root.mkdir()
    relabelled(bundle, root / "cu-k-a", "Cu")
    relabelled(bundle, root / "cu-k-b", "Cu", default=True)
    relabelled(bundle, root / "mn-k", "Mn")
    (root / "notes").mkdir()  # a folder without a card is not a model
    assert [m.name for m in shipped_models(root)] == ["mn-k", "cu-k-b", "cu-k-a"]
    assert model_for("Cu", root=root).name == "cu-k-b"
    assert model_for("Mn", root=root).path == root / "mn-k"


def test_the_absorber_element_is_the_named_atom_or_the_one_metal():
    rng = np.random.default_rng(1)
    fe = random_complex(rng)
    assert absorber_element(fe) == "Fe"
    mixed = fe + Atoms("Cu", positions=[[6.0, 0, 0]])
    with pytest.raises(StructureError, match=r"several metals \(Fe, Cu\); name the absorber"):
        absorber_element(mixed, source="mixed.xyz")
    assert absorber_element(mixed, "Cu") == "Cu" and absorber_element(mixed, len(fe)) == "Cu"
    with pytest.raises(StructureError, match="no first-row transition metal"):
        absorber_element(Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]))
    assert Predictor.for_structure(fe).element == "Fe"


def test_predict_without_a_model_picks_each_structures_edge_and_names_the_missing_one(tmp_path, capsys):
    rng = np.random.default_rng(2)
    fe = random_complex(rng)
    cu, sc = fe.copy(), fe.copy()
    cu.numbers[0], sc.numbers[0] = 29, 21
    write(tmp_path / "iron.xyz", fe)
    write(tmp_path / "copper.xyz", cu)
    write(tmp_path / "scandium.xyz", sc)
    out = tmp_path / "out.csv"
    code = main(["predict", str(tmp_path / "iron.xyz"), str(tmp_path / "scandium.xyz"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "scandium.xyz" in err and "no model for the Sc K edge yet" in err
    lines = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    assert lines[0] == "energy_eV,iron" and len(lines) == 227
    np.testing.assert_allclose([float(v) for v in (row.split(",")[1] for row in lines[1:])],
                               Predictor.load().predict(fe).mu, rtol=1e-5, atol=1e-6)  # as the CSV writes it
    assert main(["predict", str(tmp_path / "copper.xyz"), "-o", str(out)]) == 0
    text = out.read_text()
    assert "# model: cu-k-feff" in text and "# edge: Cu K" in text
    rows = [line.split(",") for line in text.splitlines() if not line.startswith("#")][1:]
    np.testing.assert_allclose([float(r[0]) for r in rows], Predictor.load(element="Cu").energy, atol=1e-3)
    # one CSV holds one energy axis: an iron and a copper complex together are refused by name
    assert main(["predict", str(tmp_path / "iron.xyz"), str(tmp_path / "copper.xyz"), "-o", str(out)]) == 1
    assert "copper.xyz" in capsys.readouterr().err


def test_models_command_lists_the_shipped_models(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "Fe K" in out and "fe-k" in out and "[default for Fe]" in out
    # each model's figures below it: the FDMNES Fe model's and the FEFF10 Fe model's drags side by side
    lines = out.splitlines()
    for name in ("fe-k ", "fe-k-feff ", "cu-k-feff "):
        figures = lines[next(i for i, line in enumerate(lines) if f" {name}" in line) + 1]
        assert figures.startswith("      CV Δμ ") and "drags r " in figures and "real Fe complexes" in figures


def test_headline_figures_read_either_kind_of_card_and_skip_what_is_missing():
    drag = {"families": {"bend5": {"pairs": 30, "median_r": 0.441}, "pull0.5": {"pairs": 32, "median_r": 0.878}}}
    fdmnes = {"cv_metrics": {"delta_mu_median_pct": 3.94}, "drag_fidelity": drag}
    assert headline_figures(fdmnes) == "CV Δμ 3.9 %; drags r 0.44-0.88 against FEFF10 (2 moves of 32 real Fe complexes)"
    edge = {"cv_metrics": {"per_method": {"FDMNES transfer, edge left out": {"all": {"delta_mu_median_pct": 15.5}},
                                          "edge mean": {"all": {"delta_mu_median_pct": 10.1}},
                                          "FDMNES transfer": {"all": {"delta_mu_median_pct": 8.7}}}}}
    assert headline_figures(edge) == "CV Δμ 8.7 %"
    assert headline_figures({}) == "" and headline_figures({"cv_metrics": [], "drag_fidelity": {"families": 3}}) == ""
    nan = {"cv_metrics": {"delta_mu_median_pct": float("nan")},
           "drag_fidelity": {"families": {**drag["families"], "bend10": {"pairs": 32, "median_r": float("nan")}}}}
    assert headline_figures(nan) == ""  # no NaN reaches the listing or the picker
