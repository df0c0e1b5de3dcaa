"""Broadening functions, peak finding, the Spectrum CSV, and the FDMNES -> target recipe."""

import io

import numpy as np
import pytest

from xanesviz import Broadening, Spectrum
from xanesviz.data import FE_K_GRID, fdmnes_to_target, list_stems, read_fdmnes, read_spectrum_file
from xanesviz.spectrum import (arctan_gamma, core_hole_width, csv_text, find_peaks, gaussian_broaden,
                               lorentzian_broaden, lorentzian_kernel)


def measured_fwhm(x, y):
    """Full width at half maximum of a single peak, by linear interpolation of the half-height crossings."""
    i = int(np.argmax(y))
    half = y[i] / 2.0
    left = np.flatnonzero(y[:i] < half)[-1]
    right = i + np.flatnonzero(y[i:] < half)[0]
    x_left = np.interp(half, [y[left], y[left + 1]], [x[left], x[left + 1]])
    x_right = np.interp(half, [y[right], y[right - 1]], [x[right], x[right - 1]])
    return x_right - x_left


def gaussian(x, centre, fwhm, height=1.0):
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2)))
    return height * np.exp(-0.5 * ((x - centre) / sigma) ** 2)


@pytest.fixture
def smooth_spectrum():
    mu = 0.3 + 0.6 / (1 + np.exp(-(FE_K_GRID - 7112) / 1.5)) + gaussian(FE_K_GRID, 7125, 6, 0.4)
    return Spectrum(FE_K_GRID, mu, std=0.02 + 0.01 * mu, meta={"model": "tiny-test", "edge": "Fe K"})


# -- broadening --------------------------------------------------------------------------------


@pytest.mark.parametrize("fwhm", [0.5, 1.275, np.linspace(0.5, 8.0, 226)])
def test_lorentzian_conserves_constant(fwhm):
    out = lorentzian_broaden(FE_K_GRID, np.full(226, 0.7), fwhm)
    np.testing.assert_allclose(out, 0.7, rtol=1e-12)


def test_lorentzian_kernel_rows_sum_to_one():
    kernel = lorentzian_kernel(FE_K_GRID, np.linspace(7090, 7180, 451), 2.0)
    assert kernel.shape == (226, 451)
    np.testing.assert_allclose(kernel.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(kernel >= 0)


@pytest.mark.parametrize("fwhm", [1.0, 2.5, 5.0])
def test_lorentzian_delta_fwhm(fwhm):
    energy = np.linspace(-50.0, 50.0, 2001)
    delta = np.zeros_like(energy)
    delta[1000] = 1.0
    out = lorentzian_broaden(energy, delta, fwhm)
    assert np.argmax(out) == 1000
    assert measured_fwhm(energy, out) == pytest.approx(fwhm, rel=0.01)


def test_lorentzian_resamples_onto_output_grid():
    """A vanishing width on a finer input grid that contains the output points just picks them out."""
    energy = np.linspace(7097, 7172, 676)  # 1/9 eV steps: every third point is on FE_K_GRID
    mu = gaussian(energy, 7120, 4.0)
    out = lorentzian_broaden(energy, mu, 1e-4, energy_out=FE_K_GRID)
    assert out.shape == FE_K_GRID.shape
    np.testing.assert_allclose(out, mu[::3], atol=1e-5)
    wide = lorentzian_broaden(energy, mu, 3.0, energy_out=FE_K_GRID)
    assert wide.max() < 0.9 * mu.max()


@pytest.mark.parametrize("fwhm", [1.0, 3.0])
def test_gaussian_broaden_fwhm(fwhm):
    energy = np.linspace(-25.0, 25.0, 1001)
    delta = np.zeros_like(energy)
    delta[500] = 1.0
    out = gaussian_broaden(energy, delta, fwhm)
    assert measured_fwhm(energy, out) == pytest.approx(fwhm, rel=0.01)


def test_gaussian_widths_add_in_quadrature():
    energy = np.linspace(-40.0, 40.0, 1601)
    out = gaussian_broaden(energy, gaussian(energy, 0.0, 3.0), 4.0)
    assert measured_fwhm(energy, out) == pytest.approx(5.0, rel=0.01)


def test_gaussian_zero_width_is_identity():
    mu = np.random.default_rng(0).random(226)
    out = gaussian_broaden(FE_K_GRID, mu, 0.0)
    np.testing.assert_array_equal(out, mu)
    assert out is not mu


def test_arctan_gamma_limits():
    e_f = 7110.9
    energy = np.array([7000.0, 7100.0, e_f, e_f + 1e-6, e_f + 30.0, e_f + 1e5])
    gamma = arctan_gamma(energy, e_f, gamma_hole=1.25, gamma_max=15.0)
    np.testing.assert_allclose(gamma[:3], 1.25)
    assert gamma[3] == pytest.approx(1.25, abs=1e-6)  # continuous at E_F
    assert gamma[4] == pytest.approx(1.25 + 7.5)  # e = 1: arctan(0) -> half of gamma_max
    assert gamma[5] == pytest.approx(1.25 + 15.0, rel=1e-3)
    assert np.all(np.diff(gamma) >= 0)


def test_arctan_gamma_no_growth():
    energy = np.linspace(7090, 7180, 50)
    np.testing.assert_allclose(arctan_gamma(energy, 7110.9, 0.8, gamma_max=0.0), 0.8)


def test_core_hole_width_fe():
    assert core_hole_width("Fe") == pytest.approx(1.25, abs=0.05)
    assert core_hole_width("Cu", "K") > core_hole_width("Fe")


def test_broadening_default_is_identity(smooth_spectrum):
    b = Broadening()
    assert b.is_identity
    np.testing.assert_array_equal(b.matrix(FE_K_GRID), np.eye(226))
    np.testing.assert_array_equal(b.apply(FE_K_GRID, smooth_spectrum.mu), smooth_spectrum.mu)
    same = smooth_spectrum.broaden(b)
    np.testing.assert_array_equal(same.mu, smooth_spectrum.mu)
    edited = same.with_meta(structure="edited.xyz")
    assert edited.meta["structure"] == "edited.xyz" and "structure" not in smooth_spectrum.meta


def test_spectrum_is_immutable(smooth_spectrum):
    with pytest.raises(TypeError):
        smooth_spectrum.meta["structure"] = "x"  # a read-only mapping: use with_meta
    with pytest.raises(ValueError):
        smooth_spectrum.mu[0] = 1.0
    with pytest.raises(ValueError):
        smooth_spectrum.std[0] = 1.0
    mu = np.ones(226)
    spectrum = Spectrum(FE_K_GRID, mu)
    mu[0] = 5.0  # the caller's array stays the caller's
    assert spectrum.mu[0] == 1.0
    assert spectrum.with_meta(model=None).meta == {}


def test_broadening_takes_the_spectrum_fermi_level(smooth_spectrum):
    b = Broadening(gamma_hole=1.0, gamma_max=6.0)
    with pytest.raises(ValueError, match="e_fermi"):
        b.gamma(FE_K_GRID)
    at = smooth_spectrum.with_meta(fermi_level_eV="7110.9").broaden(b)
    np.testing.assert_allclose(at.mu, smooth_spectrum.broaden(Broadening(gamma_hole=1.0, gamma_max=6.0,
                                                                         e_fermi=7110.9)).mu)
    assert not np.allclose(at.mu, smooth_spectrum.broaden(Broadening(gamma_hole=1.0, gamma_max=6.0,
                                                                     e_fermi=7130.0)).mu)


def test_spectrum_broaden(smooth_spectrum):
    b = Broadening(gamma_hole=1.0, gamma_max=6.0, gaussian_fwhm=1.5, e_fermi=7110.9)
    assert not b.is_identity
    out = smooth_spectrum.broaden(b)
    assert out.mu.shape == smooth_spectrum.mu.shape == out.std.shape
    assert np.all(np.isfinite(out.mu)) and np.all(np.isfinite(out.std)) and np.all(out.std > 0)
    np.testing.assert_array_equal(out.energy, smooth_spectrum.energy)
    np.testing.assert_allclose(out.mu, b.matrix(FE_K_GRID) @ smooth_spectrum.mu)
    assert out.mu.max() < smooth_spectrum.mu.max()  # the peak is smeared out
    assert "broadening" in out.meta and out.meta["model"] == "tiny-test"
    np.testing.assert_allclose(b.matrix(FE_K_GRID).sum(axis=1), 1.0, rtol=1e-9)


def test_spectrum_shape_checks():
    with pytest.raises(ValueError):
        Spectrum(FE_K_GRID, np.zeros(10))
    with pytest.raises(ValueError):
        Spectrum(FE_K_GRID, np.zeros(226), std=np.zeros(5))


# -- peaks -------------------------------------------------------------------------------------


def test_find_peaks_two_gaussians_ignores_ripple():
    energy = FE_K_GRID
    mu = 0.1 + gaussian(energy, 7115, 3.0, 1.0) + gaussian(energy, 7140, 5.0, 0.6)
    ripple = 0.02 * mu.max() * np.sin(2 * np.pi * energy / 1.7)
    peaks, heights = find_peaks(energy, mu + ripple)
    assert len(peaks) == 2
    np.testing.assert_allclose(peaks, [7115, 7140], atol=0.7)
    np.testing.assert_allclose(heights, [1.1, 0.7], atol=0.05)
    # the ripple alone does make local maxima, which a lower threshold would report
    assert len(find_peaks(energy, mu + ripple, rel_prominence=0.001)[0]) > 2


def test_find_peaks_degenerate_input():
    assert len(find_peaks(FE_K_GRID, np.zeros(226))[0]) == 0
    assert len(find_peaks(FE_K_GRID, np.full(226, np.nan))[0]) == 0
    assert len(find_peaks(np.empty(0), np.empty(0))[0]) == 0


def test_spectrum_peaks_method():
    s = Spectrum(FE_K_GRID, gaussian(FE_K_GRID, 7130, 4.0))
    peaks, _ = s.peaks()
    np.testing.assert_allclose(peaks, [7130], atol=0.2)


# -- CSV ---------------------------------------------------------------------------------------


def test_to_csv(tmp_path, smooth_spectrum):
    meta = dict(smooth_spectrum.meta, broadening="Gaussian FWHM 1 eV", structure="mol.xyz")
    spectrum = Spectrum(smooth_spectrum.energy, smooth_spectrum.mu, smooth_spectrum.std, meta)
    path = tmp_path / "out.csv"
    text = spectrum.to_csv(path)
    assert path.read_text() == text
    lines = text.splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    assert lines[: len(header)] == header  # comments come first
    joined = "\n".join(header)
    for needle in ("eV", "model: tiny-test", "edge: Fe K", "broadening: Gaussian FWHM 1 eV", "mol.xyz"):
        assert needle in joined
    assert body[0] == "energy_eV,mu,std"
    assert len(body) - 1 == len(FE_K_GRID)
    data = np.loadtxt(io.StringIO(text), delimiter=",", comments="#", skiprows=len(header) + 1)
    assert data.shape == (226, 3)
    np.testing.assert_allclose(data[:, 0], FE_K_GRID, rtol=1e-5)
    np.testing.assert_allclose(data[:, 1], spectrum.mu, rtol=1e-5)
    np.testing.assert_allclose(data[:, 2], spectrum.std, rtol=1e-5)


def test_to_csv_without_std_and_with_reference():
    mu = gaussian(FE_K_GRID, 7120, 5.0) + 0.1
    reference = Spectrum(FE_K_GRID[::2], 2 * mu[::2])
    text = Spectrum(FE_K_GRID, mu).to_csv(reference=reference)
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body[0] == "energy_eV,mu,reference_mu"
    data = np.loadtxt(io.StringIO("\n".join(body[1:])), delimiter=",")
    np.testing.assert_allclose(data[::2, 2], 2 * mu[::2], rtol=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_csv_refuses_non_finite(bad):
    mu = np.ones(5)
    mu[2] = bad
    with pytest.raises(ValueError):
        csv_text(["header"], {"energy_eV": np.arange(5.0), "mu": mu})
    with pytest.raises(ValueError):
        Spectrum(np.arange(5.0), mu).to_csv()


# -- the study's target recipe on the reference data -------------------------------------------


def test_fdmnes_to_target_reproduces_reference_targets(data_dir):
    stems = list_stems(data_dir)
    chosen = np.random.default_rng(2024).choice(stems, size=30, replace=False)
    errors = []
    for stem in chosen:
        energy, cross_section, _ = read_fdmnes(data_dir / "fdmnes" / f"{stem}.txt")
        _, target = read_spectrum_file(data_dir / "spectra" / f"{stem}.txt", FE_K_GRID)
        made = fdmnes_to_target(energy, cross_section)
        assert made.shape == target.shape
        errors.append(np.max(np.abs(made - target)) / np.max(target))
    errors = np.array(errors)
    assert np.all(errors < 0.03), dict(zip(chosen[errors >= 0.03], errors[errors >= 0.03]))
    assert np.median(errors) < 0.015


def test_fdmnes_to_target_zeroes_below_fermi():
    energy = np.linspace(7097, 7172, 376)
    cross = np.where(energy < 7105, 1.0, 0.0)  # only occupied states
    assert np.max(fdmnes_to_target(energy, cross)) < 0.1 * 15.59
    flat = fdmnes_to_target(energy, np.full_like(energy, 0.01))
    assert flat[-1] == pytest.approx(15.59 * 0.01, rel=1e-2)
