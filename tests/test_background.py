"""The panels' shared background work: failures are shown on the status line, buttons come back."""

import threading

import ipywidgets as widgets

from xanesviz.app.background import BackgroundPanel
from xanesviz.errors import XanesvizError


class Panel(BackgroundPanel):
    css, what = "xanesviz-test", "The test task"

    def __init__(self):
        self.button, self.stop_button, self.status = widgets.Button(), widgets.Button(disabled=True), widgets.HTML()
        super().__init__([self.button, self.stop_button, self.status])


def fail(exc):
    raise exc


def test_an_unexpected_failure_is_one_line_and_the_buttons_come_back():
    panel = Panel()
    panel.launch(fail, (RuntimeError("boom"),), name="test", wait=True)
    assert "The test task failed: RuntimeError: boom" in panel.status.value and "xanesviz-test-error" in panel.status.value
    assert not panel.button.disabled and panel.stop_button.disabled


def test_a_package_error_is_shown_as_it_is_and_work_runs_off_the_calling_thread():
    panel, release, seen = Panel(), threading.Event(), []

    def work():
        seen.append(threading.current_thread().name)
        assert panel.button.disabled and not panel.stop_button.disabled  # while it runs
        release.wait(5)
        raise XanesvizError("structure.xyz: no Fe atom")

    panel.launch(work, (), name="xanesviz-test")
    assert panel.running
    release.set()
    panel.thread.join(5)
    assert seen == ["xanesviz-test"] and not panel.running
    assert "structure.xyz: no Fe atom" in panel.status.value and "failed" not in panel.status.value
    assert not panel.button.disabled and panel.stop_button.disabled
