"""The Predictor facade: what the model is (from its card), exact gradients, one-line refusals."""

import numpy as np
import pytest
from ase import Atoms

from xanesviz import Predictor
from xanesviz.errors import StructureError
from xanesviz.examples import FE_EXAMPLES as GALLERY  # the Fe model's complexes


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load()


def test_edge_grid_and_windows_come_from_the_card(predictor):
    card = predictor.card
    assert predictor.element == card["edge"]["element"] == "Fe" and predictor.edge == "K"
    assert predictor.energy[0] == card["energy_grid"]["start_eV"] and len(predictor.energy) == card["energy_grid"]["n_points"]
    assert predictor.edge_energy == card["edge"]["edge_energy_eV"] and predictor.fermi_level == card["edge"]["fermi_level_eV"]
    windows = predictor.default_windows
    assert windows["pre-edge"] == (predictor.energy[0], predictor.edge_energy)
    assert windows["post-edge"][1] == predictor.energy[-1]
    assert predictor.broadening(gamma_hole=1.0).e_fermi == predictor.fermi_level
    assert "1.275" in predictor.target_broadening


def test_an_edited_card_moves_the_edge_and_fermi_level(tmp_path, predictor):
    import json
    import shutil

    shutil.copytree(predictor.bundle.path, tmp_path / "b")
    card = json.loads((tmp_path / "b" / "model_card.json").read_text())
    card["edge"] = {"element": "Fe", "edge": "K"}  # an older card: xraydb's edge, the Fermi level at the edge
    (tmp_path / "b" / "model_card.json").write_text(json.dumps(card))
    older = Predictor.load(tmp_path / "b")
    assert older.edge_energy == pytest.approx(7112.0, abs=1.0) and older.fermi_level == older.edge_energy


def test_an_absorber_of_another_element_is_refused_in_one_line(predictor):
    atoms = GALLERY["[FeCl4]- (tetrahedral)"]()
    with pytest.raises(StructureError) as info:
        predictor.predict(atoms, absorber="Cl")
    assert "absorber" in str(info.value) and "Cl" in str(info.value) and "Fe K" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(StructureError, match="no Fe atom"):
        predictor.predict(Atoms("CuO", positions=[[0, 0, 0], [0, 0, 1.9]]))
    with pytest.raises(StructureError, match="is Cl"):
        predictor.predict(predictor.descriptor.cluster(atoms, absorber=1))


# On the rattled Fe(CO)5, one network has hidden units within 1e-4 of their ReLU kink, so its
# float32 finite differences over 3e-4 Å steps cross them (1-2 % off; in float64 with 1e-5 Å steps
# they match the exact Jacobian to 1e-9): there only the ensemble's gradient is compared.
@pytest.mark.parametrize("label, each_network", [("[Fe(H2O)6]2+ (octahedral)", True),
                                                 ("Fe(CO)5 (trigonal bipyramidal)", False)])
def test_gradient_equals_central_differences(predictor, label, each_network):
    atoms = GALLERY[label]()
    atoms.rattle(0.02, seed=3)
    atoms.positions += [0.3, -0.2, 0.1]  # the absorber off the origin
    result = predictor.gradient(atoms, members=True)
    np.testing.assert_allclose(result["mu"], predictor.predict(atoms).mu, rtol=1e-6, atol=1e-7)
    assert result["d_mu"].shape == (len(predictor.energy), len(atoms), 3)
    assert result["networks_d_mu"].shape == (predictor.n_networks, len(predictor.energy), len(atoms), 3)
    np.testing.assert_allclose(result["networks_mu"].std(axis=0), predictor.predict(atoms).std, rtol=1e-4, atol=1e-7)
    h = 3e-4  # float32 networks: smaller steps drown in rounding, larger ones cross ReLU kinks (1 % errors at 1e-3)
    for i in (0, 1, len(atoms) - 1):  # the absorber, a first-shell atom, an outer one
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, c] += h
            minus.positions[i, c] -= h
            numeric = (predictor.predict(plus).mu - predictor.predict(minus).mu) / (2 * h)
            np.testing.assert_allclose(result["d_mu"][:, i, c], numeric, rtol=2e-2, atol=5e-3 * np.abs(result["d_mu"]).max())
            if not each_network:
                continue
            X = np.stack([predictor.features(plus), predictor.features(atoms), predictor.features(minus)])
            networks = predictor.ensemble.forward(predictor.ensemble.standardise(X)).networks  # (m, 3, E)
            # A single network's ReLU unit can sit at its kink here (the mean smooths that over the
            # networks): there the exact derivative is one of the one-sided slopes, so it must
            # match the central difference or one of those.
            exact, scale = result["networks_d_mu"][:, :, i, c], np.abs(result["networks_d_mu"]).max()
            errors = [np.abs(exact - slope).max(axis=1) for slope in
                      ((networks[:, 0] - networks[:, 2]) / (2 * h), (networks[:, 0] - networks[:, 1]) / h,
                       (networks[:, 1] - networks[:, 2]) / h)]
            assert np.all(np.min(errors, axis=0) < 5e-3 * scale), (i, c, np.array(errors) / scale)


def test_importance_by_descriptor_shape(predictor):
    whole = predictor.importance()
    edge = predictor.importance(predictor.default_windows["edge"])
    assert whole["g2"].shape == whole["g2_centres"].shape == (predictor.descriptor.n_g2,)
    d = predictor.descriptor
    assert len(whole["g4"]) == len(whole["g4_labels"]) == len(d.lambdas) * len(d.zetas) == 12  # λ ±1, ζ 1 to 32
    assert not np.allclose(whole["g2"], edge["g2"])
