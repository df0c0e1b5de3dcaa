"""Dashboard logic without a browser: events in, traces and messages out."""

import numpy as np
import pytest

from xanesviz.app import Dashboard
from xanesviz.examples import GALLERY


@pytest.fixture
def dashboard():
    return Dashboard()


def drag(dashboard, index, position, seq, final):
    dashboard._dragged({"new": {"index": index, "position": list(position), "final": final, "seq": seq}})


def test_starts_with_octahedral_example(dashboard):
    assert dashboard.name == next(iter(GALLERY))
    assert dashboard.atoms.get_chemical_symbols()[0] == "Fe"
    y = dashboard.panel.trace_values("predicted")
    assert y.shape == (226,) and np.all(np.isfinite(y))
    assert "Loaded" in dashboard.message.value


def test_model_line_names_the_shipped_members(dashboard):
    info = dashboard.model_info.value
    assert "5-network ensemble + nearest-neighbour member" in info and "kernel" not in info


def test_radial_importance_axis_ends_at_the_models_cutoff(dashboard):
    cutoff = dashboard.predictor.descriptor.r_max
    axis_range = dashboard.importance.figure.layout.xaxis2.range
    assert axis_range[1] == pytest.approx(cutoff + 0.2)
    assert max(dashboard.importance.figure.data[2].x) < cutoff
    assert max(dashboard.importance.figure.data[1].x) < cutoff  # neighbour histogram bins


def test_drag_repredicts_and_undo_restores(dashboard):
    before = dashboard.panel.trace_values("predicted").copy()
    start = dashboard.atoms.positions[1].copy()
    for k in range(1, 6):
        drag(dashboard, 1, start * (1 + 0.03 * k), seq=k, final=k == 5)
    after = dashboard.panel.trace_values("predicted")
    assert not np.allclose(after, before)
    assert len(dashboard.undo_stack) == 1  # one drag = one undo step
    dashboard.undo()
    np.testing.assert_allclose(dashboard.atoms.positions[1], start)
    np.testing.assert_allclose(dashboard.panel.trace_values("predicted"), before, rtol=1e-6)


def test_drag_onto_absorber_is_refused_and_state_kept(dashboard):
    before = dashboard.panel.trace_values("predicted").copy()
    start = dashboard.atoms.positions[1].copy()
    drag(dashboard, 1, [0.05, 0.0, 0.0], seq=1, final=True)
    assert "closer than 0.5" in dashboard.message.value and "error" in dashboard.message.value
    np.testing.assert_allclose(dashboard.atoms.positions[1], start)
    np.testing.assert_allclose(dashboard.panel.trace_values("predicted"), before)


def test_distance_slider_moves_selected_atom(dashboard):
    dashboard.select_atom(1)
    assert "from the absorber" in dashboard.atom_info.value
    dashboard.atom_distance.value = 2.5
    assert np.linalg.norm(dashboard.atoms.positions[1]) == pytest.approx(2.5, abs=1e-6)
    dashboard.reset()
    assert np.linalg.norm(dashboard.atoms.positions[1]) == pytest.approx(2.12, abs=1e-6)


def test_distance_slider_snapping_its_shown_value_moves_nothing(dashboard):
    start = dashboard.atoms.positions[1].copy()
    dragged = start / np.linalg.norm(start) * 2.2345
    drag(dashboard, 1, dragged, seq=1, final=True)
    spectrum = dashboard.panel.trace_values("predicted").copy()
    assert dashboard.atom_distance.value == 2.23  # shown on the slider's grid, so the browser has nothing to snap
    dashboard.atom_distance.value = 2.231  # within half a step: the grid, not a move
    np.testing.assert_allclose(dashboard.atoms.positions[1], dragged)
    np.testing.assert_array_equal(dashboard.panel.trace_values("predicted"), spectrum)
    dashboard.atom_distance.value = 2.24  # one step: a real move
    assert np.linalg.norm(dashboard.atoms.positions[1]) == pytest.approx(2.24, abs=1e-9)


def test_broadening_slider_changes_trace(dashboard):
    before = dashboard.panel.trace_values("predicted").copy()
    dashboard.controls.gaussian.value = 3.0
    after = dashboard.panel.trace_values("predicted")
    assert after.max() < before.max() and np.all(np.isfinite(after))
    dashboard.controls.reset()
    np.testing.assert_allclose(dashboard.panel.trace_values("predicted"), before)


def test_core_hole_default_from_xraydb(dashboard):
    dashboard.controls.use_core_hole.value = True
    assert dashboard.controls.gamma_hole.value == pytest.approx(1.25, abs=0.05)


def test_pin_and_difference(dashboard):
    dashboard._pin()
    drag(dashboard, 1, dashboard.atoms.positions[1] * 1.1, seq=1, final=True)
    dashboard.difference.value = True
    diff = dashboard.panel.trace_values("current − pinned")
    np.testing.assert_allclose(diff, dashboard.panel.trace_values("predicted") - dashboard.panel.trace_values("pinned"),
                               atol=1e-9)
    assert "reference_mu" in dashboard.spectrum_csv()


def test_export_csv_and_xyz(dashboard):
    text = dashboard.spectrum_csv()
    lines = text.splitlines()
    assert lines[0].startswith("#") and any("model:" in line for line in lines)
    assert "energy_eV,mu,std" in lines
    assert "xanesviz-download-csv" in dashboard.export.value and "xanesviz-download-xyz" in dashboard.export.value
    assert dashboard.structure_xyz().splitlines()[0].strip() == str(len(dashboard.atoms))


def test_bad_upload_keeps_state(dashboard, tmp_path):
    name_before = dashboard.name
    before = dashboard.panel.trace_values("predicted").copy()
    dashboard._uploaded({"new": [{"name": "junk.cif", "content": b"this is not a cif"}]})
    assert "junk.cif" in dashboard.message.value and "error" in dashboard.message.value
    no_fe = tmp_path / "water.xyz"
    no_fe.write_text("3\nwater\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n")
    assert not dashboard.load_file(no_fe)
    assert "no Fe" in dashboard.message.value or "Fe" in dashboard.message.value
    assert dashboard.name == name_before
    np.testing.assert_allclose(dashboard.panel.trace_values("predicted"), before)


def test_every_gallery_entry_loads(dashboard):
    for label in GALLERY:
        dashboard.gallery.value = label
        assert dashboard.name == label
        assert np.all(np.isfinite(dashboard.panel.trace_values("predicted")))


def test_periodic_structure_is_cut_for_display(dashboard):
    from ase.build import bulk

    assert dashboard.load_atoms(bulk("Fe", cubic=True).repeat(2), "bcc.cif")
    assert "within 8 Å" in dashboard.message.value
    assert not any(dashboard.atoms.pbc)


def test_sensitivity_colouring_waits_mid_drag_and_is_refreshed_on_release():
    board = Dashboard()
    board.colour_by_sensitivity.value = True
    calls = []
    compute = board.predictor.sensitivity
    board.predictor.sensitivity = lambda *args, **kwargs: (calls.append(1), compute(*args, **kwargs))[1]
    start = board.atoms.positions[1].copy()
    for step in range(1, 6):
        board.move_atom(1, start + [0.02 * step, 0, 0], final=False, from_viewer=True)
    assert calls == []  # mid-drag the colours wait until the atom rests (tests/test_live.py)
    board.move_atom(1, start + [0.12, 0, 0], final=True, from_viewer=True)
    assert len(calls) == 1  # the release always recomputes
    np.testing.assert_allclose(board.sensitivity_values, compute(board.atoms, window=board.window_range))


def test_values_set_from_python_land_on_the_sliders_grid():
    import ipywidgets as widgets

    from xanesviz.app.controls import BroadeningControls, on_slider_grid
    from xanesviz.data import FE_K_GRID

    distance = widgets.FloatSlider(min=0.5, max=8.0, step=0.01)
    assert [on_slider_grid(distance, v) for v in (2.2345, 9.0, 0.1)] == [2.23, 8.0, 0.5]
    controls = BroadeningControls(FE_K_GRID, core_hole_width=1.44)  # off the 0.05 eV grid
    controls.use_core_hole.value = True
    assert controls.gamma_hole.value == 1.45 and controls.broadening.gamma_hole == 1.45


def test_a_complex_of_another_metal_switches_to_its_edges_model_and_back(dashboard):
    from helpers import random_complex

    copper = random_complex(np.random.default_rng(3))
    copper.numbers[0] = 29
    assert dashboard.load_atoms(copper, "copper.xyz")
    assert dashboard.predictor.name == "cu-k-feff" and "Cu K edge, model cu-k-feff" in dashboard.message.value
    energy = dashboard.spectrum.energy
    assert 8960 < energy[0] < energy[-1] < 9045 and np.isfinite(dashboard.panel.trace_values("predicted")).all()
    assert dashboard.window.value == (energy[0], energy[-1]) and energy[0] <= dashboard.controls.e_fermi.value
    assert [label.split(" ")[0] for label, _ in dashboard.model_choice.options] == ["cu-k-feff"]
    assert "cu-k-feff" in dashboard.model_info.value and "FEFF10" in dashboard.model_info.value
    assert dashboard.move_atom(1, dashboard.atoms.positions[1] * 1.05)  # a drag predicts on the Cu edge
    assert np.isfinite(dashboard.sensitivity_values).all()
    assert "energy_eV" in dashboard.spectrum_csv() and "# edge: Cu K" in dashboard.spectrum_csv()
    dashboard.load_example(next(iter(GALLERY)))
    assert dashboard.predictor.name == "fe-k" and dashboard.spectrum.energy[0] == 7097.0


def test_the_model_picker_swaps_models_of_the_same_edge(dashboard):
    dashboard.load_example(next(iter(GALLERY)))
    before = dashboard.panel.trace_values("predicted").copy()
    feff = [value for label, value in dashboard.model_choice.options if label.startswith("fe-k-feff")]
    assert len(feff) == 1
    dashboard.model_choice.value = feff[0]
    assert dashboard.predictor.name == "fe-k-feff" and "Predicting with fe-k-feff" in dashboard.message.value
    assert dashboard.model_choice.tooltip.startswith("fe-k-feff: CV Δμ ") and "drags r " in dashboard.model_choice.tooltip
    assert not np.allclose(dashboard.panel.trace_values("predicted"), before)
    dashboard.model_choice.value = [v for label, v in dashboard.model_choice.options if label.startswith("fe-k ")][0]
    np.testing.assert_allclose(dashboard.panel.trace_values("predicted"), before, rtol=1e-6)


def test_a_complex_of_a_metal_without_a_model_is_refused_naming_its_edge(dashboard):
    from helpers import random_complex

    name_before, before = dashboard.name, dashboard.panel.trace_values("predicted").copy()
    scandium = random_complex(np.random.default_rng(3))
    scandium.numbers[0] = 21
    assert not dashboard.load_atoms(scandium, "scandium.xyz")
    assert "no model for the Sc K edge yet" in dashboard.message.value
    assert dashboard.name == name_before
    np.testing.assert_array_equal(dashboard.panel.trace_values("predicted"), before)


def _explanations(dashboard):
    """What the first explanations fill in: trust badge, sensitivities, importance, peaks."""
    return (dashboard.trust.value, dashboard.sensitivity_values,
            list(dashboard.importance.figure._widget_data[2].get("y") or []),
            list(dashboard.panel.figure.data[2].x or []), dashboard.panel.peak_table.value)


def _assert_explained(dashboard):
    expected_peaks = dashboard.spectrum.peaks()[0]
    assert len(expected_peaks) and list(dashboard.panel.figure.data[2].x) == expected_peaks.tolist()
    assert "xanesviz-peaks" in dashboard.panel.peak_table.value
    assert "xanesviz-trust-" in dashboard.trust.value
    assert dashboard.sensitivity_values is not None and np.all(np.isfinite(dashboard.sensitivity_values))
    assert any(dashboard.importance.figure._widget_data[2]["y"])


def _assert_not_explained(state):
    trust, sensitivities, radial, peaks, table = state
    assert trust == "" and sensitivities is None and not any(radial)
    assert peaks == [] and table == ""  # the peaks too (the peak finder's import waits)


def test_in_a_kernel_the_first_explanations_wait_for_the_page_to_show_the_structure():
    """With an event loop running (a kernel started for a page), the first structure's trust
    badge, peaks, importance and atom colours wait until the page's 3D view reports its atoms
    draggable (the kernel stays free to answer the page meanwhile), then come at once; the
    importance figure's initial state (what a page drawn later starts from) includes them.
    Without a loop (a script, a test) they come at once."""
    import asyncio

    async def build_then_load_view():
        dashboard = Dashboard()
        at_build = _explanations(dashboard)
        await asyncio.sleep(0.8)
        before_view = _explanations(dashboard)
        dashboard.viewer.drag_ready = True  # what the page sets once its atoms can be dragged
        await asyncio.sleep(0.8)
        return dashboard, at_build, before_view

    dashboard, at_build, before_view = asyncio.run(build_then_load_view())
    _assert_not_explained(at_build)  # not yet, the cell returns first
    _assert_not_explained(before_view)  # the page has not shown the structure yet
    _assert_explained(dashboard)
    plain = Dashboard()
    assert "xanesviz-trust-" in plain.trust.value and plain.sensitivity_values is not None
    assert list(plain.panel.figure.data[2].x) == plain.spectrum.peaks()[0].tolist()


def test_a_page_that_never_shows_gets_the_first_explanations_after_the_wait(monkeypatch):
    import asyncio

    from xanesviz.app import dashboard as dashboard_module

    monkeypatch.setattr(dashboard_module, "FIRST_EXPLAIN_PAGE_WAIT_S", 1.0)

    async def build_then_wait():
        dashboard = Dashboard()
        await asyncio.sleep(0.6)
        early = _explanations(dashboard)
        await asyncio.sleep(1.0)
        return dashboard, early

    dashboard, early = asyncio.run(build_then_wait())
    _assert_not_explained(early)
    _assert_explained(dashboard)


def test_a_pool_kernel_explains_at_once_unless_a_visitor_is_already_waiting(monkeypatch):
    """A pre-heated kernel nobody has asked for explains FIRST_EXPLAIN_DELAY_S after its cell
    returns, so a later visitor finds everything done; one handed out before that waits for
    its visitor's page to show the structure."""
    import asyncio

    from xanesviz.app import dashboard as dashboard_module

    hand_outs = []
    monkeypatch.setattr(dashboard_module, "on_hand_out", lambda callback: hand_outs.append(callback) or object())

    async def build(handed_out_at: float | None):
        dashboard = Dashboard()
        if handed_out_at is not None:
            await asyncio.sleep(handed_out_at)
            hand_outs[-1]()
        await asyncio.sleep(dashboard_module.FIRST_EXPLAIN_DELAY_S + 0.4)
        return dashboard

    waiting_in_pool = asyncio.run(build(None))
    _assert_explained(waiting_in_pool)
    handed_out_early = asyncio.run(build(0.1))
    _assert_not_explained(_explanations(handed_out_early))
    assert handed_out_early._first_explain.pending


def test_building_the_dashboard_in_a_kernel_leaves_the_peak_finder_for_after_the_first_paint():
    """scipy.signal (and the scipy.stats it brings, 0.7 s) is imported after the cell returns."""
    import subprocess
    import sys

    code = ("import asyncio, sys\n"
            "from xanesviz.app import Dashboard\n"
            "async def main():\n"
            "    dashboard = Dashboard()\n"
            "    before = 'scipy.signal' in sys.modules\n"
            "    dashboard.viewer.drag_ready = True\n"
            "    await asyncio.sleep(1.0)\n"
            "    print(before, 'scipy.signal' in sys.modules)\n"
            "asyncio.run(main())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert done.stdout.split()[-2:] == ["False", "True"], done.stdout + done.stderr


def test_the_first_paint_in_a_kernel_imports_neither_scipy_nor_ase_io():
    """Importing the app and building the first paint need neither scipy nor ase.io (0.4 s each
    of a cold start); the download links, whose xyz writer is ase.io's, follow with the
    explanations."""
    import subprocess
    import sys

    code = ("import asyncio, sys\n"
            "from xanesviz.app import Dashboard\n"
            "async def main():\n"
            "    dashboard = Dashboard()\n"
            "    print([m for m in ('scipy', 'ase.io') if m in sys.modules], 'xyz' in dashboard.export.value)\n"
            "    dashboard.viewer.drag_ready = True\n"
            "    await asyncio.sleep(1.0)\n"
            "    print('ase.io' in sys.modules, 'edited.xyz' in dashboard.export.value)\n"
            "asyncio.run(main())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    lines = done.stdout.strip().splitlines()
    assert lines[-2:] == ["[] False", "True True"], done.stdout + done.stderr


def test_the_viewer_gets_the_pdb_text_ase_io_writes():
    """The viewer's structure text is ase.io's PDB, written without importing ase.io; a periodic
    structure stays in its own frame (ase.io would turn its cell to standard orientation)."""
    import io

    import ase.io
    from ase.build import bulk, molecule

    from xanesviz.app.viewer import pdb_text

    complex_ = molecule("CH3CH2OH")
    written = io.StringIO()
    ase.io.write(written, complex_, format="proteindatabank")
    assert pdb_text(complex_) == written.getvalue()
    crystal = bulk("Fe", "bcc", a=2.87, cubic=True)
    crystal.rotate(30, "z", rotate_cell=True)
    shown = np.array([[float(line[30 + 8 * k:38 + 8 * k]) for k in range(3)]
                      for line in pdb_text(crystal).splitlines() if line.startswith("ATOM")])
    np.testing.assert_allclose(shown, crystal.positions, atol=1e-3)
