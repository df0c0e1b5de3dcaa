"""FEFF10 input cards, errors, and a real (fast-settings) FEFF run on a 13-atom octahedron."""

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from conftest import make_octahedron

from xanesviz import feff
from xanesviz.errors import StructureError, XanesvizError
from xanesviz.data import FE_K_GRID


def test_reference_settings_are_the_issue_cards():
    settings = feff.REFERENCE
    assert settings.cards() == ["COREHOLE RPA", "SCF 3.5", "FMS 5.0", "XANES 4.0 0.07 0.0"]
    assert settings.describe() == ("EDGE K; S02 1.0; COREHOLE RPA; SCF 3.5; FMS 5.0; XANES 4.0 0.07 0.0; "
                                   "atoms within 6 Å")
    assert "SCF" not in " ".join(feff.SETTINGS["no-scf"].cards())
    assert feff.SETTINGS["large-scf"].cards()[1] == "SCF 5.0"
    assert feff.FeffSettings.from_dict(settings.as_dict()) == settings
    with pytest.raises(XanesvizError, match="COREHOLE"):
        feff.FeffSettings(corehole="maybe")
    with pytest.raises(XanesvizError, match="unknown FEFF settings 'best'"):
        feff.get_settings("best")


def test_edge_grid_is_the_fe_model_grid():
    assert np.allclose(feff.edge_grid("Fe"), FE_K_GRID)
    cu = feff.edge_grid("Cu")
    assert len(cu) == 226 and cu[0] == pytest.approx(8979.0 - 15) and cu[-1] == pytest.approx(8979.0 + 60)


def test_input_of_an_octahedron():
    text = feff.feff_input(make_octahedron(), settings="reference", source="oct").to_string()
    lines = [line.split() for line in text.splitlines()]
    for card in ("EDGE K", "COREHOLE RPA", "SCF 3.5", "FMS 5.0", "XANES 4.0 0.07 0.0"):
        assert card.split() in lines, card
    assert ["S02", "1"] in lines or ["S02", "1.0"] in lines
    pots = text.split("POTENTIALS")[1].split("ATOMS")[0].split("\n")
    pots = [p.split() for p in pots if p.strip()]
    assert pots == [["0", "26", "Fe"], ["1", "1", "H"], ["2", "8", "O"]]  # absorber 0, one per element
    atoms = [p.split() for p in text.split("ATOMS")[1].split("END")[0].splitlines() if p.strip()]
    assert len(atoms) == 13
    assert atoms[0][:4] == ["0.00000", "0.00000", "0.00000", "0"]
    assert sorted(a[3] for a in atoms[1:]) == ["1"] * 6 + ["2"] * 6


def test_input_of_a_crystal_cuts_periodic_images_within_the_radius():
    iron = bulk("Fe", "bcc", a=2.87, cubic=True)
    inp = feff.feff_input(iron, settings="reference", source="bcc Fe")
    big = iron.repeat((7, 7, 7))
    # independent count: atoms of a large, non-periodic block within 6 Å of an atom in its middle
    middle = np.argmin(np.linalg.norm(big.positions - big.cell.sum(axis=0) / 2, axis=1))
    distances = np.linalg.norm(big.positions - big.positions[middle], axis=1)
    assert inp.num_atoms == int(np.sum(distances <= 6.0))
    assert [(p.ipot, p.z) for p in inp.potentials] == [(0, 26), (1, 26)]  # other Fe atoms: potential 1


@pytest.mark.parametrize("structure, absorber, match", [
    (Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [0, 0.96, 0]]), None, "no first-row transition metal"),
    (Atoms("FeO", positions=[[0, 0, 0], [0.3, 0, 0]]), None, "closer than"),
    (Atoms("FeCuO", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2, 0]]), None, r"several metals \(Fe, Cu\)"),
    (Atoms("FeO", positions=[[0, 0, 0], [8, 0, 0]]), None, "no atoms within 6 Å"),
    (Atoms("FeO", positions=[[0, 0, 0], [2, 0, 0]]), "Ni", "no Ni atom"),
])
def test_bad_input_is_one_line_naming_structure_and_stage(structure, absorber, match):
    with pytest.raises(feff.FeffInputError, match=match) as info:
        feff.feff_input(structure, absorber, source="bad.xyz")
    message = str(info.value)
    assert message.startswith("bad.xyz: FEFF10 input: ") and "\n" not in message
    assert isinstance(info.value, StructureError) and info.value.stage == "input"


def test_explicit_absorber_among_several_metals():
    inp = feff.feff_input(Atoms("FeCuO", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2, 0]]), "Cu")
    assert (inp.potentials[0].z, inp.atoms[0].x) == (29, 0.0)
    assert [p.z for p in inp.potentials[1:]] == [8, 26]


def test_scf_convergence_is_read(tmp_path):
    (tmp_path / "convergence.scf").write_text(
        " # it. E_fermi(eV)  Charge Distance  Partial Chg. D.  Convergence\n"
        "   0       1.159          0.000         0.0000     0\n  29      -9.2          0.1          0.2     0\n")
    assert feff._scf_converged(tmp_path) == (False, 29)
    (tmp_path / "convergence.scf").write_text("# it.\n  18      -9.202         0.0000         0.0001     1\n")
    assert feff._scf_converged(tmp_path) == (True, 18)
    assert feff._scf_converged(tmp_path / "nowhere") is None


def test_real_fast_run_on_an_octahedron(tmp_path):
    events = []
    spectrum = feff.run_feff(make_octahedron(), settings="fast", source="oct", output_dir=tmp_path,
                             progress=events.append)
    assert np.allclose(spectrum.energy, FE_K_GRID)
    assert np.all(np.isfinite(spectrum.mu)) and np.all(spectrum.mu > 0)
    # FEFF's own omega and mu, read here with numpy
    table = np.loadtxt(tmp_path / "xmu.dat", comments="#")
    omega, mu = table[:, 0], table[:, 3]
    below = FE_K_GRID < omega[0]
    assert below.sum() > 10 and np.all(spectrum.mu[below] == mu[0])  # held at FEFF's first value
    inside = np.flatnonzero((FE_K_GRID > omega[0]) & (FE_K_GRID < omega[-1]))
    k = inside[len(inside) // 2]
    j = np.searchsorted(omega, FE_K_GRID[k])
    expected = mu[j - 1] + (mu[j] - mu[j - 1]) * (FE_K_GRID[k] - omega[j - 1]) / (omega[j] - omega[j - 1])
    assert spectrum.mu[k] == pytest.approx(expected, rel=1e-9)
    assert spectrum.mu[FE_K_GRID > 7140].mean() > 5 * spectrum.mu[FE_K_GRID < 7105].mean()  # an edge
    assert [(e.stage, e.kind) for e in events] == [(s, k) for s in feff.STAGES for k in ("starting", "finished")]
    header = "\n".join(spectrum.header_lines())
    assert "COREHOLE NONE; no SCF; FMS 3.0; XANES 4.0 0.07 0.0" in header
    assert f"hold its first value ({int(below.sum())} points)" in header
    assert {"feff.inp", "xmu.dat", "log1.dat"} <= {p.name for p in tmp_path.iterdir()}
    assert not any(p.suffix == ".bin" for p in tmp_path.iterdir())


def test_a_stage_that_fails_is_one_line_naming_the_stage(monkeypatch, tmp_path):
    import feff10

    real = feff.feff_input

    def with_an_unused_potential(*args, **kwargs):  # FEFF's rdinp refuses a potential without atoms
        inp = real(*args, **kwargs)
        inp.potentials = inp.potentials + [feff10.Potential(ipot=len(inp.potentials), z=17, tag="Cl")]
        return inp

    monkeypatch.setattr(feff, "feff_input", with_an_unused_potential)
    with pytest.raises(feff.FeffError) as info:
        feff.run_feff(make_octahedron(), settings="fast", source="oct.xyz", output_dir=tmp_path)
    message = str(info.value)
    assert info.value.stage == "rdinp" and "\n" not in message
    assert message.startswith("oct.xyz: FEFF10 rdinp stage failed:") and "unique pot" in message
    assert (tmp_path / "feff.inp").is_file()  # kept for diagnosis


def test_cancel_kills_the_running_stage():
    cancel, events = threading.Event(), []

    def progress(event):
        events.append((event.stage, event.kind))
        if (event.stage, event.kind) == ("pot", "starting"):
            cancel.set()

    with pytest.raises(feff.FeffCancelled, match="cancelled"):
        feff.run_feff(make_octahedron(), settings="fast", source="oct", progress=progress, cancel=cancel)
    assert ("pot", "starting") in events and ("pot", "finished") not in events


@pytest.mark.parametrize("idle", [False, True])
def test_niceness_lowers_the_stage_workers_priority(idle):
    psutil = pytest.importorskip("psutil")
    seen, policies, done = {}, {}, threading.Event()

    def watch():
        while not done.wait(0.05):
            for child in psutil.Process().children(recursive=True):
                try:
                    if "feff10._worker" in " ".join(child.cmdline()):
                        seen[child.pid] = max(seen.get(child.pid, -20), child.nice())
                        policies.setdefault(child.pid, set()).add(os.sched_getscheduler(child.pid))
                except (psutil.Error, OSError):  # a stage that ended between the listing and the query
                    continue

    own = os.nice(0)
    wanted = min(own + 5, 19)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        feff.run_feff(make_octahedron(), settings="fast", source="oct", niceness=wanted, idle=idle)
    finally:
        done.set()
        watcher.join()
    assert seen, "no stage worker seen"
    assert max(seen.values()) == wanted and os.nice(0) == own  # the workers, not this process
    in_idle_class = any(os.SCHED_IDLE in p for p in policies.values())
    assert in_idle_class == idle and os.sched_getscheduler(0) != os.SCHED_IDLE


def _stage_environments(found: list, stop: threading.Event) -> None:
    """Collect GLIBC_TUNABLES of every FEFF10 stage process of this process started after this call
    (not one of an earlier test's runs, still exiting) and seen until ``stop``."""
    import psutil

    me = psutil.Process()
    earlier = {child.pid for child in me.children(recursive=True)}
    while not stop.wait(0.02):
        for child in me.children(recursive=True):
            try:
                if child.pid not in earlier and "feff10._worker" in " ".join(child.cmdline()):
                    environment = child.environ()
                    if environment:  # empty while the process is caught in the middle of exec
                        found.append(environment.get("GLIBC_TUNABLES"))
            except psutil.Error:
                continue


@pytest.mark.parametrize("own", [None, "glibc.malloc.perturb=0"])
def test_stage_processes_keep_their_large_arrays(monkeypatch, tmp_path, own):
    """FEFF's stage processes get glibc malloc tunables that keep large freed arrays in the process
    (benchmarks/feff_malloc.py: 2.3 times faster on a Cu complex); malloc tunables of the user's win."""
    if own is None:
        monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    else:
        monkeypatch.setenv("GLIBC_TUNABLES", own)
    found, stop = [], threading.Event()
    watcher = threading.Thread(target=_stage_environments, args=(found, stop))
    watcher.start()
    try:
        feff.run_feff(make_octahedron(), 0, "fast", output_dir=tmp_path / "run")
    finally:
        stop.set()
        watcher.join()
    assert found, "no FEFF10 stage process was seen"
    expected = feff.STAGE_MALLOC_TUNABLES if own is None else own
    # glibc parses the variable in place at start-up, so /proc shows it cut at the first ':'
    assert all(value and expected.split(":")[0] == value.split(":")[0] and expected.startswith(value)
               for value in found), (found, expected)


@pytest.mark.parametrize("children_lists", [True, False])
def test_stage_workers_are_found_among_this_process_children_only(children_lists, monkeypatch, tmp_path):
    """The watcher finds a run's stage workers (by the environment feff10 gives them) among this
    process's children, those started from other threads too; from the threads' children lists,
    or by scanning /proc where the kernel lacks them."""
    import subprocess

    if not children_lists:
        monkeypatch.setattr(feff, "_own_children", lambda: None)
    work_dir = str(tmp_path)
    marked = dict(os.environ, FEFF10_WORKER_DIR=work_dir)
    started = [subprocess.Popen(["sleep", "30"], env=marked), subprocess.Popen(["sleep", "30"])]
    spawner = []

    def spawn():
        spawner.append(threading.get_native_id())
        started.append(subprocess.Popen(["sleep", "30"], env=marked))

    thread = threading.Thread(target=spawn)
    thread.start()
    thread.join()
    # join() returns before the kernel has handed the thread's child to another thread (it failed
    # once under load): wait until the thread is gone from /proc
    deadline = time.time() + 5
    while os.path.exists(f"/proc/self/task/{spawner[0]}") and time.time() < deadline:
        time.sleep(0.01)
    try:
        # the kernel's children lists are exact only for a frozen process (proc(5)): under load a
        # reparented child can be missing from one reading, as the watcher's next poll (0.2 s later)
        # finds it; so poll as it does, and fail if it never finds exactly the two marked ones
        expected = sorted([started[0].pid, started[2].pid])
        found = feff._stage_workers(work_dir)
        deadline = time.time() + 5
        while sorted(found) != expected and time.time() < deadline:
            time.sleep(0.2)
            found = feff._stage_workers(work_dir)
        assert sorted(found) == expected, (found, [p.pid for p in started], feff._own_children())
        assert feff._stage_workers(work_dir + "-other") == []
    finally:
        for process in started:
            process.kill()
            process.wait()


def test_a_spectrum_feff_finished_but_did_not_normalise_is_refused(tmp_path):
    """FEFF10 once finished a [Ti(H2O)6]3+ (Architector-built) with mu from -4861 to -65 (a
    shortened copy of its xmu.dat is in tests/data): a failure named by its stage, not a spectrum."""
    from xanesviz.feff import FeffError, read_xmu

    broken = Path(__file__).resolve().parent / "data" / "feff_xmu_broken_normalisation.dat"
    refused = r"ff2x stage failed: xmu.dat's mu runs from -4859 to -64.91, .*normalisation failed"
    with pytest.raises(FeffError, match=refused):
        read_xmu(broken, "Ti_aqua6-oct")
    lines = broken.read_text().splitlines()
    fixed = [line if line.startswith("#") else
             " ".join(f"{float(v):.6e}" for v in line.split()[:3]) + " 1.05 1.0 0.05" for line in lines]
    (tmp_path / "xmu.dat").write_text("\n".join(fixed) + "\n")
    omega, mu = read_xmu(tmp_path / "xmu.dat")
    assert len(omega) == 11 and np.allclose(mu, 1.05)
