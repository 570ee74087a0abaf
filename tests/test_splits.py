"""Split strategies and the identity-disjoint test set (fairaudit.splits)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fairaudit import FairauditInputError
from fairaudit.classification import splits
from fairaudit.classification.splits import (
    Combined,
    CustomSplit,
    LeaveOneGroupOut,
    Mixture,
    MixtureSweep,
    PerGroup,
    Pooled,
    choose_test_set,
    parse_split,
    resolve_split,
)


def _population(ids_per_stratum, samples, groups=("A", "B", "N"), classes=("H", "M"), seed=0):
    """Row labels of a population: ``ids_per_stratum[g][c]`` identities, ``samples`` rows each."""
    rng = np.random.default_rng(seed)
    g, t, ident = [], [], []
    for gi, grp in enumerate(groups):
        for ci, cls in enumerate(classes):
            n_ids = ids_per_stratum if isinstance(ids_per_stratum, int) else ids_per_stratum[gi][ci]
            for k in range(n_ids):
                reps = samples if isinstance(samples, int) else int(rng.integers(samples[0], samples[1] + 1))
                g += [grp] * reps
                t += [cls] * reps
                ident += [f"{grp}{cls}{k}"] * reps
    order = rng.permutation(len(g))  # rows in random order: nothing may rely on sorting
    return np.array(g)[order], np.array(t)[order], np.array(ident)[order]


def _train_sets(strategy, groups, target, identity, *, test_size=0.33, seed=0):
    rng_test, rng_train = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    test = choose_test_set(groups, target, identity, test_size=test_size, rng=rng_test)
    pool = np.setdiff1d(np.arange(len(groups)), test)
    sets = list(strategy.train_sets(pool, groups=groups, target=target, identity=identity, rng=rng_train))
    return test, pool, sets


def _counts(rows, groups, target):
    keys, counts = np.unique(np.char.add(np.char.add(groups[rows], "|"), target[rows]), return_counts=True)
    return dict(zip(keys.tolist(), counts.tolist()))


# --- the test set ---------------------------------------------------------------
def test_test_set_holds_out_whole_identities_per_stratum():
    g, t, ident = _population(9, 3)
    test = choose_test_set(g, t, ident, test_size=0.33, rng=np.random.default_rng(0))
    held = set(ident[test])
    # whole identities: every row of a held-out identity is in the test set
    assert set(np.flatnonzero(np.isin(ident, list(held)))) == set(test)
    for grp in "ABN":
        for cls in "HM":
            ids = set(ident[(g == grp) & (t == cls)])
            assert len(ids & held) == math.ceil(0.33 * 9)


def test_test_set_keeps_one_identity_for_training():
    g, t, ident = _population(2, 1)
    test = choose_test_set(g, t, ident, test_size=0.9, rng=np.random.default_rng(0))
    assert len(test) == 6  # one of the two identities of each of the 6 strata


def test_same_generator_state_gives_same_test_set_for_equivalent_strata():
    g, t, ident = _population(8, 2)
    six = np.char.add(np.char.add(t, " & "), g)  # gender & ethnicity labels, same partition
    a = choose_test_set(g, t, ident, test_size=0.33, rng=np.random.default_rng(5))
    b = choose_test_set(g, six, ident, test_size=0.33, rng=np.random.default_rng(5))
    c = choose_test_set(g, t, ident, test_size=0.33, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_stratum_with_one_identity_is_refused():
    g, t, ident = _population([[3, 3], [3, 1], [3, 3]], 2)
    with pytest.raises(FairauditInputError) as info:
        choose_test_set(g, t, ident, test_size=0.33, rng=np.random.default_rng(0),
                        by_name="ethnicity", target_name="gender")
    assert str(info.value) == splits.STRATUM_TOO_SMALL.format(
        by="ethnicity", group="B", target_name="gender", target="M", n=1)


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "0.3", True, None])
def test_bad_test_size_is_refused(bad):
    with pytest.raises(FairauditInputError) as info:
        splits.check_test_size(bad)
    assert str(info.value) == splits.BAD_TEST_SIZE.format(value=bad)


# --- built-in strategies ------------------------------------------------------
def test_per_group_trains_each_model_on_its_group_with_balanced_classes():
    g, t, ident = _population([[10, 6], [7, 7], [5, 9]], 2)
    test, pool, sets = _train_sets(PerGroup(), g, t, ident)
    assert [name for name, _ in sets] == ["A", "B", "N"]
    for name, rows in sets:
        assert set(g[rows]) == {name}
        assert set(rows) <= set(pool)
        counts = _counts(rows, g, t)
        available = _counts(pool[g[pool] == name], g, t)
        assert counts[f"{name}|H"] == counts[f"{name}|M"] == min(available.values())


def test_pooled_gives_every_group_and_class_the_smallest_cell():
    g, t, ident = _population([[10, 6], [7, 7], [5, 9]], 2)
    test, pool, sets = _train_sets(Pooled(), g, t, ident)
    assert [name for name, _ in sets] == ["pooled"]
    counts = _counts(sets[0][1], g, t)
    assert len(counts) == 6
    assert len(set(counts.values())) == 1
    assert next(iter(counts.values())) == min(_counts(pool, g, t).values())


def test_leave_one_group_out_trains_on_all_other_groups():
    g, t, ident = _population(6, 2)
    test, pool, sets = _train_sets(LeaveOneGroupOut(), g, t, ident)
    assert [name for name, _ in sets] == ["all but A", "all but B", "all but N"]
    for name, rows in sets:
        held = name.removeprefix("all but ")
        assert set(g[rows]) == set("ABN") - {held}
        assert np.sum(t[rows] == "H") == np.sum(t[rows] == "M")


def test_leave_one_group_out_needs_two_groups():
    g, t, ident = _population(4, 1, groups=("A",))
    with pytest.raises(FairauditInputError) as info:
        _train_sets(LeaveOneGroupOut(), g, t, ident)
    assert str(info.value) == splits.LOGO_ONE_GROUP.format(n=1, groups=["A"])


def test_mixture_draws_the_requested_shares_with_balanced_classes():
    g, t, ident = _population(150, 2)
    mix = Mixture({"B": 0.6, "A": 0.3, "N": 0.1}, 300)
    test, pool, sets = _train_sets(mix, g, t, ident)
    name, rows = sets[0]
    assert name == "mixture(B=0.6,A=0.3,N=0.1)"
    assert len(rows) == 300
    assert _counts(rows, g, t) == {"A|H": 45, "A|M": 45, "B|H": 90, "B|M": 90, "N|H": 15, "N|M": 15}


def test_mixture_share_zero_leaves_a_group_out():
    g, t, ident = _population(60, 1)
    test, pool, sets = _train_sets(Mixture({"N": 0.8, "A": 0.2, "B": 0.0}, 50, name="N80"), g, t, ident)
    name, rows = sets[0]
    assert name == "N80"
    assert _counts(rows, g, t) == {"A|H": 5, "A|M": 5, "N|H": 20, "N|M": 20}


def test_mixture_rounds_to_exactly_the_size():
    g, t, ident = _population(60, 1)
    for size in (7, 31, 61):
        _, _, sets = _train_sets(Mixture({"B": 0.6, "A": 0.3, "N": 0.1}, size), g, t, ident)
        assert len(sets[0][1]) == size


def test_mixture_proportions_must_sum_to_one():
    with pytest.raises(FairauditInputError) as info:
        Mixture({"B": 0.6, "A": 0.3}, 100)
    assert str(info.value) == splits.MIXTURE_SUM.format(value={"B": 0.6, "A": 0.3}, total=0.9)
    Mixture({"B": 0.6, "A": 0.3, "N": 0.1 + 5e-7}, 100)  # within the 1e-6 tolerance


@pytest.mark.parametrize("share", [-0.1, float("nan"), "x"])
def test_mixture_share_must_be_a_non_negative_number(share):
    with pytest.raises(FairauditInputError) as info:
        Mixture({"B": share, "A": 1.0}, 100)
    assert str(info.value) == splits.MIXTURE_BAD_SHARE.format(group="B", value=share)


def test_mixture_with_too_few_rows_says_how_many_exist_and_were_asked():
    g, t, ident = _population(30, 1)  # 20 identities per stratum outside the test set
    mix = Mixture({"B": 0.6, "A": 0.3, "N": 0.1}, 3000)
    with pytest.raises(FairauditInputError) as info:
        _train_sets(mix, g, t, ident)
    assert str(info.value) == splits.MIXTURE_TOO_FEW.format(
        name=mix.name, asked=900, group="B", target="H", share=0.6, size=3000, n_classes=2,
        available=20, max_size=68)


def test_mixture_without_size_uses_the_largest_size_the_pool_fills():
    g, t, ident = _population(30, 1)
    _, pool, sets = _train_sets(Mixture({"B": 0.6, "A": 0.3, "N": 0.1}), g, t, ident)
    rows = sets[0][1]
    # B needs 0.3 * size <= 20 rows per class; rounding lets 68 fit (B 20 + 20, A 10 + 10, N 4 + 4)
    assert len(rows) == 68
    assert _counts(rows, g, t) == {"A|H": 10, "A|M": 10, "B|H": 20, "B|M": 20, "N|H": 4, "N|M": 4}
    with pytest.raises(FairauditInputError):
        _train_sets(Mixture({"B": 0.6, "A": 0.3, "N": 0.1}, 69), g, t, ident)


def test_mixture_naming_an_unknown_group_lists_the_groups():
    g, t, ident = _population(5, 1)
    with pytest.raises(FairauditInputError) as info:
        _train_sets(Mixture({"X": 1.0}, 10), g, t, ident)
    assert str(info.value) == splits.MIXTURE_UNKNOWN_GROUP.format(
        name="mixture(X=1)", group="X", available=["A", "B", "N"])


def test_mixture_sweep_defines_one_model_per_mixture():
    g, t, ident = _population(60, 1)
    sweep = MixtureSweep([Mixture({"B": 0.6, "A": 0.3, "N": 0.1}, 30, name="m1"),
                          Mixture({"N": 0.8, "A": 0.2}, 30, name="m2")])
    _, _, sets = _train_sets(sweep, g, t, ident)
    assert [name for name, _ in sets] == ["m1", "m2"]
    with pytest.raises(FairauditInputError) as info:
        MixtureSweep([PerGroup()])
    assert str(info.value) == splits.SWEEP_NOT_MIXTURE.format(index=0, value=PerGroup())


# --- the property that matters ------------------------------------------------------
_STRATEGIES = {
    "per-group": lambda groups: PerGroup(),
    "pooled": lambda groups: Pooled(),
    "leave-one-group-out": lambda groups: LeaveOneGroupOut(),
    "mixture": lambda groups: Mixture({g: 1 / len(groups) for g in groups}),
    "combined": lambda groups: Combined([PerGroup(), Pooled(), Mixture({groups[0]: 1.0}, name="only")]),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_groups=st.integers(2, 4),
    n_classes=st.integers(2, 3),
    ids=st.lists(st.integers(2, 6), min_size=12, max_size=12),
    max_samples=st.integers(1, 4),
    test_size=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**32 - 1),
    strategy=st.sampled_from(sorted(_STRATEGIES)),
)
def test_no_identity_is_ever_on_both_sides(n_groups, n_classes, ids, max_samples, test_size, seed, strategy):
    groups = tuple("ABCD"[:n_groups])
    classes = tuple("HMX"[:n_classes])
    layout = [[ids[gi * 3 + ci] for ci in range(n_classes)] for gi in range(n_groups)]
    g, t, ident = _population(layout, (1, max_samples), groups=groups, classes=classes, seed=seed % 1000)
    test, pool, sets = _train_sets(_STRATEGIES[strategy](groups), g, t, ident, test_size=test_size,
                                   seed=seed)
    test_ids = set(ident[test])
    assert sets
    for name, rows in sets:
        assert len(rows) > 0
        assert set(rows) <= set(pool)
        assert not set(ident[rows]) & test_ids, (strategy, name)
        # classes balanced within every group of the training set
        for grp in set(g[rows]):
            in_group = _counts(rows[g[rows] == grp], g, t)
            if name != "only" and not name.startswith("mixture"):
                assert len(set(in_group.values())) == 1
            else:
                assert max(in_group.values()) - min(in_group.values()) <= 1


# --- parsing and resolving -------------------------------------------------------
def test_parse_split_reads_names_and_mixture_specs():
    assert isinstance(parse_split("per-group"), PerGroup)
    assert isinstance(parse_split("pooled"), Pooled)
    assert isinstance(parse_split("leave-one-group-out"), LeaveOneGroupOut)
    mix = parse_split("mixture:B=0.6, A=0.3 ,N=0.1", size=3000)
    assert isinstance(mix, Mixture)
    assert mix.proportions == {"B": 0.6, "A": 0.3, "N": 0.1}
    assert mix.size == 3000
    sweep = parse_split("mixture:B=0.6,A=0.3,N=0.1;mixture:N=0.8,A=0.2,B=0", size=100)
    assert isinstance(sweep, MixtureSweep)
    assert [m.size for m in sweep.strategies] == [100, 100]
    combined = parse_split("per-group;pooled")
    assert isinstance(combined, Combined) and combined.name == "per-group + pooled"


@pytest.mark.parametrize("text", ["mixture", "mixture:", "mixture:B", "mixture:B=x", "mixture:B=0.5,B=0.5"])
def test_bad_mixture_spec_is_refused(text):
    with pytest.raises(FairauditInputError) as info:
        parse_split(text)
    assert str(info.value) == splits.MIXTURE_SYNTAX.format(value=text)


def test_unknown_split_name_lists_the_available_ones():
    with pytest.raises(FairauditInputError) as info:
        resolve_split("per_group")
    assert str(info.value) == splits.UNKNOWN_SPLIT.format(
        value="per_group", available=["leave-one-group-out", "per-group", "pooled"])


def test_resolve_split_accepts_instances_and_lists():
    strategy = Pooled()
    assert resolve_split(strategy) is strategy
    sweep = resolve_split([Mixture({"A": 1.0}, name="a"), Mixture({"B": 1.0}, name="b")], size=10)
    assert isinstance(sweep, MixtureSweep)
    assert [m.size for m in sweep.strategies] == [10, 10]
    assert isinstance(resolve_split(["per-group", "pooled"]), Combined)


def test_size_is_never_silently_ignored():
    with pytest.raises(FairauditInputError) as info:
        resolve_split("pooled", size=100)
    assert str(info.value) == splits.SIZE_NOT_APPLICABLE.format(value=100, split="pooled")


def test_not_a_split_is_refused():
    with pytest.raises(FairauditInputError) as info:
        resolve_split(42)
    assert str(info.value) == splits.NOT_A_SPLIT.format(
        value=42, type="int", available=sorted(splits.SPLITS))


def test_registry_maps_names_to_factories():
    assert set(splits.SPLITS) == {"per-group", "pooled", "leave-one-group-out", "mixture"}
    for name in ("per-group", "pooled", "leave-one-group-out"):
        assert splits.SPLITS[name]().name == name


# --- custom splits ------------------------------------------------------------------
def test_custom_split_with_an_identity_on_both_sides_is_refused_naming_it():
    ident = np.array(["a", "a", "b", "b", "c", "c"])
    with pytest.raises(FairauditInputError) as info:
        splits.check_identity_disjoint(np.array([0, 2]), np.array([1, 4]), ident, model="m", split="custom")
    assert str(info.value) == splits.LEAKAGE.format(
        split="custom", model="m", count=1, plural="y", identities="['a']")


def test_custom_split_validates_its_indices():
    with pytest.raises(FairauditInputError) as info:
        CustomSplit(train={}, test=[1])
    assert str(info.value) == splits.CUSTOM_EMPTY.format(what="train", item="model")
    with pytest.raises(FairauditInputError) as info:
        CustomSplit(train={"m": [0.5]}, test=[1])
    assert str(info.value) == splits.CUSTOM_BAD_INDICES.format(what="train['m']", value=[0.5])
    with pytest.raises(FairauditInputError) as info:
        Combined([CustomSplit(train={"m": [0]}, test=[1]), Pooled()])
    assert str(info.value) == splits.COMBINED_CUSTOM
