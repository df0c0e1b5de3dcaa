"""Refine a structure against a measured spectrum: move atoms until the prediction matches it.

The misfit is the R-factor of :func:`xanesviz.compare.compare` (normalised spectra, the
prediction broadened as the user chose, its energy shift and scale refitted at every step),
minimised over atom positions with the model's exact gradients
(:meth:`xanesviz.predictor.Predictor.gradient`: descriptor derivatives x network Jacobians) by
scipy's bounded least squares. Positions are a linear function of a few parameters
(:class:`Moves`):

- ``"ligands"`` (the default): each ligand moved rigidly along its metal-donor direction, one
  parameter per ligand (a ligand whose donors surround the metal, such as a porphyrin, has one per
  donor, moving the atoms nearest that donor in the ligand's bond graph). It is refined after a
  ``"breathing"`` stage, since the collective move is better determined than single bonds.
- ``"breathing"``: the whole first shell moved in and out together (one parameter).
- ``"atoms"``: chosen atoms moved freely (3 parameters each), their other bonds and angles held
  by restraints on their 1-2 and 1-3 distances; ``atoms_within(radius)`` picks all atoms near
  the absorber.

Every mode keeps atoms from clashing. Error bars: the refinement is repeated with each network
of the ensemble alone (from the ensemble's optimum) and the spread of each refined distance is
reported. XANES determines collective moves far better than single bond lengths; the result
says so when it refines them one by one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from .compare import compare, normalise_prediction, resolved_broadening
from .derive import bonded_pairs, first_shell
from .errors import StructureError, XanesvizError
from .spectrum import Broadening

MODES = ("ligands", "breathing", "atoms")
#: Largest move (Å) of one ligand / breathing parameter, and of one coordinate in "atoms" mode.
MAX_LIGAND_MOVE = 0.4
MAX_ATOM_MOVE = 0.5
#: A ligand whose donors' mean direction from the metal is shorter than this is split by donor.
MIN_LIGAND_DIRECTION = 0.5
#: Atoms of different moving units (or a moving and a fixed one) may not come closer than this
#: fraction of the sum of their covalent radii.
CLASH_FACTOR = 0.75
#: Restraints in "atoms" mode: a 1-2 or 1-3 distance off by RESTRAINT_SIGMA Å costs as much as
#: an R-factor of RESTRAINT_COST.
RESTRAINT_SIGMA, RESTRAINT_COST = 0.02, 1e-4
#: Half-width (eV) the energy shift may move in one round (it is re-centred every round).
SHIFT_STEP_EV = 3.0
#: Model evaluations per network for the error bars (each starts at the ensemble's optimum).
NETWORK_EVALUATIONS = 6
WEAK_BONDS_NOTE = ("single bond lengths are weakly determined by XANES: trust the mean first-shell distance "
                   "and collective moves more than any one bond")


class Stopped(Exception):
    """Raised inside the optimiser when the caller's callback asks to stop."""


@dataclass(frozen=True)
class Moves:
    """Atom positions as a linear function of parameters: ``x = x0 + (basis @ p).reshape(-1, 3)``."""

    mode: str
    names: tuple
    basis: np.ndarray  # (3 n_atoms, n_params)
    units: np.ndarray  # moving unit of every atom (-1: fixed)
    bound: float

    def __len__(self) -> int:
        return len(self.names)

    def positions(self, x0: np.ndarray, p: np.ndarray) -> np.ndarray:
        return x0 + (self.basis @ p).reshape(-1, 3)


def _ligand_units(atoms: Atoms, absorber: int, source: str) -> tuple[list, list, list]:
    """Per moving unit: its atom indices, its direction (scaled so that 1 Å of parameter is about
    1 Å of bond length) and a name listing its donors."""
    shell = first_shell(atoms, absorber, source)
    if not len(shell.donors):
        raise StructureError(f"{source}: the absorber (atom {absorber}) has no first-shell neighbours to refine")
    centre = atoms.positions[absorber]
    groups, directions, labels = [], [], []

    def label(donor_atoms) -> str:
        return "ligand at " + ", ".join(f"{atoms[int(d)].symbol}{int(d)}" for d in donor_atoms)

    for k, ligand in enumerate(shell.ligands):
        donors = shell.ligand_donors(k)
        bonds = atoms.positions[donors] - centre
        units = bonds / np.linalg.norm(bonds, axis=1)[:, None]
        mean = units.mean(axis=0)
        if len(donors) == 1 or np.linalg.norm(mean) >= MIN_LIGAND_DIRECTION:
            direction = mean / np.linalg.norm(mean)
            groups.append(ligand)
            directions.append(direction / float(np.mean(units @ direction)))
            labels.append(label(donors))
            continue
        # Donors around the metal: each donor carries the atoms nearest it in the ligand's bond graph.
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import shortest_path

        part = atoms[ligand]
        i, j = bonded_pairs(part)
        graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(part), len(part)))
        local = np.searchsorted(ligand, donors)
        hops = shortest_path(graph, unweighted=True, indices=local)  # (n_donors, n_ligand)
        nearest = np.argmin(hops, axis=0)
        for d in range(len(donors)):
            groups.append(ligand[nearest == d])
            directions.append(units[d])
            labels.append(label([donors[d]]) + f" (part of a ligand with {len(donors)} donors)")
    return groups, directions, labels


def ligand_moves(atoms: Atoms, absorber: int, breathing: bool = False, source: str = "structure") -> Moves:
    """Rigid ligand moves along metal-donor directions (one parameter each, Å of bond length), or
    with ``breathing`` one parameter moving them all together."""
    groups, directions, labels = _ligand_units(atoms, absorber, source)
    n = len(atoms)
    basis = np.zeros((n, 3, len(groups)))
    units = np.full(n, -1)
    names = []
    for k, (group, direction, name) in enumerate(zip(groups, directions, labels)):
        basis[group, :, k] = direction
        units[group] = k
        names.append(name)
    basis = basis.reshape(3 * n, len(groups))
    if breathing:
        return Moves("breathing", ("first shell",), basis.sum(axis=1, keepdims=True), units, MAX_LIGAND_MOVE)
    return Moves("ligands", tuple(names), basis, units, MAX_LIGAND_MOVE)


def atom_moves(atoms: Atoms, indices, source: str = "structure") -> Moves:
    """Free moves of the chosen atoms (x, y, z each)."""
    indices = sorted({int(i) % len(atoms) for i in indices if -len(atoms) <= int(i) < len(atoms)})
    if not indices:
        raise StructureError(f"{source}: no atoms chosen to refine")
    n = len(atoms)
    basis = np.zeros((n, 3, 3 * len(indices)))
    units = np.full(n, -1)
    names = []
    for k, i in enumerate(indices):
        for axis in range(3):
            basis[i, axis, 3 * k + axis] = 1.0
            names.append(f"{atoms[i].symbol}{i} {'xyz'[axis]}")
        units[i] = k
    return Moves("atoms", tuple(names), basis.reshape(3 * n, -1), units, MAX_ATOM_MOVE)


def atoms_within(atoms: Atoms, absorber: int, radius: float) -> list[int]:
    """Indices of the atoms within ``radius`` Å of the absorber (the absorber included)."""
    distance = np.linalg.norm(atoms.positions - atoms.positions[absorber], axis=1)
    return [int(i) for i in np.flatnonzero(distance <= radius)]


@dataclass
class _Restraints:
    """Pairs held at their starting distance (atoms mode) and pairs kept from clashing."""

    held: np.ndarray  # (n, 2) atom pairs
    held_distance: np.ndarray
    apart: np.ndarray  # (m, 2) atom pairs
    apart_limit: np.ndarray

    @classmethod
    def build(cls, atoms: Atoms, absorber: int, moves: Moves) -> "_Restraints":
        from scipy.spatial import cKDTree

        moving = moves.units >= 0
        held = np.empty((0, 2), int)
        if moves.mode == "atoms":
            i, j = bonded_pairs(atoms)
            keep = (i < j) & (i != absorber) & (j != absorber)
            bonds = np.column_stack([i[keep], j[keep]])
            neighbours = {a: set() for a in range(len(atoms))}
            for a, b in bonds:
                neighbours[a].add(b)
                neighbours[b].add(a)
            pairs = {tuple(sorted(p)) for p in bonds}
            for centre, around in neighbours.items():  # 1-3 pairs hold the angles
                around = sorted(around)
                pairs |= {(a, b) for x, a in enumerate(around) for b in around[x + 1:]}
            held = np.array(sorted(p for p in pairs if moving[p[0]] or moving[p[1]]), int).reshape(-1, 2)
        radii = covalent_radii[atoms.numbers]
        pairs = cKDTree(atoms.positions).query_pairs(4.0, output_type="ndarray").reshape(-1, 2)
        a, b = pairs[:, 0], pairs[:, 1]
        changes = (moves.units[a] != moves.units[b]) & (moving[a] | moving[b])
        held_set = {tuple(p) for p in held}
        changes &= np.array([tuple(p) not in held_set for p in pairs], bool) if len(pairs) else changes
        limit = CLASH_FACTOR * (radii[a] + radii[b])
        start = np.linalg.norm(atoms.positions[a] - atoms.positions[b], axis=1)
        changes &= start > limit  # pairs already that close (bonded) are not held apart
        apart = pairs[changes]
        held_distance = np.linalg.norm(atoms.positions[held[:, 0]] - atoms.positions[held[:, 1]], axis=1)
        return cls(held, held_distance, apart, limit[changes])

    def residuals(self, x: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Restraint residuals (R-factor units, squared) and their Jacobian in the parameters."""
        rows, jac = [], []
        weight = np.sqrt(RESTRAINT_COST) / RESTRAINT_SIGMA
        for pairs, target, kind in ((self.held, self.held_distance, "held"), (self.apart, self.apart_limit, "apart")):
            if not len(pairs):
                continue
            vector = x[pairs[:, 0]] - x[pairs[:, 1]]
            distance = np.linalg.norm(vector, axis=1)
            unit = vector / np.maximum(distance, 1e-9)[:, None]
            d_distance = np.zeros((len(pairs), len(x), 3))  # dd/dx
            d_distance[np.arange(len(pairs)), pairs[:, 0]] = unit
            d_distance[np.arange(len(pairs)), pairs[:, 1]] = -unit
            d_distance = d_distance.reshape(len(pairs), -1) @ basis
            if kind == "held":
                rows.append(weight * (distance - target))
                jac.append(weight * d_distance)
            else:  # only when too close; steep, so clashes are not traded for misfit
                short = distance < target
                rows.append(10 * weight * np.where(short, target - distance, 0.0))
                jac.append(-10 * weight * d_distance * short[:, None])
        if not rows:
            return np.empty(0), np.empty((0, basis.shape[1]))
        return np.concatenate(rows), np.vstack(jac)


class _Problem:
    """The misfit of one model (the ensemble, or one network) as least-squares residuals."""

    def __init__(self, predictor, atoms: Atoms, absorber: int, measured, broadening: Broadening,
                 moves: Moves, network: int | None = None, callback=None, stage: str = ""):
        self.predictor, self.atoms, self.absorber = predictor, atoms, absorber
        self.measured, self.moves, self.network = measured, moves, network
        self.x0 = atoms.positions.copy()
        self.matrix = None if broadening.is_identity else broadening.matrix(predictor.energy)
        self.restraints = _Restraints.build(atoms, absorber, moves)
        self.slope = np.diff(measured.norm) / np.diff(measured.energy)
        self.callback, self.stage = callback, stage
        self.evaluations = 0
        self.best = (np.inf, None, None)  # (misfit, p, shift)
        self._cache = (None, None)

    def model(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Broadened prediction (n_E,) and its Jacobian in the parameters (n_E, n_params)."""
        key = p.tobytes()
        if self._cache[0] == key:
            return self._cache[1]
        moved = self.atoms.copy()
        moved.positions = self.moves.positions(self.x0, p)
        try:
            g = self.predictor.gradient(moved, self.absorber, members=self.network is not None, source="refinement")
        except XanesvizError as exc:
            raise XanesvizError(f"refinement: {exc}") from None
        mu = g["mu"] if self.network is None else g["networks_mu"][self.network]
        d_mu = g["d_mu"] if self.network is None else g["networks_d_mu"][self.network]
        jac = d_mu.reshape(len(mu), -1) @ self.moves.basis
        if self.matrix is not None:
            mu, jac = self.matrix @ mu, self.matrix @ jac
        self.evaluations += 1
        self._cache = (key, (mu, jac))
        return mu, jac

    def start_round(self, p: np.ndarray, shift: float) -> None:
        """Hold E0, the pre-edge range, edge step and overlap for one round (the shift may move by
        ±SHIFT_STEP_EV within it)."""
        mu, _ = self.model(p)
        energy = self.predictor.energy
        norm = normalise_prediction(energy, mu)
        lo = int(np.searchsorted(energy, norm["e0"] + norm["pre1"]))
        hi = max(lo + 1, int(np.abs(energy - (norm["e0"] + norm["pre2"])).argmin()))
        self.pre = np.zeros(len(energy))
        self.pre[lo:hi] = 1.0 / (hi - lo)
        self.step = norm["edge_step"]
        moved = energy + shift
        me = self.measured.energy
        self.inside = (moved - SHIFT_STEP_EV >= me[0]) & (moved + SHIFT_STEP_EV <= me[-1])
        if self.inside.sum() < 30:
            raise XanesvizError(f"{self.measured.source}: too little overlap with the prediction to refine against")
        m = np.interp(moved[self.inside], me, self.measured.norm)
        self.m_norm = float(np.sqrt(m @ m))

    def residuals(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, shift = q[:-1], float(q[-1])
        mu, jac = self.model(p)
        n = (mu - self.pre @ mu) / self.step
        jn = (jac - np.outer(np.ones(len(mu)), self.pre @ jac)) / self.step
        n, jn = n[self.inside], jn[self.inside]
        e = self.predictor.energy[self.inside] + shift
        m = np.interp(e, self.measured.energy, self.measured.norm)
        segment = np.clip(np.searchsorted(self.measured.energy, e, side="right") - 1, 0, len(self.slope) - 1)
        dm = self.slope[segment]  # the derivative of np.interp's straight segments
        nn = float(n @ n)
        c = float(m @ n) / nn
        r = (m - c * n) / self.m_norm
        j_p = (-c * jn - np.outer(n, (m - 2 * c * n) @ jn) / nn) / self.m_norm
        j_shift = (dm - n * float(n @ dm) / nn) / self.m_norm
        x = self.moves.positions(self.x0, p)
        rr, rj = self.restraints.residuals(x, self.moves.basis)
        misfit = float(r @ r)
        if misfit < self.best[0]:
            self.best = (misfit, p.copy(), shift)
        if self.callback is not None and self.callback(x, {"stage": self.stage, "evaluation": self.evaluations,
                                                           "r_factor": misfit, "shift_eV": shift}):
            raise Stopped
        residual = np.concatenate([r, rr])
        jacobian = np.vstack([np.column_stack([j_p, j_shift]),
                              np.column_stack([rj, np.zeros(len(rr))])])
        return residual, jacobian

    def solve(self, p: np.ndarray, shift: float, rounds: int = 4, max_evaluations: int = 40) -> tuple[np.ndarray, float]:
        """Least squares in rounds (E0, overlap and pre-edge re-fixed each round) until the
        parameters settle; returns the best (p, shift) seen."""
        bound = self.moves.bound
        for _ in range(rounds):
            self.start_round(p, shift)
            cache = {}

            def fun(q):
                cache[q.tobytes()] = self.residuals(q)
                return cache[q.tobytes()][0]

            def jac(q):
                return (cache.get(q.tobytes()) or self.residuals(q))[1]

            q0 = np.append(np.clip(p, -bound, bound), shift)
            lower = np.append(np.full(len(p), -bound), shift - SHIFT_STEP_EV)
            upper = np.append(np.full(len(p), bound), shift + SHIFT_STEP_EV)
            import scipy.optimize

            fit = scipy.optimize.least_squares(fun, q0, jac=jac, bounds=(lower, upper), method="trf",
                                               x_scale=np.append(np.full(len(p), 0.05), 0.5),
                                               max_nfev=max_evaluations, xtol=1e-4, ftol=1e-6)
            moved = np.max(np.abs(fit.x[:-1] - p)) if len(p) else 0.0
            p, new_shift = fit.x[:-1], float(fit.x[-1])
            settled = moved < 2e-3 and abs(new_shift - shift) < 0.05
            shift = new_shift
            if settled:
                break
        return p, shift


@dataclass(frozen=True)
class Refinement:
    """A refined structure, its first-shell distances before and after (with the spread over the
    ensemble's networks), and the misfit before and after."""

    atoms: Atoms
    start: Atoms
    absorber: int
    mode: str
    parameters: dict  # name -> refined value (Å)
    donors: np.ndarray
    distances_before: np.ndarray
    distances_after: np.ndarray
    distances_spread: np.ndarray | None  # std over networks (None: not computed)
    mean_spread: float | None
    before: object  # Comparison
    after: object
    evaluations: int
    seconds: float
    stopped: bool = False
    notes: tuple = ()
    network_distances: np.ndarray | None = field(default=None, repr=False)  # (n_networks, n_donors)

    @property
    def mean_before(self) -> float:
        return float(self.distances_before.mean())

    @property
    def mean_after(self) -> float:
        return float(self.distances_after.mean())

    def bonds(self) -> list[dict]:
        """One row per first-shell bond: donor, before, after, change and spread (Å)."""
        rows = []
        for k, donor in enumerate(self.donors):
            rows.append({"donor": int(donor), "element": self.atoms[int(donor)].symbol,
                         "before": round(float(self.distances_before[k]), 4),
                         "after": round(float(self.distances_after[k]), 4),
                         "change": round(float(self.distances_after[k] - self.distances_before[k]), 4),
                         "spread": None if self.distances_spread is None else round(float(self.distances_spread[k]), 4)})
        return rows

    def summary(self) -> dict:
        return {"mode": self.mode, "absorber": self.absorber, "bonds": self.bonds(),
                "mean_distance": {"before": round(self.mean_before, 4), "after": round(self.mean_after, 4),
                                  "spread": None if self.mean_spread is None else round(self.mean_spread, 4)},
                "misfit": {"before": self.before.summary(), "after": self.after.summary()},
                "parameters": {k: round(v, 4) for k, v in self.parameters.items()},
                "evaluations": self.evaluations, "seconds": round(self.seconds, 2), "stopped": self.stopped,
                "notes": list(self.notes)}

    def format(self) -> str:
        spread = "" if self.mean_spread is None else f" ± {self.mean_spread:.3f}"
        lines = [f"refined ({self.mode}, {self.evaluations} model evaluations, {self.seconds:.1f} s"
                 + (", stopped early" if self.stopped else "") + f"): R-factor {self.before.r_factor:.5f} → "
                 f"{self.after.r_factor:.5f}; mean first-shell distance {self.mean_before:.3f} → {self.mean_after:.3f}{spread} Å"]
        for row in self.bonds():
            spread = "" if row["spread"] is None else f" ± {row['spread']:.3f}"
            lines.append(f"  {self.atoms[self.absorber].symbol}-{row['element']}{row['donor']}: "
                         f"{row['before']:.3f} → {row['after']:.3f}{spread} Å")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def _distances(positions: np.ndarray, absorber: int, donors: np.ndarray) -> np.ndarray:
    return np.linalg.norm(positions[donors] - positions[absorber], axis=1)


def refine(predictor, atoms: Atoms, measured, mode: str = "ligands", atoms_to_move=None, radius: float | None = None,
           absorber=None, broadening: Broadening | None = None, error_bars: bool = True, callback=None,
           max_evaluations: int = 30, source: str = "structure") -> Refinement:
    """Refine ``atoms`` so that ``predictor``'s spectrum matches ``measured`` (a
    :class:`~xanesviz.measured.MeasuredSpectrum`).

    ``mode``: ``"ligands"`` (after a breathing stage), ``"breathing"`` or ``"atoms"`` (the indices
    ``atoms_to_move``, or every atom within ``radius`` Å of the absorber). ``broadening`` is applied
    to the prediction as in :func:`~xanesviz.compare.compare`. ``callback(positions, info)`` is
    called at every model evaluation; returning True stops the refinement, which then keeps the
    best structure so far (and skips the error bars). ``error_bars`` repeats the last stage with
    each network alone (from the ensemble's optimum) for the spread of each distance.
    """
    if mode not in MODES:
        raise XanesvizError(f"unknown refinement mode {mode!r}: choose one of {', '.join(MODES)}")
    if any(atoms.pbc):
        raise StructureError(f"{source}: refining a periodic structure is not supported; refine a finite "
                             "cluster cut around the absorber instead")
    started = time.perf_counter()
    index = predictor.absorber_index(atoms, absorber, source)
    atoms = atoms.copy()
    prediction = predictor.predict(atoms, index, source=source)
    base = resolved_broadening(prediction, broadening)
    before = compare(measured, prediction, broadening=base)
    shell = first_shell(atoms, index, source)
    donors = shell.donors
    notes = []
    if mode == "atoms":
        chosen = atoms_to_move if atoms_to_move is not None else (
            atoms_within(atoms, index, radius) if radius is not None else None)
        if chosen is None:
            raise XanesvizError("refinement mode 'atoms' needs the atoms to move (atoms_to_move or radius)")
        stages = [atom_moves(atoms, chosen, source)]
        notes.append(WEAK_BONDS_NOTE)
    elif mode == "breathing":
        stages = [ligand_moves(atoms, index, breathing=True, source=source)]
    else:
        stages = [ligand_moves(atoms, index, breathing=True, source=source), ligand_moves(atoms, index, source=source)]
        if len(stages[1]) > 1:
            notes.append(WEAK_BONDS_NOTE)
    stopped = False
    evaluations = 0
    shift = before.shift_eV
    p = np.zeros(0)
    # The optimiser's objective holds E0 and the pre-edge range per round; the figures shown are
    # compare()'s, so the structure returned is the best by compare() of the start and each stage.
    best = (before, atoms.positions.copy(), np.zeros(len(stages[-1])), shift)
    for k, moves in enumerate(stages):
        p = np.full(len(moves), p[0]) if (k and len(p) == 1 and moves.mode == "ligands") else np.zeros(len(moves))
        problem = _Problem(predictor, atoms, index, measured, base, moves, callback=callback, stage=moves.mode)
        try:
            p, shift = problem.solve(p, shift, rounds=3 if k == len(stages) - 1 else 2, max_evaluations=max_evaluations)
        except Stopped:
            stopped = True
            p, shift = problem.best[1] if problem.best[1] is not None else p, problem.best[2] or shift
        evaluations += problem.evaluations
        candidate = atoms.copy()
        candidate.positions = moves.positions(atoms.positions, p)
        result = compare(measured, predictor.predict(candidate, index, source=source), broadening=base)
        if result.r_factor < best[0].r_factor:
            last = p if len(p) == len(stages[-1]) else np.full(len(stages[-1]), p[0])
            best = (result, candidate.positions, last, shift)
        if stopped:
            break
    after, positions, p, shift = best
    refined = atoms.copy()
    refined.positions = positions
    network_distances, spread, mean_spread = None, None, None
    if error_bars and not stopped and predictor.n_networks > 1:
        moves = stages[-1]
        results = []
        for network in range(predictor.n_networks):
            one = _Problem(predictor, atoms, index, measured, base, moves, network=network)
            q, _ = one.solve(p.copy(), shift, rounds=1, max_evaluations=NETWORK_EVALUATIONS)
            evaluations += one.evaluations
            results.append(_distances(moves.positions(atoms.positions, q), index, donors))
        network_distances = np.array(results)
        spread = network_distances.std(axis=0, ddof=1)
        mean_spread = float(network_distances.mean(axis=1).std(ddof=1))
    stage = stages[-1]
    parameters = {name: float(v) for name, v in zip(stage.names, p)} if stage.mode != "atoms" else {}
    return Refinement(refined, atoms, index, mode, parameters, donors,
                      _distances(atoms.positions, index, donors), _distances(positions, index, donors),
                      spread, mean_spread, before, after, evaluations, time.perf_counter() - started, stopped,
                      tuple(notes), network_distances)
