"""Model bundles on disk: Keras weights, preprocessing arrays and a JSON model card.

A bundle directory holds

* ``member_K.keras``: each ensemble network in Keras format (loaded with ``safe_mode=True``);
* ``fast_weights.npz``: the same networks with batch norm folded in, for the numpy forward pass;
* ``preprocessing.npz``: variance-filter support, standardisation mean/scale, target scaling,
  and the standardised training features (for the trust signal);
* ``kernel.npz``: the kernel ridge member's training inputs and dual coefficients, when the
  recipe blends one in (``kernel_weight`` > 0);
* ``neighbours.npz``: the nearest-neighbour member's values per training complex, its spectrum
  or the model's in-sample residual (``neighbour_mode``), and its training inputs unless the
  bundle holds them already (the kernel member's, or the training features), when the recipe
  has one (``neighbour_width`` > 0);
* ``residual.npz``: a residual member added to the mean after any output map (the FEFF10 edge
  models): a kernel member's training inputs, dual coefficients (spectrum units) and width, or a
  linear member's centre and weights (:mod:`xanesviz.linear_member`);
* ``last_layer.npz``: the networks' last layer for this bundle alone (weights, biases), replacing
  that of the networks it reads (its own or a sibling's): the FEFF10 edge models' layer per edge;
* ``output_map.npz``: a map of the spectra and an offset, folded into the networks' last layer;
* ``importance.npz``: permutation importance per feature and energy point (optional);
* ``model_card.json``: edge, energy grid, descriptor parameters and fingerprint, training data
  summary, recipe, CV metrics, package version.

Nothing is pickled: every ``np.load`` runs with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .descriptor import WACSF
from .ensemble import Ensemble
from .errors import ModelBundleError
from .kernel import KernelMember
from .neighbours import MODES as NEIGHBOUR_MODES, NeighbourMember
from .network import StackedMLP

CARD = "model_card.json"
FAST_WEIGHTS = "fast_weights.npz"
PREPROCESSING = "preprocessing.npz"
IMPORTANCE = "importance.npz"
KERNEL = "kernel.npz"
NEIGHBOURS = "neighbours.npz"
OUTPUT_MAP = "output_map.npz"
LAST_LAYER = "last_layer.npz"
RESIDUAL = "residual.npz"
FORMAT_VERSION = 1


def reference_cluster():
    """A fixed distorted octahedron used to fingerprint the descriptor implementation."""
    from .structure import Cluster

    vectors = np.array([[1.95, 0.1, 0.0], [-2.05, 0.0, 0.1], [0.05, 2.1, 0.0], [0.0, -1.9, 0.2],
                        [0.1, 0.0, 2.2], [0.0, 0.15, -2.0], [2.9, 1.1, 0.3], [-1.2, -3.4, 2.5], [4.8, 2.5, 1.0]])
    return Cluster(26, np.array([8, 8, 7, 7, 6, 17, 1, 6, 15]), vectors)


def descriptor_fingerprint(descriptor: WACSF) -> list[float]:
    return [float(v) for v in descriptor.create(reference_cluster())]


def _from_ensemble(name: str, doc: str):
    return property(lambda self: getattr(self.ensemble, name), doc=doc)


@dataclass
class Bundle:
    """A loaded bundle: the fitted :class:`~xanesviz.ensemble.Ensemble`, with the descriptor it
    reads, the model card that says what it is (edge, energy grid, recipe) and where it lies.

    The ensemble's parts are readable here too (``bundle.network`` is ``bundle.ensemble.network``).
    """

    path: Path
    card: dict
    descriptor: WACSF
    ensemble: Ensemble

    @property
    def energy(self) -> np.ndarray:
        return energy_grid(self.card)

    network = _from_ensemble("network", "The networks (numpy, batch norm folded).")
    kernel = _from_ensemble("kernel", "The kernel ridge member, or None.")
    kernel_weight = _from_ensemble("kernel_weight", "The kernel member's share of the mean.")
    neighbours = _from_ensemble("neighbours", "The nearest-neighbour member, or None.")
    support = _from_ensemble("support", "The variance filter's kept columns.")
    x_mean = _from_ensemble("x_mean", "Standardisation mean of the kept columns.")
    x_scale = _from_ensemble("x_scale", "Standardisation scale of the kept columns.")
    y_mean = _from_ensemble("y_mean", "Target scaling: mean.")
    y_scale = _from_ensemble("y_scale", "Target scaling: scale.")
    training_features = _from_ensemble("training_inputs", "Standardised training features, or None.")

    def standardise(self, X: np.ndarray) -> np.ndarray:
        return self.ensemble.standardise(X)

    def forward(self, Z: np.ndarray, gradient: bool = False, neighbours: bool = True):
        """``self.ensemble.forward``: see :meth:`xanesviz.ensemble.Ensemble.forward`."""
        return self.ensemble.forward(Z, gradient=gradient, neighbours=neighbours)


def energy_grid(card: dict) -> np.ndarray:
    grid = card["energy_grid"]
    return np.linspace(grid["start_eV"], grid["stop_eV"], grid["n_points"])


def save_bundle(path: str | os.PathLike, ensemble, descriptor: WACSF, card_extra: dict,
                energy: np.ndarray, training_features: np.ndarray | None = None,
                importance: dict | None = None, networks_from: str | None = None,
                output_map: tuple[np.ndarray, np.ndarray] | None = None, residual_from: str | None = None,
                keep_training_inputs: bool = False,
                last_layer: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Write a trained :class:`~xanesviz.ensemble.Ensemble` as a bundle directory.

    ``training_features``: the raw descriptor rows it was trained on, stored standardised for
    the trust signal (none stored without them: with ``networks_from``, that bundle's are used);
    ``keep_training_inputs``: store the ensemble's own standardised ones instead (a bundle whose
    networks were trained further from another's keeps that one's for the trust signal).
    ``networks_from``: the name of a sibling bundle whose networks this one uses unchanged (only
    its preprocessing and output scaling are its own); no weights are written then.
    ``output_map``: (M, c), written to ``output_map.npz``: the bundle's spectra are then
    ``(network output x y_scale + y_mean) @ M + c``, folded into the networks when loaded.
    A residual member is written to ``residual.npz`` (float32: its ridge keeps the coefficients
    small), or, with ``residual_from``, read from that sibling bundle, which must hold the same one.
    ``last_layer``: (weights, biases) of the networks' last layer, written to ``last_layer.npz``: it
    replaces the last layer of the networks (its own or ``networks_from``'s) when loaded."""
    from . import __version__

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("member_*.keras"):
        old.unlink()
    if networks_from is None:
        for m, network in enumerate(ensemble.keras_networks or ()):
            network.save(path / f"member_{m}.keras")
        np.savez(path / FAST_WEIGHTS, **ensemble.network.arrays())
    else:
        _sibling_bundle(path, networks_from)  # refuses a name that is not a sibling bundle
        (path / FAST_WEIGHTS).unlink(missing_ok=True)
        card_extra = {**card_extra, "networks_from": networks_from}
    arrays = {"support": ensemble.support, "x_mean": ensemble.x_mean, "x_scale": ensemble.x_scale,
              "y_mean": ensemble.y_mean, "y_scale": ensemble.y_scale}
    if training_features is not None:
        arrays["training_features"] = ensemble.standardise(training_features).astype(np.float32)
    elif keep_training_inputs and ensemble.training_inputs is not None:
        arrays["training_features"] = np.asarray(ensemble.training_inputs, np.float32)
    np.savez(path / PREPROCESSING, **arrays)
    held_inputs = [arrays["training_features"]] if "training_features" in arrays else []
    if ensemble.kernel is not None:
        np.savez(path / KERNEL, **ensemble.kernel.arrays())
    elif (path / KERNEL).exists():
        (path / KERNEL).unlink()
    if getattr(ensemble, "neighbours", None) is not None:
        arrays = ensemble.neighbours.arrays()
        if ensemble.kernel is not None and ensemble.neighbours.train_inputs is ensemble.kernel.train_inputs:
            del arrays["neighbour_inputs"]  # the kernel member's, stored once in kernel.npz
        elif any(np.array_equal(arrays["neighbour_inputs"], held) for held in held_inputs):
            del arrays["neighbour_inputs"]  # the trust signal's training features, stored once
        np.savez(path / NEIGHBOURS, **arrays)
    elif (path / NEIGHBOURS).exists():
        (path / NEIGHBOURS).unlink()
    residual = getattr(ensemble, "residual", None)
    if residual is not None and residual_from is None:
        np.savez_compressed(path / RESIDUAL, **{key: np.asarray(value, np.float32) if value.ndim else value
                                                for key, value in residual.arrays().items()})
    elif (path / RESIDUAL).exists():
        (path / RESIDUAL).unlink()
    if residual is not None and residual_from is not None:
        card_extra = {**card_extra, "residual_from": residual_from}
    if last_layer is not None:
        np.savez(path / LAST_LAYER, weights=np.asarray(last_layer[0], np.float32),
                 biases=np.asarray(last_layer[1], np.float32))
    elif (path / LAST_LAYER).exists():
        (path / LAST_LAYER).unlink()
    if output_map is not None:
        np.savez(path / OUTPUT_MAP, map=np.asarray(output_map[0], np.float32), offset=np.asarray(output_map[1], float))
    elif (path / OUTPUT_MAP).exists():
        (path / OUTPUT_MAP).unlink()
    if importance is not None:
        np.savez(path / IMPORTANCE, per_energy=importance["per_energy"].astype(np.float32),
                 baseline_mse=importance["baseline_mse"], energy=importance["energy"])
    card = {
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "edge": {"element": descriptor.element, "edge": "K"},
        "energy_grid": {"start_eV": float(energy[0]), "stop_eV": float(energy[-1]), "n_points": int(len(energy)),
                        "units": "eV (absolute)"},
        "descriptor": {"type": "wACSF", "params": descriptor.to_params(), "n_features": descriptor.n_features,
                       "fingerprint": descriptor_fingerprint(descriptor)},
        "recipe": dict(ensemble.recipe),
        "ensemble_members": ensemble.n_networks,
        "train_seconds": round(ensemble.train_seconds, 1),
        **card_extra,
    }
    with open(path / CARD, "w", encoding="utf-8") as handle:
        json.dump(card, handle, indent=2, default=_json_default)
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _load_residual(path: Path, n_inputs: int, n_energy: int):
    """The residual member of ``residual.npz``: a kernel ridge member or a linear one, by its arrays."""
    from .linear_member import LinearMember

    arrays = _load_npz(path, ())
    if "linear_weights" in arrays:
        arrays = _load_npz(path, ("linear_centre", "linear_weights"))
        member = LinearMember.from_arrays(arrays)
        if member.centre.shape != (n_inputs,) or member.weights.shape != (n_inputs, n_energy):
            raise ModelBundleError(f"{path}: shapes do not match the network and the energy grid")
        return member
    member = KernelMember.from_arrays(_load_npz(path, ("kernel_train_inputs", "kernel_dual", "kernel_gamma")))
    if member.train_inputs.shape[1] != n_inputs or member.dual.shape != (len(member.train_inputs), n_energy):
        raise ModelBundleError(f"{path}: shapes do not match the network and the energy grid")
    return member


def _load_npz(path: Path, keys: tuple[str, ...]) -> dict:
    if not path.is_file():
        raise ModelBundleError(f"{path}: missing from the model bundle")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise ModelBundleError(f"{path}: lacks {', '.join(missing)}")
            return {k: data[k] for k in data.files}
    except ModelBundleError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelBundleError(f"{path}: not a readable numpy archive ({exc})") from None


def read_card(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_dir():
        raise ModelBundleError(f"{path}: no such model bundle directory")
    card_path = path / CARD
    if not card_path.is_file():
        raise ModelBundleError(f"{card_path}: missing (is {path} a xanesviz model bundle?)")
    try:
        with open(card_path, encoding="utf-8") as handle:
            card = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelBundleError(f"{card_path}: not valid JSON ({exc})") from None
    for key in ("format_version", "descriptor", "energy_grid", "edge"):
        if key not in card:
            raise ModelBundleError(f"{card_path}: lacks '{key}'")
    if card["format_version"] != FORMAT_VERSION:
        raise ModelBundleError(f"{card_path}: bundle format {card['format_version']} is not the supported {FORMAT_VERSION}")
    return card


def check_descriptor(card: dict, path: Path) -> WACSF:
    """The bundle's descriptor, after checking this package computes it as it did at training."""
    try:
        descriptor = WACSF.from_params(card["descriptor"]["params"])
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelBundleError(f"{path}: descriptor parameters unusable ({exc})") from None
    expected = np.asarray(card["descriptor"].get("fingerprint", []), float)
    actual = np.asarray(descriptor_fingerprint(descriptor))
    if expected.shape != actual.shape or not np.allclose(actual, expected, rtol=1e-6, atol=1e-9):
        raise ModelBundleError(f"{path}: was trained with a different descriptor than this xanesviz computes "
                               "(fingerprint mismatch); retrain it or use the matching package version")
    return descriptor


def _sibling_bundle(path: Path, name, key: str = "networks_from", what: str = "networks") -> Path:
    """The sibling bundle folder ``name`` whose ``what`` a bundle uses (its card's ``key``:
    ``networks_from`` for the networks, ``residual_from`` for the residual member)."""
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ModelBundleError(f"{path / CARD}: {key} must name a sibling bundle folder, not {name!r}")
    shared = path.parent / name
    if not (shared / CARD).is_file():
        raise ModelBundleError(f"{path}: uses the {what} of {shared}, which is not a model bundle")
    return shared


def load_bundle(path: str | os.PathLike, backend: str = "numpy") -> Bundle:
    """Load a bundle. ``backend="keras"`` reads the ``.keras`` files (safe_mode) instead of fast weights.

    A bundle whose card names ``networks_from`` reads that sibling bundle's networks (and, if it
    stores none of its own, its training features for the trust signal)."""
    path = Path(path)
    card = read_card(path)
    descriptor = check_descriptor(card, path)
    pre = _load_npz(path / PREPROCESSING, ("support", "x_mean", "x_scale", "y_mean", "y_scale"))
    networks_dir = path
    if "networks_from" in card:
        networks_dir = _sibling_bundle(path, card["networks_from"])
        if "training_features" not in pre:
            shared_pre = _load_npz(networks_dir / PREPROCESSING, ("support", "x_mean", "x_scale"))
            if "training_features" in shared_pre and all(np.array_equal(shared_pre[k], pre[k])
                                                         for k in ("support", "x_mean", "x_scale")):
                pre["training_features"] = shared_pre["training_features"]
    if backend == "numpy":
        arrays = _load_npz(networks_dir / FAST_WEIGHTS, ("W0", "b0"))
        network = StackedMLP.from_arrays(arrays)
    elif backend == "keras":
        member_files = sorted(networks_dir.glob("member_*.keras"))
        if not member_files:
            raise ModelBundleError(f"{networks_dir}: no member_*.keras files")
        network = StackedMLP.from_keras([_load_keras_file(p) for p in member_files])
    else:
        raise ValueError(f"unknown backend {backend!r}")
    if (path / LAST_LAYER).exists():
        layer = _load_npz(path / LAST_LAYER, ("weights", "biases"))
        try:
            network = network.with_last_layer(layer["weights"], layer["biases"])
        except ValueError as exc:
            raise ModelBundleError(f"{path / LAST_LAYER}: {exc}") from None
    support = pre["support"].astype(bool)
    if support.shape != (descriptor.n_features,) or network.n_inputs != int(support.sum()):
        raise ModelBundleError(f"{path}: preprocessing and network shapes do not match the descriptor")
    energy = energy_grid(card)
    if network.weights[-1].shape[-1] != len(energy):
        raise ModelBundleError(f"{path}: network output ({network.weights[-1].shape[-1]}) does not match the energy grid")
    kernel_weight = float(card.get("recipe", {}).get("kernel_weight", 0.0))
    kernel = None
    if kernel_weight > 0:
        kernel = KernelMember.from_arrays(_load_npz(path / KERNEL, ("kernel_train_inputs", "kernel_dual", "kernel_gamma")))
        if kernel.train_inputs.shape[1] != network.n_inputs or kernel.dual.shape[1] != len(energy):
            raise ModelBundleError(f"{path / KERNEL}: shapes do not match the network and the energy grid")
    recipe = card.get("recipe", {})
    neighbours = None
    if float(recipe.get("neighbour_width", 0.0)) > 0:
        mode = recipe.get("neighbour_mode", "spectra")
        if mode not in NEIGHBOUR_MODES:
            raise ModelBundleError(f"{path / CARD}: unknown neighbour_mode {mode!r}")
        held = [a for a in (None if kernel is None else kernel.inputs, pre.get("training_features"))
                if a is not None]
        arrays = _load_npz(path / NEIGHBOURS, (NEIGHBOUR_MODES[mode],))
        if "neighbour_inputs" not in arrays and not held:
            raise ModelBundleError(f"{path / NEIGHBOURS}: lacks neighbour_inputs")
        neighbours = NeighbourMember.from_arrays(arrays, float(recipe["neighbour_width"]),
                                                 float(recipe["neighbour_model_weight"]), mode, known_inputs=held)
        if (neighbours.train_inputs.shape[1] != network.n_inputs or neighbours.train_values.shape[1] != len(energy)
                or len(neighbours.train_inputs) != len(neighbours.train_values)):
            raise ModelBundleError(f"{path / NEIGHBOURS}: shapes do not match the network and the energy grid")
    residual, residual_file = None, path / RESIDUAL
    if "residual_from" in card:
        residual_file = _sibling_bundle(path, card["residual_from"], "residual_from", "residual member") / RESIDUAL
        if not residual_file.is_file():
            raise ModelBundleError(f"{path}: its residual member should be in {residual_file}, which is missing")
    if residual_file.is_file():
        residual = _load_residual(residual_file, network.n_inputs, len(energy))
    for name, arr in (("weights", np.concatenate([w.ravel() for w in network.weights])), ("x_scale", pre["x_scale"]),
                      ("kernel", np.zeros(1) if kernel is None else np.concatenate([kernel.dual.ravel(),
                                                                                      kernel.train_inputs.ravel()])),
                      ("neighbours", np.zeros(1) if neighbours is None else np.concatenate(
                          [neighbours.train_inputs.ravel(), neighbours.train_values.ravel()])),
                      ("residual member", np.zeros(1) if residual is None else np.concatenate(
                          [np.ravel(v) for v in residual.arrays().values()]))):
        if not np.all(np.isfinite(arr)):
            raise ModelBundleError(f"{path}: non-finite {name}")
    ensemble = Ensemble(support, pre["x_mean"], pre["x_scale"], pre["y_mean"], pre["y_scale"], network, kernel,
                        kernel_weight, neighbours, pre.get("training_features"), dict(recipe),
                        train_seconds=float(card.get("train_seconds", 0.0)), residual=residual)
    if (path / OUTPUT_MAP).exists():
        mapping = _load_npz(path / OUTPUT_MAP, ("map", "offset"))
        if not (np.all(np.isfinite(mapping["map"])) and np.all(np.isfinite(mapping["offset"]))):
            raise ModelBundleError(f"{path / OUTPUT_MAP}: non-finite values")
        try:
            ensemble = ensemble.with_output_map(mapping["map"], mapping["offset"])
        except ValueError as exc:
            raise ModelBundleError(f"{path / OUTPUT_MAP}: {exc}") from None
    return Bundle(path, card, descriptor, ensemble)


def _load_keras_file(path: Path):
    import keras

    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise ModelBundleError(f"{path}: cannot be loaded as a Keras model ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    return model


def load_importance(bundle: Bundle) -> dict | None:
    """The stored permutation importance (per feature and energy point), or None."""
    path = bundle.path / IMPORTANCE
    if not path.is_file():
        return None
    arrays = _load_npz(path, ("per_energy", "baseline_mse", "energy"))
    arrays["names"] = bundle.descriptor.feature_names()
    return arrays
