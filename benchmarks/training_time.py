"""Wall time to train the published xanesnet-2022 recipe (one network, 512 epochs) on all data.

    python benchmarks/training_time.py [--epochs 512]
"""

import argparse

from _common import data_dir_or_exit

from xanesviz.data import load_dataset
from xanesviz.descriptor import WACSF
from xanesviz.model import get_recipe, train

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data")
parser.add_argument("--recipe", default="xanesnet-2022")
parser.add_argument("--epochs", type=int)
parser.add_argument("--training-precision", choices=["float32", "bfloat16"],
                    help="arithmetic of the training steps' matrix products (default: the recipe's)")
args = parser.parse_args()
recipe = get_recipe(args.recipe).with_overrides(epochs=args.epochs, training_precision=args.training_precision)
dataset = load_dataset(data_dir_or_exit(args.data))
X = WACSF(element="Fe", **recipe.descriptor).transform(dataset.structures)
model = train(X, dataset.spectra, recipe, seed=0, progress=True)
print(f"recipe {recipe.name}: {recipe.ensemble} network(s) x {recipe.epochs} epochs on {len(dataset)} samples, "
      f"{recipe.training_precision} training: "
      f"{model.train_seconds:.1f} s ({model.train_seconds / recipe.epochs * 1000:.0f} ms/epoch), final loss {model.history[-1]:.4g}")
