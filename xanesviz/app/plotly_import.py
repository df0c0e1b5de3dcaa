"""plotly's FigureWidget, made cheaper to start in a kernel and in the browser.

Two costs of ``plotly.graph_objects.FigureWidget`` are cut here, neither of which changes what
a figure shows:

* **The kernel.** plotly imports nbformat when FigureWidget is first used, though only
  ``fig.show()`` (MIME rendering) needs it; nbformat imports jsonschema, which (with
  rfc3987-syntax installed) compiles 39 grammars on import: about 2 s of a dashboard kernel's
  start on a loaded 2-core machine, the largest single import. plotly's renderers are imported
  here with nbformat held back, and a stand-in that imports nbformat on first use takes its
  place, so ``fig.show()`` still works. If nbformat or plotly's renderers are already imported,
  or plotly's internals differ from what is expected, the plain import is used.
* **The browser.** FigureWidget is an anywidget whose module is all of plotly.js (5 MB); anywidget
  evaluates a module given as text once per widget, so every figure on a page costs the
  browser one more evaluation of plotly.js (seconds on a busy 2-core machine, and anywidget
  gives a widget 2 s to start, after which that figure never draws), and every figure's state
  carries the 5 MB of text.
  :func:`figure_widget_class` returns a subclass whose module is a small loader: plotly's module
  text is sent once, in a widget of its own (a model without a view) that every figure refers
  to, and the page evaluates it once; every figure shares it (as plotly's own JupyterLab
  extension does). The figure's model is set up once plotly.js is ready, not within
  anywidget's 2 s.
* **The wait.** Under voila the page shows nothing until the notebook has run, and evaluating
  plotly.js then took 1.7 s of the first visit. :func:`link_widget_module` links plotly's widget
  module into the notebook's folder (``.cache/voila/plotly-widget.js``, which the repository's
  voila.json lets voila serve; ``scripts/setup.sh`` and every dashboard kernel under voila make
  the link), and the first cell of ``app.ipynb`` (a script in a markdown cell: voila's template
  escapes raw cells) starts importing it as the page
  arrives, while the kernel is still building the dashboard. The figures use that module when
  its plotly.js is the kernel's, and otherwise ask the kernel for the text (sent only then).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

#: Where, in the notebook's folder, voila serves plotly's widget module from (voila.json's
#: ``file_allowlist``; app.ipynb's first cell imports it).
SERVED_MODULE = Path(".cache") / "voila" / "plotly-widget.js"

#: The figures' anywidget module: evaluates plotly's widget module (the text held by the widget
#: that ``_plotly_module`` refers to) once per page, then hands each figure its own instance of
#: plotly's widget.
SHARED_LOADER = """
const SHARED = Symbol.for("xanesviz.plotly-widget-module");
const PRELOAD = Symbol.for("xanesviz.plotly-widget-preload");
// The module text, asked of the kernel only when the page has no preloaded module to use.
function moduleText(holder) {
  if (holder.get("text")) { return Promise.resolve(holder.get("text")); }
  return new Promise((resolve) => {
    holder.once("change:text", () => resolve(holder.get("text")));
    holder.send({xanesviz: "module-text"});
  });
}
async function plotlyWidgetModule(model) {
  if (!globalThis[SHARED]) {
    globalThis[SHARED] = (async () => {
      const holder = await model.widget_manager.get_model(model.get("_plotly_module").slice("IPY_MODEL_".length));
      if (globalThis[PRELOAD]) {
        try {
          const preloaded = await globalThis[PRELOAD];
          if (globalThis.Plotly && globalThis.Plotly.version === holder.get("plotlyjs_version")) { return preloaded; }
        } catch (error) {}  // not served (another server, another folder): the kernel's text below
      }
      const url = URL.createObjectURL(new Blob([await moduleText(holder)], {type: "text/javascript"}));
      try { return await import(url); } finally { URL.revokeObjectURL(url); }
    })();
  }
  return globalThis[SHARED];
}
// plotly's view reports back to Python, after every edit, the defaults plotly.js filled in; the
// layout's go to a trait plotly's Python side does not have (_js2py_widget_layoutDelta, 8-12 kB
// to the kernel and dropped there), so they are not sent.
function withoutUnusedReports(model) {
  return new Proxy(model, {
    get(target, name) {
      if (name === "set") {
        return (key, ...rest) => (key === "_js2py_widget_layoutDelta" ? undefined : target.set(key, ...rest));
      }
      const value = target[name];
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
// A traces-only redraw (FigureWidget._send_animate_msg below) arrives as one custom message.
function redrawTraces(el, message) {
  if (!message || message.xanesviz !== "animate" || !globalThis.Plotly || !el.data) { return; }
  globalThis.Plotly.animate(el, {data: message.data, traces: message.traces, layout: message.layout},
                            message.options).catch(() => {});  // an interrupted animation is no error
}
export default () => {
  // anywidget gives a model 2 s to initialize, less than evaluating plotly.js takes on a busy
  // machine (the figure then never draws): plotly's model is set up once its module is ready,
  // as it was before (anywidget too sets a model up only after importing its module), and the
  // view waits for that, without anywidget's time limit.
  let figure = null, ready = null;
  return {
    initialize(context) {
      ready = plotlyWidgetModule(context.model).then(async (plotly) => {
        figure = await plotly.default();
        await figure.initialize({...context, model: withoutUnusedReports(context.model)});
      });
    },
    async render(context) {
      await ready;
      context.model.on("msg:custom", (message) => redrawTraces(context.el, message));
      return figure.render(context);
    },
  };
};
"""

_classes: dict[str, type] = {}
_holders: list = []


class _ImportedOnFirstUse:
    """Stands for a module; imports it when an attribute is first read."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self._name), attribute)


def _import_renderers_without_nbformat() -> None:
    if "nbformat" in sys.modules or "plotly.io._renderers" in sys.modules:
        return
    try:
        from _plotly_utils import optional_imports
    except ImportError:
        return
    if not isinstance(getattr(optional_imports, "_not_importable", None), set):
        return
    optional_imports._not_importable.add("nbformat")
    try:
        import plotly.io._renderers as renderers
    finally:
        optional_imports._not_importable.discard("nbformat")
    if getattr(renderers, "nbformat", 0) is None:
        renderers.nbformat = _ImportedOnFirstUse("nbformat")


def link_widget_module(folder: Path | None = None) -> Path | None:
    """Link plotly's widget module at ``folder / SERVED_MODULE`` (by default the working
    directory, a voila kernel's being the notebook's folder); returns the link, or None where
    plotly has no such file or the folder cannot be written (the page then gets the module from
    the kernel)."""
    import plotly

    target = Path(plotly.__file__).resolve().parent / "package_data" / "widgetbundle.js"
    link = Path(folder if folder is not None else Path.cwd()) / SERVED_MODULE
    if not target.is_file():
        return None
    try:
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return link
        link.parent.mkdir(parents=True, exist_ok=True)
        fresh = link.with_name(f"{link.name}.{os.getpid()}")
        fresh.unlink(missing_ok=True)
        fresh.symlink_to(target)
        os.replace(fresh, link)
    except OSError:
        return None
    return link


def _under_voila() -> bool:
    return any(name in os.environ for name in ("VOILA_PREHEAT", "VOILA_KERNEL_ID", "VOILA_BASE_URL"))


def _module_holder():
    """The kernel's one widget for plotly's widget module (made anew if it was closed)."""
    if not _holders or _holders[0].comm is None:
        import ipywidgets
        import traitlets
        from plotly.offline import get_plotlyjs_version

        class PlotlyWidgetModule(ipywidgets.Widget):
            """plotly's anywidget module, a model without a view. Its text (5 MB) is sent only when
            a page asks for it: a page served by voila with the repository's voila.json has
            already loaded the module from the server, and uses it if its plotly.js is this
            kernel's (``plotlyjs_version``)."""

            text = traitlets.Unicode().tag(sync=True)
            plotlyjs_version = traitlets.Unicode().tag(sync=True)

            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.on_msg(self._answer)

            def _answer(self, _widget, content, _buffers):
                if isinstance(content, dict) and content.get("xanesviz") == "module-text" and not self.text:
                    import plotly.graph_objects as go

                    self.text = str(go.FigureWidget._esm)

        if _under_voila():
            link_widget_module()  # for the next page: this one asked for it as it arrived
        _holders[:] = [PlotlyWidgetModule(plotlyjs_version=get_plotlyjs_version())]
    return _holders[0]


def figure_widget_class() -> type:
    """A ``plotly.graph_objects.FigureWidget`` subclass whose plotly.js the page evaluates once
    for all figures; imported without nbformat."""
    if "FigureWidget" not in _classes:
        _import_renderers_without_nbformat()
        import ipywidgets
        import plotly.graph_objects as go
        import traitlets

        class FigureWidget(go.FigureWidget):
            """plotly's FigureWidget; its browser module is shared by all figures of a page, and an
            animation (``batch_animate``, the dashboard's traces-only redraw of a drag position)
            reaches the page as one message."""

            _esm = SHARED_LOADER
            _plotly_module = traitlets.Instance(ipywidgets.Widget).tag(sync=True, **ipywidgets.widget_serialization)

            @traitlets.default("_plotly_module")
            def _shared_module(self):
                return _module_holder()

            def _send_animate_msg(self, styles_data, relayout_data, trace_indexes, animation_opts):
                # plotly sends an animation as four trait changes (the animation, its reset to
                # None, and two edit counters), each a message through the server, and the page
                # answers with the defaults plotly.js filled in; one custom message does the same
                # redraw. The figure's Python state is already updated by plotly.
                self.send({"xanesviz": "animate", "data": styles_data, "layout": relayout_data,
                           "traces": self._normalize_trace_indexes(trace_indexes), "options": animation_opts})

        _classes["FigureWidget"] = FigureWidget
    return _classes["FigureWidget"]
