"""One network for every first-row K edge with FEFF10 data, and a bundle per edge from it.

The FEFF10 data sets (``data/feff/{metal}-k/``, made by ``xanesviz simulate``) share one grid
relative to each edge (xraydb's edge energy -15 to +60 eV, 226 points), so their spectra stack.
A few dozen spectra per edge cannot train a network per edge, so one network learns from all
edges together: the absorber enters as its edge's **mean spectrum**. Each spectrum's target is
its deviation from its edge's mean (plus the pooled mean, to keep the targets' scale), and an
edge's bundle adds its own mean back (in the networks' output scaling ``y_mean``). That is a
one-hot absorber input wired straight to the output layer: the networks learn how geometry
moves a spectrum, shared across edges; the edge decides the baseline. An edge with no spectra
yet gets the pooled mean: its predictions are the other edges' geometry response on the
pooled mean spectrum, on its own energies, and :func:`cross_validate_edges` measures what that
is worth by leaving whole edges out.

Cross-validation groups by parent complex (:func:`xanesviz.derived_set.parent_of`): a parent,
its displaced variants and the same complex with the other metals share one fold.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import packed
from .data import Dataset, load_dataset
from .derived_set import parent_of, variant_of
from .errors import XanesvizError
from .kernel import KernelMember
from .linear_member import LinearMember
from .model import Recipe, train
from .structure import TRANSITION_METALS

#: The nine K edges the project predicts, Ti to Zn.
EDGE_METALS = TRANSITION_METALS[TRANSITION_METALS.index("Ti"):]

#: Where the shipped FEFF10 data sets live (one ``{metal}-k`` folder each).
FEFF_DATA = Path(__file__).resolve().parents[1] / "data" / "feff"


def edge_folder(root: str | Path, element: str) -> Path:
    return Path(root) / f"{element.lower()}-k"


def read_edges(root: str | Path = FEFF_DATA, elements=EDGE_METALS) -> dict[str, Dataset]:
    """The FEFF10 data set of each edge under ``root`` that has spectra, by element (Ti–Zn order)."""
    from .feff import edge_grid

    sets = {}
    for element in elements:
        folder = edge_folder(root, element)
        if not (folder / "spectra").is_dir() or not packed.stems(folder / "spectra", ".txt"):
            continue
        sets[element] = load_dataset(folder, edge_grid(element))
    if not sets:
        raise XanesvizError(f"{root}: no FEFF10 spectra in any {{metal}}-k/ folder")
    return sets


@dataclass
class Pooled:
    """Every edge's samples stacked: descriptor rows, spectra, and per sample its edge, parent
    and whether it is a displaced variant."""

    X: np.ndarray
    y: np.ndarray
    edges: np.ndarray  # element symbol per sample
    parents: np.ndarray  # parent refcode per sample (the CV group)
    variants: np.ndarray  # bool: a displaced variant
    stems: list
    weights: np.ndarray | None = None  # per sample, in the output map's fit (None: all 1)

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> "Pooled":
        """The samples of ``mask`` (bool, one per sample)."""
        return dataclasses.replace(self, X=self.X[mask], y=self.y[mask], edges=self.edges[mask],
                                   parents=self.parents[mask], variants=self.variants[mask],
                                   stems=[s for s, keep in zip(self.stems, mask) if keep],
                                   weights=None if self.weights is None else self.weights[mask])

    def sample_weights(self) -> np.ndarray:
        return np.ones(len(self)) if self.weights is None else np.asarray(self.weights, float)


def concatenate(sets: list[Pooled]) -> Pooled:
    """Several pooled sets as one (their stems must differ)."""
    stems = sum((list(d.stems) for d in sets), [])
    if len(set(stems)) != len(stems):
        raise XanesvizError("pooled data sets share a structure's name: " + next(
            s for s in stems if stems.count(s) > 1))
    return Pooled(np.vstack([d.X for d in sets]), np.vstack([d.y for d in sets]),
                  np.concatenate([d.edges for d in sets]), np.concatenate([d.parents for d in sets]),
                  np.concatenate([d.variants for d in sets]), stems,
                  None if all(d.weights is None for d in sets) else np.concatenate([d.sample_weights() for d in sets]))


def pool(sets: dict[str, Dataset], descriptor) -> Pooled:
    """Featurise every edge's structures (each at its own metal) and stack them."""
    X, y, edges, stems = [], [], [], []
    for element, dataset in sets.items():
        X.append(descriptor.transform(dataset.structures, absorber=element))
        y.append(dataset.spectra)
        edges += [str(element)] * len(dataset)
        stems += list(dataset.names)
    return Pooled(np.vstack(X), np.vstack(y), np.array(edges, dtype=object), np.array([parent_of(s) for s in stems]),
                  np.array([variant_of(s) is not None for s in stems]), stems)


class EdgeModel:
    """Spectra of every edge from one set of networks: each edge's mean spectrum plus the
    networks' learned deviation from the pooled mean. Subclasses say how the networks are fitted."""

    method = ""

    def __init__(self, ensemble, pooled_mean: np.ndarray, edge_means: dict, counts: dict):
        self.ensemble = ensemble  # xanesviz.ensemble.Ensemble, predicting pooled mean + deviation
        self.pooled_mean = pooled_mean
        self.edge_means = edge_means  # element -> mean spectrum of that edge's training spectra
        self.counts = counts  # element -> training spectra of that edge

    def mean_for(self, element: str) -> np.ndarray:
        return self.edge_means.get(element, self.pooled_mean)

    def ensemble_for(self, element: str):
        """The ensemble that predicts ``element``'s edge: the shared networks on its mean."""
        offset = self.mean_for(element) - self.pooled_mean
        return dataclasses.replace(self.ensemble, y_mean=self.ensemble.y_mean + offset)

    def predict(self, X: np.ndarray, edges) -> np.ndarray:
        out = self.ensemble.predict_mean(X) - self.pooled_mean
        return out + np.array([self.mean_for(e) for e in edges])

    def networks_for(self, X: np.ndarray, element: str) -> np.ndarray:
        """(n_networks, n, n_energy): each network's spectrum for ``element``'s edge, up to an offset
        that all networks share (what the spread is taken over)."""
        return self.ensemble.predict_networks(X)

    def spread(self, X: np.ndarray, edges) -> np.ndarray:
        """Per row, the networks' spread as the trust badge reports it: their standard deviation,
        averaged over energy, in % of the mean |μ| of the predicted spectrum."""
        edges = np.asarray(edges, dtype=object)
        X = np.asarray(X)
        mean = np.abs(self.predict(X, edges)).mean(axis=1)
        std = np.empty(len(X))
        for element in dict.fromkeys(edges):
            rows = edges == element
            std[rows] = self.networks_for(X[rows], element).std(axis=0).mean(axis=1)
        return 100.0 * std / np.maximum(mean, 1e-12)


def training_spread_medians(model: "EdgeModel", data: "Pooled", mask: np.ndarray) -> dict:
    """Per edge, the median spread (:meth:`EdgeModel.spread`) over the unmoved complexes of ``mask``."""
    rows = mask & ~data.variants
    medians = {}
    for element in dict.fromkeys(data.edges[rows]):
        chosen = rows & (data.edges == element)
        medians[str(element)] = float(np.median(model.spread(data.X[chosen], data.edges[chosen])))
    return medians


def edge_means(y: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, dict, dict]:
    """The pooled mean spectrum, each edge's mean and each edge's count."""
    return (y.mean(axis=0), {str(e): y[edges == e].mean(axis=0) for e in dict.fromkeys(edges)},
            {str(e): int((edges == e).sum()) for e in dict.fromkeys(edges)})


class PooledNetwork(EdgeModel):
    """Networks trained (recipe as given) on all edges' deviations from their edge's mean."""

    method = "pooled network"

    @classmethod
    def fit(cls, data: Pooled, recipe: Recipe, seed: int = 0, n_members: int | None = None,
            mask: np.ndarray | None = None) -> "PooledNetwork":
        mask = np.ones(len(data), bool) if mask is None else mask
        X, y, edges = data.X[mask], data.y[mask], data.edges[mask]
        pooled, means, counts = edge_means(y, edges)
        targets = y - np.array([means[e] for e in edges]) + pooled
        return cls(train(X, targets, recipe, seed=seed, n_members=n_members), pooled, means, counts)


class FdmnesTransfer(EdgeModel):
    """The Fe K FDMNES model's networks (trained on 4079 complexes), their output recalibrated
    to FEFF10 and added to each edge's mean spectrum. The deviation of a FEFF10 spectrum from its
    edge's mean is predicted from the deviation A = F - centre of the FDMNES prediction F from its
    mean over the training structures: per energy point, b(E) x A (b by least squares over all
    edges' training spectra); or, with ``map_ridge``, A @ M, a full energy-by-energy map (which
    can move a feature along the energy axis, as FDMNES and FEFF10 place them differently), fitted
    by ridge regression shrunk toward diag(b) with strength ``map_ridge`` x the mean diagonal of
    AᵀA. With ``residual``, a kernel ridge member on the standardised descriptor then learns, over
    all edges, what that recalibration still misses (its in-sample residuals) and is added to the
    spectrum. Its nearest-neighbour member is left out (it holds Fe FDMNES residuals). The
    descriptor rows must be the FDMNES model's (same WACSF settings)."""

    method = "FDMNES transfer"

    def __init__(self, ensemble, pooled_mean, edge_means, counts, premap=None, output_map=None, map_offset=None):
        super().__init__(ensemble, pooled_mean, edge_means, counts)
        self.premap = premap  # with an output map: the FDMNES ensemble it applies to (saved as such)
        self.output_map = output_map  # (n_E, n_E) or None (per-energy factors, folded into y_scale)
        self.map_offset = map_offset  # the pooled mean - centre @ map
        self.residual = None  # (g, alpha) of the residual kernel member, if it has one
        self.linear = None  # (pair weight, alpha) of the linear member, if it has one
        self.fine_tuned = None  # (learning rate, epochs, pair weight) if the networks were trained further on FEFF10
        self.pair_weight = 0.0  # the weight of the data's own drags in the map's fit
        self.edge_maps: dict = {}  # element -> (n_E, n_E) map of the fine-tuned networks' deviation, if fitted
        self.edge_layers: dict = {}  # element -> (weights, biases) of its own last layer of the networks, if fitted
        self.edge_map_ridge = None  # the ridge strength of either

    @classmethod
    def fit(cls, data: Pooled, base, mask: np.ndarray | None = None, prior: float = 0.0,
            map_ridge: float | None = None, residual: tuple[float, float] | None = None,
            fine_tune: tuple | None = None, seed: int = 0,
            pair_weight: float = 0.0, linear: tuple[float, float] | None = None,
            edge_map_ridge: float | None = None, edge_output: str = "map") -> "FdmnesTransfer":
        """``prior``: an edge's mean spectrum is shrunk toward the pooled mean as if the pooled
        mean were ``prior`` more spectra of that edge, (n m_e + prior m) / (n + prior): an edge with
        a handful of spectra leans on all edges, one with many on its own. ``map_ridge``: None for
        per-energy factors, else the full map's ridge strength (see the class). ``fine_tune``:
        None, or (learning rate, epochs[, pair weight]): after the recalibration, every layer of
        the networks (the map folded into their last) is trained further on all edges' FEFF10
        spectra, each as its deviation from its edge's mean, and with a pair weight also on the
        data's own drags (:meth:`fine_tune_networks`; ``seed`` shuffles).
        ``residual``: None, or (width factor g, ridge alpha) of the residual kernel member (RBF,
        gamma = g / number of inputs), fitted last. ``pair_weight`` λ (full map only): the data's own
        drags, each displaced variant's spectrum minus its parent's, join the map's regression as
        extra rows, weighted so that together they count λ times as much as the spectra
        themselves: the map then also learns how FEFF10's spectrum *changes* when a structure
        moves, which the spectra alone hardly constrain (their differences between complexes are
        far larger). ``linear``: None, or (pair weight, ridge alpha) of a linear member on the
        standardised descriptor (:class:`~xanesviz.linear_member.LinearMember`), fitted last, in
        place of the kernel member, to the in-sample residuals of the spectra and, with that pair
        weight, of the data's own drags: a response to a move that the networks lack can be added.
        ``edge_map_ridge``: None, or the ridge strength of what each edge gets of its own after the
        fine-tuning (needs ``fine_tune`` and no residual member): with ``edge_output`` "map" a map
        of the networks' output (:meth:`fit_edge_maps`), with "layer" a last layer of the networks
        (:meth:`fit_edge_layers`)."""
        if residual is not None and linear is not None:
            raise XanesvizError("one residual member only: a kernel member or a linear one, not both")
        if edge_map_ridge is not None and (fine_tune is None or residual is not None or linear is not None):
            raise XanesvizError("a map per edge follows fine-tuned networks without a residual member: "
                                "give a fine-tuning and no residual or linear member")
        if edge_output not in ("map", "layer"):
            raise XanesvizError(f"what each edge gets of its own is a 'map' or a 'layer', not {edge_output!r}")
        model = cls._fit_recalibration(data, base, mask, prior, map_ridge, pair_weight)
        model.pair_weight = float(pair_weight)
        if fine_tune is not None:
            model.fine_tune_networks(data, mask, *fine_tune, seed=seed)  # (lr, epochs[, pair weight])
        if edge_map_ridge is not None:
            fit_own = model.fit_edge_maps if edge_output == "map" else model.fit_edge_layers
            fit_own(data, mask, edge_map_ridge)
        if residual is None and linear is None:
            return model
        mask = np.ones(len(data), bool) if mask is None else mask
        Z = model.ensemble.standardise(data.X[mask])
        missed = data.y[mask] - model.predict(data.X[mask], data.edges[mask])
        if linear is not None:
            row = np.cumsum(mask) - 1  # a sample's row in Z
            pairs = row[variant_pairs(data, mask)]
            member = LinearMember.fit(Z, missed, pairs, pair_weight=float(linear[0]), alpha=float(linear[1]))
            model.linear = tuple(float(v) for v in linear)
        else:
            member = KernelMember.fit(Z, missed, gamma=float(residual[0]) / Z.shape[1], alpha=float(residual[1]))
            model.residual = tuple(float(v) for v in residual)
        model.ensemble = dataclasses.replace(model.ensemble, residual=member)
        if model.premap is not None:
            model.premap = dataclasses.replace(model.premap, residual=member)
        return model

    @classmethod
    def _fit_recalibration(cls, data: Pooled, base, mask, prior, map_ridge, pair_weight=0.0) -> "FdmnesTransfer":
        mask = np.ones(len(data), bool) if mask is None else mask
        base = dataclasses.replace(base, neighbours=None)
        y, edges = data.y[mask], data.edges[mask]
        pooled, means, counts = edge_means(y, edges)
        means = {e: (counts[e] * m + prior * pooled) / (counts[e] + prior) for e, m in means.items()}
        if pair_weight and map_ridge is None:
            raise XanesvizError("a pair weight needs the full energy map (a map ridge), not per-energy factors")
        pairs = variant_pairs(data, mask) if pair_weight else np.zeros((0, 2), int)
        w = data.sample_weights()  # each sample's weight in the fit (its pair's: the variant's)
        F = base.predict_mean(data.X[mask])
        centre = F.mean(axis=0)
        A, D = F - centre, y - np.array([means[e] for e in edges])
        wA = A * w[mask][:, None]
        b = (wA * D).sum(axis=0) / np.maximum((wA * A).sum(axis=0), 1e-12)
        if map_ridge is None:
            # spectrum = pooled + b (F - centre), F = out * y_scale + y_mean: fold it into the scaling
            ensemble = dataclasses.replace(base, y_scale=b * base.y_scale, y_mean=pooled + b * (base.y_mean - centre))
            return cls(ensemble, pooled, means, counts)
        G = wA.T @ A
        penalty = float(map_ridge) * np.trace(G) / len(G)
        rhs = wA.T @ (D - A * b)
        if len(pairs):
            row = np.cumsum(mask) - 1  # a sample's row in F
            dA, dD = F[row[pairs[:, 1]]] - F[row[pairs[:, 0]]], data.y[pairs[:, 1]] - data.y[pairs[:, 0]]
            w_dA = dA * w[pairs[:, 1]][:, None]
            weight = float(pair_weight) * np.trace(G) / max(float(np.sum(w_dA * dA)), 1e-12)
            G = G + weight * w_dA.T @ dA
            rhs = rhs + weight * w_dA.T @ (dD - dA * b)
        output_map = np.diag(b) + np.linalg.solve(G + penalty * np.eye(len(G)), rhs)
        output_map = output_map.astype(np.float32).astype(np.float64)  # as a bundle stores it
        offset = pooled - centre @ output_map
        return cls(base.with_output_map(output_map, offset), pooled, means, counts, base, output_map, offset)

    def fine_tune_networks(self, data: Pooled, mask: np.ndarray | None, learning_rate: float, epochs: int,
                           pair_weight: float = 0.0, seed: int = 0) -> None:
        """Train the recalibrated networks further (:func:`xanesviz.model.fine_tune`) on the
        spectra of ``mask``: each target is the spectrum minus its edge's (shrunk) mean plus the
        pooled mean, what ``predict`` adds the edge's mean back to; with ``pair_weight`` > 0 also
        on the data's own drags (each displaced variant against its parent, both in ``mask``); each
        sample (and pair) weighted as in the map's fit (``data.weights``). The output map is then
        part of the networks' last layer, and a bundle stores the new networks (once, for every
        edge)."""
        from .model import fine_tune

        mask = np.ones(len(data), bool) if mask is None else mask
        ensemble = self.ensemble
        target = data.y[mask] - np.array([self.mean_for(e) for e in data.edges[mask]]) + self.pooled_mean
        Z = ensemble.standardise(data.X[mask])
        target = (target - ensemble.y_mean) / ensemble.y_scale  # in the networks' output units
        if ensemble.kernel is not None:  # the mean blends the networks with a kernel member: they learn their share
            w = ensemble.kernel_weight
            target = (target - w * ensemble.kernel.forward(Z)) / (1.0 - w)
        row = np.cumsum(mask) - 1  # a sample's row in Z
        pairs = row[variant_pairs(data, mask)] if pair_weight else None
        network, _ = fine_tune(ensemble.network, Z, target, learning_rate, int(epochs), seed,
                               pairs=pairs, pair_weight=float(pair_weight), sample_weights=data.sample_weights()[mask])
        self.ensemble = dataclasses.replace(ensemble, network=network, keras_networks=None)
        self.premap = self.output_map = self.map_offset = None  # folded into the networks now
        self.fine_tuned = (float(learning_rate), int(epochs), float(pair_weight))

    def fit_edge_maps(self, data: Pooled, mask: np.ndarray | None, ridge: float) -> None:
        """A map per edge of the fine-tuned networks' deviation P = F - pooled mean onto the edge's
        deviation D = spectrum - edge mean, I + Δ: Δ by ridge regression of the residual D - P on
        P over that edge's spectra of ``mask`` (each weighted as in the fine-tuning), shrunk toward
        the identity with strength ``ridge`` x the mean diagonal of PᵀP. The descriptor does not
        see the absorber, so the shared networks give every metal the same deviation for one
        geometry; the map lets each edge reshape it (scale a feature, move it along the energy
        axis) as its own FEFF10 spectra say. An edge without spectra keeps the identity."""
        if self.fine_tuned is None:
            raise XanesvizError("a map per edge is fitted to fine-tuned networks: fine-tune them first")
        if not ridge > 0:
            raise XanesvizError(f"a map per edge needs a positive ridge strength, got {ridge}")
        mask = np.ones(len(data), bool) if mask is None else mask
        F = self.ensemble.predict_mean(data.X[mask]) - self.pooled_mean
        y, edges, w = data.y[mask], data.edges[mask], data.sample_weights()[mask]
        self.edge_maps = {}
        for element in self.counts:
            rows = edges == element
            P, D = F[rows], y[rows] - self.mean_for(element)
            wP = P * w[rows][:, None]
            G = wP.T @ P
            penalty = float(ridge) * max(float(np.trace(G)), 1e-12) / len(G)
            edge_map = np.eye(len(G)) + np.linalg.solve(G + penalty * np.eye(len(G)), wP.T @ (D - P))
            self.edge_maps[element] = edge_map.astype(np.float32).astype(np.float64)  # as a bundle stores it
        self.edge_map_ridge = float(ridge)

    def fit_edge_layers(self, data: Pooled, mask: np.ndarray | None, ridge: float) -> None:
        """A last layer of the fine-tuned networks per edge: each network's shared last layer plus
        ΔW, Δb, by ridge regression of that network's residual (the edge's deviation D = spectrum -
        edge mean minus the network's deviation from the pooled mean) on its centred last hidden
        units over that edge's spectra of ``mask`` (each weighted as in the fine-tuning), ΔW shrunk
        toward zero with strength ``ridge`` x the mean diagonal of HᵀH. Where a map per edge
        reshapes the 226 outputs, a last layer reads the 512 hidden units of each network its own
        way: grouped CV Δμ 3.70 % against the map's 4.21 % (docs/models.md). An edge without
        spectra keeps the shared layer."""
        if self.fine_tuned is None:
            raise XanesvizError("a last layer per edge is fitted to fine-tuned networks: fine-tune them first")
        if not ridge > 0:
            raise XanesvizError(f"a last layer per edge needs a positive ridge strength, got {ridge}")
        mask = np.ones(len(data), bool) if mask is None else mask
        ensemble = self.ensemble
        network = ensemble.network
        H = network.last_hidden(ensemble.standardise(data.X[mask])).astype(np.float64)  # (m, n, width)
        W, b = network.weights[-1].astype(np.float64), network.biases[-1].astype(np.float64)
        scale, shift = ensemble.y_scale, ensemble.y_mean - self.pooled_mean
        y, edges, w = data.y[mask], data.edges[mask], data.sample_weights()[mask]
        self.edge_layers = {}
        for element in self.counts:
            rows = edges == element
            D, weight = y[rows] - self.mean_for(element), w[rows] / w[rows].sum()
            layer_w, layer_b = W.copy(), b.copy()
            for m, hidden in enumerate(H[:, rows]):
                residual = D - ((hidden @ W[m] + b[m]) * scale + shift)
                h_bar, r_bar = weight @ hidden, weight @ residual
                centred = hidden - h_bar
                G = (centred * weight[:, None]).T @ centred
                penalty = float(ridge) * max(float(np.trace(G)), 1e-12) / len(G)
                dW = np.linalg.solve(G + penalty * np.eye(len(G)), (centred * weight[:, None]).T @ (residual - r_bar))
                layer_w[m] += dW / scale  # in the networks' output units
                layer_b[m] += (r_bar - h_bar @ dW) / scale
            self.edge_layers[element] = (layer_w.astype(np.float32), layer_b.astype(np.float32))
        self.edge_map_ridge = float(ridge)

    def _edge_ensemble(self, element: str):
        """The fine-tuned networks with ``element``'s own last layer (the shared one if it has none)."""
        if element not in self.edge_layers:
            return self.ensemble
        return dataclasses.replace(self.ensemble, network=self.ensemble.network.with_last_layer(*self.edge_layers[element]))

    def networks_for(self, X: np.ndarray, element: str) -> np.ndarray:
        networks = self._edge_ensemble(element).predict_networks(X)
        return networks @ self.edge_maps[element] if element in self.edge_maps else networks

    def predict(self, X: np.ndarray, edges) -> np.ndarray:
        if not self.edge_maps and not self.edge_layers:
            return super().predict(X, edges)
        edges = np.asarray(edges, dtype=object)
        X = np.asarray(X)
        out = np.empty((len(X), self.ensemble.n_energy))
        shared = ~np.isin(edges, list(self.edge_layers))
        if shared.any():
            out[shared] = self.ensemble.predict_mean(X[shared]) - self.pooled_mean
        for element, edge_map in self.edge_maps.items():
            rows = edges == element
            out[rows] = out[rows] @ edge_map
        for element in self.edge_layers:
            rows = edges == element
            if rows.any():
                out[rows] = self._edge_ensemble(element).predict_mean(X[rows]) - self.pooled_mean
        return out + np.array([self.mean_for(e) for e in edges])

    def saved_form(self, element: str):
        """(ensemble to save, output map or None) for ``element``'s bundle: with an output map, the
        FDMNES ensemble and (map, offset) that ``load_bundle`` folds back in; with a map per edge,
        the shared networks and that edge's map, its mean spectrum in the offset; with a last layer
        per edge, the shared networks on the edge's mean (its layer: :attr:`edge_layers`)."""
        if element in self.edge_maps:
            edge_map = self.edge_maps[element]
            return self.ensemble, (edge_map, self.mean_for(element) - self.pooled_mean @ edge_map)
        if self.output_map is None:
            return self.ensemble_for(element), None
        return self.premap, (self.output_map, self.map_offset + self.mean_for(element) - self.pooled_mean)


def transfer_cv_median(data: Pooled, base, energy_rel: np.ndarray, prior: float, map_ridge: float | None,
                       k: int = 5, seed: int = 0, residual: tuple[float, float] | None = None,
                       fine_tune: tuple | None = None, pair_weight: float = 0.0,
                       linear: tuple[float, float] | None = None, edge_map_ridge: float | None = None,
                       edge_output: str = "map") -> float:
    """Δμ median (%) over all edges of :class:`FdmnesTransfer` with these settings, by ``k``-fold
    CV grouped by parent (no edge left out): what ``train-edges`` chooses the settings by."""
    fit = {"t": lambda mask, fold_seed: FdmnesTransfer.fit(data, base, mask, prior, map_ridge, residual, fine_tune,
                                                           fold_seed, pair_weight, linear, edge_map_ridge,
                                                           edge_output)}
    run = cross_validate_edges(data, fit, energy_rel, k=k, seed=seed, leave_edge_out=False)
    return run["scores"]["t"]["all"]["all"]["delta_mu_median_pct"]


def _scores(energy_rel: np.ndarray, predicted: np.ndarray, true: np.ndarray) -> dict:
    from .evaluation import summarise

    return summarise(energy_rel, predicted, true) if len(true) else {"n_spectra": 0}


def cross_validate_edges(data: Pooled, fitters: dict, energy_rel: np.ndarray, k: int = 5, seed: int = 0,
                         parent_fraction: float = 1.0, leave_edge_out: bool = True,
                         progress: bool = False, spreads: bool = False) -> dict:
    """K-fold CV grouped by parent complex of each method of ``fitters`` (name -> ``fit(mask,
    seed)`` returning an :class:`EdgeModel` trained on the samples of ``mask``).

    Every held-out spectrum gets, per method, the prediction of the model trained on its fold's
    training parents (``name``) and, with ``leave_edge_out``, of one trained also without any
    spectrum of its edge (``name, edge left out``: what an edge with no data of its own gets);
    and the baseline ``edge mean`` (its edge's mean training spectrum: what the networks must
    beat). ``parent_fraction`` < 1 trains each fold on that share of its training parents (a
    learning-curve point). Scores per method, per edge, for parents and variants separately
    (:func:`score_table`, on ``energy_rel``); ``spread_ratio`` per method: each held-out
    spectrum's network spread over its fold model's median spread on that edge's training
    complexes, or on all edges' if the fold has none of its edge (:func:`spread_limit_ratio`
    makes the trust badge's spread limit of it); measured only with ``spreads`` (a forward pass
    over each fold's training complexes that the settings' and learning curve's CVs do not need).
    """
    from sklearn.model_selection import GroupKFold

    parents = np.unique(data.parents)
    if len(parents) < k:
        raise XanesvizError(f"{k}-fold CV grouped by parent needs at least {k} parent complexes, "
                            f"the data has {len(parents)}")
    rng = np.random.default_rng(seed)
    shuffled = {p: i for i, p in enumerate(rng.permutation(parents))}
    groups = np.array([shuffled[p] for p in data.parents])
    names = ["edge mean", *fitters] + ([f"{n}, edge left out" for n in fitters] if leave_edge_out else [])
    predicted = {m: np.full(data.y.shape, np.nan) for m in names}
    spread_ratio = {m: np.full(len(data), np.nan) for m in fitters}
    for fold, (train_idx, test_idx) in enumerate(GroupKFold(k).split(data.X, groups=groups)):
        train_mask = np.zeros(len(data), bool)
        train_mask[train_idx] = True
        if parent_fraction < 1.0:
            fold_parents = np.unique(data.parents[train_mask])
            keep = rng.choice(fold_parents, max(1, int(round(parent_fraction * len(fold_parents)))), replace=False)
            train_mask &= np.isin(data.parents, keep)
        test_edges = data.edges[test_idx]
        _, means, _ = edge_means(data.y[train_mask], data.edges[train_mask])
        pooled = data.y[train_mask].mean(axis=0)
        predicted["edge mean"][test_idx] = [means.get(e, pooled) for e in test_edges]
        for name, fit in fitters.items():
            model = fit(train_mask, seed + fold)
            predicted[name][test_idx] = model.predict(data.X[test_idx], test_edges)
            if spreads:
                medians = training_spread_medians(model, data, train_mask)
                unmoved = train_mask & ~data.variants  # an edge the fold has no complex of: all edges' median
                pooled_median = float(np.median(model.spread(data.X[unmoved], data.edges[unmoved])))
                spread_ratio[name][test_idx] = (model.spread(data.X[test_idx], test_edges)
                                                / [medians.get(str(e), pooled_median) for e in test_edges])
            if not leave_edge_out:
                continue
            for element in np.unique(test_edges):
                rows = test_idx[test_edges == element]
                without = train_mask & (data.edges != element)
                if without.any():
                    other = fit(without, seed + fold)
                    predicted[f"{name}, edge left out"][rows] = other.predict(data.X[rows], [element] * len(rows))
        if progress:
            print(f"fold {fold + 1}/{k}: {len(test_idx)} spectra held out", flush=True)
    return {"k": k, "parent_fraction": parent_fraction, "n_parents": int(len(parents)),
            "scores": score_table(data, predicted, energy_rel), "predictions": predicted,
            "spread_ratio": spread_ratio}


def spread_limit_ratio(cv: dict, data: Pooled, method: str = "FDMNES transfer", quantile: float = 99.0) -> dict:
    """The trust badge's spread limit as a multiple of an edge's median training spread: the
    ``quantile`` of the held-out complexes' (unmoved structures') spread ratios in the CV,
    pooled over the edges (:func:`xanesviz.explain.spread_limit`)."""
    from .explain import spread_limit

    ratios = cv["spread_ratio"][method]
    rows = ~data.variants & np.isfinite(ratios)
    return spread_limit(ratios[rows], quantile)


def spread_limit_card(ratio: dict, training_median: float, **extra) -> dict:
    """A card's ``trust_spread_limit``: what :meth:`xanesviz.predictor.Predictor.domain_score` reads."""
    return {"limit_pct": round(ratio["ratio"] * training_median, 4), "training_median_pct": round(training_median, 4),
            "ratio": round(ratio["ratio"], 4), "quantile": ratio["quantile"],
            "n_held_out_complexes": ratio["n_complexes"],
            "what": "the badge says 'unusual' when the networks' spread exceeds this limit and 'far outside' above "
                    "twice it: the edge's median spread over its training complexes times the "
                    f"{ratio['quantile']:g}th percentile, over the complexes each fold of a grouped CV held out "
                    "(all edges pooled), of their spread over their fold model's median for their edge",
            **extra}


def score_table(data: Pooled, predicted: dict, energy_rel: np.ndarray) -> dict:
    """{method: {edge or 'all': {'parents' | 'variants' | 'all': scores}}} over predicted rows."""
    table = {}
    for method, values in predicted.items():
        done = ~np.isnan(values).any(axis=1)
        per_edge = {}
        for edge in ["all", *dict.fromkeys(data.edges)]:
            rows = done & ((data.edges == edge) if edge != "all" else True)
            per_edge[edge] = {kind: _scores(energy_rel, values[rows & sel], data.y[rows & sel])
                              for kind, sel in (("all", np.ones(len(data), bool)), ("parents", ~data.variants),
                                                ("variants", data.variants))}
        table[method] = per_edge
    return table


# -- bundles ------------------------------------------------------------------------------
def bundle_name(element: str) -> str:
    return f"{element.lower()}-k-feff"


def _edge_scores(cv: dict, element: str) -> dict:
    """One edge's CV figures per method (spectra of parents and of variants separately); a
    figure that is undefined (peak statistics without peaks) is None, not NaN."""
    def defined(scores: dict) -> dict:
        return {k: (v if not isinstance(v, float) or np.isfinite(v) else None) for k, v in scores.items()}

    return {method: {kind: defined(scores) for kind, scores in table.get(element, {}).items()
                     if scores.get("n_spectra")}
            for method, table in cv["scores"].items()}


def write_edge_bundles(model: FdmnesTransfer, data: Pooled, base_bundle, out_root: str | Path,
                       cv: dict | None = None, learning_curve: list | None = None,
                       elements=EDGE_METALS, data_label: str = "data/feff",
                       drag_fidelity: dict | None = None, mean_prior: float = 0.0,
                       map_ridge: float | None = None, real_complexes: dict | None = None,
                       spread_ratio: dict | None = None) -> list[Path]:
    """One bundle per edge, ``out_root/{metal}-k-feff/``, using ``base_bundle``'s networks (by
    name, not copied) with the edge's output scaling; cards say what each learned from, and
    carry ``drag_fidelity`` (a ``benchmarks/drag_fidelity.py --json`` table of this method) if given,
    and ``real_complexes`` (what real complexes the data held beside the derived ones) if given.
    ``spread_ratio`` (:func:`spread_limit_ratio` of the CV) gives each edge with training
    complexes the trust badge's spread limit, that ratio times the model's median spread on them."""
    from .bundle import save_bundle
    from .descriptor import WACSF
    from .explain import default_windows, importance_to_card, permutation_importance, window_importance
    from .feff import REFERENCE, edge_grid
    from .spectrum import core_hole_width, edge_energy

    out_root = Path(out_root)
    base_name = Path(base_bundle.path).name
    if Path(base_bundle.path).resolve().parent != out_root.resolve():
        raise XanesvizError(f"{out_root}: the edge bundles must sit beside the networks' bundle {base_bundle.path}")
    energy_rel = edge_grid("Fe") - edge_energy("Fe", "K")
    importance = permutation_importance(
        lambda X: model.predict(X, data.edges), data.X, data.y, energy_rel,
        names=base_bundle.descriptor.feature_names(), repeats=2, seed=0)
    recipe = {**base_bundle.card.get("recipe", {}), "name": "fdmnes-transfer", "neighbour_width": 0.0}
    holder = "Fe" if "Fe" in elements else elements[0]  # its bundle holds what all share (residual member, networks)
    fine_tuned = model.fine_tuned is not None
    if fine_tuned:  # the fine-tuned networks are stored once, in the holder, which is written first
        elements = [holder, *(e for e in elements if e != holder)]
    medians = training_spread_medians(model, data, np.ones(len(data), bool)) if spread_ratio else {}
    written = []
    for element in elements:
        e0 = edge_energy(element, "K")
        energy = edge_grid(element)
        descriptor = WACSF.from_params({**base_bundle.descriptor.to_params(), "element": element})
        n_edge = model.counts.get(element, 0)
        card = {
            "name": bundle_name(element),
            "edge": {"element": element, "edge": "K", "edge_energy_eV": e0, "fermi_level_eV": e0,
                     "core_hole_width_eV": core_hole_width(element, "K")},
            "default_for_element": element != base_bundle.card["edge"]["element"],
            "target_broadening": "FEFF10's own (core-hole lifetime, Hedin-Lundqvist self-energy; no added broadening)",
            "method": (f"{model.method}: the networks of {base_name} (trained on FDMNES Fe K spectra of 4079 "
                       "complexes), their output recalibrated "
                       + ("per energy point" if model.output_map is None and map_ridge is None else
                          f"by a full energy-by-energy map (ridge toward per-energy factors, strength {map_ridge:g}"
                          + (f"; fitted to the spectra and, with {model.pair_weight:g} times their weight, to the "
                             "changes of spectrum between each displaced structure and its parent"
                             if model.pair_weight else "") + ")")
                       + " to FEFF10 spectra of all edges (energies relative to each edge)"
                       + ("" if not real_complexes else
                          f" and of {real_complexes['n_complexes']} real complexes with {real_complexes['n_moved']} "
                          f"moves of them, each weighted {real_complexes['weight']:g}")
                       + ", on this edge's mean FEFF10 spectrum"
                       + (f" shrunk toward all edges' mean as if that were {mean_prior:g} more spectra" if mean_prior
                          else "")
                       + ("" if not fine_tuned else
                          f"; then every layer of those networks trained further (fine-tuned: Adam, learning rate "
                          f"{model.fine_tuned[0]:g}, {model.fine_tuned[1]} epochs, batches of 32, mean squared error) "
                          f"on all edges' FEFF10 spectra as deviations from each edge's mean"
                          + ("" if not real_complexes else f" (the real complexes' weighted {real_complexes['weight']:g} "
                                                           "here too)")
                          + (f" and, weighted {model.fine_tuned[2]:g}, on the changes of spectrum between each "
                             f"displaced structure and its parent" if model.fine_tuned[2] else "")
                          + f", stored once in {bundle_name(holder)}")
                       + ("" if not model.edge_layers else
                          f"; then this edge's own last layer of those networks (each network's shared one plus a "
                          f"ridge regression, strength {model.edge_map_ridge:g}, of its residual on its last hidden "
                          f"units over this edge's FEFF10 spectra, as every edge's is: last_layer.npz)"
                          if element in model.edge_layers else
                          "; every edge with spectra has its own last layer of those networks, this one (no spectra) "
                          "the shared one")
                       + ("" if not model.edge_maps else
                          f"; then that output mapped for this edge by its own energy-by-energy map (ridge toward "
                          f"the identity, strength {model.edge_map_ridge:g}), fitted on this edge's FEFF10 spectra, "
                          f"as every edge's is (output_map.npz)" if element in model.edge_maps else
                          "; every edge with spectra has its own map of that output, this one (no spectra) none")
                       + ("" if model.residual is None else
                          "; then a kernel ridge member on the descriptor, fitted over all edges, adds what that "
                          "recalibration still misses")
                       + ("" if model.linear is None else
                          "; then a linear member on the descriptor, fitted over all edges to what that "
                          "recalibration still misses in the spectra and"
                          + (f", with {model.linear[0]:g} times their weight," if model.linear[0] else "")
                          + " in the changes of spectrum between each displaced structure and its parent, adds it")
                       + ("" if n_edge else "; this edge has no spectra yet, so the pooled mean of the other "
                                            "edges stands in")),
            "training_data": {
                "method": "FEFF10", "directory": data_label, "n_samples": n_edge,
                "n_samples_all_edges": int(len(data)), "per_edge": dict(model.counts),
                "n_parents_all_edges": int(len(np.unique(data.parents))),
                "n_variants_all_edges": int(data.variants.sum()),
                "feff_settings": REFERENCE.describe(),
                "structures": "derived from tmQM-based Fe complexes (data/structures: metal replaced, ligands "
                              "moved to the metal's typical bond lengths; displaced variants)",
                "targets": "spectra/ (FEFF10 mu, absolute energies)",
                "real_complexes": real_complexes},
            "trust_signal": f"distance to the training complexes of {base_name}'s networks",
            "edge_mean_prior": mean_prior,
            "output_map_ridge": map_ridge,
            "output_map_pair_weight": model.pair_weight,
            "edge_map_ridge": model.edge_map_ridge if element in model.edge_maps else None,
            "edge_layer_ridge": model.edge_map_ridge if element in model.edge_layers else None,
            "fine_tune": None if not fine_tuned else {
                "learning_rate": model.fine_tuned[0], "epochs": model.fine_tuned[1], "batch": 32,
                "pair_weight": model.fine_tuned[2],
                "optimizer": "Adam", "loss": "mean squared error" + (" of the spectra and of the changes between each "
                                                                     "displaced structure and its parent"
                                                                     if model.fine_tuned[2] else ""),
                "what": "every layer of the recalibrated networks (the output map folded into the last) trained "
                        "further on all edges' FEFF10 spectra" + ("" if not real_complexes else
                                                                  ", each sample weighted as in the map's fit")},
            "residual_kernel": None if model.residual is None else {
                "width_factor": model.residual[0], "alpha": model.residual[1],
                "gamma": model.residual[0] / model.ensemble.n_inputs,
                "what": "RBF kernel ridge on the standardised descriptor, fitted on all edges' in-sample residuals "
                        "of the recalibrated networks, added to the spectrum (residual.npz)"},
            "linear_member": None if model.linear is None else {
                "pair_weight": model.linear[0], "alpha": model.linear[1],
                "what": "ridge regression, linear in the standardised descriptor, of all edges' in-sample residuals of "
                        "the recalibrated networks and, weighted, of their residuals in each displaced structure's "
                        "change from its parent; added to the spectrum (residual.npz: centre and weights)"},
        }
        if cv is not None:
            card["cv_metrics"] = {"k": cv["k"], "group": "parent complex (all metals and variants of it in one fold)",
                                  "n_parents": cv["n_parents"], "per_method": _edge_scores(cv, element),
                                  "all_edges": _edge_scores(cv, "all")}
            pairs = cv.get("pair_fidelity", {})
            card["drag_fidelity_cv"] = {
                "what": "the data's own drags: each displaced variant against its parent, both predicted out "
                        "of fold (xanesviz.edges.pair_fidelity); Δμ of the model against FEFF10's",
                "this_edge": pairs.get(element, {}), "all_edges": pairs.get("all", {})}
        if learning_curve:
            card["learning_curve"] = learning_curve
        if spread_ratio and element in medians:
            card["trust_spread_limit"] = spread_limit_card(spread_ratio, medians[element])
        if drag_fidelity:
            card["drag_fidelity"] = drag_fidelity
        windows = default_windows(energy, e0)
        result = {**importance, "energy": energy, "window_ranges": windows,
                  "windows": {name: window_importance(importance["per_energy"], importance["baseline_mse"], energy,
                                                      window) for name, window in windows.items()}}
        card["feature_importance"] = importance_to_card(result)
        saved, output_map = model.saved_form(element)
        saved = dataclasses.replace(saved, recipe=recipe)
        networks_from = base_name
        if fine_tuned:
            networks_from = None if element == holder else bundle_name(holder)
        written.append(save_bundle(out_root / bundle_name(element), saved, descriptor, card, energy,
                                   importance=result, networks_from=networks_from, output_map=output_map,
                                   last_layer=model.edge_layers.get(element),
                                   residual_from=None if element == holder else bundle_name(holder),
                                   keep_training_inputs=networks_from is None))
    return written


# -- drags the data already holds ---------------------------------------------------------------
def _main_peak(energy_rel: np.ndarray, mu: np.ndarray) -> float:
    """The main peak above the edge (highest point more than 5 eV above it), relative eV."""
    above = energy_rel > 5.0
    return float(energy_rel[above][np.argmax(mu[above])])


def _median_or_none(values: np.ndarray) -> float | None:
    """The median of the defined values (r is undefined where a Δμ is zero); None if none is."""
    values = values[np.isfinite(values)]
    return round(float(np.median(values)), 3) if len(values) else None


def variant_pairs(data: Pooled, mask: np.ndarray | None = None) -> np.ndarray:
    """(parent index, variant index) of every displaced variant whose parent is in the data (both
    in ``mask`` when given): the data's own drags. Shape (n_pairs, 2)."""
    from .derived_set import variant_of

    index = {stem: i for i, stem in enumerate(data.stems)}
    pairs = []
    for i, stem in enumerate(data.stems):
        tag = variant_of(stem)
        parent = None if tag is None else index.get(stem[: -len(tag) - 1])
        if parent is not None and (mask is None or (mask[i] and mask[parent])):
            pairs.append((parent, i))
    return np.array(pairs, int).reshape(-1, 2)


def pair_fidelity(data: Pooled, predicted: np.ndarray, energy_rel: np.ndarray) -> dict:
    """Drag fidelity from the data's own (parent, displaced variant) pairs: each variant is a
    drag whose FEFF10 response is known. For each pair with both predicted (out of fold, in CV:
    a parent and its variant share a fold), the model's Δμ = pred(variant) - pred(parent) is
    compared with FEFF10's Δμ: Pearson r, norm ratio (model/FEFF) and whether the main peak
    moves the same way (moves under 0.2 eV count as none). Both are on the edge's absolute grid
    (the models learned FEFF10's energies): no alignment. Per edge and family (a derived ligand
    move apart from each single-atom move: :func:`~xanesviz.derived_set.move_family`), and "all"."""
    from .derived_set import move_family, variant_of

    rows: dict = {}
    for parent, i in variant_pairs(data):
        if np.isnan(predicted[[i, parent]]).any():
            continue
        tag = variant_of(data.stems[i])
        d_model, d_feff = predicted[i] - predicted[parent], data.y[i] - data.y[parent]
        r = float(np.corrcoef(d_model, d_feff)[0, 1]) if d_model.std() > 0 and d_feff.std() > 0 else np.nan
        ratio = float(np.linalg.norm(d_model) / np.linalg.norm(d_feff)) if np.any(d_feff) else np.nan
        moves = [_main_peak(energy_rel, b) - _main_peak(energy_rel, a)
                 for a, b in ((predicted[parent], predicted[i]), (data.y[parent], data.y[i]))]
        same = np.sign(moves[0]) * (abs(moves[0]) >= 0.2) == np.sign(moves[1]) * (abs(moves[1]) >= 0.2)
        family = move_family(tag)
        for edge in (str(data.edges[i]), "all"):
            for fam in (family, "all"):
                rows.setdefault(edge, {}).setdefault(fam, []).append((r, ratio, bool(same)))
    table = {}
    for edge, families in rows.items():
        table[edge] = {}
        for family, values in families.items():
            r, ratio, same = (np.array(v, float) for v in zip(*values))
            table[edge][family] = {"pairs": len(values), "median_r": _median_or_none(r),
                                   "median_norm_ratio": _median_or_none(ratio),
                                   "main_peak_same_direction": int(same.sum())}
    return table
