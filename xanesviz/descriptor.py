"""Weighted atom-centred symmetry functions (wACSF) of the absorber's environment.

After Gastegger et al. (J. Chem. Phys. 2018) as used by XANESNET (J. Chem. Phys. 2022):
each neighbour j within the cutoff contributes with weight Z_j (pairs with Z_j Z_k).

* G1 = sum_j Z_j fc(r_j)
* G2 = sum_j Z_j exp(-eta (r_j - mu)^2) fc(r_j)                     (shifted: mu on a grid)
* G4 = 2^(1-zeta) sum_{j<k} Z_j Z_k (1 + lambda cos theta_jk)^zeta
       exp(-eta (r_j^2 + r_k^2 + r_jk^2)) fc(r_j) fc(r_k) fc(r_jk)  (centred: mu = 0)

with the cosine cutoff fc(r) = (cos(pi r / r_c) + 1) / 2 for r <= r_c.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
from ase import Atoms

from .structure import Cluster, choose_absorber, cut_cluster


def _element_range(lowest: float, highest: float):
    """A weighting that is 1 for neighbours with lowest <= Z <= highest and 0 for the rest."""
    return lambda number: ((number >= lowest) & (number <= highest)).astype(float)


#: Per-neighbour weights available for G2 and G4 blocks (the published wACSF uses Z only).
#: "Z", "unit" and "inverse_Z" weight every neighbour; the element channels count only some:
#: "H", "C", "N", "O" one element each, "row2" the second row (Z 3-10, Li to Ne) and "beyond_row2" Z > 10.
NEIGHBOUR_WEIGHTINGS = {
    "Z": lambda number: number, "unit": np.ones_like, "inverse_Z": lambda number: 1.0 / number,
    "H": _element_range(1, 1), "C": _element_range(6, 6), "N": _element_range(7, 7), "O": _element_range(8, 8),
    "row2": _element_range(3, 10), "beyond_row2": _element_range(11, np.inf),
}


@functools.lru_cache(maxsize=128)
def pair_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(n, 1)``, read-only and kept per n (building them is a tenth of a
    prediction's featurising, and a drag asks for the same n again and again)."""
    j, k = np.triu_indices(n, 1)
    j.flags.writeable = k.flags.writeable = False
    return j, k


def cosine_cutoff(r: np.ndarray, r_cut: float) -> np.ndarray:
    """(cos(pi r / r_cut) + 1) / 2 inside the cutoff, 0 outside."""
    return np.where(r <= r_cut, 0.5 * (np.cos(np.pi * r / r_cut) + 1.0), 0.0)


def cosine_cutoff_derivative(r: np.ndarray, r_cut: float) -> np.ndarray:
    """d fc / dr: -pi/(2 r_cut) sin(pi r / r_cut) inside the cutoff, 0 outside."""
    return np.where(r <= r_cut, -0.5 * np.pi / r_cut * np.sin(np.pi * r / r_cut), 0.0)


def radial_grid(n: int, r_min: float, r_max: float) -> np.ndarray:
    """The XANESNET radial grid: n points from r_min + 0.5 to r_max - 0.5 Å."""
    return np.linspace(r_min + 0.5, r_max - 0.5, n)


def shifted_parameters(n: int, r_min: float, r_max: float) -> tuple[np.ndarray, np.ndarray]:
    """(eta, mu) for Gaussians centred on the radial grid, width set by its spacing."""
    mu = radial_grid(n, r_min, r_max)
    spacing = mu[1] - mu[0] if n > 1 else (r_max - r_min)
    return np.full(n, 1.0 / (2.0 * spacing**2)), mu


def centred_parameters(n: int, r_min: float, r_max: float) -> tuple[np.ndarray, np.ndarray]:
    """(eta, mu) for Gaussians centred at 0 whose widths follow the radial grid."""
    grid = radial_grid(n, r_min, r_max)
    return 1.0 / (2.0 * grid**2), np.zeros(n)


class _EstimatorParams:
    """scikit-learn's estimator protocol (``get_params``, ``set_params``, tags) for a transformer,
    without importing scikit-learn when the package is imported: ``sklearn.base`` brings scipy.stats
    and pandas, more than a second of the dashboard's cold start. ``clone`` and ``Pipeline`` work
    as with ``BaseEstimator``; the tags are scikit-learn's own, built when it asks for them."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return sorted(name for name, parameter in inspect.signature(cls.__init__).parameters.items()
                      if name != "self" and parameter.kind != parameter.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {valid}")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        from sklearn.base import BaseEstimator, TransformerMixin

        class Transformer(TransformerMixin, BaseEstimator):
            pass

        return Transformer().__sklearn_tags__()

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{name}={value!r}" for name, value in self.get_params().items() if value != defaults.get(name)]
        return f"{type(self).__name__}({', '.join(changed)})"


class WACSF(_EstimatorParams):
    """wACSF descriptor of an absorber's neighbourhood, a scikit-learn transformer (``fit`` learns nothing).

    Defaults are the published ones: cutoff 6 Å, G1, 32 shifted G2 and 64 centred G4
    (8 widths x lambda in {+1, -1} x zeta in {1, 2, 4, 8}), 97 values in all. ``element`` is
    the absorber's element, chosen in an ``ase.Atoms`` when no absorber is named (None: a
    structure needs ``absorber=``); a :class:`~xanesviz.structure.Cluster` carries its absorber.

    One way in, as in DScribe: :meth:`create` gives the features of one structure or of a list,
    :meth:`derivatives` the features and their derivatives. ``transform(list)`` is ``create``
    for scikit-learn pipelines.
    """

    def __init__(self, r_min: float = 0.0, r_max: float = 6.0, n_g2: int = 32, n_g4: int = 64,
                 lambdas=(1.0, -1.0), zetas=(1.0, 2.0, 4.0, 8.0), element: str | None = None,
                 g2_weightings=("Z",), g4_weightings=("Z",)):
        self.r_min = r_min
        self.r_max = r_max
        self.n_g2 = n_g2
        self.n_g4 = n_g4
        self.lambdas = lambdas
        self.zetas = zetas
        self.element = element
        self.g2_weightings = g2_weightings  # names in NEIGHBOUR_WEIGHTINGS; "Z" is the published one
        self.g4_weightings = g4_weightings  # each adds a block of n_g4 angular functions with these weights

    # -- parameters ------------------------------------------------------------------------
    def to_params(self) -> dict:
        """The parameters as JSON values (lists for tuples), as a model card records them."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()}

    @classmethod
    def from_params(cls, params: dict) -> "WACSF":
        """A descriptor from recorded parameters; a parameter it does not know raises TypeError."""
        descriptor = cls(**params)
        descriptor._layout  # checks the parameters now
        return descriptor

    @property
    def _layout(self) -> "_Layout":
        """The parameter grids, computed once for each set of parameter values (``set_params`` may change them)."""
        raw = (self.r_min, self.r_max, self.n_g2, self.n_g4, self.lambdas, self.zetas, self.g2_weightings,
               self.g4_weightings)
        cached = self.__dict__.get("_cached_layout")
        if cached is None or cached.raw != raw:
            cached = _Layout(raw)
            self.__dict__["_cached_layout"] = cached
        return cached

    @property
    def n_features(self) -> int:
        return self._layout.n_features

    @property
    def _g4_start(self) -> int:
        return self._layout.g4_start

    @property
    def _g2(self):
        return self._layout.g2

    @property
    def _g4(self):
        return self._layout.g4

    @property
    def _g4_factors(self):
        return self._layout.g4_factors

    def feature_names(self) -> list[str]:
        """One name per column: G1, G2[mu=..], G4[eta=..,lambda=..,zeta=..]."""
        names = ["G1"]
        for w in self.g2_weightings:
            tag = "" if w == "Z" else f"{w},"
            names += [f"G2[{tag}mu={m:.3f}]" for m in self._g2[1]]
        for w in self.g4_weightings:
            tag = "" if w == "Z" else f"{w},"
            names += [f"G4[{tag}eta={e:.4f},lambda={l:+.0f},zeta={z:.0f}]" for e, l, z in zip(*self._g4)]
        return names

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """scikit-learn's output feature names: :meth:`feature_names` as an object array."""
        return np.asarray(self.feature_names(), dtype=object)

    @property
    def g2_centres(self) -> np.ndarray:
        return self._g2[1].copy()

    @property
    def g4_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(eta, lambda, zeta) of each G4 column (the blocks of all weightings in turn)."""
        return tuple(np.tile(a, len(self.g4_weightings)) for a in self._g4)

    def g4_angular_labels(self) -> list[str]:
        """One label per (lambda, zeta) pair, in the order of :meth:`summarise_columns`'s G4 values."""
        return [f"λ={l_:+.0f} ζ={z_:.0f}" for l_ in self._layout.key[4] for z_ in self._layout.key[5]]

    def summarise_columns(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-column values (n_features,) -> (per G2 centre, summed over the G2 weightings;
        per (lambda, zeta), summed over the G4 widths and weightings)."""
        values = np.asarray(values, float)
        n_w, n_lz = len(self.g2_weightings), len(self.lambdas) * len(self.zetas)
        g2 = values[1:self._g4_start].reshape(n_w, self.n_g2).sum(axis=0)
        g4 = values[self._g4_start:].reshape(-1, n_lz).sum(axis=0)
        return g2, g4

    def fit(self, X=None, y=None) -> "WACSF":
        self._layout  # checks the parameters
        return self

    # -- features ------------------------------------------------------------------------
    def cluster(self, atoms: Atoms, absorber: int | str | None = None, source: str = "structure") -> Cluster:
        """Cut the absorber's cluster at this descriptor's cutoff (absorber: ``absorber``, else the
        first atom of ``element``)."""
        index = choose_absorber(atoms, absorber, self.element, source)
        return cut_cluster(atoms, index, self.r_max, source)

    def _as_cluster(self, item: Atoms | Cluster, absorber) -> Cluster:
        return item if isinstance(item, Cluster) else self.cluster(item, absorber)

    def create(self, system, absorber: int | str | None = None) -> np.ndarray:
        """Features of one structure (``ase.Atoms`` or ``Cluster``): (n_features,); of a list of
        them: (n, n_features). ``absorber`` (index or element) applies to every ``ase.Atoms``."""
        if isinstance(system, (Atoms, Cluster)):
            cluster = self._as_cluster(system, absorber)
            return self._features(cluster.numbers, cluster.vectors)
        rows = [self.create(item, absorber) for item in system]
        return np.asarray(rows).reshape(len(rows), self.n_features)

    def derivatives(self, system: Atoms | Cluster, absorber: int | str | None = None,
                    per_atom: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Features of one structure and their exact derivatives: ``(features (n_features,),
        derivatives)`` with ``derivatives[f, j, :] = d feature_f / d vector_j`` (n_features, n, 3)
        for the n neighbour vectors of the absorber's cluster (moving the absorber by d moves every
        vector by -d). ``per_atom=True``: with respect to the positions of the structure's atoms
        instead, (n_features, n_atoms, 3) (see :meth:`Cluster.atom_gradient`)."""
        cluster = self._as_cluster(system, absorber)
        features, jac = self._derivatives(np.asarray(cluster.numbers), np.asarray(cluster.vectors, float))
        if per_atom:
            jac = cluster.atom_gradient(jac)
        return features, jac

    def transform(self, X, absorber: int | str | None = None) -> np.ndarray:
        """Feature matrix (n, n_features) of a list of ``ase.Atoms`` or ``Cluster`` objects."""
        return self.create(list(X), absorber)

    def fit_transform(self, X, y=None, absorber: int | str | None = None) -> np.ndarray:
        return self.fit(X).transform(X, absorber)

    def _features(self, numbers: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """The descriptor from neighbour atomic numbers and absorber-to-neighbour vectors."""
        r = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
        z_in, v = np.asarray(numbers).astype(np.intp, copy=False), vectors
        if len(r) and r.max() > self.r_max:  # a cluster cut at the cutoff (the usual case) needs no mask
            inside = r <= self.r_max
            z_in, v, r = z_in[inside], v[inside], r[inside]
        layout = self._layout
        fc = cosine_cutoff(r, self.r_max)
        out = np.empty(layout.n_features)
        out[0] = z_in @ fc
        eta2, mu2 = layout.g2
        gauss = np.exp(-eta2 * (r[:, None] - mu2) ** 2).T
        weights = layout.g2_table[z_in] * fc[:, None]  # (n_in, blocks)
        out[1:layout.g4_start] = (gauss @ weights).T.reshape(-1)  # block by block
        if self.n_g4:
            out[layout.g4_start:] = self._g4_values(layout.g4_table[z_in], fc, v, r)
        return out

    def _g4_values(self, weightings: np.ndarray, fc: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
        """All G4 blocks, one per column of the neighbours' weights ``weightings`` (n_in, n_w),
        as one matrix product; the pair geometry is computed once."""
        n_w = weightings.shape[1]
        if len(r) < 2:
            return np.zeros(self.n_g4 * n_w)
        j, k = pair_indices(len(r))
        dot = (v @ v.T)[j, k]
        r_j, r_k = r[j], r[k]
        squares = r_j * r_j + r_k * r_k
        r_jk2 = np.maximum(squares - 2.0 * dot, 0.0)
        cos = dot / (r_j * r_k)
        pair_cutoff = fc[j] * fc[k] * cosine_cutoff(np.sqrt(r_jk2), self.r_max)
        keep = np.flatnonzero(pair_cutoff)  # pairs beyond the cutoff add nothing
        j, k, cos, pair_cutoff = j[keep], k[keep], cos[keep], pair_cutoff[keep]
        # Distinct etas and (lambda, zeta) pairs factorise: exp term (n_eta, pairs) x angular (n_lz, pairs).
        etas, lam_, zeta_ = self._g4_factors
        radial = np.exp(-np.outer(etas, squares[keep] + r_jk2[keep])) * pair_cutoff  # (n_eta, pairs)
        angular = 2.0 ** (1.0 - zeta_) * np.maximum(1.0 + lam_ * cos, 0.0) ** zeta_  # (n_lz, pairs)
        pair_weights = (weightings[j] * weightings[k]).T  # (n_w, pairs)
        weighted = (pair_weights[:, None, :] * radial[None]).reshape(n_w * len(etas), -1)
        # weighting-major, then eta, then lambda, then zeta within each block
        return (weighted @ angular.T).reshape(-1)

    def _derivatives(self, numbers: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The descriptor and its derivative with respect to each neighbour vector (n_features, n, 3)."""
        n = len(vectors)
        jac = np.zeros((self.n_features, n, 3))
        r_all = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
        inside = np.flatnonzero(r_all <= self.r_max)
        if not len(inside):
            return self._features(numbers, vectors), jac
        numbers_in, v, r = numbers[inside].astype(float), vectors[inside], r_all[inside]
        unit = v / r[:, None]
        fc, dfc = cosine_cutoff(r, self.r_max), cosine_cutoff_derivative(r, self.r_max)
        # G1 and G2: radial functions of one neighbour each.
        jac[0, inside] = (numbers_in * dfc)[:, None] * unit
        eta2, mu2 = self._g2
        gauss = np.exp(-eta2 * (r[:, None] - mu2) ** 2)  # (n_in, n_g2)
        d_gauss = -2.0 * eta2 * (r[:, None] - mu2) * gauss
        for k, weighting in enumerate(self.g2_weightings):
            w = NEIGHBOUR_WEIGHTINGS[weighting](numbers_in)
            radial = w[:, None] * (d_gauss * fc[:, None] + gauss * dfc[:, None])  # d/dr, (n_in, n_g2)
            block = slice(1 + k * self.n_g2, 1 + (k + 1) * self.n_g2)
            jac[block, inside] = radial.T[:, :, None] * unit[None, :, :]
        if self.n_g4 and len(r) > 1:
            blocks = self._g4_gradient([NEIGHBOUR_WEIGHTINGS[w](numbers_in) for w in self.g4_weightings], v, r, fc, dfc)
            for k, block in enumerate(blocks):
                start = self._g4_start + k * self.n_g4
                jac[start:start + self.n_g4, inside] = block
        return self._features(numbers, vectors), jac

    def _g4_gradient(self, weightings, v, r, fc, dfc) -> list[np.ndarray]:
        """d G4 / d v for neighbours inside the cutoff, one (n_g4, n_in, 3) block per weight
        vector in ``weightings``; the geometry is shared (a pair's term is linear in its weight)."""
        n = len(r)
        j, k = pair_indices(n)
        vj, vk, rj, rk = v[j], v[k], r[j], r[k]
        d = vj - vk
        r_jk = np.sqrt(np.maximum(np.einsum("ij,ij->i", d, d), 0.0))
        fc_jk = cosine_cutoff(r_jk, self.r_max)
        dfc_jk = cosine_cutoff_derivative(r_jk, self.r_max)
        keep = (fc[j] * fc[k] != 0) & (r_jk <= self.r_max)
        j, k, vj, vk, rj, rk, d, r_jk, fc_jk, dfc_jk = (a[keep] for a in (j, k, vj, vk, rj, rk, d, r_jk, fc_jk, dfc_jk))
        if not len(j):
            return [np.zeros((self.n_g4, n, 3)) for _ in weightings]
        pair_weights = [w[j] * w[k] for w in weightings]
        cos = np.einsum("ij,ij->i", vj, vk) / (rj * rk)
        s2 = rj**2 + rk**2 + r_jk**2
        F = fc[j] * fc[k] * fc_jk
        safe_rjk = np.where(r_jk > 0, r_jk, 1.0)[:, None]
        # Derivatives of cos, S = rj^2 + rk^2 + rjk^2 and F with respect to vj and vk (pairs, 3).
        dcos_j = vk / (rj * rk)[:, None] - (cos / rj**2)[:, None] * vj
        dcos_k = vj / (rj * rk)[:, None] - (cos / rk**2)[:, None] * vk
        dS_j, dS_k = 2 * vj + 2 * d, 2 * vk - 2 * d
        dF_j = (dfc[j] * fc[k] * fc_jk / rj)[:, None] * vj + (fc[j] * fc[k] * dfc_jk)[:, None] * d / safe_rjk
        dF_k = (fc[j] * dfc[k] * fc_jk / rk)[:, None] * vk - (fc[j] * fc[k] * dfc_jk)[:, None] * d / safe_rjk
        etas, lam, zeta = self._g4_factors  # (n_eta,), (n_lz, 1), (n_lz, 1)
        base = np.maximum(1.0 + lam * cos, 0.0)  # (n_lz, pairs)
        A = 2.0 ** (1.0 - zeta) * base**zeta
        dA = 2.0 ** (1.0 - zeta) * zeta * lam * base ** (zeta - 1.0)  # dA/dcos
        E = np.exp(-np.outer(etas, s2))  # (n_eta, pairs)
        n_eta, n_lz, n_pairs = len(etas), len(zeta), len(j)
        terms = []
        for dcos, dS, dF in ((dcos_j, dS_j, dF_j), (dcos_k, dS_k, dF_k)):
            # dT = w [dA E F dcos + A (-eta E dS) F + A E dF], per (eta, lz, pair, xyz); w applied below
            term = (dA[None, :, :, None] * (E * F)[:, None, :, None] * dcos[None, None]
                    - (A[None, :, :, None] * (etas[:, None] * E * F)[:, None, :, None]) * dS[None, None]
                    + (A[None, :, :, None] * E[:, None, :, None]) * dF[None, None])
            terms.append(term.reshape(n_eta * n_lz, n_pairs, 3))  # eta-major, then lambda, then zeta
        # Each pair's term goes to the neighbour it belongs to (j for the first, k for the second),
        # times the pair's weight: one sparse (weightings * n, 2 * pairs) product for all blocks.
        rows = np.concatenate([np.concatenate([j, k]) + b * n for b in range(len(weightings))])
        columns = np.tile(np.arange(2 * n_pairs), len(weightings))
        values = np.concatenate([np.concatenate([w, w]) for w in pair_weights])
        from scipy.sparse import csr_matrix  # here: scipy.sparse is 0.2 s of a cold import

        scatter = csr_matrix((values, (rows, columns)), shape=(len(weightings) * n, 2 * n_pairs))
        stacked = np.concatenate(terms, axis=1).transpose(1, 0, 2).reshape(2 * n_pairs, -1)  # (2 pairs, f * 3)
        blocks = (scatter @ stacked).reshape(len(weightings), n, self.n_g4, 3).transpose(0, 2, 1, 3)
        return list(blocks)


_ELEMENTS_TABLE_ROWS = range(119)  # Z 0 (unused) to 118


def _weight_table(weightings, numbers: np.ndarray) -> np.ndarray:
    """(119, len(weightings)): NEIGHBOUR_WEIGHTINGS[w](Z) in row Z (row 0 unused)."""
    table = np.zeros((len(numbers) + 1, len(weightings)))
    for k, name in enumerate(weightings):
        table[1:, k] = NEIGHBOUR_WEIGHTINGS[name](numbers)
    table.flags.writeable = False
    return table


class _Layout:
    """A WACSF's parameter grids for one set of parameter values (checked here)."""

    def __init__(self, raw: tuple):
        self.raw = raw  # the parameter values as given, to notice a change (set_params)
        r_min, r_max, n_g2, n_g4, lambdas, zetas, g2_weightings, g4_weightings = raw
        r_min, r_max, n_g2, n_g4 = float(r_min), float(r_max), int(n_g2), int(n_g4)
        lambdas, zetas = tuple(float(v) for v in lambdas), tuple(float(v) for v in zetas)
        g2_weightings, g4_weightings = tuple(g2_weightings), tuple(g4_weightings)
        self.key = (r_min, r_max, n_g2, n_g4, lambdas, zetas, g2_weightings, g4_weightings)
        for name, chosen in (("g2_weightings", g2_weightings), ("g4_weightings", g4_weightings)):
            if set(chosen) - set(NEIGHBOUR_WEIGHTINGS) or not chosen:
                raise ValueError(f"{name} must be taken from {sorted(NEIGHBOUR_WEIGHTINGS)}, got {chosen}")
        n_angular = len(lambdas) * len(zetas)
        if n_g4 % n_angular:
            raise ValueError(f"n_g4={n_g4} is not a multiple of len(lambdas) * len(zetas) = {n_angular}")
        self.g2 = shifted_parameters(n_g2, r_min, r_max) if n_g2 else (np.empty(0), np.empty(0))
        eta4, _ = centred_parameters(n_g4 // n_angular, r_min, r_max) if n_g4 else (np.empty(0), None)
        # G4 columns ordered eta-major, then lambda, then zeta.
        eta, lam, zeta = np.meshgrid(eta4, lambdas, zetas, indexing="ij")
        self.g4 = (eta.ravel(), lam.ravel(), zeta.ravel())
        lam_zeta = np.array([(l_, z_) for l_ in lambdas for z_ in zetas]).reshape(-1, 2)
        self.g4_factors = (eta4, lam_zeta[:, :1], lam_zeta[:, 1:])
        self.g4_start = 1 + n_g2 * len(g2_weightings)
        self.n_features = self.g4_start + n_g4 * len(g4_weightings)
        # Each weighting's value for every atomic number (row Z): one lookup per structure.
        numbers = np.arange(1.0, len(_ELEMENTS_TABLE_ROWS))
        self.g2_table = _weight_table(g2_weightings, numbers)
        self.g4_table = _weight_table(g4_weightings, numbers)
