"""Cross-validated accuracy of a training recipe on the reference data.

    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 [--update-card pretrained/fe-k]
    python benchmarks/cv_accuracy.py --recipe xanesnet-2022 --k 5 --ensemble 1
    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 --max-folds 1 [--r-max 5]   # a quick screen
    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 --save-predictions runs/cv/fe-k.npz
    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 --from-predictions runs/cv/fe-k.npz  # re-score
    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 --from-predictions runs/cv/fe-k.npz --test-size 250

Prints Δμ median and quartiles (100 * mean|pred - true| / mean(true) per spectrum, pooled
out-of-fold predictions) and the peak statistics, with their 95 % bootstrap intervals (1000
resamples of the spectra); ``--update-card`` stores them in a bundle's
model card (the bundle must have been trained with the same recipe). ``--test-size N`` adds what
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
from xanesviz.evaluation import bootstrap_intervals, format_intervals, format_summary, resampled_figures
from xanesviz.model import cross_validate, get_recipe, pooled_summary

BOOTSTRAP_DRAWS = 1000  # resamples of the spectra for the figures' intervals
#: The figures --test-size reports: key, label, scale, unit, and the Fe K-edge model's goal, if any.
FIGURES = (("delta_mu_median_pct", "Δμ median", 1, " %", "≤", 4.5),
           ("peak_hit_rate", "peaks found", 100, " %", "≥", 90.0),
           ("peak_precision", "predicted peaks that are real", 100, " %", None, None),
           ("mean_abs_peak_shift_eV", "mean |ΔE|", 1, " eV", "≤", 0.6))

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", help="data directory (default ../shared/data/fe-k-xanes)")
parser.add_argument("--recipe", default="xanesviz-fe-k")
parser.add_argument("--k", type=int, default=5)
parser.add_argument("--repeats", type=int, default=1)
parser.add_argument("--ensemble", type=int)
parser.add_argument("--epochs", type=int)
parser.add_argument("--seed", type=int, default=0)
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

recipe = get_recipe(args.recipe).with_overrides(ensemble=args.ensemble, epochs=args.epochs,
                                                training_precision=args.training_precision)
if args.r_max:
    recipe = recipe.with_overrides(descriptor={**recipe.descriptor, "r_max": args.r_max})
if (args.r_max or args.ensemble or args.epochs or args.training_precision) and args.update_card:
    parser.error("--update-card stores the figures of the recipe as trained; "
                 "drop --r-max, --ensemble, --epochs and --training-precision")
dataset = load_dataset(data_dir_or_exit(args.data))
descriptor = WACSF(element="Fe", **recipe.descriptor)
start = time.perf_counter()
if args.from_predictions:
    saved = load_saved_predictions(args.from_predictions, dataset.names, args.k, args.seed, recipe.name)
    if len(saved["oof"]) != args.repeats:
        parser.error(f"{args.from_predictions} holds {len(saved['oof'])} repeat(s), not {args.repeats}")
    summary, _ = pooled_summary(saved["oof"], saved["predicted"], dataset.spectra, dataset.energy)
    result = {"summary": summary, "oof_predictions": saved["oof"], "oof_predicted": saved["predicted"]}
else:
    X = descriptor.transform(dataset.structures)
    result = cross_validate(X, dataset.spectra, dataset.energy, recipe, k=args.k, repeats=args.repeats,
                            seed=args.seed, progress=True, max_folds=args.max_folds)
folds = f"first {args.max_folds} fold(s) of " if args.max_folds else ""
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
    oof = result["oof_predictions"]
    np.savez_compressed(args.save_predictions, oof=oof, predicted=result["oof_predicted"], names=np.array(dataset.names),
                        energy=dataset.energy, recipe=recipe.name, k=args.k, seed=args.seed)
    print(f"out-of-fold predictions in {args.save_predictions}")
if args.update_card:
    card_path = Path(args.update_card) / "model_card.json"
    card = json.loads(card_path.read_text())
    if card["recipe"]["name"] != recipe.name:
        raise SystemExit(f"{card_path} was trained with recipe {card['recipe']['name']}, not {recipe.name}")
    card["cv_metrics"] = {"k": args.k, "repeats": args.repeats, "seed": args.seed,
                          "command": f"python benchmarks/cv_accuracy.py --recipe {recipe.name} --k {args.k}",
                          **result["summary"]}
    card_path.write_text(json.dumps(card, indent=2))
    print(f"stored in {card_path}")
