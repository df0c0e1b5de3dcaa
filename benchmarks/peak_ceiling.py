"""How many peaks the descriptor can carry: peak statistics of model-free predictions on a CV fold.

    python benchmarks/peak_ceiling.py [--recipe xanesviz-fe-k] [--r-max 5.5 6.0]

On the first fold of the 5-fold split that ``cross_validate`` uses, each test complex is
predicted (1) by the spectrum of its nearest training complex in the recipe's standardised
descriptor and (2) by the recipe's kernel ridge member alone. If complexes that look alike to
the descriptor share their peaks, these find most of them; the share they find bounds what a
fit of the same descriptor can be expected to reach. ``--r-max`` repeats it for other cutoffs.
"""

import argparse
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors

from _common import data_dir_or_exit

from xanesviz.data import load_dataset
from xanesviz.descriptor import WACSF
from xanesviz.evaluation import format_summary, summarise
from xanesviz.kernel import KernelMember
from xanesviz.model import cv_splitter, get_recipe, make_preprocessing

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data")
parser.add_argument("--recipe", default="xanesviz-fe-k")
parser.add_argument("--r-max", type=float, nargs="*", help="cutoffs to compare (default: the recipe's)")
args = parser.parse_args()

recipe = get_recipe(args.recipe)
dataset = load_dataset(data_dir_or_exit(args.data))
y, energy = dataset.spectra, dataset.energy
train_idx, test_idx = next(cv_splitter(k=5).split(y))
y_mean, y_scale = y[train_idx].mean(axis=0), y[train_idx].std(axis=0) + 1e-8
default_r_max = WACSF(**recipe.descriptor).r_max
for r_max in args.r_max or [default_r_max]:
    start = time.perf_counter()
    X = WACSF(**{**recipe.descriptor, "r_max": r_max}).transform(dataset.structures)
    preprocessing = make_preprocessing(recipe.variance_drop).fit(X[train_idx])
    Z_train, Z_test = preprocessing.transform(X[train_idx]), preprocessing.transform(X[test_idx])
    nearest = NearestNeighbors(n_neighbors=1).fit(Z_train).kneighbors(Z_test, return_distance=False)[:, 0]
    kernel = KernelMember.fit(Z_train, (y[train_idx] - y_mean) / y_scale, recipe.kernel_gamma, recipe.kernel_alpha)
    predictions = {"nearest training complex": y[train_idx][nearest],
                   "kernel ridge member alone": kernel.forward(Z_test) * y_scale + y_mean}
    print(f"cutoff {r_max} Å, fold 1 of 5 ({len(test_idx)} test spectra), {time.perf_counter() - start:.0f} s:")
    for name, predicted in predictions.items():
        print(f"  {name}: " + format_summary(summarise(energy, predicted, y[test_idx])))
