"""Data-set text files kept gzip-packed: every reader takes NAME or NAME.gz alike."""

import gzip

import numpy as np
import pytest
from ase import Atoms

from xanesviz import packed
from xanesviz.data import list_stems, load_dataset, read_spectrum_file
from xanesviz.errors import SpectrumFileError, StructureError
from xanesviz.feff import scf_last_row
from xanesviz.simulate import pack_feff_files
from xanesviz.structure import read_structure

GRID = np.linspace(7097.0, 7172.0, 226)


def write_pair(root, stem, mu, comment="a free-text comment: Architector 0.0.10, charge 0"):
    (root / "xyz").mkdir(parents=True, exist_ok=True)
    (root / "spectra").mkdir(parents=True, exist_ok=True)
    atoms = Atoms("FeO2", positions=[[0, 0, 0], [2.0, 0, 0], [0, 2.1, 0]])
    body = "".join(f"{a.symbol} {a.position[0]:.4f} {a.position[1]:.4f} {a.position[2]:.4f}\n" for a in atoms)
    (root / "xyz" / f"{stem}.xyz").write_text(f"3\n{comment}\n{body}")
    np.savetxt(root / "spectra" / f"{stem}.txt", np.column_stack([GRID, mu]), header="FEFF10 test\nenergy_eV mu")
    run = root / "feff" / stem
    run.mkdir(parents=True, exist_ok=True)
    (run / "convergence.scf").write_text("# it. Fermi\n 1 -9.0 0 0 0\n 7 -10.25 0 0 1\n")


def test_packing_a_set_shrinks_it_and_reads_back_the_same_structures_spectra_and_scf(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(3):
        write_pair(tmp_path, f"Fe_S{k}", 0.5 + rng.random(226))
    before = load_dataset(tmp_path, GRID)
    plain_bytes = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert pack_feff_files(tmp_path) == 9
    assert not list(tmp_path.rglob("*.txt")) and not list(tmp_path.rglob("*.xyz"))
    assert sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) < 0.6 * plain_bytes
    after = load_dataset(tmp_path, GRID)
    assert after.names == before.names == list_stems(tmp_path)
    assert np.array_equal(after.spectra, before.spectra)
    assert all(np.allclose(a.positions, b.positions) and a.get_chemical_symbols() == b.get_chemical_symbols()
               for a, b in zip(after.structures, before.structures))
    assert scf_last_row(tmp_path / "feff" / "Fe_S0")[1] == "-10.25"
    # a reader given the plain name finds the packed file (benchmarks name data-set files so)
    assert np.array_equal(read_spectrum_file(tmp_path / "spectra" / "Fe_S1.txt", GRID)[1], before.spectra[1])
    assert np.allclose(read_structure(tmp_path / "xyz" / "Fe_S1.xyz").positions, before.structures[1].positions)
    assert pack_feff_files(tmp_path) == 0  # nothing left to pack


def test_packed_files_are_byte_for_byte_gzip_and_the_same_file_packs_to_the_same_bytes(tmp_path):
    first, second = tmp_path / "a" / "x.txt", tmp_path / "b" / "x.txt"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text("7097.0 0.1\n7098.0 0.2\n")
    packed_first, packed_second = packed.pack(first), packed.pack(second)
    assert packed_first.read_bytes() == packed_second.read_bytes()
    assert gzip.decompress(packed_first.read_bytes()) == b"7097.0 0.1\n7098.0 0.2\n"
    target = tmp_path / "back.txt"
    assert packed.copy_unpacked(first, target) and target.read_text() == "7097.0 0.1\n7098.0 0.2\n"
    assert not packed.copy_unpacked(tmp_path / "none.txt", target)


def test_a_damaged_packed_file_is_a_one_line_error(tmp_path):
    bad_spectrum = tmp_path / "s.txt.gz"
    bad_spectrum.write_bytes(gzip.compress(b"7097 0.1\n7098 0.2\n" * 50)[:40])
    with pytest.raises(SpectrumFileError, match="s.txt.gz"):
        read_spectrum_file(bad_spectrum)
    bad_structure = tmp_path / "m.xyz.gz"
    bad_structure.write_bytes(b"not gzip at all")
    with pytest.raises(StructureError, match="m.xyz.gz"):
        read_structure(bad_structure)


def test_a_numbered_xyz_reads_packed_too(tmp_path):
    path = tmp_path / "n.xyz"
    path.write_text("2\n\n26 0 0 0\n8 2.0 0 0\n")
    packed.pack(path)
    atoms = read_structure(tmp_path / "n.xyz.gz")
    assert atoms.get_chemical_symbols() == ["Fe", "O"]


def test_a_file_gone_between_listing_and_reading_is_skipped_with_its_reason(tmp_path, monkeypatch):
    from xanesviz import data

    write_pair(tmp_path, "Fe_A", np.ones(226))
    write_pair(tmp_path, "Fe_B", np.ones(226))
    pack_feff_files(tmp_path)
    listed = list_stems(tmp_path)
    (tmp_path / "xyz" / "Fe_B.xyz.gz").unlink()
    monkeypatch.setattr(data, "list_stems", lambda _: listed)
    loaded = load_dataset(tmp_path, GRID)
    assert loaded.names == ["Fe_A"] and "Fe_B.xyz: no such file" in loaded.skipped[0]
