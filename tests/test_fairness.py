"""Tests of fairaudit.fairness: hand-computed cases, brute-force cross-checks, NaN rules."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fairaudit import fairness
from fairaudit.common.errors import FairauditInputError

FMR = [0.01, 0.02, 0.04]
FNMR = [0.05, 0.03, 0.10]
LABELS = ["A", "B", "W"]
COLUMNS = ["value", "ci_low", "ci_high", "defined", "reason", "n_boot_undefined",
           "direction", "formula"]


# --- brute-force references: literal double loops, one row at a time ----------
def bf_spread(row):
    if len(row) < 2 or any(math.isnan(v) for v in row):
        return math.nan
    return max(abs(a - b) for a, b in itertools.product(row, row))


def bf_gini(row):
    n = len(row)
    if n < 2 or any(math.isnan(v) for v in row):
        return math.nan
    mean = sum(row) / n
    if mean == 0:
        return math.nan
    double_sum = sum(abs(a - b) for a in row for b in row)
    return n / (n - 1) * double_sum / (2 * n**2 * mean)


def bf_ratio(row):
    if len(row) < 2 or any(math.isnan(v) for v in row):
        return math.nan
    if min(row) == 0:
        return math.nan
    return max(row) / min(row)


def bf_mix(a, b, alpha):
    # the unused term is dropped at alpha = 0 or 1
    if alpha == 1:
        return a
    if alpha == 0:
        return b
    return alpha * a + (1 - alpha) * b


def bf_geo(a, b, alpha):
    if alpha == 1:
        return a
    if alpha == 0:
        return b
    return a**alpha * b ** (1 - alpha)


def bf_all(fmr_row, fnmr_row, alpha):
    return {
        "fdr": 1 - bf_mix(bf_spread(fmr_row), bf_spread(fnmr_row), alpha),
        "garbe": bf_mix(bf_gini(fmr_row), bf_gini(fnmr_row), alpha),
        "inequity": bf_geo(bf_ratio(fmr_row), bf_ratio(fnmr_row), alpha),
        "fmr_max_min": bf_ratio(fmr_row),
        "fnmr_max_min": bf_ratio(fnmr_row),
    }


def no_warnings(func, *args, **kwargs):
    """Call func with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return func(*args, **kwargs)


rate = st.one_of(
    st.just(0.0),
    st.just(math.nan),
    st.floats(min_value=1e-6, max_value=1.0),
    st.sampled_from([0.01, 0.02, 0.5]),  # ties
)
alphas = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(min_value=0.0, max_value=1.0))


@st.composite
def rate_pairs(draw, max_groups=6):
    """(fmr, fnmr) of the same shape (B, G)."""
    shape = (draw(st.integers(0, 5)), draw(st.integers(0, max_groups)))
    fmr = draw(hnp.arrays(np.float64, shape, elements=rate))
    fnmr = draw(hnp.arrays(np.float64, shape, elements=rate))
    return fmr, fnmr


# --- hand-computed small cases -------------------------------------------------
def test_max_pairwise_difference_is_largest_gap():
    # |0.01-0.02| = 0.01, |0.01-0.04| = 0.03, |0.02-0.04| = 0.02 -> 0.03
    assert fairness.max_pairwise_difference(FMR) == pytest.approx(0.03)


def test_fdr_hand_computed():
    # A = 0.04 - 0.01 = 0.03, B = 0.10 - 0.03 = 0.07
    assert fairness.fdr(FMR, FNMR, alpha=0.5) == pytest.approx(1 - (0.5 * 0.03 + 0.5 * 0.07))
    assert fairness.fdr(FMR, FNMR, alpha=0.25) == pytest.approx(1 - (0.25 * 0.03 + 0.75 * 0.07))


def test_fdr_is_one_for_equal_rates():
    assert fairness.fdr([0.1, 0.1], [0.2, 0.2]) == 1.0


def test_gini_matches_explicit_double_loop_with_correction():
    x = FMR
    n = 3
    mean = (0.01 + 0.02 + 0.04) / 3
    # ordered pairs: each unordered gap counted twice
    double_sum = 2 * (0.01 + 0.03 + 0.02)
    expected = n / (n - 1) * double_sum / (2 * n**2 * mean)
    assert expected == pytest.approx(3 / 7)
    assert fairness.gini(x) == pytest.approx(expected)


def test_gini_is_one_when_one_group_has_all_the_error():
    # thanks to the n/(n-1) correction the maximum is 1 for any n
    for n in (2, 3, 7):
        x = [0.0] * (n - 1) + [0.3]
        assert fairness.gini(x) == pytest.approx(1.0)


def test_gini_is_exactly_zero_for_equal_rates():
    assert fairness.gini([0.1, 0.1, 0.1, 0.1]) == 0.0
    assert fairness.gini([0.3] * 7) == 0.0


def test_garbe_hand_computed():
    # Gini(FNMR): mean 0.06, gaps 0.02, 0.05, 0.07 -> 3/2 * 0.28 / (18 * 0.06) = 7/18
    gini_fnmr = 3 / 2 * (2 * (0.02 + 0.05 + 0.07)) / (2 * 9 * 0.06)
    assert gini_fnmr == pytest.approx(7 / 18)
    assert fairness.garbe(FMR, FNMR, alpha=0.5) == pytest.approx(0.5 * 3 / 7 + 0.5 * 7 / 18)
    assert fairness.garbe(FMR, FNMR, alpha=0.2) == pytest.approx(0.2 * 3 / 7 + 0.8 * 7 / 18)


def test_max_min_ratio_hand_computed():
    assert fairness.max_min_ratio(FMR) == pytest.approx(0.04 / 0.01)
    assert fairness.max_min_ratio(FNMR) == pytest.approx(0.10 / 0.03)


def test_inequity_rate_hand_computed():
    # (4)^0.5 * (10/3)^0.5 = sqrt(40/3)
    assert fairness.inequity_rate(FMR, FNMR) == pytest.approx(math.sqrt(40 / 3))
    assert fairness.inequity_rate(FMR, FNMR, alpha=0.75) == pytest.approx(
        4**0.75 * (10 / 3) ** 0.25
    )


def test_docs_worked_example_numbers():
    """The numbers printed in docs/concepts/fairness-figures.md."""
    values = fairness.compute_all(FMR, FNMR, alpha=0.5)
    assert float(values["fdr"]) == pytest.approx(0.95)
    assert round(float(values["fdr"]), 4) == 0.95
    assert fairness.gini(FMR) == pytest.approx(3 / 7)
    assert round(fairness.gini(FMR), 4) == 0.4286
    assert fairness.gini(FNMR) == pytest.approx(7 / 18)
    assert round(fairness.gini(FNMR), 4) == 0.3889
    assert float(values["garbe"]) == pytest.approx(103 / 252)
    assert round(float(values["garbe"]), 4) == 0.4087
    assert float(values["fmr_max_min"]) == pytest.approx(4.0)
    assert round(float(values["fnmr_max_min"]), 4) == 3.3333
    assert float(values["inequity"]) == pytest.approx(math.sqrt(40 / 3))
    assert round(float(values["inequity"]), 4) == 3.6515


# --- shapes ---------------------------------------------------------------------
def test_one_dimensional_input_gives_python_float():
    for value in (
        fairness.max_pairwise_difference(FMR),
        fairness.fdr(FMR, FNMR),
        fairness.gini(FMR),
        fairness.garbe(FMR, FNMR),
        fairness.max_min_ratio(FMR),
        fairness.inequity_rate(FMR, FNMR),
        fairness.max_min_ratio([0.0, 1.0]),  # undefined is still a float
    ):
        assert type(value) is float


def test_leading_axes_are_kept():
    rng = np.random.default_rng(0)
    fmr = rng.uniform(0.01, 0.1, size=(4, 2, 5))
    fnmr = rng.uniform(0.01, 0.1, size=(4, 2, 5))
    for func in (fairness.fdr, fairness.garbe, fairness.inequity_rate):
        out = func(fmr, fnmr)
        assert isinstance(out, np.ndarray) and out.shape == (4, 2)
    for func in (fairness.max_pairwise_difference, fairness.gini, fairness.max_min_ratio):
        assert func(fmr).shape == (4, 2)
    for name, arr in fairness.compute_all(fmr, fnmr).items():
        assert arr.shape == (4, 2), name


def test_compute_all_returns_float_arrays_for_every_figure():
    values = fairness.compute_all(FMR, FNMR)
    assert tuple(values) == fairness.FIGURES
    for arr in values.values():
        assert isinstance(arr, np.ndarray) and arr.shape == () and arr.dtype == np.float64


# --- brute-force cross-checks -----------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(pair=rate_pairs(), alpha=alphas)
def test_vectorised_figures_match_brute_force_double_loops(pair, alpha):
    fmr, fnmr = pair
    got = no_warnings(fairness.compute_all, fmr, fnmr, alpha)
    expected = {name: np.empty(fmr.shape[0]) for name in fairness.FIGURES}
    for i in range(fmr.shape[0]):
        for name, value in bf_all(list(fmr[i]), list(fnmr[i]), alpha).items():
            expected[name][i] = value
    for name in fairness.FIGURES:
        assert got[name].shape == (fmr.shape[0],)
        assert not np.isinf(got[name]).any(), name
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=name)


@settings(max_examples=200, deadline=None)
@given(pair=rate_pairs())
def test_single_rate_functions_match_brute_force(pair):
    x, _ = pair
    rows = [list(r) for r in x]
    for func, ref in (
        (fairness.max_pairwise_difference, bf_spread),
        (fairness.gini, bf_gini),
        (fairness.max_min_ratio, bf_ratio),
    ):
        got = no_warnings(func, x)
        np.testing.assert_allclose(got, [ref(r) for r in rows], rtol=1e-9, atol=1e-12,
                                   equal_nan=True)
        # the 1-D path agrees with the vectorised one
        for i, row in enumerate(x):
            one = no_warnings(func, row)
            assert type(one) is float
            assert one == pytest.approx(got[i], nan_ok=True, rel=1e-12, abs=1e-15)


@settings(max_examples=300, deadline=None)
@given(pair=rate_pairs(max_groups=5), alpha=alphas, figure=st.sampled_from(fairness.FIGURES))
def test_undefined_reason_is_empty_exactly_when_value_is_finite(pair, alpha, figure):
    fmr, fnmr = pair
    values = fairness.compute_all(fmr, fnmr, alpha)[figure]
    labels = [f"g{j}" for j in range(fmr.shape[1])]
    for i in range(fmr.shape[0]):
        reason = no_warnings(fairness.undefined_reason, figure, fmr[i], fnmr[i], labels, alpha)
        assert (reason == "") == bool(np.isfinite(values[i]))
        if reason:
            assert reason.startswith("undefined: ")


# --- undefined cases ---------------------------------------------------------------
@pytest.mark.parametrize(
    "fmr, fnmr",
    [
        ([0.0, 0.01, 0.02], [0.0, 0.0, 0.0]),  # zero minima and zero means
        ([0.0, 0.0], [0.0, 0.0]),
        ([0.01], [0.02]),  # one group
        ([], []),  # no group
        ([np.nan, 0.01], [0.02, 0.03]),  # a group without pairs
        ([np.inf, 0.01], [0.02, -np.inf]),  # nonsense rates count as missing
        (np.full((3, 4), np.nan), np.full((3, 4), np.nan)),
        (np.zeros((2, 0)), np.zeros((2, 0))),
    ],
)
def test_undefined_figures_are_nan_without_warning(fmr, fnmr):
    for alpha in (0.0, 0.5, 1.0):
        values = no_warnings(fairness.compute_all, fmr, fnmr, alpha)
        for name, arr in values.items():
            assert not np.isinf(arr).any(), name
    for func in (fairness.max_pairwise_difference, fairness.gini, fairness.max_min_ratio):
        out = np.asarray(no_warnings(func, fmr))
        assert not np.isinf(out).any()


def test_specific_undefined_values_are_nan():
    assert math.isnan(no_warnings(fairness.max_min_ratio, [0.0, 0.02]))
    assert math.isnan(no_warnings(fairness.gini, [0.0, 0.0, 0.0]))
    assert math.isnan(no_warnings(fairness.gini, [0.3]))
    assert math.isnan(no_warnings(fairness.fdr, [0.3], [0.1]))
    assert math.isnan(no_warnings(fairness.garbe, [0.0, 0.0], [0.1, 0.2]))
    assert math.isnan(no_warnings(fairness.inequity_rate, [0.01, 0.02], [0.0, 0.1]))
    assert math.isnan(no_warnings(fairness.max_pairwise_difference, []))


def test_subnormal_minimum_gives_nan_not_inf():
    assert math.isnan(no_warnings(fairness.max_min_ratio, [5e-324, 1.0]))


# --- alpha edges ----------------------------------------------------------------------
def test_alpha_one_ignores_the_fnmr_entirely():
    fmr, fnmr = [0.01, 0.04], [0.0, 0.1]  # FNMR min 0, would make the ratio undefined
    assert no_warnings(fairness.inequity_rate, fmr, fnmr, alpha=1.0) == pytest.approx(4.0)
    assert math.isnan(fairness.inequity_rate(fmr, fnmr, alpha=0.999))
    assert no_warnings(fairness.garbe, fmr, [0.0, 0.0], alpha=1.0) == pytest.approx(
        fairness.gini(fmr)
    )
    assert fairness.fdr(fmr, [np.nan, 0.1], alpha=1.0) == pytest.approx(1 - 0.03)


def test_alpha_zero_ignores_the_fmr_entirely():
    fmr, fnmr = [0.0, 0.0], [0.05, 0.1]
    assert no_warnings(fairness.inequity_rate, fmr, fnmr, alpha=0.0) == pytest.approx(2.0)
    assert no_warnings(fairness.garbe, fmr, fnmr, alpha=0.0) == pytest.approx(
        fairness.gini(fnmr)
    )
    assert fairness.fdr(fmr, fnmr, alpha=0.0) == pytest.approx(1 - 0.05)


def test_alpha_edges_agree_with_the_single_rate_figures():
    assert fairness.inequity_rate(FMR, FNMR, alpha=1) == fairness.max_min_ratio(FMR)
    assert fairness.inequity_rate(FMR, FNMR, alpha=0) == fairness.max_min_ratio(FNMR)
    assert fairness.garbe(FMR, FNMR, alpha=1) == fairness.gini(FMR)
    assert fairness.fdr(FMR, FNMR, alpha=0) == pytest.approx(1 - 0.07)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "0.5", None, True, math.nan])
def test_bad_alpha_is_refused(alpha):
    with pytest.raises(FairauditInputError, match="alpha"):
        fairness.fdr(FMR, FNMR, alpha=alpha)


def test_mismatched_shapes_are_refused():
    with pytest.raises(FairauditInputError, match="fnmr has shape"):
        fairness.compute_all([0.1, 0.2], [0.1, 0.2, 0.3])


def test_scalar_rates_are_refused():
    with pytest.raises(FairauditInputError, match="scalar"):
        fairness.gini(0.3)


# --- undefined_reason ----------------------------------------------------------------
def test_undefined_reason_names_the_groups_cause_and_fix():
    reason = fairness.undefined_reason(
        "fmr_max_min", [0.0, 0.0, 0.01], [0.1, 0.2, 0.3], ["N", "A", "W"]
    )
    assert reason == (
        "undefined: the FMR of group(s) 'N', 'A' is 0 at this threshold, so the max/min "
        "ratio divides by zero; lower the threshold or collect more impostor pairs."
    )


def test_undefined_reason_for_fnmr_suggests_raising_the_threshold():
    reason = fairness.undefined_reason("inequity", [0.1, 0.2], [0.0, 0.3], ["N", "A"])
    assert "FNMR of group(s) 'N'" in reason
    assert "raise the threshold or collect more genuine pairs" in reason


def test_undefined_reason_for_garbe_mentions_zero_mean():
    reason = fairness.undefined_reason("garbe", [0.0, 0.0], [0.1, 0.3], ["N", "A"])
    assert reason.startswith("undefined: the FMR of every group ('N', 'A') is 0")
    assert "Gini" in reason and "FNMR" not in reason


def test_undefined_reason_reports_both_rates():
    reason = fairness.undefined_reason("inequity", [0.0, 0.1], [0.2, 0.0], ["N", "A"])
    assert "FMR of group(s) 'N'" in reason and "FNMR of group(s) 'A'" in reason


def test_undefined_reason_fewer_than_two_groups():
    assert fairness.undefined_reason("fdr", [0.1], [0.2], ["N"]).startswith(
        "undefined: fewer than 2 groups"
    )
    assert fairness.undefined_reason("garbe", [], [], []).startswith(
        "undefined: fewer than 2 groups"
    )


def test_undefined_reason_is_empty_when_defined():
    for name in fairness.FIGURES:
        assert fairness.undefined_reason(name, FMR, FNMR, LABELS) == ""


def test_undefined_reason_does_not_blame_an_unused_rate():
    assert fairness.undefined_reason("inequity", [0.1, 0.2], [0.0, 0.3], ["N", "A"],
                                     alpha=1.0) == ""
    assert fairness.undefined_reason("fmr_max_min", [0.1, 0.2], [0.0, 0.3], ["N", "A"]) == ""


def test_undefined_reason_refuses_unknown_figure_and_bad_labels():
    with pytest.raises(FairauditInputError, match="not a fairness figure"):
        fairness.undefined_reason("eer", FMR, FNMR, LABELS)
    with pytest.raises(FairauditInputError, match="labels has 2 entries"):
        fairness.undefined_reason("fdr", FMR, FNMR, ["A", "B"])


# --- fairness_table ------------------------------------------------------------------
def binomial_replicates(n_boot=400, seed=0):
    """Parametric bootstrap of the docs example: counts ~ Binomial(n_pairs, rate)."""
    rng = np.random.default_rng(seed)
    fmr = rng.binomial(20_000, FMR, size=(n_boot, 3)) / 20_000
    fnmr = rng.binomial(2_000, FNMR, size=(n_boot, 3)) / 2_000
    return fmr, fnmr


REFERENCE = fairness.fairness_table(FMR, FNMR, labels=LABELS, replicates=binomial_replicates())


@pytest.mark.parametrize(
    "fmr, fnmr, labels, replicates",
    [
        (FMR, FNMR, LABELS, None),
        ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], LABELS, None),
        ([0.1], [0.2], ["N"], None),
        ([], [], [], None),
        ([0.01, np.nan, 0.02], [0.1, 0.2, 0.3], LABELS, None),
        ([np.nan, np.nan], [np.nan, np.nan], ["a", "b"], None),
        (FMR, FNMR, LABELS, binomial_replicates(50)),
        (FMR, FNMR, LABELS, (np.zeros((30, 3)), np.zeros((30, 3)))),
        (FMR, FNMR, LABELS, (np.zeros((0, 3)), np.zeros((0, 3)))),
        ([0.01, np.nan, 0.02], [0.1, 0.2, 0.3], LABELS,
         (np.full((5, 3), 0.1), np.full((5, 3), 0.2))),
    ],
)
def test_fairness_table_has_the_same_layout_whatever_the_input(fmr, fnmr, labels, replicates):
    table = no_warnings(fairness.fairness_table, fmr, fnmr, labels=labels,
                        replicates=replicates)
    assert isinstance(table, pd.DataFrame)
    assert table.shape == (5, 8)
    assert list(table.columns) == COLUMNS
    assert list(table.index) == list(fairness.FIGURES)
    assert table.index.name == "figure"
    pd.testing.assert_series_equal(table.dtypes, REFERENCE.dtypes)
    assert all(isinstance(r, str) for r in table["reason"])
    assert (table["defined"] == np.isfinite(table["value"])).all()
    assert not np.isinf(table[["value", "ci_low", "ci_high"]].to_numpy()).any()
    assert table.loc["fdr", "direction"] == "higher is fairer"
    assert (table.drop(index="fdr")["direction"] == "lower is fairer").all()
    # a scalar lookup is a scalar, a column is a Series, in every case
    assert isinstance(table["value"], pd.Series)
    assert isinstance(table.loc["garbe", "value"], float)


def test_fairness_table_values_match_the_figures():
    table = fairness.fairness_table(FMR, FNMR, labels=LABELS, alpha=0.3)
    for name, value in fairness.compute_all(FMR, FNMR, alpha=0.3).items():
        assert table.loc[name, "value"] == pytest.approx(float(value))
    assert table["defined"].all()
    assert (table["reason"] == "").all()
    assert (table["n_boot_undefined"] == 0).all()
    assert table[["ci_low", "ci_high"]].isna().all().all()


def test_fairness_table_ci_brackets_the_value():
    table = REFERENCE
    assert table["defined"].all()
    assert (table["ci_low"] <= table["value"]).all()
    assert (table["value"] <= table["ci_high"]).all()
    assert (table["ci_low"] < table["ci_high"]).all()
    assert (table["n_boot_undefined"] == 0).all()


def test_fairness_table_ci_is_the_percentile_interval_of_defined_replicates():
    fmr_reps, fnmr_reps = binomial_replicates(100, seed=3)
    fmr_reps[:7, 0] = 0.0  # 7 replicates where the FMR ratio is undefined
    table = fairness.fairness_table(FMR, FNMR, labels=LABELS, ci=0.9,
                                    replicates=(fmr_reps, fnmr_reps))
    ratios = fmr_reps[7:].max(axis=1) / fmr_reps[7:].min(axis=1)
    assert table.loc["fmr_max_min", "n_boot_undefined"] == 7
    assert table.loc["inequity", "n_boot_undefined"] == 7
    assert table.loc["fdr", "n_boot_undefined"] == 0
    assert table.loc["fmr_max_min", "ci_low"] == pytest.approx(np.quantile(ratios, 0.05))
    assert table.loc["fmr_max_min", "ci_high"] == pytest.approx(np.quantile(ratios, 0.95))


def test_fairness_table_ci_is_nan_with_fewer_than_two_defined_replicates():
    fmr_reps = np.array([[0.0, 0.02, 0.04], [0.0, 0.01, 0.02], [0.01, 0.02, 0.04]])
    fnmr_reps = np.tile(FNMR, (3, 1))
    table = fairness.fairness_table(FMR, FNMR, labels=LABELS,
                                    replicates=(fmr_reps, fnmr_reps))
    assert table.loc["fmr_max_min", "n_boot_undefined"] == 2
    assert np.isnan(table.loc["fmr_max_min", "ci_low"])
    assert np.isnan(table.loc["fmr_max_min", "ci_high"])
    assert not np.isnan(table.loc["fnmr_max_min", "ci_low"])


def test_fairness_table_excludes_groups_without_pairs_and_says_so():
    fmr = [0.01, np.nan, 0.02, 0.04]
    fnmr = [0.05, 0.2, 0.03, np.nan]
    labels = ["A", "I", "B", "W"]
    table = fairness.fairness_table(fmr, fnmr, labels=labels)
    # only A and B remain
    assert table.loc["fmr_max_min", "value"] == pytest.approx(2.0)
    assert table.loc["fnmr_max_min", "value"] == pytest.approx(0.05 / 0.03)
    note = "(groups excluded for lack of pairs: 'I', 'W')"
    assert all(reason.endswith(note) for reason in table["reason"])
    assert table["defined"].all()
    assert table.attrs["excluded_groups"] == ["I", "W"]


def test_fairness_table_explains_undefined_rows():
    table = fairness.fairness_table([0.0, 0.01, 0.02], FNMR, labels=["N", "A", "W"])
    assert not table.loc["inequity", "defined"]
    assert "FMR of group(s) 'N' is 0" in table.loc["inequity", "reason"]
    assert table.loc["fdr", "defined"] and table.loc["fdr", "reason"] == ""


@pytest.mark.parametrize(
    "replicates",
    [
        (np.zeros((10, 2)), np.zeros((10, 2))),  # wrong number of groups
        (np.zeros(3), np.zeros(3)),  # not 2-D
        (np.zeros((10, 3)),),  # not a pair
        np.zeros((2, 10, 3)),
    ],
)
def test_fairness_table_refuses_malformed_replicates(replicates):
    with pytest.raises(FairauditInputError):
        fairness.fairness_table(FMR, FNMR, labels=LABELS, replicates=replicates)


@pytest.mark.parametrize("ci", [0, 1, 1.5, "0.95"])
def test_fairness_table_refuses_bad_ci(ci):
    with pytest.raises(FairauditInputError, match="ci="):
        fairness.fairness_table(FMR, FNMR, labels=LABELS, ci=ci)


def test_fairness_table_refuses_bootstrap_shaped_full_rates():
    with pytest.raises(FairauditInputError, match="1-D"):
        fairness.fairness_table(np.zeros((4, 3)), np.zeros((4, 3)), labels=LABELS)
