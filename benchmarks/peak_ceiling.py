"""Where the peaks are lost: peak statistics of model-free predictions on a CV fold, by distance.

    python benchmarks/peak_ceiling.py [--recipe xanesviz-fe-k] [--r-max 5.5 6.0]
    python benchmarks/peak_ceiling.py --oof runs/cv/xanesviz-fe-k.npz   # the model's as well
    python benchmarks/peak_ceiling.py --group formula   # the first fold of the formula-grouped split

On the first fold of the 5-fold split that ``cross_validate`` uses, each test complex is
predicted (1) by the spectrum of its nearest training complex in the recipe's standardised
descriptor and (2) by kernel ridge regression alone, with the recipe's kernel settings
(``kernel_gamma``, ``kernel_alpha``; the shipped recipe no longer blends it in). Then the
nearest-neighbour prediction is broken down by that distance, in tenths of the test set: if complexes that
lie close in the descriptor share their peaks, the descriptor carries them and what is lost
is lost where the training data is sparse. ``--oof`` adds the same breakdown for a model's
out-of-fold predictions (``cv_accuracy.py --save-predictions``), and asks of all its
out-of-fold predictions whether a smarter peak read-out could find the missed peaks: for each
missed target peak, the prominence of the most prominent bump of the prediction within 3 eV,
and how many of the predicted bumps just under the 5 % threshold are real. ``--r-max``
repeats the summary for other cutoffs.
"""

import argparse
import time

import numpy as np
import scipy.signal
from sklearn.neighbors import NearestNeighbors

from _common import data_dir_or_exit, load_saved_predictions

from xanesviz.data import load_dataset
from xanesviz.descriptor import WACSF
from xanesviz.evaluation import PEAK_TOLERANCE_EV, delta_mu, format_summary, peak_statistics, summarise
from xanesviz.kernel import KernelMember
from xanesviz.model import cv_splitter, get_recipe, make_preprocessing
from xanesviz.spectrum import find_peaks
from xanesviz.splits import GROUPINGS, groups_for

PROMINENCE_BINS = np.array([0.0, 0.01, 0.02, 0.03, 0.04, 0.05])  # shares of the predicted maximum


def missed_peak_bumps(energy, predicted, true, tolerance=PEAK_TOLERANCE_EV):
    """For target peaks no predicted peak finds: the relative prominence of the most prominent
    bump (any local maximum) of the prediction within ``tolerance``, 0 where there is none; and,
    per bin of PROMINENCE_BINS, the predicted bumps below the peak threshold and how many of
    them lie within ``tolerance`` of a target peak."""
    missed, below, below_real = [], np.zeros(len(PROMINENCE_BINS) - 1), np.zeros(len(PROMINENCE_BINS) - 1)
    for p, t in zip(predicted, true):
        targets, found = find_peaks(energy, t)[0], find_peaks(energy, p)[0]
        index, properties = scipy.signal.find_peaks(p, prominence=0)
        bumps, prominence = energy[index], properties["prominences"] / p.max()
        for e in targets:
            if not (len(found) and np.abs(found - e).min() <= tolerance):
                close = np.abs(bumps - e) <= tolerance
                missed.append(prominence[close].max() if close.any() else 0.0)
        bins = np.digitize(prominence, PROMINENCE_BINS) - 1
        for b, e in zip(bins, bumps):
            if b < len(below):
                below[b] += 1
                below_real[b] += bool(len(targets) and np.abs(targets - e).min() <= tolerance)
    return np.array(missed), below, below_real

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data")
parser.add_argument("--recipe", default="xanesviz-fe-k")
parser.add_argument("--r-max", type=float, nargs="*", help="cutoffs to compare (default: the recipe's)")
parser.add_argument("--oof", metavar="NPZ", help="out-of-fold predictions saved by cv_accuracy.py --save-predictions")
parser.add_argument("--group", choices=GROUPINGS, default="none",
                    help="formula: the first fold of the split that keeps each chemical formula in one fold")
args = parser.parse_args()

recipe = get_recipe(args.recipe)
dataset = load_dataset(data_dir_or_exit(args.data))
y, energy = dataset.spectra, dataset.energy
groups = groups_for(args.group, dataset.names)
train_idx, test_idx = next(cv_splitter(k=5, grouped=groups is not None).split(y, groups=groups))
y_mean, y_scale = y[train_idx].mean(axis=0), y[train_idx].std(axis=0) + 1e-8
model_predictions = None
if args.oof:
    saved = load_saved_predictions(args.oof, dataset.names, k=5, seed=0, group=args.group)
    model_predictions = saved["oof"][0][test_idx]
    print(f"model: out-of-fold predictions of recipe {saved['recipe']} from {args.oof}")
    n_peaks = peak_statistics(energy, saved["oof"][0], y)["peaks"]
    missed, below, below_real = missed_peak_bumps(energy, saved["oof"][0], y)
    print(f"  all folds: {len(missed)} of {n_peaks} target peaks missed; 90 % found needs at most "
          f"{int(0.1 * n_peaks)} missed. The most prominent predicted bump within {PEAK_TOLERANCE_EV:g} eV "
          f"of a missed peak, and the predicted bumps under the threshold:")
    for b, (low, high) in enumerate(zip(PROMINENCE_BINS[:-1], PROMINENCE_BINS[1:])):
        n_missed = np.sum((missed >= low) & (missed < high)) if low > 0 else np.sum(missed < high)
        print(f"    prominence {100 * low:.0f}-{100 * high:.0f} % of the maximum: {n_missed:5d} missed peaks; "
              f"{below[b]:5.0f} predicted bumps, {below_real[b]:5.0f} of them real")

default_r_max = WACSF(element="Fe", **recipe.descriptor).r_max
for r_max in args.r_max or [default_r_max]:
    start = time.perf_counter()
    X = WACSF(element="Fe", **{**recipe.descriptor, "r_max": r_max}).transform(dataset.structures)
    preprocessing = make_preprocessing(recipe.variance_drop).fit(X[train_idx])
    Z_train, Z_test = preprocessing.transform(X[train_idx]), preprocessing.transform(X[test_idx])
    distance, nearest = (a[:, 0] for a in NearestNeighbors(n_neighbors=1).fit(Z_train).kneighbors(Z_test))
    kernel = KernelMember.fit(Z_train, (y[train_idx] - y_mean) / y_scale, recipe.kernel_gamma, recipe.kernel_alpha)
    predictions = {"nearest training complex": y[train_idx][nearest],
                   "kernel ridge regression alone": kernel.forward(Z_test) * y_scale + y_mean}
    print(f"cutoff {r_max} Å, fold 1 of 5{' (grouped by formula)' if groups is not None else ''} "
          f"({len(test_idx)} test spectra), {time.perf_counter() - start:.0f} s:")
    for name, predicted in predictions.items():
        print(f"  {name}: " + format_summary(summarise(energy, predicted, y[test_idx])))
    if r_max != default_r_max:
        continue
    by_distance = {"nearest": predictions["nearest training complex"]}
    if model_predictions is not None:
        by_distance["model"] = model_predictions
    print("  by distance to the nearest training complex (standardised descriptor), tenths of the test set:")
    print("  distance      n  " + "  ".join(f"{name}: Δμ median, peaks found, real, |ΔE|" for name in by_distance))
    edges = np.quantile(distance, np.linspace(0, 1, 11))
    for tenth, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        rows = (distance >= low) & ((distance < high) | (tenth == 9))
        cells = []
        for predicted in by_distance.values():
            stats = peak_statistics(energy, predicted[rows], y[test_idx][rows])
            cells.append(f"{np.median(delta_mu(predicted[rows], y[test_idx][rows])):5.2f} %  "
                         f"{100 * stats['peak_hit_rate']:5.1f} %  {100 * stats['peak_precision']:5.1f} %  "
                         f"{stats['mean_abs_peak_shift_eV']:.2f} eV")
        print(f"  {low:5.2f}-{high:5.2f}  {rows.sum():4d}  " + "    ".join(cells))
