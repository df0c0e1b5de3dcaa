"""The dashboard's Refine button without a browser: offered with a measurement, animated, one undo
step, stoppable, and bad states as one line."""

import numpy as np
import pytest
from conftest import make_octahedron

from test_measured_panel import measured_xdi, upload
from xanesviz.app import Dashboard
from xanesviz.refine import ligand_moves


def mean_bond(atoms):
    return float(np.linalg.norm(atoms.positions[1:7] - atoms.positions[0], axis=1).mean())


@pytest.fixture
def dashboard():
    truth = make_octahedron(2.02)
    truth.rattle(0.04, seed=3)
    board = Dashboard(atoms=truth, name="octahedron")
    content = measured_xdi(board, shift=2.0)  # the measurement: this structure's own prediction
    start = truth.copy()
    start.positions = ligand_moves(truth, 0, breathing=True).positions(truth.positions, np.array([0.1]))
    board.load_atoms(start, "octahedron, first shell 0.1 Å too long")
    upload(board, "truth.xdi", content)
    board.truth = truth
    return board


def test_refine_moves_toward_the_measurement_as_one_undo_step(dashboard):
    panel = dashboard.refine
    assert not panel.button.disabled  # a measurement is loaded
    frames = []
    step = dashboard._refine_step
    dashboard.refine.on_step = lambda positions: (frames.append(positions), step(positions))
    start = dashboard.atoms.positions.copy()
    depth = len(dashboard.undo_stack)
    r_before = dashboard.measured.result.r_factor
    panel.mode.value = "first shell together (breathing)"
    assert panel.start(wait=True)
    result = panel.result
    assert not result.stopped and frames, "no animation frame was drawn"
    assert abs(mean_bond(dashboard.atoms) - mean_bond(dashboard.truth)) < 0.02
    assert abs(mean_bond(dashboard.atoms) - result.mean_after) < 1e-9
    assert dashboard.measured.result.r_factor < 0.2 * r_before  # the figures follow the refined structure
    assert "Refined" in panel.status.value and panel.table.value.count("<tr>") == 8  # header, 6 bonds, mean
    assert "±" in panel.table.value
    assert len(dashboard.undo_stack) == depth + 1
    dashboard.undo()
    assert np.array_equal(dashboard.atoms.positions, start)


def test_stop_keeps_the_best_structure_so_far(dashboard):
    panel = dashboard.refine
    panel.on_step = lambda positions: panel.stop()
    assert panel.start(wait=True)
    assert panel.result.stopped and "Stopped" in panel.status.value
    assert panel.result.after.r_factor <= panel.result.before.r_factor + 1e-9
    assert len(dashboard.undo_stack) == 1 and np.all(np.isfinite(dashboard.atoms.positions))


def test_refine_needs_a_measurement_and_says_so(dashboard):
    dashboard.measured.remove()
    panel = dashboard.refine
    assert panel.button.disabled
    assert not panel.start(wait=True)
    assert "Upload a measured spectrum first" in panel.status.value and "refine-error" in panel.status.value


def test_a_failing_refinement_is_one_line_and_loses_nothing(dashboard):
    from xanesviz.errors import XanesvizError

    def broken(*args, **kwargs):
        raise XanesvizError("refinement: the model could not be evaluated")

    before = dashboard.atoms.positions.copy()
    dashboard.refine.refiner = broken
    assert dashboard.refine.start(wait=True)
    assert "could not be evaluated" in dashboard.refine.status.value
    assert np.array_equal(dashboard.atoms.positions, before) and not dashboard.refine.button.disabled
