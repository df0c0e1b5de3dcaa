"""The facade: a model bundle in, ``predict(atoms) -> Spectrum`` out, fast enough for live use."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import Atoms

from .bundle import Bundle, load_bundle
from .errors import XanesvizError
from .spectrum import TARGET_LORENTZIAN_FWHM_EV, Spectrum
from .structure import Cluster

#: Where ``Predictor.load()`` looks when no bundle is named: $XANESVIZ_MODEL, else the shipped one.
DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "pretrained" / "fe-k"


def default_bundle_path() -> Path:
    return Path(os.environ.get("XANESVIZ_MODEL", DEFAULT_BUNDLE))


class Predictor:
    """Predict K-edge XANES from structures with an ensemble bundle (numpy forward pass, no TF).

    ``predict(atoms)`` returns a :class:`~xanesviz.spectrum.Spectrum` with the model's
    prediction (the networks' mean, blended with the kernel and nearest-neighbour members if the
    bundle has them) and the networks' standard deviation; ``predict([atoms, ...])`` returns a list.
    """

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        self.descriptor = bundle.descriptor
        self.energy = bundle.energy
        self.element = bundle.descriptor.element
        self.name = bundle.card.get("name", bundle.path.name)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, backend: str = "numpy") -> "Predictor":
        return cls(load_bundle(default_bundle_path() if path is None else path, backend=backend))

    @property
    def card(self) -> dict:
        return self.bundle.card

    @property
    def n_members(self) -> int:
        return self.bundle.network.n_members

    # -- features -------------------------------------------------------------------------
    def cluster(self, atoms: Atoms | Cluster, absorber=None, source: str = "structure") -> Cluster:
        if isinstance(atoms, Cluster):
            return atoms
        return self.descriptor.cluster(atoms, absorber, source)

    def features(self, atoms: Atoms | Cluster, absorber=None, source: str = "structure") -> np.ndarray:
        """The raw descriptor row (read-only). For a ``Cluster`` the last one's row is kept: the
        dashboard asks for the same cluster's features for the prediction and then for the trust
        signal on every move, and featurising is most of the trust signal's time."""
        if not isinstance(atoms, Cluster):
            return self.descriptor.featurise_cluster(self.cluster(atoms, absorber, source))
        last = getattr(self, "_last_cluster_features", None)
        if (last is not None and last[0] is atoms and np.array_equal(last[1], atoms.vectors)
                and np.array_equal(last[2], atoms.numbers)):  # the same cluster, not edited in place since
            return last[3]
        X = self.descriptor.featurise_cluster(atoms)
        X.flags.writeable = False
        self._last_cluster_features = (atoms, atoms.vectors.copy(), atoms.numbers.copy(), X)
        return X

    # -- prediction -------------------------------------------------------------------------
    def predict_arrays(self, X: np.ndarray, neighbours: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) from raw descriptor rows, each (n_samples, n_energy): the model's
        prediction and the standard deviation over the ensemble's networks
        (``neighbours=False``: without the nearest-neighbour member, if the model has one)."""
        mean, members = self.bundle.forward(self.bundle.standardise(np.atleast_2d(X)), neighbours)
        std = members.std(axis=0)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise XanesvizError("prediction is not finite (descriptor far outside the model's range)")
        return mean, std

    def spectrum(self, mean: np.ndarray, std: np.ndarray, **meta) -> Spectrum:
        info = {"model": self.name, "edge": f"{self.element} K",
                "broadening": f"model targets' Lorentzian FWHM {TARGET_LORENTZIAN_FWHM_EV:g} eV only",
                "std": f"ensemble standard deviation over {self.n_members} networks"}
        info.update({k: v for k, v in meta.items() if v is not None})
        return Spectrum(self.energy.copy(), mean, std, info)

    def predict(self, atoms, absorber=None, source: str | None = None, on_error: str = "raise"):
        """Predict one structure (``ase.Atoms`` or ``Cluster``) or a list of them.

        For a list, ``on_error="return"`` puts the :class:`XanesvizError` of a bad structure in
        its place and predicts the rest; ``"raise"`` stops at the first.
        """
        if isinstance(atoms, (Atoms, Cluster)):
            mean, std = self.predict_arrays(self.features(atoms, absorber, source or "structure"))
            return self.spectrum(mean[0], std[0], structure=source, absorber=self._absorber_label(atoms, absorber))
        rows, results = [], []
        for k, item in enumerate(atoms):
            try:
                rows.append((k, self.features(item, absorber, source=f"structure {k}")))
            except XanesvizError as exc:
                if on_error == "raise":
                    raise
                results.append((k, exc))
        if rows:
            mean, std = self.predict_arrays(np.stack([r for _, r in rows]))
            results += [(k, self.spectrum(mean[i], std[i])) for i, (k, _) in enumerate(rows)]
        return [r for _, r in sorted(results, key=lambda kr: kr[0])]

    # -- explanations -------------------------------------------------------------------------
    def sensitivity(self, atoms: Atoms | Cluster, absorber=None, window: tuple[float, float] | None = None,
                    source: str = "structure") -> np.ndarray:
        """How strongly each atom's position drives the spectrum: RMS over the energy window
        (absolute eV; all energies if None) of |dμ(E)/dr_atom|, μ units per Å, one value per atom
        of the structure (or of the structure a ``Cluster`` was cut from)."""
        from .explain import atom_sensitivity

        return atom_sensitivity(self.bundle, self.cluster(atoms, absorber, source), window)

    @property
    def domain_model(self):
        """Nearest-neighbour distance model of the training features (built on first use)."""
        if getattr(self, "_domain", None) is None:
            from .explain import DomainModel

            if self.bundle.training_features is None:
                raise XanesvizError(f"{self.bundle.path}: bundle has no training features for the trust signal")
            self._domain = DomainModel(self.bundle.training_features)
        return self._domain

    def domain_score(self, atoms: Atoms | Cluster, absorber=None, source: str = "structure",
                     prediction: Spectrum | None = None) -> dict:
        """Trust signal: distance to the training data in standardised descriptor space (with its
        percentile among the training set's own nearest-neighbour distances), a label
        ("within training data" / "unusual" / "far outside") and the ensemble spread
        (taken from ``prediction`` when the caller already has this structure's spectrum)."""
        X = self.features(atoms, absorber, source)[None, :]
        result = self.domain_model.score(self.bundle.standardise(X))
        if prediction is None or prediction.std is None:
            mean, std = (a[0] for a in self.predict_arrays(X))
        else:
            mean, std = prediction.mu, prediction.std
        result["ensemble_spread_pct"] = float(100.0 * std.mean() / max(float(np.abs(mean).mean()), 1e-12))
        return result

    def _absorber_label(self, atoms, absorber) -> str | None:
        from ase.data import chemical_symbols

        if isinstance(atoms, Cluster):
            index = atoms.absorber_index
            return None if index is None else f"{chemical_symbols[atoms.absorber_number]} atom {index}"
        from .structure import choose_absorber

        index = choose_absorber(atoms, absorber, self.element)
        return f"{atoms[index].symbol} atom {index}"
