"""Small groups: intervals that do not collapse (checked against scipy and a coverage simulation),
the rule-of-30 and min-identities flags, and system-level FAR/FRR by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

import fairaudit
from fairaudit import errors
from fairaudit.verification.audit import BAD_MIN_IDENTITIES
from fairaudit.verification.small_samples import (
    FLAG_COLUMNS,
    METHOD_EXACT,
    METHOD_PERCENTILE,
    clopper_pearson,
    honest_interval,
)
from fairaudit.verification.system_rates import SYSTEM_COLUMNS


def population(n_ids=(2, 12, 40), spreads=(0.2, 0.3, 1.0), k=(2, 4), d=10, seed=3, failures=None):
    rng = np.random.default_rng(seed)
    xs, ids, eth = [], [], []
    pid = 0
    for label, n, spread in zip("ABC", n_ids, spreads):
        for _ in range(n):
            c = int(rng.integers(k[0], k[1] + 1))
            xs.append(rng.standard_normal(d) + spread * rng.standard_normal((c, d)))
            ids += [f"p{pid:03d}"] * c
            eth += [label] * c
            pid += 1
    return fairaudit.EmbeddingSet(np.vstack(xs), identity=ids, attributes={"eth": eth}, failures=failures)


@pytest.mark.parametrize("x,n", [(0, 10), (3, 10), (10, 10), (1, 250), (40, 41)])
def test_clopper_pearson_matches_scipy_exact_interval(x, n):
    ref = binomtest(x, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = clopper_pearson(x, n, 0.95)
    assert lo == pytest.approx(ref.low, abs=1e-10) and hi == pytest.approx(ref.high, abs=1e-10)


def test_two_identity_group_and_zero_errors_do_not_collapse():
    r = fairaudit.verification_audit(population(), by="eth", threshold=0.3, n_boot=100, n_perm=0)
    a = r.by_group.loc["A"]
    # two identities, one impostor identity pair: the percentile bootstrap has nothing to resample
    assert a.n_identities == 2 and a.fmr_ci_method == METHOD_EXACT and a.fnmr_ci_method == METHOD_EXACT
    for metric, units in (("fmr", 1), ("fnmr", 2)):
        assert a[f"{metric}_ci_low"] <= a[metric] <= a[f"{metric}_ci_high"]
        assert a[f"{metric}_ci_high"] > a[f"{metric}_ci_low"]
    # group A has no error: the upper bound is the exact rule of three on its units
    assert a.n_false_matches == 0 and a.n_false_non_matches == 0
    assert a.fmr_ci_high == pytest.approx(1 - 0.025 ** (1 / 1))
    assert a.fnmr_ci_high == pytest.approx(1 - 0.025 ** (1 / 2))
    # a large group with errors keeps its percentile interval
    assert r.by_group.loc["C", "fmr_ci_method"] == METHOD_PERCENTILE
    # errors on one identity pair: every replicate repeats the FMR, [x, x], which is not reported
    r0 = fairaudit.verification_audit(population(seed=0), by="eth", threshold=0.3, n_boot=100, n_perm=0)
    a0 = r0.by_group.loc["A"]
    assert a0.n_false_matches == 12 and a0.fmr_ci_method == METHOD_EXACT
    assert a0.fmr_ci_low < a0.fmr <= a0.fmr_ci_high  # all 12 comparisons accepted: FMR 1


def test_flags_follow_the_rules_of_thumb_and_min_identities():
    es = population()
    r = fairaudit.verification_audit(es, by="eth", threshold=0.3, n_boot=0)
    bg = r.by_group
    for column in FLAG_COLUMNS + SYSTEM_COLUMNS:
        assert column in bg.columns and f"``{column}``" in fairaudit.VerificationResult.__doc__
    np.testing.assert_array_equal(bg.n_false_matches, np.rint(bg.fmr * bg.n_impostor))
    np.testing.assert_array_equal(bg.fmr_below_rule_of_30, bg.n_false_matches < 30)
    np.testing.assert_array_equal(bg.fnmr_below_rule_of_30, bg.n_false_non_matches < 30)
    assert bg.below_min_identities.tolist() == [True, True, False]
    assert any("fewer than 30 identities" in n for n in r.notes)
    assert any("Doddington's rule of 30" in n for n in r.notes)
    r5 = fairaudit.verification_audit(es, by="eth", threshold=0.3, n_boot=0, min_identities=5)
    assert r5.by_group.below_min_identities.tolist() == [True, False, False]
    text = r5.summary()
    assert "A !" in text and "B !" not in text and "* fewer than 30 errors" in text
    back = fairaudit.VerificationResult.from_json(r.to_json())
    pd.testing.assert_frame_equal(back.by_group[list(FLAG_COLUMNS)], bg[list(FLAG_COLUMNS)])


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_bad_min_identities_is_refused(value):
    with pytest.raises(errors.FairauditInputError) as exc:
        fairaudit.verification_audit(population(), by="eth", min_identities=value)
    assert str(exc.value) == BAD_MIN_IDENTITIES.format(value=value)


def _simulate_coverage(rate, m, per_id, n_sim, n_boot, seed, concentration=4.0):
    """Coverage of the reported FNMR interval when identities differ in their own error rate
    (a beta-binomial: the clustering that makes pair counts overstate the information)."""
    rng = np.random.default_rng(seed)
    hits_exact = hits_pct = 0
    for _ in range(n_sim):
        p_i = rng.beta(rate * concentration, (1 - rate) * concentration, size=m)
        r_i = rng.binomial(per_id, p_i).astype(float)
        g_i = np.full(m, float(per_id))
        w = rng.multinomial(m, np.full(m, 1 / m), size=n_boot).astype(float)  # the bootstrap's weights
        reps = (w @ r_i) / (w @ g_i)
        pct = tuple(np.quantile(reps, [0.025, 0.975]))
        lo, hi, _ = honest_interval(r_i.sum(), g_i.sum(), m, reps, pct, 0.95, small=True, n_identities=m)
        hits_exact += lo <= rate <= hi
        hits_pct += pct[0] <= rate <= pct[1]
    return hits_exact / n_sim, hits_pct / n_sim


@pytest.mark.parametrize("rate,m", [(0.1, 8), (0.02, 12), (0.2, 6), (0.1, 30)])
def test_small_group_interval_reaches_its_nominal_coverage(rate, m):
    exact, pct = _simulate_coverage(rate, m, per_id=5, n_sim=400, n_boot=200, seed=int(rate * 1000) + m)
    # 400 simulations: 3 binomial standard errors below 0.95 is 0.917
    assert exact >= 0.917
    assert exact > pct  # the percentile bootstrap under-covers in small groups


def test_far_and_frr_fold_failures_to_acquire_in_by_hand():
    failures = pd.DataFrame({"path": ["x1.png", "x2.png", "x3.png", "x4.png"],
                             "identity": ["p000", "p020", "p021", "p030"],
                             "reason": ["no face"] * 4, "eth": ["A", "C", "C", "C"]})
    es = population(failures=failures)
    r = fairaudit.verification_audit(es, by="eth", threshold=0.3, n_boot=0)
    bg = r.by_group
    for label, n_fail in (("A", 1), ("B", 0), ("C", 3)):
        row = bg.loc[label]
        fta = n_fail / (row.n_samples + n_fail)
        assert row.fta == pytest.approx(fta, abs=1e-15)
        assert row.far == pytest.approx(row.fmr * (1 - fta), abs=1e-15)
        assert row.frr == pytest.approx(fta + row.fnmr * (1 - fta), abs=1e-15)
    fta_all = 4 / (r.overall.n_samples + 4)
    assert r.overall.fta == pytest.approx(fta_all)
    assert r.overall.frr == pytest.approx(fta_all + r.overall.fnmr * (1 - fta_all))
    # without failure information the system-level rates are unknown, not zero
    plain = fairaudit.verification_audit(population(), by="eth", threshold=0.3, n_boot=0)
    assert plain.by_group[list(SYSTEM_COLUMNS)].isna().all().all()
    back = fairaudit.VerificationResult.from_json(r.to_json())
    np.testing.assert_allclose(back.by_group.frr, bg.frr)


def test_eer_of_a_two_identity_group_does_not_collapse():
    from fairaudit.verification.small_samples import FLAG_COLUMNS

    assert "eer_ci_method" in FLAG_COLUMNS
    r = fairaudit.verification_audit(population(), by="eth", threshold=0.3, n_boot=100, n_perm=0)
    a = r.by_group.loc["A"]
    assert a.eer_ci_method == METHOD_EXACT and a.eer_ci_low <= a.eer <= a.eer_ci_high < 1
    assert a.eer_ci_high > a.eer_ci_low
    if a.eer == 0:  # no error at the EER: the rule of three on min(identities, identity pairs) = 1
        assert a.eer_ci_high == pytest.approx(1 - 0.025 ** (1 / 1))
    assert r.by_group.loc["C", "eer_ci_method"] == METHOD_PERCENTILE
    assert any("FMR, FNMR and EER intervals are Clopper-Pearson" in n for n in r.notes)
    assert (r.by_group.eer_ci_method != "").all()
    assert (fairaudit.verification_audit(population(), by="eth", threshold=0.3, n_boot=0).by_group
            .eer_ci_method == "").all()


def _eer(fmr, fnmr):
    """Every row's EER (bob.measure's rule: the highest threshold on a tie in |FMR - FNMR|)."""
    diff = np.abs(fmr - fnmr)
    diff = np.where(np.isnan(diff), np.inf, diff)
    k = diff.shape[1] - 1 - np.argmin(diff[:, ::-1], axis=1)
    rows = np.arange(len(k))
    return (fmr[rows, k] + fnmr[rows, k]) / 2


def _simulate_eer_coverage(m, k, mu, n_sim, n_boot, seed, tau=0.5):
    """Coverage of the reported EER interval of a group of ``m`` identities with ``k`` samples each:
    genuine scores mu + u_i + e, impostor scores a_i + a_j + e (identity effects u, a ~ N(0, tau),
    noise N(0, 1)), whose true EER is Phi(-mu / (s_gen + s_imp)). The bootstrap resamples
    identities as the audit does, with the exact weighted sums."""
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    true = norm.cdf(-mu / (np.hypot(tau, 1.0) + np.hypot(np.sqrt(2) * tau, 1.0)))
    grid = np.linspace(-4, mu + 4, 300)
    ia, ib = np.triu_indices(m, 1)
    n_gen_i = k * (k - 1) // 2
    hits_exact = hits_pct = 0
    for _ in range(n_sim):
        u, a = rng.normal(0, tau, m), rng.normal(0, tau, m)
        gen = mu + u[:, None] + rng.standard_normal((m, n_gen_i))
        imp = a[ia][:, None] + a[ib][:, None] + rng.standard_normal((len(ia), k * k))
        rej = (gen[:, :, None] < grid).sum(axis=1).astype(float)  # identities x thresholds
        acc = (imp[:, :, None] >= grid).sum(axis=1).astype(float)  # identity pairs x thresholds
        w = rng.multinomial(m, np.full(m, 1 / m), size=n_boot).astype(float)
        ww = w[:, ia] * w[:, ib]
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = _eer((ww @ acc) / (ww.sum(axis=1) * k * k)[:, None], (w @ rej) / (w.sum(axis=1) * n_gen_i)[:, None])
        n_gen, n_imp = m * n_gen_i, len(ia) * k * k
        eer = _eer((acc.sum(axis=0) / n_imp)[None], (rej.sum(axis=0) / n_gen)[None])[0]
        pct = tuple(np.nanquantile(reps, [0.025, 0.975]))
        # what apply_intervals passes for the EER: n = n_genuine + n_impostor, units = min(m, pairs)
        lo, hi, _ = honest_interval(eer * (n_gen + n_imp), n_gen + n_imp, min(m, len(ia)), reps, pct, 0.95,
                                    small=True, n_identities=m)
        hits_exact += lo <= true <= hi
        hits_pct += pct[0] <= true <= pct[1]
    return hits_exact / n_sim, hits_pct / n_sim


@pytest.mark.parametrize("m,k,mu", [(4, 4, 3.0), (6, 3, 3.0), (10, 4, 4.5), (20, 3, 3.0)])
def test_small_group_eer_interval_reaches_its_nominal_coverage(m, k, mu):
    exact, pct = _simulate_eer_coverage(m, k, mu, n_sim=400, n_boot=200, seed=10 * m + k)
    assert exact >= 0.917  # 400 simulations: three binomial standard errors below 0.95
    assert exact > pct


def _wilson(x, n, z=1.959963984540054):
    p = x / n
    centre, half = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return p, (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def test_newcombe_and_mover_by_hand():
    from fairaudit.verification.small_samples import mover_ratio, newcombe_difference

    # Newcombe (1998), table II, example (a): 56/70 - 48/80 with Wilson intervals (method 10)
    lo, hi = newcombe_difference(_wilson(56, 70), _wilson(48, 80))
    assert lo == pytest.approx(0.0524, abs=5e-4) and hi == pytest.approx(0.3339, abs=5e-4)
    # MOVER's ratio bounds are where Newcombe's interval of p_a - r p_b reaches 0
    for a, b in ((_wilson(56, 70), _wilson(48, 80)), ((0.0, 0.0, 0.3), (0.2, 0.05, 0.5)),
                 ((0.1, 0.01, 0.4), (0.02, 0.001, 0.9))):
        r_lo, r_hi = mover_ratio(a, b)
        assert 0 <= r_lo <= a[0] / b[0] <= r_hi
        assert newcombe_difference(a, tuple(r_lo * v for v in b))[0] == pytest.approx(0, abs=1e-12) or r_lo == 0
        assert newcombe_difference(a, tuple(r_hi * v for v in b))[1] == pytest.approx(0, abs=1e-12)
    assert np.isnan(mover_ratio((0.1, 0.0, 0.3), (0.2, 0.0, 0.5))[1])  # b may be 0: no finite upper bound
    assert np.isnan(mover_ratio((0.1, 0.0, 0.3), (0.0, 0.0, 0.5))).all()
