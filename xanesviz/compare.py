"""Compare a prediction with a measured spectrum: normalise both, align (shift, scale), figures.

Both sides are compared as normalised μ (larch ``pre_edge``). The measurement keeps larch's
defaults (:mod:`xanesviz.measured`); the prediction's 75 eV window (−15..+60 eV about the
edge) is too short for them, so it uses :data:`PREDICTED_NORMALISATION`: a constant pre-edge
(``npre=0``: the mean from the window's start to E0 − 10 eV; a calculated spectrum has no
background slope, and a line fitted over ~15 eV would tilt the whole window) and a constant
post-edge (``nnorm=0``) from E0 + 15 eV to the window's end. The fitted scale absorbs what remains of the two edge-step definitions.

The prediction is moved by ``shift`` eV and multiplied by ``scale`` to match the measurement,
on the prediction's own grid (moved), where it overlaps the measurement. Figures: R-factor
Σ(exp − pred)² / Σexp², Pearson correlation, Δμ % (:func:`xanesviz.evaluation.delta_mu`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .errors import SpectrumFileError, XanesvizError
from .evaluation import delta_mu
from .spectrum import Broadening, Spectrum, gaussian_broaden, lorentzian_kernel

#: The prediction's normalisation ranges (eV relative to its E0), stated in every output.
PREDICTED_NORMALISATION = {"pre1": -30.0, "pre2": -10.0, "npre": 0, "norm1": 15.0, "norm2": 60.0, "nnorm": 0}
#: How far (eV) about E0(measured) − E0(predicted) the shift is searched.
SHIFT_SEARCH_EV = 20.0
#: Fewest overlapping points (the prediction's grid) a comparison needs.
MIN_OVERLAP_POINTS = 30
#: Bounds of the broadening fit (the dashboard sliders' ranges): extra Γ_hole, Γ_max, Gaussian FWHM (eV).
BROADENING_BOUNDS = ((0.0, 5.0), (0.0, 20.0), (0.0, 5.0))


@dataclass(frozen=True)
class Comparison:
    """The prediction aligned to a measurement, on one grid, with the figures.

    ``energy``: the overlap grid (the prediction's grid moved by ``shift_eV``); ``measured``,
    ``predicted`` (normalised, shifted and scaled) and ``residual`` (measured − predicted) on it.
    """

    energy: np.ndarray
    measured: np.ndarray
    predicted: np.ndarray
    shift_eV: float
    scale: float
    e0_measured: float
    e0_predicted: float
    edge_step_predicted: float
    broadening: Broadening | None = None
    normalisation: dict = field(default_factory=dict)
    warnings: tuple = ()

    @property
    def residual(self) -> np.ndarray:
        return self.measured - self.predicted

    @property
    def r_factor(self) -> float:
        return float(np.sum(self.residual**2) / np.sum(self.measured**2))

    @property
    def pearson(self) -> float:
        return float(np.corrcoef(self.measured, self.predicted)[0, 1])

    @property
    def delta_mu_pct(self) -> float:
        return float(delta_mu(self.predicted, self.measured)[0])

    def summary(self) -> dict:
        out = {"shift_eV": round(self.shift_eV, 3), "scale": round(self.scale, 4),
               "r_factor": float(f"{self.r_factor:.5g}"), "pearson": round(self.pearson, 4),
               "delta_mu_pct": round(self.delta_mu_pct, 3), "e0_measured": round(self.e0_measured, 3),
               "e0_predicted": round(self.e0_predicted, 3),
               "e0_predicted_aligned": round(self.e0_predicted + self.shift_eV, 3),
               "overlap_eV": [round(float(self.energy[0]), 3), round(float(self.energy[-1]), 3)],
               "n_points": int(len(self.energy)), "predicted_normalisation": self.normalisation,
               "warnings": list(self.warnings)}
        if self.broadening is not None:
            b = self.broadening
            out["broadening"] = {"gamma_hole": round(b.gamma_hole, 3), "gamma_max": round(b.gamma_max, 3),
                                 "e_cent": b.e_cent, "e_larg": b.e_larg, "e_fermi": b.e_fermi,
                                 "gaussian_fwhm": round(b.gaussian_fwhm, 3)}
        return out

    def format(self) -> str:
        return (f"shift {self.shift_eV:+.2f} eV, scale {self.scale:.3f}: R-factor {self.r_factor:.4f}, "
                f"Pearson {self.pearson:.3f}, Δμ {self.delta_mu_pct:.1f} %; E0 measured {self.e0_measured:.2f} eV, "
                f"predicted {self.e0_predicted:.2f} eV ({self.shift_eV:+.2f} → {self.e0_predicted + self.shift_eV:.2f})")


def normalise_prediction(energy: np.ndarray, mu: np.ndarray, e0: float | None = None) -> dict:
    """larch ``pre_edge`` of a predicted spectrum with :data:`PREDICTED_NORMALISATION`'s ranges.

    E0 is larch's ``find_e0``; the rest is larch's ``preedge`` arithmetic for these ranges,
    written out here because larch's own call costs ~10x more and this runs on every drag
    update (``tests/test_measured.py`` holds the two equal)."""
    from .measured import _larch_quiet

    energy, mu = np.asarray(energy, float), np.asarray(mu, float)
    if e0 is None:
        _larch_quiet()
        from larch.xafs import find_e0

        with np.errstate(all="ignore"):
            e0 = float(find_e0(energy, mu))
    ranges = PREDICTED_NORMALISATION
    ie0 = _index_nearest(energy, e0)
    pre1 = max(ranges["pre1"], energy[0] - e0)
    pre2 = ranges["pre2"]
    pre1, pre2 = min(pre1, pre2), max(pre1, pre2)
    npre = ranges.get("npre", 1)
    if _index_of(energy - e0, pre2) - _index_of(energy - e0, pre1) < 3:
        npre = 0
    norm1, norm2 = ranges["norm1"], min(ranges["norm2"], energy[-1] - e0)
    norm1, norm2 = min(norm1, norm2), max(norm1, norm2)
    norm1 = min(norm1, norm2 - 2)
    nnorm = ranges["nnorm"]
    p1, p2 = _index_of(energy, pre1 + e0), _index_nearest(energy, pre2 + e0)
    if npre == 0:
        p2 = p2 + 1 if p2 == p1 else p2
        pre_edge = np.full_like(energy, mu[p1:p2].mean())
    else:
        p2 = min(len(energy), p1 + 2) if p2 - p1 < 2 else p2
        slope, offset = np.polyfit(energy[p1:p2], mu[p1:p2], 1)
        pre_edge = offset + slope * energy
    p1, p2 = _index_of(energy, norm1 + e0), _index_nearest(energy, norm2 + e0)
    p1 = min(p1, len(energy) - 3)
    if p2 - p1 < 2:
        p1, nnorm = p1 - 2, 0
    elif p2 - p1 < 5:
        nnorm = min(1, nnorm)
    post_edge = pre_edge + np.polyval(np.polyfit(energy[p1:p2], (mu - pre_edge)[p1:p2], nnorm), energy)
    edge_step = max(1e-12, abs(float(post_edge[ie0] - pre_edge[ie0])))
    return {"e0": float(e0), "edge_step": edge_step, "norm": (mu - pre_edge) / edge_step, "pre1": float(pre1),
            "pre2": float(pre2), "npre": int(npre), "norm1": float(norm1), "norm2": float(norm2), "nnorm": int(nnorm)}


def calculated_reference(energy: np.ndarray, mu: np.ndarray, element: str | None = None,
                         source: str = "calculated spectrum"):
    """A calculated spectrum (FDMNES, FEFF, another model) as the measurement to compare with or
    refine against, normalised like a prediction (:func:`normalise_prediction`), since its window
    is as short as one: compared with a prediction of the same structure it gives R-factor 0."""
    from .measured import MeasuredSpectrum

    energy, mu = np.asarray(energy, float), np.asarray(mu, float)
    if energy.shape != mu.shape or len(energy) < MIN_OVERLAP_POINTS or not np.all(np.isfinite(mu)):
        raise SpectrumFileError(f"{source}: needs {MIN_OVERLAP_POINTS} or more finite points on its energy grid")
    result = normalise_prediction(energy, mu)
    ranges = {key: round(result[key], 3) for key in ("pre1", "pre2", "npre", "norm1", "norm2", "nnorm")}
    return MeasuredSpectrum(energy, mu, result["norm"], result["e0"], result["edge_step"], element, "K",
                            "calculated mu", source, ranges, ())


def _index_of(array: np.ndarray, value: float) -> int:
    """larch's ``index_of``: the last index at or below ``value`` (0 below the start)."""
    return 0 if value < array.min() else int(np.nonzero(array <= value)[0].max())


def _index_nearest(array: np.ndarray, value: float) -> int:
    return int(np.abs(array - value).argmin())


class _Aligner:
    """Shift and scale of a normalised prediction against a measurement; fast enough for a drag."""

    def __init__(self, measured_energy, measured_norm, predicted_energy, source="measured spectrum"):
        self.me, self.mn = np.asarray(measured_energy, float), np.asarray(measured_norm, float)
        self.pe = np.asarray(predicted_energy, float)
        self.source = source

    def grid(self, shift: float) -> np.ndarray:
        moved = self.pe + shift
        return (moved >= self.me[0]) & (moved <= self.me[-1])

    def misfit(self, predicted_norm: np.ndarray, shift: float) -> tuple[float, float]:
        """(R-factor with the best scale, that scale) at this shift; inf if the overlap is too short."""
        inside = self.grid(shift)
        if inside.sum() < MIN_OVERLAP_POINTS:
            return np.inf, 1.0
        p = predicted_norm[inside]
        m = np.interp(self.pe[inside] + shift, self.me, self.mn)
        pp = float(p @ p)
        scale = float(m @ p) / pp if pp > 0 else 1.0
        r = m - scale * p
        return float(r @ r) / max(float(m @ m), 1e-300), scale

    def scan(self, predicted_norm: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """The R-factor (best scale) at each of ``shifts``, all at once; inf where the overlap is short."""
        moved = self.pe[None, :] + shifts[:, None]
        inside = (moved >= self.me[0]) & (moved <= self.me[-1])
        m = np.interp(moved, self.me, self.mn) * inside
        p = predicted_norm[None, :] * inside
        pp, mp, mm = (p * p).sum(1), (m * p).sum(1), (m * m).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((inside.sum(1) >= MIN_OVERLAP_POINTS) & (pp > 0) & (mm > 0), (mm - mp**2 / pp) / mm, np.inf)

    def best_shift(self, predicted_norm: np.ndarray, centre: float, half_width: float = SHIFT_SEARCH_EV,
                   step: float = 0.25, polish: bool = True) -> float:
        """The shift minimising the R-factor: a scan every ``step`` eV, then Brent's method within
        one step of the best (``polish``) or a parabola through the best three."""
        shifts = np.arange(centre - half_width, centre + half_width + step / 2, step)
        values = self.scan(predicted_norm, shifts)
        if not np.isfinite(values).any():
            raise SpectrumFileError(self.no_overlap_message(centre))
        i = int(np.argmin(values))
        best = shifts[i]
        if not polish:
            if 0 < i < len(shifts) - 1 and np.all(np.isfinite(values[i - 1:i + 2])):
                a, b, c = values[i - 1:i + 2]
                curvature = a - 2 * b + c
                if curvature > 0:
                    best += 0.5 * step * (a - c) / curvature
            return float(best)
        import scipy.optimize  # here: 0.07 s of a cold import, and the dashboard starts without it

        result = scipy.optimize.minimize_scalar(lambda s: self.misfit(predicted_norm, s)[0],
                                                bounds=(best - step, best + step), method="bounded",
                                                options={"xatol": 1e-3})
        return float(result.x) if result.fun <= values[i] else float(best)

    def no_overlap_message(self, shift: float) -> str:
        return (f"{self.source}: spans {self.me[0]:.0f}-{self.me[-1]:.0f} eV, which does not overlap the model's "
                f"window {self.pe[0]:.0f}-{self.pe[-1]:.0f} eV (shifted by up to ±{SHIFT_SEARCH_EV:g} eV about "
                f"{shift:+.1f} eV) by {MIN_OVERLAP_POINTS} points")


def _check_overlap(measured, predicted: Spectrum) -> None:
    me, pe = measured.energy, predicted.energy
    if me[-1] < pe[0] - SHIFT_SEARCH_EV - 30 or me[0] > pe[-1] + SHIFT_SEARCH_EV + 30 \
            or not (pe[0] - 60 <= measured.e0 <= pe[-1] + 60):
        raise SpectrumFileError(
            f"{measured.source}: its edge (E0 {measured.e0:.1f} eV, {measured.element or 'element unknown'}) lies "
            f"outside the model's window {pe[0]:.0f}-{pe[-1]:.0f} eV: not a spectrum this model predicts")


def resolved_broadening(predicted: Spectrum, broadening: Broadening | None) -> Broadening:
    """``broadening`` (none: no extra broadening) with its Fermi level set: the arctangent needs
    one, so an unset one becomes the model's (the prediction's header), else the prediction's E0."""
    base = broadening if broadening is not None else Broadening()
    if base.e_fermi is None:
        fermi = predicted.meta.get("fermi_level_eV") if predicted.meta else None
        base = replace(base, e_fermi=float(fermi) if fermi is not None
                       else normalise_prediction(predicted.energy, predicted.mu)["e0"])
    return base


def compare(measured, predicted: Spectrum, shift: float | None = None, broadening: Broadening | None = None,
            fit_broadening: bool = False) -> Comparison:
    """Align ``predicted`` (a :class:`Spectrum`, unnormalised) to ``measured`` (a
    :class:`~xanesviz.measured.MeasuredSpectrum`) and compute the figures.

    ``shift=None`` fits the energy shift (else it is held); the scale is always fitted.
    ``broadening`` is applied to the prediction first; ``fit_broadening=True`` fits its Γ_hole,
    Γ_max and Gaussian FWHM (E_cent, E_larg, E_F kept) together with shift and scale.
    """
    _check_overlap(measured, predicted)
    aligner = _Aligner(measured.energy, measured.norm, predicted.energy, measured.source)
    base = resolved_broadening(predicted, broadening)
    if fit_broadening:
        base, shift = _fit_broadening(aligner, measured, predicted, base, shift)
    mu = base.apply(predicted.energy, predicted.mu)
    result = normalise_prediction(predicted.energy, mu)
    if not np.all(np.isfinite(result["norm"])) or np.ptp(result["norm"]) <= 0:
        raise XanesvizError(f"{measured.source}: the prediction is flat or not finite: nothing to compare")
    if shift is None:
        shift = aligner.best_shift(result["norm"], measured.e0 - result["e0"])
    r, scale = aligner.misfit(result["norm"], shift)
    if not np.isfinite(r):
        raise SpectrumFileError(aligner.no_overlap_message(shift))
    inside = aligner.grid(shift)
    energy = predicted.energy[inside] + shift
    measured_on_grid = np.interp(energy, measured.energy, measured.norm)
    predicted_on_grid = scale * result["norm"][inside]
    for label, values in (("the measurement", measured_on_grid), ("the prediction", predicted_on_grid)):
        if not np.all(np.isfinite(values)) or np.ptp(values) <= 0:
            raise XanesvizError(f"{measured.source}: {label} is flat or not finite over the overlap "
                                f"{energy[0]:.0f}-{energy[-1]:.0f} eV: nothing to compare")
    ranges = {key: round(result[key], 3) for key in ("pre1", "pre2", "npre", "norm1", "norm2", "nnorm")}
    ranges["method"] = "larch pre_edge, ranges for the prediction's 75 eV window"
    return Comparison(energy, measured_on_grid, predicted_on_grid, float(shift), float(scale),
                      float(measured.e0), result["e0"], result["edge_step"],
                      base if (fit_broadening or broadening is not None) else None, ranges,
                      tuple(measured.warnings))


def _broaden_vector(broadening: Broadening, energy: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``broadening.apply`` as matrix-vector products (no operator built, nothing cached): for fits."""
    out = np.asarray(mu, float)
    if broadening.gamma_hole > 0 or broadening.gamma_max > 0:
        out = lorentzian_kernel(energy, energy, broadening.gamma(energy)) @ out
    if broadening.gaussian_fwhm <= 0:
        return out
    step = np.diff(energy)
    if not np.allclose(step, step[0], rtol=1e-6):
        return gaussian_broaden(energy, out, broadening.gaussian_fwhm)
    # On an even grid the row-normalised Gaussian of gaussian_broaden is a convolution divided by
    # the convolution of ones (the window's ends average over what lies inside the window).
    sigma = broadening.gaussian_fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    offsets = step[0] * np.arange(-(len(energy) - 1), len(energy))
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    n = len(energy)
    return np.convolve(out, kernel)[n - 1:2 * n - 1] / np.convolve(np.ones_like(out), kernel)[n - 1:2 * n - 1]


def _fit_broadening(aligner: _Aligner, measured, predicted: Spectrum, start: Broadening,
                    shift: float | None) -> tuple[Broadening, float | None]:
    """Γ_hole, Γ_max and Gaussian FWHM (and the shift, unless held) minimising the R-factor.

    Inside the fit the prediction's E0 is held at the unbroadened one, so its pre-edge line is a
    fixed linear projection; the edge step does not matter there, since the scale is fitted.
    """
    first = normalise_prediction(predicted.energy, predicted.mu)
    e0 = first["e0"]
    energy = predicted.energy
    pre = (energy >= e0 + first["pre1"]) & (energy <= e0 + first["pre2"])
    degree = 1 if first["npre"] else 0  # the pre-edge line, or larch's constant (npre=0)
    design = np.column_stack([energy[pre] ** k for k in range(degree + 1)])
    projector = np.column_stack([energy ** k for k in range(degree + 1)]) @ np.linalg.pinv(design)  # (n, n_pre)
    held = shift
    current = {"shift": held if held is not None else aligner.best_shift(first["norm"], measured.e0 - e0)}

    def subtracted(params):
        b = replace(start, gamma_hole=params[0], gamma_max=params[1], gaussian_fwhm=params[2])
        mu = _broaden_vector(b, energy, predicted.mu)
        return mu - projector @ mu[pre]

    def objective(params):
        norm = subtracted(params)
        if held is None:
            current["shift"] = aligner.best_shift(norm, current["shift"], half_width=1.5, step=0.1, polish=False)
            return float(aligner.misfit(norm, current["shift"])[0])
        return aligner.misfit(norm, held)[0]

    x0 = np.clip([start.gamma_hole, start.gamma_max, start.gaussian_fwhm],
                 [b[0] for b in BROADENING_BOUNDS], [b[1] for b in BROADENING_BOUNDS])
    # A coarse look first (the misfit has shallow valleys), then Powell from the best point.
    candidates = [x0] + [np.array([g, 0.0, w]) for g in (0.0, 1.5) for w in (0.0, 2.0)]
    scores = [objective(c) for c in candidates]
    x_best = candidates[int(np.argmin(scores))]
    import scipy.optimize

    fit = scipy.optimize.minimize(objective, x_best, method="Powell", bounds=BROADENING_BOUNDS,
                                  options={"xtol": 0.05, "ftol": 1e-4, "maxfev": 100})
    params = fit.x if fit.fun <= min(scores) else x_best
    fitted = replace(start, gamma_hole=float(params[0]), gamma_max=float(params[1]), gaussian_fwhm=float(params[2]))
    return fitted, held  # the shift is refitted exactly on the final normalisation by the caller
