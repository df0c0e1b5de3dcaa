"""How long headless Chromium takes to evaluate plotly's widget module, alone on a blank page.

    python benchmarks/plotly_module_eval.py [--repeats 3]

What the dashboard's page pays once for plotly.js (xanesviz/app/plotly_import.py): importing the
installed plotly's ``widgetbundle.js`` (plotly.js and its widget, 5 MB) as an ES module, then
the first ``Plotly.newPlot`` of a three-point line; each repeat in a fresh page. Beside it, the
same for plotly's standalone ``plotly.min.js`` as a classic script. The machine is printed.
"""

import argparse
import sys
from pathlib import Path

import plotly
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_line  # noqa: E402
from test_browser import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402

TIME_IT = """async ([text, kind]) => {
  const t0 = performance.now();
  const url = URL.createObjectURL(new Blob([text], {type: "text/javascript"}));
  if (kind === "module") { await import(url); }
  else { await new Promise((ok, fail) => { const s = document.createElement("script"); s.src = url;
                                            s.onload = ok; s.onerror = fail; document.head.appendChild(s); }); }
  const t1 = performance.now();
  await window.Plotly.newPlot("plot", [{x: [1, 2, 3], y: [1, 3, 2]}]);
  return [t1 - t0, performance.now() - t1, window.Plotly.version];
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    package_data = Path(plotly.__file__).parent / "package_data"
    files = [("widgetbundle.js (the dashboard's)", package_data / "widgetbundle.js", "module"),
             ("plotly.min.js", package_data / "plotly.min.js", "classic")]
    print(machine_line())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for label, path, kind in files:
            text = path.read_text()
            for repeat in range(args.repeats):
                page = browser.new_page()
                page.set_content("<div id='plot'></div>")
                evaluate, first_plot, version = page.evaluate(TIME_IT, [text, kind])
                page.close()
                print(f"{label}, {len(text) / 1e6:.1f} MB, plotly.js {version}: evaluated in {evaluate:.0f} ms, "
                      f"first newPlot {first_plot:.0f} ms (repeat {repeat + 1})")
        browser.close()
    print(machine_line())


if __name__ == "__main__":
    main()
