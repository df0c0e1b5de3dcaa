"""Command line: ``xanesviz predict | train | evaluate | importance | simulate``."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import numpy as np

from .errors import XanesvizError


def _absorber(value: str | None):
    if value is None:
        return None
    return int(value) if value.lstrip("-").isdigit() else value


def cmd_predict(args) -> int:
    from .predictor import Predictor
    from .spectrum import csv_text
    from .structure import read_structure

    predictor = Predictor.load(args.model)
    columns, failed = {"energy_eV": predictor.energy}, 0
    for path in args.files:
        stem = Path(path).stem
        try:
            spectrum = predictor.predict(read_structure(path), absorber=_absorber(args.absorber), source=str(path))
        except XanesvizError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        name = stem if stem not in columns else f"{stem}_{len(columns)}"
        columns[name] = spectrum.mu
        if args.std:
            columns[f"{name}_std"] = spectrum.std
    header = [f"xanesviz {predictor.card.get('package_version', '')} predicted {predictor.element} K-edge XANES",
              f"model: {predictor.name} ({predictor.n_members} networks"
              f"{' + kernel ridge member' if predictor.bundle.kernel is not None else ''}, "
              f"recipe {predictor.card['recipe']['name']})",
              f"edge: {predictor.element} K", "units: energy_eV absolute eV; intensity on the training targets' scale",
              f"broadening: the targets' Lorentzian only ({predictor.card.get('target_broadening', 'fixed')})"]
    if args.std:
        header.append("<stem>_std: standard deviation over the ensemble's networks")
    if len(columns) > 1:
        text = csv_text(header, columns)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    print(f"predicted {len(args.files) - failed} of {len(args.files)} structure(s)"
          + (f"; wrote {args.output}" if args.output and len(columns) > 1 else ""), file=sys.stderr)
    return 1 if failed else 0


def _features(data_dir, descriptor, progress=True):
    from .data import load_dataset

    dataset = load_dataset(data_dir, progress=progress)
    for reason in dataset.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    X = descriptor.transform(dataset.structures)
    return dataset, X


def cmd_train(args) -> int:
    from .bundle import save_bundle
    from .descriptor import WACSF
    from .model import cross_validate, get_recipe, train
    from .spectrum import TARGET_LORENTZIAN_FWHM_EV

    recipe = get_recipe(args.recipe).with_overrides(epochs=args.epochs, ensemble=args.ensemble,
                                                    training_precision=args.training_precision)
    descriptor = WACSF(**recipe.descriptor)
    dataset, X = _features(args.data_dir, descriptor)
    extra = {"name": args.name or Path(args.output).name,
             "training_data": {"directory": Path(args.data_dir).name, "n_samples": len(dataset),
                               "skipped": len(dataset.skipped), "targets": "spectra/ (FDMNES, Lorentzian-broadened)"},
             "target_broadening": f"Lorentzian FWHM {TARGET_LORENTZIAN_FWHM_EV:g} eV (already in the targets)",
             "seed": args.seed}
    if args.cv:
        print(f"{args.cv}-fold cross-validation of recipe {recipe.name} ({recipe.ensemble} network(s) per fold)")
        cv = cross_validate(X, dataset.spectra, dataset.energy, recipe, k=args.cv, seed=args.seed, progress=True)
        extra["cv_metrics"] = {"k": args.cv, "repeats": 1, **cv["summary"]}
        print_summary("cross-validation", cv["summary"])
    print(f"training {recipe.ensemble} network(s) of recipe {recipe.name} on {len(dataset)} samples")
    ensemble = train(X, dataset.spectra, recipe, seed=args.seed, progress=True)
    result = None
    if not args.skip_importance:
        from .explain import permutation_importance, importance_to_card

        sample = np.random.default_rng(args.seed).permutation(len(X))[:2000]  # bounds the cost
        print(f"permutation importance on {len(sample)} samples")
        # Without the nearest-neighbour member: on its own training samples it returns their
        # spectra, and permuting any feature would only measure how far that moves them away.
        result = permutation_importance(functools.partial(ensemble.predict_mean, neighbours=False), X[sample],
                                        dataset.spectra[sample], dataset.energy,
                                        names=descriptor.feature_names(), repeats=2, seed=args.seed)
        extra["feature_importance"] = importance_to_card(result)
    save_bundle(args.output, ensemble, descriptor, extra, dataset.energy, training_features=X, importance=result)
    print(f"saved {args.output} ({ensemble.train_seconds:.0f} s of training)")
    return 0


def print_summary(title: str, summary: dict) -> None:
    from .evaluation import format_summary

    print(f"{title}: {format_summary(summary)}")


def cmd_evaluate(args) -> int:
    from .evaluation import bootstrap_intervals, delta_mu, format_intervals, summarise
    from .bundle import CARD
    from .errors import ModelBundleError, RecipeError
    from .model import Recipe, cross_validate, get_recipe
    from .predictor import Predictor

    if args.bootstrap < 0:
        raise XanesvizError(f"--bootstrap must be 0 (no intervals) or a number of resamples, not {args.bootstrap}")
    predictor = Predictor.load(args.model)
    if args.kfold:  # the recipe to retrain is checked before the data are read
        if args.recipe:
            recipe = get_recipe(args.recipe)
        else:
            try:
                recipe = Recipe.from_dict(predictor.card.get("recipe"))
            except RecipeError as exc:
                raise ModelBundleError(f"{predictor.bundle.path / CARD}: {exc}") from None
        recipe = recipe.with_overrides(epochs=args.epochs, ensemble=args.ensemble)
    dataset, X = _features(args.data_dir, predictor.descriptor)
    if args.kfold:
        print(f"{args.kfold}-fold x {args.repeats} cross-validation of recipe {recipe.name} "
              f"({recipe.ensemble} network(s), {recipe.epochs} epochs) on {len(dataset)} samples")
        cv = cross_validate(X, dataset.spectra, dataset.energy, recipe, k=args.kfold, repeats=args.repeats,
                            seed=args.seed, progress=True)
        predicted, summary = cv["oof_predictions"][0], cv["summary"]
        title = "cross-validation (out-of-fold)"
    else:
        predicted = predictor.predict_arrays(X)[0]
        summary = summarise(dataset.energy, predicted, dataset.spectra)
        title = f"model {predictor.name} on {args.data_dir}"
        if predictor.card.get("training_data", {}).get("directory") == Path(args.data_dir).name:
            title += " (its own training data: use --kfold for an honest figure)"
    print_summary(title, summary)
    if args.bootstrap:
        print(format_intervals(bootstrap_intervals(dataset.energy, predicted, dataset.spectra, args.bootstrap,
                                                   seed=args.seed), draws=args.bootstrap))
    if args.output:
        errors = delta_mu(predicted, dataset.spectra)
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write("# per-spectrum error: delta_mu_pct = 100 * mean|pred - true| / mean(true)\nname,delta_mu_pct\n")
            for name, err in zip(dataset.names, errors):
                handle.write(f"{name},{err:.4f}\n")
        print(f"per-spectrum errors written to {args.output}")
    return 0


def cmd_importance(args) -> int:
    from .explain import format_importance, permutation_importance
    from .predictor import Predictor

    predictor = Predictor.load(args.model)
    dataset, X = _features(args.data_dir, predictor.descriptor, progress=False)
    # Without the nearest-neighbour member, as `train` stores it: on training samples it adds
    # back what the model misses there, and permuting a feature would also measure how far that
    # moves a sample from itself.
    result = permutation_importance(lambda rows: predictor.predict_arrays(rows, neighbours=False)[0], X,
                                    dataset.spectra, dataset.energy,
                                    names=predictor.descriptor.feature_names(), repeats=args.repeats,
                                    windows={"selected": tuple(args.window)} if args.window else None,
                                    seed=args.seed)
    print(format_importance(result, top=args.top, window="selected" if args.window else "all"))
    return 0


def cmd_simulate(args) -> int:
    from .simulate import simulate

    counts = simulate(args.structures, args.output, absorber=_absorber(args.absorber), settings=args.settings,
                      workers=args.workers, scheduler=args.scheduler, stage_timeout=args.stage_timeout)
    return 1 if counts["failed"] else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xanesviz", description="Predict K-edge XANES from local geometry (wACSF + MLP).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="predict spectra of structure files into one CSV",
                       description="Predict the K-edge XANES of each FILE; write one CSV (energy_eV, one column per file).")
    p.add_argument("files", nargs="+", metavar="FILE", help="structure files (any ase.io format, XANESNET xyz)")
    p.add_argument("--model", help="model bundle directory (default: the shipped pretrained/fe-k)")
    p.add_argument("-o", "--output", help="CSV to write (default: standard output)")
    p.add_argument("--absorber", help="absorber atom index or element symbol (default: first atom of the model's element)")
    p.add_argument("--std", action="store_true", help="add <stem>_std columns (ensemble standard deviation)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("train", help="train a model bundle on a data directory",
                       description="Train on DATA_DIR (xyz/ + spectra/) and save a model bundle in MODEL_DIR.")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("-o", "--output", required=True, metavar="MODEL_DIR")
    p.add_argument("--recipe", default="xanesviz-fe-k", help="training recipe (xanesnet-2022 reproduces the paper)")
    p.add_argument("--ensemble", type=int, help="number of networks (default: the recipe's)")
    p.add_argument("--epochs", type=int, help="epochs (default: the recipe's)")
    p.add_argument("--training-precision", choices=["float32", "bfloat16"],
                   help="arithmetic of the training steps' matrix products (default: the recipe's); bfloat16 is "
                        "faster only on CPUs with AVX512_BF16 or AMX, and the model predicts in float32 either way")
    p.add_argument("--cv", type=int, metavar="K", help="also run K-fold CV first and store its metrics in the model card")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", help="model name for the card (default: the directory name)")
    p.add_argument("--skip-importance", action="store_true", help="do not compute permutation importance")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a model (or a recipe by K-fold CV) on a data directory",
                       description="Per-spectrum errors, their median and quartiles, and peak-position statistics.")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--model", help="model bundle directory (default: the shipped one)")
    p.add_argument("--kfold", type=int, metavar="K", help="cross-validate the model's recipe with K folds instead")
    p.add_argument("--repeats", type=int, default=1, help="repeats of the K-fold split")
    p.add_argument("--recipe", help="recipe to cross-validate (default: the model's)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--ensemble", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="resamples for the figures' 95 %% bootstrap intervals (default 1000; 0: none)")
    p.add_argument("-o", "--output", help="write per-spectrum errors to this CSV")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("importance", help="permutation feature importance of a model on a data directory",
                       description="Scramble each descriptor feature over the data and report the loss in accuracy.")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--model", help="model bundle directory (default: the shipped one)")
    p.add_argument("--window", nargs=2, type=float, metavar=("E1", "E2"), help="energy window in absolute eV")
    p.add_argument("--repeats", type=int, default=3, help="permutations per feature")
    p.add_argument("--top", type=int, default=15, help="features to list")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_importance)

    from .feff import SETTINGS

    p = sub.add_parser("simulate", help="FEFF10 spectra of many structures into a training data directory (Dask)",
                       description="Compute the FEFF10 K-edge XANES of each structure into DATA_DIR (xyz/, spectra/, "
                                   "feff/STEM/, manifest.jsonl). Resumable: structures whose spectrum exists are "
                                   "skipped. Exit status 1 if any structure failed (see the manifest).")
    p.add_argument("structures", nargs="+", metavar="STRUCTURES",
                   help="structure files, or directories of *.xyz files (XANESNET numbered xyz too)")
    p.add_argument("-o", "--output", required=True, metavar="DATA_DIR")
    p.add_argument("--absorber", help="absorber atom index or element symbol (default: the one first-row "
                                      "transition metal of each structure)")
    p.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="use the running Dask scheduler at ADDRESS "
                                                          "(e.g. tcp://10.0.0.1:8786) instead of a local cluster")
    p.add_argument("--settings", default="reference", choices=sorted(SETTINGS),
                   help="FEFF10 settings (default: reference; 'fast' is for smoke tests only)")
    p.add_argument("--stage-timeout", type=float, default=3600.0, metavar="S",
                   help="give up on a structure when one FEFF stage runs longer than S seconds (default 3600)")
    p.set_defaults(func=cmd_simulate)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except XanesvizError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
