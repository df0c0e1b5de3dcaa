"""Measured spectra: reading (every layout the issue names), normalisation, alignment, CLI."""

import json
import time
from pathlib import Path

import numpy as np
import pytest

from xanesviz.cli import main
from xanesviz.compare import PREDICTED_NORMALISATION, compare, normalise_prediction
from xanesviz.errors import SpectrumFileError
from xanesviz.measured import read_measured, tabulated_edge
from xanesviz.data import FE_K_GRID
from xanesviz.spectrum import Broadening, Spectrum

EXPERIMENT = Path(__file__).resolve().parents[1].parent / "shared/data/experiment"
#: Metals' E0 (larch: the largest derivative) is the tabulated edge within this (eV), as the issue asks.
METAL_E0_TOLERANCE = 10.0
#: Oxides' main edge sits above the metal's by their chemical shift, up to ~20 eV for Cr(IV)
#: and V(III); larch's E0 is on that edge, so for every file the bound is wider.
ANY_E0_TOLERANCE = 25.0


def fake_mu(energy, e0=7120.0, step=1.0, white_line=0.6, slope=-2e-4, line_width=3.0):
    """A K-edge-like μ(E): sloped pre-edge (a prediction's is flat: ``slope=0``), arctangent edge of ``step`` at ``e0``, a white line, slow wiggle."""
    energy = np.asarray(energy, float)
    pre = 0.5 + slope * (energy - e0)
    edge = step * (0.5 + np.arctan((energy - e0) / 1.5) / np.pi)
    line = white_line * step * np.exp(-0.5 * ((energy - e0 - 6.0) / line_width) ** 2)
    wiggle = 0.08 * step * np.sin((energy - e0) / 9.0) * (energy > e0)
    return pre + edge + line + wiggle


def write_columns(path, header_lines, names, columns, sep=" "):
    lines = [f"# {line}" for line in header_lines]
    if names is not None:
        lines.append("# " + sep.join(names) if sep == " " else sep.join(names))
    lines += [sep.join(f"{v:.8g}" for v in row) for row in np.column_stack(columns)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def energy():
    return np.concatenate([np.arange(6920.0, 7090.0, 5.0), np.arange(7090.0, 7160.0, 0.4), np.arange(7160.0, 7500.0, 2.0)])


def transmission(energy, e0=7120.0):
    i0 = 1e5 * (1 + 0.05 * np.sin(energy / 50))
    return i0, i0 * np.exp(-fake_mu(energy, e0))


# -- reading -------------------------------------------------------------------------------------
def test_xdi_with_itrans_before_i0_and_odd_header_spacing(tmp_path, energy):
    i0, itrans = transmission(energy)
    path = write_columns(tmp_path / "sample.xd",
                         ["XDI/1.0", "Column.1: energy eV", "Column.2: itrans", "Column.3: i0",
                          "Element.symbol:   Fe", "Element.edge:  K", "///", "-----"],
                         ["energy", "itrans", "i0"], [energy, itrans, i0])
    m = read_measured(path)
    assert (m.element, m.edge, m.mu_source) == ("Fe", "K", "ln(i0/itrans)")
    assert np.allclose(m.mu, fake_mu(energy))
    assert abs(m.e0 - 7120.0) < 1.0
    assert m.edge_step == pytest.approx(1.0, rel=0.15)
    post = (m.energy > m.e0 + 60) & (m.energy < m.e0 + 300)
    assert abs(m.norm[post].mean() - 1.0) < 0.1 and abs(m.norm[m.energy < m.e0 - 50].mean()) < 0.05


@pytest.mark.parametrize("order", [("energy", "i0", "itrans"), ("itrans", "energy", "i0"), ("i0", "itrans", "energy")])
def test_csv_in_any_column_order(tmp_path, energy, order):
    i0, itrans = transmission(energy)
    data = {"energy": energy, "i0": i0, "itrans": itrans}
    path = write_columns(tmp_path / "a.csv", [], list(order), [data[k] for k in order], sep=",")
    m = read_measured(path)
    assert m.mu_source == "ln(i0/itrans)" and np.allclose(m.energy, energy)
    assert abs(m.e0 - 7120.0) < 1.0
    assert m.element is None and any("does not name its element" in w for w in m.warnings)


def test_fluorescence_and_i1_columns(tmp_path, energy):
    i0 = np.full_like(energy, 2e5)
    path = write_columns(tmp_path / "fluo.dat", ["Element.symbol: fe"], ["energy", "if", "i0"],
                         [energy, i0 * 0.01 * fake_mu(energy), i0])
    m = read_measured(path)
    assert m.mu_source == "if/i0" and m.element == "Fe" and abs(m.e0 - 7120) < 1.0
    i0, itrans = transmission(energy)
    m = read_measured(write_columns(tmp_path / "t.txt", [], ["energy", "i1", "i0"], [energy, itrans, i0]))
    assert m.mu_source == "ln(i0/i1)"


def test_mu_column_two_plain_columns_and_kev(tmp_path, energy):
    m = read_measured(write_columns(tmp_path / "mu.dat", [], ["energy", "mutrans"], [energy, fake_mu(energy)]))
    assert m.mu_source == "mutrans"
    plain = write_columns(tmp_path / "plain.txt", [], None, [energy / 1000.0, fake_mu(energy)])
    m = read_measured(plain)
    assert abs(m.e0 - 7120.0) < 1.0 and any("keV" in w for w in m.warnings)


def test_mu_source_override(tmp_path, energy):
    i0, itrans = transmission(energy)
    path = write_columns(tmp_path / "both.dat", [], ["energy", "i0", "itrans", "ifluor", "mu"],
                         [energy, i0, itrans, i0 * 0.02 * fake_mu(energy), 3 * fake_mu(energy)])
    assert read_measured(path).mu_source == "mu"
    assert read_measured(path, mu_source="ln(i0/itrans)").mu_source == "ln(i0/itrans)"
    m = read_measured(path, mu_source="IFLUOR/I0")
    assert m.mu_source == "ifluor/i0" and np.allclose(m.mu, 0.02 * fake_mu(energy))
    with pytest.raises(SpectrumFileError, match="both.dat: no column 'i2'"):
        read_measured(path, mu_source="ln(i0/i2)")
    with pytest.raises(SpectrumFileError, match="neither a column name"):
        read_measured(path, mu_source="i0*2")


def test_athena_project_one_group_chosen(tmp_path, energy):
    from larch import Group
    from larch.io import AthenaProject

    project = AthenaProject(str(tmp_path / "p.prj"))
    for name, e0 in (("first", 7115.0), ("second", 7125.0)):
        project.add_group(Group(energy=energy, mu=fake_mu(energy, e0), filename=name, groupname=name))
    project.save()
    assert abs(read_measured(tmp_path / "p.prj").e0 - 7115.0) < 1.0
    assert abs(read_measured(tmp_path / "p.prj", group="second").e0 - 7125.0) < 1.0
    with pytest.raises(SpectrumFileError, match="no group 'third'"):
        read_measured(tmp_path / "p.prj", group="third")


def test_xanesnet_spectrum_file(tmp_path):
    lines = ["    FDMNES", "    energy     <xanes>"] + [f"   {e:.2f}  {v:.7E}" for e, v in zip(FE_K_GRID, fake_mu(FE_K_GRID, 7115.0))]
    (tmp_path / "s.txt").write_text("\n".join(lines) + "\n")
    m = read_measured(tmp_path / "s.txt")
    assert m.mu_source == "mu" and len(m) == len(FE_K_GRID) and abs(m.e0 - 7115.0) < 1.0


def test_unknown_layout_malformed_and_missing_files_are_one_line_errors(tmp_path, energy):
    cases = {
        "layout.dat": lambda p: write_columns(p, [], ["energy", "a", "b", "c"], [energy, energy, energy, energy]),
        "garbage.dat": lambda p: p.write_text("this is not\na spectrum at all\n"),
        "empty.xdi": lambda p: p.write_text(""),
        "nan.csv": lambda p: write_columns(p, [], ["energy", "i0", "itrans"], [energy, energy * 0, energy], sep=","),
        "flat.dat": lambda p: write_columns(p, [], ["energy", "mu"], [energy, np.ones_like(energy)]),
    }
    for name, make in cases.items():
        path = tmp_path / name
        make(path)
        with pytest.raises(SpectrumFileError) as info:
            read_measured(path)
        message = str(info.value)
        assert name in message and "\n" not in message, message
    with pytest.raises(SpectrumFileError, match="no such file"):
        read_measured(tmp_path / "absent.xdi")
    assert "cannot tell mu(E) from columns energy, a, b, c" in str(
        pytest.raises(SpectrumFileError, read_measured, tmp_path / "layout.dat").value)


def test_element_mismatch_is_a_warning_and_still_compared(tmp_path, energy):
    i0, itrans = transmission(energy)
    path = write_columns(tmp_path / "co.dat", ["Element.symbol: Co", "Element.edge: K"], ["energy", "i0", "itrans"],
                         [energy, i0, itrans])
    m = read_measured(path, expected_element="Fe")
    assert m.element == "Co" and any("Co spectrum" in w and "Fe" in w for w in m.warnings)
    result = compare(m, Spectrum(FE_K_GRID, fake_mu(FE_K_GRID, 7118.0)))
    assert result.pearson > 0.99 and any("Co spectrum" in w for w in result.warnings)


# -- normalisation of the prediction ------------------------------------------------------------
@pytest.mark.parametrize("e0", [7112.0, 7118.0, 7126.0])
def test_prediction_normalisation_is_larchs_pre_edge(e0):
    from larch import Group
    from larch.xafs import pre_edge

    mu = fake_mu(FE_K_GRID, e0, step=0.4) + 0.3 * np.exp(-0.5 * ((FE_K_GRID - e0 + 6) / 0.8) ** 2)
    ours = normalise_prediction(FE_K_GRID, mu)
    group = Group()
    pre_edge(FE_K_GRID, mu, group=group, make_flat=False, **PREDICTED_NORMALISATION)
    assert ours["e0"] == pytest.approx(group.e0)
    assert ours["edge_step"] == pytest.approx(group.edge_step, rel=1e-9)
    assert np.allclose(ours["norm"], group.norm, atol=1e-9)
    assert ours["norm2"] == pytest.approx(group.pre_edge_details.norm2)


# -- alignment ----------------------------------------------------------------------------------
def measured_from(tmp_path, energy, mu, name="m.dat"):
    return read_measured(write_columns(tmp_path / name, ["Element.symbol: Fe"], ["energy", "mu"], [energy, mu]))


def test_alignment_recovers_shift_and_scale(tmp_path, energy):
    predicted = Spectrum(FE_K_GRID, 0.37 * fake_mu(FE_K_GRID, 7117.0, slope=0))
    measured = measured_from(tmp_path, energy, 2.0 * fake_mu(energy, 7119.5))
    result = compare(measured, predicted)
    assert result.shift_eV == pytest.approx(2.5, abs=0.05)
    assert result.pearson > 0.999 and result.r_factor < 1e-3 and result.delta_mu_pct < 2.0
    assert result.e0_measured == pytest.approx(measured.e0) and abs(result.e0_predicted - 7117.0) < 1.0
    assert np.all(np.diff(result.energy) > 0) and len(result.energy) >= 200
    held = compare(measured, predicted, shift=0.0)
    assert held.shift_eV == 0.0 and held.r_factor > 5 * result.r_factor
    summary = result.summary()
    for key in ("shift_eV", "r_factor", "pearson", "delta_mu_pct", "e0_measured", "e0_predicted", "scale"):
        assert np.isfinite(summary[key])
    assert summary["predicted_normalisation"]["pre2"] == PREDICTED_NORMALISATION["pre2"]


def test_alignment_is_fast_enough_for_a_drag(tmp_path, energy):
    predicted = Spectrum(FE_K_GRID, fake_mu(FE_K_GRID, 7117.0))
    measured = measured_from(tmp_path, energy, fake_mu(energy, 7119.5))
    compare(measured, predicted)
    start = time.perf_counter()
    for _ in range(5):
        compare(measured, predicted)
    per_call = (time.perf_counter() - start) / 5
    assert per_call < 0.15, f"{1e3 * per_call:.0f} ms per alignment (benchmark target 50 ms; loose bound for a busy CI)"


def test_broadening_fit_recovers_a_gaussian(tmp_path, energy):
    sharp = fake_mu(FE_K_GRID, 7117.0, white_line=1.5, slope=0, line_width=1.0)
    fine = np.arange(7050.0, 7250.0, 0.25)
    true = Broadening(gaussian_fwhm=3.0)
    measured_mu = np.interp(fine, FE_K_GRID + 1.0, true.apply(FE_K_GRID, sharp))
    inside = (fine > FE_K_GRID[0] + 1) & (fine < FE_K_GRID[-1] + 1)
    measured = measured_from(tmp_path, np.concatenate([np.arange(6900, 7050, 5.0), fine[inside]]),
                             np.concatenate([fake_mu(np.arange(6900, 7050, 5.0), 7118.0, slope=0), measured_mu[inside]]))
    plain = compare(measured, Spectrum(FE_K_GRID, sharp))
    start = time.perf_counter()
    fitted = compare(measured, Spectrum(FE_K_GRID, sharp), fit_broadening=True)
    seconds = time.perf_counter() - start
    assert fitted.r_factor < 0.3 * plain.r_factor and fitted.pearson > plain.pearson
    assert fitted.broadening is not None and fitted.broadening.gaussian_fwhm > 1.0
    assert seconds < 3.0, f"broadening fit took {seconds:.2f} s"


def test_a_flat_prediction_is_refused_not_a_nan(tmp_path, energy):
    from xanesviz.errors import XanesvizError

    measured = measured_from(tmp_path, energy, fake_mu(energy))
    with pytest.raises(XanesvizError, match="m.dat: the prediction is flat"):
        compare(measured, Spectrum(FE_K_GRID, np.full_like(FE_K_GRID, 0.3)))


def test_no_overlap_is_a_one_line_error(tmp_path):
    energy = np.linspace(8900, 9300, 300)
    measured = read_measured(write_columns(tmp_path / "cu.dat", ["Element.symbol: Cu"], ["energy", "mu"],
                                           [energy, fake_mu(energy, 8980.0)]), expected_element="Fe")
    with pytest.raises(SpectrumFileError) as info:
        compare(measured, Spectrum(FE_K_GRID, fake_mu(FE_K_GRID)))
    assert "cu.dat" in str(info.value) and "outside the model's window" in str(info.value)
    assert "\n" not in str(info.value)


# -- real beamline data -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def experiment_files():
    files = sorted(EXPERIMENT.glob("*/*.xd*"))
    if not files:
        pytest.skip(f"measured spectra {EXPERIMENT} not present (../shared/data/experiment is not shipped)")
    return files


def test_every_real_file_reads_and_normalises(experiment_files):
    problems, metals = [], 0
    for path in experiment_files:
        try:
            m = read_measured(path)
        except SpectrumFileError as exc:
            problems.append(str(exc))
            continue
        tabulated = tabulated_edge(m.element, m.edge or "K")
        metal = any(word in path.name.lower() for word in ("foil", "metal"))
        metals += metal
        limit = METAL_E0_TOLERANCE if metal else ANY_E0_TOLERANCE
        if tabulated is None or abs(m.e0 - tabulated) > limit:
            problems.append(f"{path.name}: E0 {m.e0:.1f} eV, tabulated {tabulated} eV")
        if not (np.all(np.isfinite(m.norm)) and m.edge_step > 0):
            problems.append(f"{path.name}: normalisation not finite")
        pre = m.energy < m.e0 - 20
        near = (m.energy > m.e0) & (m.energy < m.e0 + 60)
        post = (m.energy > m.e0 + m.normalisation["norm1"]) & (m.energy < m.e0 + m.normalisation["norm1"] + 100)
        shape = (np.abs(m.norm[pre]).mean(), m.norm[near].max(), np.median(m.norm[post]))
        if not (shape[0] < 0.1 and 0.9 < shape[1] < 3.0 and 0.8 < shape[2] < 1.4):
            problems.append(f"{path.name}: normalised mu not 0 before / ~1 after the edge: {shape}")
    assert len(experiment_files) >= 100 and metals >= 5
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name, compound", [("FeO_rt_01.xdi", "FeO"), ("Fe2O3_rt_01.xdi", "Fe2O3")])
def test_iron_oxides_correlate_after_alignment(experiment_files, name, compound):
    from xanesviz import Predictor

    atoms = oxide(compound)
    predicted = Predictor.load().predict(atoms)
    result = compare(read_measured(EXPERIMENT / "Fe" / name), predicted)
    # The model calls these solids far outside its training data; the rough check found
    # 0.94-0.96. Measured here (benchmarks/measured_compare.py): FeO 0.944, Fe2O3 0.964 (0.982 / 0.989
    # with the broadening fitted).
    assert result.pearson > 0.9, result.format()
    assert abs(result.shift_eV) < 6.0


def oxide(compound):
    from ase.build import bulk
    from ase.spacegroup import crystal

    if compound == "FeO":
        return bulk("FeO", "rocksalt", a=4.33)
    return crystal(["Fe", "O"], basis=[(0, 0, 0.35530), (0.3059, 0, 0.25)], spacegroup=167,
                   cellpar=[5.035, 5.035, 13.75, 90, 90, 120])


# -- command line -------------------------------------------------------------------------------
def test_cli_normalize_json_and_csv(tmp_path, energy, capsys):
    i0, itrans = transmission(energy)
    path = write_columns(tmp_path / "s.csv", [], ["energy", "itrans", "i0"], [energy, itrans, i0], sep=",")
    out = tmp_path / "out.csv"
    assert main(["normalize", str(path), "--json", "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("element", "edge", "e0", "edge_step", "n_points", "mu_source"):
        assert key in summary
    assert summary["n_points"] == len(energy) and summary["mu_source"] == "ln(i0/itrans)"
    lines = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    assert lines[0] == "energy_eV,mu,norm" and len(lines) == len(energy) + 1
    assert "pre_edge" in out.read_text()


@pytest.mark.parametrize("content, args", [("a b c\n1 2\n", []), (None, []), ("garbage\n", ["--mu-source", "x/y"])])
def test_cli_bad_input_one_line_no_traceback(tmp_path, capsys, content, args):
    path = tmp_path / "bad.dat"
    if content is not None:
        path.write_text(content)
    assert main(["normalize", str(path), *args]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.dat" in err and "Traceback" not in err


def test_cli_compare(tmp_path, energy, capsys):
    from ase.io import write

    from conftest import make_octahedron

    structure = tmp_path / "oct.xyz"
    write(structure, make_octahedron())
    measured = write_columns(tmp_path / "m.dat", ["Element.symbol: Fe"], ["energy", "mu"], [energy, fake_mu(energy)])
    out = tmp_path / "both.csv"
    assert main(["compare", str(structure), str(measured), "--json", "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("shift_eV", "r_factor", "pearson", "e0_measured", "e0_predicted", "delta_mu_pct"):
        assert np.isfinite(summary[key])
    lines = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    assert lines[0] == "energy_eV,measured_norm,predicted_norm,residual"
    values = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert np.allclose(values[:, 1] - values[:, 2], values[:, 3], atol=1e-5)
    far = write_columns(tmp_path / "zn.dat", [], ["energy", "mu"], [energy + 2500, fake_mu(energy + 2500, 9660)])
    assert main(["compare", str(structure), str(far)]) != 0
    err = capsys.readouterr().err.strip()
    assert "zn.dat" in err and err.count("\n") == 0
    assert main(["compare", str(structure), str(measured), "--absorber", "Co"]) != 0
    assert "no Co atom" in capsys.readouterr().err


def test_cli_compare_and_refine_pick_the_model_of_the_absorbers_edge(tmp_path, energy, capsys):
    from ase.io import write

    from xanesviz.examples import example

    structure = tmp_path / "cu.xyz"
    write(structure, example("[Cu(H2O)6]2+ (octahedral)"))
    cu_energy = energy + (8979.0 - 7112.0)
    measured = write_columns(tmp_path / "cu.dat", ["Element.symbol: Cu"], ["energy", "mu"],
                             [cu_energy, fake_mu(cu_energy, 8987.0)])
    assert main(["compare", str(structure), str(measured), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "cu-k-feff" and summary["model_element"] == "Cu"
    assert np.isfinite(summary["r_factor"]) and abs(summary["shift_eV"]) < 15
    out = tmp_path / "refined.xyz"
    assert main(["refine", str(structure), str(measured), "-o", str(out), "--mode", "breathing",
                 "--no-error-bars", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"] == "cu-k-feff" and out.exists()
    assert np.isfinite(result["mean_distance"]["after"])


def test_broadening_inside_the_fit_is_the_sliders_broadening():
    from xanesviz.compare import _broaden_vector

    mu = fake_mu(FE_K_GRID, 7117.0, white_line=1.5, line_width=1.0)
    for b in (Broadening(gaussian_fwhm=2.0), Broadening(gamma_hole=1.0, gamma_max=8.0, gaussian_fwhm=0.7, e_fermi=7112.0),
              Broadening(gamma_hole=0.5, e_fermi=7112.0)):
        np.testing.assert_allclose(_broaden_vector(b, FE_K_GRID, mu), b.apply(FE_K_GRID, mu), rtol=1e-9, atol=1e-12)
    uneven = np.sort(np.concatenate([FE_K_GRID, [7100.1, 7130.05]]))
    b = Broadening(gaussian_fwhm=1.5)
    np.testing.assert_allclose(_broaden_vector(b, uneven, fake_mu(uneven)), b.apply(uneven, fake_mu(uneven)), rtol=1e-9)
