"""Drag fidelity: does the model's spectrum change the way FEFF10's does when a user drags atoms?

For N Fe complexes and the displacement families a drag makes (the nearest donor stretched +0.05, ±0.1 and ±0.2 Å
along its bond, that donor bent 5° or 10° about the absorber, one ligand (a monodentate one where there is one)
pulled away rigidly by 0.5 Å, every first-shell donor moved radially by ±0.05 Å; donors: atoms
heavier than H within 0.4 Å of the nearest one's distance),
writes each displaced structure, computes FEFF10 spectra of the complexes and of every
displaced structure with ``xanesviz.simulate`` (resumable: ``OUT/feff-<settings>/``; rerun to
finish or to add complexes), and compares the model's Δμ (displaced − original) with FEFF's:

- alignment: one per complex, from its original structure: FEFF's spectrum is shifted and
  scaled onto the model's prediction (``xanesviz.feff.align_to``: the shift of best correlation,
  then a least-squares scale), and the same shift and scale are applied to the displaced
  structure's FEFF spectrum. Each method's Δμ is taken on its own energy scale, so a move of
  the edge is kept, and FEFF's energy zero and intensity scale, which differ from those of the
  FDMNES spectra the model learned, are mapped once per complex, not fitted per displacement;
- r: Pearson correlation of the two Δμ; norm ratio: |Δμ model| / |Δμ FEFF|;
- peak direction: the main peak above the edge (the largest maximum above E0 + 5 eV) moves the
  same way (both up, both down, or both by less than 0.2 eV);
- how far each side moved: the model's input (the norm of the change of its standardised
  descriptor) and FEFF10's spectrum (|Δμ| over |μ − its mean|, aligned), so that a family the
  descriptor barely sees stands out from one the networks respond to wrongly.

The complexes must not be in the model's training set for an honest figure: ``--model`` takes a
bundle trained without them (e.g. on a CV fold's training set); the shipped model was trained on
all 4079 complexes, so with it the figures are in-sample for the original structures (the
displaced ones are new to it either way), and the script says so.

    python benchmarks/drag_fidelity.py --n 20 --workers 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import data_dir_or_exit  # noqa: E402
from feff_settings import cpu_model, pick  # noqa: E402

from xanesviz.data import read_spectrum_file  # noqa: E402
from xanesviz.feff import align_to  # noqa: E402
from xanesviz.simulate import read_manifest, simulate  # noqa: E402
from xanesviz.spectrum import Spectrum  # noqa: E402
from xanesviz.structure import read_structure  # noqa: E402

FAMILIES = {"stretch+0.05": ("stretch", 0.05), "stretch+0.1": ("stretch", 0.1), "stretch-0.1": ("stretch", -0.1),
            "stretch+0.2": ("stretch", 0.2), "stretch-0.2": ("stretch", -0.2),
            "bend10": ("bend", 10.0), "bend5": ("bend", 5.0), "pull0.5": ("pull", 0.5),
            "breathe+0.05": ("breathe", 0.05), "breathe-0.05": ("breathe", -0.05)}


def ligands(atoms, absorber: int = 0) -> list[np.ndarray]:
    """Indices of each ligand: connected groups of atoms (ASE's natural cutoffs) without the absorber."""
    from ase.neighborlist import NeighborList, natural_cutoffs
    from scipy.sparse.csgraph import connected_components

    others = np.array([i for i in range(len(atoms)) if i != absorber])
    sub = atoms[others]
    nl = NeighborList(natural_cutoffs(sub), self_interaction=False, bothways=True)
    nl.update(sub)
    _, labels = connected_components(nl.get_connectivity_matrix(sparse=True), directed=False)
    return [others[labels == k] for k in range(labels.max() + 1)]


def first_shell(atoms, absorber: int = 0, tolerance: float = 0.4) -> np.ndarray:
    """Donor atoms: heavier than H, within ``tolerance`` Å of the nearest such atom's distance."""
    d = np.linalg.norm(atoms.positions - atoms.positions[absorber], axis=1)
    d[absorber] = np.inf
    heavy = atoms.numbers > 1
    d_min = d[heavy].min()
    return np.flatnonzero(heavy & (d <= d_min + tolerance))


def displace(atoms, family: str, amount: float, absorber: int = 0):
    """A copy of ``atoms`` displaced the way a drag would: see FAMILIES."""
    out = atoms.copy()
    origin = atoms.positions[absorber]
    donors = first_shell(atoms, absorber)
    nearest = donors[np.argmin(np.linalg.norm(atoms.positions[donors] - origin, axis=1))]
    unit = (atoms.positions[nearest] - origin) / np.linalg.norm(atoms.positions[nearest] - origin)
    if family == "stretch":  # the nearest donor alone moves along its bond
        out.positions[nearest] += amount * unit
    elif family == "bend":  # the nearest donor rotates about the absorber by `amount` degrees
        helper = np.array([1.0, 0, 0]) if abs(unit[0]) < 0.9 else np.array([0, 1.0, 0])
        axis = np.cross(unit, helper)
        axis /= np.linalg.norm(axis)
        angle = np.radians(amount)
        v = atoms.positions[nearest] - origin
        rotated = v * np.cos(angle) + np.cross(axis, v) * np.sin(angle) + axis * (axis @ v) * (1 - np.cos(angle))
        out.positions[nearest] = origin + rotated
    elif family == "pull":  # a ligand moves rigidly away along its donor's bond: a monodentate one if any
        groups = ligands(atoms, absorber)
        single = [(g, [i for i in donors if i in g]) for g in groups]
        single = [(g, mine[0]) for g, mine in single if len(mine) == 1]
        if single:
            group, donor = min(single, key=lambda item: np.linalg.norm(atoms.positions[item[1]] - origin))
        else:
            group, donor = next(g for g in groups if nearest in g), nearest
        direction = atoms.positions[donor] - origin
        out.positions[group] += amount * direction / np.linalg.norm(direction)
    elif family == "breathe":  # every first-shell donor moves radially (the rest of its ligand stays)
        for i in donors:
            direction = atoms.positions[i] - origin
            out.positions[i] += amount * direction / np.linalg.norm(direction)
    else:
        raise ValueError(family)
    return out


def main_peak(energy: np.ndarray, mu: np.ndarray, e0: float) -> float:
    above = energy > e0 + 5.0
    return float(energy[above][np.argmax(mu[above])])


def write_xyz(path: Path, atoms) -> None:
    lines = [str(len(atoms)), path.stem] + [f"{z} {x:.6f} {y:.6f} {w:.6f}" for z, (x, y, w)
                                             in zip(atoms.numbers, atoms.positions)]
    path.write_text("\n".join(lines) + "\n")


def held_out(data: Path, n: int, seed: int, exclude=()) -> list[Path]:
    """``n`` complexes of fold 0 of the formula-grouped 5-fold split (seed 0: the fold that
    ``refine_recovery.py``'s model is trained without) with 35–50 atoms within 6 Å of Fe, none a
    parent of the FEFF10 data's structures (``data/structures``) nor in ``exclude``, drawn with
    ``seed``."""
    from ase.io import read

    from xanesviz.data import list_stems
    from xanesviz.derived_set import atoms_within
    from xanesviz.splits import fold_numbers, formula_groups

    stems = list_stems(data)
    fold = fold_numbers(5, len(stems), 0, formula_groups(stems))
    structures = Path(__file__).resolve().parents[1] / "data" / "structures" / "fe.extxyz.gz"
    parents = {atoms.info.get("parent") for atoms in read(structures, index=":")}
    candidates = [s for s, f in zip(stems, fold) if f == 0 and s not in parents and s not in set(exclude)
                  and 35 <= atoms_within(read_structure(data / "xyz" / f"{s}.xyz")) <= 50]
    order = np.random.default_rng(seed).permutation(len(candidates))
    return [data / "xyz" / f"{candidates[i]}.xyz" for i in sorted(order[:n])]


def self_consistency(responses: dict, families: list[str]) -> dict:
    """For every two families of one kind (see FAMILIES) with different amounts: per complex the
    Pearson r of their FEFF10 Δμ and of their model Δμ (the second negated when the amounts'
    signs differ); medians over the complexes that have both."""
    out = {}
    for i, a in enumerate(families):
        for b in families[i + 1:]:
            (kind_a, amount_a), (kind_b, amount_b) = FAMILIES[a], FAMILIES[b]
            if kind_a != kind_b:
                continue
            sign = float(np.sign(amount_a * amount_b))
            rs = {"feff": [], "model": []}
            for stem in sorted({s for s, _ in responses}):
                if (stem, a) not in responses or (stem, b) not in responses:
                    continue
                for k, name in enumerate(("model", "feff")):
                    x, y = responses[stem, a][k], sign * responses[stem, b][k]
                    rs[name].append(float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else np.nan)
            if rs["feff"]:
                out[f"{a} / {b}"] = {"complexes": len(rs["feff"]),
                                     "feff_median_r": round(float(np.nanmedian(rs["feff"])), 3),
                                     "model_median_r": round(float(np.nanmedian(rs["model"])), 3)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="Fe complexes (default 20)")
    parser.add_argument("--stems", nargs="+", help="these complexes instead of a random draw of N")
    parser.add_argument("--held-out", type=int, metavar="N",
                        help="N complexes drawn (--seed) from fold 0 of the formula-grouped split, 35-50 atoms "
                             "within 6 A of Fe, none a parent of data/structures, instead of a random draw")
    parser.add_argument("--exclude", nargs="*", default=[], metavar="STEM", help="with --held-out: not these")
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--model", help="model bundle (default: the shipped pretrained/fe-k)")
    parser.add_argument("--settings", default="reference", help="FEFF10 settings (reference; 'fast' only to smoke-test)")
    parser.add_argument("--out", default="runs/drag-fidelity")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--scheduler")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", help="the Fe data set (default ../shared/data/fe-k-xanes)")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON (for a model card: "
                                                       "xanesviz train-edges --drag-fidelity FILE)")
    parser.add_argument("--card", action="store_true", help="also put the table on --model's card (model_card.json, "
                                                            "'drag_fidelity'), where 'xanesviz models' shows it")
    args = parser.parse_args(argv)
    if args.card and not args.model:
        parser.error("--card needs --model (the bundle whose card takes the table)")
    data = data_dir_or_exit(args.data)
    if args.stems:
        files = [data / "xyz" / f"{s}.xyz" for s in args.stems]
    elif args.held_out:
        files = held_out(data, args.held_out, args.seed, args.exclude)
        print("held-out complexes: " + " ".join(f.stem for f in files))
    else:
        files = pick(args.n, args.seed)
    out = Path(args.out)
    structures = out / "structures"
    structures.mkdir(parents=True, exist_ok=True)
    for file in files:
        atoms = read_structure(file)
        write_xyz(structures / f"{file.stem}.xyz", atoms)
        for family in args.families:
            kind, amount = FAMILIES[family]
            write_xyz(structures / f"{file.stem}@{family}.xyz", displace(atoms, kind, amount))
    feff_dir = out / f"feff-{args.settings}"
    simulate([structures / f"{f.stem}{suffix}.xyz" for f in files for suffix in [""] + [f"@{k}" for k in args.families]],
             feff_dir, settings=args.settings, workers=args.workers, scheduler=args.scheduler)

    from xanesviz.predictor import Predictor

    predictor = Predictor.load(args.model)
    grid = predictor.energy
    in_sample = args.model is None
    rows = {family: [] for family in args.families}
    responses: dict = {}  # (complex, family) -> (model's Δμ, FEFF10's Δμ)
    unmoved: list = []  # (model's spectrum, FEFF10's on the model's grid) of each complex as it is
    done = {r["stem"] for r in read_manifest(feff_dir) if r["status"] == "ok"}
    for file in files:
        if file.stem not in done:
            continue
        atoms = read_structure(structures / f"{file.stem}.xyz")
        base_pred = predictor.predict(atoms).mu
        base_z = predictor.ensemble.standardise(np.atleast_2d(predictor.features(atoms)))[0]
        e, mu = read_spectrum_file(feff_dir / "spectra" / f"{file.stem}.txt")
        unmoved.append((base_pred, read_spectrum_file(feff_dir / "spectra" / f"{file.stem}.txt", grid)[1]))
        shift, scale, base_feff = align_to(Spectrum(e, mu), Spectrum(grid, base_pred))
        for family in args.families:
            stem = f"{file.stem}@{family}"
            if stem not in done:
                continue
            moved = read_structure(structures / f"{stem}.xyz")
            pred = predictor.predict(moved).mu
            # how far the model's input moved (standardised descriptor), and FEFF's spectrum (relative)
            input_move = float(np.linalg.norm(predictor.ensemble.standardise(np.atleast_2d(predictor.features(moved)))[0]
                                              - base_z))
            e2, mu2 = read_spectrum_file(feff_dir / "spectra" / f"{stem}.txt")
            feff = scale * np.interp(grid - shift, e2, mu2)
            d_model, d_feff = pred - base_pred, feff - base_feff.mu
            r = float(np.corrcoef(d_model, d_feff)[0, 1]) if d_model.std() > 0 and d_feff.std() > 0 else np.nan
            ratio = float(np.linalg.norm(d_model) / np.linalg.norm(d_feff)) if np.any(d_feff) else np.nan
            e0 = float(grid[0] + 15.0)
            move_model = main_peak(grid, pred, e0) - main_peak(grid, base_pred, e0)
            move_feff = main_peak(grid, feff, e0) - main_peak(grid, base_feff.mu, e0)
            same = np.sign(move_model) * (abs(move_model) >= 0.2) == np.sign(move_feff) * (abs(move_feff) >= 0.2)
            feff_move = float(np.linalg.norm(d_feff) / np.linalg.norm(base_feff.mu - base_feff.mu.mean()))
            rows[family].append((r, ratio, bool(same), input_move, feff_move))
            responses[file.stem, family] = (d_model, d_feff)
    print(f"\nDrag fidelity of {'the shipped model' if in_sample else args.model}, FEFF10 settings "
          f"'{args.settings}', {len(files)} Fe complexes; {cpu_model()}")
    if in_sample:
        print("(the shipped model was trained on every complex here: the original structures are in-sample)")
    print("| family | pairs | median r of Δμ | median norm ratio (model/FEFF) | main peak moves the same way "
          "| model input moved (standardised descriptor, median norm) | FEFF10 spectrum moved (median \\|Δμ\\| / \\|μ - mean\\|) |")
    print("|---|---|---|---|---|---|---|")
    table = {}
    for family, values in rows.items():
        if not values:
            print(f"| {family} | 0 | – | – | – | – | – |")
            continue
        r, ratio, same, input_move, feff_move = (np.array(v, float) for v in zip(*values))
        print(f"| {family} | {len(values)} | {np.nanmedian(r):.2f} | {np.nanmedian(ratio):.2f} | "
              f"{int(same.sum())} of {len(values)} | {np.median(input_move):.2f} | {np.median(feff_move):.3f} |")
        table[family] = {"pairs": len(values), "median_r": round(float(np.nanmedian(r)), 3),
                         "median_norm_ratio": round(float(np.nanmedian(ratio)), 3),
                         "main_peak_same_direction": int(same.sum()),
                         "median_input_move": round(float(np.median(input_move)), 3),
                         "median_feff_move": round(float(np.median(feff_move)), 4)}
    accuracy = None
    if unmoved and "FEFF10" in str(predictor.card.get("training_data", {}).get("method", "")):
        from xanesviz.evaluation import summarise

        predicted, feff_mu = (np.array(v) for v in zip(*unmoved))
        accuracy = summarise(grid - grid[0] - 15.0, predicted, feff_mu)
        print(f"\nThe {len(unmoved)} complexes as they are, the model's spectrum against FEFF10's (same absolute "
              f"grid, no alignment): Δμ median {accuracy['delta_mu_median_pct']:.2f} % (quartiles "
              f"{accuracy['delta_mu_q1_pct']:.2f}-{accuracy['delta_mu_q3_pct']:.2f} %)")
    consistency = self_consistency(responses, args.families)
    if consistency:
        print("\nEach method against itself: Δμ of one family against Δμ of another of the same kind, same complex "
              "(negated where the amounts have opposite signs)")
        print("| families | complexes | FEFF10 against FEFF10, median r | model against model, median r |")
        print("|---|---|---|---|")
        for key, row in consistency.items():
            print(f"| {key} | {row['complexes']} | {row['feff_median_r']:.2f} | {row['model_median_r']:.2f} |")
    if args.json or args.card:
        import json
        import time

        record = {"benchmark": "benchmarks/drag_fidelity.py", "command": " ".join(sys.argv[1:]),
                  "model": args.model or "pretrained/fe-k (in-sample)", "feff_settings": args.settings,
                  "complexes": [f.stem for f in files], "machine": cpu_model(),
                  "date": time.strftime("%Y-%m-%d"), "families": table, "self_consistency": consistency,
                  "unmoved_delta_mu_median_pct": None if accuracy is None else
                  round(accuracy["delta_mu_median_pct"], 3)}
        if args.json:
            Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
            print(f"wrote {args.json}")
        if args.card:
            card_path = Path(args.model) / "model_card.json"
            card = json.loads(card_path.read_text())
            card["drag_fidelity"] = record
            card_path.write_text(json.dumps(card, indent=2) + "\n")
            print(f"put the table on {card_path}")
    return 0


if __name__ == "__main__":
    from xanesviz.errors import XanesvizError

    try:
        sys.exit(main())
    except XanesvizError as exc:  # e.g. another run is computing into OUT: one line, not a traceback
        sys.exit(f"drag_fidelity: {exc}")
