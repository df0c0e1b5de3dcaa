"""Cross-validation splits: plain shuffled K-fold, or K-fold grouped by chemical formula.

The reference data's file stems are ``REFCODE_FORMULA`` (the CSD refcode, then the formula
with the complex's charge, e.g. ``ACOMUA_C36H39FeP6(1+)``). Complexes that share a formula can
be near-copies of each other, so a plain split can test a model on the twin of a training
complex; a grouped split keeps every formula on one side. scikit-learn is imported only where a split
is made, so the command line can read :data:`GROUPINGS` cheaply.
"""

from __future__ import annotations

import re

import numpy as np

from .errors import XanesvizError

#: ``REFCODE_FORMULA``: a refcode, ``_``, then a formula (element symbols and counts) with an
#: optional charge in parentheses, e.g. ``ACOMUA_C36H39FeP6(1+)``.
STEM_PATTERN = re.compile(r"^[A-Za-z0-9]+_([A-Z][A-Za-z0-9]*(?:\(\d*[+-]\))?)$")
#: The groupings the command line offers: ``none`` (plain shuffled K-fold) and ``formula``.
GROUPINGS = ("none", "formula")


def formula_of(stem: str) -> str | None:
    """The formula (with charge) of a ``REFCODE_FORMULA`` stem, or None if the stem is not of that form."""
    match = STEM_PATTERN.match(stem)
    return match.group(1) if match else None


def formula_groups(names) -> np.ndarray | None:
    """One group label per sample: the formula of its stem. None if any stem is not ``REFCODE_FORMULA``
    (then there is nothing to group by)."""
    formulas = [formula_of(str(name)) for name in names]
    return None if not formulas or None in formulas else np.array(formulas)


class ShuffledGroupKFold:
    """K folds of whole groups in a random order: scikit-learn's ``GroupKFold`` (largest groups
    first, each to the fold with fewest samples so far) over the groups relabelled at random, so
    groups of one size are dealt in a shuffled order. ``repeats`` repeats with fresh shuffles; folds
    are numbered as in ``RepeatedKFold``: repeat r yields folds r*K .. r*K+K-1."""

    def __init__(self, n_splits: int = 5, repeats: int = 1, random_state: int | None = 0):
        self.n_splits, self.repeats, self.random_state = n_splits, repeats, random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits * self.repeats

    def split(self, X, y=None, groups=None):
        if groups is None:
            raise XanesvizError("a grouped split needs one group label per sample")
        groups = np.asarray(groups)
        if len(groups) != len(X):
            raise XanesvizError(f"{len(groups)} group labels for {len(X)} samples")
        _, group_index = np.unique(groups, return_inverse=True)
        n_groups = group_index.max() + 1 if len(groups) else 0
        if n_groups < self.n_splits:
            raise XanesvizError(f"{self.n_splits}-fold grouped CV needs at least {self.n_splits} groups, "
                                f"the data have {n_groups}")
        from sklearn.model_selection import GroupKFold
        from sklearn.utils import check_random_state

        rng = check_random_state(self.random_state)
        for _ in range(self.repeats):
            shuffled = rng.permutation(n_groups)[group_index]
            yield from GroupKFold(self.n_splits).split(groups, groups=shuffled)


def groups_for(grouping: str, names) -> np.ndarray | None:
    """The group labels of a grouping of :data:`GROUPINGS` for samples with these stems (None: plain
    K-fold). Refuses ``formula`` when the stems are not ``REFCODE_FORMULA``."""
    if grouping not in GROUPINGS:
        raise XanesvizError(f"unknown CV grouping {grouping!r}; choose one of {', '.join(GROUPINGS)}")
    if grouping == "none":
        return None
    groups = formula_groups(names)
    if groups is None:
        bad = next(str(n) for n in names if formula_of(str(n)) is None) if len(names) else "(no samples)"
        raise XanesvizError(f"cannot group by formula: sample {bad!r} is not named REFCODE_FORMULA")
    return groups


def cv_splitter(k: int = 5, repeats: int = 1, seed: int = 0, grouped: bool = False):
    """The split :func:`xanesviz.model.cross_validate` uses: shuffled (repeated) K-fold, or with
    ``grouped``, K folds of whole groups (pass the labels, e.g. of :func:`formula_groups`, as
    ``split(X, groups=...)``)."""
    from sklearn.model_selection import KFold, RepeatedKFold

    if grouped:
        return ShuffledGroupKFold(k, repeats, seed)
    return RepeatedKFold(n_splits=k, n_repeats=repeats, random_state=seed) if repeats > 1 else \
        KFold(n_splits=k, shuffle=True, random_state=seed)


def fold_numbers(k: int, n: int, seed: int = 0, groups=None) -> np.ndarray:
    """Which of the first repeat's ``k`` folds tests each of ``n`` samples, as ``cv_splitter`` splits
    them (grouped if ``groups`` are given)."""
    fold = np.full(n, -1, np.int8)
    for index, (_, test) in zip(range(k), cv_splitter(k, 1, seed, groups is not None).split(np.zeros((n, 1)), groups=groups)):
        fold[test] = index
    return fold
