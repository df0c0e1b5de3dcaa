"""benchmarks/donor_bond_inputs.py's pieces: the donors' bond histogram and the widened networks
(the fits themselves are the benchmark's)."""

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from drag_descriptor_probe import donor_bonds  # noqa: E402
from drag_fidelity import displace  # noqa: E402
from donor_bond_inputs import widened  # noqa: E402

from helpers import random_complex  # noqa: E402


def test_a_bend_moves_the_donors_bonds_to_first_order_and_a_rotation_of_the_whole_does_not():
    atoms = random_complex(np.random.default_rng(3))
    base = donor_bonds(atoms, "Fe")
    assert base.shape == (98,) and base.sum() > 0
    small, large = (np.linalg.norm(donor_bonds(displace(atoms, "bend", a), "Fe") - base) for a in (2.0, 4.0))
    assert small > 0.01 and 1.5 < large / small < 2.5  # linear in the angle, not quadratic
    turned = atoms.copy()
    turned.rotate(37, "z", center=(0, 0, 0))
    assert np.allclose(donor_bonds(turned, "Fe"), base)


@pytest.mark.skipif(not (REPO / "pretrained" / "fe-k").is_dir(), reason="needs the shipped Fe networks")
def test_widened_networks_predict_as_before_until_trained():
    from xanesviz.bundle import load_bundle

    base = load_bundle(REPO / "pretrained" / "fe-k")
    rng = np.random.default_rng(0)
    structures = [random_complex(rng) for _ in range(4)]
    X = base.descriptor.transform(structures, absorber="Fe")
    B = np.array([donor_bonds(a, "Fe") for a in structures])
    ensemble = widened(base.ensemble, B, scale=5.0)
    assert ensemble.n_inputs == base.ensemble.n_inputs + 98
    before = base.ensemble.predict(X, neighbours=False)
    assert np.allclose(ensemble.predict(np.hstack([X, B]), neighbours=False), before, atol=1e-5)
