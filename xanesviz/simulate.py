"""Many structures -> a training data set of FEFF10 spectra, resumable, on Dask distributed.

``DATA_DIR`` gets the layout the package trains on (``xyz/STEM.xyz``, ``spectra/STEM.txt``),
FEFF's small files per structure (``feff/STEM/``) and ``manifest.jsonl``, one JSON line per
finished structure, success or failure (a structure whose FEFF process was killed from outside,
as when a run is stopped, is neither: it is reported, not recorded, and computed by the next run). A structure whose spectrum exists is skipped: every
file is written under a temporary name and renamed into place, the spectrum last, so the
partial outputs of a killed run are never taken for finished ones.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterable, TextIO

from . import packed
from .errors import XanesvizError
from .feff import FeffSettings, get_settings

MANIFEST = "manifest.jsonl"
LOCK = ".simulate.lock"


def collect_structures(paths: Iterable[str | os.PathLike]) -> list[tuple[str, Path]]:
    """(stem, path) of every structure: files as given, directories' ``*.xyz`` files, sorted.

    Two structures with the same stem would overwrite each other's outputs: refused.
    """
    found: list[tuple[str, Path]] = []
    for entry in map(Path, paths):
        if entry.is_dir():
            files = sorted(p for p in entry.glob("*.xyz") if p.is_file())
            if not files:
                raise XanesvizError(f"{entry}: directory holds no *.xyz structure files")
            found.extend((p.stem, p) for p in files)
        elif entry.is_file():
            found.append((entry.stem, entry))
        else:
            raise XanesvizError(f"{entry}: no such file or directory")
    seen: dict[str, Path] = {}
    for stem, path in found:
        if stem in seen and seen[stem].resolve() != path.resolve():
            raise XanesvizError(f"{path}: same name '{stem}' as {seen[stem]}; their outputs would collide")
        seen[stem] = path
    return sorted(seen.items())


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _write_atomically(path: Path, text: str | None = None, source: Path | None = None) -> None:
    """Write ``text`` (or copy ``source``) to a temporary name beside ``path``, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if source is not None:
            shutil.copyfile(source, tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def spectrum_text(spectrum) -> str:
    """A ``spectra/STEM.txt`` file: ``#`` header (provenance, settings), then ``energy mu`` rows."""
    import numpy as np

    if not np.all(np.isfinite(spectrum.mu)):
        raise XanesvizError("refusing to write a spectrum with non-finite values")
    lines = [f"# {line}" for line in spectrum.header_lines()]
    lines.append("# energy_eV mu")
    lines += [f"{e:.4f}  {m:.8e}" for e, m in zip(spectrum.energy, spectrum.mu)]
    return "\n".join(lines) + "\n"


def _finished_record(out: Path, stem: str, feff_settings: str) -> dict | None:
    """The record of a structure whose spectrum is already written with these settings, else None."""
    try:
        record = json.loads((out / "feff" / stem / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    done = record.get("status") == "ok" and record.get("feff_settings") == feff_settings
    return record if done and packed.exists(out / "spectra" / f"{stem}.txt") else None


def simulate_one(stem: str, path: str, out_dir: str, absorber=None, settings: dict | None = None,
                 stage_timeout: float | None = None) -> dict:
    """Compute one structure's spectrum into ``out_dir``; never raises: returns its manifest record."""
    from .feff import REFERENCE, FeffInterrupted, FeffSettings, run_feff
    from .structure import read_structure

    settings = REFERENCE if settings is None else FeffSettings.from_dict(settings)
    out, path = Path(out_dir), Path(path)
    done = _finished_record(out, stem, settings.describe())
    if done is not None:  # computed already (Dask reruns a task whose result a lost worker held)
        return done
    record = {"stem": stem, "source": str(path), "settings": settings.name, "feff_settings": settings.describe(),
              "host": socket.gethostname(), "pid": os.getpid()}
    feff_tmp = out / "feff" / f".{stem}.{uuid.uuid4().hex[:8]}.tmp"
    start = time.perf_counter()
    try:
        atoms = read_structure(path)
        record["n_atoms"] = len(atoms)
        spectrum = run_feff(atoms, absorber, settings, source=stem, output_dir=feff_tmp, stage_timeout=stage_timeout)
        record.update(status="ok", cluster_atoms=spectrum.meta["cluster_atoms"], absorber=spectrum.meta["absorber"],
                      cpu_seconds=spectrum.meta["cpu_seconds"], stage_seconds=spectrum.meta["stage_seconds"])
    except FeffInterrupted as exc:
        record.update(status="interrupted", stage=exc.stage, error=str(exc))
        spectrum = None
    except XanesvizError as exc:
        record.update(status="failed", stage=getattr(exc, "stage", "input"), error=str(exc))
        spectrum = None
    except Exception as exc:  # noqa: BLE001 - a failure must not stop the run; it is recorded
        first = (str(exc).strip().splitlines() or [""])[0]
        record.update(status="failed", stage="unexpected", error=f"{stem}: {type(exc).__name__}: {first}"[:400])
        spectrum = None
    record["seconds"] = round(time.perf_counter() - start, 1)
    record["finished"] = _now()
    if record["status"] == "interrupted":
        shutil.rmtree(feff_tmp, ignore_errors=True)
        return record
    try:
        feff_tmp.mkdir(parents=True, exist_ok=True)
        (feff_tmp / "result.json").write_text(json.dumps(record) + "\n", encoding="utf-8")
        final = out / "feff" / stem
        if final.exists():
            shutil.rmtree(final)
        os.replace(feff_tmp, final)
        if spectrum is not None:
            xyz = out / "xyz" / f"{stem}.xyz"
            if path.suffix.lower() == ".xyz":
                _write_atomically(xyz, source=path)
            else:
                import ase.io

                tmp = xyz.with_name(f".{xyz.name}.{uuid.uuid4().hex[:8]}.tmp")
                ase.io.write(tmp, atoms, format="extxyz")
                os.replace(tmp, xyz)
            _write_atomically(out / "spectra" / f"{stem}.txt", spectrum_text(spectrum))
    except OSError as exc:
        record.update(status="failed", stage="writing", error=f"{stem}: cannot write outputs ({exc})")
    finally:
        if feff_tmp.exists():
            shutil.rmtree(feff_tmp, ignore_errors=True)
    return record


class _Lock:
    """``DATA_DIR/.simulate.lock`` holding the pid, so two runs never write one data set at once."""

    def __init__(self, out: Path):
        self.path = out / LOCK

    def __enter__(self):
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            try:
                pid = int(self.path.read_text().split()[0])
                os.kill(pid, 0)
            except (OSError, ValueError, IndexError):  # the run that held it is gone
                self.path.unlink(missing_ok=True)
                return self.__enter__()
            raise XanesvizError(f"{self.path.parent}: another simulate run (pid {pid}) is writing here "
                                f"(if it is not, remove {self.path})") from None
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()} {socket.gethostname()}\n")
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)


def read_manifest(out_dir: str | os.PathLike) -> list[dict]:
    """Every record of ``manifest.jsonl`` (a line cut short by a killed run is ignored)."""
    records = []
    path = Path(out_dir) / MANIFEST
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


#: What :func:`pack_feff_files` packs: FEFF's raw table, its input and its SCF record in ``feff/STEM/``,
#: and the spectrum and structure files the package trains on (every reader takes ``NAME.gz`` too).
PACKED_FEFF_FILES = ("feff/*/xmu.dat", "feff/*/feff.inp", "feff/*/convergence.scf", "spectra/*.txt", "xyz/*.xyz")


def pack_feff_files(out_dir: str | os.PathLike) -> int:
    """Replace the finished runs' text files under ``out_dir`` (:data:`PACKED_FEFF_FILES`) by ``NAME.gz``
    (gzip without a timestamp, so the same file gives the same bytes); returns how many files. For
    data sets kept in a repository, which they shrink about threefold; ``gzip -d`` gives them back
    unchanged, and every reader of a data set takes either form."""
    count = 0
    for pattern in PACKED_FEFF_FILES:
        for plain in sorted(Path(out_dir).glob(pattern)):
            if plain.parent.name.startswith(".") or plain.name.startswith("."):  # a run or a file in progress
                continue
            packed.pack(plain)
            count += 1
    return count


class _Manifest:
    def __init__(self, out: Path):
        self.handle = open(out / MANIFEST, "a", encoding="utf-8")

    def append(self, record: dict) -> None:
        self.handle.write(json.dumps(record) + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self):
        self.handle.close()


def _clean_partial(out: Path) -> None:
    """Remove the temporary files of a run that was killed (``.NAME.HEX.tmp``)."""
    for folder in ("feff", "xyz", "spectra"):
        for tmp in (out / folder).glob(".*.tmp"):
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


def _client(workers: int | None, scheduler: str | None):
    """A dask Client: on ``scheduler`` when given, else on a LocalCluster of ``workers`` processes (one thread each)."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="120s"), None
        except (OSError, TimeoutError) as exc:
            raise XanesvizError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    n = workers or os.cpu_count() or 1
    # A structure whose worker dies is retried once on another worker, then recorded as failed.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=":0", silence_logs=40)  # ":0": no fixed port to clash
    return Client(cluster), cluster


def simulate(structures: Iterable[str | os.PathLike], out_dir: str | os.PathLike, absorber=None,
             settings: str | FeffSettings = "reference", workers: int | None = None, scheduler: str | None = None,
             stage_timeout: float | None = None, log: TextIO | None | str = "stderr") -> dict:
    """FEFF10 spectra of ``structures`` into ``out_dir``; returns counts {'done', 'skipped', 'failed', 'total'}.

    Runs on a LocalCluster of ``workers`` processes (default: one per core) on 127.0.0.1, or on
    the Dask scheduler at ``scheduler``. Structures whose spectrum exists are skipped. Progress
    goes to ``log`` (default: standard error at call time; None: nowhere).
    """
    log = sys.stderr if log == "stderr" else log
    settings = get_settings(settings)
    jobs = collect_structures(structures)
    out = Path(out_dir)
    for folder in ("xyz", "spectra", "feff"):
        (out / folder).mkdir(parents=True, exist_ok=True)

    def say(text):
        if log is not None:
            print(text, file=log, flush=True)

    counts = {"total": len(jobs), "done": 0, "skipped": 0, "failed": 0}
    with _Lock(out):
        _clean_partial(out)
        records = read_manifest(out)
        latest = {r.get("stem"): r.get("status") for r in records}
        other = {r.get("feff_settings") for r in records if r.get("status") == "ok"} - {settings.describe(), None}
        if other:
            raise XanesvizError(f"{out}: holds spectra made with other FEFF settings ({sorted(other)[0]}); "
                                f"use another DATA_DIR for settings '{settings.name}'")
        manifest = _Manifest(out)
        try:
            todo = []
            for stem, path in jobs:
                if packed.exists(out / "spectra" / f"{stem}.txt"):
                    counts["skipped"] += 1
                    result = out / "feff" / stem / "result.json"
                    if latest.get(stem) != "ok" and result.is_file():  # finished, but the run died before recording it
                        manifest.append(dict(json.loads(result.read_text(encoding="utf-8")), recovered=True))
                else:
                    todo.append((stem, path))
            where = f"the Dask scheduler at {scheduler}" if scheduler else \
                f"a local Dask cluster of {workers or os.cpu_count() or 1} worker process(es)"
            say(f"simulate: {len(jobs)} structure(s), {counts['skipped']} already done, {len(todo)} to compute "
                f"with FEFF10 settings '{settings.name}' ({settings.describe()}) on {where}")
            if todo:
                _run(todo, out, absorber, settings, workers, scheduler, stage_timeout, manifest, counts, say)
        finally:
            manifest.close()
    interrupted = f", {counts['interrupted']} interrupted (not recorded)" if counts.get("interrupted") else ""
    say(f"simulate: {counts['done']} computed, {counts['skipped']} skipped (done before), {counts['failed']} failed"
        f"{interrupted}; manifest: {out / MANIFEST}")
    return counts


def _stop_feff_descendants() -> int:
    """Kill FEFF10 stage processes among this process's descendants (on a local cluster they
    would outlive a killed run as orphans, computing for nothing); returns how many."""
    import psutil

    killed = 0
    for child in psutil.Process().children(recursive=True):
        try:
            if any("feff10" in part for part in child.cmdline()):
                child.kill()
                killed += 1
        except psutil.Error:
            continue
    return killed


def _local_worker_pids(client) -> list[int]:
    """Process ids of a local cluster's workers (to stop them should the cluster not close)."""
    try:
        return sorted(client.run(os.getpid).values())
    except Exception:  # noqa: BLE001 - only needed for a cluster that will not close
        return []


def _shut_down(client, cluster, worker_pids: list[int], say, timeout: float = 30.0) -> None:
    """Close the client and a local cluster. Every result is written by then, so a cluster that
    does not stop in time (a worker that will not die) is reported in one line, its worker
    processes are killed and the cluster is closed again, instead of a traceback ending the run."""
    import psutil

    try:
        client.close()
    except Exception:  # noqa: BLE001 - shutting down; the cluster is closed below all the same
        pass
    if cluster is None:
        return
    try:
        cluster.close(timeout=timeout)
        return
    except Exception as exc:  # noqa: BLE001 - nothing computed can be lost here
        first = (str(exc).strip().splitlines() or [""])[0]
        problem = f"{type(exc).__name__}{': ' + first if first else ''}"
    for pid in worker_pids:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            continue
    try:
        cluster.close(timeout=timeout)
    except Exception:  # noqa: BLE001 - reported below; the worker processes are gone
        pass
    say(f"simulate: the local Dask cluster did not shut down within {timeout:.0f} s ({problem}); its worker "
        f"processes (pids {', '.join(map(str, worker_pids)) or 'unknown'}) were killed; every finished "
        "structure is already written")


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a job scheduler's or ``kill``'s stop) raises KeyboardInterrupt in the main thread,
    so the run's ``finally`` blocks close the manifest and stop the FEFF processes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(todo, out, absorber, settings, workers, scheduler, stage_timeout, manifest, counts, say) -> None:
    with _terminate_as_interrupt():
        _run_on_cluster(todo, out, absorber, settings, workers, scheduler, stage_timeout, manifest, counts, say)


def _run_on_cluster(todo, out, absorber, settings, workers, scheduler, stage_timeout, manifest, counts, say) -> None:
    from distributed import as_completed

    client, cluster = _client(workers, scheduler)
    worker_pids = _local_worker_pids(client) if cluster is not None else []
    try:
        tag = uuid.uuid4().hex[:8]
        stems, submitted = {}, []
        for stem, path in todo:
            future = client.submit(simulate_one, stem, str(path.resolve()), str(out.resolve()), absorber,
                                   settings.as_dict(), stage_timeout, key=f"xanesviz-feff-{stem}-{tag}", pure=False)
            stems[future.key] = stem
            submitted.append(future)
        finished = as_completed(submitted)
        del submitted  # as_completed holds each future until it is done; then it is released below
        start = time.perf_counter()
        for n, future in enumerate(finished, start=1):
            stem = stems[future.key]
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001 - the worker died (KilledWorker), or the task could not run
                first = (str(exc).strip().splitlines() or [""])[0]
                what = "the Dask worker computing it died" if type(exc).__name__ == "KilledWorker" else \
                    "the Dask task failed on the worker (can it import xanesviz and see DATA_DIR?)"
                record = {"stem": stem, "source": str(dict(todo)[stem]), "settings": settings.name,
                          "status": "failed", "stage": "worker", "finished": _now(),
                          "error": f"{stem}: {what} ({type(exc).__name__}: {first})"[:400]}
            # Its files are written: the cluster may forget the result, so a worker lost later does
            # not make Dask compute it again.
            future.release()
            elapsed = time.perf_counter() - start
            left = elapsed / n * (len(todo) - n)
            if record["status"] == "interrupted":  # not finished: the next run computes it
                counts["interrupted"] = counts.get("interrupted", 0) + 1
                say(f"[{n}/{len(todo)}] {stem}: interrupted, not recorded ({record['error']}); a rerun computes it")
                continue
            manifest.append(record)
            if record["status"] == "ok":
                counts["done"] += 1
                say(f"[{n}/{len(todo)}] {stem}: ok, {record['seconds']:.0f} s, {record.get('cluster_atoms')} atoms "
                    f"in the cluster (about {left / 60:.0f} min left)")
            else:
                counts["failed"] += 1
                say(f"[{n}/{len(todo)}] {stem}: FAILED: {record['error']}")
    finally:
        if cluster is not None:
            _stop_feff_descendants()
        _shut_down(client, cluster, worker_pids, say)
