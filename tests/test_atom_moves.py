"""scripts/atom_moves.py: derived parents moved one atom at a time (as a drag moves them), named so
that pooling pairs each move with its parent."""

import json
import sys
from pathlib import Path

import numpy as np
from ase.io import write

from xanesviz.derived_set import parent_of, variant_of
from xanesviz.structure import read_structure

from helpers import random_complex

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import atom_moves  # noqa: E402


def edge_set(root: Path, metal: str, parents: list[str]) -> Path:
    """A derived data set folder whose manifest says FEFF10 finished these parents (and a variant)."""
    folder = root / f"{metal.lower()}-k"
    (folder / "xyz").mkdir(parents=True)
    rows = []
    rng = np.random.default_rng(len(parents))
    for stem in parents + [f"{parents[0]}_bend0"]:
        atoms = random_complex(rng)
        atoms.numbers[0] = {"Cu": 29, "Ni": 28}[metal]
        write(folder / "xyz" / f"{stem}.xyz", atoms, format="extxyz")
        rows.append({"stem": stem, "status": "ok"})
    rows.append({"stem": f"{metal}_FAILED", "status": "failed"})
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_moves_are_the_benchmarks_single_atom_moves_named_as_variants(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(atom_moves, "simulate", lambda paths, out, **kw: calls.append((list(paths), out)))
    cu = edge_set(tmp_path / "feff", "Cu", ["Cu_AAAAAA", "Cu_BBBBBB", "Cu_CCCCCC"])
    edge_set(tmp_path / "feff", "Ni", ["Ni_DDDDDD"])
    assert atom_moves.main([str(tmp_path / "feff"), "--metals", "Cu", "Ni", "--parents", "2",
                            "--families", "bend5", "stretch+0.1", "--structures", str(tmp_path / "moves")]) == 0
    # rounds: a Cu parent, the Ni parent, the second Cu parent (Ni has no second); each into its own folder
    assert [out.name for _, out in calls] == ["cu-k", "ni-k", "cu-k"]
    stems = [p.stem for paths, _ in calls for p in paths]
    assert all(variant_of(s) in ("bend2", "stretch7") for s in stems)
    assert len({parent_of(s) for s in stems}) == 3  # two Cu parents and one Ni parent, no failed or variant one
    assert not any("FAILED" in s or "bend0_" in s for s in stems)
    # the benchmark's moves: a bend swings one atom about the metal (its distance kept), a stretch
    # moves one atom 0.1 Å along its bond; nothing else moves
    first = calls[0][0]
    # the script packs the set after each edge (xyz/STEM.xyz.gz): its parents read back packed
    parent = read_structure(cu / "xyz" / f"{first[0].stem.rsplit('_', 1)[0]}.xyz")
    assert parent.get_chemical_symbols()[0] == "Cu" and not list((cu / "xyz").glob("*.xyz"))
    for path, (kind, amount) in zip(first, [("bend", 5.0), ("stretch", 0.1)]):
        moved = read_structure(path)
        shift = np.linalg.norm(moved.positions - parent.positions, axis=1)
        assert (shift > 1e-6).sum() == 1
        i = int(np.argmax(shift))
        d0, d1 = (np.linalg.norm(a.positions[i] - a.positions[0]) for a in (parent, moved))
        if kind == "bend":
            assert abs(d1 - d0) < 1e-6 and shift[i] > 0.05
        else:
            assert abs(d1 - d0 - amount) < 1e-6
    # a move FEFF10 failed on is not given again; the parent's other moves are
    with open(cu / "manifest.jsonl", "a") as manifest:
        manifest.write(json.dumps({"stem": stems[0], "status": "failed"}) + "\n")
    calls.clear()
    assert atom_moves.main([str(tmp_path / "feff"), "--metals", "Cu", "--parents", "1", "--families", "bend5",
                            "stretch+0.1", "--structures", str(tmp_path / "moves")]) == 0
    assert [p.stem for paths, _ in calls for p in paths] == stems[1:2]


def test_together_gives_each_edge_its_moves_of_every_parent_at_once(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(atom_moves, "simulate", lambda paths, out, **kw: calls.append((list(paths), out, kw)))
    edge_set(tmp_path / "feff", "Cu", ["Cu_AAAAAA", "Cu_BBBBBB", "Cu_CCCCCC"])
    edge_set(tmp_path / "feff", "Ni", ["Ni_DDDDDD"])
    args = [str(tmp_path / "feff"), "--metals", "Cu", "Ni", "--parents", "2", "--families", "bend5", "bend10",
            "--structures", str(tmp_path / "moves"), "--scheduler", "tcp://127.0.0.1:1"]
    assert atom_moves.main(args + ["--together"]) == 0
    assert [out.name for _, out, _ in calls] == ["cu-k", "ni-k"]  # one submission an edge
    assert [len(paths) for paths, _, _ in calls] == [4, 2]
    assert all(kw["scheduler"] == "tcp://127.0.0.1:1" for _, _, kw in calls)
    together = [p.stem for paths, _, _ in calls for p in paths]
    calls.clear()
    assert atom_moves.main(args) == 0  # the same moves, parent by parent
    assert sorted(p.stem for paths, _, _ in calls for p in paths) == sorted(together)
    assert len(calls) == 3


def test_a_metal_without_a_data_set_is_named(tmp_path):
    import pytest

    with pytest.raises(SystemExit, match="no FEFF10 data set for Zn"):
        atom_moves.main([str(tmp_path), "--metals", "Zn"])


def test_the_edge_benchmark_pairs_single_atom_moves_with_their_parents(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    from edge_drag_fidelity import single_atom_moves

    folder = tmp_path / "cu-k"
    folder.mkdir()
    rows = [("Cu_AAAAAA", "ok"), ("Cu_AAAAAA_bend0", "ok"), ("Cu_AAAAAA_bend2", "ok"), ("Cu_AAAAAA_stretch7", "ok"),
            ("Cu_AAAAAA_stretch8", "failed"), ("Cu_BBBBBB", "failed"), ("Cu_BBBBBB_bend1", "ok")]
    (folder / "manifest.jsonl").write_text("".join(
        json.dumps({"stem": s, "status": st, "finished": f"2026-12-04T0{i}:00:00+00:00"}) + "\n"
        for i, (s, st) in enumerate(rows)))
    # the derived variant (0) is not a single-atom move; a failed move and a move of a failed parent are left out
    assert single_atom_moves(folder) == {"Cu_AAAAAA": [("Cu_AAAAAA_bend2", "bend5"), ("Cu_AAAAAA_stretch7", "stretch+0.1")]}
    # only the moves finished after a time (those a model fitted then never saw), with their parent however old
    assert single_atom_moves(folder, "2026-12-04T02:30") == {"Cu_AAAAAA": [("Cu_AAAAAA_stretch7", "stretch+0.1")]}


def test_a_rerun_keeps_the_parents_it_began_and_new_parents_do_not_reshuffle(tmp_path):
    folder = edge_set(tmp_path / "feff", "Cu", [f"Cu_{c * 6}" for c in "ABCDEFGH"])
    first = atom_moves.parents_in_order(folder, seed=0)
    assert sorted(first) == sorted(f"Cu_{c * 6}" for c in "ABCDEFGH")
    began = first[5]
    with open(folder / "manifest.jsonl", "a") as manifest:
        manifest.write(json.dumps({"stem": f"{began}_bend2", "status": "ok"}) + "\n")
        for stem in ("Cu_IIIIII", "Cu_JJJJJJ"):  # parents computed since
            manifest.write(json.dumps({"stem": stem, "status": "ok"}) + "\n")
            write(folder / "xyz" / f"{stem}.xyz", random_complex(np.random.default_rng(9)), format="extxyz")
    again = atom_moves.parents_in_order(folder, seed=0)
    assert again[0] == began
    assert [s for s in again if s in first and s != began] == [s for s in first if s != began]


def test_every_family_of_the_drag_benchmark_has_a_tag_and_tags_pair_each_move_with_its_family():
    from xanesviz.derived_set import ONE_ATOM_MOVES, move_family

    assert sorted(atom_moves.FAMILIES) == sorted(ONE_ATOM_MOVES)  # benchmarks/drag_fidelity.py's families
    for family in ONE_ATOM_MOVES:
        tag = variant_of(atom_moves.move_stem("Cu_AAAAAA", family))
        assert move_family(tag) == f"{family} (one atom)"
