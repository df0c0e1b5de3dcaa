"""Spectrum file parsers, data set loading, and the accuracy figures (delta mu, peak statistics)."""

import numpy as np
import pytest

from xanesviz.data import list_stems, load_dataset, read_fdmnes, read_spectrum_file
from xanesviz.errors import SpectrumFileError, XanesvizError
from xanesviz.evaluation import (bootstrap_intervals, delta_mu, format_intervals, format_summary, peak_counts,
                                 peak_statistics, resampled_figures, summarise)
from xanesviz.data import FE_K_GRID

from conftest import write_numbered_xyz


def write_target(path, energy, mu, header=("FDMNES", "energy <xanes>")):
    lines = list(header) + [f"{e:10.2f} {m:.7E}" for e, m in zip(energy, mu)]
    path.write_text("\n".join(lines) + "\n")
    return path


def first_stem(data_dir):
    return list_stems(data_dir)[0]


# -- real files ------------------------------------------------------------------------------


def test_read_fdmnes_real_file(data_dir):
    energy, cross_section, header = read_fdmnes(data_dir / "fdmnes" / f"{first_stem(data_dir)}.txt")
    assert len(energy) == len(cross_section) == 376
    assert energy[0] == pytest.approx(7097.0) and energy[-1] == pytest.approx(7172.0)
    np.testing.assert_allclose(np.diff(energy), 0.2, atol=1e-6)
    assert header["E_edge"] == pytest.approx(7112.0)
    assert header["Z"] == 26
    assert np.all(np.isfinite(cross_section)) and cross_section.max() > 0


def test_read_spectrum_file_real_target(data_dir):
    energy, mu = read_spectrum_file(data_dir / "spectra" / f"{first_stem(data_dir)}.txt", FE_K_GRID)
    assert mu.shape == (226,)
    np.testing.assert_allclose(energy, FE_K_GRID, atol=0.01)
    assert 0.5 < mu.max() < 1.8  # the README's range of target maxima


def test_wrong_grid_on_real_file(data_dir):
    """The raw FDMNES file (376 points) is not on the 226-point target grid."""
    path = data_dir / "fdmnes" / f"{first_stem(data_dir)}.txt"
    with pytest.raises(SpectrumFileError) as info:
        read_spectrum_file(path, FE_K_GRID)
    assert path.name in str(info.value)


def test_load_dataset(data_dir):
    dataset = load_dataset(data_dir, limit=20)
    assert len(dataset) == len(dataset.names) == 20
    assert dataset.names == list_stems(data_dir)[:20]
    assert dataset.spectra.shape == (20, 226)
    assert len(dataset.structures) == 20
    assert all(s.get_chemical_symbols()[0] == "Fe" for s in dataset.structures)
    np.testing.assert_array_equal(dataset.energy, FE_K_GRID)
    assert dataset.skipped == []
    _, mu = read_spectrum_file(data_dir / "spectra" / f"{dataset.names[3]}.txt")
    np.testing.assert_array_equal(dataset.spectra[3], mu)


# -- synthetic files -------------------------------------------------------------------------


def test_read_spectrum_file_synthetic(tmp_path):
    mu = np.linspace(0.1, 1.0, 226)
    energy, got = read_spectrum_file(write_target(tmp_path / "s.txt", FE_K_GRID, mu), FE_K_GRID)
    np.testing.assert_allclose(got, mu, rtol=1e-6)
    assert len(energy) == 226


def test_read_spectrum_file_comma_separated(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("# comment\nenergy_eV,mu\n7100.0,0.5\n7101.0,0.6\n")
    energy, mu = read_spectrum_file(path)
    np.testing.assert_allclose(energy, [7100.0, 7101.0])
    np.testing.assert_allclose(mu, [0.5, 0.6])


@pytest.mark.parametrize("energy", [
    np.linspace(7097, 7172, 225),  # one point short
    np.linspace(7090, 7165, 226),  # shifted
])
def test_wrong_grid_raises(tmp_path, energy):
    path = write_target(tmp_path / "wrong_grid.txt", energy, np.ones(len(energy)))
    with pytest.raises(SpectrumFileError) as info:
        read_spectrum_file(path, FE_K_GRID)
    message = str(info.value)
    assert "wrong_grid.txt" in message and "\n" not in message
    assert isinstance(info.value, ValueError)
    read_spectrum_file(path)  # fine without a grid to check against


def test_malformed_row_names_line(tmp_path):
    path = tmp_path / "malformed.txt"
    path.write_text("FDMNES\nenergy <xanes>\n7097.00 0.1\n7097.33 0.2\n7097.67 oops\n7098.00 0.3\n")
    with pytest.raises(SpectrumFileError) as info:
        read_spectrum_file(path)
    message = str(info.value)
    assert "malformed.txt" in message and "line 5" in message and "\n" not in message


def test_single_column_row(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("7097.00 0.1\n7097.33\n")
    with pytest.raises(SpectrumFileError) as info:
        read_spectrum_file(path)
    assert "line 2" in str(info.value)


@pytest.mark.parametrize("text", ["", "FDMNES\nenergy <xanes>\n", "7097.0 nan\n7097.3 0.2\n"])
def test_empty_or_non_finite_spectrum(tmp_path, text):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(SpectrumFileError) as info:
        read_spectrum_file(path)
    assert "bad.txt" in str(info.value)


def test_missing_spectrum_file(tmp_path):
    with pytest.raises(SpectrumFileError) as info:
        read_fdmnes(tmp_path / "absent.txt")
    assert "absent.txt" in str(info.value)


def test_read_fdmnes_synthetic_header(tmp_path):
    path = tmp_path / "raw.txt"
    rows = "\n".join(f"{e:10.2f} {0.01 * k:.7E}" for k, e in enumerate(np.linspace(7097, 7172, 376)))
    path.write_text("  7112.000   26  1 = E_edge, Z, n_edge\n    Energy    <xanes>\n" + rows + "\n")
    energy, cross, header = read_fdmnes(path)
    assert header == {"E_edge": 7112.0, "Z": 26.0, "n_edge": 1.0}
    assert len(energy) == 376 and cross[-1] == pytest.approx(3.75)


def test_load_dataset_skips_bad_pairs(tmp_path):
    (tmp_path / "xyz").mkdir()
    (tmp_path / "spectra").mkdir()
    for stem in ("A_good(1+)", "B_good", "C_bad_grid", "D_bad_xyz", "E_no_spectrum"):
        write_numbered_xyz(tmp_path / "xyz" / f"{stem}.xyz", [26, 8], [[0, 0, 0], [2, 0, 0]])
    (tmp_path / "xyz" / "D_bad_xyz.xyz").write_text("2\nc\n26 0 0 0\n")
    for stem in ("A_good(1+)", "B_good", "D_bad_xyz"):
        write_target(tmp_path / "spectra" / f"{stem}.txt", FE_K_GRID, np.ones(226))
    write_target(tmp_path / "spectra" / "C_bad_grid.txt", FE_K_GRID[:-1], np.ones(225))
    dataset = load_dataset(tmp_path)
    assert dataset.names == ["A_good(1+)", "B_good"]
    assert dataset.spectra.shape == (2, 226)
    assert len(dataset.skipped) == 2
    assert any("C_bad_grid" in s for s in dataset.skipped) and any("D_bad_xyz" in s for s in dataset.skipped)


def test_not_a_data_directory(tmp_path):
    with pytest.raises(XanesvizError):
        list_stems(tmp_path)


# -- evaluation --------------------------------------------------------------------------------


def two_peak_spectra(shift=0.0, n=3):
    """Rows of two Gaussian peaks (at 7115 and 7140 eV, optionally shifted) on a 0.2 baseline."""
    def g(c, w):
        return np.exp(-0.5 * ((FE_K_GRID - c) / w) ** 2)
    rows = [0.2 + (1 + 0.1 * k) * g(7115 + shift, 1.5) + 0.6 * g(7140 + shift, 2.5) for k in range(n)]
    return np.array(rows)


def test_delta_mu_ten_percent():
    truth = two_peak_spectra()
    np.testing.assert_allclose(delta_mu(1.1 * truth, truth), 10.0, rtol=1e-12)
    np.testing.assert_allclose(delta_mu(0.9 * truth, truth), 10.0, rtol=1e-12)
    np.testing.assert_allclose(delta_mu(truth, truth), 0.0)
    assert delta_mu(1.1 * truth, truth).shape == (3,)


def test_delta_mu_single_spectrum_and_offset():
    truth = np.full(226, 2.0)
    assert delta_mu(truth + 0.5, truth) == pytest.approx([25.0])


def test_peak_statistics_one_ev_shift():
    truth = two_peak_spectra()
    stats = peak_statistics(FE_K_GRID, two_peak_spectra(shift=1.0), truth)
    assert stats["peaks"] == 6
    assert stats["peak_hit_rate"] == 1.0
    assert stats["mean_abs_peak_shift_eV"] == pytest.approx(1.0, abs=0.2)


def test_peak_statistics_exact_match():
    truth = two_peak_spectra()
    stats = peak_statistics(FE_K_GRID, truth, truth)
    assert stats["peak_hit_rate"] == 1.0 and stats["mean_abs_peak_shift_eV"] == 0.0


def test_peak_statistics_five_ev_shift_misses():
    truth = two_peak_spectra()
    stats = peak_statistics(FE_K_GRID, two_peak_spectra(shift=5.0), truth)
    assert stats["peaks"] == 6
    assert stats["peak_hit_rate"] == 0.0
    assert np.isnan(stats["mean_abs_peak_shift_eV"])


def test_peak_precision_counts_spurious_peaks():
    truth = two_peak_spectra(n=1)
    noisy = truth + 0.3 * np.exp(-0.5 * ((FE_K_GRID - 7160.0) / 0.8) ** 2)  # one extra peak, far from both
    stats = peak_statistics(FE_K_GRID, noisy, truth)
    assert stats["peak_hit_rate"] == 1.0 and stats["peak_precision"] == pytest.approx(2 / 3)
    assert peak_statistics(FE_K_GRID, truth, truth)["peak_precision"] == 1.0


def test_peak_precision_is_a_share_of_predicted_peaks():
    def g(c):
        return np.exp(-0.5 * ((FE_K_GRID - c) / 0.8) ** 2)
    truth = (0.2 + g(7120.0) + g(7124.0))[None]
    one_between = peak_statistics(FE_K_GRID, (0.2 + 1.5 * g(7122.0))[None], truth)  # 2 eV from each
    assert one_between["peak_hit_rate"] == 1.0 and one_between["peak_precision"] == 1.0
    two_near_one = (0.2 + g(7140.0) + 0.8 * g(7137.5) + 0.8 * g(7142.5))[None]  # both within 3 eV of 7140
    twin = peak_statistics(FE_K_GRID, two_near_one, (0.2 + g(7140.0) + 0.8 * g(7160.0))[None])
    assert twin["peak_hit_rate"] == 0.5 and twin["peak_precision"] == 1.0


def test_peak_statistics_featureless_prediction():
    truth = two_peak_spectra(n=2)
    stats = peak_statistics(FE_K_GRID, np.full_like(truth, 0.5), truth)
    assert stats["peaks"] == 4 and stats["peak_hit_rate"] == 0.0


def mixed_predictions():
    """Three spectra: one predicted 1 eV off, one 5 eV off (both peaks missed), one with a spurious peak."""
    truth = two_peak_spectra()
    predicted = np.vstack([two_peak_spectra(shift=1.0, n=1), two_peak_spectra(shift=5.0, n=1),
                           truth[2] + 0.3 * np.exp(-0.5 * ((FE_K_GRID - 7160.0) / 0.8) ** 2)])
    return predicted, truth


def test_peak_counts_per_spectrum_pool_to_the_statistics():
    predicted, truth = mixed_predictions()
    counts = peak_counts(FE_K_GRID, predicted, truth)
    assert counts["targets"].tolist() == [2, 2, 2] and counts["found"].tolist() == [2, 0, 2]
    assert counts["predicted"].tolist() == [2, 2, 3] and counts["real"].tolist() == [2, 0, 2]
    pooled = peak_statistics(FE_K_GRID, predicted, truth)
    assert pooled["peak_hit_rate"] == pytest.approx(4 / 6) and pooled["peak_precision"] == pytest.approx(4 / 7)
    assert pooled["mean_abs_peak_shift_eV"] == pytest.approx(counts["shift_sum"].sum() / 4)
    assert counts["shift_sum"][2] == 0.0 and 1.5 < counts["shift_sum"][0] < 2.5


@pytest.mark.parametrize("block", [None, 4])  # 4: one set at a time, as for very many spectra
def test_resampled_figures_of_every_spectrum_are_the_pooled_figures(block, monkeypatch):
    import xanesviz.evaluation

    if block:
        monkeypatch.setattr(xanesviz.evaluation, "RESAMPLE_BLOCK", block)
    predicted, truth = mixed_predictions()
    spread = resampled_figures(FE_K_GRID, predicted, truth, size=3, draws=5)
    pooled = summarise(FE_K_GRID, predicted, truth)
    for key in ("delta_mu_median_pct", "peak_hit_rate", "peak_precision", "mean_abs_peak_shift_eV"):
        assert spread[key].shape == (5,)
        np.testing.assert_allclose(spread[key], pooled[key], rtol=1e-12)


def test_resampled_figures_of_single_spectra():
    predicted, truth = mixed_predictions()
    spread = resampled_figures(FE_K_GRID, predicted, truth, size=1, draws=200, seed=3)
    assert set(np.round(spread["peak_hit_rate"], 12)) == {0.0, 1.0}  # a set of one spectrum finds all or none
    assert np.isnan(spread["mean_abs_peak_shift_eV"]).any()  # the spectrum whose peaks are all missed has no |ΔE|
    assert np.all(np.isfinite(spread["delta_mu_median_pct"]))
    with pytest.raises(ValueError, match="cannot draw"):
        resampled_figures(FE_K_GRID, predicted, truth, size=4)


def test_bootstrap_intervals_bracket_the_pooled_figures():
    predicted, truth = mixed_predictions()
    intervals = bootstrap_intervals(FE_K_GRID, predicted, truth, draws=300)
    pooled = summarise(FE_K_GRID, predicted, truth)
    for key, (low, high) in intervals.items():
        assert low <= pooled[key] <= high, key
    assert intervals["peak_hit_rate"][0] < intervals["peak_hit_rate"][1]  # the spectra differ: the interval is wide
    exact = bootstrap_intervals(FE_K_GRID, truth, truth, draws=50)
    assert exact["peak_hit_rate"] == (1.0, 1.0) and exact["delta_mu_median_pct"] == (0.0, 0.0)
    line = format_intervals(intervals, draws=300)
    assert line.startswith("95 % bootstrap intervals, 300 resamples") and "nan" not in line


def test_bootstrap_intervals_without_peaks_say_so():
    flat = np.full((4, len(FE_K_GRID)), 0.5)
    intervals = bootstrap_intervals(FE_K_GRID, flat, flat, draws=20)
    assert np.isnan(intervals["peak_hit_rate"]).all()
    assert "peaks found n/a" in format_intervals(intervals) and "nan" not in format_intervals(intervals)


def test_summarise():
    truth = two_peak_spectra()
    summary = summarise(FE_K_GRID, 1.1 * truth, truth)
    assert summary["n_spectra"] == 3
    assert summary["delta_mu_median_pct"] == pytest.approx(10.0)
    assert summary["peak_hit_rate"] == 1.0


def test_a_summary_without_matched_peaks_prints_a_dash_not_nan():
    """No peak matched (a featureless prediction): the mean |ΔE| is undefined and the console line
    says "-" for it rather than "nan"."""
    truth = two_peak_spectra(n=2)
    summary = summarise(FE_K_GRID, np.full_like(truth, 0.5), truth)
    assert not np.isfinite(summary["mean_abs_peak_shift_eV"])
    line = format_summary(summary)
    assert "nan" not in line and "mean |ΔE| - eV" in line and "peaks found 0.0 % of 4" in line
    assert "mean |ΔE| 1.00 eV" in format_summary({**summary, "mean_abs_peak_shift_eV": 1.0})
