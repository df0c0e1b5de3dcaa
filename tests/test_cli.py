"""The command line: predict writes one CSV, bad files are reported and the rest predicted."""

import numpy as np
import pytest
from ase.io import write

from xanesviz.cli import build_parser, main

from helpers import random_complex, tiny_bundle


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_bundle(tmp_path_factory.mktemp("cli") / "tiny")


@pytest.fixture
def structure_files(tmp_path):
    rng = np.random.default_rng(4)
    paths = []
    for name, fmt in (("first.xyz", "xyz"), ("second.cif", "cif")):
        atoms = random_complex(rng)
        if fmt == "cif":
            atoms.cell, atoms.pbc = [20, 20, 20], True
            atoms.positions += 10
        write(tmp_path / name, atoms, format=fmt)
        paths.append(tmp_path / name)
    return paths


def read_csv(path):
    lines = path.read_text().splitlines()
    comments = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    return comments, body[0].split(","), np.array([[float(v) for v in row.split(",")] for row in body[1:]])


def test_predict_writes_one_csv_with_std(model, structure_files, tmp_path, capsys):
    out = tmp_path / "out.csv"
    code = main(["predict", *map(str, structure_files), "--model", str(model), "-o", str(out), "--std"])
    assert code == 0
    comments, header, values = read_csv(out)
    assert header == ["energy_eV", "first", "first_std", "second", "second_std"]
    assert values.shape == (226, 5) and np.all(np.isfinite(values))
    assert values[0, 0] == pytest.approx(7097.0) and values[-1, 0] == pytest.approx(7172.0)
    text = "\n".join(comments)
    assert "model: tiny" in text and "edge: Fe K" in text and "eV" in text


def test_bad_file_is_named_and_rest_predicted(model, structure_files, tmp_path, capsys):
    bad = tmp_path / "broken.xyz"
    bad.write_text("3\ncomment\nFe 0 0 0\nnot a line\n")
    out = tmp_path / "out.csv"
    code = main(["predict", str(structure_files[0]), str(bad), "--model", str(model), "-o", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    assert "broken.xyz" in err and err.count("error:") == 1
    _, header, values = read_csv(out)
    assert header == ["energy_eV", "first"] and values.shape == (226, 2)


def test_absorber_option_and_missing_element(model, tmp_path, capsys):
    from ase import Atoms

    path = tmp_path / "water.xyz"
    write(path, Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]))
    assert main(["predict", str(path), "--model", str(model)]) != 0
    assert "water.xyz" in capsys.readouterr().err


def test_missing_model_is_one_line_error(tmp_path, structure_files, capsys):
    code = main(["predict", str(structure_files[0]), "--model", str(tmp_path / "nope")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "nope" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("command", ["predict", "train", "evaluate", "importance"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    assert "usage: xanesviz " + command in capsys.readouterr().out


@pytest.fixture(scope="module")
def tiny_data_dir(tmp_path_factory):
    """A data directory in the XANESNET layout with 24 synthetic samples."""
    from helpers import synthetic_data
    from xanesviz.data import FE_K_GRID

    root = tmp_path_factory.mktemp("data")
    (root / "xyz").mkdir()
    (root / "spectra").mkdir()
    structures, _, spectra = synthetic_data(n=24, seed=7)
    for k, (atoms, mu) in enumerate(zip(structures, spectra)):
        lines = [str(len(atoms)), f"sample {k}"]
        lines += [f"{z} {x:.6f} {y:.6f} {w:.6f}" for z, (x, y, w) in zip(atoms.numbers, atoms.positions)]
        (root / "xyz" / f"S{k:02d}.xyz").write_text("\n".join(lines) + "\n")
        rows = "\n".join(f"{e:.2f} {v:.7e}" for e, v in zip(FE_K_GRID, mu))
        (root / "spectra" / f"S{k:02d}.txt").write_text(f"  FDMNES\n  energy <xanes>\n{rows}\n")
    return root


def test_train_evaluate_importance_end_to_end(tiny_data_dir, tmp_path, capsys):
    model = tmp_path / "model"
    assert main(["train", str(tiny_data_dir), "-o", str(model), "--recipe", "xanesnet-2022", "--epochs", "2",
                 "--ensemble", "2", "--cv", "2", "--training-precision", "bfloat16"]) == 0
    assert (model / "member_1.keras").is_file() and (model / "importance.npz").is_file()
    import json

    card = json.loads((model / "model_card.json").read_text())
    assert card["training_data"]["n_samples"] == 24 and "cv_metrics" in card
    assert card["cv_metrics"]["group"] == "none"  # stems S00..S23 name no formula: plain folds
    assert card["recipe"]["epochs"] == 2 and card["ensemble_members"] == 2
    assert card["recipe"]["training_precision"] == "bfloat16"
    capsys.readouterr()
    assert main(["evaluate", str(tiny_data_dir), "--model", str(model), "-o", str(tmp_path / "errors.csv")]) == 0
    out = capsys.readouterr().out
    assert "Δμ median" in out and "own training data" in out
    assert "95 % bootstrap intervals, 1000 resamples of the spectra: Δμ median" in out
    assert len((tmp_path / "errors.csv").read_text().splitlines()) == 2 + 24
    assert main(["evaluate", str(tiny_data_dir), "--model", str(model), "--bootstrap", "0"]) == 0
    assert "bootstrap" not in capsys.readouterr().out
    assert main(["evaluate", str(tiny_data_dir), "--model", str(model), "--kfold", "2", "--epochs", "1"]) == 0
    assert "cross-validation" in capsys.readouterr().out
    assert main(["importance", str(tiny_data_dir), "--model", str(model), "--window", "7110", "7120",
                 "--repeats", "1", "--top", "5"]) == 0
    out = capsys.readouterr().out
    assert "window 7110-7120 eV" in out and len(out.strip().splitlines()) == 6


def test_cross_validation_grouped_by_formula(model, tiny_data_dir, tmp_path, capsys):
    """Stems REFCODE_FORMULA: ``evaluate --group formula`` and ``train --cv`` (by default) keep each
    formula in one fold; ``train --cv --group none`` is plain."""
    import json
    import shutil

    data = tmp_path / "formulas"
    for folder in ("xyz", "spectra"):
        (data / folder).mkdir(parents=True)
        for k in range(24):  # 8 formulas, 3 complexes each
            shutil.copy(tiny_data_dir / folder / f"S{k:02d}.{'xyz' if folder == 'xyz' else 'txt'}",
                        data / folder / f"REF{k:02d}_C{k % 8 + 1}H4Fe(1+).{'xyz' if folder == 'xyz' else 'txt'}")
    capsys.readouterr()
    assert main(["evaluate", str(data), "--model", str(model), "--group", "formula", "--kfold", "2",
                 "--epochs", "1", "--ensemble", "1", "--bootstrap", "0"]) == 0
    out = capsys.readouterr().out
    assert "2-fold x 1 cross-validation" in out and "each chemical formula in one fold" in out
    assert "cross-validation (out-of-fold): Δμ median" in out
    for group, expected in ((None, "formula"), ("none", "none")):
        bundle = tmp_path / f"trained-{expected}"
        assert main(["train", str(data), "-o", str(bundle), "--recipe", "xanesnet-2022", "--epochs", "1",
                     "--ensemble", "1", "--cv", "2", "--skip-importance"] + (["--group", group] if group else [])) == 0
        card = json.loads((bundle / "model_card.json").read_text())
        assert card["cv_metrics"]["group"] == expected and card["cv_metrics"]["n_spectra"] == 24


def test_hand_edited_recipe_and_bad_options_are_one_line_errors(model, tiny_data_dir, tmp_path, capsys):
    """A card whose recipe cannot be trained, and out-of-range training options, stop before any work."""
    import json
    import shutil

    edited = tmp_path / "edited"
    shutil.copytree(model, edited)
    card = json.loads((edited / "model_card.json").read_text())
    card["recipe"]["training_precision"] = "float16"
    (edited / "model_card.json").write_text(json.dumps(card))
    capsys.readouterr()
    for argv, problem in (
            (["evaluate", str(tiny_data_dir), "--model", str(edited), "--kfold", "2"],
             "model_card.json: recipe 'tiny-test': unknown training_precision 'float16'"),
            (["evaluate", str(tiny_data_dir), "--model", str(model), "--kfold", "1"], "1-fold CV"),
            (["evaluate", str(tiny_data_dir), "--model", str(model), "--bootstrap", "-5"], "--bootstrap must be"),
            (["evaluate", str(tiny_data_dir), "--model", str(model), "--group", "formula"],
             "cannot group by formula: sample 'S00' is not named REFCODE_FORMULA"),
            (["train", str(tiny_data_dir), "-o", str(tmp_path / "m"), "--cv", "2", "--group", "formula"],
             "cannot group by formula: sample 'S00'"),
            (["train", str(tiny_data_dir), "-o", str(tmp_path / "m"), "--epochs", "0"], "epochs must be"),
            (["train", str(tiny_data_dir), "-o", str(tmp_path / "m"), "--ensemble", "-2"], "ensemble must be"),
            (["train", str(tiny_data_dir), "-o", str(tmp_path / "m"), "--recipe", "nope"], "unknown recipe 'nope'")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err  # progress bars aside, one line saying what is wrong
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and problem in errors[0] and "Traceback" not in err, err
    assert not (tmp_path / "m").exists()
