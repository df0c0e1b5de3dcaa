"""Cross-validated accuracy of a training recipe on the reference data.

    python benchmarks/cv_accuracy.py --recipe xanesviz-fe-k --k 5 [--update-card pretrained/fe-k]
    python benchmarks/cv_accuracy.py --recipe xanesnet-2022 --k 5 --ensemble 1

Prints Δμ median and quartiles (100 * mean|pred - true| / mean(true) per spectrum, pooled
out-of-fold predictions) and the peak statistics; ``--update-card`` stores them in a bundle's
model card (the bundle must have been trained with the same recipe).
"""

import argparse
import json
import time
from pathlib import Path

from _common import data_dir_or_exit

from xanesviz.data import load_dataset
from xanesviz.descriptor import WACSF
from xanesviz.evaluation import format_summary
from xanesviz.model import cross_validate, get_recipe

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", help="data directory (default ../shared/data/fe-k-xanes)")
parser.add_argument("--recipe", default="xanesviz-fe-k")
parser.add_argument("--k", type=int, default=5)
parser.add_argument("--repeats", type=int, default=1)
parser.add_argument("--ensemble", type=int)
parser.add_argument("--epochs", type=int)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--update-card", metavar="BUNDLE_DIR")
args = parser.parse_args()

recipe = get_recipe(args.recipe).with_overrides(ensemble=args.ensemble, epochs=args.epochs)
dataset = load_dataset(data_dir_or_exit(args.data))
X = WACSF(**recipe.descriptor).transform(dataset.structures)
start = time.perf_counter()
result = cross_validate(X, dataset.spectra, dataset.energy, recipe, k=args.k, repeats=args.repeats,
                        seed=args.seed, progress=True)
print(f"recipe {recipe.name}: {recipe.ensemble} network(s), {recipe.epochs} epochs, {args.k}-fold x {args.repeats}, "
      f"{len(dataset)} samples, {time.perf_counter() - start:.0f} s")
print("CV " + format_summary(result["summary"]))
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
