"""The shipped edge models against FEFF10 on textbook Ti–Zn complexes none of their data derives from.

    python benchmarks/literature_complexes.py [--data data/feff-literature] [--json OUT]
    python benchmarks/literature_complexes.py --data data/feff-architector   # the Architector-built set

``scripts/literature_set.py`` builds 50 well-known complexes from literature geometries
(tetrahedral chlorides and oxoanions, hexaaqua and hexaammine ions, carbonyls, cyanides, a
vanadyl, square-planar Ni and Cu) and computes their FEFF10 spectra with the reference settings.
The edge models learned from complexes derived from Fe ones; this is how they do on geometries of
the metals' own. Per complex: Δμ of the shipped model of its edge (``pretrained/<metal>-k-feff``)
and of the edge's mean FEFF10 spectrum of ``data/feff`` (what the networks must beat), the peaks
found, and the trust badge's label; per edge and overall, medians, beside each card's CV median;
and, over the complexes' single-atom moves (``scripts/atom_moves.py data/feff-literature``), how the
model's Δμ follows FEFF10's. With ``--cv-predictions`` the same figures for a refit that learned
from the set, each complex predicted by the CV fold that held its kind out (for every metal).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _machine import machine_line  # noqa: E402

from xanesviz.derived_set import parent_of, variant_of  # noqa: E402
from xanesviz.edges import EDGE_METALS, read_edges  # noqa: E402
from xanesviz.evaluation import delta_mu, peak_counts  # noqa: E402
from xanesviz.feff import edge_grid  # noqa: E402


def predict_shipped(data: Path, models: Path, training: Path) -> dict:
    """Every spectrum of ``data`` (complexes and their moves) predicted by the shipped model of its
    edge, with the edge's mean FEFF10 spectrum of ``training`` and the trust badge's label."""
    from xanesviz.predictor import Predictor

    sets = read_edges(data)
    train_sets = read_edges(training, elements=list(sets))
    out = {key: [] for key in ("stems", "edges", "true", "model", "edge_mean", "trust", "trust_distance", "spread")}
    for metal, dataset in sets.items():
        predictor = Predictor.load(models / f"{metal.lower()}-k-feff")
        edge_mean = train_sets[metal].spectra.mean(axis=0)
        for stem, atoms, true in zip(dataset.names, dataset.structures, dataset.spectra):
            spectrum = predictor.predict(atoms)
            moved = variant_of(stem) is not None
            score = {} if moved else predictor.domain_score(atoms, prediction=spectrum)
            out["trust"].append(score.get("label"))
            out["trust_distance"].append(score.get("distance"))
            out["spread"].append(score.get("ensemble_spread_pct"))
            for key, value in (("stems", stem), ("edges", metal), ("true", true), ("model", spectrum.mu),
                               ("edge_mean", edge_mean)):
                out[key].append(value)
    lists = ("stems", "trust", "trust_distance", "spread")
    return {key: np.array(value) if key not in lists else value for key, value in out.items()}


def from_cv_predictions(path: Path, data: Path, others: bool = False) -> dict:
    """The rows of ``data``'s spectra in ``train-edges --cv-predictions`` output: each predicted by
    the CV fold that held its kind of complex out (``others``: every other row instead, the rest of
    the refit's data)."""
    saved = np.load(path)
    wanted = set(sum((list(d.names) for d in read_edges(data).values()), []))
    rows = [i for i, stem in enumerate(saved["stems"]) if (stem in wanted) != others]
    return {"stems": [str(saved["stems"][i]) for i in rows], "edges": saved["edges"][rows],
            "true": saved["true"][rows], "model": saved["FDMNES_transfer"][rows],
            "edge_mean": saved["edge_mean"][rows], "trust": [None] * len(rows)}


def figures(run: dict) -> dict:
    """Per complex Δμ (model, edge mean) and peaks; per edge medians; drag fidelity per family."""
    from xanesviz.edges import Pooled, pair_fidelity

    grid_rel = edge_grid("Fe") - edge_grid("Fe")[0] - 15.0  # every edge's grid, relative to its edge
    variants = np.array([variant_of(s) is not None for s in run["stems"]])
    model_dmu, mean_dmu = delta_mu(run["model"], run["true"]), delta_mu(run["edge_mean"], run["true"])
    peaks = peak_counts(grid_rel, run["model"], run["true"])
    rows = [{"edge": str(run["edges"][i]), "stem": run["stems"][i], "delta_mu_pct": float(model_dmu[i]),
             "edge_mean_delta_mu_pct": float(mean_dmu[i]), "peaks": int(peaks["targets"][i]),
             "peaks_found": int(peaks["found"][i]), "trust": run["trust"][i],
             "trust_distance": run.get("trust_distance", [None] * len(variants))[i],
             "ensemble_spread_pct": run.get("spread", [None] * len(variants))[i]}
            for i in np.flatnonzero(~variants)]
    summary = {}
    for edge in [m for m in EDGE_METALS if any(r["edge"] == m for r in rows)] + ["all"]:
        chosen = [r for r in rows if edge == "all" or r["edge"] == edge]
        summary[edge] = {"n": len(chosen), "model": float(np.median([r["delta_mu_pct"] for r in chosen])),
                         "edge_mean": float(np.median([r["edge_mean_delta_mu_pct"] for r in chosen]))}
    pooled = Pooled(np.zeros((len(variants), 1)), run["true"], np.asarray(run["edges"], dtype=object),
                    np.array([parent_of(s) for s in run["stems"]]), variants, list(run["stems"]))
    drags = pair_fidelity(pooled, run["model"], grid_rel).get("all", {})
    return {"rows": rows, "summary": summary, "drag_fidelity": drags, "trust_ranking": trust_ranking(rows),
            "moved_delta_mu_median_pct": float(np.median(model_dmu[variants])) if variants.any() else None}


def trust_ranking(rows: list[dict]) -> dict:
    """How well the trust signal's figures rank the misses: Spearman ρ of each complex's Δμ with
    the badge's distance and with the ensemble spread (None when fewer than three complexes have
    them), and the median Δμ under each badge label."""
    from scipy.stats import spearmanr

    dmu = np.array([r["delta_mu_pct"] for r in rows])
    ranking = {}
    for key in ("trust_distance", "ensemble_spread_pct"):
        values = np.array([np.nan if r[key] is None else r[key] for r in rows], float)
        known = np.isfinite(values)
        ranking[key] = float(spearmanr(values[known], dmu[known]).statistic) if known.sum() >= 3 else None
    labels = [r["trust"] for r in rows]
    ranking["delta_mu_median_by_label"] = {label: float(np.median(dmu[[x == label for x in labels]]))
                                           for label in dict.fromkeys(labels) if label}
    return ranking


def card_cv_median(models: Path, metal: str) -> float | None:
    card = json.loads((models / f"{metal.lower()}-k-feff" / "model_card.json").read_text())
    methods = card.get("cv_metrics", {}).get("per_method", {})
    shipped = next((m for m in methods if m != "edge mean" and "left out" not in m), None)
    return methods[shipped]["all"].get("delta_mu_median_pct") if shipped else None


def print_figures(result: dict, models: Path | None) -> None:
    print("| complex | Δμ model % | Δμ edge mean % | peaks found | trust badge |")
    print("|---|---|---|---|---|")
    for r in result["rows"]:
        print(f"| {r['stem']} | {r['delta_mu_pct']:.1f} | {r['edge_mean_delta_mu_pct']:.1f} | "
              f"{r['peaks_found']}/{r['peaks']} | {r['trust'] or ''} |")
    print()
    print("| edge | complexes | Δμ median, model | Δμ median, edge mean | the card's CV Δμ median |")
    print("|---|---|---|---|---|")
    for edge, row in result["summary"].items():
        cv = card_cv_median(models, edge) if models is not None and edge != "all" else None
        print(f"| {edge} | {row['n']} | {row['model']:.1f} | {row['edge_mean']:.1f} | "
              f"{'' if cv is None else f'{cv:.1f}'} |")
    rows = result["rows"]
    found = sum(r["peaks_found"] for r in rows) / max(1, sum(r["peaks"] for r in rows))
    labels = [r["trust"] for r in rows if r["trust"]]
    print(f"\npeaks found {100 * found:.0f} % of {sum(r['peaks'] for r in rows)}"
          + ("; trust badge: " + ", ".join(f"{label} {labels.count(label)}" for label in dict.fromkeys(labels))
             if labels else ""))
    ranking = result["trust_ranking"]
    if ranking["trust_distance"] is not None:
        print(f"Spearman ρ of a complex's Δμ with the badge's distance {ranking['trust_distance']:.2f}, with the "
              f"ensemble spread {ranking['ensemble_spread_pct']:.2f}; Δμ median by badge: "
              + ", ".join(f"{label} {value:.1f} %" for label, value in ranking["delta_mu_median_by_label"].items()))
    if result["moved_delta_mu_median_pct"] is not None:
        print(f"moved complexes: Δμ median {result['moved_delta_mu_median_pct']:.1f} %")
    if result["drag_fidelity"]:
        print("\n| move | pairs | median r of Δμ (model against FEFF10) | median norm ratio |")
        print("|---|---|---|---|")
        for family, row in sorted(result["drag_fidelity"].items(), key=lambda kv: kv[0] == "all"):
            r, ratio = (("-" if v is None else f"{v:.2f}") for v in (row["median_r"], row["median_norm_ratio"]))
            print(f"| {family} | {row['pairs']} | {r} | {ratio} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "feff-literature")
    parser.add_argument("--models", type=Path, default=REPO / "pretrained")
    parser.add_argument("--training", type=Path, default=REPO / "data" / "feff",
                        help="the models' FEFF10 training data (for the edge-mean baseline)")
    parser.add_argument("--cv-predictions", type=Path, metavar="FILE",
                        help="instead of the shipped models, score the out-of-fold predictions of a "
                             "'xanesviz train-edges --cv 5 --real-complexes ... DATA --cv-predictions FILE' run")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if args.cv_predictions:
        result = figures(from_cv_predictions(args.cv_predictions, args.data))
        print(f"Out-of-fold predictions of {args.cv_predictions} on the textbook complexes; {machine_line()}")
        print_figures(result, None)
        rest = from_cv_predictions(args.cv_predictions, args.data, others=True)
        rest_figures = figures(rest)
        all_dmu = delta_mu(rest["model"], rest["true"])
        moved = np.array([variant_of(stem) is not None for stem in rest["stems"]])
        print(f"\nthe rest of the refit's data, out of fold: {len(all_dmu)} spectra, Δμ median {np.median(all_dmu):.2f} % "
              f"(complexes {np.median(all_dmu[~moved]):.2f}, moved {np.median(all_dmu[moved]):.2f})")
        print("| move | pairs | median r | median norm ratio |\n|---|---|---|---|")
        for family, row in sorted(rest_figures["drag_fidelity"].items()):
            r, ratio = (("-" if v is None else f"{v:.2f}") for v in (row["median_r"], row["median_norm_ratio"]))
            print(f"| {family} | {row['pairs']} | {r} | {ratio} |")
        result["rest"] = {"n": len(all_dmu), "delta_mu_median_pct": float(np.median(all_dmu)),
                          "drag_fidelity": rest_figures["drag_fidelity"]}
    else:
        result = figures(predict_shipped(args.data, args.models, args.training))
        print(f"The shipped edge models on the complexes of {args.data} (FEFF10 reference settings); {machine_line()}")
        print_figures(result, args.models)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    from xanesviz.errors import XanesvizError

    try:
        sys.exit(main())
    except (XanesvizError, OSError, KeyError) as exc:  # a missing data set, model or CV file: one line
        sys.exit(f"literature_complexes.py: {exc}")
