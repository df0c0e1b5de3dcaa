"""End to end in a real browser: serve ``voila app.ipynb`` and drive headless Chromium."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
PLOT = ".xanesviz-spectrum .js-plotly-plot"
# Tornado logs these when a browser tab closes while the server is still writing to its websocket
# (a test's page closing mid-update): the client went away, nothing in the app failed.
CLIENT_GONE = ("tornado.websocket.WebSocketClosedError", "tornado.iostream.StreamClosedError")


#: voila's line when the test stops it; after it, a pre-heated pool kernel still running the
#: notebook cannot send its reply on the closed socket (ZMQError), which is the stop, not a fault.
SERVER_STOPPING = "[Voila] Handle signal 15."


def server_errors(log: str) -> list[str]:
    """The exception line ending each traceback in a server log before the server was told to
    stop, except a client closing its socket."""
    log = log.split(SERVER_STOPPING, 1)[0]
    lines = log.splitlines()
    errors = []
    for start, line in enumerate(lines):
        if line.strip() != "Traceback (most recent call last):":
            continue
        ending = next((later for later in lines[start + 1:] if later and not later[0].isspace()), "<log ends>")
        if not ending.startswith(CLIENT_GONE):
            errors.append(ending)
    return errors


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (scripts/setup.sh --browser does)")
    port = free_port()
    log = open(tmp_path_factory.mktemp("voila") / "voila.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "voila", str(REPO / "app.ipynb"), "--no-browser", f"--port={port}",
         "--Voila.ip=127.0.0.1"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "XANESVIZ_FEFF_SETTINGS": "fast"})  # FEFF10 in seconds for test_browser_feff.py
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "voila/static/", timeout=1)
        except urllib.error.HTTPError:
            break  # the server answers
        except OSError:
            time.sleep(0.3)
            continue
        break
    yield url
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
    log.seek(0)
    text = log.read()
    errors = server_errors(text)
    assert not errors, f"voila logged {errors}:\n{text[-3000:]}"


def test_server_errors_tolerates_only_a_closed_client():
    closed = ("Traceback (most recent call last):\n  File \"websocket.py\", line 1140, in wrapper\n    await fut\n"
              "tornado.iostream.StreamClosedError: Stream is closed\n\n"
              "During handling of the above exception, another exception occurred:\n\n"
              "Traceback (most recent call last):\n  File \"websocket.py\", line 1142, in wrapper\n"
              "    raise WebSocketClosedError()\ntornado.websocket.WebSocketClosedError\n")
    failed = "Traceback (most recent call last):\n  File \"app.py\", line 3, in update\nValueError: bad\n"
    assert server_errors("[Voila] Kernel started\n" + closed) == []
    assert server_errors(closed + failed) == ["ValueError: bad"]
    assert server_errors("Traceback (most recent call last):\n  File \"x.py\"") == ["<log ends>"]
    stopped = "[Voila] Handle signal 15.\n[IPKernelApp] ERROR | Exception in message handler:\n"
    assert server_errors(stopped + "Traceback (most recent call last):\n  File \"s.py\"\nzmq.error.ZMQError: x\n") == []
    assert server_errors(failed + stopped) == ["ValueError: bad"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def open_dashboard(browser, url, width=1500, height=1100):
    """A new browser context and page on the dashboard, once it is interactive (atoms can be
    dragged, the spectrum is drawn), and the list that collects the page's uncaught errors."""
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.goto(url, timeout=90_000)
    page.wait_for_selector("canvas[data-xanesviz-drag=ready]", timeout=90_000)
    page.wait_for_function(f"document.querySelector('{PLOT}') && document.querySelector('{PLOT}').data "
                           f"&& document.querySelector('{PLOT}').data[1].y && document.querySelector('{PLOT}').data[1].y.length > 100",
                           timeout=60_000)
    return context, page, page_errors


@pytest.fixture
def page(browser, voila_url):
    context, page, page_errors = open_dashboard(browser, voila_url)
    yield page
    context.close()
    assert not page_errors, f"uncaught errors in the page: {page_errors}"


def plotted(page) -> np.ndarray:
    return np.array(page.evaluate(f"Array.from(document.querySelector('{PLOT}').data[1].y)"), float)


def wait_for_change(page, before: np.ndarray, timeout: float = 15.0) -> np.ndarray:
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = plotted(page)
        if now.shape != before.shape or not np.allclose(now, before):
            return now
        time.sleep(0.1)
    return plotted(page)


def find_atom_pixel(page, skip_index=0):
    """Screen coordinates of an atom (not the absorber) found by NGL picking over a grid."""
    return page.evaluate("""(skip) => {
        const canvas = document.querySelector('canvas[data-xanesviz-drag=ready]');
        const view = canvas._xvView; const box = canvas.getBoundingClientRect();
        for (let gy = 0.2; gy <= 0.8; gy += 0.02) {
          for (let gx = 0.2; gx <= 0.8; gx += 0.02) {
            const x = gx * box.width, y = gy * box.height;
            const pp = view._xvPickAt(x, box.height - y);
            if (pp && pp.atom.index !== skip) {
              return {x: box.left + x, y: box.top + y, index: pp.atom.index, element: pp.atom.element};
            }
          }
        }
        return null;
    }""", skip_index)


def test_mouse_drag_on_atom_changes_spectrum(page):
    before = plotted(page)
    assert np.all(np.isfinite(before))
    atom = find_atom_pixel(page)
    assert atom is not None, "no atom found under the pointer grid"
    page.mouse.move(atom["x"], atom["y"])
    page.mouse.down()
    for step in range(1, 16):
        page.mouse.move(atom["x"] + 4 * step, atom["y"] + 2 * step)
        time.sleep(0.03)
    during = wait_for_change(page, before, timeout=10)
    page.mouse.up()
    after = wait_for_change(page, before, timeout=10)
    assert not np.allclose(during, before), "spectrum did not change while dragging"
    assert not np.allclose(after, before) and np.all(np.isfinite(after))
    assert "Selected" in page.inner_text(".xanesviz-atom-editor")


def test_the_page_tells_the_kernel_once_its_atoms_can_be_dragged(page):
    """The kernel holds the first explanations until the page says so (``drag_ready``), so
    that they never delay the page; they then arrive."""
    ready = page.evaluate("document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView.model.get('drag_ready')")
    assert ready is True
    page.wait_for_selector(".xanesviz-dashboard [class*=xanesviz-trust-]", timeout=30_000)


def test_with_software_webgl_a_held_atom_is_drawn_at_most_every_100_ms(page):
    """The test browser draws WebGL in software (SwiftShader): while an atom is held, the 3D
    view is drawn at most every 100 ms and at 0.35 of its resolution, and NGL's animation-frame
    loops sleep, yet every move still moves the atom (its position keeps up with the pointer)
    and the view is drawn again, at full resolution, once the atom is let go, its loops awake."""
    assert page.evaluate("document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView._xvSoftwareGL") is True
    page.evaluate("""() => {
        const viewer = document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView.stage.viewer;
        const render = viewer.render.bind(viewer);
        window._xvFrames = []; window._xvRatios = [];
        viewer.render = function (...args) {
            window._xvFrames.push(performance.now()); window._xvRatios.push(viewer.renderer.getPixelRatio());
            return render(...args);
        };
    }""")
    dpr = page.evaluate("window.devicePixelRatio")
    atom = find_atom_pixel(page)
    page.mouse.move(atom["x"], atom["y"])
    page.mouse.down()
    start = page.evaluate("performance.now()")
    for step in range(1, 41):
        page.mouse.move(atom["x"] + 2 * step, atom["y"] + step)
        time.sleep(0.01)
    loops_while_held = page.evaluate("document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView._xvLoopsAwake()")
    held_until = page.evaluate("performance.now()")
    frames, ratios = (np.array(a) for a in page.evaluate("[window._xvFrames.slice(), window._xvRatios.slice()]"))
    page.mouse.up()
    held = (frames > start) & (frames < held_until)
    during = frames[held]
    assert len(during) >= 2, "the held atom was not drawn while it moved"
    assert np.diff(during).min() >= 95.0, f"frames {np.diff(during).round(1).tolist()} ms apart while an atom was held"
    assert np.allclose(ratios[held], 0.35 * dpr), f"pixel ratios while held: {ratios[held].tolist()}"
    assert loops_while_held == [False, False], f"NGL's loops (ticks, hover watch) awake while held: {loops_while_held}"
    page.wait_for_function("window._xvFrames.length > 0 && window._xvFrames[window._xvFrames.length - 1] > "
                           f"{held_until}", timeout=5_000)  # drawn after the release
    assert page.evaluate("window._xvRatios[window._xvRatios.length - 1]") == dpr  # at full resolution
    assert page.evaluate("document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView._xvLoopsAwake()")[0]


def test_with_software_webgl_a_page_at_rest_draws_no_frames_and_wakes_when_needed(page):
    """NGL's two animation-frame loops (the viewer's ticks, the mouse observer's hover watch)
    sleep while the page rests under software WebGL, and wake with a pointer over the view, a
    render request or a camera animation (the spin, here), which then runs."""
    loops = "document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView._xvLoopsAwake()"
    stage = "document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView.stage"
    page.mouse.move(5, 5)  # away from the view
    page.wait_for_function(f"{loops}.every(awake => !awake)", timeout=10_000)
    count_ticks = f"""() => new Promise(done => {{
        const viewer = {stage}.viewer, observer = {stage}.mouseObserver;
        const tick = viewer.animate, listen = observer._listen; let n = 0;
        viewer.animate = function () {{ n++; return tick.apply(viewer, arguments); }};
        observer._listen = function () {{ n++; return listen.apply(observer, arguments); }};
        setTimeout(() => {{ viewer.animate = tick; observer._listen = listen; done(n); }}, 1000);
    }})"""
    ticks = []  # the page rests once the kernel's first explanations (atom colours: a redraw) are in
    while len(ticks) < 10 and (not ticks or ticks[-1]):
        ticks.append(page.evaluate(count_ticks))
    assert ticks[-1] == 0, f"NGL's loops ran {ticks} times in successive seconds at rest"
    box = page.locator("canvas[data-xanesviz-drag=ready]").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.evaluate(loops)[1] is True  # the hover watch runs while the pointer is over the view
    page.mouse.move(5, 5)
    page.wait_for_function(f"{loops}.every(awake => !awake)", timeout=10_000)
    page.evaluate(f"{stage}.viewer.requestRender()")
    assert page.evaluate(loops)[0] is True
    page.wait_for_function(f"{loops}.every(awake => !awake)", timeout=10_000)
    before = page.evaluate(f"{stage}.viewerControls.getOrientation().elements.slice()")
    page.evaluate(f"{stage}.setSpin(true)")
    time.sleep(0.5)
    after = page.evaluate(f"{stage}.viewerControls.getOrientation().elements.slice()")
    page.evaluate(f"{stage}.setSpin(false)")
    assert not np.allclose(before, after), "the spin did not turn the view"


def test_pressing_an_atom_selects_it(page):
    atom = find_atom_pixel(page)
    page.mouse.move(atom["x"], atom["y"])
    page.mouse.down()
    try:
        page.wait_for_function(f"/Selected \\w+ {atom['index']}\\b/"
                               ".test(document.querySelector('.xanesviz-atom-editor').innerText)", timeout=10_000)
    finally:
        page.mouse.up()


def test_atom_held_still_after_quick_moves_is_sent_without_release(page):
    atom = find_atom_pixel(page)
    page.mouse.move(atom["x"], atom["y"])
    page.mouse.down()
    page.mouse.move(atom["x"] + 20, atom["y"])  # sent at once
    page.mouse.move(atom["x"] + 40, atom["y"] + 20)  # waits for the interval and Python's answer to the first
    deadline = time.time() + 10  # a busy machine answers late; the held position must come without a release
    while True:
        time.sleep(0.3)
        sent, held = page.evaluate("""(index) => {
            const view = document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView;
            const a = view.stage.compList[0].structure.getAtomProxy(index);
            return [view.model.get('drag_event'), [a.x, a.y, a.z]];
        }""", atom["index"])
        if time.time() > deadline or np.allclose(sent["position"], held, atol=1e-4):
            break
    page.mouse.up()
    assert sent["index"] == atom["index"] and not sent["final"]
    np.testing.assert_allclose(sent["position"], held, atol=1e-4)


def test_dragging_empty_space_rotates_not_moves(page):
    before = plotted(page)
    box = page.locator("canvas[data-xanesviz-drag=ready]").bounding_box()
    x, y = box["x"] + 8, box["y"] + 8  # a corner: no atom there
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 40, steps=8)
    page.mouse.up()
    time.sleep(1.0)
    np.testing.assert_allclose(plotted(page), before)


def type_into_readout(page, selector: str, text: str, shown: str, tries: int = 3) -> str:
    """Type a value into a slider's editable readout as a user would, and return what the readout
    then shows. On a busy machine the page may still be settling when the first keys arrive (the
    readout loses focus and the keys go nowhere); then the value is typed again, as a user would."""
    readout = page.locator(selector)
    for _ in range(tries):
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(text)
        page.keyboard.press("Enter")
        deadline = time.time() + 5.0
        while time.time() < deadline and readout.inner_text().strip() != shown:
            time.sleep(0.1)
        if readout.inner_text().strip() == shown:
            break
    return readout.inner_text().strip()


def download(page, selector: str, path, tries: int = 3) -> None:
    """Click a download link as a user would and save what it gives to ``path``. The link is
    rewritten whenever the spectrum changes; a click that lands while the page is replacing it is
    lost (its press and release fall on different elements), so the link is clicked again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_selector(selector, timeout=60_000)
    for attempt in range(tries):
        try:
            with page.expect_download(timeout=15_000) as info:
                page.click(selector)
            info.value.save_as(path)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def test_slider_changes_spectrum(page):
    before = plotted(page)
    assert type_into_readout(page, ".xanesviz-gaussian .widget-readout", "3", "3.00") == "3.00"
    after = wait_for_change(page, before)
    assert not np.allclose(after, before)
    assert after.max() < before.max()  # a Gaussian lowers the peaks


def test_csv_download(page, tmp_path):
    path = tmp_path / "spectrum.csv"
    download(page, "a.xanesviz-download-csv", path)
    lines = path.read_text().splitlines()
    comments = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    assert body[0] == "energy_eV,mu,std"
    rows = np.array([[float(v) for v in line.split(",")] for line in body[1:]])
    assert rows.shape == (226, 3) and np.all(np.isfinite(rows))
    assert rows[0, 0] == pytest.approx(7097.0) and rows[-1, 0] == pytest.approx(7172.0)
    header = "\n".join(comments)
    for word in ("units: energy eV", "model:", "edge: Fe K", "broadening:", "structure:"):
        assert word in header
    np.testing.assert_allclose(rows[:, 1], plotted(page), rtol=1e-4)


def test_bad_upload_shows_message_and_app_keeps_working(page):
    before = plotted(page)
    with page.expect_file_chooser() as chooser:
        page.click(".xanesviz-upload")
    chooser.value.set_files(files=[{"name": "broken.xyz", "mimeType": "text/plain",
                                    "buffer": b"3\nbad\nFe 0 0 0\nO 1 nope 0\n"}])
    page.wait_for_selector(".xanesviz-message .xanesviz-message-error", timeout=15_000)
    assert "broken.xyz" in page.inner_text(".xanesviz-message")
    np.testing.assert_allclose(plotted(page), before)
    test_slider_changes_spectrum(page)  # still responsive


def colours(page):
    return page.evaluate("(() => { const c = document.querySelector('canvas[data-xanesviz-drag=ready]');"
                         " return c._xvView._xvColours || null; })()")


def test_sensitivity_colouring_follows_drag(page):
    page.wait_for_selector("canvas[data-xanesviz-colouring=sensitivity]", timeout=20_000)
    before = colours(page)
    assert before and len(set(before)) > 1  # atoms differ in sensitivity
    assert "per Å" in page.inner_text(".xanesviz-colour-bar")
    atom = find_atom_pixel(page)
    page.mouse.move(atom["x"], atom["y"])
    page.mouse.down()
    page.mouse.move(atom["x"] + 40, atom["y"] + 25, steps=10)
    page.mouse.up()
    sent = page.evaluate("document.querySelector('canvas[data-xanesviz-drag=ready]')._xvView.model.get('drag_event')")
    assert sent and sent["final"], f"the drag from {atom} moved no atom: {sent}"
    deadline = time.time() + 20
    while time.time() < deadline and colours(page) == before:
        time.sleep(0.2)
    assert colours(page) != before, (f"colours unchanged 20 s after the drag of {atom}: {sent}; "
                                     f"before {before}; message: {page.inner_text('.xanesviz-message')!r}")
    page.click(".xanesviz-sensitivity-toggle input")
    page.wait_for_selector("canvas[data-xanesviz-colouring=element]", timeout=10_000)


def radial_importance(page):
    return np.array(page.evaluate("Array.from(document.querySelector('.xanesviz-side-figure').data"
                                  ".find(t => t.name === 'G2 importance').y)"), float)


def test_window_changes_importance_overlay(page):
    # the first explanations follow the page's first paint
    page.wait_for_function("(() => { const t = document.querySelector('.xanesviz-side-figure').data"
                           ".find(t => t.name === 'G2 importance'); return t && t.y && t.y.length > 0; })()",
                           timeout=30_000)
    before = radial_importance(page)
    assert before.shape == (32,) and np.all(np.isfinite(before))
    handle = page.locator(".xanesviz-window .noUi-handle").last  # the upper end of the window
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - 300, box["y"] + box["height"] / 2, steps=10)
    page.mouse.up()
    deadline = time.time() + 10
    while time.time() < deadline and np.allclose(radial_importance(page), before):
        time.sleep(0.2)
    assert not np.allclose(radial_importance(page), before)
    shapes = page.evaluate(f"document.querySelector('{PLOT}').layout.shapes.length")
    assert shapes == 1  # the window is shaded on the spectrum



SCREENSHOT = REPO / "docs" / "dashboard.png"
SCREENSHOT_WIDTH, SCREENSHOT_HEIGHT = 1280, 1400  # tall enough for the whole dashboard


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_dashboard_screenshot(browser, voila_url, tmp_path):
    """A screenshot of the interactive page, atoms coloured by sensitivity;
    XANESVIZ_UPDATE_SCREENSHOT=1 saves it as the README's docs/dashboard.png."""
    context, page, page_errors = open_dashboard(browser, voila_url, SCREENSHOT_WIDTH, SCREENSHOT_HEIGHT)
    try:
        page.wait_for_selector("canvas[data-xanesviz-colouring=sensitivity]", timeout=20_000)
        time.sleep(1.0)  # let NGL and plotly finish drawing
        data = page.screenshot(full_page=True, animations="disabled")
    finally:
        context.close()
    width, height = png_size(data)
    assert width == SCREENSHOT_WIDTH and height >= SCREENSHOT_HEIGHT
    assert 30_000 < len(data) <= 300_000, f"a {len(data)} byte screenshot: nearly blank, or too large for the README"
    target = SCREENSHOT if os.environ.get("XANESVIZ_UPDATE_SCREENSHOT") == "1" else tmp_path / "dashboard.png"
    target.write_bytes(data)
    assert not page_errors, f"uncaught errors in the page: {page_errors}"


def test_plotly_module_comes_from_the_server_else_from_the_kernel(browser, voila_url):
    """The page imports plotly's widget module from the server as it arrives (app.ipynb's first
    cell; voila.json lets voila serve it) and the kernel never sends its 5 MB; where the server
    does not serve it, the kernel sends the text and the spectrum is drawn all the same."""
    for served in (True, False):
        context = browser.new_context(viewport={"width": 1500, "height": 1100})
        if not served:
            context.route("**/plotly-widget.js", lambda route: route.fulfill(status=404, body="not here"))
        page = context.new_page()
        statuses, largest_frame, page_errors = [], [0], []
        page.on("response", lambda r: statuses.append(r.status) if r.url.endswith("/plotly-widget.js") else None)
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: largest_frame.__setitem__(
            0, max(largest_frame[0], len(payload)))))
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        try:
            page.goto(voila_url, timeout=90_000)
            page.wait_for_function(f"document.querySelector('{PLOT}') && document.querySelector('{PLOT}').data "
                                   f"&& document.querySelector('{PLOT}').data[1].y.length > 100", timeout=90_000)
            assert np.all(np.isfinite(plotted(page)))
        finally:
            context.close()
        assert statuses == ([200] if served else [404])
        if served:
            assert largest_frame[0] < 1_000_000, f"the kernel sent plotly's module ({largest_frame[0]} bytes)"
        else:
            assert largest_frame[0] > 1_000_000, "the page drew without plotly's module from the kernel"
        assert not page_errors, f"uncaught errors in the page: {page_errors}"


def test_a_copper_complex_from_the_gallery_drags_and_exports_on_the_cu_edge(page, tmp_path):
    """Pick a Cu complex: the Cu K model takes over (its energies on the axis), a drag re-predicts,
    and the CSV says Cu K with the Cu grid."""
    from xanesviz import Predictor

    cu_grid = Predictor.load(element="Cu").energy
    page.select_option(".widget-dropdown:has(label:text('Example')) select", label="[Cu(H2O)6]2+ (octahedral)")
    page.wait_for_function(f"document.querySelector('{PLOT}').data[1].x[0] > {cu_grid[0] - 1}", timeout=30_000)
    assert "cu-k-feff" in page.inner_text(".xanesviz-model-info")
    assert "cu-k-feff" in page.inner_text(".xanesviz-model")
    time.sleep(1.0)  # the viewer shows the new complex
    before = plotted(page)
    assert np.all(np.isfinite(before))
    atom = find_atom_pixel(page)
    assert atom is not None and atom["element"] in ("O", "H")
    page.mouse.move(atom["x"], atom["y"])
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(atom["x"] + 4 * step, atom["y"] + 2 * step)
        time.sleep(0.03)
    page.mouse.up()
    after = wait_for_change(page, before, timeout=15)
    assert not np.allclose(after, before) and np.all(np.isfinite(after))
    time.sleep(1.0)  # the download link follows the release
    path = tmp_path / "copper.csv"
    download(page, "a.xanesviz-download-csv", path)
    lines = path.read_text().splitlines()
    assert any("edge: Cu K" in line for line in lines if line.startswith("#"))
    body = [line for line in lines if not line.startswith("#")]
    assert body[0].startswith("energy_eV,mu")
    rows = np.array([[float(v) for v in line.split(",")] for line in body[1:]])
    np.testing.assert_allclose(rows[:, 0], cu_grid, atol=1e-3)
    np.testing.assert_allclose(rows[:, 1], plotted(page), rtol=1e-4)
