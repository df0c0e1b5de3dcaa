"""benchmarks/feff_fermi_shift.py: FEFF10's Fermi level and edge shift under each move, read from a
data set in scripts/real_fe_set.py's layout."""

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from feff_fermi_shift import edge_shift_share, fermi_level, main  # noqa: E402

ENERGY = np.linspace(7100.0, 7180.0, 161)


def edge(shift: float = 0.0) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(ENERGY - 7112.0 - shift) / 1.5))


def write_run(root: Path, stem: str, mu: np.ndarray, e_fermi: float | None, family: str | None, complex_: str) -> dict:
    np.savetxt(root / "spectra" / f"{stem}.txt", np.column_stack([ENERGY, mu]))
    (root / "feff" / stem).mkdir(parents=True)
    if e_fermi is not None:
        (root / "feff" / stem / "convergence.scf").write_text(
            " # it. E_fermi(eV)  Charge Distance  Partial Chg. D.  Convergence\n"
            f"   0       6.515   0.000  0.0000  0\n   5  {e_fermi:.3f}  0.0000  0.0000  1\n")
    source = complex_ if family is None else f"{complex_}@{family}"
    return {"stem": stem, "status": "ok", "family": family, "source_stem": source}


def test_edge_shift_share_tells_a_shift_from_a_change_of_shape():
    base = edge()
    assert edge_shift_share(ENERGY, base, edge(0.1) - base) > 0.99
    bump = np.exp(-((ENERGY - 7140.0) / 3.0) ** 2)  # far above the edge, where dμ/dE is ~0
    assert edge_shift_share(ENERGY, base, 0.05 * bump) < 0.01
    assert np.isnan(edge_shift_share(ENERGY, base, np.zeros_like(base)))


def test_fermi_level_reads_the_last_iteration_and_none_when_absent(tmp_path):
    (tmp_path / "convergence.scf").write_text("# header\n 0 6.5 0 0 0\n 7 -10.25 0 0 1\n")
    assert fermi_level(tmp_path) == -10.25
    assert fermi_level(tmp_path / "missing") is None
    (tmp_path / "convergence.scf").write_text("# only a header\n")
    assert fermi_level(tmp_path) is None


def test_table_reports_how_far_the_fermi_level_moved_per_family(tmp_path, capsys):
    root = tmp_path / "fe-k"
    (root / "spectra").mkdir(parents=True)
    rows = []
    for i, name in enumerate(["AAAAAA_FeC2", "BBBBBB_FeN2"]):
        stem = f"Fe_{name[:6]}"
        rows.append(write_run(root, stem, edge(), -10.0, None, name))
        # the larger bend moves E_F 0.4 eV, the smaller 0.3 (not half): the ratio printed is 0.75
        rows.append(write_run(root, f"{stem}_bend1", edge(0.4), -9.6, "bend10", name))
        rows.append(write_run(root, f"{stem}_bend2", edge(0.3) + 0.001 * i * ENERGY / 7100, -9.7, "bend5", name))
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--data", str(root)]) == 0
    out = capsys.readouterr().out
    assert "2 complexes" in out
    assert "| bend10 | 2 | 0.400 |" in out
    assert "| bend5 | 2 | 0.300 |" in out
    line = next(x for x in out.splitlines() if x.startswith("| bend10 / bend5"))
    assert line.split("|")[3].strip() == "-"  # the same shift in both complexes: no correlation to state
    assert line.split("|")[4].strip() == "0.75"


def test_noise_floor_turns_a_complex_rigidly_about_its_absorber():
    from scipy.spatial.distance import pdist

    from feff_noise_floor import turned
    from helpers import random_complex

    atoms = random_complex(np.random.default_rng(3))
    atoms.positions += [3.0, -1.0, 2.0]  # the absorber away from the origin: turned about it, not the origin
    out = turned(atoms, np.random.default_rng(4))
    assert np.allclose(out.positions[0], atoms.positions[0])
    assert np.allclose(pdist(out.positions), pdist(atoms.positions))
    assert np.abs(out.positions - atoms.positions)[1:].max() > 0.1  # it did turn
    assert list(out.numbers) == list(atoms.numbers)


def test_stems_restrict_the_complexes_and_an_unknown_one_is_named(tmp_path, capsys):
    import pytest

    root = tmp_path / "fe-k"
    (root / "spectra").mkdir(parents=True)
    rows = [write_run(root, "Fe_AAAAAA", edge(), -10.0, None, "AAAAAA_FeC2"),
            write_run(root, "Fe_AAAAAA_bend1", edge(0.4), -9.6, "bend10", "AAAAAA_FeC2"),
            write_run(root, "Fe_BBBBBB", edge(), -10.0, None, "BBBBBB_FeN2"),
            write_run(root, "Fe_BBBBBB_bend1", edge(0.2), -9.8, "bend10", "BBBBBB_FeN2")]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--data", str(root), "--stems", "Fe_BBBBBB"]) == 0
    assert "| bend10 | 1 | 0.200 |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="none of the complexes"):
        main(["--data", str(root), "--stems", "Fe_ZZZZZZ"])


def test_runs_without_a_fermi_level_print_dashes_not_nan(tmp_path, capsys):
    root = tmp_path / "fe-k"
    (root / "spectra").mkdir(parents=True)
    rows = [write_run(root, "Fe_AAAAAA", edge(), None, None, "AAAAAA_FeC2"),
            write_run(root, "Fe_AAAAAA_bend1", edge(0.4), None, "bend10", "AAAAAA_FeC2")]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["--data", str(root)]) == 0
    out = capsys.readouterr().out
    assert "| bend10 | 1 | - | - | 1.00 |" in out
    assert "nan" not in out
