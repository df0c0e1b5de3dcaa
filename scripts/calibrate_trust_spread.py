"""Give fitted FEFF10 edge models the trust badge's spread limit, from a CV run of their recipe.

    python scripts/calibrate_trust_spread.py --ratio-from RUN --fitted-at COMMIT \
        [--models pretrained] [--data data/feff] [--real-complexes data/feff-real] [--write]

``xanesviz train-edges ... --cv K`` now writes each edge's spread limit itself
(``trust_spread_limit`` in the card: the CV's limit ratio times the model's median spread over
its training complexes). Models fitted before that have none; this script gives them one without
refitting: the ratio from the cards of a ``train-edges --cv`` run of the same recipe (RUN, its
output folder; ``--no-edge-left-out`` suffices), and each model's own median spread over the
unmoved complexes it learned from, those of ``--data`` at commit ``--fitted-at`` (the commit whose
data the models were fitted on) and, for the edges they hold, all unmoved complexes of
``--real-complexes``. Without ``--write`` it prints the limits; with it, stores them in the cards.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xanesviz.derived_set import variant_of  # noqa: E402
from xanesviz.edges import EDGE_METALS, bundle_name, read_edges, spread_limit_card  # noqa: E402
from xanesviz.errors import XanesvizError  # noqa: E402


def stems_at(commit: str, data: Path) -> set[str]:
    """The spectra's stems under ``data`` at ``commit`` (git)."""
    try:
        relative = data.resolve().relative_to(REPO)
    except ValueError:
        raise XanesvizError(f"{data}: not inside the repository, so git has no record of it") from None
    try:
        listing = subprocess.run(["git", "-C", str(REPO), "ls-tree", "-r", "--name-only", commit, str(relative)],
                                 check=True, capture_output=True, text=True).stdout
    except subprocess.CalledProcessError as exc:
        raise XanesvizError(f"git cannot list {relative} at {commit}: {exc.stderr.strip()}") from None
    return {Path(line.removesuffix(".gz")).stem for line in listing.splitlines()
            if "/spectra/" in line and line.endswith((".txt", ".txt.gz"))}


def run_ratio(run: Path) -> dict:
    """The limit ratio a ``train-edges --cv`` run wrote into its cards (the same in every card)."""
    ratios = [json.loads(card.read_text()).get("trust_spread_limit") for card in sorted(run.glob("*-k-feff/model_card.json"))]
    ratios = [r for r in ratios if r]
    if not ratios:
        raise XanesvizError(f"{run}: no card with a trust_spread_limit (run train-edges with --cv there)")
    return {"ratio": ratios[0]["ratio"], "quantile": ratios[0]["quantile"], "n_complexes": ratios[0]["n_held_out_complexes"]}


def training_complexes(data: Path, fitted: set[str], real: Path | None) -> dict[str, list]:
    """Per edge, the unmoved structures the models learned from."""
    chosen: dict[str, list] = {}
    for element, dataset in read_edges(data).items():
        chosen[element] = [atoms for stem, atoms in zip(dataset.names, dataset.structures)
                           if stem in fitted and variant_of(stem) is None]
    for element, dataset in (read_edges(real).items() if real else ()):
        chosen.setdefault(element, []).extend(atoms for stem, atoms in zip(dataset.names, dataset.structures)
                                              if variant_of(stem) is None)
    return chosen


def median_spread(predictor, structures, element: str) -> float:
    """The median of the ensemble spread (% of the spectrum's mean) as the badge reports it."""
    X = predictor.descriptor.transform(structures, absorber=element)
    mean, std = predictor.predict_arrays(X)
    return float(np.median(100.0 * std.mean(axis=1) / np.maximum(np.abs(mean).mean(axis=1), 1e-12)))


def main(argv=None) -> int:
    from xanesviz.predictor import Predictor

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ratio-from", required=True, type=Path, metavar="RUN",
                        help="output folder of a 'train-edges --cv' run of the models' recipe")
    parser.add_argument("--fitted-at", required=True, metavar="COMMIT",
                        help="the commit whose --data the models learned from")
    parser.add_argument("--models", type=Path, default=REPO / "pretrained")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "feff")
    parser.add_argument("--real-complexes", type=Path, help="the real complexes the models also learned from")
    parser.add_argument("--write", action="store_true", help="store each edge's limit in its model card")
    args = parser.parse_args(argv)

    ratio = run_ratio(args.ratio_from)
    fitted = stems_at(args.fitted_at, args.data)
    if not fitted:
        raise XanesvizError(f"no spectra under {args.data} at {args.fitted_at}")
    complexes = training_complexes(args.data, fitted, args.real_complexes)
    print(f"limit ratio {ratio['ratio']:.2f} ({ratio['quantile']:g}th percentile over {ratio['n_complexes']} held-out "
          f"complexes, {args.ratio_from})")
    print("| edge | training complexes | median spread, % | limit, % |\n|---|---|---|---|")
    for element in EDGE_METALS:
        folder = args.models / bundle_name(element)
        if not complexes.get(element) or not folder.is_dir():
            continue
        median = median_spread(Predictor.load(folder), complexes[element], element)
        entry = spread_limit_card(ratio, median, command=f"python scripts/calibrate_trust_spread.py --ratio-from "
                                  f"{args.ratio_from} --fitted-at {args.fitted_at}"
                                  + (f" --real-complexes {args.real_complexes}" if args.real_complexes else "")
                                  + " --write")
        print(f"| {element} | {len(complexes[element])} | {median:.2f} | {entry['limit_pct']:.2f} |")
        if args.write:
            card = json.loads((folder / "model_card.json").read_text())
            card["trust_spread_limit"] = entry
            (folder / "model_card.json").write_text(json.dumps(card, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (XanesvizError, OSError) as exc:
        sys.exit(f"calibrate_trust_spread.py: {exc}")
