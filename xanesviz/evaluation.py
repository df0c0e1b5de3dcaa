"""Accuracy figures used throughout: per-spectrum Δμ and peak-position statistics."""

from __future__ import annotations

import numpy as np

from .spectrum import find_peaks

#: A target peak counts as found when a predicted peak lies within this distance (eV).
PEAK_TOLERANCE_EV = 3.0
#: Spectra indices held at once when resampling (sets x set size): about 32 MB per array.
RESAMPLE_BLOCK = 4_000_000


def delta_mu(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per spectrum: 100 * mean|pred - true| / mean(true), in percent."""
    predicted, true = np.atleast_2d(predicted), np.atleast_2d(true)
    return 100.0 * np.mean(np.abs(predicted - true), axis=1) / np.mean(true, axis=1)


def peak_counts(energy: np.ndarray, predicted: np.ndarray, true: np.ndarray,
                tolerance: float = PEAK_TOLERANCE_EV) -> dict[str, np.ndarray]:
    """Per spectrum: its target peaks (``targets``), those found, i.e. with a predicted peak within
    ``tolerance`` eV (``found``), the sum of the found peaks' |ΔE| (``shift_sum``, eV), the predicted
    peaks (``predicted``) and those with a target peak within ``tolerance`` (``real``)."""
    predicted, true = np.atleast_2d(predicted), np.atleast_2d(true)
    counts = {key: np.zeros(len(true), int) for key in ("targets", "found", "predicted", "real")}
    counts["shift_sum"] = np.zeros(len(true))
    for i, (p, t) in enumerate(zip(predicted, true)):
        true_peaks, _ = find_peaks(energy, t)
        pred_peaks, _ = find_peaks(energy, p)
        counts["targets"][i], counts["predicted"][i] = len(true_peaks), len(pred_peaks)
        if not len(pred_peaks) or not len(true_peaks):
            continue
        distance = np.abs(pred_peaks[:, None] - true_peaks[None, :])  # (predicted, target)
        counts["real"][i] = (distance.min(axis=1) <= tolerance).sum()
        nearest = distance.min(axis=0)
        found = nearest <= tolerance
        counts["found"][i], counts["shift_sum"][i] = found.sum(), nearest[found].sum()
    return counts


def _ratio(numerator, denominator):
    """numerator / denominator, NaN where the denominator is 0 (no peaks to count)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)


def peak_statistics(energy: np.ndarray, predicted: np.ndarray, true: np.ndarray,
                    tolerance: float = PEAK_TOLERANCE_EV) -> dict:
    """Hit rate of target peaks (a predicted peak within ``tolerance`` eV) and mean |ΔE| of the hits.

    Also the precision: the share of predicted peaks that lie within ``tolerance`` of a target
    peak, so that a noisy prediction cannot buy hits with spurious peaks unnoticed.
    """
    c = {key: value.sum() for key, value in peak_counts(energy, predicted, true, tolerance).items()}
    return {
        "peaks": int(c["targets"]),
        "peak_hit_rate": float(_ratio(c["found"], c["targets"])),
        "mean_abs_peak_shift_eV": float(_ratio(c["shift_sum"], c["found"])),
        "peak_precision": float(_ratio(c["real"], c["predicted"])),
    }


def resampled_figures(energy: np.ndarray, predicted: np.ndarray, true: np.ndarray, size: int,
                      draws: int = 20000, seed: int = 0, replace: bool = False) -> dict[str, np.ndarray]:
    """The figures of ``draws`` random sets of ``size`` of these spectra: how far a test set of
    that size may fall from the pooled figures by chance (``replace=False``), or, drawn with
    replacement and ``size`` = all of them, bootstrap resamples. One array of ``draws`` values
    per figure: Δμ median, peak hit rate, precision and mean |ΔE| (NaN where a set has no peaks
    to count)."""
    n = len(np.atleast_2d(true))
    if size < 1 or draws < 1 or (not replace and size > n):
        raise ValueError(f"cannot draw {draws} set(s) of {size} from {n} spectra")
    counts = peak_counts(energy, predicted, true)
    errors = delta_mu(predicted, true)
    rng = np.random.default_rng(seed)
    chunk = max(1, RESAMPLE_BLOCK // size)  # sets drawn at a time, so memory stays bounded for large data
    parts = []
    for start in range(0, draws, chunk):
        m = min(chunk, draws - start)
        rows = (rng.integers(0, n, (m, size)) if replace
                else np.stack([rng.choice(n, size, replace=False) for _ in range(m)]))
        c = {key: value[rows].sum(axis=1) for key, value in counts.items()}
        parts.append({
            "delta_mu_median_pct": np.median(errors[rows], axis=1),
            "peak_hit_rate": _ratio(c["found"], c["targets"]),
            "peak_precision": _ratio(c["real"], c["predicted"]),
            "mean_abs_peak_shift_eV": _ratio(c["shift_sum"], c["found"]),
        })
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def bootstrap_intervals(energy: np.ndarray, predicted: np.ndarray, true: np.ndarray, draws: int = 1000,
                        level: float = 0.95, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of the figures, resampling the spectra: (low, high) per
    figure of :func:`resampled_figures` (NaN, NaN where no resample had peaks to count)."""
    figures = resampled_figures(energy, predicted, true, len(np.atleast_2d(true)), draws, seed, replace=True)
    tail = 100 * (1 - level) / 2
    intervals = {}
    for key, values in figures.items():
        values = values[np.isfinite(values)]
        intervals[key] = tuple(float(v) for v in np.percentile(values, [tail, 100 - tail])) if len(values) \
            else (float("nan"), float("nan"))
    return intervals


def format_intervals(intervals: dict, level: float = 0.95, draws: int | None = None) -> str:
    """One line: the bootstrap intervals of :func:`bootstrap_intervals`."""
    def span(key, scale, digits, unit):
        low, high = intervals[key]
        return "n/a" if not np.isfinite(low) else f"{scale * low:.{digits}f}-{scale * high:.{digits}f}{unit}"
    resamples = f", {draws} resamples of the spectra" if draws else ""
    return (f"{100 * level:g} % bootstrap intervals{resamples}: Δμ median {span('delta_mu_median_pct', 1, 2, ' %')}, "
            f"peaks found {span('peak_hit_rate', 100, 1, ' %')}, predicted peaks real {span('peak_precision', 100, 1, ' %')}, "
            f"mean |ΔE| {span('mean_abs_peak_shift_eV', 1, 3, ' eV')}")


def summarise(energy: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> dict:
    """Median and quartiles of Δμ plus the peak statistics, as plain floats."""
    errors = delta_mu(predicted, true)
    q1, median, q3 = np.percentile(errors, [25, 50, 75])
    return {
        "n_spectra": int(len(errors)),
        "delta_mu_median_pct": float(median),
        "delta_mu_q1_pct": float(q1),
        "delta_mu_q3_pct": float(q3),
        "delta_mu_mean_pct": float(errors.mean()),
        **peak_statistics(energy, predicted, true),
    }


def format_summary(summary: dict) -> str:
    """One line of the figures; a figure that is undefined (no peaks to match: NaN or None) shows as "-"."""
    def figure(key: str, scale: float = 1.0, digits: int = 2) -> str:
        value = summary.get(key)
        return "-" if value is None or not np.isfinite(value) else f"{scale * value:.{digits}f}"

    return (f"Δμ median {figure('delta_mu_median_pct')} % (quartiles {figure('delta_mu_q1_pct')}-"
            f"{figure('delta_mu_q3_pct')} %, mean {figure('delta_mu_mean_pct')} %) over "
            f"{summary['n_spectra']:.0f} spectra; peaks found {figure('peak_hit_rate', 100, 1)} % of "
            f"{summary['peaks']:.0f} ({figure('peak_precision', 100, 1)} % of predicted peaks are real), "
            f"mean |ΔE| {figure('mean_abs_peak_shift_eV')} eV")
