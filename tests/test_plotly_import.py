"""The dashboard's plotly figures: no nbformat in the kernel, plotly.js sent and evaluated once."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from xanesviz.app import Dashboard
from xanesviz.app.plotly_import import SHARED_LOADER
dashboard = Dashboard()
figures = [dashboard.panel.figure, dashboard.importance.figure]
states = [figure.get_state() for figure in figures]
report = {
    "nbformat_at_start": "nbformat" in sys.modules or "jsonschema" in sys.modules,
    "esm_is_loader": [state["_esm"] == SHARED_LOADER for state in states],
    "state_sizes": [len(json.dumps(state, default=str)) for state in states],
    "holders": [state["_plotly_module"] for state in states],
    "module_text": len(figures[0]._plotly_module.text),
}
import plotly.io._renderers as renderers
report["nbformat_on_use"] = renderers.nbformat.__version__   # fig.show() still finds nbformat
print(json.dumps(report))
"""


def test_dashboard_kernel_imports_no_nbformat_and_figures_share_plotly_js():
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["nbformat_at_start"] is False, "building the dashboard imported nbformat/jsonschema"
    assert int(report["nbformat_on_use"].split(".")[0]) >= 4
    assert report["esm_is_loader"] == [True, True]
    assert report["holders"][0] == report["holders"][1] and report["holders"][0].startswith("IPY_MODEL_")
    assert report["module_text"] > 1_000_000  # plotly.js itself, held once
    assert max(report["state_sizes"]) < 200_000, f"a figure's state carries plotly.js: {report['state_sizes']}"
