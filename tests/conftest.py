"""Shared fixtures: the reference data directory (optional) and small hand-built Fe complexes."""

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/fe-k-xanes"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The Fe K-edge reference data beside the repository; skips the test when it is absent."""
    if not (DATA_DIR / "xyz").is_dir():
        pytest.skip("reference data ../shared/data/fe-k-xanes not present (it is not shipped with the package)")
    return DATA_DIR


def make_octahedron(fe_o: float = 2.0, o_h: float = 0.96) -> Atoms:
    """Fe at the origin, 6 O at ``fe_o`` Å on the axes, one H on each O pointing outwards."""
    axes = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    positions = np.vstack([[0.0, 0.0, 0.0], fe_o * axes, (fe_o + o_h) * axes])
    return Atoms(symbols="Fe" + "O" * 6 + "H" * 6, positions=positions)


@pytest.fixture
def octahedron() -> Atoms:
    """[Fe(OH)6]-like octahedron: Fe at the origin, 6 O at 2.0 Å, 6 H at 2.96 Å."""
    return make_octahedron()


def make_random_cluster(seed: int = 0, n_atoms: int = 20, radius: float = 5.0, min_distance: float = 1.0) -> Atoms:
    """Fe at the origin plus ``n_atoms - 1`` light atoms within ``radius`` Å, all pairs > ``min_distance`` Å."""
    rng = np.random.default_rng(seed)
    positions = [np.zeros(3)]
    while len(positions) < n_atoms:
        trial = rng.uniform(-radius, radius, 3)
        if np.linalg.norm(trial) > radius:
            continue
        if min(np.linalg.norm(trial - p) for p in positions) > min_distance:
            positions.append(trial)
    numbers = [26] + list(rng.choice([1, 6, 7, 8, 16, 17], n_atoms - 1))
    return Atoms(numbers=numbers, positions=np.array(positions))


@pytest.fixture
def random_cluster() -> Atoms:
    """A random 20-atom cluster around Fe with every interatomic distance above 1 Å."""
    return make_random_cluster()


def write_numbered_xyz(path: Path, numbers, positions, comment: str = "test") -> Path:
    """Write the XANESNET xyz flavour: count, comment, then ``Z x y z`` lines."""
    lines = [str(len(numbers)), comment]
    lines += [f"{int(z)} {x:.10f} {y:.10f} {w:.10f}" for z, (x, y, w) in zip(numbers, positions)]
    path.write_text("\n".join(lines) + "\n")
    return path
