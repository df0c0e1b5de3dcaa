"""Accuracy figures used throughout: per-spectrum Δμ and peak-position statistics."""

from __future__ import annotations

import numpy as np

from .spectrum import find_peaks

#: A target peak counts as found when a predicted peak lies within this distance (eV).
PEAK_TOLERANCE_EV = 3.0


def delta_mu(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Per spectrum: 100 * mean|pred - true| / mean(true), in percent."""
    predicted, true = np.atleast_2d(predicted), np.atleast_2d(true)
    return 100.0 * np.mean(np.abs(predicted - true), axis=1) / np.mean(true, axis=1)


def peak_statistics(energy: np.ndarray, predicted: np.ndarray, true: np.ndarray,
                    tolerance: float = PEAK_TOLERANCE_EV) -> dict:
    """Hit rate of target peaks (a predicted peak within ``tolerance`` eV) and mean |ΔE| of the hits.

    Also the precision: the share of predicted peaks that lie within ``tolerance`` of a target
    peak, so that a noisy prediction cannot buy hits with spurious peaks unnoticed.
    """
    hits, total, shifts = 0, 0, []
    predicted_total, predicted_true = 0, 0
    for p, t in zip(np.atleast_2d(predicted), np.atleast_2d(true)):
        true_peaks, _ = find_peaks(energy, t)
        pred_peaks, _ = find_peaks(energy, p)
        total += len(true_peaks)
        predicted_total += len(pred_peaks)
        if not len(pred_peaks) or not len(true_peaks):
            continue
        distance = np.abs(pred_peaks[:, None] - true_peaks[None, :])  # (predicted, target)
        predicted_true += int((distance.min(axis=1) <= tolerance).sum())
        nearest = distance.min(axis=0)
        found = nearest <= tolerance
        hits += int(found.sum())
        shifts.extend(nearest[found])
    return {
        "peaks": total,
        "peak_hit_rate": hits / total if total else float("nan"),
        "mean_abs_peak_shift_eV": float(np.mean(shifts)) if shifts else float("nan"),
        "peak_precision": predicted_true / predicted_total if predicted_total else float("nan"),
    }


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
    return (f"Δμ median {summary['delta_mu_median_pct']:.2f} % (quartiles {summary['delta_mu_q1_pct']:.2f}-"
            f"{summary['delta_mu_q3_pct']:.2f} %, mean {summary['delta_mu_mean_pct']:.2f} %) over "
            f"{summary['n_spectra']:.0f} spectra; peaks found {100 * summary['peak_hit_rate']:.1f} % of "
            f"{summary['peaks']:.0f} "
            f"({100 * summary['peak_precision']:.1f} % of predicted peaks are real), mean |ΔE| {summary['mean_abs_peak_shift_eV']:.2f} eV")
