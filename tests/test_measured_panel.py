"""The dashboard's measured-spectrum panel without a browser: upload, overlay, live figures, export."""

import numpy as np
import pytest

from xanesviz.app import Dashboard


@pytest.fixture(scope="module")
def dashboard():
    return Dashboard()


def measured_xdi(dashboard, shift=3.0, element="Fe") -> bytes:
    """The dashboard's own prediction moved by ``shift`` eV, extended flat before and after the
    window and written as an XDI file of i0 and itrans (itrans first)."""
    spectrum = dashboard.raw_spectrum
    energy = np.concatenate([np.arange(6950.0, spectrum.energy[0], 5.0), spectrum.energy,
                             np.arange(spectrum.energy[-1] + 2.0, 7400.0, 2.0)]) + shift
    mu = np.interp(energy - shift, spectrum.energy, spectrum.mu)
    i0 = np.full_like(energy, 1e5)
    itrans = i0 * np.exp(-(0.3 + 2.0 * mu))
    lines = ["# XDI/1.0", "# Column.1: energy eV", "# Column.2: itrans", "# Column.3: i0",
             f"# Element.symbol: {element}", "# Element.edge: K", "# ///", "#----", "# energy itrans i0"]
    lines += [f"{e:.4f} {t:.6f} {i:.6f}" for e, t, i in zip(energy, itrans, i0)]
    return ("\n".join(lines) + "\n").encode()


def upload(dashboard, name, content):
    dashboard.measured._uploaded({"new": ({"name": name, "content": memoryview(content)},)})


def drag(dashboard, index, position, seq, final):
    dashboard._dragged({"new": {"index": index, "position": list(position), "final": final, "seq": seq}})


def test_upload_draws_the_measurement_over_the_aligned_prediction(dashboard):
    upload(dashboard, "mine.xdi", measured_xdi(dashboard, shift=3.0))
    panel = dashboard.measured
    assert "Measured mine.xdi" in dashboard.message.value and "ln(i0/itrans)" in dashboard.message.value
    assert panel.result is not None and panel.result.shift_eV == pytest.approx(3.0, abs=0.3)
    assert panel.result.pearson > 0.98
    measured = dashboard.panel.trace_values("measured (aligned)")
    residual = dashboard.panel.trace_values("measured − predicted")
    energy = np.asarray(dashboard.panel.figure.data[5].x, float)
    predicted = np.interp(energy, dashboard.spectrum.energy, dashboard.spectrum.mu)
    assert len(measured) > 200 and np.all(np.isfinite(measured))
    np.testing.assert_allclose(residual, measured - predicted, atol=1e-9)
    # drawn on the prediction's scale: the measurement made from this prediction lies on it
    assert np.abs(residual).max() < 0.1 * predicted.max()
    assert dashboard.panel.figure.layout.yaxis2.visible
    for word in ("R-factor", "Pearson", "Δμ", "shift", "E0 measured", "E0 predicted"):
        assert word in panel.figures.value
    assert not panel.align_button.disabled and not panel.fit_button.disabled


def test_figures_follow_a_drag_with_the_shift_held_and_align_refits(dashboard):
    upload(dashboard, "mine.xdi", measured_xdi(dashboard, shift=3.0))
    panel = dashboard.measured
    before = panel.result
    start = dashboard.atoms.positions[1].copy()
    for k in range(1, 4):
        drag(dashboard, 1, start * (1 + 0.04 * k), seq=100 + k, final=k == 3)
    after = panel.result
    assert after.shift_eV == before.shift_eV  # held, so moving the edge by dragging shows
    assert after.r_factor > before.r_factor  # dragged away from the structure the "measurement" came from
    assert f"{after.r_factor:.4f}" in panel.figures.value
    held = after.r_factor
    panel.align_button.click()
    assert panel.result.r_factor <= held + 1e-12 and "Aligned" in dashboard.message.value
    assert abs(panel.result.shift_eV - before.shift_eV) > 0.1  # the drag moved the edge; the shift followed it
    dashboard.undo()  # back to the structure the "measurement" came from: aligning again finds the first shift
    panel.align_button.click()
    assert panel.result.shift_eV == pytest.approx(before.shift_eV, abs=0.02)
    assert panel.result.r_factor == pytest.approx(before.r_factor, rel=1e-6)


def test_mid_drag_the_prediction_and_residual_go_to_the_page_as_one_traces_only_redraw(dashboard):
    upload(dashboard, "mine.xdi", measured_xdi(dashboard, shift=3.0))
    figure, sent = dashboard.panel.figure, []
    figure.send = lambda content, buffers=None: sent.append(content)
    try:
        start = dashboard.atoms.positions[1].copy()
        drag(dashboard, 1, start * 1.03, seq=200, final=False)
        assert len(sent) == 1 and sent[0]["options"]["frame"]["redraw"] is False
        drawn = dict(zip(sent[0]["traces"], sent[0]["data"]))
        assert 1 in drawn and 6 in drawn  # the prediction and the residual, in one message
        np.testing.assert_allclose(drawn[6]["y"], dashboard.panel.trace_values("measured − predicted"))
        drag(dashboard, 1, start * 1.03, seq=201, final=True)
    finally:
        del figure.send


def test_fit_broadening_sets_the_sliders_and_lowers_the_misfit(dashboard):
    upload(dashboard, "mine.xdi", measured_xdi(dashboard, shift=1.0))
    dashboard.controls.reset()
    dashboard.controls.gaussian.value = 4.0  # the shown prediction now broader than the "measurement"
    worse = dashboard.measured.result.r_factor
    dashboard.measured.fit_button.click()
    assert dashboard.controls.gaussian.value < 4.0
    assert dashboard.measured.result.r_factor < worse
    assert "Fitted broadening" in dashboard.message.value
    dashboard.controls.reset()


def test_csv_export_has_the_aligned_measurement_and_residual(dashboard):
    upload(dashboard, "mine.xdi", measured_xdi(dashboard, shift=2.0))
    text = dashboard.spectrum_csv()
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body[0].endswith("measured_aligned_norm,predicted_aligned_norm,residual")
    rows = np.array([[float(v) for v in line.split(",")] for line in body[1:]])
    assert rows.shape[0] == 226 and np.all(np.isfinite(rows))
    np.testing.assert_allclose(rows[:, -3] - rows[:, -2], rows[:, -1], atol=1e-5)
    assert "comparison: shift" in text and "measured: mine.xdi" in text
    assert "measured_aligned_norm" in dashboard.export.value or "base64" in dashboard.export.value


def test_bad_files_keep_the_previous_measurement(dashboard):
    upload(dashboard, "mine.xdi", measured_xdi(dashboard, shift=2.0))
    kept = dashboard.measured.result
    for name, content in (("broken.dat", b"not a spectrum\n"), ("three.dat", b"# energy a b\n1 2 3\n2 3 4\n"),
                          ("copper.xdi", measured_xdi(dashboard, shift=1900.0, element="Cu"))):
        upload(dashboard, name, content)
        assert "xanesviz-message-error" in dashboard.message.value and name in dashboard.message.value
        assert dashboard.measured.measured.source == "mine.xdi" and dashboard.measured.result is kept


def test_element_mismatch_is_shown_with_a_warning(dashboard):
    upload(dashboard, "cobalt.xdi", measured_xdi(dashboard, shift=2.0, element="Co"))
    assert "xanesviz-message-warning" in dashboard.message.value and "Co spectrum" in dashboard.message.value
    assert "Co spectrum" in dashboard.measured.figures.value
    dashboard.measured.remove_button.click()
    assert dashboard.measured.result is None and not dashboard.panel.figure.data[5].visible
    assert "measured_aligned_norm" not in dashboard.spectrum_csv()
