"""The 3D viewer: nglview with mouse dragging of atoms.

nglview has no atom dragging. ``DraggableViewer`` runs a little JavaScript in the NGL view:
on a left press it picks the atom under the pointer (``stage.pickingControls.pick``); while
an atom is held the left-drag action moves it in the screen plane with
``trackballControls.panAtom`` (dragging empty space still rotates); the new position goes to
Python through the synced ``drag_event`` trait at most every 100 ms, and only once Python has
finished with the previous one (it answers through ``drag_ack``); a position that has to wait
is replaced by newer moves and sent when both allow, so a held atom's last position always
arrives. The release is always sent.
"""

from __future__ import annotations

import json

import numpy as np
import nglview
from traitlets import Bool, Dict, Int

DRAG_JS = r"""
(function (view) {
  if (view._xvDragInstalled) { return; }
  view._xvDragInstalled = true;
  const stage = view.stage;
  const canvas = stage.viewer.renderer.domElement;
  const tc = stage.trackballControls;
  // At most one position in flight: the next is sent once Python acknowledges the previous
  // (drag_ack, after its update is done) and at least MIN_INTERVAL ms after it; until then
  // newer moves replace the waiting position (never a queue of stale ones). A lost
  // acknowledgement (a kernel restart) holds sending back for ACK_TIMEOUT ms at most.
  const MIN_INTERVAL = 100, ACK_TIMEOUT = 1000;
  let held = null, last = -1e9, seq = 0, timer = null, inflight = null, waiting = false;
  // The atom that panAtom moves: NGL 2 reads trackballControls.atom/.component through getters
  // from stage.transformAtom/.transformComponent (assigning to the getters throws).
  // While an atom is held, no hover picking: NGL (hoverTimeout 0) otherwise renders its picking
  // buffer and reads it back after every pointer move, for a tooltip nobody sees mid-drag;
  // with software WebGL that read-back held each move up by tens of ms.
  const observer = stage.mouseObserver, hoverTimeout = observer.hoverTimeout;
  function grab(atom, component) {
    stage.transformAtom = atom; stage.transformComponent = component;
    observer.setParameters({hoverTimeout: atom ? -1 : hoverTimeout});
    if (view._xvSoftwareGL) {   // see SOFTWARE_FRAME_MS below
      const ratio = (window.devicePixelRatio || 1) * (atom ? SOFTWARE_HELD_RESOLUTION : 1);
      if (stage.viewer.renderer.getPixelRatio() !== ratio) {
        stage.viewer.renderer.setPixelRatio(ratio);
        stage.viewer.requestRender();
      }
      if (!atom && view._xvWakeLoops) { view._xvWakeLoops(); }  // they sleep while an atom is held
    }
  }
  function send(final) {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    waiting = false;
    if (!held) { return; }
    const a = held.atom;
    last = performance.now();
    inflight = ++seq;
    view.model.set('drag_event', {index: a.index, position: [a.x, a.y, a.z], final: final, seq: seq});
    view.model.save_changes();
  }
  function later(ms) {
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(function () { timer = null; sendWaiting(); }, ms);
  }
  function sendWaiting() {
    if (!held || !waiting) { return; }
    const since = performance.now() - last;
    if (inflight !== null && since < ACK_TIMEOUT) { later(ACK_TIMEOUT - since); return; }
    if (since < MIN_INTERVAL) { later(MIN_INTERVAL - since); return; }
    send(false);
  }
  // With software WebGL (no GPU: SwiftShader, llvmpipe) one frame of the 3D view costs tens of
  // ms of CPU, which on a small server the kernel, the spectrum's redraw and other visitors need:
  // while an atom is held, the view is drawn at most every SOFTWARE_FRAME_MS there (a GPU draws
  // every frame, as before; the spectrum answers at most every MIN_INTERVAL anyway), and at
  // SOFTWARE_HELD_RESOLUTION of its resolution (an eighth of the pixels to shade; full resolution
  // again on release). The positions sent to Python are not delayed: every move still moves the
  // atom at once; only its drawing waits.
  const SOFTWARE_FRAME_MS = 100, SOFTWARE_HELD_RESOLUTION = 0.35, viewer = stage.viewer;
  view._xvSoftwareGL = (function () {
    try {
      const gl = viewer.renderer.getContext(), info = gl.getExtension('WEBGL_debug_renderer_info');
      return /swiftshader|llvmpipe|software/i.test(String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)));
    } catch (e) { return false; }
  })();
  if (view._xvSoftwareGL) {
    const requestRender = viewer.requestRender.bind(viewer), render = viewer.render.bind(viewer);
    let lastFrame = -1e9, frameTimer = null;
    viewer.render = function (...args) { lastFrame = performance.now(); return render(...args); };
    viewer.requestRender = function () {
      if (!held) { return requestRender(); }
      const wait = SOFTWARE_FRAME_MS - (performance.now() - lastFrame);
      if (wait <= 0) { return requestRender(); }
      if (frameTimer === null) {
        frameTimer = setTimeout(function () { frameTimer = null; viewer.requestRender(); }, wait);
      }
    };
    // NGL also runs two animation-frame loops for ever, the viewer's ticks (camera animations,
    // the still frame after a change) and the mouse observer's hover watch: a page at rest then
    // draws 60 frames a second, about 8 % of a core with software compositing. Here both loops
    // sleep while nothing needs them and wake with the next pointer event over the view, render
    // request or camera animation. While an atom is held they sleep too (no hover, no still
    // frame mid-drag; its frames come from render requests): otherwise the page would go through
    // a frame at every display refresh of the drag, most of them with nothing to draw.
    const animations = stage.animationControls, tick = viewer.animate, listen = observer._listen;
    let ticking = true, listening = true;
    const wake = function () {
      if (held && animations.animationList.every(a => a.paused)) { return; }
      if (!ticking) { ticking = true; viewer.frameRequest = window.requestAnimationFrame(viewer.animate); }
      if (!listening) { listening = true; observer.frameRequest = window.requestAnimationFrame(observer._listen); }
    };
    const resting = function () {  // NGL's spin and rock animations wait, paused, in the list
      return (held || (viewer.isStill && !viewer.renderPending)) && animations.animationList.every(a => a.paused);
    };
    const wakeOnResume = function (animation) {
      const resume = animation.resume;
      animation.resume = function () { const out = resume.apply(animation, arguments); wake(); return out; };
    };
    animations.animationList.forEach(wakeOnResume);
    viewer.animate = function () {
      if (resting()) {
        ticking = false;
        return;
      }
      tick.call(viewer);
    };
    observer._listen = function () {
      if (held || (!observer.overElement && !observer.moving && !observer.doubleClickPending && !observer.scrolled)) {
        listening = false;
        return;
      }
      listen.call(observer);
    };
    const limitedRequest = viewer.requestRender, addAnimation = animations.add;
    viewer.requestRender = function () { limitedRequest(); wake(); };
    animations.add = function (animation) {
      const added = addAnimation.call(animations, animation);
      wakeOnResume(animation);
      wake();
      return added;
    };
    for (const type of ['pointerover', 'pointermove', 'pointerdown', 'wheel']) {
      canvas.addEventListener(type, wake, {passive: true});
    }
    view._xvLoopsAwake = function () { return [ticking, listening]; };
    view._xvWakeLoops = wake;
  }
  view.model.on('change:drag_ack', function () {
    if (inflight !== null && view.model.get('drag_ack') >= inflight) { inflight = null; sendWaiting(); }
  });
  view._xvPickAt = function (x, y) {   // canvas CSS pixels, y from the bottom (NGL convention)
    const pp = stage.pickingControls.pick(x, y);
    return (pp && pp.atom) ? pp : null;
  };
  canvas.addEventListener('pointerdown', function (ev) {
    if (ev.button !== 0) { return; }
    const box = canvas.getBoundingClientRect();
    const pp = view._xvPickAt(ev.clientX - box.left, box.height - (ev.clientY - box.top));
    if (pp) {
      const atom = pp.component.structure.getAtomProxy(pp.atom.index);
      held = {atom: atom, component: pp.component};
      inflight = null; waiting = false;
      grab(atom, pp.component);
      view.model.set('selected_atom', pp.atom.index);
      view.model.save_changes();
    } else {
      held = null; grab(undefined, undefined);
    }
  }, true);
  window.addEventListener('pointerup', function () {
    if (held) { send(true); held = null; grab(undefined, undefined); }
  }, true);
  stage.mouseControls.remove('drag-left');
  stage.mouseControls.add('drag-left', function (stage, dx, dy) {
    if (held) {
      tc.panAtom(dx, dy);
      waiting = true;
      sendWaiting();
    } else {
      tc.rotate(dx, dy);
    }
  });
  canvas._xvView = view;
  canvas.setAttribute('data-xanesviz-drag', 'ready');
  if (!view.model.get('drag_ready')) { view.model.set('drag_ready', true); view.model.save_changes(); }
})(this);
"""


#: ase.io's PDB ATOM record (``ase.io.proteindatabank``): serial, name, residue, residue number,
#: x, y, z, occupancy, B-factor, element.
PDB_ATOM = "ATOM  %5d %4s %4s %4d    %8.3f%8.3f%8.3f%6.2f%6.2f          %2s  \n"


def pdb_text(atoms) -> str:
    """The structure as PDB text for the viewer, laid out as ase.io writes it, but without
    importing ase.io (0.45 s, pulling in much of scipy: a large share of a cold start) and in the
    structure's own frame (ase.io turns a periodic cell to its standard orientation, which
    would show atoms where the drags, in the structure's frame, do not put them)."""
    records = [PDB_ATOM % ((k + 1) % 100000, symbol, "MOL ", 1, x, y, z, 1.0, 0.0, symbol.upper())
               for k, (symbol, (x, y, z)) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions))]
    return "MODEL     1\n" + "".join(records) + "ENDMDL\n"


class DraggableViewer(nglview.NGLWidget):
    """An NGLWidget whose atoms can be dragged with the mouse; positions come back via traits."""

    drag_event = Dict().tag(sync=True, echo_update=False)  # the page needs no echo of what it sent
    #: The ``seq`` of the last drag position Python has finished with (it may have skipped
    #: older ones); the page sends the next position only after this.
    drag_ack = Int(0).tag(sync=True)
    selected_atom = Int(-1).tag(sync=True)
    #: Set by the page once its view shows a structure whose atoms can be dragged.
    drag_ready = Bool(False).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_class("xanesviz-viewer")
        self.layout.width = "100%"
        self.layout.height = "480px"

    def show_atoms(self, atoms) -> None:
        """Replace the shown structure (ball and stick, atom labels off) and install dragging."""
        for component_id in list(self._ngl_component_ids):
            self.remove_component(component_id)
        self.add_component(nglview.TextStructure(pdb_text(atoms), ext="pdb"), default_representation=False)
        self.add_ball_and_stick()
        self.center()
        self._execute_js_code(DRAG_JS)

    def set_positions(self, positions: np.ndarray) -> None:
        """Move the shown atoms (same atoms, new coordinates) without reloading the structure."""
        self.set_coordinates({0: np.asarray(positions, np.float32)})

    def color_atoms(self, colors: list[str] | None) -> None:
        """Colour atom i with colors[i] ('#rrggbb'), or back to element colours with None."""
        payload = "null" if colors is None else json.dumps(list(colors))
        # fire_once: not kept in nglview's message archive (which would grow with every drag update).
        self._remote_call("executeCode", target="Widget", args=[COLOUR_JS.replace("COLOURS", payload)], fire_once=True)


COLOUR_JS = r"""
(function (view, colours) {
  let tries = 0;
  view._xvColourRequest = (view._xvColourRequest || 0) + 1;
  const request = view._xvColourRequest;
  function apply() {
    if (request !== view._xvColourRequest) { return; }  // a newer colouring superseded this one
    const comps = view.stage.compList;
    const comp = comps[comps.length - 1];
    const ready = comp && comp.reprList.length > 0 && comp.structure &&
                  (colours === null || comp.structure.atomCount === colours.length);
    if (!ready) { if (tries++ < 50) { setTimeout(apply, 100); } return; }
    const canvas = view.stage.viewer.renderer.domElement;
    if (colours === null) {
      comp.reprList.forEach(function (r) { r.setParameters({colorScheme: 'element'}); });
      view._xvColours = null;
      canvas.setAttribute('data-xanesviz-colouring', 'element');
      return;
    }
    const ints = colours.map(function (c) { return parseInt(c.slice(1), 16); });
    const id = NGL.ColormakerRegistry.addScheme(function () {
      this.atomColor = function (atom) { const c = ints[atom.index]; return c === undefined ? 0x808080 : c; };
    }, 'xanesviz-sensitivity');
    if (view._xvScheme) { NGL.ColormakerRegistry.removeScheme(view._xvScheme); }
    view._xvScheme = id;
    comp.reprList.forEach(function (r) { r.setParameters({colorScheme: id}); });
    view._xvColours = colours;
    canvas.setAttribute('data-xanesviz-colouring', 'sensitivity');
  }
  apply();
})(this, COLOURS);
"""
