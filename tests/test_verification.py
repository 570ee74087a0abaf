"""The verification audit against brute force (all pairs by explicit loops) and scikit-learn."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

import fairaudit
from fairaudit import errors
from fairaudit.verification.bootstrap import group_replicates
from fairaudit.verification.engine import BinGrid, embedding_pair_stats
from fairaudit.verification.identity_pairs import embedding_identity_pair_counts
from fairaudit.verification.audit import _identity_groups_from_embeddings


def make_population(n_ids=30, k=(1, 5), d=12, spread=0.8, groups=("A", "B", "C"), seed=0, second=None):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_ids, d))
    counts = rng.integers(k[0], k[1] + 1, size=n_ids)
    rows = np.repeat(np.arange(n_ids), counts)
    x = centres[rows] + spread * rng.standard_normal((len(rows), d))
    g = rng.choice(list(groups), size=n_ids)
    attrs = {"eth": g[rows]}
    if second is not None:
        attrs["gender"] = rng.choice(list(second), size=n_ids)[rows]
    return fairaudit.EmbeddingSet(x, identity=[f"p{i:03d}" for i in rows], attributes=attrs)


def brute_pairs(es: fairaudit.EmbeddingSet):
    """Every unordered pair of distinct samples, by explicit loops, scores in float64."""
    x = es.embeddings.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    out = []
    n = len(es)
    for i in range(n):
        for j in range(i + 1, n):
            out.append((i, j, float(x[i] @ x[j]), es.identity[i] == es.identity[j]))
    return pd.DataFrame(out, columns=["i", "j", "score", "genuine"])


def brute_group_rates(es, pairs, column, threshold):
    g = es.column(column)
    res = {}
    for value in np.unique(g):
        both = (g[pairs.i] == value) & (g[pairs.j] == value)
        imp = pairs[both & ~pairs.genuine]
        gen = pairs[both & pairs.genuine]
        res[value] = dict(
            n_imp=len(imp), n_gen=len(gen),
            fmr=(imp.score >= threshold).mean() if len(imp) else np.nan,
            fnmr=(gen.score < threshold).mean() if len(gen) else np.nan,
        )
    return res


def brute_eer_on(scores_imp, scores_gen, thresholds):
    """bob.measure's EER (``eer_threshold``'s rule) over the ascending candidate thresholds given, and
    the lowest candidate giving its operating point (fairaudit's threshold convention):
    the highest threshold minimising |FMR - FNMR| while FMR > 0 and FNMR < 1, replaced by the first
    threshold with FMR = 0 or FNMR = 1 only when that is strictly closer. Exact, with fractions."""
    from fractions import Fraction

    n_i, n_g = len(scores_imp), len(scores_gen)
    points = [(Fraction(int((scores_imp >= t).sum()), n_i), Fraction(int((scores_gen < t).sum()), n_g))
              for t in thresholds]
    best = None
    for k, (a, r) in enumerate(points):
        if a > 0 and r < 1:
            if best is None or abs(a - r) <= abs(points[best][0] - points[best][1]):
                best = k
        else:
            if best is None or abs(a - r) < abs(points[best][0] - points[best][1]):
                best = k
            break
    a, r = points[best]
    lowest = min(k for k, point in enumerate(points) if point == (a, r))  # fairaudit reports the lowest edge
    return (float(a) + float(r)) / 2, thresholds[lowest]  # in floats, as bob.measure.eer computes it


@pytest.fixture(scope="module")
def pop():
    return make_population()


@pytest.fixture(scope="module")
def pairs(pop):
    return brute_pairs(pop)


def pick_threshold(pairs, near):
    """A threshold well away from every score, so float32 and float64 agree."""
    s = np.sort(pairs.score.to_numpy())
    gaps = np.diff(s)
    k = np.argmin(np.abs(s[:-1] - near) - 10 * gaps)  # a wide gap near `near`
    return float((s[k] + s[k + 1]) / 2)


def test_fixed_threshold_rates_are_exact_counts(pop, pairs):
    t = pick_threshold(pairs, 0.35)
    r = fairaudit.verification_audit(pop, by="eth", threshold=t, n_boot=0)
    assert r.threshold == t
    expected = brute_group_rates(pop, pairs, "eth", t)
    for value, exp in expected.items():
        row = r.by_group.loc[value]
        assert row.n_impostor == exp["n_imp"]
        assert row.n_genuine == exp["n_gen"]
        assert row.fmr == pytest.approx(exp["fmr"], abs=0)
        assert row.fnmr == pytest.approx(exp["fnmr"], abs=0)


def test_pooled_figures_use_all_pairs(pop, pairs):
    t = pick_threshold(pairs, 0.3)
    r = fairaudit.verification_audit(pop, by="eth", threshold=t, n_boot=0)
    n = len(pop)
    assert r.overall.n_impostor + r.overall.n_genuine == n * (n - 1) // 2
    assert r.overall.n_genuine == pairs.genuine.sum()
    assert r.overall.fmr == (pairs.score[~pairs.genuine] >= t).mean()
    assert r.overall.fnmr == (pairs.score[pairs.genuine] < t).mean()


def test_cross_fmr_matches_brute_force_and_diagonal_is_group_fmr(pop, pairs):
    t = pick_threshold(pairs, 0.3)
    r = fairaudit.verification_audit(pop, by="eth", threshold=t, n_boot=0)
    g = pop.column("eth")
    imp = pairs[~pairs.genuine]
    for a in r.cross_fmr.index:
        for b in r.cross_fmr.columns:
            sel = ((g[imp.i] == a) & (g[imp.j] == b)) | ((g[imp.i] == b) & (g[imp.j] == a))
            assert r.cross_impostor.loc[a, b] == sel.sum()
            assert r.cross_fmr.loc[a, b] == pytest.approx((imp.score[sel] >= t).mean())
    np.testing.assert_allclose(np.diag(r.cross_fmr.to_numpy()), r.by_group.fmr.to_numpy())
    m = r.cross_impostor.to_numpy()
    assert m.sum() == 2 * r.overall.n_impostor - np.trace(m)  # symmetric: off-diagonal cells twice


def test_eer_matches_bob_definition_on_grid_and_all_scores(pop, pairs):
    r = fairaudit.verification_audit(pop, by="eth", threshold="eer", n_boot=0)
    g = pop.column("eth")
    grid = BinGrid.around(0.0)
    for value in r.by_group.index:
        both = (g[pairs.i] == value) & (g[pairs.j] == value)
        imp = pairs.score[both & ~pairs.genuine].to_numpy()
        gen = pairs.score[both & pairs.genuine].to_numpy()
        # on the engine's own candidate thresholds: the same value
        lo, hi = min(imp.min(), gen.min()) - 1e-3, max(imp.max(), gen.max()) + 1e-3
        edges = grid.edges()
        cand = edges[(edges > lo) & (edges < hi)]
        eer_grid, _ = brute_eer_on(imp, gen, cand)
        row = r.by_group.loc[value]
        assert row.eer == pytest.approx(eer_grid, abs=1e-12)
        # on every score as a candidate: the same up to one bin's worth of pairs
        eer_all, _ = brute_eer_on(imp, gen, np.unique(np.r_[imp, gen]))
        assert abs(row.eer - eer_all) <= 1.0 / len(gen) + 1.0 / len(imp)


def test_auc_matches_sklearn_within_bin_ties(pop, pairs):
    r = fairaudit.verification_audit(pop, by="eth", n_boot=0)
    g = pop.column("eth")
    for value in r.by_group.index:
        both = (g[pairs.i] == value) & (g[pairs.j] == value)
        sub = pairs[both]
        expected = roc_auc_score(sub.genuine, sub.score)
        assert r.by_group.loc[value, "auc"] == pytest.approx(expected, abs=1e-3)
    assert r.overall.auc == pytest.approx(roc_auc_score(pairs.genuine, pairs.score), abs=1e-3)


def test_eer_threshold_policy_is_the_pooled_eer_edge(pop, pairs):
    r = fairaudit.verification_audit(pop, by="eth", threshold="eer", n_boot=0)
    imp = pairs.score[~pairs.genuine].to_numpy()
    gen = pairs.score[pairs.genuine].to_numpy()
    edges = BinGrid.around(0.0).edges()
    cand = edges[(edges > -1) & (edges < 1)]
    _, t = brute_eer_on(imp, gen, cand)
    assert r.threshold == pytest.approx(t, abs=1e-12)
    assert r.overall.eer_threshold == pytest.approx(t, abs=1e-12)


@pytest.mark.parametrize("target", [1e-1, 1e-2])
def test_fmr_target_policy_picks_lowest_threshold_meeting_target(pop, pairs, target):
    r = fairaudit.verification_audit(pop, by="eth", threshold={"fmr": target}, n_boot=0)
    imp = pairs.score[~pairs.genuine].to_numpy()
    assert (imp >= r.threshold).mean() <= target
    w = BinGrid.around(0.0).width
    assert (imp >= r.threshold - w).mean() > target
    r2 = fairaudit.verification_audit(pop, by="eth", threshold=f"fmr={target}", n_boot=0)
    assert r2.threshold == r.threshold


def test_fnmr_at_fmr_matches_brute_force_and_is_marked_when_unsupported():
    es = make_population(n_ids=80, k=(3, 5), d=10, groups=("A", "B"), seed=3)
    pairs = brute_pairs(es)
    r = fairaudit.verification_audit(es, by="eth", n_boot=0)
    g = es.column("eth")
    edges = BinGrid.around(0.0).edges()
    for value in r.by_group.index:
        both = (g[pairs.i] == value) & (g[pairs.j] == value)
        imp = pairs.score[both & ~pairs.genuine].to_numpy()
        gen = pairs.score[both & pairs.genuine].to_numpy()
        # the lowest grid edge whose FMR is at most 1e-2, and the FNMR there, by brute force
        fmr_at = (imp[None, :] >= edges[:, None]).mean(axis=1)
        k = int(np.flatnonzero(fmr_at <= 1e-2)[0])
        assert r.by_group.loc[value, "fnmr_at_fmr_1e-02"] == (gen < edges[k]).mean()
        assert math.isnan(r.by_group.loc[value, "fnmr_at_fmr_1e-04"])  # < 100,000 impostor pairs
    assert any("fnmr_at_fmr_1e-04" in n for n in r.notes)


def test_intersections_give_a_multiindex_and_match_brute_force():
    es = make_population(n_ids=40, seed=5, second=("F", "M"))
    pairs = brute_pairs(es)
    t = pick_threshold(pairs, 0.3)
    r = fairaudit.verification_audit(es, by=["gender", "eth"], threshold=t, n_boot=0)
    assert isinstance(r.by_group.index, pd.MultiIndex)
    assert list(r.by_group.index.names) == ["gender", "eth"]
    g = np.char.add(np.char.add(es.column("gender"), "|"), es.column("eth"))
    for (gender, eth), row in r.by_group.iterrows():
        key = f"{gender}|{eth}"
        both = (g[pairs.i] == key) & (g[pairs.j] == key)
        imp = pairs.score[both & ~pairs.genuine]
        assert row.n_impostor == len(imp)
        if len(imp):
            assert row.fmr == (imp >= t).mean()
        assert row.label == f"{gender} & {eth}"


def test_small_tiles_give_the_same_counts_as_one_tile(pop):
    a = fairaudit.verification_audit(pop, by="eth", threshold=0.3, n_boot=0, tile=7)
    b = fairaudit.verification_audit(pop, by="eth", threshold=0.3, n_boot=0, tile=4096)
    pd.testing.assert_frame_equal(a.by_group, b.by_group)
    pd.testing.assert_frame_equal(a.cross_impostor, b.cross_impostor)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_fmr_non_increasing_and_fnmr_non_decreasing_in_threshold(seed):
    es = make_population(n_ids=15, seed=seed)
    r = fairaudit.verification_audit(es, by="eth", n_boot=0)
    for _, c in r.curves.groupby("group"):
        c = c.sort_values("threshold")
        assert (np.diff(c.fmr.to_numpy()) <= 0).all()
        assert (np.diff(c.fnmr.to_numpy()) >= 0).all()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), scale_seed=st.integers(0, 10_000))
def test_invariant_to_sample_order_and_row_scaling(seed, scale_seed):
    es = make_population(n_ids=12, seed=seed)
    rng = np.random.default_rng(scale_seed)
    perm = rng.permutation(len(es))
    scales = rng.uniform(0.5, 4.0, size=len(es))
    es2 = fairaudit.EmbeddingSet(
        es.embeddings[perm] * scales[perm, None].astype(np.float32),
        identity=es.identity[perm], attributes=es.attributes.iloc[perm].reset_index(drop=True),
    )
    pairs = brute_pairs(es)
    t = pick_threshold(pairs, 0.3)
    a = fairaudit.verification_audit(es, by="eth", threshold=t, n_boot=0)
    b = fairaudit.verification_audit(es2, by="eth", threshold=t, n_boot=0)
    cols = ["n_genuine", "n_impostor", "fmr", "fnmr"]
    pd.testing.assert_frame_equal(a.by_group[cols], b.by_group[cols])
    np.testing.assert_allclose(a.by_group.eer, b.by_group.eer, atol=2.0 / max(1, a.by_group.n_genuine.min()))


def test_same_random_state_gives_the_same_intervals(pop):
    a = fairaudit.verification_audit(pop, by="eth", n_boot=50, random_state=7)
    b = fairaudit.verification_audit(pop, by="eth", n_boot=50, random_state=7)
    c = fairaudit.verification_audit(pop, by="eth", n_boot=50, random_state=8)
    pd.testing.assert_frame_equal(a.by_group, b.by_group)
    pd.testing.assert_frame_equal(a.fairness, b.fairness)
    assert not a.by_group.fmr_ci_low.equals(c.by_group.fmr_ci_low) or not a.by_group.fnmr_ci_high.equals(
        c.by_group.fnmr_ci_high
    )


def test_bootstrap_weights_are_multinomial():
    """Every replicate draws m identities with replacement: counts sum to m, each is Binomial(m, 1/m),
    two identities' counts covary by -m (1/m)^2, and the cells match Multinomial probabilities."""
    from scipy import stats as st

    from fairaudit.verification.bootstrap import draw_weights

    es = make_population(n_ids=8, k=(2, 2), d=4, groups=("A",), seed=1)
    names, ident, groups = _identity_groups_from_embeddings(es, ("eth",))
    stats = embedding_pair_stats(es.normalized(), ident, names, groups, BinGrid.around(0.0), tile=8)
    (w,) = draw_weights(stats, 40000, np.random.default_rng(3))
    m = w.shape[1]
    assert (w.sum(axis=1) == m).all() and (w >= 0).all() and (w == np.round(w)).all()
    np.testing.assert_allclose(w.mean(axis=0), 1.0, atol=0.02)
    np.testing.assert_allclose(w.var(axis=0), 1 - 1 / m, atol=0.03)
    np.testing.assert_allclose(np.cov(w[:, 0], w[:, 1])[0, 1], -1 / m, atol=0.02)
    counts = np.bincount(w[:, 0].astype(int), minlength=m + 1)
    expected = st.binom.pmf(np.arange(m + 1), m, 1 / m) * len(w)
    keep = expected > 5
    assert st.chisquare(counts[keep], expected[keep] * counts[keep].sum() / expected[keep].sum()).pvalue > 1e-3


def test_bootstrap_replicate_equals_the_materialised_resampled_population():
    es = make_population(n_ids=14, k=(2, 4), d=8, groups=("A", "B"), seed=11)
    names, ident, groups = _identity_groups_from_embeddings(es, ("eth",))
    grid = BinGrid.around(0.0)
    stats = embedding_pair_stats(es.normalized(), ident, names, groups, grid, tile=5)
    thresholds_k = [np.array([grid.k0 - 3000, grid.k0, grid.k0 + 2000]) for _ in range(groups.n_groups)]
    ipc = embedding_identity_pair_counts(stats, thresholds_k)
    rng = np.random.default_rng(0)
    weights = []
    for g in range(groups.n_groups):
        m = int((groups.codes == g).sum())
        weights.append(rng.multinomial(m, np.full(m, 1 / m), size=3))
    reps = group_replicates(stats, ipc, 3, None, weights=[w.astype(float) for w in weights])

    x = es.normalized().astype(np.float64)
    edges = grid.edges()
    for g in range(groups.n_groups):
        members = np.flatnonzero(groups.codes == g)
        for b in range(3):
            # materialise: identity i copied w_i times, copies are distinct people
            samples, owner = [], []
            for local, ident_code in enumerate(members):
                for copy in range(int(weights[g][b, local])):
                    for row in np.flatnonzero(ident == ident_code):
                        samples.append(row)
                        owner.append((ident_code, copy))
            imp, gen = [], []
            for p in range(len(samples)):
                for q in range(p + 1, len(samples)):
                    s = x[samples[p]] @ x[samples[q]]
                    if owner[p] == owner[q]:
                        gen.append(s)
                    elif owner[p][0] != owner[q][0]:
                        imp.append(s)
                    # two copies of one person are never compared
            imp, gen = np.array(imp), np.array(gen)
            for k, kk in enumerate(thresholds_k[g]):
                t = edges[kk]
                fmr, fnmr = reps[g][0][b, k], reps[g][1][b, k]
                if len(imp):
                    assert fmr == pytest.approx((imp >= t).mean(), abs=1e-12)
                if len(gen):
                    assert fnmr == pytest.approx((gen < t).mean(), abs=1e-12)


def test_intervals_bracket_the_estimates_on_a_larger_population():
    es = make_population(n_ids=120, k=(3, 5), seed=2)
    r = fairaudit.verification_audit(es, by="eth", threshold="eer", n_boot=200, random_state=0)
    bg = r.by_group
    assert ((bg.fmr_ci_low <= bg.fmr) & (bg.fmr <= bg.fmr_ci_high)).all()
    assert ((bg.fnmr_ci_low <= bg.fnmr) & (bg.fnmr <= bg.fnmr_ci_high)).all()
    assert ((bg.eer_ci_low <= bg.eer + 0.02) & (bg.eer - 0.02 <= bg.eer_ci_high)).all()
    assert (bg.fmr_ci_high > bg.fmr_ci_low).all()


def test_json_round_trip_keeps_every_table(pop, tmp_path):
    r = fairaudit.verification_audit(pop, by="eth", n_boot=30)
    path = tmp_path / "r.json"
    r.to_json(path)
    data = json.loads(path.read_text())
    assert data["kind"] == "verification"
    back = fairaudit.VerificationResult.from_dict(data)
    pd.testing.assert_frame_equal(back.by_group, r.by_group, check_dtype=False)
    pd.testing.assert_frame_equal(back.cross_fmr, r.cross_fmr, check_dtype=False)
    pd.testing.assert_frame_equal(back.curves, r.curves, check_dtype=False)
    assert back.threshold == r.threshold
    assert "versions" in back.provenance and back.provenance["versions"]["numpy"]
    assert back.provenance["blas"] is not None


@pytest.mark.parametrize(
    "threshold", ["median", {"fmr": 2}, {"fmr": 0}, "fmr=abc", {"far": "x"}, [0.3], True, 1.5, float("nan")]
)
def test_bad_threshold_is_refused_with_the_policies_listed(pop, threshold):
    with pytest.raises(errors.FairauditInputError) as info:
        fairaudit.verification_audit(pop, by="eth", threshold=threshold, n_boot=0)
    msg = str(info.value)
    assert "Fix:" in msg


@pytest.mark.parametrize(
    "kwargs, template",
    [
        (dict(alpha=1.5), errors.BAD_ALPHA.format(value=1.5)),
        (dict(n_boot=5), errors.BAD_N_BOOT.format(value=5)),
        (dict(n_boot=-1), errors.BAD_N_BOOT.format(value=-1)),
        (dict(ci=1.0), errors.BAD_CI.format(value=1.0)),
        (dict(bin_width=0.5), errors.BAD_BIN_WIDTH.format(value=0.5)),
    ],
)
def test_bad_options_are_refused_with_the_exact_message(pop, kwargs, template):
    with pytest.raises(errors.FairauditInputError) as info:
        fairaudit.verification_audit(pop, by="eth", **kwargs)
    assert str(info.value) == template


def test_unknown_by_lists_the_available_attributes(pop):
    with pytest.raises(errors.FairauditInputError) as info:
        fairaudit.verification_audit(pop, by="race", n_boot=0)
    assert str(info.value) == errors.UNKNOWN_ATTRIBUTE.format(name="by", value="race", available=["eth"])


def test_data_without_genuine_pairs_is_refused():
    es = fairaudit.EmbeddingSet(np.eye(4, 3) + 0.1, identity=list("abcd"), attributes={"eth": list("AABB")})
    with pytest.raises(errors.FairauditInputError) as info:
        fairaudit.verification_audit(es, by="eth", n_boot=0)
    assert str(info.value) == errors.NO_GENUINE_PAIRS


def test_wrong_data_type_is_refused():
    with pytest.raises(errors.FairauditInputError) as info:
        fairaudit.verification_audit(np.zeros((3, 3)), by="eth")
    assert str(info.value) == errors.BAD_DATA_TYPE.format(type="ndarray")


def test_single_identity_group_reports_undefined_fmr_with_a_note():
    x = np.random.default_rng(0).standard_normal((9, 6))
    es = fairaudit.EmbeddingSet(x, identity=list("aaabbbccc"), attributes={"eth": list("AAABBBBBB")})
    r = fairaudit.verification_audit(es, by="eth", threshold=0.2, n_boot=0)
    assert math.isnan(r.by_group.loc["A", "fmr"])
    assert any("'A' has no impostor pairs" in n for n in r.notes)
    assert r.fairness.loc["fdr", "defined"] in (True, False)  # the table keeps its shape
    assert list(r.fairness.index) == list(fairaudit.fairness.ALL_FIGURES)


def scoreset_from_pairs(es, pairs):
    return fairaudit.ScoreSet.from_arrays(
        pairs.score.to_numpy(),
        identity_a=es.identity[pairs.i], identity_b=es.identity[pairs.j],
        attributes_a={"eth": es.column("eth")[pairs.i]}, attributes_b={"eth": es.column("eth")[pairs.j]},
    )


def test_scoreset_and_embeddingset_routes_agree_on_the_same_pairs(pop, pairs):
    t = pick_threshold(pairs, 0.3)
    ss = scoreset_from_pairs(pop, pairs)
    a = fairaudit.verification_audit(pop, by="eth", threshold=t, n_boot=40, random_state=3)
    b = fairaudit.verification_audit(ss, by="eth", threshold=t, n_boot=40, random_state=3)
    cols = ["n_identities", "n_genuine", "n_impostor", "fmr", "fnmr", "fmr_ci_low", "fmr_ci_high",
            "fnmr_ci_low", "fnmr_ci_high"]
    pd.testing.assert_frame_equal(a.by_group[cols], b.by_group[cols], check_dtype=False)
    np.testing.assert_allclose(a.by_group.eer, b.by_group.eer, atol=1e-3)
    np.testing.assert_allclose(a.by_group.auc, b.by_group.auc, atol=1e-3)
    pd.testing.assert_frame_equal(a.cross_impostor, b.cross_impostor, check_dtype=False)
    assert math.isnan(b.by_group.n_samples.iloc[0])
    assert b.params["route"] == "scores"


def test_scoreset_fixed_threshold_counts_are_exact_even_next_to_a_score(pop, pairs):
    ss = scoreset_from_pairs(pop, pairs)
    t = float(np.sort(pairs.score[~pairs.genuine])[-5])  # exactly one impostor score
    r = fairaudit.verification_audit(ss, by="eth", threshold=t, n_boot=0)
    assert r.overall.fmr == (pairs.score[~pairs.genuine] >= t).mean()
    assert r.overall.fnmr == (pairs.score[pairs.genuine] < t).mean()


def test_audit_recovers_the_planted_orderings_of_the_synthetic_population():
    from fairaudit import synthetic

    pop = synthetic.population("diveface", n_identities=100, samples_per_identity=5, random_state=0)
    r = fairaudit.verification_audit(pop, by=["gender", "ethnicity"], threshold={"fmr": 1e-3}, n_boot=0)
    planted = synthetic.planted("diveface").set_index("group")
    labels = r.by_group.label.tolist()
    by_fnmr = [labels[i] for i in np.argsort(-r.by_group.fnmr.to_numpy(), kind="stable")]
    by_fmr = [labels[i] for i in np.argsort(-r.by_group.fmr.to_numpy(), kind="stable")]
    assert by_fnmr == planted.sort_values("fnmr_rank").index.tolist()
    assert by_fmr == planted.sort_values("fmr_rank").index.tolist()
    # and the fairness figures say the groups differ
    assert r.fairness.loc["fmr_max_min", "value"] > 10
    assert r.fairness.loc["fdr", "value"] < 1


def test_balanced_population_shows_small_disparities():
    from fairaudit import synthetic

    pop = synthetic.population("balanced", n_identities=100, samples_per_identity=5, random_state=0)
    r = fairaudit.verification_audit(pop, by="ethnicity", threshold={"fmr": 1e-2}, n_boot=0)
    assert r.fairness.loc["fmr_max_min", "value"] < 2


def test_bootstrap_handles_a_group_without_any_impostor_pair():
    # group B holds one identity: no impostor pair at all, so its per-pair tables are empty
    rng = np.random.default_rng(4)
    x = rng.standard_normal((14, 8))
    ident = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "f", "f", "z", "z"]
    es = fairaudit.EmbeddingSet(x, identity=ident, attributes={"eth": ["A"] * 12 + ["B"] * 2})
    r = fairaudit.verification_audit(es, by="eth", threshold=0.2, n_boot=30)
    assert math.isnan(r.by_group.loc["B", "fmr"]) and math.isnan(r.by_group.loc["B", "fmr_ci_low"])
    assert r.by_group.loc["A", "fmr_ci_low"] <= r.by_group.loc["A", "fmr"] <= r.by_group.loc["A", "fmr_ci_high"]


def test_explicit_pair_list_is_audited_on_exactly_those_pairs(pop, pairs):
    rng = np.random.default_rng(9)
    chosen = pairs.iloc[rng.choice(len(pairs), size=400, replace=False)]
    listed = pd.DataFrame({"index_a": chosen.i.to_numpy(), "index_b": chosen.j.to_numpy()})
    t = pick_threshold(pairs, 0.3)
    r = fairaudit.verification_audit(pop, by="eth", threshold=t, n_boot=0, pairs=listed)
    assert r.overall.n_genuine + r.overall.n_impostor == 400
    assert r.overall.n_genuine == chosen.genuine.sum()
    assert r.overall.fmr == (chosen.score[~chosen.genuine] >= t).mean()
    assert r.overall.fnmr == (chosen.score[chosen.genuine] < t).mean()
    # the same pairs by path, as the rfw loader lists them
    with_paths = fairaudit.EmbeddingSet(pop.embeddings, identity=pop.identity, attributes=pop.attributes,
                                        path=[f"img{i}.jpg" for i in range(len(pop))])
    by_path = pd.DataFrame({"path_a": [f"img{i}.jpg" for i in listed.index_a],
                            "path_b": [f"img{j}.jpg" for j in listed.index_b],
                            "genuine": chosen.genuine.to_numpy()})
    r2 = fairaudit.verification_audit(with_paths, by="eth", threshold=t, n_boot=0, pairs=by_path)
    pd.testing.assert_frame_equal(r.by_group, r2.by_group)


def test_a_group_without_listed_pairs_is_named_in_the_notes(pop, pairs):
    eth = pop.column("eth")
    inside = pairs[(eth[pairs.i.to_numpy()] != "B") & (eth[pairs.j.to_numpy()] != "B")]
    listed = pd.DataFrame({"index_a": inside.i.to_numpy(), "index_b": inside.j.to_numpy()})
    r = fairaudit.verification_audit(pop, by="eth", threshold=0.3, n_boot=0, pairs=listed)
    assert "B" not in r.by_group.index
    assert any("'B'" in note and "no listed pair" in note for note in r.notes)
    full = fairaudit.verification_audit(pop, by="eth", threshold=0.3, n_boot=0, pairs=pairs[["i", "j"]]
                                        .rename(columns={"i": "index_a", "j": "index_b"}))
    assert not any("no listed pair" in note for note in full.notes)


def test_explicit_pairs_with_unknown_samples_or_wrong_flags_are_refused(pop):
    from fairaudit.verification.audit import PAIRS_GENUINE, PAIRS_UNKNOWN

    with pytest.raises(errors.FairauditInputError) as info:
        fairaudit.verification_audit(pop, by="eth", n_boot=0, pairs=pd.DataFrame({"index_a": [0], "index_b": [10_000]}))
    assert str(info.value) == PAIRS_UNKNOWN.format(count=1, first=[10_000])
    bad = pd.DataFrame({"index_a": [0, 0], "index_b": [1, 2], "genuine": [False, True]})
    same01 = pop.identity[0] == pop.identity[1]
    same02 = pop.identity[0] == pop.identity[2]
    # rows of one identity are contiguous, so [False, True] cannot match both truths
    wrong = [i for i, (flag, truth) in enumerate(zip([False, True], [same01, same02])) if flag != truth]
    with pytest.raises(errors.FairauditInputError) as info:
        fairaudit.verification_audit(pop, by="eth", n_boot=0, pairs=bad)
    assert str(info.value) == PAIRS_GENUINE.format(count=len(wrong), rows=wrong)
