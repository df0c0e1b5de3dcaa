"""Cross-validation splits: formulas from stems, grouped folds that never share a formula."""

import numpy as np
import pytest
from sklearn.model_selection import KFold

from xanesviz.errors import XanesvizError
from xanesviz.splits import cv_splitter, fold_numbers, formula_groups, formula_of, groups_for


def test_formula_of_reads_the_stem_after_the_refcode():
    assert formula_of("ACOMUA_C36H39FeP6(1+)") == "C36H39FeP6(1+)"
    assert formula_of("ABAXIK_C11H21FeIN3O2(1+)") == "C11H21FeIN3O2(1+)"
    assert formula_of("ABEMAX01_C33H60FeN4Si4") == "C33H60FeN4Si4"
    assert formula_of("ABCDEF_C6H6Fe(1-)") != formula_of("ABCDEF_C6H6Fe")  # the charge is part of it
    for stem in ("S00", "my_sample_3", "ABCDEF_", "_C6H6Fe", "ABCDEF_c6h6"):
        assert formula_of(stem) is None, stem
    assert formula_groups(["A_CH4Fe", "S01"]) is None


def shared_formula_stems(n=300, seed=0):
    """Stems like the reference data's: many formulas once, some up to seven times."""
    rng = np.random.default_rng(seed)
    counts = rng.choice([1, 1, 1, 1, 2, 3, 7], size=n)
    formulas = [f"C{i}H{2 * i}Fe" + ("(1+)" if i % 5 == 0 else "") for i in range(n)]
    stems = [f"R{i:03d}{j}_{formula}" for i, (formula, c) in enumerate(zip(formulas, counts)) for j in range(c)]
    return [stems[i] for i in rng.permutation(len(stems))]


@pytest.mark.parametrize("k, repeats, seed", [(5, 1, 0), (3, 2, 4)])
def test_grouped_folds_keep_each_formula_on_one_side_and_test_every_sample_once(k, repeats, seed):
    stems = shared_formula_stems()
    groups = formula_groups(stems)
    assert len(set(groups)) < len(stems)  # some formulas are shared
    splits = list(cv_splitter(k, repeats, seed, grouped=True).split(np.zeros((len(stems), 3)), groups=groups))
    assert len(splits) == k * repeats
    for r in range(repeats):
        tested = np.concatenate([test for _, test in splits[r * k:(r + 1) * k]])
        np.testing.assert_array_equal(np.sort(tested), np.arange(len(stems)))  # each sample tested once
        for train, test in splits[r * k:(r + 1) * k]:
            assert not set(groups[train]) & set(groups[test])
            assert len(train) + len(test) == len(stems)
            assert abs(len(test) - len(stems) / k) <= 7  # balanced up to the largest group
    if repeats > 1:  # a fresh shuffle per repeat
        assert not np.array_equal(splits[0][1], splits[k][1])


def test_grouped_folds_depend_on_the_seed_and_are_reproducible():
    groups = formula_groups(shared_formula_stems())
    a, b, c = (fold_numbers(5, len(groups), seed, groups) for seed in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.5
    assert (a >= 0).all()


def test_plain_split_is_unchanged_shuffled_kfold():
    """The shipped model's stored out-of-fold predictions were made with this split."""
    expected = np.zeros(97, int)
    for fold, (_, test) in enumerate(KFold(5, shuffle=True, random_state=3).split(np.zeros(97))):
        expected[test] = fold
    np.testing.assert_array_equal(fold_numbers(5, 97, seed=3), expected)


def test_grouping_refuses_what_it_cannot_do():
    with pytest.raises(XanesvizError, match="sample 'S01' is not named REFCODE_FORMULA"):
        groups_for("formula", ["A_CH4Fe", "S01"])
    with pytest.raises(XanesvizError, match="unknown CV grouping 'charge'"):
        groups_for("charge", ["A_CH4Fe"])
    assert groups_for("none", ["S01"]) is None
    groups = np.array(["A", "A", "B", "B", "C", "C"])
    with pytest.raises(XanesvizError, match="5-fold grouped CV needs at least 5 groups, the data have 3"):
        list(cv_splitter(5, grouped=True).split(np.zeros(6), groups=groups))
    with pytest.raises(XanesvizError, match="a grouped split needs one group label per sample"):
        list(cv_splitter(2, grouped=True).split(np.zeros(6)))


def test_reference_data_formula_groups(data_dir):
    """504 of the 4079 complexes share a formula with another; no fold splits one."""
    from xanesviz.data import list_stems

    stems = list_stems(data_dir)
    groups = formula_groups(stems)
    assert groups is not None and len(groups) == 4079
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    assert (counts[inverse] > 1).sum() == 504
    fold = fold_numbers(5, len(stems), 0, groups)
    assert np.bincount(fold).min() >= 815
    for f in range(5):
        assert not set(groups[fold == f]) & set(groups[fold != f])
