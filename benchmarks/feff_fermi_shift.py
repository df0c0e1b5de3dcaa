"""How FEFF10's own Fermi level moves with each drag, and how much of its Δμ that is.

    python benchmarks/feff_fermi_shift.py [--data data/feff-real/fe-k]

For every complex of a data set laid out as ``scripts/real_fe_set.py`` writes it (``manifest.jsonl``
with a ``family`` per move, ``spectra/``, ``feff/<stem>/convergence.scf``), and for each move
family, prints
- |ΔE_F|: how far the self-consistent Fermi level (the last line of convergence.scf) moved;
- the share of FEFF10's Δμ (sum of squares) that lies along dμ/dE of the unmoved spectrum, i.e.
  what a rigid shift of the edge explains;
and for the two amplitudes of one kind of move (bend 10° and 5°, bond +0.1 and +0.05 Å): the
correlation of the two ΔE_F, the median ratio of their sizes (0.5 where E_F moves in proportion
to the amplitude) and the median Pearson r of the two Δμ (what a model whose response is
proportional to the amplitude could reach on the smaller move if it matched the larger one exactly).
This measures the target, not a prediction. With ``--model`` it also prints, per family, the median
Pearson r of the model's Δμ against FEFF10's (on the model's grid, as the edge models' drag table
compares them) and against FEFF10's Δμ with its edge-shift part removed: how much of the model's
shortfall is the Fermi-level move. Use it on complexes the model never saw.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_line  # noqa: E402

from xanesviz.data import read_spectrum_file  # noqa: E402
from xanesviz.simulate import read_manifest  # noqa: E402

PAIRS = (("bend10", "bend5"), ("stretch+0.1", "stretch+0.05"))


def fermi_level(run_dir: Path) -> float | None:
    """FEFF10's last self-consistent Fermi level (eV) from convergence.scf, None if unreadable."""
    from xanesviz.feff import scf_last_row

    try:
        return float(scf_last_row(run_dir)[1])
    except (TypeError, IndexError, ValueError):
        return None


def edge_shift_share(energy: np.ndarray, base: np.ndarray, delta: np.ndarray) -> float:
    """Share of ``delta``'s sum of squares along dμ/dE of ``base`` (what a rigid edge shift explains)."""
    slope = np.gradient(base, energy)
    if not np.any(delta) or not np.any(slope):
        return float("nan")
    along = (delta @ slope) / (slope @ slope) * slope
    return float(along @ along / (delta @ delta))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/feff-real/fe-k", help="the data set's edge folder")
    parser.add_argument("--stems", nargs="+", metavar="STEM", help="only these complexes (e.g. Fe_CAWMET)")
    parser.add_argument("--model", help="a FEFF10-trained bundle (e.g. pretrained/fe-k-feff) to score as well")
    args = parser.parse_args(argv)
    root = Path(args.data)
    rows = [r for r in read_manifest(root) if r.get("status") == "ok"]
    if not rows:
        sys.exit(f"feff_fermi_shift: no finished runs in {root}/manifest.jsonl")
    complexes = {r["source_stem"]: r["stem"] for r in rows if r.get("family") is None
                 and (not args.stems or r["stem"] in args.stems)}
    if not complexes:
        sys.exit(f"feff_fermi_shift: none of the complexes asked for in {root}")
    moves: dict = {}  # (complex, family) -> stem
    for r in rows:
        if r.get("family") is not None:
            moves[r["source_stem"].split("@")[0], r["family"]] = r["stem"]

    fermi: dict = {}  # (complex, family or None) -> ΔE_F or E_F
    delta_mu: dict = {}  # (complex, family) -> FEFF10's Δμ on the complex's grid
    shares: dict = {}
    for name, stem in complexes.items():
        e0 = fermi_level(root / "feff" / stem)
        energy, base = read_spectrum_file(root / "spectra" / f"{stem}.txt")
        for (parent, family), moved in moves.items():
            if parent != name:
                continue
            e1 = fermi_level(root / "feff" / moved)
            if e0 is not None and e1 is not None:
                fermi[name, family] = e1 - e0
            d = read_spectrum_file(root / "spectra" / f"{moved}.txt", energy)[1] - base
            delta_mu[name, family] = d
            shares.setdefault(family, []).append(edge_shift_share(energy, base, d))

    print(f"FEFF10's Fermi level under each move: {len(complexes)} complexes of {root}; {machine_line()}")
    print("| move | pairs | median \\|ΔE_F\\| (eV) | 90th percentile | share of Δμ² along dμ/dE (median) |")
    print("|---|---|---|---|---|")
    for family in sorted(shares):
        shifts = np.abs([v for (c, f), v in fermi.items() if f == family])
        levels = f"{np.median(shifts):.3f} | {np.quantile(shifts, 0.9):.3f}" if len(shifts) else "- | -"
        print(f"| {family} | {len(shares[family])} | {levels} | {np.nanmedian(shares[family]):.2f} |")
    print("\n| larger / smaller move | complexes | corr of ΔE_F | median \\|ΔE_F\\| smaller/larger "
          "| median r of the two Δμ |")
    print("|---|---|---|---|---|")
    for big, small in PAIRS:
        names = [c for c in complexes if (c, big) in fermi and (c, small) in fermi]
        if not names:
            continue
        a = np.array([fermi[c, big] for c in names])
        b = np.array([fermi[c, small] for c in names])
        moved = a != 0
        rs = [float(np.corrcoef(delta_mu[c, big], delta_mu[c, small])[0, 1]) for c in names
              if delta_mu[c, big].std() > 0 and delta_mu[c, small].std() > 0]
        corr = f"{np.corrcoef(a, b)[0, 1]:.2f}" if a.std() > 0 and b.std() > 0 else "-"
        ratio = f"{np.median(np.abs(b[moved]) / np.abs(a[moved])):.2f}" if moved.any() else "-"
        print(f"| {big} / {small} | {len(names)} | {corr} | {ratio} | {np.median(rs):.2f} |")
    if args.model:
        model_against_feff(root, complexes, moves, args.model)
    return 0


def without_edge_shift(energy: np.ndarray, base: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """``delta`` less its projection on dμ/dE of ``base``."""
    slope = np.gradient(base, energy)
    return delta - (delta @ slope) / (slope @ slope) * slope if np.any(slope) else delta


def model_against_feff(root: Path, complexes: dict, moves: dict, model: str) -> None:
    """Median r of the model's Δμ against FEFF10's, as is and without FEFF10's edge-shift part."""
    from xanesviz.predictor import Predictor
    from xanesviz.structure import read_structure

    predictor = Predictor.load(model)
    grid = predictor.energy
    rs: dict = {}
    for name, stem in complexes.items():
        base_pred = predictor.predict(read_structure(root / "xyz" / f"{stem}.xyz")).mu
        base = read_spectrum_file(root / "spectra" / f"{stem}.txt", grid)[1]
        for (parent, family), moved in moves.items():
            if parent != name:
                continue
            d_model = predictor.predict(read_structure(root / "xyz" / f"{moved}.xyz")).mu - base_pred
            d_feff = read_spectrum_file(root / "spectra" / f"{moved}.txt", grid)[1] - base
            pair = []
            for target in (d_feff, without_edge_shift(grid, base, d_feff)):
                ok = d_model.std() > 0 and target.std() > 0
                pair.append(float(np.corrcoef(d_model, target)[0, 1]) if ok else np.nan)
            rs.setdefault(family, []).append(pair)
    print(f"\n{model} against FEFF10 (the model's grid, {grid[0]:g}-{grid[-1]:g} eV)")
    print("| move | pairs | median r of Δμ | median r against FEFF10's Δμ without its edge shift |")
    print("|---|---|---|---|")
    for family in sorted(rs):
        v = np.array(rs[family])
        print(f"| {family} | {len(v)} | {np.nanmedian(v[:, 0]):.2f} | {np.nanmedian(v[:, 1]):.2f} |")


if __name__ == "__main__":
    raise SystemExit(main())
