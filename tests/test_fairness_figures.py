"""The fairness figures of issue 16 (item 4): the skewed error ratio of the EER, the standard
deviation of the group rates, NIST IR 8429's ratios to the geometric mean, and d' per group.

Every figure is checked against a value worked out by hand (in the comments), against brute
force written independently (numpy, scipy) on random vectors, and on the NaN / zero / one-group
edges; d' against every pair of a small population, scored with numpy.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps

import fairaudit
from fairaudit import fairness
from fairaudit.common.errors import FairauditInputError
from fairaudit.data import POOLED
from fairaudit.verification import plots as plot
from fairaudit.verification import separation
from fairaudit.verification.grid import DEFAULT_BIN_WIDTH, BinGrid

FMR = [0.01, 0.02, 0.04]
FNMR = [0.05, 0.03, 0.10]
EER = [0.02, 0.03, 0.07]
LABELS = ["A", "B", "W"]
NEW = ("fmr_sd", "fnmr_sd", "fmr_max_geomean", "fnmr_max_geomean", "eer_max_min", "eer_sd")


def no_warnings(func, *args, **kwargs):
    """Call func with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return func(*args, **kwargs)


# --- hand-computed values ------------------------------------------------------------
def test_group_sd_hand_computed():
    # FMR in units of 1/300: 3, 6, 12; mean 7; deviations -4, -1, 5; squares 16 + 1 + 25 = 42;
    # population variance 42 / 3 = 14, so sd = sqrt(14) / 300 = 0.012472.
    assert fairness.group_sd(FMR) == pytest.approx(math.sqrt(14) / 300, rel=1e-12)
    # FNMR in units of 1/300: 15, 9, 30; mean 18; deviations -3, -9, 12; squares 9 + 81 + 144 =
    # 234; variance 78, sd = sqrt(78) / 300 = 0.029439.
    assert fairness.group_sd(FNMR) == pytest.approx(math.sqrt(78) / 300, rel=1e-12)
    # EER in units of 1/100: 2, 3, 7; mean 4; deviations -2, -1, 3; squares 4 + 1 + 9 = 14;
    # variance 14 / 3, sd = sqrt(14 / 3) / 100 = 0.021602.
    assert fairness.group_sd(EER) == pytest.approx(math.sqrt(14 / 3) / 100, rel=1e-12)


def test_geomean_ratios_hand_computed():
    # geomean(0.01, 0.02, 0.04) = (8e-6)^(1/3) = 0.02: the ratios are 0.5, 1 and 2, max 2.
    np.testing.assert_allclose(fairness.ratio_to_geomean(FMR), [0.5, 1.0, 2.0], rtol=1e-12)
    assert fairness.max_geomean_ratio(FMR) == pytest.approx(2.0, rel=1e-12)
    # geomean(0.05, 0.03, 0.10) = (1.5e-4)^(1/3); max / geomean = (0.1^3 / 1.5e-4)^(1/3) =
    # (20/3)^(1/3) = 1.882072. The ratios multiply to 1.
    ratios = fairness.ratio_to_geomean(FNMR)
    assert fairness.max_geomean_ratio(FNMR) == pytest.approx((20 / 3) ** (1 / 3), rel=1e-12)
    assert ratios[2] == pytest.approx((20 / 3) ** (1 / 3), rel=1e-12)
    assert float(np.prod(ratios)) == pytest.approx(1.0, rel=1e-12)


def test_eer_skewed_error_ratio_hand_computed():
    # SER of the EER: 0.07 / 0.02 = 3.5; the SER of FMR and FNMR are the existing max/min ratios
    values = fairness.compute_all(FMR, FNMR, eer=EER)
    assert float(values["eer_max_min"]) == pytest.approx(3.5, rel=1e-12)
    assert float(values["eer_sd"]) == pytest.approx(math.sqrt(14 / 3) / 100, rel=1e-12)
    assert float(values["fmr_max_min"]) == pytest.approx(4.0)  # 0.04 / 0.01


def test_docs_worked_example_of_the_new_figures():
    """The numbers printed in docs/concepts/fairness-figures.md."""
    table = fairness.fairness_table(FMR, FNMR, labels=LABELS, eer=EER, figures=fairness.ALL_FIGURES)
    assert list(table.index) == list(fairness.ALL_FIGURES)
    expected = {"fmr_sd": 0.0125, "fnmr_sd": 0.0294, "fmr_max_geomean": 2.0,
                "fnmr_max_geomean": 1.8821, "eer_max_min": 3.5, "eer_sd": 0.0216}
    for name, value in expected.items():
        assert round(float(table.loc[name, "value"]), 4) == value, name


def test_equal_rates_are_exactly_fair():
    # equal rates: the sd is exactly 0 and every ratio exactly 1, without rounding noise
    for x in ([0.1, 0.1, 0.1], [1e-4] * 7, [0.3, 0.3]):
        assert no_warnings(fairness.group_sd, x) == 0.0
        assert no_warnings(fairness.max_geomean_ratio, x) == 1.0
        assert (no_warnings(fairness.ratio_to_geomean, x) == 1.0).all()
    # every group without error: the sd is 0 (equal), the ratios undefined (0 / 0)
    assert fairness.group_sd([0.0, 0.0]) == 0.0
    assert math.isnan(fairness.max_geomean_ratio([0.0, 0.0]))


# --- brute force on random vectors ------------------------------------------------------
def bf_sd(row):
    row = np.asarray(row, dtype=float)
    if row.size < 2 or np.isnan(row).any():
        return math.nan
    return float(np.std(row))  # ddof=0


def bf_vs_geomean(row):
    row = np.asarray(row, dtype=float)
    if row.size < 2 or np.isnan(row).any() or (row <= 0).any():
        return np.full(row.size, np.nan)
    return row / sps.gmean(row)


def bf_ser(row):
    row = np.asarray(row, dtype=float)
    if row.size < 2 or np.isnan(row).any() or row.min() <= 0:
        return math.nan
    return float(row.max() / row.min())


rate = st.one_of(st.just(0.0), st.just(math.nan), st.floats(min_value=1e-6, max_value=1.0),
                 st.sampled_from([0.01, 0.02, 0.5]))


@settings(max_examples=100, deadline=None)
@given(x=hnp.arrays(np.float64, st.tuples(st.integers(0, 5), st.integers(0, 6)), elements=rate))
def test_kernels_match_numpy_and_scipy(x):
    sd = no_warnings(fairness.group_sd, x)
    vs = no_warnings(fairness.ratio_to_geomean, x)
    top = no_warnings(fairness.max_geomean_ratio, x)
    ser = no_warnings(fairness.max_min_ratio, x)
    assert sd.shape == top.shape == (x.shape[0],) and vs.shape == x.shape
    for i, row in enumerate(x):
        ref = bf_vs_geomean(row)
        np.testing.assert_allclose(sd[i], bf_sd(row), rtol=1e-9, atol=1e-15, equal_nan=True)
        np.testing.assert_allclose(vs[i], ref, rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(top[i], np.max(ref) if row.size else np.nan, rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(ser[i], bf_ser(row), rtol=1e-9, equal_nan=True)
        if np.isfinite(top[i]):
            # 1 <= max/geomean <= max/min
            assert 1.0 <= top[i] <= ser[i] * (1 + 1e-12)
    for arr in (sd, vs, top):
        assert not np.isinf(arr).any()


def test_random_rates_against_brute_force_with_leading_axes():
    rng = np.random.default_rng(16)
    fmr = rng.uniform(1e-4, 0.2, size=(7, 3, 5))
    fnmr = rng.uniform(1e-3, 0.5, size=(7, 3, 5))
    eer = rng.uniform(1e-3, 0.3, size=(7, 3, 5))
    values = fairness.compute_all(fmr, fnmr, eer=eer, figures=fairness.ALL_FIGURES)
    assert tuple(values) == fairness.ALL_FIGURES
    for name, arr in values.items():
        assert arr.shape == (7, 3), name
    np.testing.assert_allclose(values["fmr_sd"], np.std(fmr, axis=-1), rtol=1e-10)
    np.testing.assert_allclose(values["fnmr_sd"], np.std(fnmr, axis=-1), rtol=1e-10)
    np.testing.assert_allclose(values["eer_sd"], np.std(eer, axis=-1), rtol=1e-10)
    np.testing.assert_allclose(values["eer_max_min"], eer.max(-1) / eer.min(-1), rtol=1e-12)
    np.testing.assert_allclose(values["fmr_max_geomean"], fmr.max(-1) / sps.gmean(fmr, axis=-1), rtol=1e-10)
    np.testing.assert_allclose(values["fnmr_max_geomean"], fnmr.max(-1) / sps.gmean(fnmr, axis=-1), rtol=1e-10)
    np.testing.assert_allclose(fairness.ratio_to_geomean(fmr), fmr / sps.gmean(fmr, axis=-1)[..., None],
                               rtol=1e-10)


# --- NaN, zero and one-group cases ---------------------------------------------------
@pytest.mark.parametrize("x", [[0.01], [], [np.nan, 0.01], [np.inf, 0.01], [0.0, 0.01], [5e-324, 1.0],
                               np.zeros((3, 0)), np.full((2, 4), np.nan)])
def test_undefined_cases_are_nan_without_warning_or_inf(x):
    for func in (fairness.group_sd, fairness.ratio_to_geomean, fairness.max_geomean_ratio):
        out = np.asarray(no_warnings(func, x))
        assert not np.isinf(out).any()


def test_specific_edge_values():
    assert math.isnan(fairness.max_geomean_ratio([0.01])) and math.isnan(fairness.group_sd([0.01]))
    assert np.isnan(fairness.ratio_to_geomean([0.01])).all()  # one group: nothing to compare
    assert math.isnan(fairness.max_geomean_ratio([0.0, 0.01]))  # geometric mean 0
    assert np.isnan(fairness.ratio_to_geomean([0.0, 0.01])).all()
    assert np.isnan(fairness.ratio_to_geomean([np.nan, 0.01, 0.02])).all()  # a missing rate
    # sqrt(1 / 5e-324) = 4.5e161 is finite; 1 against 30 subnormal rates overflows: NaN, not inf
    assert fairness.max_geomean_ratio([5e-324, 1.0]) == pytest.approx(1 / math.sqrt(5e-324))
    assert math.isnan(no_warnings(fairness.max_geomean_ratio, [1.0] + [5e-324] * 30))
    assert fairness.group_sd([0.0, 0.01]) == pytest.approx(0.005)  # the sd has no division


def test_scalars_are_refused_with_the_argument_named():
    for func in (fairness.group_sd, fairness.ratio_to_geomean, fairness.max_geomean_ratio):
        with pytest.raises(FairauditInputError, match="x must have a last axis of groups"):
            func(0.1)


# --- the table -----------------------------------------------------------------------
def test_default_table_is_unchanged_and_eer_adds_its_rows():
    old = fairness.fairness_table(FMR, FNMR, labels=LABELS)
    assert list(old.index) == list(fairness.FIGURES)
    with_eer = fairness.fairness_table(FMR, FNMR, labels=LABELS, eer=EER)
    assert list(with_eer.index) == list(fairness.FIGURES + fairness.EER_FIGURES)
    pd.testing.assert_frame_equal(with_eer.loc[list(fairness.FIGURES)], old)
    every = fairness.fairness_table(FMR, FNMR, labels=LABELS, eer=EER, figures=fairness.ALL_FIGURES)
    assert list(every.index) == list(fairness.ALL_FIGURES) and every["defined"].all()
    assert (every.loc[list(NEW), "direction"] == "lower is fairer").all()
    assert all(every.loc[name, "formula"] == fairness.FORMULA[name] for name in NEW)
    assert "ddof = 0" in every.loc["fmr_sd", "formula"] and "geomean" in every.loc["fmr_max_geomean", "formula"]


def binomial(n_boot, seed):
    rng = np.random.default_rng(seed)
    return (rng.binomial(20_000, FMR, size=(n_boot, 3)) / 20_000, rng.binomial(2_000, FNMR, size=(n_boot, 3)) / 2_000,
            rng.binomial(4_000, EER, size=(n_boot, 3)) / 4_000)


def test_table_intervals_are_percentiles_of_the_replicates():
    fmr_r, fnmr_r, eer_r = binomial(200, 1)
    eer_r[:5, 1] = 0.0  # 5 replicates where the EER ratio divides by zero
    table = fairness.fairness_table(FMR, FNMR, labels=LABELS, eer=EER, replicates=(fmr_r, fnmr_r),
                                    eer_replicates=eer_r, figures=fairness.ALL_FIGURES, ci=0.9)
    expected = {
        "fmr_sd": np.std(fmr_r, axis=1), "fnmr_sd": np.std(fnmr_r, axis=1), "eer_sd": np.std(eer_r, axis=1),
        "fmr_max_geomean": fmr_r.max(1) / sps.gmean(fmr_r, axis=1),
        "fnmr_max_geomean": fnmr_r.max(1) / sps.gmean(fnmr_r, axis=1),
        "eer_max_min": eer_r[5:].max(1) / eer_r[5:].min(1),
    }
    for name, reps in expected.items():
        lo, hi = np.quantile(reps, [0.05, 0.95])
        assert table.loc[name, "ci_low"] == pytest.approx(lo, rel=1e-9), name
        assert table.loc[name, "ci_high"] == pytest.approx(hi, rel=1e-9), name
    assert table.loc["eer_max_min", "n_boot_undefined"] == 5
    assert table.loc["eer_sd", "n_boot_undefined"] == 0 and table.loc["fmr_sd", "n_boot_undefined"] == 0
    assert table.attrs["n_boot"] == 200
    # EER rows without EER replicates: no interval, nothing counted
    no_eer_reps = fairness.fairness_table(FMR, FNMR, labels=LABELS, eer=EER, replicates=(fmr_r, fnmr_r))
    assert no_eer_reps.loc[list(fairness.EER_FIGURES), ["ci_low", "ci_high"]].isna().all().all()
    assert (no_eer_reps.loc[list(fairness.EER_FIGURES), "n_boot_undefined"] == 0).all()


def test_table_excludes_groups_without_pairs_from_the_new_figures():
    fmr = [0.01, np.nan, 0.02, 0.04]
    fnmr = [0.05, 0.2, 0.03, 0.10]
    eer = [0.02, 0.5, 0.03, 0.07]
    table = fairness.fairness_table(fmr, fnmr, labels=["A", "I", "B", "W"], eer=eer, figures=fairness.ALL_FIGURES)
    # 'I' is left out: the same numbers as without it
    assert table.loc["fmr_max_geomean", "value"] == pytest.approx(2.0)
    assert table.loc["eer_max_min", "value"] == pytest.approx(3.5)
    assert table.loc["eer_sd", "value"] == pytest.approx(math.sqrt(14 / 3) / 100)
    assert all(r.endswith("(groups excluded for lack of pairs: 'I')") for r in table["reason"])
    ratios = fairness.ratios_to_geomean(fmr, fnmr)
    np.testing.assert_allclose(ratios["fmr_vs_geomean"], [0.5, np.nan, 1.0, 2.0], rtol=1e-12)
    assert np.nanmax(ratios["fnmr_vs_geomean"]) == pytest.approx(table.loc["fnmr_max_geomean", "value"])
    assert math.isnan(ratios["fnmr_vs_geomean"][1])


def test_reasons_name_the_groups_the_cause_and_the_fix():
    table = fairness.fairness_table([0.0, 0.01, 0.02], FNMR, labels=["N", "A", "W"], eer=[0.0, 0.02, 0.03],
                                    figures=fairness.ALL_FIGURES)
    reason = table.loc["fmr_max_geomean", "reason"]
    assert reason.startswith("undefined: the FMR of group(s) 'N' is 0 at this threshold")
    assert "geometric mean" in reason and "lower the threshold" in reason
    reason = table.loc["eer_max_min", "reason"]
    assert "the EER of group(s) 'N' is 0, so the max/min ratio divides by zero" in reason
    assert "eer_sd" in reason  # the figure that stays defined
    assert table.loc["fmr_sd", "defined"] and table.loc["eer_sd", "defined"]
    assert table.loc["fnmr_max_geomean", "reason"] == ""
    one = fairness.fairness_table([0.1], [0.2], labels=["N"], eer=[0.1], figures=fairness.ALL_FIGURES)
    assert not one["defined"].any()
    assert all(r.startswith("undefined: fewer than 2 groups") for r in one["reason"])
    missing = fairness.undefined_reason("eer_sd", FMR, FNMR, LABELS, eer=[0.1, np.nan, 0.2])
    assert "EER of group(s) 'B' is missing" in missing


@settings(max_examples=100, deadline=None)
@given(data=st.data(), figure=st.sampled_from(NEW))
def test_reason_is_empty_exactly_when_the_value_is_finite(data, figure):
    g = data.draw(st.integers(0, 5))
    rows = [data.draw(hnp.arrays(np.float64, (3, g), elements=rate)) for _ in range(3)]
    values = fairness.compute_all(*rows[:2], eer=rows[2], figures=[figure])[figure]
    labels = [f"g{j}" for j in range(g)]
    for i in range(3):
        reason = no_warnings(fairness.undefined_reason, figure, rows[0][i], rows[1][i], labels, eer=rows[2][i])
        assert (reason == "") == bool(np.isfinite(values[i]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(figures=["eer_sd"]), "eer=None"),
    (dict(figures="fmr_sd"), "figures='fmr_sd' must be None or a sequence"),
    (dict(figures=["fmr_sd", "fmr_sd"]), "distinct figure names"),
    (dict(figures=["eer"]), "figure='eer' is not a fairness figure"),
    (dict(eer=[0.1, 0.2]), r"eer has shape \(2,\) but fmr has shape \(3,\)"),
    (dict(eer_replicates=np.zeros((5, 3))), "eer_replicates was given but eer=None"),
    (dict(eer=EER, eer_replicates=np.zeros((5, 2))), r"shape \(n_boot, 3\).*got shape \(5, 2\)"),
    (dict(eer=EER, eer_replicates=np.zeros((5, 3)), replicates=(np.zeros((4, 3)), np.zeros((4, 3)))),
     r"shape \(4, 3\).*as many as in replicates"),
])
def test_bad_arguments_are_refused_with_the_fix(kwargs, match):
    with pytest.raises(FairauditInputError, match=match) as info:
        fairness.fairness_table(FMR, FNMR, labels=LABELS, **kwargs)
    assert "Fix:" in str(info.value)


# --- d' --------------------------------------------------------------------------------
def test_decidability_hand_computed():
    # |0.6 - 0.1| / sqrt((0.01 + 0.01) / 2) = 0.5 / 0.1 = 5
    assert separation.decidability(0.6, 0.01, 0.1, 0.01) == pytest.approx(5.0)
    # genuine [0.7, 0.9]: mean 0.8, variance 0.01; impostor [0.1, 0.3]: mean 0.2, variance 0.01;
    # d' = 0.6 / 0.1 = 6
    assert separation.d_prime([0.7, 0.9], [0.1, 0.3]) == pytest.approx(6.0)
    # no genuine spread: impostor [-0.1, 0.1, -0.1, 0.1] has mean 0 and variance 0.01, so the
    # common variance is (0 + 0.01) / 2 = 0.005 and d' = 0.5 / sqrt(0.005) = 5 * sqrt(2) = 7.0711
    assert separation.d_prime([0.5, 0.5], [-0.1, 0.1, -0.1, 0.1]) == pytest.approx(5 * math.sqrt(2))
    out = separation.decidability([0.6, 0.5], [0.01, 0.0], [0.1, 0.5], [0.01, 0.0])
    assert out[0] == pytest.approx(5.0) and math.isnan(out[1])


def test_d_prime_undefined_cases_are_nan_without_warning():
    assert math.isnan(no_warnings(separation.d_prime, [], [0.1, 0.2]))
    assert math.isnan(no_warnings(separation.d_prime, [0.5, 0.5], [0.1, 0.1]))  # no spread at all
    assert math.isnan(no_warnings(separation.decidability, 0.5, 5e-324, 0.0, 0.0))  # would overflow
    assert math.isnan(no_warnings(separation.decidability, np.nan, 0.1, 0.0, 0.1))
    with pytest.raises(FairauditInputError, match="must have one shape"):
        separation.decidability([0.1, 0.2], 0.1, 0.0, 0.1)
    with pytest.raises(FairauditInputError, match="genuine must be a 1-D array"):
        separation.d_prime([[0.1]], [0.2])
    with pytest.raises(FairauditInputError, match="stats must be the PairStats"):
        separation.separation_by_group("stats")


def test_histogram_moments_take_the_bin_centres_and_stay_within_half_a_bin():
    grid = BinGrid.around(0.0, width=0.25)  # edges ..., -0.25, 0, 0.25, 0.5, ...
    scores = np.array([0.0, 0.0, 0.25, 0.5])  # every score on a lower edge: the worst case
    counts = np.bincount(grid.bin_of(scores), minlength=grid.n_bins)
    n, mean, var = separation.histogram_moments(counts, grid)
    # centres 0.125, 0.125, 0.375, 0.625: mean 0.3125 = 0.1875 + 0.125 (half a bin, exactly),
    # variance: deviations -0.1875, -0.1875, 0.0625, 0.3125 -> (0.03515625 * 2 + 0.00390625 +
    # 0.09765625) / 4 = 0.04296875, the variance of the scores themselves (a common shift)
    assert n == 4 and mean == pytest.approx(0.3125) and var == pytest.approx(0.04296875)
    assert mean - scores.mean() == pytest.approx(grid.width / 2)
    assert var == pytest.approx(scores.var())
    empty_n, empty_mean, empty_var = no_warnings(separation.histogram_moments, np.zeros((2, grid.n_bins)), grid)
    assert (empty_n == 0).all() and np.isnan(empty_mean).all() and np.isnan(empty_var).all()
    with pytest.raises(FairauditInputError, match="bins on its last axis"):
        separation.histogram_moments(np.zeros(3), grid)


POP = fairaudit.synthetic.population("diveface", n_identities=20, samples_per_identity=3, random_state=0)


def all_pairs(es):
    """Every unordered pair of samples, scored in float64 with numpy."""
    x = es.embeddings.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    i, j = np.triu_indices(len(x), k=1)
    scores = np.einsum("ij,ij->i", x[i], x[j])
    eth = np.asarray(es.attributes["ethnicity"])
    ident = np.asarray(es.identity)
    return i, j, scores, ident[i] == ident[j], eth[i], eth[j]


def brute_force_moments(es):
    i, j, s, genuine, ea, eb = all_pairs(es)
    out = {}
    for label in sorted(set(ea)) + [POOLED]:
        both = np.ones(s.size, bool) if label == POOLED else (ea == label) & (eb == label)
        g, m = s[both & genuine], s[both & ~genuine]
        spread = math.sqrt((g.var() + m.var()) / 2)
        out[label] = dict(n_genuine=g.size, n_impostor=m.size, genuine_mean=g.mean(), genuine_sd=g.std(),
                          impostor_mean=m.mean(), impostor_sd=m.std(), d_prime=abs(g.mean() - m.mean()) / spread)
    return out


@pytest.fixture(scope="module")
def audit():
    return fairaudit.verification_audit(POP, by="ethnicity", threshold={"fmr": 1e-2}, n_boot=40,
                                        random_state=0, n_perm=0, progress=False)


@pytest.fixture(scope="module")
def stats():
    from fairaudit.verification.audit import _stats_from_data

    return _stats_from_data(POP, "ethnicity", 0.0, DEFAULT_BIN_WIDTH, 2048, False)[0]


def test_d_prime_matches_all_pairs_within_the_stated_bound(stats):
    table = separation.separation_by_group(stats)
    assert list(table.columns) == list(separation.SEPARATION_COLUMNS)
    assert list(table["label"]) == ["A", "B", "N", POOLED]
    ref = brute_force_moments(POP)
    half = DEFAULT_BIN_WIDTH / 2  # 2**-15, about 3.05e-5
    f32 = 2e-6  # the engine scores in float32
    for label, row in table.set_index("label").iterrows():
        r = ref[label]
        assert row["n_genuine"] == r["n_genuine"] and row["n_impostor"] == r["n_impostor"]
        assert abs(row["genuine_mean"] - r["genuine_mean"]) <= f32  # exact up to float32 scoring
        assert abs(row["genuine_sd"] - r["genuine_sd"]) <= f32
        assert abs(row["impostor_mean"] - r["impostor_mean"]) <= half + f32
        assert abs(row["impostor_sd"] - r["impostor_sd"]) <= half + f32
        assert 0 < row["d_prime_bound"] < 1e-2  # a useful bound, not a vacuous one
        # float32 scoring moves both means and both SDs by up to f32 more: the gap by 2 * f32,
        # the common spread s by f32, so d' by (2 + d') * f32 / s
        s = math.sqrt((row["genuine_sd"] ** 2 + row["impostor_sd"] ** 2) / 2)
        slack = (2 + row["d_prime"]) * f32 / (0.99 * s)
        assert abs(row["d_prime"] - r["d_prime"]) <= row["d_prime_bound"] + slack, label
        assert row["d_prime"] == pytest.approx(r["d_prime"], rel=1e-3)


def test_d_prime_of_a_score_file_has_exact_genuine_moments():
    i, j, s, genuine, ea, eb = all_pairs(POP)
    ident = np.asarray(POP.identity)
    ss = fairaudit.ScoreSet.from_arrays(s, identity_a=ident[i], identity_b=ident[j],
                                        attributes_a={"ethnicity": ea}, attributes_b={"ethnicity": eb})
    from fairaudit.verification.audit import _stats_from_data

    st_scores = _stats_from_data(ss, "ethnicity", 0.0, DEFAULT_BIN_WIDTH, 2048, False)[0]
    table = separation.separation_by_group(st_scores).set_index("label")
    ref = brute_force_moments(POP)
    for label, row in table.iterrows():
        assert row["genuine_mean"] == pytest.approx(ref[label]["genuine_mean"], abs=1e-12)
        assert row["genuine_sd"] == pytest.approx(ref[label]["genuine_sd"], abs=1e-12)
        # float64 scores binned exactly: the stated bounds hold as they are (1e-12: rounding)
        assert abs(row["impostor_mean"] - ref[label]["impostor_mean"]) <= DEFAULT_BIN_WIDTH / 2 + 1e-12
        assert abs(row["impostor_sd"] - ref[label]["impostor_sd"]) <= DEFAULT_BIN_WIDTH / 2 + 1e-12
        assert abs(row["d_prime"] - ref[label]["d_prime"]) <= row["d_prime_bound"] + 1e-12


# --- the audit ---------------------------------------------------------------------------
def test_audit_reports_the_new_columns_and_rows(audit, stats):
    sep = separation.separation_by_group(stats)
    np.testing.assert_array_equal(audit.by_group["d_prime"].to_numpy(), sep["d_prime"].to_numpy()[:-1])
    assert audit.overall["d_prime"] == sep["d_prime"].iloc[-1]
    assert "fmr_vs_geomean" not in audit.overall.index
    fair = audit.fairness
    assert list(fair.index) == list(fairness.ALL_FIGURES)
    for rate in ("fmr", "fnmr"):
        ratios = audit.by_group[f"{rate}_vs_geomean"].to_numpy()
        rates = audit.by_group[rate].to_numpy()
        if (rates > 0).all():
            np.testing.assert_allclose(ratios, rates / sps.gmean(rates), rtol=1e-10)
            assert fair.loc[f"{rate}_max_geomean", "value"] == pytest.approx(ratios.max(), rel=1e-12)
        else:
            assert np.isnan(ratios).all() and not fair.loc[f"{rate}_max_geomean", "defined"]
        assert fair.loc[f"{rate}_sd", "value"] == pytest.approx(np.std(rates), rel=1e-10)
    eer = audit.by_group["eer"].to_numpy()
    assert fair.loc["eer_sd", "value"] == pytest.approx(np.std(eer), rel=1e-10)
    assert fair.loc["eer_max_min", "value"] == pytest.approx(eer.max() / eer.min(), rel=1e-12)
    # the EER rows have bootstrap intervals like every other row
    for name in ("eer_sd", "fmr_sd", "fmr_max_geomean"):
        assert fair.loc[name, "ci_low"] < fair.loc[name, "ci_high"], name
    assert fair.attrs["n_boot"] == 40


def test_result_json_round_trip_and_older_json(audit):
    back = type(audit).from_dict(json.loads(audit.to_json()))
    np.testing.assert_array_equal(back.by_group["d_prime"].to_numpy(), audit.by_group["d_prime"].to_numpy())
    assert back.overall["d_prime"] == audit.overall["d_prime"]
    assert list(back.fairness.index) == list(fairness.ALL_FIGURES)
    # JSON written before d_prime, the _vs_geomean columns and the new figures existed
    data = json.loads(audit.to_json())
    by_group = data["by_group"]
    drop = [k for k, c in enumerate(by_group["columns"]) if c in ("d_prime", "fmr_vs_geomean", "fnmr_vs_geomean")]
    assert len(drop) == 3
    by_group["columns"] = [c for k, c in enumerate(by_group["columns"]) if k not in drop]
    by_group["data"] = [[v for k, v in enumerate(row) if k not in drop] for row in by_group["data"]]
    data["overall"].pop("d_prime")
    fair = data["fairness"]
    fair["data"] = fair["data"][:len(fairness.FIGURES)]
    old = type(audit).from_dict(data)
    assert "d_prime" not in old.by_group.columns and list(old.fairness.index) == list(fairness.FIGURES)
    assert "fdr" in old.summary()
    assert len(plot.fairness_panels(old).axes) == len(fairness.FIGURES)


def test_plots_know_the_new_figures(audit):
    for name in NEW:
        assert name in plot.FAIRNESS_NAMES and name in plot.FAIR_VALUE
    assert {"eer_max_min", "fmr_max_geomean", "fnmr_max_geomean"} <= plot.RATIO_FIGURES
    assert not {"fmr_sd", "fnmr_sd", "eer_sd"} & plot.RATIO_FIGURES
    assert {plot.FAIR_VALUE[n] for n in ("fmr_sd", "fnmr_sd", "eer_sd")} == {0.0}
    fig = plot.fairness_panels(audit)
    for ax, name in zip(fig.axes, audit.fairness.index):
        assert ax.get_title() == plot.FAIRNESS_NAMES[name]
        if audit.fairness.loc[name, "defined"]:
            assert ax.get_xscale() == ("log" if name in plot.RATIO_FIGURES else "linear")
