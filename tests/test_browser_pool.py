"""The plain ``voila app.ipynb`` with the repository's voila.json: a pre-heated kernel pool, idle
culling, and two visitors at once, each with a kernel of its own."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest

from test_browser import CHROMIUM, browser, find_atom_pixel, free_port, open_dashboard, plotted, server_errors  # noqa: F401

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[1]


def dashboards_built(timing: Path) -> dict[int, float]:
    """pid -> when that kernel finished building the dashboard (from XANESVIZ_TIMING marks)."""
    if not timing.exists():
        return {}
    marks = [json.loads(line) for line in timing.read_text().splitlines()]
    return {m["pid"]: m["t"] for m in marks if m["mark"] == "dashboard built"}


def kernel_pids(server: subprocess.Popen) -> dict[str, int]:
    """kernel id -> pid of the server's kernel processes."""
    found = {}
    for child in psutil.Process(server.pid).children(recursive=True):
        try:
            ids = [m.group(1) for part in child.cmdline() for m in [re.search(r"kernel-(.+)\.json", part)] if m]
        except psutil.Error:
            continue
        if ids:
            found[ids[0]] = child.pid
    return found


def wait_until(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout:.0f} s")


@contextlib.contextmanager
def voila_server(folder: Path, *settings: str):
    """``voila app.ipynb`` run from the repository root with a port and ``settings`` added;
    yields its URL, process, timing-mark file and log once it answers; stopped, and its log
    checked for tracebacks, on exit."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (scripts/setup.sh --browser does)")
    timing, log = folder / "timing.jsonl", open(folder / "voila.log", "w+")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "voila", "app.ipynb", "--no-browser", f"--port={port}",
                               "--Voila.ip=127.0.0.1", *settings], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "XANESVIZ_TIMING": str(timing)})
    url = f"http://127.0.0.1:{port}/"

    def answers():
        try:
            urllib.request.urlopen(url + "voila/static/", timeout=1)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    try:
        wait_until(answers, 60, "voila did not answer")
        yield {"url": url, "server": server, "timing": timing, "log": log}
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
    log.seek(0)
    errors = server_errors(log.read())
    assert not errors, f"voila logged {errors}"


@pytest.fixture(scope="module")
def plain_voila(tmp_path_factory):
    """``voila app.ipynb`` run from the repository root with nothing but a port added."""
    with voila_server(tmp_path_factory.mktemp("plain-voila")) as voila:
        yield voila


def log_text(voila) -> str:
    voila["log"].flush()
    return Path(voila["log"].name).read_text()


def drag_changes_spectrum(page) -> bool:
    before = plotted(page)
    atom = find_atom_pixel(page)
    assert atom is not None, "no atom found under the pointer grid"
    page.mouse.move(atom["x"], atom["y"])
    page.mouse.down()
    page.mouse.move(atom["x"] + 40, atom["y"] + 20, steps=8)
    page.mouse.up()
    deadline = time.time() + 20
    while time.time() < deadline:
        if not np.allclose(plotted(page), before):
            return True
        time.sleep(0.2)
    return False


def test_plain_voila_pre_heats_and_serves_two_visitors_at_once(plain_voila, browser):
    server, timing = plain_voila["server"], plain_voila["timing"]
    # Before anyone visits, a kernel has run the notebook (voila's default starts none until a page is asked for).
    built = wait_until(lambda: dashboards_built(timing), 90, "no kernel built the dashboard before a visit")
    assert len(built) == 1
    culling = json.loads((REPO / "voila.json").read_text())["MappingKernelManager"]
    log = log_text(plain_voila)
    assert (f"Culling kernels with idle durations > {culling['cull_idle_timeout']} seconds at "
            f"{culling['cull_interval']} second intervals") in log, log[-2000:]

    first_context, first, first_errors = open_dashboard(browser, plain_voila["url"])
    served = re.findall(r"Using pre-heated kernel: (\S+)", log_text(plain_voila))
    assert len(served) == 1, "the first page did not get the pre-heated kernel"
    assert kernel_pids(server)[served[0]] in built, "the page's kernel is not the one that ran the notebook before"

    # The pool refills: a second kernel runs the notebook while the first page is open.
    wait_until(lambda: len(dashboards_built(timing)) == 2, 90, "the pool was not refilled")
    second_context, second, second_errors = open_dashboard(browser, plain_voila["url"])
    served = re.findall(r"Using pre-heated kernel: (\S+)", log_text(plain_voila))
    assert len(served) == 2 and served[0] != served[1], "the second page did not get a pre-heated kernel of its own"
    try:
        first_before = plotted(first)
        assert drag_changes_spectrum(second), "dragging on the second page did not change its spectrum"
        np.testing.assert_allclose(plotted(first), first_before, err_msg="a drag on one page changed the other's")
        assert drag_changes_spectrum(first), "dragging on the first page did not change its spectrum"
        assert not (first_errors or second_errors), f"uncaught errors in the pages: {first_errors + second_errors}"
    finally:
        first_context.close()
        second_context.close()


def test_a_pool_kernel_that_waited_past_the_cull_timeout_still_serves_its_visitor(browser, tmp_path):
    """voila never culls a kernel waiting in its pool, but counts a handed-out kernel's idle time
    from the notebook's end: culling every second after 12 idle seconds, a kernel that waited 25 s
    would be culled before its page connects, unless it reports the hand-out (app/pool.py); the
    12 s leave a page slowed by a busy machine time to connect."""
    with voila_server(tmp_path, "--MappingKernelManager.cull_idle_timeout=12",
                      "--MappingKernelManager.cull_interval=1") as voila:
        built = wait_until(lambda: dashboards_built(voila["timing"]), 90, "no kernel built the dashboard before a visit")
        time.sleep(max(0.0, list(built.values())[0] + 25 - time.time()))  # idle 25 s in the pool
        assert list(built)[0] in kernel_pids(voila["server"]).values(), "voila culled a kernel waiting in its pool"
        context, page, page_errors = open_dashboard(browser, voila["url"])
        try:
            served = re.findall(r"Using pre-heated kernel: (\S+)", log_text(voila))
            assert len(served) == 1
            time.sleep(14)  # longer than the timeout: a connected page keeps its kernel
            assert served[0] in kernel_pids(voila["server"]), "the visitor's kernel was culled"
            assert drag_changes_spectrum(page), "dragging did not change the spectrum"
            assert not page_errors, f"uncaught errors in the page: {page_errors}"
        finally:
            context.close()


def test_a_closed_tab_frees_its_kernel(plain_voila, browser):
    """voila's page asks the server to shut its kernel down as it unloads; with voila.json's
    settings the server does (jupyter-server refused it before: voila's page sends no _xsrf)."""
    context, page, page_errors = open_dashboard(browser, plain_voila["url"])
    served = re.findall(r"Using pre-heated kernel: (\S+)", log_text(plain_voila))
    kernel = served[-1]
    assert kernel in kernel_pids(plain_voila["server"])
    page.close(run_before_unload=True)
    context.close()
    wait_until(lambda: kernel not in kernel_pids(plain_voila["server"]), 20, "the closed tab's kernel still runs")
    assert f"Kernel shutdown: {kernel}" in log_text(plain_voila)
    assert "_xsrf' argument missing" not in log_text(plain_voila)
    assert not page_errors, f"uncaught errors in the page: {page_errors}"
