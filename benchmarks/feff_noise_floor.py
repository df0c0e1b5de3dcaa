"""FEFF10's numerical noise floor for a drag: the same complex turned rigidly, which changes no physics.

    python benchmarks/feff_noise_floor.py [--data data/feff-real/fe-k] [--n 8] [--seed 0] \\
        [--out runs/feff-noise-floor] [--workers 1]

Takes ``--n`` complexes of a real-complex data set (``scripts/real_fe_set.py``'s layout), turns each
about its absorber by a random rotation, computes the turned copies with FEFF10's reference settings
(``xanesviz.simulate``; resumable) and prints, per complex, how far FEFF10's self-consistent Fermi
level and its spectrum moved under the rotation, beside the same figures for the complex's 5° and
10° bends. A spectrum that moves under a rotation as much as under a bend sets a floor that no
model of the geometry can follow below.

``--bend-series STEM`` instead computes that complex's bend (``drag_fidelity.py``'s: the nearest
donor swung about the absorber, the rest of its ligand left in place) at each of ``--angles`` and
prints FEFF10's Fermi level and the size of its Δμ against the angle, and the Pearson r of each
Δμ with the 10° one: whether FEFF10's response to a bend is a smooth function of the angle.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_line  # noqa: E402
from feff_fermi_shift import fermi_level  # noqa: E402

from xanesviz.data import read_spectrum_file  # noqa: E402
from xanesviz.simulate import read_manifest, simulate  # noqa: E402
from xanesviz.structure import read_structure  # noqa: E402


def turned(atoms, rng: np.random.Generator):
    """A copy of ``atoms`` rotated rigidly about atom 0 (the absorber) by a random rotation."""
    from scipy.spatial.transform import Rotation

    out = atoms.copy()
    centre = out.positions[0].copy()
    out.positions = Rotation.random(random_state=rng).apply(out.positions - centre) + centre
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="data/feff-real/fe-k", help="the data set's edge folder")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/feff-noise-floor")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--bend-series", metavar="STEM", help="a complex of --data (e.g. Fe_CAWMET)")
    parser.add_argument("--angles", type=float, nargs="+", default=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    args = parser.parse_args(argv)
    from ase.io import write

    root, out = Path(args.data), Path(args.out)
    if args.bend_series:
        return bend_series(root, out, args.bend_series, args.angles, args.workers)
    rows = [r for r in read_manifest(root) if r.get("status") == "ok"]
    complexes = sorted(r["stem"] for r in rows if r.get("family") is None)
    if not complexes:
        sys.exit(f"feff_noise_floor: no complexes in {root}/manifest.jsonl")
    rng = np.random.default_rng(args.seed)
    picked = sorted(rng.choice(complexes, size=min(args.n, len(complexes)), replace=False))
    (out / "structures").mkdir(parents=True, exist_ok=True)
    for stem in picked:
        write(out / "structures" / f"{stem}_turned.xyz", turned(read_structure(root / "xyz" / f"{stem}.xyz"), rng))
    simulate(sorted((out / "structures").glob("*_turned.xyz")), out / "feff", workers=args.workers)

    print(f"\nFEFF10 under a rigid rotation against a bend: {len(picked)} complexes of {root}; {machine_line()}")
    print("| complex | \\|ΔE_F\\| turned / bend 5° / bend 10° (eV) | \\|Δμ\\| / \\|μ\\| turned / bend 5° / bend 10° |")
    print("|---|---|---|")
    floor = []
    for stem in picked:
        spectrum = out / "feff" / "spectra" / f"{stem}_turned.txt"
        if not spectrum.is_file():
            print(f"| {stem} | FEFF10 did not finish | |")
            continue
        energy, base = read_spectrum_file(root / "spectra" / f"{stem}.txt")
        e0 = fermi_level(root / "feff" / stem)
        shifts, sizes = [], []
        for moved_spectrum, run in ((spectrum, out / "feff" / "feff" / f"{stem}_turned"),
                                    (root / "spectra" / f"{stem}_bend2.txt", root / "feff" / f"{stem}_bend2"),
                                    (root / "spectra" / f"{stem}_bend1.txt", root / "feff" / f"{stem}_bend1")):
            e1 = fermi_level(run)
            shifts.append("-" if e0 is None or e1 is None else f"{abs(e1 - e0):.3f}")
            if moved_spectrum.is_file():
                delta = read_spectrum_file(moved_spectrum, energy)[1] - base
                sizes.append(float(np.linalg.norm(delta) / np.linalg.norm(base)))
            else:
                sizes.append(float("nan"))
        floor.append(sizes)
        print(f"| {stem} | {' / '.join(shifts)} | {' / '.join(f'{s:.4f}' for s in sizes)} |")
    if floor:
        median = np.nanmedian(np.array(floor), axis=0)
        print(f"median |Δμ| / |μ|: turned {median[0]:.4f}, bend 5° {median[1]:.4f}, bend 10° {median[2]:.4f}")
    return 0


def bend_series(root: Path, out: Path, stem: str, angles: list[float], workers: int) -> int:
    """FEFF10's Fermi level and Δμ for one complex's bend at each angle."""
    from ase.io import write
    from drag_fidelity import displace

    if not (root / "xyz" / f"{stem}.xyz").is_file():
        sys.exit(f"feff_noise_floor: no complex {stem} in {root}/xyz")
    atoms = read_structure(root / "xyz" / f"{stem}.xyz")
    (out / "structures").mkdir(parents=True, exist_ok=True)
    names = {a: f"{stem}_bend{a:g}deg" for a in angles}
    for angle, name in names.items():
        write(out / "structures" / f"{name}.xyz", displace(atoms, "bend", angle))
    simulate([out / "structures" / f"{n}.xyz" for n in names.values()], out / "feff", workers=workers)
    energy, base = read_spectrum_file(root / "spectra" / f"{stem}.txt")
    e0 = fermi_level(root / "feff" / stem)
    deltas = {}
    for angle, name in names.items():
        path = out / "feff" / "spectra" / f"{name}.txt"
        if path.is_file():
            deltas[angle] = (read_spectrum_file(path, energy)[1] - base, fermi_level(out / "feff" / "feff" / name))
    largest = max(deltas) if deltas else None
    print(f"\nFEFF10 against the bend angle: {stem} of {root}; {machine_line()}")
    print(f"| angle (°) | ΔE_F (eV) | \\|Δμ\\| / \\|μ\\| | r with the {largest:g}° Δμ |" if deltas else "no run finished")
    print("|---|---|---|---|")
    for angle, (delta, e1) in sorted(deltas.items()):
        shift = "-" if e0 is None or e1 is None else f"{e1 - e0:+.3f}"
        ref = deltas[largest][0]
        r = float(np.corrcoef(delta, ref)[0, 1]) if delta.std() > 0 and ref.std() > 0 else float("nan")
        print(f"| {angle:g} | {shift} | {np.linalg.norm(delta) / np.linalg.norm(base):.4f} | {r:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
