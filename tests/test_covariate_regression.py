"""gap_models: logistic regressions of verification errors on group and covariates.

Every number is checked against an independent computation: scikit-learn's unpenalised logistic
regression for the coefficients, a sandwich estimator written out in numpy for the identity-clustered
standard errors, Pearson chi2 / df by hand for the quasi-binomial scale, and simulations whose truth is
known for the "does the gap survive" question.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression

from fairaudit.common.errors import FairauditInputError
from fairaudit.covariates.regression import GapModels, gap_models


def _genuine(seed=0, n_id=300, per_id=4, direct=0.0, shift=1.0, labels=("A", "B"), base=-2.0, slope=1.0,
             frailty=0.8):
    """Genuine pairs: group B has worse quality by `shift` and a direct effect `direct` on the log-odds."""
    rng = np.random.default_rng(seed)
    grp = rng.choice(list(labels), size=n_id, p=[0.6] + [0.4 / (len(labels) - 1)] * (len(labels) - 1))
    u = rng.normal(0, frailty, n_id)  # identity frailty: pairs of one person are correlated
    ident = np.repeat(np.arange(n_id), per_id)
    g = grp[ident]
    is_b = (g != labels[0]).astype(float)
    quality = rng.normal(0, 1, len(ident)) - shift * is_b
    camera = rng.choice(["phone", "kiosk", "webcam"], size=len(ident), p=[0.5, 0.3, 0.2])
    eta = base + direct * is_b - slope * quality + 0.4 * (camera == "webcam") + u[ident]
    fnm = (rng.random(len(ident)) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"person": [f"p{i}" for i in ident], "grp": g, "quality": quality * 3 + 50,
                         "camera": camera, "fnm": fnm})


def _design(df, group, reference, numeric, categorical, weights=None):
    """The documented design, built independently: intercept, group dummies, standardised numbers, dummies."""
    w = np.ones(len(df)) if weights is None else np.asarray(weights, float)
    cols = {"const": np.ones(len(df))}
    for lab in sorted(set(df[group]) - {reference}):
        cols[f"g:{lab}"] = (df[group] == lab).to_numpy(float)
    for c in numeric:
        v = df[c].to_numpy(float)
        mean = np.average(v, weights=w)
        cols[c] = (v - mean) / np.sqrt(np.average((v - mean) ** 2, weights=w))
    for c in categorical:
        counts = pd.Series(w).groupby(df[c].to_numpy()).sum()
        ref = counts.idxmax()
        for lev in sorted(set(df[c]) - {ref}):
            cols[f"{c}:{lev}"] = (df[c] == lev).to_numpy(float)
    return pd.DataFrame(cols)


def _sklearn(X, y, weights=None):
    lr = LogisticRegression(C=np.inf, fit_intercept=False, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    return lr.fit(X, y, sample_weight=weights).coef_.ravel()


def _no_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def genuine():
    df = _genuine(per_id=6, frailty=1.5)
    res = _no_warnings(gap_models, df, outcome="fnm", group="grp", covariates=["quality", "camera"],
                       cluster="person")
    return df, res


def test_coefficients_match_sklearn(genuine):
    df, res = genuine
    assert res.reference == "A" and res.n == len(df) and res.n_clusters == df.person.nunique()
    for model, numeric, cat in (("unadjusted", [], []), ("adjusted", ["quality"], ["camera"])):
        X = _design(df, "grp", "A", numeric, cat)
        beta = _sklearn(X.to_numpy(), df.fnm.to_numpy())
        ours = res.coefficients[res.coefficients.model == model]
        np.testing.assert_allclose(ours.log_odds, beta[1:], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(ours.odds_ratio, np.exp(beta[1:]), rtol=1e-6)
    adj = res.coefficients[res.coefficients.model == "adjusted"]
    assert list(adj.term) == ["grp", "quality", "camera", "camera"]
    assert list(adj.level) == ["B", "", "kiosk", "webcam"]  # reference level: the most frequent ('phone')
    assert adj.per.iloc[1].startswith("per 1 SD (= 3") and adj.per.iloc[2] == "vs level 'phone'"
    assert adj.odds_ratio.iloc[1] < 1  # better quality, fewer false non-matches


def test_cluster_robust_errors_match_a_numpy_sandwich(genuine):
    df, res = genuine
    X = _design(df, "grp", "A", ["quality"], ["camera"]).to_numpy()
    y = df.fnm.to_numpy(float)
    beta = _sklearn(X, y)
    p = 1 / (1 + np.exp(-X @ beta))
    bread = np.linalg.inv(X.T @ (X * (p * (1 - p))[:, None]))  # inverse Fisher information
    scores = X * (y - p)[:, None]
    sums = pd.DataFrame(scores).groupby(df.person.to_numpy()).sum().to_numpy()  # one row per identity
    meat = sums.T @ sums
    n, k, g = X.shape[0], X.shape[1], sums.shape[0]
    cov = bread @ meat @ bread * (g / (g - 1)) * ((n - 1) / (n - k))  # CRV1, statsmodels' correction
    se = np.sqrt(np.diag(cov))
    adj = res.coefficients[res.coefficients.model == "adjusted"]
    np.testing.assert_allclose(adj.std_error, se[1:], rtol=1e-5)
    z = norm.ppf(0.975)
    np.testing.assert_allclose(adj.ci_low, np.exp(beta[1:] - z * se[1:]), rtol=1e-5)
    np.testing.assert_allclose(adj.ci_high, np.exp(beta[1:] + z * se[1:]), rtol=1e-5)
    np.testing.assert_allclose(adj.p_value, 2 * norm.sf(np.abs(beta[1:] / se[1:])), rtol=1e-4, atol=1e-12)
    naive = np.sqrt(np.diag(bread))[1]  # clustering matters here: frailty makes pairs of a person correlated
    assert adj.std_error.iloc[0] > 1.05 * naive


def test_impostor_quasi_binomial_scale_by_hand():
    rng = np.random.default_rng(3)
    rows = []
    for grp, shift in (("A", 0.0), ("B", 0.5), ("C", -0.3)):
        for age_gap in range(0, 40, 4):
            for sex in ("same", "different"):
                trials = int(rng.integers(2000, 6000))
                eta = -6 + shift + 0.03 * age_gap - 0.7 * (sex == "different") + rng.normal(0, 0.3)
                rows.append((grp, age_gap, sex, trials, rng.binomial(trials, 1 / (1 + np.exp(-eta)))))
    cells = pd.DataFrame(rows, columns=["grp", "age_gap", "sex", "n", "fm"])
    res = _no_warnings(gap_models, cells, outcome="fm", trials="n", group="grp",
                       covariates=["age_gap", "sex"])
    assert res.kind == "impostor" and res.event == "false match" and res.n == cells.n.sum()
    assert res.reference == cells.groupby("grp").n.sum().idxmax()
    X = _design(cells, "grp", res.reference, ["age_gap"], ["sex"], weights=cells.n).to_numpy()
    y, m = cells.fm.to_numpy(float), cells.n.to_numpy(float)
    # the binomial MLE is the weighted logistic fit on the expanded successes and failures
    beta = _sklearn(np.vstack([X, X]), np.r_[np.ones(len(y)), np.zeros(len(y))], np.r_[y, m - y])
    p = 1 / (1 + np.exp(-X @ beta))
    pearson = np.sum((y - m * p) ** 2 / (m * p * (1 - p)))
    scale = pearson / (len(y) - X.shape[1])
    assert res.dispersion["adjusted"] == pytest.approx(scale, rel=1e-6) and scale > 1.5  # overdispersed
    se = np.sqrt(scale * np.diag(np.linalg.inv(X.T @ (X * (m * p * (1 - p))[:, None]))))
    adj = res.coefficients[res.coefficients.model == "adjusted"]
    np.testing.assert_allclose(adj.log_odds, beta[1:], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(adj.std_error, se[1:], rtol=1e-5)
    assert any("not identity-clustered" in n for n in res.notes)
    assert "quasi-binomial" in " ".join(res.sentences())


def test_unadjusted_odds_ratios_are_the_pooled_odds_ratios():
    cells = pd.DataFrame({"grp": ["A", "A", "B", "B", "C"], "age": [1, 2, 1, 2, 1], "n": [9000, 7000, 4000, 3000, 0],
                          "fm": [9, 12, 11, 14, 0]})
    res = _no_warnings(gap_models, cells, outcome="fm", trials="n", group="grp", covariates=["age"])
    odds = {"A": 21 / (16000 - 21), "B": 25 / (7000 - 25)}
    gap = res.gaps.iloc[0]
    assert res.reference == "A" and list(res.gaps.group) == ["B"]  # C has no comparison at all
    assert gap.or_unadjusted == pytest.approx(odds["B"] / odds["A"], rel=1e-8)
    assert any("trials = 0" in n for n in res.notes)
    # one cell per group: saturated, binomial variance (scale 1) and a note saying why
    sat = _no_warnings(gap_models, cells.groupby("grp", as_index=False)[["n", "fm"]].sum().iloc[:2], outcome="fm",
                       trials="n", group="grp")
    assert sat.dispersion == {"unadjusted": 1.0, "adjusted": 1.0}
    assert sat.gaps.or_unadjusted.iloc[0] == pytest.approx(odds["B"] / odds["A"], rel=1e-8)
    var = 1 / 21 + 1 / (16000 - 21) + 1 / 25 + 1 / (7000 - 25)  # Woolf's variance of the log odds ratio
    assert sat.coefficients.std_error.iloc[0] == pytest.approx(np.sqrt(var), rel=1e-6)
    assert any("overdispersion cannot be estimated" in n for n in sat.notes)
    # genuine: the unadjusted odds ratio is the 2 x 2 table's
    df = _genuine(seed=2)
    t = pd.crosstab(df.grp, df.fnm)
    res = gap_models(df, outcome="fnm", group="grp", cluster="person")
    expected = (t.loc["B", 1] / t.loc["B", 0]) / (t.loc["A", 1] / t.loc["A", 0])
    assert res.gaps.or_unadjusted.iloc[0] == pytest.approx(expected, rel=1e-8)


def test_gap_explained_by_covariate():
    df = _genuine(seed=11, n_id=1500, per_id=4, direct=0.0, shift=1.0, frailty=0.3)
    res = _no_warnings(gap_models, df, outcome="fnm", group="grp", covariates=["quality"], cluster="person")
    gap = res.gaps.iloc[0]
    assert gap.ci_low_unadjusted > 1.5  # a clear raw gap: group B has worse images
    assert gap.ci_low_adjusted < 1 < gap.ci_high_adjusted
    assert 0.85 < gap.explained < 1.15
    text = " ".join(res.sentences())
    assert "an interval that includes no difference" in text and "the gap remains" not in text
    assert "not causal" in text


def test_gap_that_survives_adjustment():
    df = _genuine(seed=12, n_id=1500, per_id=4, direct=0.7, shift=1.0, frailty=0.3)
    res = _no_warnings(gap_models, df, outcome="fnm", group="grp", covariates=["quality"], cluster="person")
    gap = res.gaps.iloc[0]
    assert gap.ci_low_adjusted > 1
    assert np.exp(0.7) == pytest.approx(gap.or_adjusted, rel=0.25)
    assert 0 < gap.explained < 0.9
    text = res.sentences()[0]
    assert "After adjusting for quality, the gap remains (" in text
    assert "% of the gap on the log-odds scale" in text


def test_hostile_group_labels_and_json():
    labels = ("all", "$x$", " a & b", "ünï 漢")
    df = _genuine(seed=5, n_id=400, labels=labels).rename(columns={"quality": "q & $1 ~ x"})
    res = _no_warnings(gap_models, df, outcome="fnm", group="grp", covariates=["q & $1 ~ x", "camera"],
                       cluster="person")
    assert "q & $1 ~ x" in set(res.coefficients.term)
    clusters = df.groupby("grp").person.nunique()
    assert res.reference == clusters.idxmax() == "all"
    assert sorted(res.gaps.group) == sorted(set(labels) - {"all"})
    assert res.gaps[["or_unadjusted", "or_adjusted"]].notna().all().all()
    text = json.dumps(res.to_dict(), allow_nan=False)
    back = GapModels.from_json(res.to_json())
    assert back.sentences() == res.sentences() and "' a & b'" in text
    pd.testing.assert_frame_equal(back.gaps, res.gaps)
    # an explicit reference with spaces is honoured exactly
    res2 = gap_models(df, outcome="fnm", group="grp", covariates=[], cluster="person", reference=" a & b")
    assert res2.reference == " a & b" and "all" in set(res2.gaps.group)


def test_zero_events_in_a_group_is_a_note_not_a_crash():
    df = _genuine(seed=6, labels=("A", "B", "C"))
    df.loc[df.grp == "C", "fnm"] = 0
    res = _no_warnings(gap_models, df, outcome="fnm", group="grp", covariates=["quality"], cluster="person")
    c = res.gaps.set_index("group").loc["C"]
    assert np.isnan(c.or_unadjusted) and "no false non-matches" in c.note
    assert any("group 'C' has no false non-matches" in n for n in res.notes)
    assert res.gaps.set_index("group").loc["B"][["or_unadjusted", "or_adjusted"]].notna().all()
    assert res.groups.set_index("group").loc["C", "status"] == "no events"
    assert "cannot be compared" in res.sentences()[[*res.gaps.group].index("C")]
    json.dumps(res.to_dict(), allow_nan=False)
    with pytest.raises(FairauditInputError, match="reference='C' has only correct decisions"):
        gap_models(df, outcome="fnm", group="grp", covariates=[], cluster="person", reference="C")


def test_separation_by_a_covariate_is_a_note():
    df = _genuine(seed=7)
    df["flag"] = df.fnm.map({1: "bad", 0: "good"})  # predicts the outcome perfectly
    res = _no_warnings(gap_models, df, outcome="fnm", group="grp", covariates=["quality", "flag"],
                       cluster="person")
    flag = res.coefficients[res.coefficients.term == "flag"].iloc[0]
    assert not flag.estimable and np.isnan(flag.odds_ratio) and "separation" in flag.note
    assert any("separation" in n for n in res.notes)
    assert np.isfinite(res.gaps.or_unadjusted.iloc[0])
    json.dumps(res.to_dict(), allow_nan=False)


def test_a_level_without_events_and_a_group_with_only_errors():
    df = _genuine(seed=4, labels=("A", "B", "C"))
    df["lighting"] = np.where(np.arange(len(df)) % 25 == 0, "dark", "normal")
    df.loc[df.lighting == "dark", "fnm"] = 0  # quasi-complete separation: 'dark' never fails in A and B
    df.loc[df.grp == "C", "fnm"] = 1  # C is left out of the fits
    res = _no_warnings(gap_models, df, outcome="fnm", group="grp", cluster="person", covariates=["quality", "lighting"])
    coefs = res.coefficients.set_index(["model", "term", "level"])
    assert not coefs.loc[("adjusted", "lighting", "dark"), "estimable"]
    assert coefs.loc[("adjusted", "quality", ""), "estimable"] and coefs.loc[("adjusted", "grp", "B"), "estimable"]
    assert "only false non-matches" in res.gaps.set_index("group").loc["C", "note"]
    assert res.groups.set_index("group").loc["C", "status"] == "all events"
    assert any("diverges" in n for n in res.notes)
    json.dumps(res.to_dict(), allow_nan=False)


def test_constant_and_collinear_covariates_are_dropped_with_notes():
    df = _genuine(seed=8)
    df["site"] = "lab"
    df["quality2"] = df.quality * 2 + 1
    df["is_b"] = (df.grp == "B").astype(float)
    res = _no_warnings(gap_models, df, outcome="fnm", group="grp", cluster="person",
                       covariates=["quality", "site", "quality2", "is_b"])
    assert res.covariates == ["quality"]
    text = " ".join(res.notes)
    assert "'site' has a single level" in text and "'quality2' is collinear" in text and "'is_b' is collinear" in text
    ref = gap_models(df, outcome="fnm", group="grp", cluster="person", covariates=["quality"])
    pd.testing.assert_frame_equal(res.gaps, ref.gaps)


def test_without_cluster_says_so():
    df = _genuine(seed=9)
    res = gap_models(df, outcome="fnm", group="grp", covariates=["quality"])
    assert res.n_clusters == 0 and any("No cluster column" in n for n in res.notes)
    assert "not identity-clustered" in res.sentences()[-1]


@pytest.mark.parametrize("kwargs, df_change, match", [
    ({}, lambda d: d.iloc[:0], "pairs has no rows"),
    ({"outcome": "nope"}, None, "outcome='nope' is not a column of pairs"),
    ({"covariates": ["age"]}, None, "covariates='age' is not a column"),
    ({}, lambda d: d.assign(fnm=d.fnm * 2), "must be 0/1"),
    ({}, lambda d: d.assign(grp="A"), "has a single group \\('A'\\)"),
    ({"reference": "Z"}, None, "reference='Z' is not a group"),
    ({"kinds": {"camera": "numeric"}}, None, "declared numeric"),
    ({"kinds": {"quality": "ordinal"}}, None, "must be 'numeric' or 'categorical'"),
    ({"covariates": "quality"}, None, "must be a list of column names"),
    ({"covariates": ["grp"]}, None, "also the group column"),
    ({"alpha": 1.5}, None, "alpha=1.5"),
    ({"trials": "fnm"}, None, "cannot be used with trials"),
    ({}, lambda d: d.assign(quality=d.quality.where(d.index != 3)), "missing value"),
    ({}, lambda d: d.assign(person="p0"), "cluster='person' has a single value"),
    ({"kinds": {"age": "numeric"}}, None, "kinds names 'age', not in covariates"),
    ({}, lambda d: d.assign(quality=np.where(d.index == 2, np.inf, d.quality)), "infinite value"),
    ({}, lambda d: d.assign(fnm=d.fnm.map({0: "no", 1: "yes"})), "must be 0/1 .* got the values no, yes"),
    ({}, lambda d: d.to_numpy(), "pairs must be a pandas DataFrame; got ndarray"),
])
def test_bad_input_gives_a_one_line_error(kwargs, df_change, match):
    df = _genuine(seed=10, n_id=40)
    df = df_change(df) if df_change else df
    args = dict(outcome="fnm", group="grp", covariates=["quality", "camera"], cluster="person") | kwargs
    with pytest.raises(FairauditInputError, match=match) as info:
        gap_models(df, **args)
    assert "\n" not in str(info.value) and "Fix:" in str(info.value)


def test_counts_above_trials_are_refused():
    cells = pd.DataFrame({"grp": ["A", "B"], "n": [10, 10], "fm": [3, 11]})
    with pytest.raises(FairauditInputError, match="outcome='fm' must hold whole numbers .*first rows: 1"):
        gap_models(cells, outcome="fm", trials="n", group="grp")
    with pytest.raises(FairauditInputError, match="trials='n' must hold whole numbers"):
        gap_models(cells.assign(n=[10.5, 10]), outcome="fm", trials="n", group="grp")


def test_deterministic_and_order_free(genuine):
    df, res = genuine
    again = gap_models(df, outcome="fnm", group="grp", covariates=["quality", "camera"], cluster="person")
    assert again.to_json() == res.to_json()
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    other = gap_models(shuffled, outcome="fnm", group="grp", covariates=["quality", "camera"], cluster="person")
    num = ["or_unadjusted", "ci_low_unadjusted", "or_adjusted", "ci_high_adjusted", "explained"]
    np.testing.assert_allclose(other.gaps[num].to_numpy(float), res.gaps[num].to_numpy(float), rtol=1e-8)
    assert other.sentences() == res.sentences()


def test_import_stays_light():
    code = ("import sys, fairaudit, fairaudit.covariates.regression; "
            "print('statsmodels' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
