"""Does refinement recover a geometry? Fe complexes of a held-out fold, first shell moved by 0.1 Å.

    python benchmarks/refine_recovery.py [--n 40] [--fold 0] [--model runs/refine/fold0-xanesviz-fe-k-zeta32] [--recipe xanesviz-fe-k-zeta32]

A model of the shipped recipe (or ``--recipe``) is trained on the other four folds of the grouped 5-fold split
(each chemical formula in one fold, seed 0: the split of ``cv_accuracy.py --group formula``)
and cached in ``--model`` (about 15 min here, once). For ``--n`` complexes of the held-out fold,
every first-shell ligand is moved radially by the same +0.1 or -0.1 Å (sign at random; the
breathing move of ``xanesviz.refine``), the structure is refined against the complex's own
FDMNES spectrum (``calculated_reference``: normalised like a prediction) and the script prints
the error of the mean Fe-donor distance before (0.10 Å) and after, the per-bond errors, how
often the ensemble's spread (±1 std over networks) covers the true mean distance, the seconds
per refinement (with the atom count) and the misfit. ``--mode breathing`` refines the breathing
move alone. Complexes whose expansion or contraction changes the first shell (a donor leaving
or entering it) are skipped and counted.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import data_dir_or_exit
from _machine import machine_line

from xanesviz.data import FE_K_XANES, load_dataset
from xanesviz.derive import first_shell
from xanesviz.errors import XanesvizError

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--data", help="data directory (default ../shared/data/fe-k-xanes)")
parser.add_argument("--n", type=int, default=40, help="complexes of the held-out fold to refine")
parser.add_argument("--fold", type=int, default=0)
parser.add_argument("--model", help="cached held-out-fold model (trained if missing; default "
                                    "runs/refine/fold<FOLD>-<RECIPE>)")
parser.add_argument("--recipe", default="xanesviz-fe-k-zeta32", help="the recipe the held-out-fold model is trained with "
                                                            "(when --model does not exist yet)")
parser.add_argument("--mode", default="ligands", choices=["ligands", "breathing"])
parser.add_argument("--move", type=float, default=0.1, help="first-shell move in Å")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--json", help="write every complex's figures here")
args = parser.parse_args()

data = data_dir_or_exit(args.data)
dataset = load_dataset(data, FE_K_XANES.grid)
from xanesviz.splits import fold_numbers, groups_for  # noqa: E402

fold = fold_numbers(5, len(dataset), 0, groups_for("formula", dataset.names))
held_out = np.flatnonzero(fold == args.fold)
model_dir = Path(args.model or f"runs/refine/fold{args.fold}-{args.recipe}")
if not (model_dir / "model_card.json").exists():
    from xanesviz.bundle import save_bundle
    from xanesviz.descriptor import WACSF
    from xanesviz.model import get_recipe, train

    recipe = get_recipe(args.recipe)
    descriptor = WACSF(**{"element": "Fe", **recipe.descriptor})
    training = np.flatnonzero(fold != args.fold)
    X = descriptor.transform([dataset.structures[i] for i in training])
    print(f"training recipe {recipe.name} on {len(training)} complexes (fold {args.fold} of 5 held out)", flush=True)
    ensemble = train(X, dataset.spectra[training], recipe, seed=0, progress=True)
    save_bundle(model_dir, ensemble, descriptor,
                {"name": f"fe-k-without-fold{args.fold}", **FE_K_XANES.card(), "seed": 0,
                 "training_data": {"directory": data.name, "n_samples": len(training),
                                   "held_out": f"grouped 5-fold split (formula), seed 0, fold {args.fold}"}},
                dataset.energy, training_features=X)

from xanesviz.compare import calculated_reference  # noqa: E402
from xanesviz.predictor import Predictor  # noqa: E402
from xanesviz.refine import ligand_moves, refine  # noqa: E402

predictor = Predictor.load(model_dir)
rng = np.random.default_rng(args.seed)
chosen = rng.permutation(held_out)
rows, skipped = [], {}
for index in chosen:
    if len(rows) >= args.n:
        break
    atoms, name = dataset.structures[index], dataset.names[index]
    try:
        absorber = predictor.absorber_index(atoms)
        shell = first_shell(atoms, absorber)
        sign = float(rng.choice([-1.0, 1.0]))
        moves = ligand_moves(atoms, absorber, breathing=True)
        start = atoms.copy()
        start.positions = moves.positions(atoms.positions, np.array([sign * args.move]))
        if not np.array_equal(first_shell(start, absorber).donors, shell.donors):
            skipped["first shell changes"] = skipped.get("first shell changes", 0) + 1
            continue
        reference = calculated_reference(dataset.energy, dataset.spectra[index], "Fe", f"FDMNES {name}")
        began = time.perf_counter()
        result = refine(predictor, start, reference, mode=args.mode)
        seconds = time.perf_counter() - began
    except XanesvizError as exc:
        key = str(exc).split(":")[-1].strip()[:60]
        skipped[key] = skipped.get(key, 0) + 1
        continue
    true = np.linalg.norm(atoms.positions[shell.donors] - atoms.positions[absorber], axis=1)
    mean_error = result.mean_after - true.mean()
    rows.append({"name": name, "atoms": len(atoms), "move": sign * args.move, "donors": len(true),
                 "mean_error_before": result.mean_before - true.mean(), "mean_error": mean_error,
                 "bond_errors_before": (result.distances_before - true).tolist(),
                 "bond_errors": (result.distances_after - true).tolist(),
                 "spread": result.mean_spread, "r_before": result.before.r_factor, "r_after": result.after.r_factor,
                 "seconds": seconds, "evaluations": result.evaluations})
    spread = "" if result.mean_spread is None else f" ± {result.mean_spread:.3f}"
    print(f"{name[:28]:28s} {len(atoms):3d} atoms move {sign * args.move:+.2f}: mean error {mean_error:+.3f}{spread} Å, "
          f"bonds {np.median(np.abs(result.distances_after - true)):.3f} Å (median |err|), R {result.before.r_factor:.4f} → "
          f"{result.after.r_factor:.4f}, {seconds:.1f} s", flush=True)

print(f"\n{machine_line()}")
print(f"model: {model_dir} (trained without fold {args.fold}); mode {args.mode}; {len(rows)} complexes refined; "
      f"skipped: {skipped or 'none'}")
if rows:
    mean_err = np.abs([r["mean_error"] for r in rows])
    bond_before = np.abs(np.concatenate([r["bond_errors_before"] for r in rows]))
    bond_after = np.abs(np.concatenate([r["bond_errors"] for r in rows]))
    covered = [abs(r["mean_error"]) <= r["spread"] for r in rows if r["spread"] is not None]
    seconds = np.array([r["seconds"] for r in rows])
    big = [r["seconds"] for r in rows if r["atoms"] >= 80]
    print(f"mean Fe-donor distance error: {args.move:.2f} Å before → median {np.median(mean_err):.3f} Å after "
          f"(quartiles {np.percentile(mean_err, 25):.3f}-{np.percentile(mean_err, 75):.3f}; goal ≤ 0.03)")
    print(f"per-bond |error|: median {np.median(bond_before):.3f} Å before → {np.median(bond_after):.3f} Å after")
    if covered:
        print(f"ensemble spread (±1 std over networks) covers the true mean distance in {np.mean(covered):.0%} "
              f"of {len(covered)} (median spread {np.median([r['spread'] for r in rows]):.3f} Å; goal about 2/3)")
    print(f"seconds per refinement (error bars included): median {np.median(seconds):.1f}, max {seconds.max():.1f}"
          + (f"; complexes of 80+ atoms: median {np.median(big):.1f} s (n={len(big)})" if big else ""))
    print(f"R-factor: median {np.median([r['r_before'] for r in rows]):.4f} before → "
          f"{np.median([r['r_after'] for r in rows]):.4f} after")
if args.json:
    Path(args.json).write_text(json.dumps({"machine": machine_line(), "mode": args.mode, "rows": rows,
                                           "skipped": skipped}, indent=1))
