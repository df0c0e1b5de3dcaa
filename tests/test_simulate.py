"""`xanesviz simulate` on Dask: a real LocalCluster, resuming, a bad structure, and a separately started
scheduler with workers (one of which is killed mid-structure), all with the fast FEFF settings."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from conftest import make_octahedron, write_numbered_xyz

from xanesviz.cli import main
from xanesviz.data import load_dataset
from xanesviz.errors import XanesvizError
from xanesviz.simulate import collect_structures, pack_feff_files, read_manifest, simulate

REPO = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Two small Fe octahedra (XANESNET numbered xyz and ordinary xyz) and a structure without a metal."""
    folder = tmp_path_factory.mktemp("inputs")
    octahedron = make_octahedron()
    write_numbered_xyz(folder / "oct.xyz", octahedron.numbers, octahedron.positions)
    make_octahedron(fe_o=2.1).write(folder / "oct2.xyz")
    Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [0, 0.96, 0]]).write(folder / "water.xyz")
    return folder


@pytest.fixture(autouse=True)
def workers_import_this_checkout(monkeypatch):
    """Worker processes (spawned, or started by `dask worker`) import xanesviz from this checkout."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))


def numbers(path: Path) -> np.ndarray:
    return np.loadtxt(path, comments="#")


@pytest.fixture(scope="module")
def local_run(inputs, tmp_path_factory):
    """One LocalCluster run (2 worker processes) over the input directory; its output and what it printed."""
    out = tmp_path_factory.mktemp("local") / "data"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "xanesviz.cli", "simulate", str(inputs), "-o", str(out),
                           "--workers", "2", "--settings", "fast"], capture_output=True, text=True, env=env,
                          timeout=600)
    return out, done


def test_local_cluster_run_writes_the_training_layout_and_records_a_failure(local_run):
    out, done = local_run
    assert done.returncode == 1, done.stderr  # one structure failed
    records = {r["stem"]: r for r in read_manifest(out)}
    assert set(records) == {"oct", "oct2", "water"}
    assert records["oct"]["status"] == records["oct2"]["status"] == "ok"
    assert records["oct"]["cluster_atoms"] == 13 and records["oct"]["n_atoms"] == 13
    assert records["oct"]["settings"] == "fast" and records["oct"]["seconds"] > 0
    assert records["water"]["status"] == "failed" and records["water"]["stage"] == "input"
    assert records["water"]["error"].startswith("water: FEFF10 input: no first-row transition metal")
    assert "water: FAILED: water: FEFF10 input" in done.stderr and "[3/3]" in done.stderr
    dataset = load_dataset(out)
    assert dataset.names == ["oct", "oct2"] and dataset.spectra.shape == (2, 226)
    assert np.all(np.isfinite(dataset.spectra)) and not np.allclose(dataset.spectra[0], dataset.spectra[1])
    assert {"feff.inp", "xmu.dat", "result.json"} <= {p.name for p in (out / "feff" / "oct").iterdir()}
    assert (out / "feff" / "water" / "result.json").is_file() and not (out / "spectra" / "water.txt").exists()
    assert not (out / "xyz" / "water.xyz").exists()
    assert "COREHOLE NONE" in (out / "spectra" / "oct.txt").read_text().split("energy_eV")[0]


def test_rerun_computes_only_what_is_missing_and_ignores_partial_files(local_run, inputs, capsys):
    out, _ = local_run
    spectrum = out / "spectra" / "oct.txt"
    before = (spectrum.stat().st_mtime_ns, len(read_manifest(out)))
    reference = numbers(out / "spectra" / "oct2.txt")
    # what a run killed while writing oct2 leaves: its temporary files, no spectrum
    (out / "spectra" / "oct2.txt").rename(out / "spectra" / ".oct2.txt.0badc0de.tmp")
    (out / "feff" / ".oct2.0badc0de.tmp").mkdir()
    assert main(["simulate", str(inputs), "-o", str(out), "--workers", "1", "--settings", "fast"]) == 1
    err = capsys.readouterr().err
    assert "3 structure(s), 1 already done, 2 to compute" in err
    assert spectrum.stat().st_mtime_ns == before[0]
    new = read_manifest(out)[before[1]:]
    assert sorted((r["stem"], r["status"]) for r in new) == [("oct2", "ok"), ("water", "failed")]
    assert np.allclose(numbers(out / "spectra" / "oct2.txt"), reference)
    assert not list(out.glob("*/.*.tmp"))
    # a second run with nothing missing starts no cluster and computes nothing
    assert main(["simulate", str(inputs / "oct.xyz"), str(inputs / "oct2.xyz"), "-o", str(out), "--settings",
                 "fast"]) == 0
    assert "2 already done, 0 to compute" in capsys.readouterr().err
    assert len(read_manifest(out)) == before[1] + 2
    # spectra of other settings are never mixed into one data set
    assert main(["simulate", str(inputs / "oct.xyz"), "-o", str(out)]) == 2
    assert "holds spectra made with other FEFF settings" in capsys.readouterr().err
    # a task run again for a structure it finished (Dask recomputes results a lost worker held)
    # returns the written record and writes nothing
    from xanesviz.feff import get_settings
    from xanesviz.simulate import simulate_one

    written = json.loads((out / "feff" / "oct" / "result.json").read_text())
    again = simulate_one("oct", str(inputs / "oct.xyz"), str(out), settings=get_settings("fast").as_dict())
    assert again == written and spectrum.stat().st_mtime_ns == before[0]


def test_packing_keeps_feff_s_table_input_and_scf_record_byte_for_byte_and_leaves_runs_in_progress(tmp_path):
    import gzip

    table = b"# omega e k mu mu0 chi\n7100.0 -12.0 0.0 0.01 0.01 0.0\n"
    card = b"EDGE K\nS02 1.0\n"
    for stem in ("Cu_A", "Cu_B", ".Cu_C.1234abcd.tmp"):
        (tmp_path / "feff" / stem).mkdir(parents=True)
        (tmp_path / "feff" / stem / "xmu.dat").write_bytes(table + stem.encode())
        (tmp_path / "feff" / stem / "feff.inp").write_bytes(card + stem.encode())
        (tmp_path / "feff" / stem / "convergence.scf").write_bytes(b"kept as it is")
    assert pack_feff_files(tmp_path) == 6
    assert gzip.decompress((tmp_path / "feff" / "Cu_A" / "convergence.scf.gz").read_bytes()) == b"kept as it is"
    assert gzip.decompress((tmp_path / "feff" / "Cu_B" / "xmu.dat.gz").read_bytes()) == table + b"Cu_B"
    assert gzip.decompress((tmp_path / "feff" / "Cu_B" / "feff.inp.gz").read_bytes()) == card + b"Cu_B"
    assert not (tmp_path / "feff" / "Cu_A" / "xmu.dat").exists()
    assert (tmp_path / "feff" / ".Cu_C.1234abcd.tmp" / "xmu.dat").is_file()  # FEFF may still be writing it
    assert (tmp_path / "feff" / ".Cu_C.1234abcd.tmp" / "feff.inp").is_file()
    first = (tmp_path / "feff" / "Cu_A" / "xmu.dat.gz").read_bytes()
    (tmp_path / "feff" / "Cu_A" / "xmu.dat").write_bytes(table + b"Cu_A")  # the same table again, later
    assert pack_feff_files(tmp_path) == 1 and (tmp_path / "feff" / "Cu_A" / "xmu.dat.gz").read_bytes() == first
    assert sorted(p.name for p in (tmp_path / "feff" / "Cu_A").iterdir()) == [
        "convergence.scf.gz", "feff.inp.gz", "xmu.dat.gz"]


def test_structures_are_collected_from_files_and_directories(inputs, tmp_path):
    assert [s for s, _ in collect_structures([inputs])] == ["oct", "oct2", "water"]
    other = tmp_path / "oct.xyz"
    other.write_text((inputs / "oct.xyz").read_text())
    with pytest.raises(XanesvizError, match="same name 'oct'"):
        collect_structures([inputs, other])
    with pytest.raises(XanesvizError, match="no such file"):
        collect_structures([tmp_path / "nothing"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_separate_scheduler_and_workers_give_the_same_spectra_and_a_dead_worker_is_recorded(local_run, inputs,
                                                                                             tmp_path):
    import psutil
    from distributed import Client

    local_out, _ = local_run
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")  # a death fails the structure
    scheduler = subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
    workers = None
    try:
        workers = subprocess.Popen([str(DASK), "worker", address, "--host", "127.0.0.1", "--nworkers", "2",
                                    "--nthreads", "1", "--no-dashboard", "--local-directory", str(tmp_path / "dw")],
                                   cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300  # a loaded machine can take a minute to start the scheduler
        while time.time() < deadline and scheduler.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        with Client(address, timeout="120s") as client:
            client.wait_for_workers(2, timeout=120)
        out, result, killed = tmp_path / "data", {}, []
        good = [str(inputs / "oct.xyz"), str(inputs / "oct2.xyz")]
        run = threading.Thread(target=lambda: result.update(simulate(good, out, settings="fast", scheduler=address,
                                                                     log=None)))
        run.start()
        deadline = time.time() + 300
        while run.is_alive() and not killed and time.time() < deadline:  # kill the worker running a FEFF stage
            for stage in psutil.Process(workers.pid).children(recursive=True):
                if "feff10._worker" in " ".join(stage.cmdline()) and stage.parent().ppid() == workers.pid:
                    worker = stage.parent()
                    worker.kill()
                    stage.kill()
                    killed.append(worker.pid)
                    break
            time.sleep(0.05)
        run.join(600)
        assert killed and result == {"total": 2, "done": 1, "skipped": 0, "failed": 1}
        (dead,) = [r for r in read_manifest(out) if r["status"] == "failed"]
        assert dead["stage"] == "worker" and dead["error"].startswith(f"{dead['stem']}: the Dask worker")
        # the rerun computes the structure whose worker died; every spectrum equals the LocalCluster run's
        assert simulate(good, out, settings="fast", scheduler=address, log=None)["done"] == 1
        for stem in ("oct", "oct2"):
            assert np.allclose(numbers(out / "spectra" / f"{stem}.txt"),
                               numbers(local_out / "spectra" / f"{stem}.txt"), rtol=1e-7, atol=0)
    finally:
        if workers is not None:
            stop(workers)
        stop(scheduler)


def feff_stage_processes(work_root: str) -> list[int]:
    """Running FEFF10 stage processes whose working directory lies under ``work_root``... or any
    orphaned one (parent init) started by this test; found through /proc."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "feff10" in cmdline and "_worker" in cmdline and work_root in (entry / "environ").read_bytes().decode(
                    errors="replace"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def simulate_into_feff(inputs: Path, tmp_path: Path, settle: float) -> subprocess.Popen:
    """`xanesviz simulate` of oct2.xyz (reference settings: minutes) into ``tmp_path/data``, its
    FEFF work directories under ``tmp_path``; returned once a FEFF10 stage process has run for
    ``settle`` s (into the self-consistent potentials, not between stages)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               TMPDIR=str(tmp_path))  # FEFF's work directories (tempfile) land under tmp_path
    run = subprocess.Popen([sys.executable, "-m", "xanesviz.cli", "simulate", str(inputs / "oct2.xyz"), "-o",
                            str(tmp_path / "data"), "--workers", "1"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and not feff_stage_processes(str(tmp_path)):
        time.sleep(0.2)
    if not feff_stage_processes(str(tmp_path)):
        run.kill()
        pytest.fail("no FEFF10 stage process started")
    time.sleep(settle)
    return run


def test_a_terminated_run_stops_its_feff_processes_and_keeps_the_manifest(inputs, tmp_path):
    """SIGTERM to `xanesviz simulate` mid-structure (reference settings: minutes per structure)
    leaves no FEFF10 stage process computing as an orphan, and the manifest readable."""
    out = tmp_path / "data"
    marker = str(tmp_path)
    run = simulate_into_feff(inputs, tmp_path, settle=1)  # the small structure takes only seconds on a fast CPU
    try:
        # between two FEFF stages there is a moment with no stage process, and on a loaded machine the
        # workers start slowly: look for one for up to 30 s (it usually appears within a second)
        deadline = time.time() + 30
        while not feff_stage_processes(marker) and run.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert run.poll() is None and feff_stage_processes(marker), "the FEFF10 run ended early"
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    deadline = time.time() + 5
    while time.time() < deadline and feff_stage_processes(marker):
        time.sleep(0.2)
    left = feff_stage_processes(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"FEFF10 stage processes outlived the run: {left}"
    assert run.returncode != 0
    assert read_manifest(out) == []  # nothing was finished, nothing half-written


def test_a_feff_process_killed_from_outside_is_reported_not_recorded(inputs, tmp_path):
    """A FEFF10 stage process killed mid-structure (someone stopping the run's workers) is not
    FEFF failing on that structure: it is reported as interrupted and left out of the manifest,
    so the next run (and scripts/generate_feff.py, which skips recorded failures) computes it."""
    out = tmp_path / "data"
    marker = str(tmp_path)
    run = simulate_into_feff(inputs, tmp_path, settle=3)
    try:
        stages = feff_stage_processes(marker)
        assert stages, "no FEFF10 stage process running"
        for pid in stages:
            os.kill(pid, signal.SIGKILL)
        output, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, output  # the run is incomplete
    assert "oct2: interrupted, not recorded" in output and "killed by signal 9 (SIGKILL)" in output, output
    assert "1 interrupted (not recorded)" in output and "0 failed" in output, output
    assert read_manifest(out) == [] and not list((out / "spectra").glob("*.txt"))
    assert not [p for p in (out / "feff").iterdir()], "an interrupted structure's work files were kept"


def test_a_cluster_that_does_not_shut_down_in_time_ends_the_run_cleanly(inputs, tmp_path, monkeypatch):
    """Closing the local cluster timed out once in a long generation run (a worker slow to die)
    and the traceback ended it: now the run reports it in one line, kills the workers and
    returns its counts; what was computed is written."""
    import io
    import re

    import psutil
    from distributed import LocalCluster

    real_close, calls = LocalCluster.close, []

    def close_timing_out_once(self, timeout=None):
        calls.append(timeout)
        if len(calls) == 1:
            raise TimeoutError()
        return real_close(self, timeout=timeout)

    monkeypatch.setattr(LocalCluster, "close", close_timing_out_once)
    log = io.StringIO()
    counts = simulate([inputs / "oct.xyz"], tmp_path / "data", settings="fast", workers=1, log=log)
    assert counts["done"] == 1 and counts["failed"] == 0 and len(calls) == 2
    line = next(line for line in log.getvalue().splitlines() if "did not shut down" in line)
    pids = [int(p) for p in re.search(r"pids ([\d, ]+)\)", line).group(1).split(", ")]
    assert pids and not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                            for pid in pids)
    assert [r["status"] for r in read_manifest(tmp_path / "data")] == ["ok"]
    assert (tmp_path / "data" / "spectra" / "oct.txt").is_file()
