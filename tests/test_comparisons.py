"""Group comparisons: paired bootstrap intervals and identity-level permutation p-values against
brute force on materialised scores, Holm against a hand computation, the planted null and effect."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

import fairaudit
from fairaudit import errors
from fairaudit.verification.audit import BAD_N_PERM
from fairaudit.verification.comparisons import COMPARISON_COLUMNS, TEXT_COLUMNS
from fairaudit.verification.kernels import random_subsets
from fairaudit.verification.permutation import holm


def population(n_ids=(8, 8, 8), spreads=(0.8, 0.8, 0.8), k=(2, 4), d=10, seed=0):
    """Identities of groups A, B, C (``n_ids`` each) whose samples spread around their centre."""
    rng = np.random.default_rng(seed)
    xs, ids, eth = [], [], []
    pid = 0
    for label, n, spread in zip("ABC", n_ids, spreads):
        for _ in range(n):
            centre = rng.standard_normal(d)
            c = int(rng.integers(k[0], k[1] + 1))
            xs.append(centre + spread * rng.standard_normal((c, d)))
            ids += [f"p{pid:03d}"] * c
            eth += [label] * c
            pid += 1
    return fairaudit.EmbeddingSet(np.vstack(xs), identity=ids, attributes={"eth": eth})


def materialise(es):
    """Every pair of distinct samples with its float64 score, identity codes and kind."""
    x = es.embeddings.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    names, code = np.unique(es.identity, return_inverse=True)
    i, j = np.triu_indices(len(x), 1)
    return dict(score=np.einsum("nd,nd->n", x[i], x[j]), a=code[i], b=code[j], genuine=code[i] == code[j],
                names=names, group=np.array([es.column("eth")[code == c][0] for c in range(len(names))]))


def brute_rate(p, members, metric, threshold):
    """FMR or FNMR of the identities in ``members`` (a boolean over identity codes), from scores."""
    both = members[p["a"]] & members[p["b"]]
    if metric == "fnmr":
        sel = both & p["genuine"]
        return np.mean(p["score"][sel] < threshold) if sel.any() else np.nan
    sel = both & ~p["genuine"]
    return np.mean(p["score"][sel] >= threshold) if sel.any() else np.nan


THRESHOLD = 0.3


def safe_population(seed):
    es = population(seed=seed)
    p = materialise(es)
    # float32 engine and float64 brute force agree away from the threshold
    assert np.min(np.abs(p["score"] - THRESHOLD)) > 1e-5
    return es, p


def test_comparisons_have_documented_columns_and_round_trip():
    es, _ = safe_population(3)
    r = fairaudit.verification_audit(es, by="eth", threshold=THRESHOLD, n_boot=50, n_perm=99, random_state=1)
    assert tuple(r.comparisons.columns) == COMPARISON_COLUMNS
    # 3 pairs x (fmr, fnmr, eer) + 3 groups x (fmr, fnmr) against the rest
    assert len(r.comparisons) == 15
    back = fairaudit.VerificationResult.from_json(r.to_json())
    assert back.comparisons.equals(r.comparisons)
    for name in COMPARISON_COLUMNS:
        assert f"``{name}``" in fairaudit.VerificationResult.__doc__


def test_no_bootstrap_gives_an_empty_table_and_a_note():
    es, _ = safe_population(3)
    r = fairaudit.verification_audit(es, by="eth", threshold=THRESHOLD, n_boot=0)
    assert r.comparisons.empty and tuple(r.comparisons.columns) == COMPARISON_COLUMNS
    assert any("n_boot=0: no group comparisons" in n for n in r.notes)
    back = fairaudit.VerificationResult.from_json(r.to_json())
    assert back.comparisons.empty and tuple(back.comparisons.columns) == COMPARISON_COLUMNS


@pytest.mark.parametrize("value", [-1, 1.5, True, "many"])
def test_bad_n_perm_is_refused(value):
    es, _ = safe_population(3)
    with pytest.raises(errors.FairauditInputError) as exc:
        fairaudit.verification_audit(es, by="eth", n_perm=value)
    assert str(exc.value) == BAD_N_PERM.format(value=value)


def _weights(p, n_boot, rng):
    """The audit's bootstrap draws, redone: per group in label order, identities in code order."""
    out = np.zeros((n_boot, len(p["names"])))
    for label in sorted(set(p["group"])):
        members = np.flatnonzero(p["group"] == label)
        m = len(members)
        # m identities drawn uniformly with replacement per replicate, counted
        draws = rng.integers(0, m, size=(n_boot, m))
        out[:, members] = np.stack([np.bincount(row, minlength=m) for row in draws])
    return out


def brute_weighted(p, w, members, metric, threshold):
    """A bootstrap replicate's rate, from scores: pair (i, j) counts w_i * w_j times."""
    both = members[p["a"]] & members[p["b"]]
    if metric == "fnmr":
        sel = both & p["genuine"]
        ww = w[p["a"][sel]]
        return np.sum(ww * (p["score"][sel] < threshold)) / ww.sum() if ww.sum() else np.nan
    sel = both & ~p["genuine"]
    ww = w[p["a"][sel]] * w[p["b"][sel]]
    return np.sum(ww * (p["score"][sel] >= threshold)) / ww.sum() if ww.sum() else np.nan


def test_intervals_and_pvalues_equal_brute_force_on_materialised_scores():
    es, p = safe_population(7)  # every group has errors of both kinds: no interval is replaced
    n_boot, n_perm, seed = 40, 250, 11
    # groups of 8 identities: below the default min_identities, their rows would combine the groups'
    # intervals (Newcombe, tested below); here the percentile intervals of the paired replicates
    r = fairaudit.verification_audit(es, by="eth", threshold=THRESHOLD, n_boot=n_boot, n_perm=n_perm,
                                     random_state=seed, min_identities=2)
    assert (r.comparisons.ci_method == "percentile").all()
    rng = np.random.default_rng(seed)
    w = _weights(p, n_boot, rng)
    labels = ["A", "B", "C"]
    rows = []
    for metric in ("fmr", "fnmr"):
        rows += [(metric, a, b) for a, b in combinations(labels, 2)]
        rows += [(metric, g, "rest") for g in labels]
    table = r.comparisons.set_index(["metric", "group_a", "group_b"])
    for metric, a, b in rows:
        in_a = p["group"] == a
        in_b = ~in_a if b == "rest" else p["group"] == b
        got = table.loc[(metric, a, b)]
        va, vb = brute_rate(p, in_a, metric, THRESHOLD), brute_rate(p, in_b, metric, THRESHOLD)
        assert got.value_a == pytest.approx(va, abs=1e-12) and got.value_b == pytest.approx(vb, abs=1e-12)
        # paired bootstrap: replicate k of both sides uses the same draw of identities
        diffs = np.array([brute_weighted(p, w[k], in_a, metric, THRESHOLD)
                          - brute_weighted(p, w[k], in_b, metric, THRESHOLD) for k in range(n_boot)])
        diffs = diffs[np.isfinite(diffs)]
        lo, hi = np.quantile(diffs, [0.025, 0.975])
        assert got.difference_ci_low == pytest.approx(lo, abs=1e-12)
        assert got.difference_ci_high == pytest.approx(hi, abs=1e-12)
    # permutations: drawn after the bootstrap, row by row in table order, from the same generator
    for metric, a, b in rows:
        units = np.flatnonzero((p["group"] == a) | ((p["group"] == b) if b != "rest" else True))
        in_a = p["group"][units] == a
        observed = brute_rate(p, np.isin(np.arange(len(p["names"])), units[in_a]), metric, THRESHOLD) - \
            brute_rate(p, np.isin(np.arange(len(p["names"])), units[~in_a]), metric, THRESHOLD)
        extreme = valid = 0
        # one seed per row; a random subset of the smaller side, the rest is the other side
        n_a = int(in_a.sum())
        pick_a = n_a <= len(units) - n_a
        seed = int(rng.integers(0, 2**63, dtype=np.int64))
        for picked in random_subsets(len(units), n_a if pick_a else len(units) - n_a, n_perm, seed):
            row = np.zeros(len(units), dtype=bool)
            row[picked] = True
            if not pick_a:
                row = ~row
            first = np.zeros(len(p["names"]), dtype=bool)
            second = np.zeros(len(p["names"]), dtype=bool)
            first[units[row]] = True
            second[units[~row]] = True
            d = brute_rate(p, first, metric, THRESHOLD) - brute_rate(p, second, metric, THRESHOLD)
            if np.isfinite(d):
                valid += 1
                extreme += abs(d) >= abs(observed) * (1 - 1e-9)
        assert table.loc[(metric, a, b)].p_value == pytest.approx((1 + extreme) / (1 + valid), abs=1e-15)
        assert table.loc[(metric, a, b)].n_perm == n_perm
    tested = r.comparisons.metric != "eer"
    assert (r.comparisons.loc[tested, "p_method"] == "permutation").all()
    assert (r.comparisons.loc[~tested, "p_method"] == "bootstrap").all()


def test_same_seed_same_pvalues_and_n_perm_zero_gives_none():
    es, _ = safe_population(2)
    a = fairaudit.verification_audit(es, by="eth", threshold=THRESHOLD, n_boot=30, n_perm=60, random_state=4)
    b = fairaudit.verification_audit(es, by="eth", threshold=THRESHOLD, n_boot=30, n_perm=60, random_state=4)
    assert a.comparisons.equals(b.comparisons)
    z = fairaudit.verification_audit(es, by="eth", threshold=THRESHOLD, n_boot=30, n_perm=0, random_state=4)
    assert z.comparisons.p_value.isna().all() and (z.comparisons.n_perm == 0).all()
    # the bootstrap does not depend on the permutations
    assert z.by_group.equals(a.by_group)
    assert np.allclose(z.comparisons.difference_ci_low, a.comparisons.difference_ci_low, equal_nan=True)


def test_random_subsets_are_uniform():
    """Every unit, and every pair of units, is drawn as often as a uniform subset would."""
    from scipy import stats

    n, k, sets = 12, 5, 20000
    picked = random_subsets(n, k, sets, 123)
    assert picked.shape == (sets, k)
    assert all(len(set(row)) == k for row in picked[:500])  # no unit twice in a set
    counts = np.bincount(picked.ravel(), minlength=n)
    assert stats.chisquare(counts).pvalue > 1e-3
    both = np.zeros((n, n))
    member = np.zeros((sets, n))
    np.put_along_axis(member, picked, 1.0, axis=1)
    both = member.T @ member
    expected = sets * k * (k - 1) / (n * (n - 1))
    iu = np.triu_indices(n, 1)
    assert stats.chisquare(both[iu], np.full(len(iu[0]), expected)).pvalue > 1e-3
    np.testing.assert_array_equal(random_subsets(n, k, 50, 7), random_subsets(n, k, 50, 7))
    assert not np.array_equal(random_subsets(n, k, 50, 7), random_subsets(n, k, 50, 8))


def test_holm_against_hand_computation():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.005])
    # sorted finite: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> 0.06)
    expected = np.array([0.03, 0.06, np.nan, 0.06, 0.02])
    np.testing.assert_allclose(holm(p), expected, equal_nan=True)
    assert np.isnan(holm([np.nan])).all()
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])


def test_planted_gap_is_found_and_identical_groups_at_the_nominal_rate():
    """A and B share one genuine spread; C's genuine scores are much lower (higher FNMR)."""
    seeds = range(12)
    false_alarms = detections = 0
    for seed in seeds:
        es = population(n_ids=(12, 12, 12), spreads=(0.7, 0.7, 1.6), k=(3, 4), seed=100 + seed)
        r = fairaudit.verification_audit(es, by="eth", threshold=0.3, n_boot=20, n_perm=99, random_state=seed)
        t = r.comparisons.set_index(["metric", "group_a", "group_b"])
        false_alarms += t.loc[("fnmr", "A", "B")].p_value < 0.05
        detections += t.loc[("fnmr", "A", "C")].p_value < 0.05
    # under the null the raw p-value rejects with probability <= 0.05: P(Binomial(12, .05) >= 4) < 0.01
    assert false_alarms <= 3
    assert detections >= 10


def test_score_file_route_gives_the_same_comparisons():
    """Every pair listed in a ScoreSet (per identity pair comparison totals) against the all-pairs
    engine (``n_i * n_j`` comparisons per identity pair): same figures, same p-values."""
    import pandas as pd

    es, p = safe_population(5)
    names, group = p["names"], p["group"]
    table = pd.DataFrame({"score": p["score"], "identity_a": names[p["a"]], "identity_b": names[p["b"]],
                          "genuine": p["genuine"], "eth_a": group[p["a"]], "eth_b": group[p["b"]]})
    scores = fairaudit.ScoreSet(table)
    kw = dict(by="eth", threshold=THRESHOLD, n_boot=40, n_perm=120, random_state=3)
    a = fairaudit.verification_audit(es, **kw).comparisons
    b = fairaudit.verification_audit(scores, **kw).comparisons
    assert a[["metric", "kind", "group_a", "group_b"]].equals(b[["metric", "kind", "group_a", "group_b"]])
    assert a[list(TEXT_COLUMNS)].equals(b[list(TEXT_COLUMNS)])
    numeric = [c for c in COMPARISON_COLUMNS if c not in TEXT_COLUMNS]
    np.testing.assert_allclose(a[numeric].to_numpy(float), b[numeric].to_numpy(float), atol=1e-12, equal_nan=True)


def test_cli_prints_the_comparisons_and_flags(tmp_path, capsys):
    from fairaudit.cli import main

    es, _ = safe_population(3)
    path = tmp_path / "es.npz"
    es.save(path)
    assert main(["verify", str(path), "--by", "eth", "--threshold", str(THRESHOLD), "--n-boot", "30",
                 "--n-perm", "50", "--min-identities", "10", "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "Group comparisons" in out and "FNMR    A vs B" in out and "A vs rest" in out
    assert "A !" in out  # 8 identities < --min-identities 10
    back = fairaudit.VerificationResult.from_json(str(tmp_path / "r.json"))
    assert back.params["n_perm"] == 50 and back.params["min_identities"] == 10
    assert (back.comparisons.loc[back.comparisons.metric != "eer", "n_perm"] == 50).all()


def test_all_pair_accepts_agree_across_tile_sizes_and_brute_force():
    """The extra engine pass over every tile (within and across groups) against explicit counts."""
    from fairaudit.verification.audit import _stats_from_data
    from fairaudit.verification.identity_pairs import all_identity_pair_accepts

    es, p = safe_population(5)
    for tile in (5, 2048):
        stats, _ = _stats_from_data(es, "eth", THRESHOLD, 2.0**-14, tile, False)
        acc = all_identity_pair_accepts(stats, stats.grid.k0)
        got = {(int(a), int(b)): int(c) for a, b, c in zip(acc.id_a, acc.id_b, acc.accepts)}
        imp = ~p["genuine"] & (p["score"] >= THRESHOLD)
        lo, hi = np.minimum(p["a"][imp], p["b"][imp]), np.maximum(p["a"][imp], p["b"][imp])
        pairs, counts = np.unique(lo * 1000 + hi, return_counts=True)
        assert got == {(int(q // 1000), int(q % 1000)): int(c) for q, c in zip(pairs, counts)}


def test_permutation_test_holds_its_level_under_the_null():
    """200 populations of two exchangeable groups: p < 0.05 about 5 % of the time."""
    from fairaudit.verification.permutation import PermutationData, permutation_pvalue

    rng = np.random.default_rng(0)
    rejections = 0
    n_sim, m = 200, 30
    empty = (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros(0),)
    for _ in range(n_sim):
        gen = rng.integers(2, 7, size=m)
        rej = rng.binomial(gen, rng.beta(3, 7, size=m))
        data = PermutationData(np.arange(m), gen, rej, np.ones(m), empty, None)
        first = (np.arange(m) < m // 2).astype(float)
        rejections += permutation_pvalue(data, first, "fnmr", 99, rng) < 0.05
    # three binomial standard errors (0.015) around 0.05
    assert 0.005 <= rejections / n_sim <= 0.096


def big_and_tiny(seed, n_big=60, d=16):
    """A group of ``n_big`` identities and one of 2 (3 samples each: 9 impostor comparisons)."""
    rng = np.random.default_rng(seed)
    xs, ids, grp = [], [], []
    for label, n in (("big", n_big), ("tiny", 2)):
        for i in range(n):
            xs.append(rng.standard_normal(d) + 0.9 * rng.standard_normal((3, d)))
            ids += [f"{label}{i}"] * 3
            grp += [label] * 3
    return fairaudit.EmbeddingSet(np.vstack(xs), identity=ids, attributes={"g": grp})


@pytest.mark.parametrize("seed", [0, 2])
def test_a_tiny_group_gets_a_combined_interval_that_agrees_with_its_pvalue(seed):
    """The audit's case: FMR "big vs tiny", 9 impostor comparisons in the tiny group. The paired
    bootstrap interval of the difference was the big group's own ([0.0085, 0.0119]: it excluded 0)
    while the permutation p-value was 0.43; the row now combines the two reported intervals."""
    from fairaudit.verification.small_samples import newcombe_difference

    r = fairaudit.verification_audit(big_and_tiny(seed), by="g", threshold={"fmr": 1e-2}, n_boot=200,
                                     n_perm=999, random_state=seed)
    bg, t = r.by_group, r.comparisons.set_index("metric")
    assert bg.loc["tiny", "n_impostor"] == 9 and bg.loc["tiny", "fmr_ci_method"] == "clopper-pearson"
    assert (t.ci_method == "newcombe").all()
    for metric in ("fmr", "fnmr", "eer"):
        row = t.loc[metric]
        sides = [tuple(bg.loc[g, [metric, f"{metric}_ci_low", f"{metric}_ci_high"]]) for g in ("big", "tiny")]
        assert (row.difference_ci_low, row.difference_ci_high) == pytest.approx(newcombe_difference(*sides))
    fmr = t.loc["fmr"]
    assert fmr.p_holm > 0.05 and fmr.difference_ci_low < 0 < fmr.difference_ci_high  # no contradiction
    # EER: no permutation test; the p-value of the combined interval, in Holm's adjustment
    eer = t.loc["eer"]
    assert eer.p_method == "newcombe" and 0 < eer.p_value <= 1 and eer.n_perm == 0
    np.testing.assert_allclose(r.comparisons.p_holm, holm(r.comparisons.p_value))
    assert any("EER comparisons have bootstrap p-values" in n for n in r.notes)


def test_eer_rows_have_the_bootstrap_pvalue_of_their_paired_replicates():
    from fairaudit.verification.audit_inputs import REPLICATE_SINK
    from fairaudit.systems.compare import bootstrap_pvalue as from_systems
    from fairaudit.verification.comparisons import bootstrap_pvalue

    assert from_systems is bootstrap_pvalue  # moved down to verification, still importable there
    es, _ = safe_population(7)
    sink = {}
    token = REPLICATE_SINK.set(sink)
    try:
        r = fairaudit.verification_audit(es, by="eth", threshold=THRESHOLD, n_boot=60, n_perm=99,
                                         random_state=2, min_identities=2)
    finally:
        REPLICATE_SINK.reset(token)
    labels = list(r.by_group.label)
    eer = r.comparisons[r.comparisons.metric == "eer"]
    assert len(eer) == 3 and (eer.p_method == "bootstrap").all() and (eer.ci_method == "percentile").all()
    for _, row in eer.iterrows():
        d = sink["eer"][:, labels.index(row.group_a)] - sink["eer"][:, labels.index(row.group_b)]
        assert row.p_value == pytest.approx(bootstrap_pvalue(d), abs=1e-15)
        d = d[np.isfinite(d)]
        lo, hi = np.quantile(d, [0.025, 0.975])
        assert (row.difference_ci_low, row.difference_ci_high) == pytest.approx((lo, hi), abs=1e-15)
    # Holm runs over every p-value of the table, the EER ones included
    np.testing.assert_allclose(r.comparisons.p_holm, holm(r.comparisons.p_value))
    assert r.comparisons.p_holm.notna().sum() == len(r.comparisons)
