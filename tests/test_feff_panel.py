"""'Compute with FEFF10' in the dashboard (no browser): a real run in the background while dragging,
the aligned trace, its label after an edit, the cache, pinning, and cancel."""

import numpy as np
import pytest

from xanesviz.app import Dashboard
from xanesviz.feff import SETTINGS


def drag(dashboard, index, position, seq, final):
    dashboard._dragged({"new": {"index": index, "position": list(position), "final": final, "seq": seq}})


def feff_trace(dashboard):
    return next(t for t in dashboard.panel.figure.data if t.name.startswith("FEFF10"))


@pytest.fixture
def dashboard():
    board = Dashboard()
    board.feff.settings = SETTINGS["fast"]  # seconds instead of minutes; same code path
    return board


def test_feff_runs_in_the_background_while_dragging_and_is_cached(dashboard):
    assert dashboard.feff.start()
    assert dashboard.feff.running and dashboard.feff.button.disabled
    before = dashboard.panel.trace_values("predicted").copy()
    start = dashboard.atoms.positions[1].copy()
    drag(dashboard, 1, start * 1.05, seq=1, final=True)  # handled while FEFF runs: nothing waits for it
    assert dashboard.feff.running
    assert not np.allclose(dashboard.panel.trace_values("predicted"), before)
    dashboard.feff.thread.join(600)
    assert "done" in dashboard.feff.status.value, dashboard.feff.status.value
    trace = feff_trace(dashboard)
    assert trace.visible and trace.name == "FEFF10, ab initio (earlier geometry)"  # computed before the drag
    values = np.asarray(trace.y, float)
    assert values.shape == (226,) and np.all(np.isfinite(values))
    assert np.corrcoef(values, before)[0, 1] > 0.5  # aligned onto the prediction of its own geometry
    note = dashboard.panel.figure.layout.annotations[0].text
    assert "shifted" in note and "scaled" in note and "FDMNES" in note
    dashboard.undo()
    assert feff_trace(dashboard).name == "FEFF10, ab initio"
    # pinning the FEFF result works like pinning a prediction
    dashboard.feff.pin_button.click()
    np.testing.assert_allclose(dashboard.panel.trace_values("pinned"), values)
    dashboard.difference.value = True
    diff = dashboard.panel.trace_values("current − pinned")
    np.testing.assert_allclose(diff, dashboard.panel.trace_values("predicted") - values, atol=1e-9)
    # the same geometry again comes from the cache, without a run
    assert dashboard.feff.start() and not dashboard.feff.running and "cache" in dashboard.feff.status.value
    # a new structure hides the old result
    dashboard.load_example(list(dashboard.gallery.options)[1])
    assert not feff_trace(dashboard).visible and dashboard.feff.pin_button.disabled


def test_cancel_stops_the_run_and_draws_nothing(dashboard):
    dashboard.feff.start()
    dashboard.feff.cancel()
    dashboard.feff.thread.join(120)
    assert not dashboard.feff.running and "cancelled" in dashboard.feff.status.value
    assert not feff_trace(dashboard).visible and not dashboard.feff.button.disabled


def test_feff_for_a_copper_complex_is_drawn_on_the_cu_edge_against_the_feff_trained_model(dashboard):
    dashboard.load_example("[CuCl4]2- (tetrahedral)")
    assert dashboard.predictor.name == "cu-k-feff"
    assert dashboard.feff.start()
    dashboard.feff.thread.join(600)
    assert "done" in dashboard.feff.status.value, dashboard.feff.status.value
    trace = feff_trace(dashboard)
    values = np.asarray(trace.y, float)
    assert trace.visible and values.shape == (226,) and np.all(np.isfinite(values))
    np.testing.assert_allclose(np.asarray(trace.x, float), dashboard.predictor.energy)  # the Cu K grid
    note = dashboard.panel.figure.layout.annotations[0].text
    assert "the model learned FEFF10 spectra" in note and "FDMNES" not in note
