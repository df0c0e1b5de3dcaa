"""Does the networks' spread say when an edge model is wrong? Out-of-fold, on complexes it never saw.

    python benchmarks/trust_spread.py --cv-predictions FILE [--json OUT]

FILE is what ``xanesviz train-edges ... --cv K --cv-predictions FILE`` writes: every spectrum's
out-of-fold prediction and its network spread as a ratio to its fold model's median spread over
the training complexes of its edge (the trust badge's spread limit is a quantile of that ratio).
Over the unmoved complexes, per edge and pooled: the ratio's quantiles, the Spearman ρ of Δμ with
it, and the Δμ median in bands of it, so that what the limit flags can be set against what it
lets through. The machine is printed.
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

from xanesviz.evaluation import delta_mu  # noqa: E402

BANDS = (0.0, 1.5, 3.0, 5.0, np.inf)


def spread_table(saved, method: str = "FDMNES_transfer", quantile: float = 99.0) -> dict:
    """Quantiles of the held-out spread ratio, its rank correlation with Δμ, Δμ by band; pooled and per edge."""
    from scipy.stats import spearmanr

    ratio = np.asarray(saved[f"spread_ratio_{method}"], float)
    rows = ~np.asarray(saved["variants"], bool) & np.isfinite(ratio)
    dmu = delta_mu(np.asarray(saved[method])[rows], np.asarray(saved["true"])[rows])
    ratio, edges = ratio[rows], np.asarray(saved["edges"]).astype(str)[rows]
    limit = float(np.percentile(ratio, quantile))
    table = {}
    for edge in ["all", *dict.fromkeys(edges)]:
        chosen = np.ones(len(ratio), bool) if edge == "all" else edges == edge
        r, d = ratio[chosen], dmu[chosen]
        bands = {}
        for low, high in zip(BANDS[:-1], BANDS[1:]):
            inside = (r >= low) & (r < high)
            bands[f"{low:g}-{high:g}"] = {"n": int(inside.sum()),
                                          "delta_mu_median_pct": float(np.median(d[inside])) if inside.any() else None}
        above = r > limit
        table[edge] = {"n": int(chosen.sum()), "ratio_quantiles": {q: float(np.percentile(r, q)) for q in (50, 90, 95, 99)},
                       "spearman": float(spearmanr(r, d).statistic) if len(r) > 2 else None,
                       "delta_mu_median_pct": float(np.median(d)), "bands": bands,
                       "above_limit": {"n": int(above.sum()),
                                       "delta_mu_median_pct": float(np.median(d[above])) if above.any() else None}}
    return {"limit_ratio": limit, "quantile": quantile, "per_edge": table}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cv-predictions", type=Path, required=True, metavar="FILE")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    with np.load(args.cv_predictions) as saved:
        if "spread_ratio_FDMNES_transfer" not in saved:
            raise KeyError(f"{args.cv_predictions} has no spread ratios (written by train-edges before they were kept)")
        result = spread_table(saved)
    print(f"Network spread against error, held-out complexes of {args.cv_predictions}; {machine_line()}")
    print(f"limit ratio ({result['quantile']:g}th percentile, all edges): {result['limit_ratio']:.2f}\n")
    labels = list(result["per_edge"]["all"]["bands"])
    print("| edge | complexes | ratio median / 90th / 95th / 99th pct | Spearman ρ (ratio, Δμ) | Δμ median | "
          + " | ".join(f"Δμ, ratio {b} (n)" for b in labels) + " | above the limit: n, Δμ |")
    print("|---|---|---|---|---|" + "---|" * len(labels) + "---|")
    for edge, row in result["per_edge"].items():
        q = row["ratio_quantiles"]
        cells = [f"{b['delta_mu_median_pct']:.1f} ({b['n']})" if b["n"] else "-" for b in row["bands"].values()]
        above = row["above_limit"]
        print(f"| {edge} | {row['n']} | {q[50]:.2f} / {q[90]:.2f} / {q[95]:.2f} / {q[99]:.2f} | {row['spearman']:.2f} | "
              f"{row['delta_mu_median_pct']:.1f} | " + " | ".join(cells) + f" | {above['n']}, "
              + ("-" if above["delta_mu_median_pct"] is None else f"{above['delta_mu_median_pct']:.1f}") + " |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, KeyError, ValueError) as exc:
        sys.exit(f"trust_spread.py: {exc}")
