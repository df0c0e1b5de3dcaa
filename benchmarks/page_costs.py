"""What the dashboard page can draw per second, part by part, in headless Chromium.

    python benchmarks/page_costs.py

Serves app.ipynb with voila (127.0.0.1, the repository's voila.json), opens the page and, inside
it, counts animation frames per second for 2 s each: idle; with the 3D viewer re-rendered every
frame (NGL ``requestRender``); with the spectrum's main trace restyled (``Plotly.restyle``) every
6th frame; and times one ``Plotly.restyle`` of one trace and one no-change ``Plotly.react``.
First it measures the page at rest (10 s, once the first explanations are in): CPU seconds per
second of Chromium's processes by role.
Compare with ``dashboard_latency.py``: when the page keeps 60 frames a second for each part
alone, but a drag gets only a few pointer moves a second through, the time goes elsewhere (the
widget messages of each update).
"""

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from _machine import machine_line  # noqa: E402
from _voila import cpu_by_role, dashboard_page  # noqa: E402
from test_browser import PLOT  # noqa: E402

PROBE = """async () => {
  const canvas = document.querySelector('canvas[data-xanesviz-drag=ready]');
  const stage = canvas._xvView.stage;
  const gd = document.querySelector('PLOT');
  function fps(ms, each) { return new Promise(done => { let n = 0; const t0 = performance.now();
    function frame() { n++; if (each) { each(n); } if (performance.now() - t0 < ms) { requestAnimationFrame(frame); }
      else { done(n / (ms / 1000)); } }
    requestAnimationFrame(frame); }); }
  const idle = await fps(2000, null);
  const viewer = await fps(2000, () => stage.viewer.requestRender());
  const restyled = await fps(2000, n => { if (n % 6 === 0) { Plotly.restyle(gd, {y: [gd.data[1].y.map(v => v * 1.0001)]}, [1]); } });
  let t = performance.now();
  for (let i = 0; i < 10; i++) { Plotly.restyle(gd, {y: [gd.data[1].y.map(v => v * 1.0001)]}, [1]); }
  const restyle = (performance.now() - t) / 10;
  t = performance.now();
  for (let i = 0; i < 10; i++) { Plotly.react(gd, gd.data, gd.layout); }
  const react = (performance.now() - t) / 10;
  return {idle, viewer, restyled, restyle, react, canvas: [canvas.width, canvas.height]};
}""".replace("PLOT", PLOT)

with dashboard_page() as page:
    time.sleep(8)  # the first explanations
    before, t0 = cpu_by_role(), time.perf_counter()
    time.sleep(10)
    after, rest = cpu_by_role(), time.perf_counter() - t0
    r = page.evaluate(PROBE)
print("the page at rest, CPU seconds per second: " + ", ".join(
    f"{role} {(after[role] - before.get(role, 0.0)) / rest:.3f}" for role in sorted(after) if role.startswith("chromium")))
print(f"frames per second: idle {r['idle']:.0f}; 3D viewer re-rendered every frame {r['viewer']:.0f}; "
      f"spectrum restyled every 6th frame {r['restyled']:.0f} (viewer canvas {r['canvas'][0]}x{r['canvas'][1]} px)")
print(f"one Plotly.restyle of the main trace {r['restyle']:.1f} ms; one Plotly.react without change {r['react']:.1f} ms")
print(machine_line())
