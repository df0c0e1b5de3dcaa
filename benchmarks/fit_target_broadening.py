"""Find how the study's targets (spectra/) were made from raw FDMNES output (fdmnes/).

Fits one (Fermi level, Lorentzian FWHM, scale) to many samples at once and reports how well
the resulting recipe, ``xanesviz.data.fdmnes_to_target``, reproduces every target.

    python benchmarks/fit_target_broadening.py [DATA_DIR] [--n 400]
"""

import argparse
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from xanesviz.data import list_stems, read_fdmnes, read_spectrum_file
from xanesviz.data import FE_K_GRID, FE_K_XANES, fdmnes_to_target

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data_dir", nargs="?", default=Path(__file__).resolve().parents[2] / "shared/data/fe-k-xanes")
parser.add_argument("--n", type=int, default=400, help="samples used in the fit")
args = parser.parse_args()
data = Path(args.data_dir)
stems = list_stems(data)
rng = np.random.default_rng(0)
fit_stems = rng.choice(stems, size=min(args.n, len(stems)), replace=False)


def load(stem):
    e, raw, _ = read_fdmnes(data / "fdmnes" / f"{stem}.txt")
    _, target = read_spectrum_file(data / "spectra" / f"{stem}.txt", FE_K_GRID)
    return e, raw, target


pairs = [load(s) for s in fit_stems]


def residuals(p, e_f):
    return np.concatenate([(fdmnes_to_target(e, raw, FE_K_XANES, e_f, p[0], p[1]) - t) / t.max() for e, raw, t in pairs])


# The Fermi cut acts on the raw 0.2 eV grid, so it is scanned; width and scale are fitted for each.
best = None
for e_f in np.arange(7109.9, 7112.2, 0.2):
    fit = least_squares(residuals, x0=[1.3, 15.6], args=(e_f,), x_scale=[0.1, 1.0])
    if best is None or fit.cost < best[1].cost:
        best = (e_f, fit)
e_f, (fwhm, scale) = best[0], best[1].x
print(f"fitted on {len(pairs)} samples: E_F = {e_f:.1f} eV (cut between raw grid points), "
      f"Lorentzian FWHM = {fwhm:.4f} eV, scale = {scale:.4f}")
errors = []
for stem in stems:
    e, raw, t = load(stem)
    errors.append(np.max(np.abs(fdmnes_to_target(e, raw, FE_K_XANES, e_f, fwhm, scale) - t)) / t.max())
errors = 100 * np.asarray(errors)
print(f"all {len(stems)} targets: max |recipe - target| / max(target): median {np.median(errors):.2f} %, "
      f"95th pct {np.percentile(errors, 95):.2f} %, worst {errors.max():.2f} %")
