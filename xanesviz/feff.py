"""FEFF10 XANES of a structure: the absorber's cluster -> feff.inp -> the feff10 pipeline -> a Spectrum.

The cluster is cut with :func:`xanesviz.structure.cut_cluster` (periodic images included), with
one potential per element and the absorber as potential 0. FEFF runs through ``feff10``
(feff10-rs), each stage in a worker process of its own; its absolute energies (the ``omega``
column of xmu.dat) are kept and ``mu`` is resampled onto the edge's grid (xraydb's K-edge
energy -15 to +60 eV, 226 points), holding FEFF's first (last) value below (above) its range.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from . import packed
from .errors import StructureError, XanesvizError
from .spectrum import Spectrum
from .structure import choose_absorber, cut_cluster, default_absorber

#: The FEFF stages a XANES calculation with these cards needs, in order. The default pipeline
#: also runs dmdw, ldos, crpa, opconsat, sfconv, compton, eels and rhorrp, which do nothing
#: without their own cards (xmu.dat is byte-identical without them) and cost ~0.5 s each.
STAGES = ("rdinp", "atomic", "pot", "screen", "xsph", "fms", "mkgtr", "path", "genfmt", "ff2x")

#: glibc malloc settings for FEFF's stage processes. FEFF allocates and frees arrays of tens of MB
#: over and over (the pot stage of some Cu complexes: 21 MB twice, about 200 times a second); by
#: default glibc maps each afresh and returns it to the system when freed, and the kernel then
#: spends its time zeroing pages: 99 s of system time in a 184 s run. Kept in the process instead,
#: the same run took 85 s, with byte-identical xmu.dat (``benchmarks/feff_malloc.py``, docs/feff.md).
STAGE_MALLOC_TUNABLES = ("glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824:"
                         "glibc.malloc.top_pad=67108864")


def _tune_stage_malloc() -> None:
    """Have the stage processes that feff10 starts from now on use :data:`STAGE_MALLOC_TUNABLES`
    (they inherit this process's environment), unless malloc tunables are already set; only
    programs started later read the variable (no effect on other C libraries than glibc's)."""
    current = os.environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc." not in current:
        os.environ["GLIBC_TUNABLES"] = f"{current}:{STAGE_MALLOC_TUNABLES}" if current else STAGE_MALLOC_TUNABLES


#: FEFF's small files worth keeping (the run's binary files are several MB and are not kept).
KEPT_FILES = ("feff.inp", "xmu.dat", "convergence.scf", "feff.out", "list.dat", "paths.dat")
#: First-row transition metals: the default absorber is the structure's one such element.
#: The grid: the edge energy -15 eV to +60 eV in 226 points (1/3 eV steps), as the Fe K model's.
GRID_BELOW_EV, GRID_ABOVE_EV, GRID_POINTS = 15.0, 60.0, 226


class FeffError(XanesvizError):
    """A FEFF10 calculation that failed: the message names the structure and the stage."""

    def __init__(self, source: str, stage: str, reason: str):
        self.source, self.stage, self.reason = source, stage, reason
        super().__init__(f"{source}: FEFF10 {stage} stage failed: {reason}")


class FeffInputError(FeffError, StructureError):
    """A structure that cannot become a FEFF input (no absorber, atoms on top of each other...)."""

    def __init__(self, source: str, reason: str):
        self.source, self.stage, self.reason = source, "input", reason
        XanesvizError.__init__(self, f"{source}: FEFF10 input: {reason}")


class FeffCancelled(FeffError):
    """The calculation was cancelled through the ``cancel`` hook."""


class FeffInterrupted(FeffError):
    """A stage's process was killed by a signal from outside FEFF (a stopped run, the machine
    short of memory): the structure was not computed, which is not FEFF failing on it."""


def _number(value: float) -> str:
    """FEFF-card style: 5.0, 3.5, 0.07."""
    return f"{value:.1f}" if round(value, 1) == value else f"{value:g}"


@dataclass(frozen=True)
class FeffSettings:
    """FEFF10 cards of a XANES calculation and the cluster radius; the defaults are the reference.

    ``scf_radius=None`` leaves SCF out (non-self-consistent potentials); ``corehole`` is
    FEFF's COREHOLE card (RPA, FSR or NONE).
    """

    name: str = "reference"
    edge: str = "K"
    s02: float = 1.0
    corehole: str = "RPA"
    scf_radius: float | None = 3.5
    fms_radius: float = 5.0
    xanes: tuple = (4.0, 0.07, 0.0)
    cluster_radius: float = 6.0

    def __post_init__(self):
        if self.edge != "K":
            raise XanesvizError(f"FEFF settings '{self.name}': edge {self.edge!r} is not supported (K only)")
        if self.corehole.upper() not in ("RPA", "FSR", "NONE"):
            raise XanesvizError(f"FEFF settings '{self.name}': COREHOLE {self.corehole!r} is not RPA, FSR or NONE")
        radii = [self.fms_radius, self.cluster_radius] + ([] if self.scf_radius is None else [self.scf_radius])
        if not all(np.isfinite(r) and r > 0 for r in radii) or len(self.xanes) != 3:
            raise XanesvizError(f"FEFF settings '{self.name}': radii must be positive and XANES three numbers")
        object.__setattr__(self, "xanes", tuple(float(v) for v in self.xanes))

    def cards(self) -> list[str]:
        """The cards besides EDGE, S02, POTENTIALS and ATOMS, as written to feff.inp."""
        cards = [f"COREHOLE {self.corehole.upper()}"]
        if self.scf_radius is not None:
            cards.append(f"SCF {_number(self.scf_radius)}")
        cards.append(f"FMS {_number(self.fms_radius)}")
        cards.append("XANES " + " ".join(_number(v) for v in self.xanes))
        return cards

    def describe(self) -> str:
        """One line: ``EDGE K; S02 1.0; COREHOLE RPA; SCF 3.5; FMS 5.0; XANES 4.0 0.07 0.0; atoms within 6 Å``."""
        cards = [f"EDGE {self.edge}", f"S02 {_number(self.s02)}"] + self.cards()
        if self.scf_radius is None:
            cards.insert(3, "no SCF")
        return "; ".join(cards) + f"; atoms within {self.cluster_radius:g} Å"

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "FeffSettings":
        return cls(**{k: (tuple(v) if k == "xanes" else v) for k, v in values.items()})


#: Named settings. ``reference`` is used for every data set the project ships; ``no-scf`` and
#: ``large-scf`` are compared with it in ``benchmarks/feff_settings.py``; ``fast`` (no SCF, no
#: core hole, small FMS radius) is for tests and smoke runs only: its spectra are not data.
SETTINGS = {
    "reference": FeffSettings(),
    "no-scf": FeffSettings(name="no-scf", scf_radius=None),
    "large-scf": FeffSettings(name="large-scf", scf_radius=5.0),
    "fast": FeffSettings(name="fast", corehole="NONE", scf_radius=None, fms_radius=3.0, cluster_radius=4.0),
}
REFERENCE = SETTINGS["reference"]


def get_settings(settings: "str | FeffSettings") -> FeffSettings:
    if isinstance(settings, FeffSettings):
        return settings
    if settings not in SETTINGS:
        raise XanesvizError(f"unknown FEFF settings '{settings}' (known: {', '.join(SETTINGS)})")
    return SETTINGS[settings]


def edge_grid(element: str, edge: str = "K") -> np.ndarray:
    """The element's edge energy (xraydb) -15 eV to +60 eV, 226 points (Fe K: 7097-7172 eV)."""
    import xraydb

    e0 = float(xraydb.xray_edge(element, edge).energy)
    return np.linspace(e0 - GRID_BELOW_EV, e0 + GRID_ABOVE_EV, GRID_POINTS)


def feff_input(atoms: Atoms, absorber: int | str | None = None, settings: "str | FeffSettings" = REFERENCE,
               source: str = "structure"):
    """The ``feff10.FeffInput`` of the absorber's cluster (atoms within ``settings.cluster_radius``).

    Potentials: 0 the absorber, then one per element of the other atoms, by atomic number.
    Raises :class:`FeffInputError` for no absorber, atoms on top of each other or an empty cluster.
    """
    import feff10

    settings = get_settings(settings)
    try:
        index = default_absorber(atoms, absorber, source)
        cluster = cut_cluster(atoms, index, settings.cluster_radius, source)
    except StructureError as exc:
        reason = str(exc)
        raise FeffInputError(source, reason[len(source) + 2:] if reason.startswith(source + ": ") else reason) from None
    if len(cluster.numbers) == 0:
        raise FeffInputError(source, f"no atoms within {settings.cluster_radius:g} Å of the absorber")
    absorber_symbol = chemical_symbols[cluster.absorber_number]
    elements = sorted(set(int(z) for z in cluster.numbers))
    ipot = {z: i + 1 for i, z in enumerate(elements)}
    potentials = [feff10.Potential(ipot=0, z=cluster.absorber_number, tag=absorber_symbol)]
    potentials += [feff10.Potential(ipot=ipot[z], z=z, tag=chemical_symbols[z]) for z in elements]
    order = np.argsort(cluster.distances, kind="stable")
    atom_cards = [feff10.Atom(x=0.0, y=0.0, z=0.0, ipot=0, tag=absorber_symbol, distance=0.0)]
    for k in order:
        x, y, z = (float(v) for v in cluster.vectors[k])
        number = int(cluster.numbers[k])
        atom_cards.append(feff10.Atom(x=x, y=y, z=z, ipot=ipot[number], tag=chemical_symbols[number],
                                      distance=float(cluster.distances[k])))
    title = re.sub(r"[^\x20-\x7e]", "?", f"{source} {absorber_symbol} {settings.edge} xanesviz")[-70:]
    return feff10.FeffInput(title=[title], edge=settings.edge, s02=settings.s02, potentials=potentials,
                            atoms=atom_cards, other_cards=settings.cards())


@dataclass(frozen=True)
class FeffProgress:
    """One progress event: a stage starting or finished (``stage_seconds`` set when finished)."""

    stage: str
    kind: str  # "starting" | "finished"
    index: int  # 0-based position of the stage in STAGES
    n_stages: int
    elapsed: float  # seconds since the calculation started
    stage_seconds: float | None = None


_stdout_lock = threading.Lock()
_stdout_depth = 0
_stdout_saved: int | None = None


@contextlib.contextmanager
def _stdout_to(path: Path):
    """Send file descriptor 1 (FEFF's workers print there) to ``path`` while FEFF runs.

    The redirection is per process: concurrent runs in one process share the first one's file.
    """
    global _stdout_depth, _stdout_saved
    with _stdout_lock:
        if _stdout_depth == 0:
            try:
                sys.stdout.flush()
                saved = os.dup(1)
                target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(target, 1)
                os.close(target)
                _stdout_saved = saved
            except (OSError, ValueError):
                _stdout_saved = None
        _stdout_depth += 1
    try:
        yield
    finally:
        with _stdout_lock:
            _stdout_depth -= 1
            if _stdout_depth == 0 and _stdout_saved is not None:
                os.dup2(_stdout_saved, 1)
                os.close(_stdout_saved)
                _stdout_saved = None


def _own_children() -> list[int] | None:
    """Process ids of this process's children, from each thread's /proc children list (a few
    small reads, where scanning all of /proc costs milliseconds and holds the GIL in between:
    the watcher does it five times a second beside a live dashboard); None where the kernel
    does not offer the lists."""
    children = []
    try:
        for task in Path("/proc/self/task").iterdir():
            with contextlib.suppress(ProcessLookupError, NotADirectoryError):
                children += [int(pid) for pid in (task / "children").read_text().split()]
    except OSError:
        return None
    return children


def _stage_workers(work_dir: str) -> list[int]:
    """Process ids of this process's feff10 stage workers running in ``work_dir``."""
    marker = f"FEFF10_WORKER_DIR={work_dir}".encode()
    children = _own_children()
    if children is None:  # no children lists: every process whose parent is this one
        children = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                    children.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    found = []
    for pid in children:
        try:
            if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                found.append(pid)
        except OSError:
            continue
    return found


def _kill_stage_workers(work_dir: str) -> int:
    """Kill this process's feff10 stage workers running in ``work_dir``; returns how many."""
    killed = 0
    for pid in _stage_workers(work_dir):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except OSError:
            continue
    return killed


def _lower_priority(work_dir: str, niceness: int, done: set[int], idle: bool = False) -> None:
    """Raise the niceness of stage workers in ``work_dir`` not yet in ``done`` (added to it);
    ``idle``: also put them in Linux's SCHED_IDLE class (where the OS has it)."""
    for pid in _stage_workers(work_dir):
        if pid not in done:
            done.add(pid)
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, max(niceness, os.getpriority(os.PRIO_PROCESS, pid)))
            if idle and hasattr(os, "SCHED_IDLE"):
                with contextlib.suppress(OSError):
                    os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))


def _last_lines(path: Path, n: int = 3) -> list[str]:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    except OSError:
        return []
    noise = re.compile(r"^(Energy point|Launching FEFF|Done with module|Calculating|Preparing|Searching|Eliminating|"
                       r"Computing|Using|point #|Core-valence|nph=|MKGTR|Pathfinder|Iteration|electronic_temperature|"
                       r"Mixing|Calculating energy)", re.I)
    junk = re.compile(r"^[A-Z0-9]*-?$")  # FEFF's module tags such as 'RDINP-' and stop codes
    return [line for line in lines if line and not noise.match(line) and not junk.match(line)][-n:]


def _failure_reason(work_dir: Path, exc: BaseException) -> tuple[str, str]:
    """(stage, one-line reason) of a failed pipeline, from feff10's message and FEFF's last words."""
    message = str(exc)
    match = re.search(r"stage '(\w+)'", message)
    stage = match.group(1) if match else "pipeline"
    code = re.search(r"exit code: (-?\d+)", message)
    if code:
        reason = f"exit code {code.group(1)}"
    elif "timed out" in message or "timeout" in message.lower():
        reason = "timed out"
    else:
        first = message.split(".feff.error")[0].strip().splitlines()
        reason = first[0].strip() if first else type(exc).__name__
    logs = sorted(work_dir.glob("log*.dat"), key=lambda p: p.stat().st_mtime)
    words = _last_lines(work_dir / "feff.out") or (_last_lines(logs[-1]) if logs else [])
    if words:
        reason += "; FEFF says: " + " / ".join(words)
    return stage, " ".join(reason.split())[:400]


def scf_last_row(work_dir: Path) -> list[str] | None:
    """The last row of FEFF's convergence.scf (iteration, Fermi level in eV, ..., converged 0/1; also
    read packed, as a data set keeps it), split into fields; None when FEFF wrote none or no row."""
    path = packed.find(Path(work_dir) / "convergence.scf")
    if path is None:
        return None
    try:
        rows = [line.split() for line in packed.read_text(path, errors="replace").splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    except (OSError, EOFError):
        return None
    return rows[-1] if rows else None


def _scf_converged(work_dir: Path) -> tuple[bool, int] | None:
    """(converged, iterations) from convergence.scf, or None when FEFF wrote none."""
    row = scf_last_row(work_dir)
    try:
        return row[-1] == "1", int(row[0])
    except (TypeError, IndexError, ValueError):
        return None


#: The range a K-edge mu of xmu.dat (normalised at the edge + 50 eV) may span. Over the project's
#: 3900 FEFF10 spectra it ran from 0.007 to 3.97; FEFF once wrote -4861 to -65 for a [Ti(H2O)6]3+
#: it reported as finished (data/feff-architector/README.md).
MU_RANGE = (-0.5, 20.0)


def read_xmu(path: Path, source: str = "structure") -> tuple[np.ndarray, np.ndarray]:
    """FEFF's absolute energies (``omega``) and ``mu`` from xmu.dat; FeffError when absent, broken,
    or when mu leaves :data:`MU_RANGE` (FEFF finished, but its spectrum is not one)."""
    import feff10

    if not path.is_file():
        raise FeffError(source, "ff2x", "FEFF wrote no xmu.dat")
    try:
        table = feff10.FeffTable.from_file(str(path))
        omega, mu = np.asarray(table.column(0), float), np.asarray(table.column(3), float)
    except (feff10.FeffError, IndexError, ValueError) as exc:
        raise FeffError(source, "ff2x", f"xmu.dat cannot be read ({exc})") from None
    if len(omega) < 2 or not (np.all(np.isfinite(omega)) and np.all(np.isfinite(mu))) or np.any(np.diff(omega) <= 0):
        raise FeffError(source, "ff2x", "xmu.dat has fewer than two rows, non-finite values or unsorted energies")
    low, high = MU_RANGE
    if mu.min() < low or mu.max() > high:
        raise FeffError(source, "ff2x", f"xmu.dat's mu runs from {mu.min():.4g} to {mu.max():.4g}, not a K-edge "
                                        f"spectrum normalised at the edge + 50 eV (allowed {low:g} to {high:g}): "
                                        "FEFF's normalisation failed")
    return omega, mu


def to_grid(omega: np.ndarray, mu: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, int, int]:
    """``mu`` on ``grid``; below (above) FEFF's range its first (last) value. Returns (values, n_below, n_above)."""
    return np.interp(grid, omega, mu), int(np.sum(grid < omega[0])), int(np.sum(grid > omega[-1]))


def _children_cpu() -> float:
    """CPU seconds of this process's finished child processes (FEFF's stage workers)."""
    try:
        import resource

        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    except (ImportError, OSError):
        return float("nan")


def run_feff(atoms: Atoms, absorber: int | str | None = None, settings: "str | FeffSettings" = REFERENCE, *,
             source: str = "structure", output_dir: str | os.PathLike | None = None,
             progress: Callable[[FeffProgress], None] | None = None,
             cancel: "threading.Event | Callable[[], bool] | None" = None,
             stage_timeout: float | None = None, quiet: bool = True, niceness: int = 0,
             idle: bool = False) -> Spectrum:
    """FEFF10 XANES of ``atoms`` around ``absorber`` as a :class:`Spectrum` on :func:`edge_grid`.

    FEFF runs in a temporary folder; ``output_dir`` (created) receives its small files
    (:data:`KEPT_FILES` and the log*.dat), on failure too. ``progress`` gets a
    :class:`FeffProgress` at each stage's start and end. ``cancel`` (an Event or a callable)
    is polled while FEFF runs: when set, the running stage's worker is killed and
    :class:`FeffCancelled` raised. ``stage_timeout`` (s) bounds each stage. ``quiet`` sends
    FEFF's console output to ``feff.out`` in the run's folder instead of standard output.
    ``niceness`` > 0 runs the stage workers at that lower CPU priority (the dashboard's runs:
    the live drag loop comes first); ``idle`` also puts them in Linux's SCHED_IDLE class, so
    that they run only on a CPU nothing else wants, and the scheduler wakes other work on their
    CPU as on an idle one. Raises :class:`FeffInputError` or :class:`FeffError` (one line: structure and stage).
    """
    import feff10

    settings = get_settings(settings)
    inp = feff_input(atoms, absorber, settings, source)
    _tune_stage_malloc()
    index = default_absorber(atoms, absorber, source)
    element = chemical_symbols[int(atoms.numbers[index])]
    grid = edge_grid(element, settings.edge)
    cancelled = None if cancel is None else (cancel.is_set if hasattr(cancel, "is_set") else cancel)
    stage_seconds: dict[str, float] = {}
    start, cpu_start = time.perf_counter(), _children_cpu()

    def on_stage(stage, event):
        name = stage.executable_name
        if event.kind == "finished":
            stage_seconds[name] = float(event.duration_secs or 0.0)
        if cancelled is not None and cancelled():
            raise FeffCancelled(source, name, "cancelled")
        if progress is not None:
            position = STAGES.index(name) if name in STAGES else -1
            progress(FeffProgress(name, event.kind, position, len(STAGES), time.perf_counter() - start,
                                  stage_seconds.get(name) if event.kind == "finished" else None))

    with tempfile.TemporaryDirectory(prefix="xanesviz-feff-") as tmp:
        work_dir = Path(tmp).resolve()
        done = threading.Event()
        killed = threading.Event()

        reniced: set[int] = set()

        def watch():
            while not done.wait(0.2):
                if cancelled is not None and cancelled():
                    killed.set()
                    _kill_stage_workers(str(work_dir))
                if niceness > 0 or idle:
                    _lower_priority(str(work_dir), niceness, reniced, idle)

        watcher = None
        if cancelled is not None or niceness > 0 or idle:
            watcher = threading.Thread(target=watch, name="feff-cancel-watch", daemon=True)
            watcher.start()
        try:
            inp.write_to_file(str(work_dir / "feff.inp"))
            config = feff10.FeffConfig(str(work_dir), inp, stages=[feff10.Stage.from_name(s) for s in STAGES],
                                       stage_timeout=stage_timeout)
            redirect = _stdout_to(work_dir / "feff.out") if quiet else contextlib.nullcontext()
            try:
                with redirect:
                    feff10.FeffPipeline(config).run_with_progress(on_stage)
            except FeffCancelled:
                raise
            except feff10.FeffError as exc:
                if killed.is_set() or (cancelled is not None and cancelled()):
                    raise FeffCancelled(source, _failure_reason(work_dir, exc)[0], "cancelled") from None
                stage, reason = _failure_reason(work_dir, exc)
                killed_by = re.search(r"worker exited with signal: (\d+)(?: \((\w+)\))?", str(exc))
                if killed_by:
                    raise FeffInterrupted(source, stage, f"its process was killed by signal {killed_by.group(1)}"
                                          + (f" ({killed_by.group(2)})" if killed_by.group(2) else "")
                                          + " from outside FEFF") from None
                raise FeffError(source, stage, reason) from None
            if settings.scf_radius is not None:
                scf = _scf_converged(work_dir)
                if scf is not None and not scf[0]:
                    raise FeffError(source, "pot", f"SCF did not converge in {scf[1]} iterations")
            omega, mu = read_xmu(work_dir / "xmu.dat", source)
        finally:
            done.set()
            if watcher is not None:
                watcher.join()
            if output_dir is not None:
                keep = Path(output_dir)
                keep.mkdir(parents=True, exist_ok=True)
                for path in list(work_dir.glob("log*.dat")) + [work_dir / name for name in KEPT_FILES]:
                    if path.is_file() and path.stat().st_size < 5_000_000:
                        shutil.copy2(path, keep / path.name)

    values, n_below, n_above = to_grid(omega, mu, grid)
    seconds, cpu_seconds = time.perf_counter() - start, _children_cpu() - cpu_start
    n_cluster = inp.num_atoms
    meta = {
        "title": f"FEFF10 {element} {settings.edge}-edge XANES (ab initio)",
        "units": "energy eV (absolute, FEFF's omega), intensity FEFF's mu (xmu.dat, normalised at the edge + 50 eV)",
        "structure": source,
        "model": f"FEFF10 via feff10-rs {feff10.__version__}, settings '{settings.name}'",
        "edge": f"{element} {settings.edge}",
        "absorber": f"{element} (atom {index})",
        "feff_settings": settings.describe(),
        "cluster": f"{n_cluster} atoms within {settings.cluster_radius:g} Å of the absorber, "
                   f"{len(inp.potentials)} potentials (absorber 0, one per element)",
        "feff_range": f"FEFF's energies {omega[0]:.2f}-{omega[-1]:.2f} eV; grid points below its first energy hold "
                      f"its first value ({n_below} points), above its last its last value ({n_above} points)",
        "cluster_atoms": n_cluster,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "stage_seconds": ", ".join(f"{k} {v:.1f}" for k, v in stage_seconds.items()),
    }
    return Spectrum(grid, values, None, meta)


def align_to(spectrum: Spectrum, reference: Spectrum, max_shift_ev: float = 15.0) -> tuple[float, float, Spectrum]:
    """(shift eV, scale, aligned spectrum on the reference's grid) laying ``spectrum`` onto ``reference``.

    The shift maximises the Pearson correlation on the reference's grid (in its steps, within
    +-``max_shift_ev``); the scale is then the least-squares factor. FEFF's and FDMNES's energy
    zeros and intensity scales differ, so a FEFF spectrum is drawn beside a prediction this way.
    """
    energy, target = reference.energy, reference.mu
    step = float(np.median(np.diff(energy)))
    best = (-np.inf, 0.0, None)
    for shift in np.arange(-round(max_shift_ev / step), round(max_shift_ev / step) + 1) * step:
        moved = np.interp(energy - shift, spectrum.energy, spectrum.mu)
        if moved.std() > 0 and target.std() > 0:
            r = float(np.corrcoef(moved, target)[0, 1])
            if r > best[0]:
                best = (r, float(shift), moved)
    r, shift, moved = best
    if moved is None:
        raise XanesvizError("cannot align a flat spectrum")
    scale = float(moved @ target / (moved @ moved))
    meta = dict(spectrum.meta, alignment=f"shifted {shift:+.2f} eV and scaled x{scale:.3g} onto the prediction "
                                         f"(best correlation {r:.3f})")
    return shift, scale, Spectrum(energy, scale * moved, None, meta)
