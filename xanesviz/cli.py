"""Command line: ``xanesviz predict | train | evaluate | importance | derive | normalize | compare | refine | simulate``."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import numpy as np

from .errors import XanesvizError
from .splits import GROUPINGS


def _absorber(value: str | None):
    if value is None:
        return None
    return int(value) if value.lstrip("-").isdigit() else value


def cmd_predict(args) -> int:
    from .catalogue import absorber_element
    from .predictor import Predictor
    from .spectrum import csv_text
    from .structure import read_structure

    # With --model, that model for every file; without, each structure's absorber picks its edge's model.
    named = Predictor.load(args.model) if args.model else None
    predictors: dict[str, Predictor] = {}
    columns, failed, used = {}, 0, named
    for path in args.files:
        stem = Path(path).stem
        try:
            atoms = read_structure(path)
            predictor = named
            if predictor is None:
                element = absorber_element(atoms, _absorber(args.absorber), source=str(path))
                if element not in predictors:
                    try:
                        predictors[element] = Predictor.load(element=element)
                    except XanesvizError as exc:
                        raise XanesvizError(f"{path}: {exc}") from None
                predictor = predictors[element]
            if "energy_eV" in columns and not np.array_equal(columns["energy_eV"], predictor.energy):
                raise XanesvizError(f"{path}: its absorber's model has another energy grid than the files before "
                                    "it; predict each edge's structures separately")
            columns.setdefault("energy_eV", predictor.energy)
            spectrum = predictor.predict(atoms, absorber=_absorber(args.absorber), source=str(path))
        except XanesvizError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        used = predictor
        name = stem if stem not in columns else f"{stem}_{len(columns)}"
        columns[name] = spectrum.mu
        if args.std:
            columns[f"{name}_std"] = spectrum.std
    if len(columns) > 1:
        predictor = used
        header = [f"xanesviz {predictor.card.get('package_version', '')} predicted {predictor.element} K-edge XANES",
                  f"model: {predictor.name} ({' + '.join(predictor.members)}, "
                  f"recipe {predictor.card['recipe']['name']})",
                  f"edge: {predictor.element} {predictor.edge}",
                  "units: energy_eV absolute eV; intensity on the training targets' scale",
                  f"broadening: the targets' own only ({predictor.target_broadening})"]
        if args.std:
            header.append("<stem>_std: standard deviation over the ensemble's networks")
        text = csv_text(header, columns)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    print(f"predicted {len(args.files) - failed} of {len(args.files)} structure(s)"
          + (f"; wrote {args.output}" if args.output and len(columns) > 1 else ""), file=sys.stderr)
    return 1 if failed else 0


def _features(data_dir, descriptor, grid, progress=True):
    from .data import load_dataset

    dataset = load_dataset(data_dir, grid, progress=progress)
    for reason in dataset.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    X = descriptor.transform(dataset.structures)
    return dataset, X


def _predictor_for(args, atoms):
    """``--model`` if given, else the default model of the structure's absorber's edge."""
    from .predictor import Predictor

    if args.model:
        return Predictor.load(args.model)
    return Predictor.for_structure(atoms, _absorber(args.absorber), source=str(args.structure))


def cmd_train(args) -> int:
    from .bundle import save_bundle
    from .data import FE_K_XANES
    from .descriptor import WACSF
    from .explain import default_windows
    from .model import SHIPPED_FE_RECIPE, cross_validate, get_recipe, train
    from .splits import formula_groups, groups_for

    recipe = get_recipe(args.recipe or SHIPPED_FE_RECIPE).with_overrides(epochs=args.epochs, ensemble=args.ensemble,
                                                    training_precision=args.training_precision)
    spectra = FE_K_XANES  # the data layout `train` reads: the FDMNES Fe K-edge set's grid and targets
    descriptor = WACSF(**{"element": spectra.element, **recipe.descriptor})
    dataset, X = _features(args.data_dir, descriptor, spectra.grid)
    extra = {"name": args.name or Path(args.output).name,
             "training_data": {"directory": Path(args.data_dir).name, "n_samples": len(dataset),
                               "skipped": len(dataset.skipped), "targets": "spectra/ (FDMNES, Lorentzian-broadened)"},
             **spectra.card(), "seed": args.seed}
    if args.cv:
        grouping = args.group or ("formula" if formula_groups(dataset.names) is not None else "none")
        groups = groups_for(grouping, dataset.names)
        print(f"{args.cv}-fold cross-validation of recipe {recipe.name} ({recipe.ensemble} network(s) per fold), "
              + ("each chemical formula in one fold" if groups is not None else
                 "plain shuffled folds" + ("" if args.group else " (the stems are not REFCODE_FORMULA)")))
        cv = cross_validate(X, dataset.spectra, dataset.energy, recipe, k=args.cv, seed=args.seed, progress=True,
                            groups=groups)
        extra["cv_metrics"] = {"k": args.cv, "repeats": 1, "group": grouping, **cv["summary"]}
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
                                        names=descriptor.feature_names(), repeats=2, seed=args.seed,
                                        windows=default_windows(dataset.energy, spectra.edge_energy_eV))
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
    from .splits import groups_for

    if args.bootstrap < 0:
        raise XanesvizError(f"--bootstrap must be 0 (no intervals) or a number of resamples, not {args.bootstrap}")
    if args.group != "none" and not args.kfold:
        args.kfold = 5  # grouping is a way of cross-validating
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
    dataset, X = _features(args.data_dir, predictor.descriptor, predictor.energy)
    if args.kfold:
        groups = groups_for(args.group, dataset.names)
        print(f"{args.kfold}-fold x {args.repeats} cross-validation of recipe {recipe.name} "
              f"({recipe.ensemble} network(s), {recipe.epochs} epochs) on {len(dataset)} samples"
              + (", each chemical formula in one fold" if groups is not None else ""))
        cv = cross_validate(X, dataset.spectra, dataset.energy, recipe, k=args.kfold, repeats=args.repeats,
                            seed=args.seed, progress=True, groups=groups)
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
    dataset, X = _features(args.data_dir, predictor.descriptor, predictor.energy, progress=False)
    # Without the nearest-neighbour member, as `train` stores it: on training samples it adds
    # back what the model misses there, and permuting a feature would also measure how far that
    # moves a sample from itself.
    result = permutation_importance(lambda rows: predictor.predict_arrays(rows, neighbours=False)[0], X,
                                    dataset.spectra, dataset.energy,
                                    names=predictor.descriptor.feature_names(), repeats=args.repeats,
                                    windows={"selected": tuple(args.window)} if args.window else predictor.default_windows,
                                    seed=args.seed)
    print(format_importance(result, top=args.top, window="selected" if args.window else "all"))
    return 0


def cmd_derive(args) -> int:
    from . import derived_set as ds

    metals = ds.metals_in_order(args.metals)
    out = Path(args.output)
    packs = [Path(s) for s in args.sources if Path(s).is_file()]
    if packs:  # packed sets: write their folders back out
        if len(packs) != len(args.sources):
            raise XanesvizError("give either one Fe data directory or packed .extxyz.gz files, not both")
        for path in packs:
            folder = ds.unpack(path, out)
            print(f"{path}: {sum(1 for _ in open(folder / 'order.txt'))} structures -> {folder}", file=sys.stderr)
        return 0
    if len(args.sources) != 1:
        raise XanesvizError("give one Fe data directory (with xyz/) to derive from")
    if args.parents < 1 or args.variants_per_parent < 0:
        raise XanesvizError("--parents must be at least 1 and --variants-per-parent at least 0")
    print(f"reading {args.sources[0]}", file=sys.stderr)
    parents = ds.read_parents(args.sources[0])
    groups = ds.spread_parents(parents, args.parents, seed=args.seed, atoms_within_6=tuple(args.atoms_within_6))
    command = (f"xanesviz derive {args.sources[0]} -o {args.output} --metals {' '.join(metals)} --parents {args.parents} "
               f"--variants-per-parent {args.variants_per_parent} --atoms-within-6 {' '.join(map(str, args.atoms_within_6))} "
               f"--seed {args.seed}" + (f" --pack {args.pack}" if args.pack else ""))
    summary = {"command": command, "seed": args.seed, "parents": args.parents, "variants_per_parent": args.variants_per_parent,
               "atoms_within_6": list(args.atoms_within_6), "metals": {}}
    for metal in metals:
        result = ds.build_metal_set(metal, parents, groups, args.variants_per_parent, seed=args.seed)
        ds.write_folder(result, out / metal)
        if args.pack:
            ds.write_pack(result, Path(args.pack) / f"{metal.lower()}.extxyz.gz")
        summary["metals"][metal] = result.counts()
        print(f"{metal}: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result.counts().items())
              + f" -> {out / metal}", file=sys.stderr)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return 0


def _write_text(path, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise XanesvizError(f"{path}: cannot be written ({exc.strerror or exc})") from None


def cmd_normalize(args) -> int:
    import json

    from .measured import read_measured

    measured = read_measured(args.file, mu_source=args.mu_source, group=args.group)
    if args.output:
        _write_text(args.output, measured.to_csv())
    if args.json:
        print(json.dumps(measured.summary()))
    else:
        n = measured.normalisation
        print(f"{measured.source}: {measured.element or 'element unknown'} {measured.edge or ''} edge, "
              f"{len(measured)} points {measured.energy[0]:.1f}-{measured.energy[-1]:.1f} eV, mu from "
              f"{measured.mu_source}; E0 {measured.e0:.2f} eV, edge step {measured.edge_step:.4g} "
              f"(larch pre_edge: pre {n['pre1']:g} to {n['pre2']:g} eV, post {n['norm1']:g} to {n['norm2']:g} eV, "
              f"nnorm {n['nnorm']})")
        for note in measured.warnings:
            print(f"warning: {note}", file=sys.stderr)
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    import json

    from .compare import compare
    from .measured import read_measured
    from .predictor import Predictor
    from .spectrum import csv_text
    from .structure import read_structure

    atoms = read_structure(args.structure)
    predictor = _predictor_for(args, atoms)
    measured = _read_reference(args, predictor)
    predicted = predictor.predict(atoms, absorber=_absorber(args.absorber), source=str(args.structure))
    result = compare(measured, predicted, fit_broadening=args.fit_broadening)
    if args.output:
        n = result.normalisation
        header = [f"xanesviz comparison: {args.structure} (model {predictor.name}) against {measured.source}",
                  result.format(),
                  f"measured: mu from {measured.mu_source}, larch pre_edge defaults (E0 {measured.e0:.3f} eV)",
                  f"predicted: larch pre_edge with pre {n['pre1']:g} to {n['pre2']:g} eV (npre {n['npre']}), post {n['norm1']:g} to "
                  f"{n['norm2']:g} eV, nnorm {n['nnorm']} (E0 {result.e0_predicted:.3f} eV); moved by "
                  f"{result.shift_eV:+.3f} eV and scaled by {result.scale:.4f}",
                  "units: energy eV (absolute, the measurement's scale); normalised mu"]
        if result.broadening is not None:
            header.append(f"broadening fitted: {result.broadening.describe()}")
        columns = {"energy_eV": result.energy, "measured_norm": result.measured,
                   "predicted_norm": result.predicted, "residual": result.residual}
        _write_text(args.output, csv_text(header, columns))
    if args.json:
        print(json.dumps({"structure": str(args.structure), "measured": measured.source, "model": predictor.name,
                          "element_measured": measured.element, "model_element": predictor.element,
                          **result.summary()}))
    else:
        print(result.format())
        for note in result.warnings:
            print(f"warning: {note}", file=sys.stderr)
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _read_reference(args, predictor):
    """The measurement of ``compare``/``refine``: a measured file, or with ``--calculated`` a
    calculated spectrum on a short window, normalised like a prediction."""
    from .measured import read_measured

    measured = read_measured(args.measured, mu_source=args.mu_source, group=args.group,
                             expected_element=predictor.element)
    if not getattr(args, "calculated", False):
        return measured
    from .compare import calculated_reference

    return calculated_reference(measured.energy, measured.mu, measured.element or predictor.element, measured.source)


def _parse_atoms(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(item) for item in text.replace(",", " ").split()]
    except ValueError:
        raise XanesvizError(f"--atoms {text!r}: expected atom indices such as 3,4,7") from None


def cmd_refine(args) -> int:
    import json

    import ase.io

    from .predictor import Predictor
    from .refine import refine
    from .structure import read_structure

    atoms = read_structure(args.structure)
    predictor = _predictor_for(args, atoms)
    measured = _read_reference(args, predictor)
    chosen = _parse_atoms(args.atoms)
    mode = "atoms" if (chosen is not None or args.radius is not None) else args.mode
    broadening = predictor.broadening(gamma_hole=args.gamma_hole, gaussian_fwhm=args.gaussian_fwhm)
    result = refine(predictor, atoms, measured, mode=mode, atoms_to_move=chosen, radius=args.radius,
                    absorber=_absorber(args.absorber), broadening=broadening, error_bars=not args.no_error_bars,
                    source=str(args.structure))
    try:
        ase.io.write(args.output, result.atoms, format="xyz",
                     comment=f"refined by xanesviz against {measured.source}: R-factor {result.before.r_factor:.5f} "
                             f"-> {result.after.r_factor:.5f}")
    except OSError as exc:
        raise XanesvizError(f"{args.output}: cannot be written ({exc.strerror or exc})") from None
    if args.json:
        print(json.dumps({"structure": str(args.structure), "measured": measured.source, "model": predictor.name,
                          "output": str(args.output), **result.summary()}))
    else:
        print(result.format())
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _add_measured_commands(sub) -> None:
    p = sub.add_parser("normalize", help="read and normalise a measured spectrum (larch pre_edge)",
                       description="Read FILE (XDI, Athena project, columns, FDMNES/XANESNET), choose mu(E) and "
                                   "normalise it with larch's pre_edge defaults, as Athena/Larix do.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print one JSON object (element, edge, e0, edge_step, ...)")
    p.add_argument("-o", "--output", metavar="OUT.csv", help="write energy, mu and normalised mu")
    p.add_argument("--mu-source", help="column name, or 'ln(i0/itrans)', 'ifluor/i0' ... (default: chosen from the columns)")
    p.add_argument("--group", help="Athena project group (name or index; default the first)")
    p.set_defaults(func=cmd_normalize)

    p = sub.add_parser("compare", help="align a prediction to a measured spectrum and report the figures",
                       description="Predict STRUCTURE, normalise both spectra, fit shift and scale (and "
                                   "optionally broadening), report R-factor, Pearson and delta-mu.")
    p.add_argument("structure", metavar="STRUCTURE")
    p.add_argument("measured", metavar="MEASURED")
    p.add_argument("--model", help="model bundle directory (default: the shipped model of the absorber's edge)")
    p.add_argument("--absorber", help="absorber atom index or element symbol")
    p.add_argument("--json", action="store_true", help="print one JSON object (shift_eV, r_factor, pearson, ...)")
    p.add_argument("-o", "--output", metavar="OUT.csv", help="write both spectra and the residual on one grid")
    p.add_argument("--fit-broadening", action="store_true",
                   help="also fit the extra broadening (Gamma_hole, Gamma_max, Gaussian FWHM)")
    p.add_argument("--mu-source", help="as for normalize")
    p.add_argument("--group", help="Athena project group (name or index)")
    p.add_argument("--calculated", action="store_true",
                   help="MEASURED is a calculated spectrum (FDMNES, FEFF, xanesviz) on a short window: "
                        "normalise it like a prediction")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("refine", help="refine a structure against a measured spectrum",
                       description="Move the first shell (or chosen atoms) of STRUCTURE until the prediction "
                                   "matches MEASURED (R-factor after shift and scale), with the model's exact "
                                   "gradients; the spread over the ensemble's networks gives error bars.")
    p.add_argument("structure", metavar="STRUCTURE")
    p.add_argument("measured", metavar="MEASURED")
    p.add_argument("-o", "--output", metavar="REFINED.xyz", required=True, help="where to write the refined structure")
    p.add_argument("--model", help="model bundle directory (default: the shipped model of the absorber's edge)")
    p.add_argument("--absorber", help="absorber atom index or element symbol")
    p.add_argument("--mode", choices=["ligands", "breathing"], default="ligands",
                   help="ligands: each ligand along its bond, after a breathing stage (default); "
                        "breathing: the whole first shell together")
    p.add_argument("--atoms", help="refine these atoms freely instead (indices, e.g. 1,2,5), other bonds restrained")
    p.add_argument("--radius", type=float, help="refine every atom within this many Å of the absorber instead")
    p.add_argument("--gamma-hole", type=float, default=0.0, help="extra core-hole broadening (eV) of the prediction")
    p.add_argument("--gaussian-fwhm", type=float, default=0.0, help="Gaussian broadening (eV) of the prediction")
    p.add_argument("--no-error-bars", action="store_true", help="skip the per-network refinements")
    p.add_argument("--json", action="store_true", help="print one JSON object (bonds before/after/spread, misfit, steps)")
    p.add_argument("--calculated", action="store_true", help="as for compare")
    p.add_argument("--mu-source", help="as for normalize")
    p.add_argument("--group", help="Athena project group (name or index)")
    p.set_defaults(func=cmd_refine)
def cmd_simulate(args) -> int:
    from .simulate import simulate

    counts = simulate(args.structures, args.output, absorber=_absorber(args.absorber), settings=args.settings,
                      workers=args.workers, scheduler=args.scheduler, stage_timeout=args.stage_timeout)
    return 1 if counts["failed"] or counts.get("interrupted") else 0


PRIORS = (0.0, 4.0, 10.0, 25.0)  # train-edges' candidates for --mean-prior
MAP_RIDGES = (None, 1.0, 3.0, 10.0, 30.0)  # train-edges' candidates for --map-ridge (None: per-energy factors)
#: train-edges' candidates for --residual-kernel: (width factor g, ridge alpha), or None (no residual member)
RESIDUAL_KERNELS = (None, (0.3, 1.0), (0.3, 3.0), (1.0, 1.0), (1.0, 3.0))
#: train-edges' candidates for --linear-member: (pair weight, ridge alpha), or None (no linear member)
LINEAR_MEMBERS = (None, (0.3, 0.3), (0.3, 1.0), (0.3, 3.0))
#: train-edges' candidates for --fine-tune: (learning rate, epochs), or None (the recalibrated networks as they are)
FINE_TUNES = (None, (1e-4, 100))
EDGE_MAP_RIDGES = (None, 0.3, 1.0, 3.0, 10.0)  # train-edges' candidates for --edge-map-ridge (None: no map per edge)


def _fine_tune(text: str):
    """--fine-tune: 'auto', 'none' (None) or 'LR,EPOCHS[,PAIRS]' (a positive learning rate, a whole
    number of epochs, and optionally the weight of the data's own drags, ≥ 0)."""
    if text in ("auto", "none"):
        return None if text == "none" else text
    parts = text.split(",")
    try:
        values = (float(parts[0]), int(parts[1]), *map(float, parts[2:])) if len(parts) in (2, 3) else ()
    except ValueError:
        values = ()
    if not values or not (values[0] > 0 and values[1] >= 1 and (len(values) == 2 or values[2] >= 0)):
        raise argparse.ArgumentTypeError(f"expected LR,EPOCHS[,PAIRS] (a positive number, a whole number ≥ 1, "
                                         f"a number ≥ 0), 'none' or 'auto': {text!r}")
    return values


def _describe_fine_tune(fine_tune) -> str:
    if fine_tune is None:
        return "none"
    pairs = f", the data's own drags weighted {fine_tune[2]:g}" if len(fine_tune) > 2 and fine_tune[2] else ""
    return f"learning rate {fine_tune[0]:g}, {fine_tune[1]} epochs{pairs}"


def _auto_none_or_pair(text: str, valid, expected: str):
    """'auto', 'none' (None) or two comma-separated numbers for which ``valid(a, b)`` holds."""
    if text in ("auto", "none"):
        return None if text == "none" else text
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2 or not valid(*values):
        raise argparse.ArgumentTypeError(f"expected {expected}, 'none' or 'auto': {text!r}")
    return values


def _residual_kernel(text: str):
    """--residual-kernel: 'auto', 'none' (None) or 'G,ALPHA' (two positive numbers)."""
    return _auto_none_or_pair(text, lambda g, alpha: g > 0 and alpha > 0, "G,ALPHA (two positive numbers)")


def _linear_member(text: str):
    """--linear-member: 'auto', 'none' (None) or 'PAIRS,ALPHA' (a number ≥ 0, a positive number)."""
    return _auto_none_or_pair(text, lambda pairs, alpha: 0 <= pairs < float("inf") and 0 < alpha < float("inf"),
                              "PAIRS,ALPHA (a number ≥ 0, a positive number)")


def _describe_linear(linear) -> str:
    return "none" if linear is None else f"pairs {linear[0]:g}, alpha {linear[1]:g}"


def _describe_residual(residual) -> str:
    return "none" if residual is None else f"g {residual[0]:g}, alpha {residual[1]:g}"


def _pair_weight(text: str) -> float:
    """--pair-weight: a number ≥ 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number ≥ 0: {text!r}")
    return value


def _map_ridge(text: str):
    """--map-ridge: 'auto', 'none' (None) or a positive number."""
    if text in ("auto", "none"):
        return None if text == "none" else text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number, 'none' or 'auto': {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def cmd_train_edges(args) -> int:
    from .bundle import load_bundle
    from .edges import (FdmnesTransfer, concatenate, cross_validate_edges, pair_fidelity, pool, read_edges,
                        spread_limit_ratio, transfer_cv_median, write_edge_bundles)
    from .evaluation import format_summary

    if args.cv_predictions and not args.cv:
        raise XanesvizError("--cv-predictions needs --cv K: out-of-fold predictions come from the cross-validation")
    if args.cv_predictions and not Path(args.cv_predictions).resolve().parent.is_dir():
        raise XanesvizError(f"--cv-predictions {args.cv_predictions}: no such directory for it")
    sets = read_edges(args.data_root)
    for element, dataset in sets.items():
        for reason in dataset.skipped:
            print(f"skipped ({element}): {reason}", file=sys.stderr)
    base = load_bundle(args.networks)
    data = pool(sets, base.descriptor)
    real = None
    if args.real_complexes:  # real complexes and their moves: counted more in the map's fit
        import dataclasses

        per_edge: dict = {}
        pooled_real = []
        for root in args.real_complexes:
            real_sets = read_edges(root)
            pooled_real.append(pool(real_sets, base.descriptor))
            for e, d in real_sets.items():
                per_edge[str(e)] = per_edge.get(str(e), 0) + len(d)
            print(f"with {len(pooled_real[-1])} FEFF10 spectra of {int((~pooled_real[-1].variants).sum())} real complexes "
                  f"and their moves ({root}: " + ", ".join(f"{e} {len(d)}" for e, d in real_sets.items())
                  + f"), each weighted {args.real_weight:g} in the map's fit")
        real = concatenate(pooled_real)
        real = dataclasses.replace(real, weights=np.full(len(real), args.real_weight))
        real_info = {"directory": args.real_label or " ".join(map(str, args.real_complexes)), "n_samples": len(real),
                     "n_complexes": int((~real.variants).sum()), "n_moved": int(real.variants.sum()),
                     "per_edge": per_edge, "weight": args.real_weight}
        data = concatenate([data, real])
    print(f"{len(data)} FEFF10 spectra of {len(set(data.parents))} parent complexes: "
          + ", ".join(f"{e} {len(d)}" for e, d in sets.items()))
    energy_rel = base.energy - base.energy[0] - 15.0
    prior, ridge, residual, tune = args.mean_prior, args.map_ridge, args.residual_kernel, args.fine_tune
    linear, edge_map = args.linear_member, args.edge_map_ridge
    if edge_map is not None and (tune in (None, "auto") or residual not in (None, "auto")
                                 or linear not in (None, "auto")):
        raise XanesvizError("--edge-map-ridge needs --fine-tune LR,EPOCHS[,PAIRS] and no residual or linear member")
    if edge_map is not None:
        residual = linear = None  # 'auto' would choose one, and a map per edge follows no residual member
    if residual not in (None, "auto") and linear is not None:
        if linear != "auto":
            print("a residual kernel member is asked for: no linear member (one residual member only)", file=sys.stderr)
        linear = None

    def pairs_for(ridge_) -> float:  # the data's own drags enter the full map's fit only
        return args.pair_weight if ridge_ not in (None, "auto") else 0.0

    def cv_median(prior_, ridge_, residual_=None, tune_=None, linear_=None, edge_map_=None) -> float:
        return transfer_cv_median(data, base.ensemble, energy_rel, prior_, ridge_, k=args.cv, seed=args.seed,
                                  residual=residual_, fine_tune=tune_, pair_weight=pairs_for(ridge_), linear=linear_,
                                  edge_map_ridge=edge_map_, edge_output=args.edge_output)

    cv, curve = None, []
    if args.cv:
        if prior is None:  # choose how far each edge's mean leans on all edges', by the same CV
            medians = {c: cv_median(c, None if ridge == "auto" else ridge) for c in PRIORS}
            prior = min(medians, key=medians.get)
            print("edge means shrunk toward the pooled mean, CV Δμ median by prior: "
                  + ", ".join(f"{c:g}: {v:.2f} %" for c, v in medians.items()) + f"; chosen {prior:g}")
        if ridge == "auto":  # per-energy factors or a full map, and how strongly held to them: by CV
            medians = {c: cv_median(prior, c) for c in MAP_RIDGES}
            ridge = min(medians, key=medians.get)
            print("output recalibration, CV Δμ median: " + ", ".join(
                f"{'per-energy factors' if c is None else f'full map, ridge {c:g}'}: {v:.2f} %"
                for c, v in medians.items()) + f"; chosen {'per-energy factors' if ridge is None else ridge}")
        if tune == "auto":  # train the recalibrated networks further on FEFF10, or not: by CV
            medians = {c: cv_median(prior, ridge, None, c) for c in FINE_TUNES}
            tune = min(medians, key=medians.get)
            print("fine-tuning the networks, CV Δμ median: " + ", ".join(
                f"{_describe_fine_tune(c)}: {v:.2f} %" for c, v in medians.items())
                + f"; chosen {_describe_fine_tune(tune)}")
        if residual == "auto":  # a kernel ridge member for what the recalibration misses, or none: by CV
            medians = {c: cv_median(prior, ridge, c, tune) for c in RESIDUAL_KERNELS}
            residual = min(medians, key=medians.get)
            print("residual kernel member, CV Δμ median: " + ", ".join(
                f"{_describe_residual(c)}: {v:.2f} %" for c, v in medians.items())
                + f"; chosen {_describe_residual(residual)}")
        if linear == "auto" and residual is None:  # a linear member for what the recalibration misses, or none
            medians = {c: cv_median(prior, ridge, None, tune, c) for c in LINEAR_MEMBERS}
            linear = min(medians, key=medians.get)
            print("linear member, CV Δμ median: " + ", ".join(
                f"{_describe_linear(c)}: {v:.2f} %" for c, v in medians.items()) + f"; chosen {_describe_linear(linear)}")
        if edge_map == "auto":  # a map per edge after the fine-tuned networks, or none: by CV
            medians = {c: cv_median(prior, ridge, None, tune, None, c) for c in EDGE_MAP_RIDGES}
            edge_map = min(medians, key=medians.get)
            print(f"a {args.edge_output} per edge, CV Δμ median: " + ", ".join(
                f"{'none' if c is None else f'ridge {c:g}'}: {v:.2f} %" for c, v in medians.items())
                + f"; chosen {'none' if edge_map is None else edge_map}")
    ridge = None if ridge == "auto" else ridge
    edge_map = None if edge_map == "auto" else edge_map
    residual = None if residual == "auto" else residual
    linear = None if linear == "auto" or residual is not None else linear
    tune = None if tune == "auto" else tune
    prior = 0.0 if prior is None else prior
    pair_weight = pairs_for(ridge)
    if args.pair_weight and not pair_weight:
        print("per-energy factors: the data's own drags are not used (--pair-weight needs the full map)", file=sys.stderr)
    fit = {"FDMNES transfer": lambda mask, seed: FdmnesTransfer.fit(data, base.ensemble, mask, prior, ridge,
                                                                    residual, tune, seed, pair_weight, linear,
                                                                    edge_map, args.edge_output)}
    spread_ratio = None
    if args.cv:
        cv = cross_validate_edges(data, fit, energy_rel, k=args.cv, seed=args.seed,
                                  leave_edge_out=not args.no_edge_left_out, spreads=True)
        spread_ratio = spread_limit_ratio(cv, data)
        print(f"trust badge: the {spread_ratio['n_complexes']} held-out complexes' network spread, over their fold "
              f"model's median for their edge, has its 99th percentile at {spread_ratio['ratio']:.2f}")
        for method, table in cv["scores"].items():
            for edge, kinds in table.items():
                if kinds["all"].get("n_spectra"):
                    print(f"CV {method}, {edge}: {format_summary(kinds['all'])}")
        cv["pair_fidelity"] = pair_fidelity(data, cv["predictions"]["FDMNES transfer"], energy_rel)
        if args.cv_predictions:
            try:
                np.savez_compressed(args.cv_predictions, stems=np.array(data.stems), edges=data.edges.astype(str),
                                    parents=data.parents.astype(str), variants=data.variants, true=data.y,
                                    energy_rel=energy_rel, **{name.replace(" ", "_").replace(",", ""): values
                                                              for name, values in cv["predictions"].items()},
                                    **{"spread_ratio_" + name.replace(" ", "_"): values
                                       for name, values in cv["spread_ratio"].items()})
                print(f"out-of-fold predictions: {args.cv_predictions}")
            except OSError as exc:  # the CV is done: say so and go on to the bundles
                print(f"could not write the out-of-fold predictions to {args.cv_predictions}: {exc}", file=sys.stderr)
        for edge, families in cv["pair_fidelity"].items():
            for family, row in families.items():
                r, ratio = (("-" if v is None else f"{v:.2f}") for v in (row["median_r"], row["median_norm_ratio"]))
                print(f"drag fidelity (variant against parent, out of fold), {edge}, {family}: {row['pairs']} pairs, "
                      f"median r {r}, norm ratio {ratio}, main peak the same way "
                      f"{row['main_peak_same_direction']} of {row['pairs']}")
        for fraction in args.learning_curve:
            point = cross_validate_edges(data, fit, energy_rel, k=args.cv, seed=args.seed, parent_fraction=fraction,
                                         leave_edge_out=False)
            scores = point["scores"]["FDMNES transfer"]
            curve.append({"parent_fraction": fraction,
                          "train_parents": round(fraction * (args.cv - 1) / args.cv * point["n_parents"], 1),
                          "delta_mu_median_pct": {e: round(k["all"]["delta_mu_median_pct"], 2)
                                                  for e, k in scores.items() if k["all"].get("n_spectra")}})
            print(f"learning curve, {curve[-1]['train_parents']} training parents a fold: "
                  f"{curve[-1]['delta_mu_median_pct']}")
    model = FdmnesTransfer.fit(data, base.ensemble, prior=prior, map_ridge=ridge, residual=residual, fine_tune=tune,
                               seed=args.seed, pair_weight=pair_weight, linear=linear, edge_map_ridge=edge_map,
                               edge_output=args.edge_output)
    drag = None
    if args.drag_fidelity:
        import json

        try:
            drag = json.loads(Path(args.drag_fidelity).read_text())
        except (OSError, ValueError) as exc:
            raise XanesvizError(f"{args.drag_fidelity}: not a readable drag-fidelity JSON file ({exc})") from None
    for path in write_edge_bundles(model, data, base, args.output, cv=cv, learning_curve=curve, drag_fidelity=drag,
                                   data_label=args.data_label or str(args.data_root), mean_prior=prior,
                                   map_ridge=ridge, real_complexes=real_info if real is not None else None,
                                   spread_ratio=spread_ratio):
        print(f"saved {path}")
    return 0


def cmd_models(args) -> int:
    from .catalogue import model_for, shipped_models

    models = shipped_models()
    for model in models:
        default = f" [default for {model.element}]" if model_for(model.element, model.edge) == model else ""
        print(f"{model.element} {model.edge}  {model.name:24s} {model.spectra}{default}  {model.path}")
        if model.figures:
            print(f"      {model.figures}")
    if not models:
        print("no models found", file=sys.stderr)
    return 0 if models else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xanesviz", description="Predict K-edge XANES from local geometry (wACSF + MLP).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="predict spectra of structure files into one CSV",
                       description="Predict the K-edge XANES of each FILE; write one CSV (energy_eV, one column per file).")
    p.add_argument("files", nargs="+", metavar="FILE", help="structure files (any ase.io format, XANESNET xyz)")
    p.add_argument("--model", help="model bundle directory (default: the shipped model for each structure's "
                                   "absorber, e.g. pretrained/fe-k for Fe; see 'xanesviz models')")
    p.add_argument("-o", "--output", help="CSV to write (default: standard output)")
    p.add_argument("--absorber", help="absorber atom index or element symbol (default: the structure's one Ti-Zn "
                                      "metal; with --model, the first atom of the model's element)")
    p.add_argument("--std", action="store_true", help="add <stem>_std columns (ensemble standard deviation)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("models", help="list the shipped models and the edge each predicts",
                       description="List the shipped model bundles: element and edge, name, training data, "
                                   "which is the default for its element, and where it is; below each, its "
                                   "cross-validated Δμ and how closely it follows FEFF10 when a structure is moved.")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("train", help="train a model bundle on a data directory",
                       description="Train on DATA_DIR (xyz/ + spectra/) and save a model bundle in MODEL_DIR.")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("-o", "--output", required=True, metavar="MODEL_DIR")
    p.add_argument("--recipe", help="training recipe (default: the shipped Fe model's, xanesviz-fe-k-zeta32; "
                                    "xanesnet-2022 reproduces the paper)")
    p.add_argument("--ensemble", type=int, help="number of networks (default: the recipe's)")
    p.add_argument("--epochs", type=int, help="epochs (default: the recipe's)")
    p.add_argument("--training-precision", choices=["float32", "bfloat16"],
                   help="arithmetic of the training steps' matrix products (default: the recipe's); bfloat16 is "
                        "faster only on CPUs with AVX512_BF16 or AMX, and the model predicts in float32 either way")
    p.add_argument("--cv", type=int, metavar="K", help="also run K-fold CV first and store its metrics in the model card")
    p.add_argument("--group", choices=GROUPINGS,
                   help="--cv folds: formula keeps each chemical formula (stem REFCODE_FORMULA) in one fold, none is "
                        "plain shuffled K-fold (default: formula when every stem is REFCODE_FORMULA)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", help="model name for the card (default: the directory name)")
    p.add_argument("--skip-importance", action="store_true", help="do not compute permutation importance")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("train-edges", help="a model for each of the nine K edges from FEFF10 data sets",
                       description="Fit the FEFF10 edge models on DATA_ROOT/{metal}-k/ (made by simulate): the "
                                   "networks of --networks recalibrated to FEFF10 over all edges, each edge on "
                                   "its mean spectrum; writes OUT/{metal}-k-feff/ for Ti to Zn.")
    p.add_argument("data_root", metavar="DATA_ROOT", nargs="?", default="data/feff")
    p.add_argument("-o", "--output", default="pretrained", metavar="OUT", help="default: pretrained")
    p.add_argument("--networks", default="pretrained/fe-k", help="the bundle whose networks are recalibrated "
                                                                 "(must be in OUT; default pretrained/fe-k)")
    p.add_argument("--cv", type=int, metavar="K", help="K-fold CV grouped by parent complex first (figures go on the cards)")
    p.add_argument("--learning-curve", type=float, nargs="*", default=[], metavar="FRACTION",
                   help="with --cv: also CV on these shares of each fold's training parents (e.g. 0.25 0.5 0.75)")
    p.add_argument("--data-label", help="how the cards name the data (default: DATA_ROOT as given)")
    p.add_argument("--mean-prior", type=float, metavar="N",
                   help="shrink each edge's mean spectrum toward the pooled one as if that were N more spectra "
                        "(default: chosen by the --cv among 0, 4, 10, 25; 0 without --cv)")
    p.add_argument("--map-ridge", type=_map_ridge, default="auto", metavar="R|none|auto",
                   help="recalibrate the networks' output by a full energy-by-energy map, ridge regression of "
                        "strength R held toward per-energy factors; 'none': per-energy factors only; 'auto' "
                        "(default): chosen by the --cv among none, 1, 3, 10, 30 (none without --cv)")
    p.add_argument("--pair-weight", type=_pair_weight, default=1.0, metavar="W",
                   help="with the full map: also fit it to the data's own drags (each displaced structure's "
                        "spectrum minus its parent's), weighted W times the spectra (default 1: it follows drags "
                        "of held-out complexes better at about 0.2 points of CV Δμ, docs/models.md; 0: spectra only)")
    p.add_argument("--residual-kernel", type=_residual_kernel, default="none", metavar="G,ALPHA|none|auto",
                   help="add a kernel ridge member (RBF, gamma G / inputs, ridge ALPHA) on the descriptor that "
                        "learns what the recalibrated networks miss; 'none' (default: it lowers the CV error a "
                        "little but follows drags less well, docs/models.md); 'auto': chosen by the --cv among "
                        "none, 0.3,1, 0.3,3, 1,1, 1,3 (none without --cv)")
    p.add_argument("--linear-member", type=_linear_member, default="none", metavar="PAIRS,ALPHA|none|auto",
                   help="add a member linear in the descriptor, a ridge regression (strength ALPHA) of what the "
                        "recalibrated networks miss in the spectra and, weighted PAIRS, in the data's own drags; "
                        "'none' (default: it lowers the CV error by about half a point but follows drags of "
                        "held-out complexes less well, docs/models.md); 'auto': chosen by the --cv among none, "
                        "0.3,0.3, 0.3,1, 0.3,3 (none without --cv); not with a residual kernel member")
    p.add_argument("--fine-tune", type=_fine_tune, default="none", metavar="LR,EPOCHS[,PAIRS]|none|auto",
                   help="after the recalibration, train every layer of the networks further on all edges' FEFF10 "
                        "spectra (Adam at learning rate LR for EPOCHS epochs; with PAIRS > 0 also on the data's own "
                        "drags, each displaced variant's change of spectrum against its parent, weighted PAIRS; the "
                        "networks are then stored once, in the Fe bundle); 'none' (default; trained on derived structures "
                        "alone, fine-tuned networks follow real complexes' drags less well, with --real-complexes "
                        "better: the shipped models use 1e-4,15,3, docs/models.md); 'auto': chosen by "
                        "the --cv among none and 1e-4,100 (none without --cv)")
    p.add_argument("--edge-map-ridge", type=_map_ridge, default=None, metavar="A|none|auto",
                   help="after the fine-tuning, map each edge's share of the shared networks' output by its own "
                        "energy-by-energy map, ridge regression of strength A held toward the identity, fitted on "
                        "that edge's spectra (the descriptor does not see the absorber: without it every metal "
                        "gets the same change of spectrum for one move); 'none' (default); 'auto': chosen by the "
                        "--cv among none, 0.3, 1, 3, 10; needs --fine-tune LR,EPOCHS and no residual member "
                        "(with --edge-output layer, the shipped models use 0.3, docs/models.md)")
    p.add_argument("--edge-output", choices=("map", "layer"), default="map",
                   help="what each edge gets of its own with --edge-map-ridge: 'map' (default), a map of the shared "
                        "networks' output; 'layer', its own last layer of the networks, read from their last hidden "
                        "units (grouped CV Δμ 3.70 %% against the map's 4.21 %%, docs/models.md; the shipped models)")
    p.add_argument("--real-complexes", metavar="ROOT", nargs="+",
                   help="also real complexes and their moves, ROOT/{metal}-k/ (scripts/real_fe_set.py, "
                        "scripts/literature_set.py; several roots may be given), in the map's fit and the CV, "
                        "each spectrum and drag weighted --real-weight")
    p.add_argument("--no-edge-left-out", action="store_true",
                   help="with --cv: leave out the models fitted without each held-out edge (their cards' 'edge left "
                        "out' figures; one fit a fold instead of ten)")
    p.add_argument("--cv-predictions", metavar="FILE",
                   help="with --cv: write every spectrum's out-of-fold predictions (and its stem, edge, parent, "
                        "FEFF10 spectrum and network spread over its fold model's training median) to FILE (.npz)")
    p.add_argument("--real-weight", type=_pair_weight, default=3.0, metavar="K",
                   help="the weight of each real complex's spectrum and drag in the map's fit and in any "
                        "fine-tuning (default 3: on held-out real complexes most of the gain of 10 or 30 at half the "
                        "cost of 10 on the other edges' derived structures, docs/models.md)")
    p.add_argument("--real-label", help="how the cards name the real complexes' directory (default: ROOT)")
    p.add_argument("--drag-fidelity", metavar="FILE", help="a drag-fidelity table (benchmarks/drag_fidelity.py "
                                                            "--json) of this method, to put on every card")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_edges)

    p = sub.add_parser("evaluate", help="score a model (or a recipe by K-fold CV) on a data directory",
                       description="Per-spectrum errors, their median and quartiles, and peak-position statistics.")
    p.add_argument("data_dir", metavar="DATA_DIR")
    p.add_argument("--model", help="model bundle directory (default: the shipped one)")
    p.add_argument("--kfold", type=int, metavar="K", help="cross-validate the model's recipe with K folds instead")
    p.add_argument("--repeats", type=int, default=1, help="repeats of the K-fold split")
    p.add_argument("--group", choices=GROUPINGS, default="none",
                   help="formula: each chemical formula (stem REFCODE_FORMULA) in one fold, so no complex is tested "
                        "on a training twin of the same formula (implies --kfold 5 if no K is given); "
                        "default none: plain shuffled K-fold")
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

    from .derive import METALS

    p = sub.add_parser("derive", help="derive complexes of other metals (and displaced variants) from Fe complexes",
                       description="Replace the metal of Fe complexes, move each ligand rigidly to the new metal's "
                                   "bond lengths, add displaced variants, and write one folder of xyz files per "
                                   "metal (order.txt: generation order). Packed .extxyz.gz files are unpacked instead.")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="Fe data directory (with xyz/), or packed .extxyz.gz files")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="writes OUT_DIR/{metal}/")
    p.add_argument("--metals", nargs="+", default=list(METALS), help=f"default: {' '.join(METALS)} (the generation order)")
    p.add_argument("--parents", type=int, default=400, help="parent complexes per metal (default 400)")
    p.add_argument("--variants-per-parent", type=int, default=1, help="displaced variants per parent (default 1)")
    p.add_argument("--atoms-within-6", nargs=2, type=int, default=[40, 60], metavar=("MIN", "MAX"),
                   help="atoms within 6 Å a parent may have (default 40 60)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pack", metavar="DIR", help="also write DIR/{metal}.extxyz.gz (all structures, generation order)")
    p.set_defaults(func=cmd_derive)
    _add_measured_commands(sub)
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
