"""Cross-validated accuracy of a training recipe on the reference data.

    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k-zeta32 --k 5 [--update-card pretrained/fe-k]
    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k-zeta32 --k 5 --group formula [--update-card pretrained/fe-k]
    python benchmarks/cv_accuracy.py --recipe xanesnet-2022 --k 5 --ensemble 1
    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 --max-folds 1 [--r-max 5]   # a quick screen
    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 --save-predictions runs/cv/fe-k.npz
    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 --from-predictions runs/cv/fe-k.npz  # re-score
    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 --from-predictions runs/cv/fe-k.npz --test-size 250

Prints Δμ median and quartiles (100 * mean|pred - true| / mean(true) per spectrum, pooled
out-of-fold predictions) and the peak statistics, with their 95 % bootstrap intervals (1000
resamples of the spectra); ``--update-card`` stores them in a bundle's
model card (the bundle must have been trained with the same recipe) as ``cv_metrics``, or with
``--group formula`` as ``cv_grouped``, and the out-of-fold predictions beside it
(``cv_predictions.npz`` / ``cv_predictions_grouped.npz``: float32, with each sample's stem and
fold; ``xanesviz.cv_record``), which ``tests/test_accuracy_guard.py`` rescores against the card. ``--group formula`` keeps
every chemical formula (the stem after the refcode, with its charge) in one fold, so no complex
is tested on a training twin of the same formula. ``--test-size N`` adds what
a test set of N such complexes could show by chance: the 2.5-97.5 % range of each figure over
random sets of N out-of-fold predictions, and how often each of the Fe K-edge model's goals
(Δμ median ≤ 4.5 %, peaks found ≥ 90 %, mean |ΔE| ≤ 0.6 eV) is met in them.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import data_dir_or_exit, load_saved_predictions

from xanesviz.data import load_dataset
from xanesviz.descriptor import WACSF
from xanesviz import cv_record
from xanesviz.evaluation import bootstrap_intervals, format_intervals, format_summary, resampled_figures
from xanesviz.model import SHIPPED_FE_RECIPE, cross_validate, get_recipe, pooled_summary
from xanesviz.splits import GROUPINGS, fold_numbers, groups_for

BOOTSTRAP_DRAWS = 1000  # resamples of the spectra for the figures' intervals
#: The figures --test-size reports: key, label, scale, unit, and the Fe K-edge model's goal, if any.
FIGURES = (("delta_mu_median_pct", "Δμ median", 1, " %", "≤", 4.5),
           ("peak_hit_rate", "peaks found", 100, " %", "≥", 90.0),
           ("peak_precision", "predicted peaks that are real", 100, " %", None, None),
           ("mean_abs_peak_shift_eV", "mean |ΔE|", 1, " eV", "≤", 0.6))

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", help="data directory (default ../shared/data/fe-k-xanes)")
parser.add_argument("--recipe", default=SHIPPED_FE_RECIPE)
parser.add_argument("--k", type=int, default=5)
parser.add_argument("--repeats", type=int, default=1)
parser.add_argument("--ensemble", type=int)
parser.add_argument("--epochs", type=int)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--group", choices=GROUPINGS, default="none",
                    help="formula: every chemical formula in one fold (default none: plain shuffled K-fold)")
parser.add_argument("--training-precision", choices=["float32", "bfloat16"],
                    help="arithmetic of the training steps' matrix products (default: the recipe's)")
parser.add_argument("--r-max", type=float, help="descriptor cutoff in Å instead of the recipe's")
parser.add_argument("--max-folds", type=int, help="stop after this many folds (a quick screen on the same splits)")
parser.add_argument("--update-card", metavar="BUNDLE_DIR")
parser.add_argument("--save-predictions", metavar="NPZ",
                    help="write the pooled out-of-fold predictions (oof, predicted mask, names, energy) here")
parser.add_argument("--from-predictions", metavar="NPZ",
                    help="score predictions saved by --save-predictions instead of training (same recipe, k and seed)")
parser.add_argument("--test-size", type=int, metavar="N",
                    help="also print the figures' spread over random sets of N out-of-fold predictions")
parser.add_argument("--draws", type=int, default=20000, help="number of random sets for --test-size")
args = parser.parse_args()
if args.k < 2 or args.repeats < 1:
    parser.error("--k must be at least 2 and --repeats at least 1")
if args.max_folds is not None and args.max_folds < 1:
    parser.error("--max-folds must be at least 1")
if args.test_size is not None and (args.test_size < 1 or args.draws < 1):
    parser.error("--test-size and --draws must be at least 1")
if args.max_folds and args.update_card:
    parser.error("--update-card needs every fold; drop --max-folds")
if args.repeats != 1 and args.update_card:
    parser.error("--update-card stores one repeat's out-of-fold predictions; drop --repeats")

recipe = get_recipe(args.recipe).with_overrides(ensemble=args.ensemble, epochs=args.epochs,
                                                training_precision=args.training_precision)
if args.r_max:
    recipe = recipe.with_overrides(descriptor={**recipe.descriptor, "r_max": args.r_max})
if (args.r_max or args.ensemble or args.epochs or args.training_precision) and args.update_card:
    parser.error("--update-card stores the figures of the recipe as trained; "
                 "drop --r-max, --ensemble, --epochs and --training-precision")
if args.update_card:  # before hours of training: the bundle must be of this recipe
    card = json.loads((Path(args.update_card) / cv_record.CARD).read_text())
    if card.get("recipe") != recipe.to_dict():
        raise SystemExit(f"{Path(args.update_card) / cv_record.CARD}: the bundle was trained with another recipe "
                         f"than {recipe.name} as defined now")
dataset = load_dataset(data_dir_or_exit(args.data))
groups = groups_for(args.group, dataset.names)
descriptor = WACSF(element="Fe", **recipe.descriptor)
start = time.perf_counter()
if args.from_predictions:
    saved = load_saved_predictions(args.from_predictions, dataset.names, args.k, args.seed, recipe.name, args.group)
    if len(saved["oof"]) != args.repeats:
        parser.error(f"{args.from_predictions} holds {len(saved['oof'])} repeat(s), not {args.repeats}")
    summary, _ = pooled_summary(saved["oof"], saved["predicted"], dataset.spectra, dataset.energy)
    result = {"summary": summary, "oof_predictions": saved["oof"], "oof_predicted": saved["predicted"]}
else:
    X = descriptor.transform(dataset.structures)
    result = cross_validate(X, dataset.spectra, dataset.energy, recipe, k=args.k, repeats=args.repeats,
                            seed=args.seed, progress=True, max_folds=args.max_folds, groups=groups)
folds = f"first {args.max_folds} fold(s) of " if args.max_folds else ""
folds += "formula-grouped " if groups is not None else ""
print(f"recipe {recipe.name}: cutoff {descriptor.r_max} Å, {recipe.ensemble} network(s), {recipe.epochs} epochs, "
      f"{recipe.training_precision} training, "
      f"{folds}{args.k}-fold x {args.repeats}, {len(dataset)} samples, {time.perf_counter() - start:.0f} s")
print("CV " + format_summary(result["summary"]))
tested = result["oof_predicted"][0]  # the spectra the (first repeat's) folds predicted
print("CV " + format_intervals(bootstrap_intervals(dataset.energy, result["oof_predictions"][0][tested],
                                                   dataset.spectra[tested], BOOTSTRAP_DRAWS, seed=args.seed),
                               draws=BOOTSTRAP_DRAWS)
      + ("" if args.repeats == 1 else " (first repeat)"))
if args.test_size:
    if args.test_size > tested.sum():
        raise SystemExit(f"--test-size {args.test_size} is more than the {tested.sum()} spectra predicted")
    spread = resampled_figures(dataset.energy, result["oof_predictions"][0][tested], dataset.spectra[tested],
                               args.test_size, args.draws, args.seed)
    print(f"over {args.draws} random sets of {args.test_size} of these spectra (first repeat), 2.5-97.5 % range:")
    for key, label, scale, unit, relation, goal in FIGURES:
        values = spread[key] * scale
        low, high = np.nanpercentile(values, [2.5, 97.5])
        line = f"  {label}: {low:.2f}-{high:.2f}{unit}"
        if relation:
            met = values <= goal if relation == "≤" else values >= goal
            line += f"; the goal ({relation} {goal:g}{unit}) is met in {100 * met.mean():.1f} % of the sets"
        print(line)
if args.save_predictions:
    fold = fold_numbers(args.k, len(dataset), args.seed, groups)  # which fold tested each sample (first repeat)
    oof = result["oof_predictions"]
    np.savez_compressed(args.save_predictions, oof=oof, predicted=result["oof_predicted"], names=np.array(dataset.names),
                        energy=dataset.energy, recipe=recipe.name, k=args.k, seed=args.seed, group=args.group, fold=fold)
    print(f"out-of-fold predictions in {args.save_predictions}")
if args.update_card:
    command = f"python benchmarks/cv_accuracy.py --recipe {recipe.name} --k {args.k}" + \
        (f" --group {args.group}" if args.group != "none" else "")
    summary = cv_record.store(args.update_card, result["oof_predictions"][0], dataset.names, dataset.spectra,
                              dataset.energy, recipe.to_dict(), args.k, args.seed, args.group, command)
    key, filename = cv_record.ENTRIES[args.group]
    print(f"stored in {Path(args.update_card) / cv_record.CARD} ({key}) and {Path(args.update_card) / filename}: "
          f"CV {format_summary(summary)}")
