"""End to end in a real browser: upload a real XDI file, see the overlay and the figures, drag an
atom and see the figures change, align. Uses test_browser.py's server, browser and page fixtures."""

import time
from pathlib import Path

import pytest

from test_browser import browser, find_atom_pixel, page, voila_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
EXPERIMENT = Path(__file__).resolve().parents[1].parent / "shared/data/experiment"
PLOT = ".xanesviz-spectrum .js-plotly-plot"
MEASURED = f"document.querySelector('{PLOT}').data.find(t => t.name === 'measured (aligned)')"


def figure_text(page, name: str) -> str:
    return page.inner_text(f".xanesviz-measured-figures .xanesviz-figure-{name}").strip()


def test_upload_real_xdi_overlay_and_figures_follow_a_drag(page):
    path = EXPERIMENT / "Fe" / "FeO_rt_01.xdi"
    if not path.is_file():
        pytest.skip(f"measured spectra {EXPERIMENT} not present (../shared/data/experiment is not shipped)")
    with page.expect_file_chooser() as chooser:
        page.click(".xanesviz-measured-upload")
    chooser.value.set_files(str(path))
    # The first measured file imports xraylarch in the kernel (seconds).
    page.wait_for_function(f"{MEASURED} && {MEASURED}.visible && {MEASURED}.y && {MEASURED}.y.length > 100",
                           timeout=120_000)
    assert "FeO_rt_01.xdi" in page.inner_text(".xanesviz-message")
    residual = page.evaluate(f"document.querySelector('{PLOT}').data.find(t => t.name === 'measured − predicted').y.length")
    assert residual > 100
    before = figure_text(page, "rfactor")
    pearson = float(figure_text(page, "pearson"))
    assert -1 <= pearson <= 1 and float(before) >= 0

    atom = find_atom_pixel(page)
    assert atom is not None, "no atom found under the pointer grid"
    residual_js = f"document.querySelector('{PLOT}').data.find(t => t.name === 'measured − predicted').y.slice()"
    residual_before = page.evaluate(f"() => {residual_js}")
    page.mouse.move(atom["x"], atom["y"])
    page.mouse.down()
    for step in range(1, 16):
        page.mouse.move(atom["x"] + 5 * step, atom["y"] + 3 * step)
        time.sleep(0.03)
    # Mid-drag (the button still held) the residual follows the prediction, not only on release.
    page.wait_for_function(f"(before) => {{ const now = {residual_js}; "
                           "return now.length === before.length && now.some((v, i) => Math.abs(v - before[i]) > 1e-9); }",
                           arg=residual_before, timeout=15_000)
    page.mouse.up()
    deadline = time.time() + 30
    while time.time() < deadline and figure_text(page, "rfactor") == before:
        time.sleep(0.2)
    assert figure_text(page, "rfactor") != before, "the R-factor did not follow the drag"

    page.click(".xanesviz-align")
    page.wait_for_function("/Aligned/.test(document.querySelector('.xanesviz-message').innerText)", timeout=30_000)

    # Refine against the measurement and wait for the end: the table of bonds appears, the
    # structure moved (Undo is one step back), the figures were recomputed.
    r_aligned = figure_text(page, "rfactor")
    page.select_option(".xanesviz-refine-panel select", label="first shell together (breathing)")
    page.wait_for_selector(".xanesviz-refine:not([disabled])", timeout=10_000)
    page.click(".xanesviz-refine")
    page.wait_for_function("/Refined|Stopped/.test(document.querySelector('.xanesviz-refine-status').innerText)",
                           timeout=180_000)
    table = page.inner_text(".xanesviz-refine-result")
    assert "→" in table and "mean" in table and "R-factor" in table
    assert float(figure_text(page, "rfactor")) <= float(r_aligned) + 1e-4, "refinement made the misfit worse"
