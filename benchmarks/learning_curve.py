"""How the figures grow with the training set: CV with each fold's training set subsampled.

    python benchmarks/learning_curve.py [--recipe xanesviz-fe-k] [--fractions 0.5 0.75 1]
    python benchmarks/learning_curve.py --networks --max-folds 1   # the recipe's networks too

On the 5-fold split that ``cross_validate`` uses, each fold's training set is cut to a random
share of itself and the fold's test set is predicted, for each share. By default the model is
kernel ridge regression alone on the recipe's standardised descriptor (``kernel_gamma``,
``kernel_alpha``; seconds per share), a cheap stand-in for the networks; ``--networks`` trains
the recipe's networks (without the nearest-neighbour member) as well, minutes per fold and
share. The pretrained model is trained on all the data, 1.25 times a CV fold's training set, so
the slope says what that adds, and how much more data a goal would take.
"""

import argparse
import time

import numpy as np

from _common import data_dir_or_exit

from xanesviz.data import load_dataset
from xanesviz.descriptor import WACSF
from xanesviz.evaluation import PEAK_TOLERANCE_EV, summarise
from xanesviz.kernel import KernelMember
from xanesviz.model import RECIPES, cv_splitter, get_recipe, make_preprocessing, train


def kernel_ridge_predict(recipe, X_train, y_train, X_test):
    """The recipe's kernel ridge regression alone, on its preprocessing and standardised targets."""
    preprocessing = make_preprocessing(recipe.variance_drop).fit(X_train)
    y_mean, y_scale = y_train.mean(axis=0), y_train.std(axis=0) + 1e-8
    kernel = KernelMember.fit(preprocessing.transform(X_train), (y_train - y_mean) / y_scale,
                              recipe.kernel_gamma, recipe.kernel_alpha)
    return kernel.forward(preprocessing.transform(X_test)) * y_scale + y_mean


def networks_predict(recipe, X_train, y_train, X_test, seed):
    """The recipe's networks, trained as ``cross_validate`` trains them, without the neighbour member."""
    model = train(X_train, y_train, recipe.with_overrides(neighbour_width=0.0), seed=seed)
    return model.predict_mean(X_test)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", help="data directory (default ../shared/data/fe-k-xanes)")
parser.add_argument("--recipe", default="xanesviz-fe-k", choices=list(RECIPES))
parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0],
                    help="shares of each fold's training set")
parser.add_argument("--networks", action="store_true", help="train the recipe's networks as well (slow)")
parser.add_argument("--max-folds", type=int, help="stop after this many folds")
parser.add_argument("--seed", type=int, default=0, help="seed of the subsampling")
args = parser.parse_args()
if not all(0 < f <= 1 for f in args.fractions):
    parser.error("--fractions must lie in (0, 1]")
if args.max_folds is not None and not 1 <= args.max_folds <= 5:
    parser.error("--max-folds must be 1 to 5")

recipe = get_recipe(args.recipe)
dataset = load_dataset(data_dir_or_exit(args.data))
y, energy = dataset.spectra, dataset.energy
X = WACSF(element="Fe", **recipe.descriptor).transform(dataset.structures)
folds = list(cv_splitter(k=5).split(X))[: args.max_folds]
tested = np.concatenate([test for _, test in folds])
models = {"kernel ridge regression alone": lambda train_idx, test_idx, fold: kernel_ridge_predict(
    recipe, X[train_idx], y[train_idx], X[test_idx])}
if args.networks:
    models[f"the recipe's {recipe.ensemble} networks"] = lambda train_idx, test_idx, fold: networks_predict(
        recipe, X[train_idx], y[train_idx], X[test_idx], seed=fold)
print(f"{args.recipe}: {len(folds)} of 5 folds, {len(tested)} test spectra; a target peak is found when a "
      f"predicted peak lies within {PEAK_TOLERANCE_EV:g} eV")
for name, predict in models.items():
    print(f"{name}:")
    print("  training set  Δμ median (quartiles)   peaks found  real    mean |ΔE|   time")
    for fraction in sorted(args.fractions):
        start = time.perf_counter()
        rng = np.random.default_rng(args.seed)
        predicted = np.empty_like(y)
        for fold, (train_idx, test_idx) in enumerate(folds):
            subset = rng.permutation(train_idx)[: max(int(round(fraction * len(train_idx))), 2)]
            predicted[test_idx] = predict(subset, test_idx, fold)
        s = summarise(energy, predicted[tested], y[tested])
        print(f"  {len(subset):12d}  {s['delta_mu_median_pct']:5.2f} % ({s['delta_mu_q1_pct']:.2f}-"
              f"{s['delta_mu_q3_pct']:.2f} %)  {100 * s['peak_hit_rate']:9.1f} %  {100 * s['peak_precision']:5.1f} %"
              f"  {s['mean_abs_peak_shift_eV']:.3f} eV  {time.perf_counter() - start:5.0f} s", flush=True)
