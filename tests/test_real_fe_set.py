"""scripts/real_fe_set.py: the drag benchmark's runs of real complexes as a data set whose moves pair
with their complexes, and further runs added to it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

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
    stems = sorted(p.stem for p in (out / "fe-k" / "spectra").glob("*.txt"))
    assert stems == ["Fe_AAAAAA", "Fe_AAAAAA_stretch1", "Fe_BBBBBB", "Fe_BBBBBB_pull1"]
    assert [parent_of(s) for s in stems] == ["AAAAAA", "AAAAAA", "BBBBBB", "BBBBBB"]
    assert [variant_of(s) for s in stems] == [None, "stretch1", None, "pull1"]
    assert sorted(p.name for p in (out / "fe-k" / "feff" / "Fe_AAAAAA").iterdir()) == ["feff.inp"]
    assert len(read_edges(out)["Fe"]) == 4
    rows = [json.loads(line) for line in (out / "fe-k" / "manifest.jsonl").read_text().splitlines()]
    assert {r["stem"]: r["source_stem"] for r in rows}["Fe_AAAAAA_stretch1"] == "AAAAAA_C2H6Fe@stretch+0.1"
    # another benchmark run's complexes join the set; the first ones stay
    more = fake_runs(tmp_path / "more", {"DDDDDD_FeN": ["breathe+0.05"]})
    assert run(more, "-o", out).returncode == 0
    rows = [json.loads(line)["stem"] for line in (out / "fe-k" / "manifest.jsonl").read_text().splitlines()]
    assert rows == ["Fe_AAAAAA", "Fe_AAAAAA_stretch1", "Fe_BBBBBB", "Fe_BBBBBB_pull1", "Fe_DDDDDD",
                    "Fe_DDDDDD_breathe1"]
    assert len(read_edges(out)["Fe"]) == 6
    # asking for a complex that has no finished run: one line, nothing written
    failed = run(runs, "-o", tmp_path / "other", "--stems", "CCCCCC_FeO")
    assert failed.returncode != 0 and "no finished FEFF10 run of CCCCCC_FeO" in failed.stderr
    assert not (tmp_path / "other").exists()
