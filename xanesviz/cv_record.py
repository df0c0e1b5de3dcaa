"""A recipe's cross-validation stored with its bundle: the out-of-fold predictions beside the card.

``store`` writes the pooled out-of-fold predictions (float32, with each sample's stem and the
fold that tested it) to the bundle and their figures to the card (``cv_metrics`` for plain
K-fold, ``cv_grouped`` for K-fold grouped by formula); ``rescore`` scores the stored predictions
again with :mod:`xanesviz.evaluation`, so a test can hold the card's figures to them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import ModelBundleError
from .evaluation import summarise
from .splits import fold_numbers, groups_for

CARD = "model_card.json"
#: The card entry and the predictions file of each grouping.
ENTRIES = {"none": ("cv_metrics", "cv_predictions.npz"), "formula": ("cv_grouped", "cv_predictions_grouped.npz")}
#: Figures as the README and the card's readers see them: (scale, decimals) of each.
PRINTED = {"n_spectra": (1, 0), "delta_mu_median_pct": (1, 2), "delta_mu_q1_pct": (1, 2), "delta_mu_q3_pct": (1, 2),
           "peaks": (1, 0), "peak_hit_rate": (100, 1), "peak_precision": (100, 1), "mean_abs_peak_shift_eV": (1, 3)}


def printed(summary: dict) -> dict:
    """The figures rounded as printed (Δμ in % to 0.01, peak shares in % to 0.1, |ΔE| to 1 meV)."""
    return {key: round(scale * float(summary[key]), digits) for key, (scale, digits) in PRINTED.items()}


def store(bundle_dir, oof: np.ndarray, names, true: np.ndarray, energy: np.ndarray, recipe: dict, k: int,
          seed: int, group: str, command: str) -> dict:
    """Write the out-of-fold predictions ``oof`` (n, n_energy) of a K-fold CV of ``recipe`` into the
    bundle, and their figures into its card; returns the figures."""
    bundle_dir = Path(bundle_dir)
    key, filename = ENTRIES[group]
    card = json.loads((bundle_dir / CARD).read_text())
    if card.get("recipe") != recipe:
        raise ModelBundleError(f"{bundle_dir / CARD}: the bundle was trained with another recipe than the one "
                               f"cross-validated ({recipe.get('name')})")
    oof = np.asarray(oof, np.float32)  # the figures are those of what is stored
    fold = fold_numbers(k, len(oof), seed, groups_for(group, names))
    summary = summarise(energy, oof, true)
    np.savez_compressed(bundle_dir / filename, oof=oof, fold=fold, names=np.array([str(n) for n in names]),
                        energy=np.asarray(energy, float), recipe=json.dumps(recipe, sort_keys=True), k=k, seed=seed,
                        group=group)
    card[key] = {"k": k, "repeats": 1, "seed": seed, "group": group, "predictions": filename, "command": command,
                 **summary}
    (bundle_dir / CARD).write_text(json.dumps(card, indent=2))
    return summary


def load(bundle_dir, key: str = "cv_metrics") -> tuple[dict, dict]:
    """The card's entry ``key`` and its stored predictions (oof, fold, names, energy, k, seed, group),
    checked to belong to this bundle's recipe."""
    bundle_dir = Path(bundle_dir)
    card = json.loads((bundle_dir / CARD).read_text())
    entry = card.get(key)
    if not entry or "predictions" not in entry:
        raise ModelBundleError(f"{bundle_dir / CARD}: no {key} with stored out-of-fold predictions")
    path = bundle_dir / entry["predictions"]
    try:
        with np.load(path) as saved:
            stored = {name: saved[name] for name in saved.files}
    except (OSError, ValueError) as exc:
        raise ModelBundleError(f"{path}: cannot read stored out-of-fold predictions ({exc})") from None
    if json.loads(str(stored["recipe"])) != card.get("recipe"):
        raise ModelBundleError(f"{path}: predictions of another recipe than the bundle's")
    return entry, {"oof": stored["oof"], "fold": stored["fold"], "names": [str(n) for n in stored["names"]],
                   "energy": stored["energy"], "k": int(stored["k"]), "seed": int(stored["seed"]),
                   "group": str(stored["group"])}


def rescore(stored: dict, true: np.ndarray) -> dict:
    """The figures of stored out-of-fold predictions against the true spectra (in ``stored["names"]``'s order)."""
    return summarise(stored["energy"], stored["oof"], true)
