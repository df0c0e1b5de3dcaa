"""scripts/real_fe_set.py: the drag benchmark's runs of real complexes as a data set whose moves pair
with their complexes, and further runs added to it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from xanesviz import packed
from xanesviz.derived_set import parent_of, variant_of
from xanesviz.edges import read_edges
from xanesviz.feff import edge_grid

from helpers import random_complex

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from drag_fidelity import write_xyz  # noqa: E402


def fake_runs(root: Path, complexes: dict[str, list[str]], failed=()) -> Path:
    """drag_fidelity.py's --out: structures/, feff-reference/{spectra,feff}/ and its manifest."""
    feff = root / "feff-reference"
    for sub in (root / "structures", feff / "spectra", feff / "feff"):
        sub.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(complexes))
    rows = []
    for stem, families in complexes.items():
        for source in [stem] + [f"{stem}@{f}" for f in families]:
            write_xyz(root / "structures" / f"{source}.xyz", random_complex(rng))
            ok = source not in failed
            if ok:
                np.savetxt(feff / "spectra" / f"{source}.txt", np.column_stack([edge_grid("Fe"), np.full(226, 0.5)]))
                (feff / "feff" / source).mkdir()
                (feff / "feff" / source / "feff.inp").write_text("EDGE K\n")
                (feff / "feff" / source / "feff.out").write_text("a log the data set does not keep\n")
                (feff / "feff" / source / "xmu.dat").write_text("# the spectrum file's columns again\n")
            rows.append({"stem": source, "status": "ok" if ok else "failed"})
    (feff / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "real_fe_set.py"), *map(str, args)],
                          capture_output=True, text=True)


def test_moves_pair_with_their_complex_failures_are_left_out_and_later_runs_add(tmp_path):
    runs = fake_runs(tmp_path / "runs", {"AAAAAA_C2H6Fe": ["stretch+0.1", "bend10"], "BBBBBB_CFe(1+)": ["pull0.5"],
                                         "CCCCCC_FeO": ["bend5"]},
                     failed={"CCCCCC_FeO", "AAAAAA_C2H6Fe@bend10"})
    out = tmp_path / "real"
    done = run(runs, "-o", out)
    assert done.returncode == 0, done.stderr
    assert "2 complexes and 2 moves of them (4 FEFF10 spectra)" in done.stdout
    stems = sorted(packed.stems(out / "fe-k" / "spectra", ".txt"))  # packed, as the data sets are kept
    assert stems == ["Fe_AAAAAA", "Fe_AAAAAA_stretch7", "Fe_BBBBBB", "Fe_BBBBBB_pull5"]
    assert [parent_of(s) for s in stems] == ["AAAAAA", "AAAAAA", "BBBBBB", "BBBBBB"]
    assert [variant_of(s) for s in stems] == [None, "stretch7", None, "pull5"]
    assert sorted(p.name for p in (out / "fe-k" / "feff" / "Fe_AAAAAA").iterdir()) == ["feff.inp.gz"]
    assert len(read_edges(out)["Fe"]) == 4
    rows = [json.loads(line) for line in (out / "fe-k" / "manifest.jsonl").read_text().splitlines()]
    assert {r["stem"]: r["source_stem"] for r in rows}["Fe_AAAAAA_stretch7"] == "AAAAAA_C2H6Fe@stretch+0.1"
    # another benchmark run's complexes join the set; the first ones stay
    more = fake_runs(tmp_path / "more", {"DDDDDD_FeN": ["breathe+0.05"]})
    assert run(more, "-o", out).returncode == 0
    rows = [json.loads(line)["stem"] for line in (out / "fe-k" / "manifest.jsonl").read_text().splitlines()]
    assert rows == ["Fe_AAAAAA", "Fe_AAAAAA_stretch7", "Fe_BBBBBB", "Fe_BBBBBB_pull5", "Fe_DDDDDD",
                    "Fe_DDDDDD_breathe3"]
    assert len(read_edges(out)["Fe"]) == 6
    # asking for a complex that has no finished run: one line, nothing written
    failed = run(runs, "-o", tmp_path / "other", "--stems", "CCCCCC_FeO")
    assert failed.returncode != 0 and "no finished FEFF10 run of CCCCCC_FeO" in failed.stderr
    assert not (tmp_path / "other").exists()


def test_restore_writes_back_the_runs_a_data_set_was_made_from(tmp_path):
    runs = fake_runs(tmp_path / "runs", {"AAAAAA_C2H6Fe": ["stretch+0.1", "bend10"], "BBBBBB_FeO": []},
                     failed={"AAAAAA_C2H6Fe@bend10"})
    more = fake_runs(tmp_path / "more", {"DDDDDD_FeN": ["breathe+0.05"]})
    out = tmp_path / "real"
    assert run(runs, "-o", out).returncode == 0 and run(more, "-o", out).returncode == 0
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (runs / "structures").iterdir()}
    for root in (runs, more):
        subprocess.run(["rm", "-rf", str(root)], check=True)
    # only one of the two runs directories
    done = run("--restore", out, "--only", runs)
    assert done.returncode == 0, done.stderr
    assert "3 FEFF10 runs (3 added to its manifest)" in done.stdout and not more.exists()
    assert sorted(p.stem for p in (runs / "feff-reference" / "spectra").iterdir()) == [
        "AAAAAA_C2H6Fe", "AAAAAA_C2H6Fe@stretch+0.1", "BBBBBB_FeO"]
    assert (runs / "feff-reference" / "feff" / "AAAAAA_C2H6Fe" / "feff.inp").read_text() == "EDGE K\n"
    restored = {p.relative_to(tmp_path): p.read_bytes() for p in (runs / "structures").iterdir()}
    assert restored == {k: v for k, v in before.items() if "bend10" not in str(k)}
    rows = [json.loads(line) for line in (runs / "feff-reference" / "manifest.jsonl").read_text().splitlines()]
    assert [r["stem"] for r in rows] == ["AAAAAA_C2H6Fe", "AAAAAA_C2H6Fe@stretch+0.1", "BBBBBB_FeO"]
    assert all(r["status"] == "ok" and "source_stem" not in r for r in rows)
    # again, and then all of them: nothing is added twice; the data set made again is the same
    assert "(0 added to its manifest)" in run("--restore", out, "--only", runs).stdout
    assert run("--restore", out).returncode == 0
    assert len((runs / "feff-reference" / "manifest.jsonl").read_text().splitlines()) == 3
    again = tmp_path / "again"
    assert run(runs, "-o", again).returncode == 0 and run(more, "-o", again).returncode == 0
    for sub in ("xyz", "spectra"):
        assert sorted((out / "fe-k" / sub).iterdir()) != [] and all(
            p.read_bytes() == (again / "fe-k" / sub / p.name).read_bytes() for p in (out / "fe-k" / sub).iterdir())
    unknown = run("--restore", out, "--only", tmp_path / "elsewhere")
    assert unknown.returncode != 0 and "has no runs from" in unknown.stderr
    manifest = out / "fe-k" / "manifest.jsonl"
    manifest.write_text(manifest.read_text() + json.dumps({"stem": "Fe_EEEEEE", "status": "ok"}) + "\n")
    bad = run("--restore", out)
    assert bad.returncode != 0 and "Fe_EEEEEE (and 0 more) name no source run" in bad.stderr
    assert "Traceback" not in bad.stderr
