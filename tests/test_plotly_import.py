"""The dashboard's plotly figures: no nbformat in the kernel, plotly.js sent and evaluated once,
or loaded by the page from the server (voila.json, app.ipynb's first cell)."""

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
    "module_text_at_start": len(figures[0]._plotly_module.text),
}
from plotly.offline import get_plotlyjs_version
holder = figures[0]._plotly_module
report["plotlyjs_version"] = [holder.plotlyjs_version, get_plotlyjs_version()]
holder._handle_custom_msg({"xanesviz": "something else"}, [])
report["module_text_other_message"] = len(holder.text)
holder._handle_custom_msg({"xanesviz": "module-text"}, [])   # a page without the served module asks
report["module_text"] = len(holder.text)
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
    assert report["module_text_at_start"] == report["module_text_other_message"] == 0  # sent only when asked
    assert report["module_text"] > 1_000_000  # plotly.js itself, held once
    assert report["plotlyjs_version"][0] == report["plotlyjs_version"][1]
    assert max(report["state_sizes"]) < 200_000, f"a figure's state carries plotly.js: {report['state_sizes']}"


def test_widget_module_is_linked_where_voila_serves_it(tmp_path):
    import re

    import plotly

    from xanesviz.app.plotly_import import SERVED_MODULE, link_widget_module

    link = link_widget_module(tmp_path)
    assert link == tmp_path / SERVED_MODULE and link.is_symlink()
    assert link.resolve() == (Path(plotly.__file__).parent / "package_data" / "widgetbundle.js").resolve()
    assert link.stat().st_size > 1_000_000
    link.unlink()
    link.symlink_to(tmp_path / "elsewhere.js")  # a stale link (another environment) is replaced
    assert link_widget_module(tmp_path) == link and link.stat().st_size > 1_000_000
    assert list(link.parent.iterdir()) == [link]  # no temporary link left behind
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        if not os.access(read_only, os.W_OK):  # root may write anyway
            assert link_widget_module(read_only) is None
    finally:
        read_only.chmod(0o700)
    # voila serves it (voila.json's allowlist) at the URL app.ipynb's first cell imports
    allowlist = json.loads((REPO / "voila.json").read_text())["VoilaConfiguration"]["file_allowlist"]
    assert any(re.fullmatch(pattern, SERVED_MODULE.as_posix()) for pattern in allowlist)
    first_cell = "".join(json.loads((REPO / "app.ipynb").read_text())["cells"][0]["source"])
    assert f'"files/{SERVED_MODULE.as_posix()}"' in first_cell
