"""Shared builders for tests: random Fe complexes and a tiny trained bundle (no reference data needed)."""

import numpy as np
from ase import Atoms

from xanesviz import WACSF
from xanesviz.bundle import save_bundle
from xanesviz.model import Recipe, train
from xanesviz.data import FE_K_GRID, FE_K_XANES

TINY = Recipe(name="tiny-test", hidden=(32, 32), epochs=4, learning_rate=1e-3, standardise_targets=True,
              kernel_weight=0.3, kernel_gamma=0.01, neighbour_width=2.0, neighbour_model_weight=0.2)


def random_complex(rng, n_ligands=6):
    """Fe at the origin with ligands at 1.9-2.3 Å and some outer atoms, no two closer than 1 Å."""
    while True:
        atoms = _random_complex(rng, n_ligands)
        d = atoms.get_all_distances()
        if d[np.triu_indices(len(atoms), 1)].min() > 1.0:
            return atoms


def _random_complex(rng, n_ligands):
    directions = rng.normal(size=(n_ligands + 6, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = np.concatenate([rng.uniform(1.9, 2.3, n_ligands), rng.uniform(3.0, 5.5, 6)])
    numbers = [26] + list(rng.choice([7, 8, 6, 17], n_ligands)) + [1] * 6
    return Atoms(numbers=numbers, positions=np.vstack([[0, 0, 0], directions * radii[:, None]]))


def synthetic_data(n=96, seed=1):
    """Structures and smooth fake spectra whose edge position follows the mean bond length."""
    rng = np.random.default_rng(seed)
    structures = [random_complex(rng) for _ in range(n)]
    X = WACSF(element="Fe").transform(structures)
    bond = np.array([np.sort(a.get_distances(0, range(1, len(a))))[:6].mean() for a in structures])
    e0 = 7112 + 8 * (bond - 2.1)
    y = 0.6 / (1 + np.exp(-(FE_K_GRID[None, :] - e0[:, None]) / 1.5)) + 0.2
    return structures, X, y


def tiny_bundle(path, members=3, seed=3):
    structures, X, y = synthetic_data()
    ensemble = train(X, y, TINY, seed=seed, n_members=members)
    save_bundle(path, ensemble, WACSF(element="Fe"), {"name": "tiny", **FE_K_XANES.card()}, FE_K_GRID,
                training_features=X)
    return path
