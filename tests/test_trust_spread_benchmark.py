"""benchmarks/trust_spread.py: the held-out spread ratio against the held-out error."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from trust_spread import main, spread_table  # noqa: E402


def saved_run(n=200):
    """Unmoved complexes whose error grows with their spread ratio, and moves that must be ignored."""
    rng = np.random.default_rng(0)
    ratio = np.concatenate([rng.uniform(0.5, 6.0, n), [100.0, 100.0]])
    true = np.ones((n + 2, 10))
    model = true + (ratio / 100.0)[:, None]  # Δμ = ratio %
    variants = np.r_[np.zeros(n, bool), [True, True]]
    edges = np.array(["Cu", "Ni"] * (n // 2) + ["Cu", "Cu"])
    return {"spread_ratio_FDMNES_transfer": ratio, "FDMNES_transfer": model, "true": true, "variants": variants,
            "edges": edges}


def test_the_table_ranks_error_by_spread_over_unmoved_complexes_only():
    saved = saved_run()
    result = spread_table(saved)
    ratio = saved["spread_ratio_FDMNES_transfer"][:200]
    assert result["limit_ratio"] == pytest.approx(np.percentile(ratio, 99))
    pooled = result["per_edge"]["all"]
    assert pooled["n"] == 200 and pooled["spearman"] == pytest.approx(1.0)
    assert pooled["above_limit"]["n"] == 2 and pooled["above_limit"]["delta_mu_median_pct"] > 5.9
    assert sum(b["n"] for b in pooled["bands"].values()) == 200
    low = pooled["bands"]["0-1.5"]
    assert low["n"] == int((ratio < 1.5).sum()) and low["delta_mu_median_pct"] < 1.5
    assert result["per_edge"]["Cu"]["n"] == result["per_edge"]["Ni"]["n"] == 100


def test_a_file_without_spread_ratios_is_one_line(tmp_path):
    saved = saved_run()
    path = tmp_path / "old.npz"
    np.savez(path, **{k: v for k, v in saved.items() if not k.startswith("spread")})
    with pytest.raises(KeyError, match="no spread ratios"):
        main(["--cv-predictions", str(path)])
    np.savez(path, **saved)
    assert main(["--cv-predictions", str(path), "--json", str(tmp_path / "out.json")]) == 0
    assert (tmp_path / "out.json").read_text().startswith("{")
