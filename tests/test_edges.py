"""The nine-edge FEFF10 models: pooling edges, the FDMNES transfer, bundles that share networks,
grouped CV by parent complex, and the train-edges command (synthetic data, no FEFF runs)."""

import dataclasses
import json
import re
import shutil

import numpy as np
import pytest
from ase.data import atomic_numbers
from ase.io import write

from xanesviz import Predictor
from xanesviz.bundle import load_bundle
from xanesviz.catalogue import model_for, shipped_models
from xanesviz.cli import main
from xanesviz.edges import (EDGE_METALS, FdmnesTransfer, PooledNetwork, cross_validate_edges, pool, read_edges,
                            variant_pairs, write_edge_bundles)
from xanesviz.errors import ModelBundleError, XanesvizError
from xanesviz.feff import edge_grid
from xanesviz.model import Recipe
from xanesviz.structure import read_structure

from helpers import random_complex, tiny_bundle

PARENTS = ["AAAAAA", "BBBBBB", "CCCCCC", "DDDDDD", "EEEEEE", "FFFFFF"]


def fake_spectrum(atoms, element):
    """A smooth edge whose position follows the mean first-shell distance, offset per element."""
    grid = edge_grid(element)
    e0 = grid[0] + 15.0
    bond = np.sort(atoms.get_distances(0, range(1, len(atoms))))[:6].mean()
    offset = {"Cu": 0.1, "Ni": 0.0, "Co": -0.1}[element]
    return grid, 0.6 / (1 + np.exp(-(grid - e0 - 8 * (bond - 2.1)) / 1.5)) + 0.2 + offset


@pytest.fixture(scope="module")
def feff_root(tmp_path_factory):
    """``{metal}-k/`` folders as simulate writes them: Cu and Ni for every parent (Cu also a
    displaced variant of two), Co for three; no other edge."""
    root = tmp_path_factory.mktemp("feff")
    rng = np.random.default_rng(5)
    geometries = {p: random_complex(rng) for p in PARENTS}
    for element, parents in (("Cu", PARENTS), ("Ni", PARENTS), ("Co", PARENTS[:3])):
        folder = root / f"{element.lower()}-k"
        (folder / "xyz").mkdir(parents=True)
        (folder / "spectra").mkdir()
        for parent in parents:
            for tag in ([None, "stretch0"] if element == "Cu" and parent in PARENTS[:2] else [None]):
                atoms = geometries[parent].copy()
                atoms.numbers[0] = {"Cu": 29, "Ni": 28, "Co": 27}[element]
                if tag:
                    atoms.positions[1] *= 1.08
                stem = f"{element}_{parent}" + (f"_{tag}" if tag else "")
                write(folder / "xyz" / f"{stem}.xyz", atoms)
                grid, mu = fake_spectrum(atoms, element)
                np.savetxt(folder / "spectra" / f"{stem}.txt", np.column_stack([grid, mu]), header="fake FEFF10")
    return root


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    """A pretrained root holding a small Fe bundle whose networks the edge models reuse."""
    root = tmp_path_factory.mktemp("pretrained")
    tiny_bundle(root / "fe-k")
    return root


def assert_gradient_matches_finite_differences(predictor):
    """A Cu complex's spectrum gradient against a central difference of one atom's x (±1e-3 Å:
    the float32 networks' rounding, about 1e-7 of μ, stays well under the tolerance, and the step's
    own error is of its square)."""
    cu = random_complex(np.random.default_rng(4))
    cu.numbers[0] = 29
    gradient = predictor.gradient(cu)
    ahead, behind = cu.copy(), cu.copy()
    ahead.positions[1, 0] += 1e-3
    behind.positions[1, 0] -= 1e-3
    finite = (predictor.predict(ahead).mu - predictor.predict(behind).mu) / 2e-3
    np.testing.assert_allclose(gradient["d_mu"][:, 1, 0], finite, atol=2e-3 * np.abs(finite).max() + 1e-6)


def cv_choice(out: str, label: str, first: str):
    """What train-edges printed it chose for ``label`` by CV (candidates: none, then ``first``, ...):
    None, or the chosen pair of numbers."""
    chosen = re.search(rf"{label}, CV Δμ median: none: [\d.]+ %, {first}: [\d.]+ %, .*; chosen (.*)$", out, re.M)
    assert chosen, out
    return None if chosen.group(1) == "none" else tuple(float(v) for v in re.findall(r"\d+(?:\.\d+)?", chosen.group(1)))


def test_edges_pool_with_their_parents_and_variants(feff_root, networks):
    sets = read_edges(feff_root)
    assert list(sets) == ["Co", "Ni", "Cu"]  # Ti to Zn order, only edges with spectra
    data = pool(sets, load_bundle(networks / "fe-k").descriptor)
    assert len(data) == 3 + 6 + 8 and data.X.shape[0] == data.y.shape[0] == len(data)
    assert set(data.parents) == set(PARENTS)
    assert data.variants.sum() == 2 and all(s.endswith("stretch0") for s in np.array(data.stems)[data.variants])


def test_the_transfer_folds_into_each_edges_output_scaling(feff_root, networks):
    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    model = FdmnesTransfer.fit(data, base.ensemble)
    assert model.counts == {"Co": 3, "Ni": 6, "Cu": 8}
    for element in ("Cu", "Co", "Zn"):
        rows = slice(None) if element == "Zn" else data.edges == element
        direct = model.predict(data.X[rows], [element] * len(data.X[rows]))
        np.testing.assert_allclose(model.ensemble_for(element).predict_mean(data.X[rows]), direct, atol=1e-10)
    # an edge without spectra stands on the pooled mean; one with spectra on its own
    zn = model.predict(data.X[:1], ["Zn"])[0] - model.predict(data.X[:1], ["Cu"])[0]
    np.testing.assert_allclose(zn, model.pooled_mean - model.edge_means["Cu"], atol=1e-10)
    # and it fits the training spectra better than each edge's mean spectrum alone
    fitted = model.predict(data.X, data.edges)
    means = np.array([model.mean_for(e) for e in data.edges])
    assert np.abs(fitted - data.y).mean() < np.abs(means - data.y).mean()


def test_grouped_cv_never_trains_on_a_held_out_parent(feff_root, networks):
    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    seen = []

    def fit(mask, seed):
        seen.append(mask.copy())
        return FdmnesTransfer.fit(data, base.ensemble, mask)

    cv = cross_validate_edges(data, {"transfer": fit}, edge_grid("Fe") - 7112.0, k=3, leave_edge_out=False)
    assert len(seen) == 3 and np.isfinite(cv["predictions"]["transfer"]).all()
    for train_mask in seen:  # a parent, its variants and its other metals: all on one side
        assert set(data.parents[train_mask]).isdisjoint(data.parents[~train_mask])
    table = cv["scores"]
    assert table["transfer"]["Cu"]["variants"]["n_spectra"] == 2 and table["transfer"]["Cu"]["parents"]["n_spectra"] == 6
    assert np.isfinite(cv["predictions"]["edge mean"]).all()

    seen.clear()
    cv = cross_validate_edges(data, {"transfer": fit}, edge_grid("Fe") - 7112.0, k=3)
    left_out = cv["predictions"]["transfer, edge left out"]
    assert np.isfinite(left_out).all()
    assert any(len(set(data.edges[m])) == 2 for m in seen)  # models trained without one edge


def test_a_pooled_network_learns_deviations_from_each_edges_mean(feff_root, networks):
    data = pool(read_edges(feff_root), load_bundle(networks / "fe-k").descriptor)
    recipe = Recipe(name="tiny-pooled", hidden=(16,), epochs=3, standardise_targets=True)
    model = PooledNetwork.fit(data, recipe, n_members=1)
    out = model.predict(data.X[:4], data.edges[:4])
    assert out.shape == (4, 226) and np.isfinite(out).all()


def test_train_edges_writes_nine_bundles_that_share_the_networks(feff_root, networks, tmp_path):
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    code = main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"), "--cv", "3",
                 "--learning-curve", "0.5"])
    assert code == 0
    written = sorted(p.name for p in root.iterdir() if p.name.endswith("-k-feff"))
    assert written == sorted(f"{m.lower()}-k-feff" for m in EDGE_METALS)
    for folder in root.glob("*-k-feff"):
        assert not (folder / "fast_weights.npz").exists() and not list(folder.glob("member_*.keras"))
    text = (root / "cu-k-feff" / "model_card.json").read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON: undefined figures are null
    card = json.loads(text)
    assert card["training_data"]["n_samples"] == 8 and card["training_data"]["n_samples_all_edges"] == 17
    assert card["networks_from"] == "fe-k" and card["edge"]["element"] == "Cu"
    assert card["edge"]["core_hole_width_eV"] == pytest.approx(1.55)  # xraydb's Cu K, read by the dashboard
    assert card["cv_metrics"]["per_method"]["FDMNES transfer"]["variants"]["n_spectra"] == 2
    assert card["learning_curve"][0]["parent_fraction"] == 0.5
    pairs = card["drag_fidelity_cv"]["this_edge"]  # the two Cu (parent, stretched variant) pairs
    assert pairs["stretch"]["pairs"] == 2 and pairs["all"]["pairs"] == 2
    assert -1 <= pairs["stretch"]["median_r"] <= 1 and pairs["stretch"]["median_norm_ratio"] > 0
    assert json.loads((root / "ni-k-feff" / "model_card.json").read_text())["drag_fidelity_cv"]["this_edge"] == {}
    zn = json.loads((root / "zn-k-feff" / "model_card.json").read_text())
    assert zn["training_data"]["n_samples"] == 0 and "no spectra yet" in zn["method"]
    # the catalogue picks them by element; Fe keeps its own model
    assert model_for("Cu", root=root).name == "cu-k-feff" and model_for("Fe", root=root).name == "tiny"  # the fe-k folder
    labels = {m.name: m.spectra for m in shipped_models(root)}
    assert labels["zn-k-feff"] == "FEFF10, no Zn spectra yet, 17 of all edges"
    # a Cu complex predicts on the Cu grid, with the trust signal of the networks' training set
    predictor = Predictor.load(root / "cu-k-feff")
    cu = random_complex(np.random.default_rng(9))
    cu.numbers[0] = 29
    spectrum = predictor.predict(cu)
    np.testing.assert_allclose(spectrum.energy, edge_grid("Cu"))
    assert np.isfinite(spectrum.mu).all() and np.isfinite(spectrum.std).all()
    assert predictor.bundle.training_features is not None
    assert np.isfinite(predictor.sensitivity(cu)).all()


def test_a_bundle_whose_shared_networks_are_missing_or_outside_is_refused(feff_root, networks, tmp_path):
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k")]) == 0
    card_path = root / "ni-k-feff" / "model_card.json"
    card = json.loads(card_path.read_text())
    for bad, message in (("../fe-k", "must name a sibling bundle folder"), ("gone", "which is not a model bundle")):
        card["networks_from"] = bad
        card_path.write_text(json.dumps(card))
        with pytest.raises(ModelBundleError, match=message):
            load_bundle(root / "ni-k-feff")


def test_train_edges_without_spectra_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "cu-k" / "spectra").mkdir(parents=True)
    assert main(["train-edges", str(tmp_path), "-o", str(tmp_path)]) == 2
    assert "no FEFF10 spectra" in capsys.readouterr().err


def test_train_edges_puts_a_drag_fidelity_table_on_every_card(feff_root, networks, tmp_path, capsys):
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    table = tmp_path / "drag.json"
    table.write_text(json.dumps({"benchmark": "benchmarks/drag_fidelity.py",
                                 "families": {"bend10": {"pairs": 4, "median_r": -0.25}}}))
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--drag-fidelity", str(table)]) == 0
    for element in ("Ti", "Cu"):
        card = json.loads((root / f"{element.lower()}-k-feff" / "model_card.json").read_text())
        assert card["drag_fidelity"]["families"]["bend10"]["median_r"] == -0.25
    table.write_text("{not json")
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--drag-fidelity", str(table)]) == 2
    assert "drag.json: not a readable drag-fidelity JSON file" in capsys.readouterr().err


def test_pair_fidelity_of_a_perfect_model_is_one_and_of_a_frozen_one_is_nothing(feff_root, networks):
    from xanesviz.edges import pair_fidelity

    data = pool(read_edges(feff_root), load_bundle(networks / "fe-k").descriptor)
    energy_rel = edge_grid("Fe") - 7112.0
    perfect = pair_fidelity(data, data.y.copy(), energy_rel)
    assert perfect["Cu"]["stretch"] == {"pairs": 2, "median_r": 1.0, "median_norm_ratio": 1.0,
                                        "main_peak_same_direction": 2}
    frozen = np.repeat(data.y.mean(axis=0, keepdims=True), len(data), axis=0)  # no response to a drag
    still = pair_fidelity(data, frozen, energy_rel)["all"]["all"]
    assert still["median_norm_ratio"] == 0.0 and still["median_r"] is None  # r undefined: the model does not move
    unpredicted = np.full(data.y.shape, np.nan)
    assert pair_fidelity(data, unpredicted, energy_rel) == {}



def test_the_prior_shrinks_each_edges_mean_toward_all_edges(feff_root, networks, tmp_path, capsys):
    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    own, leaning = FdmnesTransfer.fit(data, base.ensemble), FdmnesTransfer.fit(data, base.ensemble, prior=3.0)
    np.testing.assert_allclose(leaning.edge_means["Co"], (3 * own.edge_means["Co"] + 3 * own.pooled_mean) / 6)
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"), "--cv", "3"]) == 0
    out = capsys.readouterr().out
    assert "CV Δμ median by prior: 0: " in out and "; chosen " in out
    chosen = float(out.split("; chosen ")[1].split()[0])
    assert json.loads((root / "co-k-feff" / "model_card.json").read_text())["edge_mean_prior"] == chosen


def test_a_full_output_map_is_the_ridge_fit_and_survives_a_bundle(feff_root, networks, tmp_path):
    """With ``map_ridge`` the deviation from each edge's mean is (F - centre) @ M, M the ridge fit
    held toward the per-energy factors; it is folded into the networks (and kernel member), and a
    bundle written with it predicts, and differentiates, the same after loading."""
    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    per_energy = FdmnesTransfer.fit(data, base.ensemble, prior=4.0)
    mapped = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0)
    F = dataclasses.replace(base.ensemble, neighbours=None).predict_mean(data.X)
    centre = F.mean(axis=0)
    expected = (F - centre) @ mapped.output_map + np.array([mapped.mean_for(e) for e in data.edges])
    np.testing.assert_allclose(mapped.predict(data.X, data.edges), expected, atol=1e-5)
    assert not np.allclose(mapped.output_map, np.diag(np.diag(mapped.output_map)))  # a full map, not factors
    # on the training spectra it fits better than the per-energy factors (it has them as a special case)
    assert np.abs(expected - data.y).mean() < np.abs(per_energy.predict(data.X, data.edges) - data.y).mean()
    # held ever harder toward the factors, it becomes them
    stiff = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=1e9)
    np.testing.assert_allclose(stiff.predict(data.X, data.edges), per_energy.predict(data.X, data.edges), atol=1e-4)

    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    write_edge_bundles(mapped, data, load_bundle(root / "fe-k"), root, elements=("Cu", "Zn"), map_ridge=3.0)
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert card["output_map_ridge"] == 3.0 and "full energy-by-energy map" in card["method"]
    assert (root / "cu-k-feff" / "output_map.npz").is_file() and not (root / "cu-k-feff" / "fast_weights.npz").exists()
    for element in ("Cu", "Zn"):
        loaded = load_bundle(root / f"{element.lower()}-k-feff").ensemble
        np.testing.assert_allclose(loaded.predict_mean(data.X), mapped.predict(data.X, [element] * len(data)),
                                   atol=1e-4)
    assert_gradient_matches_finite_differences(Predictor.load(root / "cu-k-feff"))
    # written again without the map, the file goes
    write_edge_bundles(per_energy, data, load_bundle(root / "fe-k"), root, elements=("Cu",))
    assert not (root / "cu-k-feff" / "output_map.npz").exists()
    assert json.loads((root / "cu-k-feff" / "model_card.json").read_text())["output_map_ridge"] is None


def test_train_edges_chooses_the_recalibration_by_cv(feff_root, networks, tmp_path, capsys):
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"), "--cv", "3",
                 "--mean-prior", "4"]) == 0
    out = capsys.readouterr().out
    chosen = re.search(r"output recalibration, CV Δμ median: per-energy factors: [\d.]+ %, full map, ridge 1: "
                       r"[\d.]+ %, .*; chosen (\S+)", out)
    assert chosen, out
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert card["output_map_ridge"] == (None if chosen.group(1) == "per-energy" else float(chosen.group(1)))
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--map-ridge", "none"]) == 0
    assert not (root / "cu-k-feff" / "output_map.npz").exists()
    with pytest.raises(SystemExit):
        main(["train-edges", str(feff_root), "-o", str(root), "--map-ridge", "-1"])
    assert "must be positive" in capsys.readouterr().err


def test_a_residual_kernel_member_is_added_shared_and_survives_a_bundle(feff_root, networks, tmp_path):
    """``residual=(g, alpha)``: a kernel ridge member fitted on what the recalibration misses is
    added to the spectrum; one bundle holds it, the others read it (``residual_from``); loaded, a
    bundle predicts and differentiates the same; a missing holder file is a one-line error."""
    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    mapped = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0)
    corrected = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, residual=(1.0, 0.1))
    assert corrected.residual == (1.0, 0.1) and mapped.residual is None
    member = corrected.ensemble.residual
    Z = corrected.ensemble.standardise(data.X)
    np.testing.assert_allclose(corrected.predict(data.X, data.edges),
                               mapped.predict(data.X, data.edges) + member.forward(Z), atol=1e-9)
    # it is the kernel ridge fit of what the map missed on the training spectra
    from sklearn.kernel_ridge import KernelRidge

    missed = data.y - mapped.predict(data.X, data.edges)
    reference = KernelRidge(kernel="rbf", gamma=1.0 / Z.shape[1], alpha=0.1).fit(Z, missed)
    np.testing.assert_allclose(member.forward(Z), reference.predict(Z), atol=1e-8)
    assert np.abs(member.forward(Z)).max() > 1e-3

    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    write_edge_bundles(corrected, data, load_bundle(root / "fe-k"), root, elements=("Cu", "Fe", "Zn"),
                       map_ridge=3.0)
    assert (root / "fe-k-feff" / "residual.npz").is_file()
    assert not (root / "cu-k-feff" / "residual.npz").exists()
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert card["residual_from"] == "fe-k-feff" and card["residual_kernel"]["alpha"] == 0.1
    assert "kernel ridge member" in card["method"]
    for element in ("Cu", "Fe", "Zn"):
        loaded = load_bundle(root / f"{element.lower()}-k-feff").ensemble
        np.testing.assert_allclose(loaded.predict_mean(data.X), corrected.predict(data.X, [element] * len(data)),
                                   atol=1e-5)
    assert_gradient_matches_finite_differences(Predictor.load(root / "cu-k-feff"))
    # the holder's file gone: a one-line error naming it
    (root / "fe-k-feff" / "residual.npz").unlink()
    with pytest.raises(ModelBundleError, match="residual member should be in .*fe-k-feff/residual.npz"):
        load_bundle(root / "cu-k-feff")
    # written again without the member, no bundle refers to one
    write_edge_bundles(mapped, data, load_bundle(root / "fe-k"), root, elements=("Cu", "Fe"), map_ridge=3.0)
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert "residual_from" not in card and card["residual_kernel"] is None
    assert load_bundle(root / "cu-k-feff").ensemble.residual is None


def test_train_edges_chooses_the_residual_member_by_cv(feff_root, networks, tmp_path, capsys):
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"), "--cv", "3",
                 "--mean-prior", "4", "--map-ridge", "3", "--residual-kernel", "auto"]) == 0
    chosen = cv_choice(capsys.readouterr().out, "residual kernel member", "g 0.3, alpha 1")
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert chosen == (None if card["residual_kernel"] is None else
                      (card["residual_kernel"]["width_factor"], card["residual_kernel"]["alpha"]))
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--map-ridge", "3", "--residual-kernel", "0.5,2"]) == 0
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert card["residual_kernel"]["width_factor"] == 0.5 and card["residual_kernel"]["alpha"] == 2.0
    # by default, none (it follows drags less well)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--map-ridge", "3"]) == 0
    assert json.loads((root / "cu-k-feff" / "model_card.json").read_text())["residual_kernel"] is None
    assert "residual kernel member" not in capsys.readouterr().out
    for bad in ("0,1", "1", "a,b"):
        with pytest.raises(SystemExit):
            main(["train-edges", str(feff_root), "-o", str(root), "--residual-kernel", bad])
        assert "G,ALPHA" in capsys.readouterr().err


def test_a_linear_member_is_fitted_to_spectra_and_drags_shared_and_survives_a_bundle(feff_root, networks, tmp_path):
    """``linear=(pairs, alpha)``: a member linear in the descriptor, fitted on what the map misses
    in the spectra and the data's own drags, is added to the spectrum; one bundle holds it, the
    others read it; loaded, a bundle predicts and differentiates the same; not with a kernel member."""
    from xanesviz.linear_member import LinearMember

    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    mapped = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, pair_weight=1.0)
    corrected = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, pair_weight=1.0, linear=(3.0, 0.1))
    assert corrected.linear == (3.0, 0.1) and mapped.linear is None and corrected.residual is None
    member = corrected.ensemble.residual
    assert isinstance(member, LinearMember)
    Z = corrected.ensemble.standardise(data.X)
    missed = data.y - mapped.predict(data.X, data.edges)
    reference = LinearMember.fit(Z, missed, variant_pairs(data), pair_weight=3.0, alpha=0.1)
    np.testing.assert_allclose(member.weights, reference.weights, atol=1e-10)
    np.testing.assert_allclose(corrected.predict(data.X, data.edges),
                               mapped.predict(data.X, data.edges) + member.forward(Z), atol=1e-9)
    assert np.abs(member.forward(Z)).max() > 1e-3
    # trained on a mask (as in CV) it is the model of those samples alone: their drags found by row
    mask = data.parents != "CCCCCC"
    on_mask = FdmnesTransfer.fit(data, base.ensemble, mask, 4.0, 3.0, pair_weight=1.0, linear=(3.0, 0.1))
    alone = FdmnesTransfer.fit(data.subset(mask), base.ensemble, None, 4.0, 3.0, pair_weight=1.0, linear=(3.0, 0.1))
    np.testing.assert_allclose(on_mask.predict(data.X, data.edges), alone.predict(data.X, data.edges), atol=1e-9)
    spectra_only = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, pair_weight=1.0, linear=(0.0, 0.1))
    assert ((spectra_only.predict(data.X, data.edges) - data.y) ** 2).sum() < 0.9 * (missed ** 2).sum()

    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    write_edge_bundles(corrected, data, load_bundle(root / "fe-k"), root, elements=("Cu", "Fe", "Zn"),
                       map_ridge=3.0)
    assert (root / "fe-k-feff" / "residual.npz").is_file() and not (root / "cu-k-feff" / "residual.npz").exists()
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert card["residual_from"] == "fe-k-feff" and card["residual_kernel"] is None
    assert card["linear_member"]["pair_weight"] == 3.0 and card["linear_member"]["alpha"] == 0.1
    assert "linear member" in card["method"]
    for element in ("Cu", "Fe", "Zn"):
        loaded = load_bundle(root / f"{element.lower()}-k-feff").ensemble
        assert isinstance(loaded.residual, LinearMember)
        np.testing.assert_allclose(loaded.predict_mean(data.X), corrected.predict(data.X, [element] * len(data)),
                                   atol=1e-5)
    assert_gradient_matches_finite_differences(Predictor.load(root / "cu-k-feff"))
    # a holder file whose member does not fit the networks: a one-line error naming it
    np.savez(root / "fe-k-feff" / "residual.npz", linear_centre=np.zeros(3), linear_weights=np.zeros((3, 2)))
    with pytest.raises(ModelBundleError, match="residual.npz: shapes do not match"):
        load_bundle(root / "cu-k-feff")
    with pytest.raises(XanesvizError, match="one residual member only"):
        FdmnesTransfer.fit(data, base.ensemble, map_ridge=3.0, residual=(1.0, 0.1), linear=(0.3, 1.0))


def test_train_edges_chooses_the_linear_member_by_cv(feff_root, networks, tmp_path, capsys):
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"), "--cv", "3",
                 "--mean-prior", "4", "--map-ridge", "3", "--linear-member", "auto"]) == 0
    chosen = cv_choice(capsys.readouterr().out, "linear member", "pairs 0.3, alpha 0.3")
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert chosen == (None if card["linear_member"] is None else
                      (card["linear_member"]["pair_weight"], card["linear_member"]["alpha"]))
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--map-ridge", "3", "--linear-member", "2,0.5"]) == 0
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert (card["linear_member"]["pair_weight"], card["linear_member"]["alpha"]) == (2.0, 0.5)
    # by default, none (it follows drags of held-out complexes less well)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--map-ridge", "3"]) == 0
    assert json.loads((root / "cu-k-feff" / "model_card.json").read_text())["linear_member"] is None
    assert "linear member" not in capsys.readouterr().out
    # a kernel member asked for: no linear one, and said so
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--map-ridge", "3", "--residual-kernel", "0.5,2", "--linear-member", "2,0.5"]) == 0
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert card["linear_member"] is None and card["residual_kernel"]["alpha"] == 2.0
    assert "no linear member" in capsys.readouterr().err
    for bad in ("1,0", "-1,1", "1", "a,b", "nan,1"):
        with pytest.raises(SystemExit):
            main(["train-edges", str(feff_root), "-o", str(root), "--linear-member", bad])
        assert "PAIRS,ALPHA" in capsys.readouterr().err


def test_fine_tuned_networks_fit_better_and_are_stored_once_for_every_edge(feff_root, networks, tmp_path, capsys):
    """``fine_tune`` trains the recalibrated networks further on the FEFF10 spectra: the training
    error falls below the map's; the Fe bundle then holds the new networks (and the trust
    signal's training inputs), every other edge names it, and each predicts after loading what the
    fitted model predicts."""
    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    mapped = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0)
    tuned = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, fine_tune=(1e-3, 100))
    assert tuned.fine_tuned == (1e-3, 100, 0.0) and tuned.output_map is None and mapped.output_map is not None
    error = {name: np.abs(m.predict(data.X, data.edges) - data.y).mean() for name, m in
             (("mapped", mapped), ("tuned", tuned))}
    assert error["tuned"] < 0.97 * error["mapped"]
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    write_edge_bundles(tuned, data, load_bundle(root / "fe-k"), root, mean_prior=4.0, map_ridge=3.0)
    assert (root / "fe-k-feff" / "fast_weights.npz").exists()
    for element in EDGE_METALS:
        folder = root / f"{element.lower()}-k-feff"
        card = json.loads((folder / "model_card.json").read_text())
        assert card["fine_tune"]["epochs"] == 100 and "fine-tuned" in card["method"]
        assert "full energy-by-energy map" in card["method"]  # the map came first, then was folded in
        assert card.get("networks_from") == (None if element == "Fe" else "fe-k-feff")
        assert not (folder / "output_map.npz").exists()
    predictor = Predictor.load(root / "cu-k-feff")
    rows = data.edges == "Cu"
    np.testing.assert_allclose(predictor.ensemble.predict_mean(data.X[rows]),
                               tuned.predict(data.X[rows], data.edges[rows]), atol=1e-4)
    assert predictor.bundle.training_features is not None
    np.testing.assert_array_equal(predictor.bundle.training_features, base.training_features)
    assert_gradient_matches_finite_differences(predictor)
    # the command line: a chosen setting, and bad ones refused by name
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--fine-tune", "1e-3,5"]) == 0
    assert json.loads((root / "ni-k-feff" / "model_card.json").read_text())["fine_tune"]["epochs"] == 5
    for bad in ("0,5", "1e-3,0", "1e-3", "fast", "1e-3,5,-1", "1e-3,5,1,2"):
        with pytest.raises(SystemExit):
            main(["train-edges", str(feff_root), "-o", str(root), "--fine-tune", bad])
        assert "--fine-tune" in capsys.readouterr().err


def test_fine_tuning_with_the_data_s_own_drags_follows_them_more_closely(feff_root, networks, tmp_path):
    """With a pair weight the fine-tuning also fits each displaced variant's change of spectrum
    against its parent: on the training pairs the networks' changes come closer to FEFF10's than
    after the same fine-tuning on the spectra alone; the card says so; rows outside the data
    are refused by name."""
    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    pairs = variant_pairs(data)
    assert len(pairs) >= 2
    plain = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, fine_tune=(1e-3, 60))
    paired = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, fine_tune=(1e-3, 60, 10.0))
    assert paired.fine_tuned == (1e-3, 60, 10.0)

    def drag_error(model):
        predicted = model.predict(data.X, data.edges)
        moved = predicted[pairs[:, 1]] - predicted[pairs[:, 0]]
        return np.abs(moved - (data.y[pairs[:, 1]] - data.y[pairs[:, 0]])).mean()

    assert drag_error(paired) < 0.9 * drag_error(plain)
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    write_edge_bundles(paired, data, load_bundle(root / "fe-k"), root, mean_prior=4.0, map_ridge=3.0)
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert card["fine_tune"]["pair_weight"] == 10.0 and "displaced structure and its parent" in card["method"]
    from xanesviz.model import fine_tune

    network = base.ensemble.network
    Z = np.zeros((4, network.n_inputs), np.float32)
    with pytest.raises(XanesvizError, match="outside the 4 samples"):
        fine_tune(network, Z, np.zeros((4, network.weights[-1].shape[-1])), 1e-3, 1, pairs=np.array([[0, 4]]),
                  pair_weight=1.0)


def test_a_pair_weight_fits_the_datas_own_drags(feff_root, networks):
    """With the data's own drags in the map's fit, the model's change of spectrum between a parent
    and its displaced variant comes closer to FEFF10's."""
    from xanesviz.edges import variant_pairs
    from xanesviz.errors import XanesvizError

    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    pairs = variant_pairs(data)
    assert len(pairs) == 2 and all(data.stems[v] == data.stems[p] + "_stretch0" for p, v in pairs)
    assert len(variant_pairs(data, np.array([s != data.stems[pairs[0, 0]] for s in data.stems]))) == 1

    def drag_and_spectrum_errors(weight):
        model = FdmnesTransfer.fit(data, base.ensemble, map_ridge=1.0, pair_weight=weight)
        predicted = model.predict(data.X, data.edges)
        drags = (predicted[pairs[:, 1]] - predicted[pairs[:, 0]]) - (data.y[pairs[:, 1]] - data.y[pairs[:, 0]])
        return model, np.abs(drags).mean(), np.abs(predicted - data.y).mean()

    plain, plain_drag, plain_spectra = drag_and_spectrum_errors(0.0)
    paired, paired_drag, paired_spectra = drag_and_spectrum_errors(3.0)
    assert plain.pair_weight == 0.0 and paired.pair_weight == 3.0
    assert paired_drag < 0.5 * plain_drag
    assert np.isfinite(paired_spectra) and paired_spectra < 10 * plain_spectra  # still a fit of the spectra
    with pytest.raises(XanesvizError, match="needs the full energy map"):
        FdmnesTransfer.fit(data, base.ensemble, map_ridge=None, pair_weight=1.0)


def test_sample_weights_pull_the_map_toward_the_weighted_spectra(feff_root, networks):
    """Weights count a sample (and its drag) that many times in the map's fit: all doubled, the
    same map; one edge weighted up, that edge fitted more closely; carried by subset and concatenate."""
    from xanesviz.edges import concatenate

    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)

    def fit(weights):
        return FdmnesTransfer.fit(dataclasses.replace(data, weights=weights), base.ensemble, prior=4.0,
                                  map_ridge=1.0, pair_weight=1.0)

    plain = fit(None)
    np.testing.assert_allclose(fit(np.full(len(data), 2.0)).predict(data.X, data.edges),
                               plain.predict(data.X, data.edges), atol=1e-3)  # the map is stored in float32
    cu = data.edges == "Cu"
    heavy = fit(np.where(cu, 20.0, 1.0))

    def error(model, rows):
        return ((model.predict(data.X[rows], data.edges[rows]) - data.y[rows]) ** 2).mean()

    assert error(heavy, cu) < error(plain, cu) and error(heavy, ~cu) > error(plain, ~cu)
    weighted = dataclasses.replace(data, weights=np.where(cu, 20.0, 1.0))
    np.testing.assert_array_equal(weighted.subset(cu).sample_weights(), np.full(cu.sum(), 20.0))
    both = concatenate([data.subset(~cu), weighted.subset(cu)])
    assert len(both) == len(data) and sorted(both.sample_weights()) == sorted(weighted.sample_weights())
    with pytest.raises(XanesvizError, match="share a structure's name"):
        concatenate([data, data.subset(cu)])


def test_a_drag_counts_with_its_variants_weight_in_the_map(feff_root, networks):
    """A displaced variant weighted 0 takes its drag out of the map's fit too: the same map as when
    that variant is no one's variant (its pair gone) and weighted 0."""
    from xanesviz.edges import variant_pairs

    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    pairs = variant_pairs(data)
    weights = np.ones(len(data))
    weights[pairs[0, 1]] = 0.0
    stems = data.stems.copy()
    stems[pairs[0, 1]] = "unpaired"
    unpaired = dataclasses.replace(data, stems=stems, weights=weights)
    assert len(variant_pairs(unpaired)) == len(pairs) - 1 >= 1

    def fit(d):
        return FdmnesTransfer.fit(d, base.ensemble, prior=4.0, map_ridge=1.0, pair_weight=3.0).predict(data.X, data.edges)

    np.testing.assert_allclose(fit(dataclasses.replace(data, weights=weights)), fit(unpaired), atol=1e-4)
    assert np.abs(fit(data) - fit(unpaired)).max() > 1e-3  # the variant and its drag do move the map


def write_real_set(root, metal: str, parents, seed: int, tags=(None, "stretch1")) -> None:
    """A toy real-complex set ROOT/{metal}-k/: each parent and its moves, with a spectrum whose
    edge follows the mean first-shell bond."""
    folder = root / f"{metal.lower()}-k"
    (folder / "xyz").mkdir(parents=True)
    (folder / "spectra").mkdir()
    rng = np.random.default_rng(seed)
    grid = edge_grid(metal)
    for parent in parents:
        atoms = random_complex(rng)
        atoms.numbers[0] = atomic_numbers[metal]
        for tag in tags:
            moved = atoms.copy()
            if tag:
                moved.positions[1] *= 1.1
            stem = f"{metal}_{parent}" + (f"_{tag}" if tag else "")
            write(folder / "xyz" / f"{stem}.xyz", moved)
            bond = np.sort(moved.get_distances(0, range(1, len(moved))))[:6].mean()
            mu = 0.6 / (1 + np.exp(-(grid - grid[0] - 15 - 8 * (bond - 2.1)) / 1.5)) + 0.25
            np.savetxt(folder / "spectra" / f"{stem}.txt", np.column_stack([grid, mu]))


def test_train_edges_takes_real_complexes_weighted_and_says_so(feff_root, networks, tmp_path, capsys):
    """--real-complexes ROOT: real Fe complexes and their moves join the data, weighted
    --real-weight in the map's fit, and every card records them."""
    real = tmp_path / "real"
    write_real_set(real, "Fe", ("GGGGGG", "HHHHHH"), seed=11)
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    outputs = {}
    for weight in ("1", "20"):
        assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                     "--map-ridge", "1", "--real-complexes", str(real), "--real-weight", weight,
                     "--real-label", "data/feff-real"]) == 0
        assert "4 FEFF10 spectra of 2 real complexes and their moves" in capsys.readouterr().out
        card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
        assert card["training_data"]["real_complexes"] == {
            "directory": "data/feff-real", "n_samples": 4, "n_complexes": 2, "n_moved": 2, "per_edge": {"Fe": 4},
            "weight": float(weight)}
        assert "2 real complexes with 2 moves of them" in card["method"]
        assert json.loads((root / "fe-k-feff" / "model_card.json").read_text())["training_data"]["n_samples"] == 4
        cu = random_complex(np.random.default_rng(2))
        cu.numbers[0] = 29
        outputs[weight] = Predictor.load(root / "cu-k-feff").predict(cu).mu
    assert np.abs(outputs["20"] - outputs["1"]).max() > 1e-4  # the weight changes the map
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--map-ridge", "1"]) == 0
    assert json.loads((root / "cu-k-feff" / "model_card.json").read_text())["training_data"]["real_complexes"] is None


def test_train_edges_takes_several_real_sets_and_writes_out_of_fold_predictions(feff_root, networks, tmp_path,
                                                                                capsys):
    """--real-complexes ROOT ROOT: both sets join (the cards count each edge's spectra over both);
    --cv-predictions FILE holds every spectrum's out-of-fold prediction, finite, by stem."""
    write_real_set(tmp_path / "real", "Fe", ("GGGGGG", "HHHHHH"), seed=11)
    write_real_set(tmp_path / "literature", "Cu", ("Cl4-D4h",), seed=12, tags=(None, "bend1", "stretch6"))
    write_real_set(tmp_path / "literature", "Zn", ("Cl4-D4h",), seed=13)  # the same kind, another metal
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    oof = tmp_path / "oof.npz"
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"), "--map-ridge", "1",
                 "--mean-prior", "4", "--cv", "2", "--real-complexes", str(tmp_path / "real"),
                 str(tmp_path / "literature"), "--cv-predictions", str(oof)]) == 0
    out = capsys.readouterr().out
    assert "5 FEFF10 spectra of 2 real complexes and their moves" in out  # Cu and Zn: one CV group, two complexes
    card = json.loads((root / "ni-k-feff" / "model_card.json").read_text())
    assert card["training_data"]["real_complexes"]["per_edge"] == {"Fe": 4, "Cu": 3, "Zn": 2}
    assert card["training_data"]["real_complexes"]["n_complexes"] == 4
    assert card["training_data"]["real_complexes"]["directory"] == f"{tmp_path / 'real'} {tmp_path / 'literature'}"
    saved = np.load(oof)
    assert len(saved["stems"]) == len(set(saved["stems"])) == len(saved["true"]) == len(saved["FDMNES_transfer"])
    assert {"Cu_Cl4-D4h", "Cu_Cl4-D4h_bend1", "Fe_GGGGGG"} <= set(saved["stems"])
    assert np.isfinite(saved["FDMNES_transfer"]).all() and np.isfinite(saved["edge_mean"]).all()
    assert (saved["spread_ratio_FDMNES_transfer"] > 0).all()  # every held-out spectrum's, even of an edge its fold lacks
    row = list(saved["stems"]).index("Cu_Cl4-D4h_bend1")
    assert saved["edges"][row] == "Cu" and saved["parents"][row] == "Cl4-D4h" and saved["variants"][row]
    common = [str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"), "--map-ridge", "1"]
    capsys.readouterr()
    assert main(["train-edges", *common, "--cv-predictions", str(oof)]) == 2
    assert "--cv-predictions needs --cv" in capsys.readouterr().err
    assert main(["train-edges", *common, "--cv", "2", "--cv-predictions", str(tmp_path / "missing" / "oof.npz")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_train_edges_records_the_pair_weight_and_refuses_a_bad_one(feff_root, networks, tmp_path, capsys):
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--map-ridge", "1", "--pair-weight", "2"]) == 0
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert card["output_map_pair_weight"] == 2.0 and "displaced structure and its parent" in card["method"]
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--map-ridge", "none"]) == 0  # per-energy factors: the default weight does not apply
    assert "not used" in capsys.readouterr().err
    assert json.loads((root / "cu-k-feff" / "model_card.json").read_text())["output_map_pair_weight"] == 0.0
    for bad in ("-1", "nan", "x"):
        with pytest.raises(SystemExit):
            main(["train-edges", str(feff_root), "-o", str(root), "--pair-weight", bad])


def test_fine_tuning_weighs_each_sample_as_asked(networks):
    """``sample_weights`` in ``fine_tune``: the same structures given two different targets land
    near the target of the heavier copies (midway with equal weights), and a drag weighs as its
    displaced structure; weights that do not fit the samples are refused by name."""
    from xanesviz.model import fine_tune

    network = load_bundle(networks / "fe-k").ensemble.network
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(16, network.n_inputs)).astype(np.float32)
    n_out = network.weights[-1].shape[-1]
    T = np.vstack([np.full((16, n_out), 1.0), np.full((16, n_out), -1.0)])

    def mean_output(weights):
        tuned, _ = fine_tune(network, np.vstack([Z, Z]), T, 3e-3, 150, batch=8, sample_weights=weights)
        return float(np.mean(tuned.forward(Z)))

    equal = mean_output(None)
    heavy_first = mean_output(np.r_[np.full(16, 9.0), np.ones(16)])
    assert abs(equal) < 0.3 and heavy_first > equal + 0.4  # 9:1 puts the optimum at +0.8
    # a drag weighs as its displaced structure: one structure moved the same way twice, its spectrum
    # going up in one copy (weight 9) and down in the other (weight 1); the drag term, made to
    # dominate, follows the heavier copy (with the pairs weighed alike it would pull toward no change)
    moved = Z + 0.5
    T = np.vstack([np.zeros((16, n_out)), np.full((16, n_out), 1.0), np.full((16, n_out), -1.0)])
    pairs = np.array([(i, 16 + i) for i in range(16)] + [(i, 32 + i) for i in range(16)])
    for weights, low, high in ((None, -0.3, 0.3), (np.r_[np.ones(16), np.full(16, 9.0), np.ones(16)], 0.5, 9.0)):
        tuned, _ = fine_tune(network, np.vstack([Z, moved, moved]), T, 3e-3, 150, batch=8, pairs=pairs,
                             pair_weight=30.0, sample_weights=weights)
        drag = float(np.mean(tuned.forward(moved) - tuned.forward(Z)))
        assert low < drag < high, (weights is not None, drag)
    Zs = np.zeros((4, network.n_inputs), np.float32)
    for bad in (np.ones(3), np.array([1.0, 1.0, 0.0, 1.0])):
        with pytest.raises(XanesvizError, match="one positive weight per sample"):
            fine_tune(network, Zs, np.zeros((4, n_out)), 1e-3, 1, sample_weights=bad)


def test_a_map_per_edge_reshapes_each_edges_output_and_survives_a_bundle(feff_root, networks, tmp_path, capsys):
    """``edge_map_ridge``: after the fine-tuning each edge with spectra gets its own map of the
    shared networks' deviation, the ridge solution toward the identity; it fits each edge's own
    spectra closer than the shared networks alone; each bundle stores its edge's map, an edge
    without spectra none, and predicts after loading what the model predicts (gradients too). A
    map per edge without fine-tuned networks is refused in one line, by the API and the command."""
    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    tuned = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, fine_tune=(1e-3, 20))
    mapped = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, fine_tune=(1e-3, 20),
                                edge_map_ridge=0.3)
    assert set(mapped.edge_maps) == {"Co", "Ni", "Cu"} and mapped.edge_map_ridge == 0.3 and not tuned.edge_maps
    deviation = mapped.ensemble.predict_mean(data.X) - mapped.pooled_mean
    for element, edge_map in mapped.edge_maps.items():
        rows = data.edges == element
        P, D = deviation[rows], data.y[rows] - mapped.mean_for(element)
        G = P.T @ P
        lhs = (G + 0.3 * np.trace(G) / len(G) * np.eye(len(G))) @ (edge_map - np.eye(len(G)))
        np.testing.assert_allclose(lhs, P.T @ (D - P), atol=1e-4 * np.abs(P.T @ (D - P)).max())
        errors = [np.abs(m.predict(data.X[rows], data.edges[rows]) - data.y[rows]).mean() for m in (mapped, tuned)]
        assert errors[0] < 0.9 * errors[1], (element, errors)
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    write_edge_bundles(mapped, data, load_bundle(root / "fe-k"), root, mean_prior=4.0, map_ridge=3.0)
    for element in EDGE_METALS:
        folder = root / f"{element.lower()}-k-feff"
        card = json.loads((folder / "model_card.json").read_text())
        assert (folder / "output_map.npz").exists() == (element in mapped.edge_maps)
        assert card["edge_map_ridge"] == (0.3 if element in mapped.edge_maps else None)
        assert ("its own energy-by-energy map" if element in mapped.edge_maps else "none") in card["method"]
    for element in ("Cu", "Ni"):
        predictor = Predictor.load(root / f"{element.lower()}-k-feff")
        rows = data.edges == element
        np.testing.assert_allclose(predictor.ensemble.predict_mean(data.X[rows]),
                                   mapped.predict(data.X[rows], data.edges[rows]), atol=1e-4)
    assert_gradient_matches_finite_differences(Predictor.load(root / "cu-k-feff"))
    with pytest.raises(XanesvizError, match="fine-tuned networks"):
        FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, edge_map_ridge=1.0)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--edge-map-ridge", "1"]) == 2
    assert "--edge-map-ridge needs --fine-tune" in capsys.readouterr().err
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--fine-tune", "1e-3,5", "--edge-map-ridge", "1"]) == 0
    assert json.loads((root / "ni-k-feff" / "model_card.json").read_text())["edge_map_ridge"] == 1.0


def test_train_edges_chooses_the_map_per_edge_by_cv(feff_root, networks, tmp_path, capsys):
    """``--edge-map-ridge auto`` scores none and each ridge by the grouped CV and ships the best, as
    the cards then say; a bad value is refused by name."""
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"), "--cv", "3",
                 "--mean-prior", "4", "--map-ridge", "3", "--fine-tune", "1e-3,5", "--edge-map-ridge", "auto"]) == 0
    chosen = cv_choice(capsys.readouterr().out, "a map per edge", "ridge 0.3")
    card = json.loads((root / "cu-k-feff" / "model_card.json").read_text())
    assert chosen == (None if card["edge_map_ridge"] is None else (card["edge_map_ridge"],))
    assert (root / "cu-k-feff" / "output_map.npz").exists() == (chosen is not None)
    for bad in ("0", "-1", "wide"):
        with pytest.raises(SystemExit):
            main(["train-edges", str(feff_root), "-o", str(root), "--edge-map-ridge", bad])
        assert "--edge-map-ridge" in capsys.readouterr().err


def test_a_last_layer_per_edge_is_the_ridge_fit_on_hidden_units_and_survives_a_bundle(feff_root, networks, tmp_path,
                                                                                       capsys):
    """``edge_output="layer"``: after the fine-tuning each edge with spectra gets its own last layer
    of the shared networks, each network's the ridge solution on its centred last hidden units; it
    fits each edge's own spectra closer than the shared networks alone; each bundle stores its
    edge's layer (an edge without spectra none) and predicts after loading what the model predicts,
    gradients too; the command writes it with ``--edge-output layer``; a layer of the wrong shape
    in a bundle is refused by name."""
    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    tuned = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, fine_tune=(1e-3, 20))
    layered = FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, fine_tune=(1e-3, 20),
                                 edge_map_ridge=0.3, edge_output="layer")
    assert set(layered.edge_layers) == {"Co", "Ni", "Cu"} and not layered.edge_maps and not tuned.edge_layers
    network, ens = layered.ensemble.network, layered.ensemble
    for element, (weights, biases) in layered.edge_layers.items():
        rows = data.edges == element
        H = network.last_hidden(ens.standardise(data.X[rows])).astype(np.float64)
        D = data.y[rows] - layered.mean_for(element)
        for m in range(network.n_networks):
            dW = (weights[m] - network.weights[-1][m]) * ens.y_scale  # in spectrum units
            before = (H[m] @ network.weights[-1][m] + network.biases[-1][m]) * ens.y_scale + ens.y_mean
            residual = D - (before - layered.pooled_mean)
            centred = H[m] - H[m].mean(axis=0)
            G = centred.T @ centred
            lhs = (G + 0.3 * np.trace(G) / len(G) * np.eye(len(G))) @ dW
            rhs = centred.T @ (residual - residual.mean(axis=0))
            np.testing.assert_allclose(lhs, rhs, atol=2e-3 * np.abs(rhs).max())
        errors = [np.abs(m.predict(data.X[rows], data.edges[rows]) - data.y[rows]).mean() for m in (layered, tuned)]
        assert errors[0] < 0.9 * errors[1], (element, errors)
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    write_edge_bundles(layered, data, load_bundle(root / "fe-k"), root, mean_prior=4.0, map_ridge=3.0)
    for element in EDGE_METALS:
        folder = root / f"{element.lower()}-k-feff"
        card = json.loads((folder / "model_card.json").read_text())
        assert (folder / "last_layer.npz").exists() == (element in layered.edge_layers)
        assert not (folder / "output_map.npz").exists()
        assert card["edge_layer_ridge"] == (0.3 if element in layered.edge_layers else None)
        assert ("own last layer" if element in layered.edge_layers else "the shared one") in card["method"]
    for element in ("Cu", "Ni", "Fe"):
        predictor = Predictor.load(root / f"{element.lower()}-k-feff")
        rows = data.edges == element if element != "Fe" else data.edges == "Cu"
        np.testing.assert_allclose(predictor.ensemble.predict_mean(data.X[rows]),
                                   layered.predict(data.X[rows], [element] * int(rows.sum())), atol=1e-4)
    assert_gradient_matches_finite_differences(Predictor.load(root / "cu-k-feff"))
    bad = root / "ni-k-feff" / "last_layer.npz"
    with np.load(bad) as saved:
        np.savez(bad, weights=saved["weights"][:, :-1], biases=saved["biases"])
    with pytest.raises(ModelBundleError, match="last_layer.npz: a last layer must be"):
        load_bundle(root / "ni-k-feff")
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"),
                 "--fine-tune", "1e-3,5", "--edge-map-ridge", "1", "--edge-output", "layer"]) == 0
    assert "own last layer" in json.loads((root / "ni-k-feff" / "model_card.json").read_text())["method"]
    assert (root / "ni-k-feff" / "last_layer.npz").exists() and not (root / "ni-k-feff" / "output_map.npz").exists()
    with pytest.raises(XanesvizError, match="'map' or a 'layer'"):
        FdmnesTransfer.fit(data, base.ensemble, prior=4.0, map_ridge=3.0, fine_tune=(1e-3, 5), edge_map_ridge=1.0,
                           edge_output="layers")


class _SpreadByFirstFeature:
    """A stand-in fold model whose spread is the descriptor's first column (and predicts zeros)."""

    def __init__(self, n_energy):
        self.n_energy = n_energy

    def predict(self, X, edges):
        return np.zeros((len(X), self.n_energy))

    def spread(self, X, edges):
        return np.asarray(X)[:, 0].astype(float)


def test_cv_measures_each_held_out_spread_against_its_fold_model_s_training_median(feff_root, networks):
    """The trust badge's spread limit is calibrated on spectra each CV fold held out: a held-out
    spectrum's spread over the median spread of its fold model on the unmoved training complexes
    of its edge; the limit ratio is the 99th percentile over the held-out unmoved complexes."""
    from xanesviz.edges import spread_limit_ratio

    base = load_bundle(networks / "fe-k")
    data = pool(read_edges(feff_root), base.descriptor)
    data = dataclasses.replace(data, X=np.abs(data.X) + 1.0)  # a positive first column
    seen = []

    def fit(mask, seed):
        seen.append(mask.copy())
        return _SpreadByFirstFeature(data.y.shape[1])

    cv = cross_validate_edges(data, {"stand-in": fit}, np.arange(data.y.shape[1]), k=3, leave_edge_out=False,
                              spreads=True)
    ratio = cv["spread_ratio"]["stand-in"]
    assert np.isfinite(ratio).all()
    for mask in seen:  # each fold's held-out rows against that fold's training complexes
        for i in np.flatnonzero(~mask):
            train = mask & ~data.variants & (data.edges == data.edges[i])
            assert ratio[i] == pytest.approx(data.X[i, 0] / np.median(data.X[train, 0]))
    limit = spread_limit_ratio(cv, data, "stand-in")
    assert limit["n_complexes"] == int((~data.variants).sum())
    assert limit["ratio"] == pytest.approx(np.percentile(ratio[~data.variants], 99))


def test_train_edges_gives_each_edge_a_spread_limit_that_the_trust_badge_applies(feff_root, networks, tmp_path,
                                                                               capsys):
    """With --cv, each edge with spectra gets the CV's limit ratio times its model's median
    spread over its training complexes; the badge reports it and says the worse of distance and
    spread; --no-edge-left-out fits no model without each edge."""
    root = tmp_path / "pretrained"
    shutil.copytree(networks, root)
    assert main(["train-edges", str(feff_root), "-o", str(root), "--networks", str(root / "fe-k"), "--cv", "3",
                 "--no-edge-left-out", "--mean-prior", "4", "--map-ridge", "3", "--fine-tune", "1e-3,5",
                 "--edge-map-ridge", "0.3", "--edge-output", "layer"]) == 0
    printed = re.search(r"trust badge: the (\d+) held-out complexes' network spread.* at ([\d.]+)", capsys.readouterr().out)
    assert printed and int(printed.group(1)) == 15  # the 17 spectra less the two displaced variants
    cards = {e: json.loads((root / f"{e.lower()}-k-feff" / "model_card.json").read_text()) for e in ("Cu", "Ni", "Zn")}
    assert "trust_spread_limit" not in cards["Zn"]  # no spectra of its own: no median to scale
    assert not any("edge left out" in method for method in cards["Cu"]["cv_metrics"]["per_method"])
    limit = cards["Cu"]["trust_spread_limit"]
    assert limit["ratio"] == pytest.approx(float(printed.group(2)), abs=0.006) and limit["n_held_out_complexes"] == 15
    assert limit["limit_pct"] == pytest.approx(limit["ratio"] * limit["training_median_pct"], rel=1e-3)
    # the median is the loaded model's own spread over the Cu training complexes, as the badge measures it
    predictor = Predictor.load(root / "cu-k-feff")
    cu_parents = sorted((feff_root / "cu-k" / "xyz").glob("Cu_??????.xyz"))
    spreads = [predictor.domain_score(read_structure(p))["ensemble_spread_pct"] for p in cu_parents]
    assert limit["training_median_pct"] == pytest.approx(np.median(spreads), rel=1e-3)
    cu = random_complex(np.random.default_rng(9))
    cu.numbers[0] = 29
    score = predictor.domain_score(cu)
    assert score["spread_limit_pct"] == pytest.approx(limit["limit_pct"])
    path = root / "cu-k-feff" / "model_card.json"
    for limit_pct, level in ((1e9, None), (score["ensemble_spread_pct"] / 1.5, 1), (score["ensemble_spread_pct"] / 3, 2)):
        card = json.loads(path.read_text())
        card["trust_spread_limit"]["limit_pct"] = limit_pct
        path.write_text(json.dumps(card))
        edited = Predictor.load(root / "cu-k-feff").domain_score(cu)
        expected = score["level"] if level is None else max(level, score["level"]) if level == 1 else 2
        assert edited["spread_level"] == (0 if level is None else level)
        assert edited["level"] == expected and edited["label"] == ("within training data", "unusual", "far outside")[expected]
