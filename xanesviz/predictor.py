"""The facade: a model bundle in, ``predict(atoms) -> Spectrum`` out, fast enough for live use.

Everything a caller (the dashboard, the command line, a refinement) needs from a model goes
through :class:`Predictor`: the model's edge, energy grid, Fermi level and default windows (from
its card), predictions, exact gradients, atom sensitivities, the trust signal and the stored
feature importance.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols

from .bundle import Bundle, load_bundle
from .errors import ModelBundleError, StructureError, XanesvizError
from .spectrum import Broadening, Spectrum
from .structure import Cluster, choose_absorber, cut_cluster

#: Where ``Predictor.load()`` looks when no bundle is named: $XANESVIZ_MODEL, else the shipped one.
DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "pretrained" / "fe-k"


def default_bundle_path() -> Path:
    return Path(os.environ.get("XANESVIZ_MODEL", DEFAULT_BUNDLE))


class Predictor:
    """Predict K-edge XANES from structures with an ensemble bundle (numpy forward pass, no TF).

    ``predict(atoms)`` returns a :class:`~xanesviz.spectrum.Spectrum` with the model's
    prediction (the networks' mean, blended with the kernel and nearest-neighbour members if the
    bundle has them) and the networks' standard deviation; ``predict([atoms, ...])`` returns a list.
    The absorber is the first atom of the model's element unless ``absorber=`` names one (an
    index or the element); an absorber of another element is refused.
    """

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        self.ensemble = bundle.ensemble
        self.descriptor = bundle.descriptor
        self.energy = bundle.energy
        edge = bundle.card["edge"]
        self.element = edge.get("element") or bundle.descriptor.element
        if self.element not in atomic_numbers:
            raise ModelBundleError(f"{bundle.path}: the model card's edge element {self.element!r} is no element")
        self.edge = edge.get("edge", "K")
        self.name = bundle.card.get("name", bundle.path.name)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, backend: str = "numpy",
             element: str | None = None) -> "Predictor":
        """The bundle at ``path``; else the default model for ``element``'s K edge (see
        :mod:`xanesviz.catalogue`); else $XANESVIZ_MODEL or the shipped Fe K model."""
        if path is None and element is not None:
            from .catalogue import model_for

            path = model_for(element).path
        return cls(load_bundle(default_bundle_path() if path is None else path, backend=backend))

    @classmethod
    def for_structure(cls, atoms: Atoms, absorber: int | str | None = None, source: str = "structure",
                      backend: str = "numpy") -> "Predictor":
        """The default model for the structure's absorber (the named atom, or its one Ti–Zn
        metal); a structure with several metals needs ``absorber``."""
        from .catalogue import absorber_element

        return cls.load(element=absorber_element(atoms, absorber, source), backend=backend)

    # -- what the model is ------------------------------------------------------------------
    @property
    def card(self) -> dict:
        return self.bundle.card

    @property
    def n_networks(self) -> int:
        return self.ensemble.n_networks

    n_members = n_networks  # the older name

    @property
    def members(self) -> list[str]:
        """The ensemble's parts, in words: networks, and the kernel and neighbour members if any."""
        parts = [f"{self.n_networks}-network ensemble"]
        if self.ensemble.kernel is not None:
            parts.append("kernel ridge member")
        if self.ensemble.neighbours is not None:
            parts.append("nearest-neighbour member")
        return parts

    @property
    def edge_energy(self) -> float:
        """The edge energy (absolute eV): the card's, else xraydb's for the element and edge."""
        recorded = self.card["edge"].get("edge_energy_eV")
        if recorded is not None:
            return float(recorded)
        from .spectrum import edge_energy

        return edge_energy(self.element, self.edge)

    @property
    def fermi_level(self) -> float:
        """The Fermi level of the model's targets (absolute eV; the card's, else the edge energy):
        where the arctangent broadening starts to grow."""
        recorded = self.card["edge"].get("fermi_level_eV")
        return float(recorded) if recorded is not None else self.edge_energy

    @property
    def target_broadening(self) -> str:
        """What broadening the model's targets already carry, in words (from the card)."""
        fwhm = self.card.get("target_lorentzian_fwhm_eV")
        if fwhm is not None:
            return f"Lorentzian FWHM {float(fwhm):g} eV"
        return str(self.card.get("target_broadening", "as in the training data")).replace(
            " (already in the targets)", "")

    @property
    def core_hole_width(self) -> float:
        """Natural width of the model's core hole (FWHM, eV): the card's (recorded from xraydb when
        the model was written; reading xraydb's database costs a dashboard 0.5 s of its start), else
        xraydb's."""
        recorded = self.card["edge"].get("core_hole_width_eV")
        if recorded is not None:
            return float(recorded)
        from .spectrum import core_hole_width

        return core_hole_width(self.element, self.edge)

    @property
    def default_windows(self) -> dict[str, tuple[float, float]]:
        """Pre-edge, edge and post-edge windows (absolute eV) from the grid and the edge energy."""
        from .explain import default_windows

        return default_windows(self.energy, self.edge_energy)

    def broadening(self, **settings) -> Broadening:
        """A :class:`~xanesviz.spectrum.Broadening` at this model's Fermi level (unless given)."""
        return Broadening(**{"e_fermi": self.fermi_level, **settings})

    # -- structures ----------------------------------------------------------------------------
    def absorber_index(self, atoms: Atoms, absorber=None, source: str = "structure") -> int:
        """The absorber's index: ``absorber`` (index or element symbol), else the first atom of the
        model's element; a StructureError if that atom is not of the model's element."""
        index = choose_absorber(atoms, absorber, self.element, source)
        self._check_absorber(int(atoms.numbers[index]), source, index)
        return index

    def _check_absorber(self, number: int, source: str, index=None) -> None:
        if number != atomic_numbers[self.element]:
            where = "" if index is None else f" (atom {index})"
            raise StructureError(f"{source}: the absorber{where} is {chemical_symbols[number]}, but model "
                                 f"{self.name} predicts the {self.element} {self.edge} edge")

    def cluster(self, atoms: Atoms | Cluster, absorber=None, source: str = "structure",
                radius: float | None = None) -> Cluster:
        """The absorber's neighbourhood within ``radius`` Å (default: the descriptor's cutoff)."""
        if isinstance(atoms, Cluster):
            self._check_absorber(atoms.absorber_number, source, atoms.absorber_index)
            return atoms
        index = self.absorber_index(atoms, absorber, source)
        return cut_cluster(atoms, index, self.descriptor.r_max if radius is None else radius, source)

    def features(self, atoms: Atoms | Cluster, absorber=None, source: str = "structure") -> np.ndarray:
        """The raw descriptor row (read-only). For a ``Cluster`` the last one's row is kept: the
        dashboard asks for the same cluster's features for the prediction and then for the trust
        signal on every move, and featurising is most of the trust signal's time."""
        if not isinstance(atoms, Cluster):
            return self.descriptor.create(self.cluster(atoms, absorber, source))
        last = getattr(self, "_last_cluster_features", None)
        if (last is not None and last[0] is atoms and np.array_equal(last[1], atoms.vectors)
                and np.array_equal(last[2], atoms.numbers)):  # the same cluster, not edited in place since
            return last[3]
        X = self.descriptor.create(self.cluster(atoms, source=source))
        X.flags.writeable = False
        self._last_cluster_features = (atoms, atoms.vectors.copy(), atoms.numbers.copy(), X)
        return X

    # -- prediction -------------------------------------------------------------------------
    def predict_arrays(self, X: np.ndarray, neighbours: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) from raw descriptor rows, each (n_samples, n_energy): the model's
        prediction and the standard deviation over the ensemble's networks
        (``neighbours=False``: without the nearest-neighbour member, if the model has one)."""
        mean, std = self.ensemble.predict(X, return_std=True, neighbours=neighbours)
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise XanesvizError("prediction is not finite (descriptor far outside the model's range)")
        return mean, std

    def spectrum(self, mean: np.ndarray, std: np.ndarray, **meta) -> Spectrum:
        info = self.__dict__.get("_spectrum_info")
        if info is None:  # what every spectrum of this model says about it, put together once
            info = self.__dict__["_spectrum_info"] = {
                "model": self.name, "edge": f"{self.element} {self.edge}",
                "broadening": f"model targets' {self.target_broadening} only",
                "fermi_level_eV": f"{self.fermi_level:g}",
                "std": f"ensemble standard deviation over {self.n_networks} networks"}
        info = {**info, **{k: v for k, v in meta.items() if v is not None}}
        return Spectrum(self.energy, mean, std, info)

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

    # -- gradients and explanations -------------------------------------------------------------
    def gradient(self, atoms: Atoms | Cluster, absorber=None, members: bool = False,
                 source: str = "structure") -> dict:
        """The model's spectrum and its exact derivative with respect to atom positions.

        Returns a dict with ``energy`` (n_energy,) eV, ``mu`` (n_energy,) the prediction (as
        ``predict(...).mu``) and ``d_mu`` (n_energy, n_atoms, 3), dμ(E)/d(position) in μ units per
        Å, for the atoms of the structure (for a ``Cluster``: of the structure it was cut from, or
        the absorber followed by its neighbours if it was built by hand). Periodic images move
        with their atom; atoms beyond the cutoff get 0. The chain rule runs through the wACSF's
        analytic derivatives, the standardisation and every member of the ensemble (held equal to
        central finite differences in the tests).

        ``members=True`` adds each network's prediction, ``networks_mu`` (n_networks, n_energy),
        and Jacobian, ``networks_d_mu`` (n_networks, n_energy, n_atoms, 3), without the kernel and
        neighbour members: their spread gives error bars (e.g. of a refined geometry).
        """
        from .explain import spectrum_gradient

        result = spectrum_gradient(self.ensemble, self.descriptor, self.cluster(atoms, absorber, source),
                                   networks=members)
        out = {"energy": self.energy, "mu": result["mean"], "d_mu": result["d_mean"]}
        if members:
            out.update(networks_mu=result["networks"], networks_d_mu=result["d_networks"])
        return out

    def sensitivity(self, atoms: Atoms | Cluster, absorber=None, window: tuple[float, float] | None = None,
                    source: str = "structure") -> np.ndarray:
        """How strongly each atom's position drives the spectrum: RMS over the energy window
        (absolute eV; all energies if None) of |dμ(E)/dr_atom|, μ units per Å, one value per atom
        of the structure (or of the structure a ``Cluster`` was cut from)."""
        from .explain import atom_sensitivity

        return atom_sensitivity(self.gradient(atoms, absorber, source=source)["d_mu"], self.energy, window)

    @property
    def domain_model(self):
        """Nearest-neighbour distance model of the training features (built on first use)."""
        if getattr(self, "_domain", None) is None:
            from .explain import DomainModel

            if self.ensemble.training_inputs is None:
                raise XanesvizError(f"{self.bundle.path}: bundle has no training features for the trust signal")
            self._domain = DomainModel(self.ensemble.training_inputs)
        return self._domain

    def domain_score(self, atoms: Atoms | Cluster, absorber=None, source: str = "structure",
                     prediction: Spectrum | None = None) -> dict:
        """Trust signal: distance to the training data in standardised descriptor space (with its
        percentile among the training set's own nearest-neighbour distances), a label
        ("within training data" / "unusual" / "far outside") and the ensemble spread
        (taken from ``prediction`` when the caller already has this structure's spectrum). A model
        whose card has a ``trust_spread_limit`` (the FEFF10 edge models) also judges the spread
        against it (``spread_level``), and the label is the worse of the two verdicts."""
        X = self.features(atoms, absorber, source)[None, :]
        result = self.domain_model.score(self.ensemble.standardise(X))
        if prediction is None or prediction.std is None:
            mean, std = (a[0] for a in self.predict_arrays(X))
        else:
            mean, std = prediction.mu, prediction.std
        result["ensemble_spread_pct"] = float(100.0 * std.mean() / max(float(np.abs(mean).mean()), 1e-12))
        limit = self.card.get("trust_spread_limit")
        if limit:  # the networks disagree more than on complexes of the training kind they never saw
            from .explain import TRUST_LEVELS, spread_level

            result["spread_limit_pct"] = float(limit["limit_pct"])
            result["spread_level"] = spread_level(result["ensemble_spread_pct"], result["spread_limit_pct"])
            if result["spread_level"] > result["level"]:
                result["level"] = result["spread_level"]
                result["label"] = TRUST_LEVELS[result["level"]]
        return result

    def importance(self, window: tuple[float, float] | None = None) -> dict | None:
        """The stored permutation importance over an energy window (all energies if None), by
        descriptor shape: ``g2_centres`` (Å) with ``g2`` (summed over the G2 weightings), and
        ``g4_labels`` (λ, ζ) with ``g4`` (summed over widths and weightings). None if the bundle
        has none."""
        from .bundle import load_importance
        from .explain import window_importance

        if not hasattr(self, "_importance"):
            try:
                self._importance = load_importance(self.bundle)
            except XanesvizError:
                self._importance = None
        if self._importance is None:
            return None
        stored = self._importance
        values = window_importance(stored["per_energy"], stored["baseline_mse"], stored["energy"], window)
        g2, g4 = self.descriptor.summarise_columns(values)
        return {"g2_centres": self.descriptor.g2_centres, "g2": g2,
                "g4_labels": self.descriptor.g4_angular_labels(), "g4": g4}

    def _absorber_label(self, atoms, absorber) -> str | None:
        if isinstance(atoms, Cluster):
            index = atoms.absorber_index
            return None if index is None else f"{chemical_symbols[atoms.absorber_number]} atom {index}"
        index = choose_absorber(atoms, absorber, self.element)
        return f"{chemical_symbols[atoms.numbers[index]]} atom {index}"
