"""Measured spectra: read + normalise every file of ../shared/data/experiment (E0 against xraydb),
compare the shipped model's prediction for FeO and α-Fe2O3 with their measurements, and time
alignment (the drag path) and the broadening fit.

    python benchmarks/measured_compare.py [--experiment DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from xanesviz import Predictor
from xanesviz.compare import compare
from xanesviz.measured import read_measured, tabulated_edge

ROOT = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                flags = Path("/proc/cpuinfo").read_text()
                return line.split(":", 1)[1].strip() + (", AVX512" if "avx512f" in flags else ", no AVX512")
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def oxides():
    from ase.build import bulk
    from ase.spacegroup import crystal

    return {"FeO_rt_01.xdi": ("FeO rock salt a = 4.33 Å", bulk("FeO", "rocksalt", a=4.33)),
            "Fe2O3_rt_01.xdi": ("α-Fe2O3 R-3c a = 5.035, c = 13.75 Å",
                                crystal(["Fe", "O"], basis=[(0, 0, 0.35530), (0.3059, 0, 0.25)], spacegroup=167,
                                        cellpar=[5.035, 5.035, 13.75, 90, 90, 120]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default=str(ROOT.parent / "shared/data/experiment"))
    args = parser.parse_args()
    print(f"machine: {cpu_model()}")
    start = time.perf_counter()
    read_measured(next(Path(args.experiment).glob("*/*.xd*")))
    print(f"first read (larch import included): {time.perf_counter() - start:.1f} s")
    files = sorted(Path(args.experiment).glob("*/*.xd*"))
    deviations, failures, start = [], [], time.perf_counter()
    for path in files:
        try:
            m = read_measured(path)
        except Exception as exc:  # a benchmark reports every failure and goes on
            failures.append(f"{path.name}: {exc}")
            continue
        deviations.append((path.parent.name, path.name, m.mu_source, m.e0, m.e0 - tabulated_edge(m.element, m.edge or "K")))
    seconds = time.perf_counter() - start
    print(f"read + normalised {len(deviations)} of {len(files)} files in {seconds:.1f} s "
          f"({1e3 * seconds / max(len(files), 1):.0f} ms each); failures: {failures or 'none'}")
    d = np.array([row[4] for row in deviations])
    print(f"E0 (larch) - tabulated K edge (xraydb): median {np.median(d):+.1f} eV, range {d.min():+.1f} to {d.max():+.1f}; "
          f"within 10 eV: {np.sum(np.abs(d) <= 10)} of {len(d)}; within 25 eV: {np.sum(np.abs(d) <= 25)}")
    for element in sorted({row[0] for row in deviations}):
        values = [row[4] for row in deviations if row[0] == element]
        print(f"  {element}: {len(values)} files, E0 - tabulated {min(values):+.1f} to {max(values):+.1f} eV")
    print("  beyond 10 eV: " + ", ".join(f"{row[1]} ({row[4]:+.1f})" for row in deviations if abs(row[4]) > 10))

    predictor = Predictor.load()
    for name, (label, atoms) in oxides().items():
        measured = read_measured(Path(args.experiment) / "Fe" / name, expected_element="Fe")
        predicted = predictor.predict(atoms)
        trust = predictor.domain_score(atoms)["label"]
        result = compare(measured, predicted)
        times = []
        for _ in range(20):
            t = time.perf_counter()
            compare(measured, predicted)
            times.append(time.perf_counter() - t)
        held = []
        for _ in range(20):
            t = time.perf_counter()
            compare(measured, predicted, shift=result.shift_eV)
            held.append(time.perf_counter() - t)
        t = time.perf_counter()
        fitted = compare(measured, predicted, fit_broadening=True)
        fit_seconds = time.perf_counter() - t
        b = fitted.broadening
        print(f"{label} ({trust}) vs {name}: {result.format()}")
        print(f"  align (shift + scale) {1e3 * np.median(times):.1f} ms median, with the shift held "
              f"{1e3 * np.median(held):.1f} ms; broadening fit {fit_seconds:.2f} s -> Pearson {fitted.pearson:.3f}, "
              f"R-factor {fitted.r_factor:.4f} (Γ_hole +{b.gamma_hole:.2f}, Γ_max {b.gamma_max:.1f}, "
              f"Gaussian {b.gaussian_fwhm:.2f} eV)")


if __name__ == "__main__":
    main()
