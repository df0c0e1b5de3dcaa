"""Refinement against a spectrum: the gradients it uses, recovery of a known geometry, restraints,
stopping, error bars, the command line and bad input."""

import json

import ase.io
import numpy as np
import pytest
from ase import Atoms
from conftest import make_octahedron

from xanesviz.cli import main
from xanesviz.compare import calculated_reference, compare
from xanesviz.errors import StructureError, XanesvizError
from xanesviz.predictor import Predictor
from xanesviz.refine import WEAK_BONDS_NOTE, _Problem, atom_moves, ligand_moves, refine


@pytest.fixture(scope="module")
def predictor():
    return Predictor.load()


@pytest.fixture(scope="module")
def truth():
    """A slightly irregular Fe(OH)6 octahedron: not a training structure, so the model is smooth there."""
    atoms = make_octahedron(2.02)
    atoms.rattle(0.04, seed=3)
    return atoms


@pytest.fixture(scope="module")
def reference(predictor, truth):
    """The model's own spectrum of ``truth``, as the measurement: refinement can reach R-factor 0."""
    spectrum = predictor.predict(truth)
    return calculated_reference(spectrum.energy, spectrum.mu, "Fe", "model spectrum of the true octahedron")


def breathed(atoms, amount):
    moved = atoms.copy()
    moved.positions = ligand_moves(atoms, 0, breathing=True).positions(atoms.positions, np.array([amount]))
    return moved


def first_shell_mean(atoms):
    return float(np.linalg.norm(atoms.positions[1:7] - atoms.positions[0], axis=1).mean())


def test_ligand_moves_change_bond_lengths_one_for_one(truth):
    moves = ligand_moves(truth, 0)
    assert len(moves) == 6  # six OH ligands, each moved along its own bond
    for k in range(6):
        p = np.zeros(6)
        p[k] = 0.1
        moved = moves.positions(truth.positions, p)
        bond = np.linalg.norm(moved[1:7] - moved[0], axis=1) - np.linalg.norm(truth.positions[1:7] - truth.positions[0], axis=1)
        assert bond[k] == pytest.approx(0.1, abs=2e-3)
        assert np.abs(np.delete(bond, k)).max() < 1e-12
        oh = np.linalg.norm(moved[7 + k] - moved[1 + k])  # the ligand moves rigidly
        assert oh == pytest.approx(np.linalg.norm(truth.positions[7 + k] - truth.positions[1 + k]))


def test_residual_jacobian_matches_finite_differences(predictor, truth, reference):
    start = breathed(truth, 0.06)
    problem = _Problem(predictor, start, 0, reference, predictor.broadening(gamma_hole=0.5), ligand_moves(start, 0))
    p, shift = np.array([0.01, -0.02, 0.0, 0.015, 0.0, -0.01]), 0.3
    problem.start_round(p, shift)
    q = np.append(p, shift)
    _, jac = problem.residuals(q)
    for k in (0, 3, 6):  # two ligands and the shift
        step = np.zeros_like(q)
        step[k] = 1e-4
        numeric = (problem.residuals(q + step)[0] - problem.residuals(q - step)[0]) / 2e-4
        # the model runs in float32, so finite differences carry ~0.5 % noise
        assert np.linalg.norm(jac[:, k] - numeric) < 0.02 * np.linalg.norm(numeric)
        assert np.linalg.norm(numeric) > 0


@pytest.mark.parametrize("amount", [0.1, -0.1])
def test_breathing_recovers_the_first_shell(predictor, truth, reference, amount):
    start = breathed(truth, amount)
    result = refine(predictor, start, reference, mode="breathing", error_bars=False)
    assert abs(result.mean_before - first_shell_mean(truth)) == pytest.approx(0.1, abs=2e-3)
    assert abs(result.mean_after - first_shell_mean(truth)) < 0.01
    assert result.after.r_factor < 0.05 * result.before.r_factor
    assert list(result.atoms.numbers) == list(start.numbers)  # same atoms, same order
    assert result.distances_spread is None and result.notes == ()


def test_ligands_with_error_bars(predictor, truth, reference):
    result = refine(predictor, breathed(truth, 0.1), reference)
    errors = result.distances_after - np.linalg.norm(truth.positions[1:7] - truth.positions[0], axis=1)
    assert np.abs(errors).max() < 0.03
    assert result.network_distances.shape == (predictor.n_networks, 6)
    assert np.all(np.isfinite(result.distances_spread)) and np.all(result.distances_spread > 0)
    assert result.mean_spread > 0 and WEAK_BONDS_NOTE in result.notes
    rows = result.bonds()
    assert [r["donor"] for r in rows] == [1, 2, 3, 4, 5, 6] and all(r["element"] == "O" for r in rows)
    assert rows[0]["change"] == pytest.approx(rows[0]["after"] - rows[0]["before"], abs=2e-4)
    summary = json.loads(json.dumps(result.summary()))
    assert summary["misfit"]["after"]["r_factor"] < summary["misfit"]["before"]["r_factor"]


def test_atoms_mode_restraints_hold_the_other_bonds(predictor, truth, reference):
    start = truth.copy()
    start.positions[[1, 7]] += 0.12 * (truth.positions[1] - truth.positions[0]) / np.linalg.norm(truth.positions[1])
    result = refine(predictor, start, reference, mode="atoms", atoms_to_move=[1, 7], error_bars=False)
    assert len(atom_moves(start, [1, 7])) == 6
    assert result.after.r_factor < result.before.r_factor
    oh = np.linalg.norm(result.atoms.positions[7] - result.atoms.positions[1])
    assert oh == pytest.approx(np.linalg.norm(start.positions[7] - start.positions[1]), abs=0.03)
    unmoved = np.setdiff1d(np.arange(len(start)), [1, 7])
    assert np.array_equal(result.atoms.positions[unmoved], start.positions[unmoved])
    radius = refine(predictor, start, reference, mode="atoms", radius=2.2, error_bars=False, max_evaluations=3)
    assert np.array_equal(radius.atoms.positions[7:], start.positions[7:])  # the H atoms lie beyond 2.2 Å


def test_callback_sees_each_step_and_can_stop(predictor, truth, reference):
    seen = []

    def stop_after_three(positions, info):
        seen.append((positions.copy(), info["r_factor"]))
        return len(seen) >= 3

    start = breathed(truth, 0.1)
    result = refine(predictor, start, reference, callback=stop_after_three)
    assert result.stopped and len(seen) == 3 and result.distances_spread is None
    assert all(np.all(np.isfinite(p)) and p.shape == (13, 3) for p, _ in seen)
    assert result.after.r_factor <= result.before.r_factor + 1e-9  # the best structure so far is kept
    assert compare(reference, predictor.predict(result.atoms)).r_factor == pytest.approx(result.after.r_factor)


def test_bad_input_is_one_line(predictor, truth, reference):
    periodic = truth.copy()
    periodic.cell, periodic.pbc = [10, 10, 10], True
    with pytest.raises(StructureError, match="periodic"):
        refine(predictor, periodic, reference)
    with pytest.raises(XanesvizError, match="unknown refinement mode"):
        refine(predictor, truth, reference, mode="bonds")
    with pytest.raises(XanesvizError, match="needs the atoms"):
        refine(predictor, truth, reference, mode="atoms")
    with pytest.raises(StructureError, match="absorber"):
        refine(predictor, Atoms("CO", positions=[[0, 0, 0], [1.2, 0, 0]]), reference)
    lone = Atoms("FeO", positions=[[0, 0, 0], [6.0, 0, 0]])
    with pytest.raises(StructureError, match="no first-shell neighbours"):
        refine(predictor, lone, reference)
    far = calculated_reference(reference.energy + 900, reference.mu, "Fe", "far away")
    with pytest.raises(XanesvizError) as info:
        refine(predictor, truth, far)
    assert "\n" not in str(info.value)


def padded(energy, mu):
    """A calculated spectrum padded flat on both sides, so larch's default normalisation applies."""
    step = energy[1] - energy[0]
    before = np.arange(energy[0] - 80, energy[0] - step / 2, step)
    after = np.arange(energy[-1] + step, energy[-1] + 150, step)
    return (np.concatenate([before, energy, after]),
            np.concatenate([np.full(len(before), mu[0]), mu, np.full(len(after), mu[-15:].mean())]))


def test_cli_refine_writes_the_structure_and_json(tmp_path, predictor, truth, capsys):
    spectrum = predictor.predict(truth)
    energy, mu = padded(spectrum.energy, spectrum.mu)
    measured = tmp_path / "measured.dat"
    np.savetxt(measured, np.column_stack([energy, mu]), header="energy mu")
    start = tmp_path / "start.xyz"
    ase.io.write(start, breathed(truth, 0.1))
    out = tmp_path / "refined.xyz"
    assert main(["refine", str(start), str(measured), "-o", str(out), "--mode", "breathing", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    refined = ase.io.read(out)
    assert refined.get_chemical_symbols() == truth.get_chemical_symbols()
    assert report["misfit"]["after"]["r_factor"] < report["misfit"]["before"]["r_factor"]
    assert report["mean_distance"]["after"] < report["mean_distance"]["before"]
    assert report["mean_distance"]["spread"] > 0 and len(report["bonds"]) == 6 and report["evaluations"] > 0
    assert first_shell_mean(refined) == pytest.approx(report["mean_distance"]["after"], abs=1e-3)


@pytest.mark.parametrize("content, args, message", [
    ("not a spectrum\n", [], "measured.dat"),
    (None, ["--atoms", "x,y"], "--atoms"),
])
def test_cli_refine_bad_input_one_line(tmp_path, truth, capsys, content, args, message):
    measured = tmp_path / "measured.dat"
    measured.write_text(content if content is not None else "\n".join(f"{7000 + i} {i}" for i in range(200)))
    start = tmp_path / "start.xyz"
    ase.io.write(start, truth)
    assert main(["refine", str(start), str(measured), "-o", str(tmp_path / "out.xyz"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out.xyz").exists()
