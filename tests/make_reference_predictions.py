"""Write tests/data/reference_predictions.npz: the shipped bundle's outputs on fixed structures.

The structures: the dashboard's gallery complexes, a rattled copy of each (0.05 and 0.15 Å),
and, when ../shared/data/fe-k-xanes is present, three training complexes (where the
nearest-neighbour member acts) and rattled copies of them. Their coordinates are stored in the
file, so the test does not depend on the gallery or on the data set. Run only on purpose (the
predictions are meant to stay as they are):

    PYTHONPATH=$PWD python tests/make_reference_predictions.py
    PYTHONPATH=$PWD python tests/make_reference_predictions.py --scores-only

``--scores-only`` rewrites the trust-signal scores alone, on the stored structures, after a
deliberate change to the trust signal (the predictions and sensitivities stay as stored).
"""

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "reference_predictions.npz"
TRAINING_STEMS = ("ABAXIK_C11H21FeIN3O2(1+)", "ABEMAX_C33H60FeN4Si4", "ABIHUO_C19H21FeNO6")
SCORE_KEYS = ("distance", "percentile", "p99", "range_excess", "level", "ensemble_spread_pct")


def reference_structures():
    from xanesviz import read_structure
    from xanesviz.examples import FE_EXAMPLES as GALLERY  # the Fe model's complexes

    labels, structures = [], []
    for label, build in GALLERY.items():
        atoms = build()
        labels.append(label)
        structures.append(atoms)
        for k, size in enumerate((0.05, 0.15)):
            rattled = atoms.copy()
            rattled.rattle(size, seed=10 + k)
            labels.append(f"{label} rattled {size} Å")
            structures.append(rattled)
    data = ROOT.parent / "shared" / "data" / "fe-k-xanes" / "xyz"
    for stem in TRAINING_STEMS if data.is_dir() else ():
        atoms = read_structure(data / f"{stem}.xyz")
        labels.append(stem)
        structures.append(atoms)
        rattled = atoms.copy()
        rattled.rattle(0.01, seed=3)
        labels.append(f"{stem} rattled 0.01 Å")
        structures.append(rattled)
    return labels, structures


def rewrite_scores(predictor) -> None:
    """Recompute the stored structures' trust-signal scores, keep everything else."""
    from ase import Atoms

    with np.load(OUT, allow_pickle=False) as data:
        stored = {key: data[key] for key in data.files}
    bounds = np.concatenate([[0], np.cumsum(stored["n_atoms"])])
    scores = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        score = predictor.domain_score(Atoms(numbers=stored["numbers"][a:b], positions=stored["positions"][a:b]))
        scores.append([float(score[key]) for key in SCORE_KEYS])
    changed = np.abs(np.array(scores) - stored["scores"]).max(axis=0)
    stored["scores"] = np.array(scores)
    np.savez_compressed(OUT, **stored)
    print(f"rewrote the scores in {OUT}; largest change per key: {dict(zip(SCORE_KEYS, changed.round(6)))}")


def main() -> None:
    import sys

    from xanesviz import Predictor

    predictor = Predictor.load(ROOT / "pretrained" / "fe-k")
    if "--scores-only" in sys.argv[1:]:
        rewrite_scores(predictor)
        return
    labels, structures = reference_structures()
    mean, std, sensitivity, edge_sensitivity, scores = [], [], [], [], []
    window = (float(predictor.energy[0]) + 13.0, float(predictor.energy[0]) + 28.0)
    for atoms in structures:
        spectrum = predictor.predict(atoms)
        mean.append(spectrum.mu)
        std.append(spectrum.std)
        sensitivity.append(predictor.sensitivity(atoms))
        edge_sensitivity.append(predictor.sensitivity(atoms, window=window))
        score = predictor.domain_score(atoms)
        scores.append([float(score[key]) for key in SCORE_KEYS])
    sizes = np.array([len(a) for a in structures])
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(
        OUT, labels=np.array(labels), n_atoms=sizes,
        numbers=np.concatenate([a.numbers for a in structures]),
        positions=np.concatenate([a.positions for a in structures]),
        energy=predictor.energy, mean=np.array(mean), std=np.array(std), window=np.array(window),
        sensitivity=np.concatenate(sensitivity), window_sensitivity=np.concatenate(edge_sensitivity),
        score_keys=np.array(SCORE_KEYS), scores=np.array(scores))
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(structures)} structures)")


if __name__ == "__main__":
    main()
