"""The compiled kernels against plain loops, and the shortcuts built on them against the long way."""

from __future__ import annotations

import numpy as np
import pytest

import fairaudit
from fairaudit.verification import bootstrap, kernels


def _pairs(rng, m, n_pairs, n_slots, max_count):
    a = rng.integers(0, m, n_pairs).astype(np.int32)
    b = rng.integers(0, m, n_pairs).astype(np.int32)
    per = rng.integers(1, min(4, n_slots) + 1, n_pairs)
    ptr = np.r_[0, np.cumsum(per)].astype(np.int64)
    slot = np.concatenate([np.sort(rng.choice(n_slots, k, replace=False)) for k in per]).astype(np.int16)
    count = rng.integers(1, max_count, ptr[-1]).astype(np.int32)
    return a, b, ptr, slot, count


@pytest.mark.parametrize("max_count", [4, 2**20])  # 2**20: the int32 partial sums must move to int64
def test_weighted_pair_sums_equal_a_plain_loop(max_count):
    rng = np.random.default_rng(1)
    a, b, ptr, slot, count = _pairs(rng, 40, 300, 6, max_count)
    weights = rng.integers(0, 8, (40, 9))
    slot_map = np.array([-1, 0, 0, 1, 2, 2])  # never decreasing, as the bootstrap builds it
    got = kernels.weighted_pair_sums(a, b, ptr, slot, count, slot_map, weights, 3)
    want = np.zeros((3, 9), dtype=np.int64)
    for p in range(len(a)):
        for e in range(ptr[p], ptr[p + 1]):
            if slot_map[slot[e]] >= 0:
                want[slot_map[slot[e]]] += int(count[e]) * weights[a[p]].astype(np.int64) * weights[b[p]]
    np.testing.assert_array_equal(got, want)
    if max_count > 4:
        assert want.max() > 2**31  # the test exercised the move to int64


def test_within_set_sums_equal_a_plain_loop():
    rng = np.random.default_rng(2)
    n, n_pairs = 30, 200
    lo = rng.integers(0, n - 1, n_pairs)
    hi = lo + 1 + rng.integers(0, n - 1 - lo)
    values = rng.integers(1, 40, n_pairs)
    order = np.argsort(lo, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(lo, minlength=n))].astype(np.int64)
    picked = np.stack([rng.choice(n, 11, replace=False) for _ in range(150)])  # 150 sets: 3 blocks of 64
    got = kernels.within_set_sums(indptr, hi[order], values[order], picked, n)
    want = [sum(v for i, j, v in zip(lo, hi, values) if i in set(row) and j in set(row)) for row in picked]
    np.testing.assert_array_equal(got, want)


def test_random_subsets_in_chunks_equal_one_draw():
    whole = kernels.random_subsets(50, 7, 30, 99)
    chunks = kernels.RandomSubsets(50, 7, 99)
    np.testing.assert_array_equal(np.concatenate([chunks.draw(11), chunks.draw(19)]), whole)


def test_pass1_histogram_equals_bincount():
    rng = np.random.default_rng(3)
    scores = rng.uniform(0, 120, (37, 41)).astype(np.float32)
    ids = np.repeat(np.arange(10), 4)[:37].astype(np.int32)
    counts = np.zeros(100, dtype=np.int64)
    n, kept = kernels.histogram(scores, np.zeros(37, dtype=np.int64), ids, np.arange(41, dtype=np.int32), 100,
                                counts, 90, 2000)
    q = np.minimum(scores.astype(np.int64), 99)
    np.testing.assert_array_equal(counts, np.bincount(q.ravel(), minlength=100))
    assert n == q.size and len(kept[0]) == int((q >= 90).sum())
    assert sorted(zip(kept[0], kept[1], kept[2])) == sorted(
        (ids[i], j, q[i, j]) for i, j in zip(*np.nonzero(q >= 90)))
    # too little room: the list is reported incomplete, the histogram is still whole
    counts[:] = 0
    _, none = kernels.histogram(scores, np.zeros(37, dtype=np.int64), ids, ids, 100, counts, 90, 3)
    assert none is None and counts.sum() == q.size


def _boot(k=40, seed=5):
    es = fairaudit.synthetic.population("diveface", n_identities=k, samples_per_identity=4, dim=32,
                                        random_state=seed)
    from fairaudit.verification.audit import _stats_from_data
    from fairaudit.verification.identity_pairs import embedding_identity_pair_counts

    stats, _ = _stats_from_data(es, ["gender", "ethnicity"], 0.0, 2.0**-14, 64, False)
    edges = stats.grid.edges()
    ks = []
    for g in range(stats.n_groups):
        gen = np.sort(stats.gen_score[stats.gen_group == g])
        ks.append(np.unique(np.searchsorted(edges, np.quantile(gen, np.linspace(0.0, 0.3, 25)))).astype(np.int64))
    ipc = embedding_identity_pair_counts(stats, ks)
    weights = bootstrap.draw_weights(stats, 300, np.random.default_rng(seed))
    return stats, ipc, weights


@pytest.mark.parametrize("margin", [2, 0])  # 0: many replicates fail the check and are redone
def test_eer_on_the_located_range_equals_the_search_of_every_threshold(margin, monkeypatch):
    monkeypatch.setattr(bootstrap, "EER_RANGE_MARGIN", margin)
    stats, ipc, weights = _boot()
    redone = 0
    for g in range(stats.n_groups):
        boot = bootstrap.GroupBootstrap(stats, ipc[g], g, weights[g])
        k = len(ipc[g].thresholds_k)
        fmr_all, fnmr_all = boot.rates(np.arange(k))
        fmr, fnmr, eer = boot.at_threshold_and_eer(k // 2)
        np.testing.assert_array_equal(eer, bootstrap.replicate_eer(fmr_all, fnmr_all))
        np.testing.assert_array_equal(fmr, fmr_all[:, k // 2])
        np.testing.assert_array_equal(fnmr, fnmr_all[:, k // 2])
        redone += boot.n_redone
    if margin == 0:
        assert redone > 0  # the fallback ran


def test_high_scores_kept_by_the_first_pass_equal_a_third_pass():
    from fairaudit.verification.audit import _stats_from_data
    from fairaudit.verification.identity_pairs import all_identity_pair_accepts

    es = fairaudit.synthetic.population("diveface", n_identities=30, samples_per_identity=4, dim=32, random_state=2)
    kept, _ = _stats_from_data(es, "ethnicity", 0.3, 2.0**-14, 50, False, keep={"keep_from_score": 0.3})
    plain, _ = _stats_from_data(es, "ethnicity", 0.3, 2.0**-14, 50, False)
    assert kept.high_scores is not None and plain.high_scores is None
    for k in (kept.grid.k0, kept.grid.k0 + 1500):
        a, b = all_identity_pair_accepts(kept, k), all_identity_pair_accepts(plain, k)
        for x, y in ((a.id_a, b.id_a), (a.id_b, b.id_b), (a.accepts, b.accepts)):
            np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(kept.imp_hist, plain.imp_hist)
    # a tile with more high scores than its room drops the list: the third pass takes over
    tight, _ = _stats_from_data(es, "ethnicity", -0.9, 2.0**-14, 50, False,
                                keep={"keep_from_score": -0.9, "keep_share": 0.0})
    assert tight.high_scores is None
