"""End to end in a real browser: 'Compute with FEFF10' runs FEFF in the background, with progress,
and draws the ab initio spectrum beside the prediction while the page stays live. The test server
uses FEFF's ``fast`` settings (XANESVIZ_FEFF_SETTINGS, set in test_browser.py), seconds instead of
minutes; the reference settings run the same code."""

import pytest

from test_browser import PLOT, browser, page, voila_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
FEFF_TRACE = f"document.querySelector('{PLOT}').data.find(t => t.name && t.name.startsWith('FEFF10'))"


def test_compute_with_feff10_draws_the_ab_initio_spectrum(page):
    page.click(".xanesviz-feff button:has-text('Compute with FEFF10')")
    page.wait_for_function("/FEFF10: (starting|stage)/.test(document.querySelector('.xanesviz-feff-status').innerText)",
                           timeout=30_000)
    page.wait_for_function("/FEFF10: done/.test(document.querySelector('.xanesviz-feff-status').innerText)",
                           timeout=240_000)
    page.wait_for_function(f"{FEFF_TRACE} && {FEFF_TRACE}.visible && {FEFF_TRACE}.y && {FEFF_TRACE}.y.length > 100",
                           timeout=30_000)
    ys = page.evaluate(f"{FEFF_TRACE}.y")
    assert all(isinstance(y, (int, float)) for y in ys) and max(ys) > min(ys)  # finite, not flat
    assert page.evaluate(f"{FEFF_TRACE}.name") == "FEFF10, ab initio"
    # Pin it as the reference: the pinned trace takes the FEFF spectrum.
    page.click(".xanesviz-feff button:has-text('Pin FEFF10')")
    page.wait_for_function("/Pinned the FEFF10 spectrum/.test(document.querySelector('.xanesviz-message').innerText)",
                           timeout=30_000)
