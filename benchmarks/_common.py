"""Shared bits of the benchmark scripts: where the reference data lives, the timing scripts' test complex."""

import sys
import zipfile
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fe-k-xanes"


def data_dir_or_exit(path=None) -> Path:
    path = Path(path) if path else DATA_DIR
    if not (path / "xyz").is_dir():
        sys.exit(f"reference data not found at {path} (it is not shipped with xanesviz); pass its location")
    return path


def load_saved_predictions(path, names, k: int, seed: int, recipe: str | None = None, group: str = "none"):
    """Out-of-fold predictions written by ``cv_accuracy.py --save-predictions``, checked to be of
    this data set (``names``), split (``k``, ``seed``, ``group``: files from before grouping
    was an option are plain) and, if given, recipe; exits otherwise."""
    import numpy as np

    try:
        saved = np.load(path)
        names_saved, k_saved, seed_saved, recipe_saved = (saved[key] for key in ("names", "k", "seed", "recipe"))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        sys.exit(f"{path}: not a file of saved out-of-fold predictions ({exc})")
    group_saved = str(saved["group"]) if "group" in saved.files else "none"
    if (list(names_saved) != list(names) or int(k_saved) != k or int(seed_saved) != seed or group_saved != group
            or (recipe is not None and str(recipe_saved) != recipe)):
        sys.exit(f"{path} holds predictions of another recipe, split or data set "
                 f"(need {recipe or 'any recipe'}, {k}-fold, seed {seed}, grouping {group})")
    return saved


def complex_of(n_atoms: int, seed: int = 0, metal: int = 26):
    """The metal (Fe) at the origin, an octahedral first shell and outer atoms spread to ~8 Å, ≥1 Å apart."""
    import numpy as np
    from ase import Atoms

    rng = np.random.default_rng(seed)
    positions = [[0, 0, 0]] + list(2.0 * np.vstack([np.eye(3), -np.eye(3)]))
    while len(positions) < n_atoms:
        p = rng.uniform(-7.5, 7.5, 3)
        if 2.8 < np.linalg.norm(p) < 8.0 and np.min(np.linalg.norm(np.array(positions) - p, axis=1)) > 1.0:
            positions.append(p)
    numbers = [metal] + [7] * 6 + list(rng.choice([1, 6, 6, 8], n_atoms - 7))
    return Atoms(numbers=numbers, positions=positions)


def timed_model(description: str, repeats: int):
    """The timing scripts' start: their options (``--model``, ``--repeats``), the command and machine
    printed, then their subject: the bundle, ``complex_of(100)`` with the model's metal at the centre,
    and the networks' float32 weights and biases as the forward pass holds them (a bundle may read
    them from another bundle's folder: card ``networks_from``). Returns ``(args, predictor, atoms,
    weights)``."""
    import argparse

    from _machine import machine_line
    from ase.data import atomic_numbers
    from xanesviz import Predictor

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model")
    parser.add_argument("--repeats", type=int, default=repeats)
    args = parser.parse_args()
    print("command: " + " ".join([Path(sys.executable).name] + sys.argv))
    print(machine_line())
    predictor = Predictor.load(args.model)
    atoms = complex_of(100, metal=atomic_numbers[predictor.element])
    network = predictor.ensemble.network
    return args, predictor, atoms, list(network.weights) + list(network.biases)
