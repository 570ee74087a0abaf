"""The 1:N identification audit against brute force (the whole probes x gallery score matrix in
float64, candidate lists sorted by explicit loops), hand-made candidate lists with exact ties,
properties, the engines and the bootstrap.

Most populations here are *exact*: integer embeddings of norm 16, so that the unit rows (entries
c / 16) and every score (a multiple of 1/256) are exact in float32 as in float64. The engine must
then equal the brute force bit for bit, ties included (and ties are many: scores take few values).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairaudit
from fairaudit import synthetic
from fairaudit.data.groups import POOLED
from fairaudit.identification import CandidateLists, GallerySplit, search
from fairaudit.data.gallery_protocol import split_rows
from fairaudit.verification.audit import _identity_groups_from_embeddings

GROUPS = ("A", "B", "C")
FAST = dict(n_boot=0, n_perm=0)


# --------------------------------------------------------------------------
# exact populations
# --------------------------------------------------------------------------
def _norm16_vectors(rng, n, dim):
    """``n`` integer vectors in [-7, 7]^dim whose squared norm is exactly 256."""
    out = np.empty((0, dim), dtype=np.int64)
    while len(out) < n:
        cand = rng.integers(-7, 8, size=(20000, dim))
        out = np.r_[out, cand[(cand**2).sum(axis=1) == 256]]
    return out[:n]


def exact_population(n_ids=60, samples=(2, 5), dim=12, seed=0, groups=GROUPS, held_out=0.25,
                     enrol=(1, 2), flips=(1, 4)):
    """(x, identity, group, role) of an exact population, rows shuffled.

    Every sample is its identity's centre with a few coordinates sign-flipped and sometimes two
    swapped (the norm stays 16). ``held_out`` of the identities are non-mated probes only; every
    other identity enrolls 1-2 samples (``enrol``) and its other samples are mated probes (there
    is always at least one non-mated and one mated search).
    """
    rng = np.random.default_rng(seed)
    centres = _norm16_vectors(rng, n_ids, dim)
    counts = rng.integers(samples[0], samples[1] + 1, size=n_ids)
    rows = np.repeat(np.arange(n_ids), counts)
    x = centres[rows].copy()
    for i in range(len(x)):
        flip = rng.choice(dim, size=int(rng.integers(flips[0], flips[1] + 1)), replace=False)
        x[i, flip] *= -1
        if rng.random() < 0.5:
            a, b = rng.choice(dim, 2, replace=False)
            x[i, [a, b]] = x[i, [b, a]]
    group = np.asarray(groups)[rng.integers(0, len(groups), size=n_ids)]
    out = rng.random(n_ids) < held_out
    n_enrol = rng.integers(enrol[0], enrol[1] + 1, size=n_ids)
    out[0], out[1], n_enrol[1] = True, False, 1  # at least one non-mated and one mated search
    within = np.arange(len(rows)) - np.repeat(np.r_[0, np.cumsum(counts)[:-1]], counts)
    role = np.where(out[rows] | (within >= n_enrol[rows]), "probe", "gallery")
    names = np.array([f"p{i:03d}" for i in range(n_ids)])
    perm = rng.permutation(len(rows))
    return x[perm], names[rows][perm], group[rows][perm], role[perm]


def embedding_set(x, identity, group):
    return fairaudit.EmbeddingSet(np.asarray(x, dtype=np.float32), identity=identity,
                                  attributes={"group": group})


# --------------------------------------------------------------------------
# brute force
# --------------------------------------------------------------------------
class Brute:
    """Every figure of a 1:N audit from the full score matrix, by explicit loops over probes."""

    def __init__(self, x, identity, group, gallery_rows, probe_rows, k):
        xf = np.asarray(x, dtype=np.float64)
        xf = xf / np.linalg.norm(xf, axis=1, keepdims=True)
        identity = np.asarray(identity).astype(str)
        group = np.asarray(group).astype(str)
        self.k = k
        self.group_of = {}
        for name, g in zip(identity, group):
            self.group_of.setdefault(name, g)
        self.labels = sorted(set(self.group_of.values()))
        g_names = identity[gallery_rows]
        self.enrolled = sorted(set(g_names.tolist()))  # identity codes sort like the names
        self.gallery_samples = {e: int((g_names == e).sum()) for e in self.enrolled}
        s = xf[probe_rows] @ xf[gallery_rows].T
        # several gallery samples of one identity: one candidate, its best score
        self.best = np.column_stack([s[:, g_names == e].max(axis=1) for e in self.enrolled]) \
            if self.enrolled else np.zeros((len(probe_rows), 0))
        rows = []
        for i, r in enumerate(probe_rows):
            name = identity[r]
            mated = name in self.gallery_samples
            mate = np.nan
            nonmates = []
            for j, e in enumerate(self.enrolled):
                if e == name:
                    mate = self.best[i, j]
                else:
                    nonmates.append((self.best[i, j], e))
            nonmates.sort(key=lambda t: (-t[0], t[1]))  # best first, ties by identity
            rank = 0
            if mated:  # non-mates tied with the mate rank ahead of it (bob.measure's convention)
                rank = min(1 + sum(1 for sc, _ in nonmates if sc >= mate), k + 1)
            rows.append(dict(identity=name, group=self.group_of[name], mated=mated, mate=mate, rank=rank,
                             top1=nonmates[0][0] if nonmates else -np.inf,
                             top1_name=nonmates[0][1] if nonmates else None,
                             topk=[e for _, e in nonmates[:k]],
                             topk_scores=[sc for sc, _ in nonmates[:k]]))
        self.probes = pd.DataFrame(rows)
        p = self.probes
        self.mated = p.mated.to_numpy(dtype=bool)
        self.mate = p.mate.to_numpy(dtype=float)
        self.rank = p["rank"].to_numpy(dtype=int)
        self.top1 = p.top1.to_numpy(dtype=float)
        self.group = p.group.to_numpy()

    # ---- per probe outcomes (``t`` may be an array of thresholds: one row each)
    def returned(self, t, r):
        t = np.asarray(t, dtype=float)[..., None]
        return self.mated & (self.rank >= 1) & (self.rank <= r) & (self.mate >= t)

    def false_positive(self, t):
        return ~self.mated & (self.top1 >= np.asarray(t, dtype=float)[..., None])

    def selections(self):
        yield POOLED, np.ones(len(self.probes), dtype=bool)
        for g in self.labels:
            yield g, self.group == g

    # ---- figures
    def rates(self, t, r) -> pd.DataFrame:
        p = self.probes
        fn = self.mated & ~self.returned(t, r)
        fp = self.false_positive(t)
        out = {}
        for label, sel in self.selections():
            m = sel & self.mated
            nm = sel & ~self.mated
            n_m, n_nm = int(m.sum()), int(nm.sum())
            out[label] = dict(
                n_identities=p.identity[sel].nunique(), n_mated_identities=p.identity[m].nunique(),
                n_nonmated_identities=p.identity[nm].nunique(), n_mated=n_m, n_nonmated=n_nm,
                n_false_negatives=int(fn[m].sum()), n_false_positives=int(fp[nm].sum()),
                fnir=fn[m].sum() / n_m if n_m else np.nan,
                fpir=fp[nm].sum() / n_nm if n_nm else np.nan,
                rank1=(self.rank[m] == 1).sum() / n_m if n_m else np.nan,
                dir=1 - fn[m].sum() / n_m if n_m else np.nan,
            )
        return pd.DataFrame(out).T

    def fpir_at(self, t, sel=None):
        """FPIR at each threshold of ``t`` (NaN without non-mated searches)."""
        nm = ~self.mated if sel is None else ~self.mated & sel
        fp = self.false_positive(t)[..., nm]
        return fp.mean(axis=-1) if nm.any() else np.full(np.shape(t), np.nan)

    def fnir_at(self, t, r, sel=None):
        m = self.mated if sel is None else self.mated & sel
        miss = ~self.returned(t, r)[..., m]
        return miss.mean(axis=-1) if m.any() else np.full(np.shape(t), np.nan)

    def cmc(self, t):
        p = self.probes
        rows = []
        for label, sel in self.selections():
            m = sel & p.mated.to_numpy()
            rk = p["rank"].to_numpy()[m]
            above = (p.mate.to_numpy()[m] >= t)
            for r in range(1, self.k + 1):
                rows.append((label, r, int(m.sum()), (rk <= r).mean() if m.any() else np.nan,
                             ((rk <= r) & above).mean() if m.any() else np.nan))
        return pd.DataFrame(rows, columns=["group", "rank", "n_mated", "identification_rate", "dir"])

    def gallery(self):
        n = len(self.enrolled)
        rows = []
        for g in self.labels:
            ids = [e for e in self.enrolled if self.group_of[e] == g]
            rows.append((g, len(ids), sum(self.gallery_samples[e] for e in ids), len(ids) / n))
        return pd.DataFrame(rows, columns=["label", "n_identities", "n_samples", "share"])

    def landing(self, t):
        p = self.probes
        fp = self.false_positive(t)
        n_enr = len(self.enrolled)
        rows = []
        for g in self.labels:
            nm = (~p.mated & (p.group == g)).to_numpy()
            fp_groups = [self.group_of[n] for n in p.top1_name[nm & fp]]
            listed = [self.group_of[n] for lst in p.topk[nm] for n in lst]
            for h in self.labels:
                n_fp = fp_groups.count(h)
                share = n_fp / len(fp_groups) if fp_groups else np.nan
                k_share = listed.count(h) / len(listed) if listed else np.nan
                gal = sum(1 for e in self.enrolled if self.group_of[e] == h) / n_enr
                rows.append((g, h, n_fp, share, k_share, gal, k_share / gal if gal else np.nan))
        return pd.DataFrame(rows, columns=["probe_group", "candidate_group", "n_false_positives", "share",
                                           "top_k_share", "gallery_share", "top_k_lift"])

    def gallery_size(self, t, level_seed):
        levels = search.gallery_levels(len(self.enrolled), level_seed)
        nm_all = ~self.probes.mated.to_numpy()
        rows = []
        for label, sel in self.selections():
            nm = sel & nm_all
            for lv in range(search.LEVELS):
                cols = np.flatnonzero(levels <= lv)
                best = self.best[nm][:, cols].max(axis=1) if len(cols) else np.full(nm.sum(), -np.inf)
                rows.append((label, len(cols), float((best >= t).mean()) if nm.any() else np.nan))
        return pd.DataFrame(rows, columns=["group", "gallery_identities", "fpir"])


def level_seed(random_state):
    """The sub-galleries' seed, drawn like the audit draws it (the second of four seeds)."""
    seeds = np.random.default_rng(random_state).integers(0, 2**63, size=4, dtype=np.int64)
    return int(seeds[1] % 2**32)


def role_brute(x, identity, group, role, k):
    role = np.asarray(role)
    return Brute(x, identity, group, np.flatnonzero(role == "gallery"), np.flatnonzero(role == "probe"), k)


def assert_frame_close(actual, expected, **kw):
    pd.testing.assert_frame_equal(actual.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False, rtol=1e-12, atol=0, **kw)


def check_against_brute(result, bf: Brute, *, rank, random_state=0, gallery_size=True):
    t = result.threshold
    exp = bf.rates(t, rank)
    got = pd.concat([result.by_group.set_index("label"), result.overall.to_frame(POOLED).T])
    cols = list(exp.columns)
    assert sorted(got.index) == sorted(exp.index)
    pd.testing.assert_frame_equal(got.loc[exp.index, cols].astype(float), exp.astype(float),
                                  check_dtype=False, rtol=1e-12, atol=0)
    # CMC: every rank 1..k, pooled and per group
    cmc = result.cmc.set_index(["group", "rank"]).sort_index()
    exp_cmc = bf.cmc(t).set_index(["group", "rank"]).sort_index()
    pd.testing.assert_frame_equal(cmc, exp_cmc, check_dtype=False, rtol=1e-12, atol=0)
    # curves: FPIR and FNIR at every listed threshold
    for label, sel in bf.selections():
        part = result.curves[result.curves.group == label]
        assert len(part) >= 2 and (np.diff(part.threshold.to_numpy()) > 0).all()
        assert t in part.threshold.to_numpy()
        exp_fpir = bf.fpir_at(part.threshold.to_numpy(), sel)
        exp_fnir = bf.fnir_at(part.threshold.to_numpy(), rank, sel)
        np.testing.assert_allclose(part.fpir.to_numpy(), exp_fpir, rtol=1e-12, atol=0)
        np.testing.assert_allclose(part.fnir.to_numpy(), exp_fnir, rtol=1e-12, atol=0)
    # composition of the gallery, landing of the false positives
    assert_frame_close(result.gallery, bf.gallery())
    land = result.landing.sort_values(["probe_group", "candidate_group"])
    assert_frame_close(land, bf.landing(t).sort_values(["probe_group", "candidate_group"]))
    if gallery_size:
        exp_gs = bf.gallery_size(t, level_seed(random_state))
        gs = result.gallery_size.sort_values(["group", "gallery_identities"])
        assert_frame_close(gs, exp_gs.sort_values(["group", "gallery_identities"]))


# --------------------------------------------------------------------------
# 1. brute force
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exact():
    return exact_population(n_ids=70, seed=1)


def test_exact_population_scores_are_exact(exact):
    x, identity, group, role = exact
    es = embedding_set(x, identity, group)
    u = es.normalized()
    assert np.array_equal(u.astype(np.float64), x / 16.0)
    s = u @ u.T
    assert np.array_equal(s.astype(np.float64) * 256, np.round(s.astype(np.float64) * 256))


@pytest.mark.parametrize("rank,k", [(1, 5), (3, 5), (2, 2), (1, 1)])
def test_role_column_rates_equal_brute_force_at_a_fixed_threshold(exact, rank, k):
    x, identity, group, role = exact
    es = embedding_set(x, identity, group)
    # 0.5 = 128/256 is a score the data reach: candidates exactly at the threshold are returned
    r = fairaudit.identification_audit(es, by="group", gallery=role, threshold=0.5, rank=rank, k=k, **FAST)
    bf = role_brute(x, identity, group, role, k)
    scores = np.r_[bf.probes.mate.dropna(), bf.probes.top1]
    assert (scores == 0.5).sum() > 0  # the threshold is hit exactly
    assert (bf.probes["rank"] > k).any() and (bf.probes["rank"] > 1).any()
    assert r.threshold == 0.5 and r.rank == rank and r.k == k
    check_against_brute(r, bf, rank=rank)
    assert r.protocol["kind"] == "roles"
    assert r.params["n_gallery_identities"] == len(bf.enrolled)
    assert r.params["n_gallery_samples"] == int((np.asarray(role) == "gallery").sum())
    assert r.params["n_probes"] == int((np.asarray(role) == "probe").sum())


def test_ties_in_the_embedding_engine_follow_the_conventions(exact):
    """The exact data tie a lot: non-mates tied with the mate rank ahead of it (rank = 1 + the
    non-mates scoring at least as high); non-mates of equal score are listed by identity; the brute
    force sorts with those rules and must agree on the rank of every probe (checked through every
    rank of the CMC) and on every top-1 identity (the landing of false positives at the lowest
    threshold)."""
    x, identity, group, role = exact
    es = embedding_set(x, identity, group)
    bf = role_brute(x, identity, group, role, 5)
    p = bf.probes
    tied_mate = [m for m, sc in zip(p.mate, p.topk_scores) if np.isfinite(m) and m in sc]
    assert len(tied_mate) > 0
    tied_top1 = [sc for sc in p.topk_scores if len(sc) > 1 and sc[0] == sc[1]]
    assert len(tied_top1) > 0
    r = fairaudit.identification_audit(es, by="group", gallery=role, threshold=-1.0, k=5, **FAST)
    check_against_brute(r, bf, rank=1)


def test_fpir_target_threshold_is_the_lowest_with_pooled_fpir_at_most_the_target(exact):
    x, identity, group, role = exact
    es = embedding_set(x, identity, group)
    bf = role_brute(x, identity, group, role, 4)
    top1 = bf.probes.top1[~bf.probes.mated].to_numpy()
    for target in (0.05, 0.1, 0.25, 0.5):
        r = fairaudit.identification_audit(es, by="group", gallery=role, threshold=f"fpir={target}",
                                           rank=2, k=4, **FAST)
        t = r.threshold
        assert bf.fpir_at(t) <= target
        below = top1[top1 < t].max()  # any threshold <= this score lets it through
        assert bf.fpir_at(below) > target
        assert t == np.nextafter(below, np.inf)  # nothing between the score and the threshold
        assert r.policy["kind"] == "fpir" and r.policy["value"] == target
        check_against_brute(r, bf, rank=2)
    same = fairaudit.identification_audit(es, by="group", gallery=role, threshold={"fpir": 0.1}, **FAST)
    assert same.threshold == fairaudit.identification_audit(
        es, by="group", gallery=role, threshold="FPIR=0.1", **FAST).threshold


def test_gallery_size_levels_are_nested_halves(exact):
    x, identity, group, role = exact
    es = embedding_set(x, identity, group)
    r = fairaudit.identification_audit(es, by="group", gallery=role, threshold=0.4, random_state=7, **FAST)
    bf = role_brute(x, identity, group, role, 20)
    n = len(bf.enrolled)
    sizes = sorted(set(r.gallery_size.gallery_identities))
    assert sizes == [math.ceil(n / 2**j) for j in range(search.LEVELS - 1, -1, -1)]
    levels = search.gallery_levels(n, level_seed(7))
    for lv in range(search.LEVELS - 1):  # nested: a sub-gallery holds the smaller ones
        assert set(np.flatnonzero(levels <= lv)) <= set(np.flatnonzero(levels <= lv + 1))
    # FPIR cannot fall when identities are added
    for _, part in r.gallery_size.groupby("group"):
        assert (np.diff(part.sort_values("gallery_identities").fpir.to_numpy()) >= 0).all()
    full = r.gallery_size[r.gallery_size.gallery_identities == n].set_index("group").fpir
    assert full[POOLED] == r.overall["fpir"]
    check_against_brute(r, bf, rank=1, random_state=7)


def test_gaussian_population_matches_brute_force_away_from_ties():
    """Ordinary float embeddings (float32 rounding in the engine): the brute force in float64
    agrees on every count where no two compared scores lie within 1e-5."""
    rng = np.random.default_rng(3)
    n_ids, d = 50, 16
    centres = rng.standard_normal((n_ids, d))
    counts = rng.integers(2, 5, size=n_ids)
    rows = np.repeat(np.arange(n_ids), counts)
    x = centres[rows] + 0.7 * rng.standard_normal((len(rows), d))
    identity = np.array([f"id{i:02d}" for i in range(n_ids)])[rows]
    group = np.array(["A", "B"])[rng.integers(0, 2, size=n_ids)][rows]
    first = np.r_[True, rows[1:] != rows[:-1]]
    held = rng.random(n_ids) < 0.3
    role = np.where(first & ~held[rows], "gallery", "probe")
    es = embedding_set(x, identity, group)
    bf = role_brute(x, identity, group, role, 8)
    # no near-ties: among the candidates of a probe, nor against the threshold
    t = 0.3
    for m, sc in zip(bf.probes.mate, bf.probes.topk_scores):
        v = np.sort(np.r_[sc, [m] if np.isfinite(m) else [], t])
        assert np.diff(v).min() > 1e-5
    r = fairaudit.identification_audit(es, by="group", gallery=role, threshold=t, rank=2, k=8, **FAST)
    exp = bf.rates(t, 2)
    got = pd.concat([r.by_group.set_index("label"), r.overall.to_frame(POOLED).T])
    pd.testing.assert_frame_equal(got.loc[exp.index, list(exp.columns)].astype(float), exp.astype(float),
                                  check_dtype=False, rtol=1e-12)
    assert_frame_close(r.cmc.sort_values(["group", "rank"]), bf.cmc(t).sort_values(["group", "rank"]))
    assert_frame_close(r.landing.sort_values(["probe_group", "candidate_group"]),
                       bf.landing(t).sort_values(["probe_group", "candidate_group"]))


def _split_of(es, result):
    names, ident, groups = _identity_groups_from_embeddings(es, result.by)
    p = result.protocol
    split = GallerySplit(nonmated_share=p["nonmated_share"], samples=p["samples"])
    return names, ident, groups, split_rows(ident, groups.codes, split, np.random.default_rng(p["seed"]))


@pytest.mark.parametrize("share,samples", [(0.2, 1), (0.4, 2), (0.0, 1)])
def test_default_split_invariants_and_rates(exact, share, samples):
    x, identity, group, _ = exact
    es = embedding_set(x, identity, group)
    gallery = None if (share, samples) == (0.2, 1) else {"nonmated_share": share, "samples": samples}
    threshold = 0.45 if share == 0 else "fpir=0.1"
    r = fairaudit.identification_audit(es, by="group", gallery=gallery, threshold=threshold, k=6,
                                       random_state=11, **FAST)
    assert r.protocol["kind"] == "split"
    assert r.protocol["nonmated_share"] == share and r.protocol["samples"] == samples
    names, ident, groups, (g_rows, p_rows) = _split_of(es, r)
    # disjoint, covering every row
    assert len(np.intersect1d(g_rows, p_rows)) == 0
    assert np.array_equal(np.sort(np.r_[g_rows, p_rows]), np.arange(len(es)))
    enrolled = set(ident[g_rows].tolist())
    counts = np.bincount(ident, minlength=len(names))
    g_counts = np.bincount(ident[g_rows], minlength=len(names))
    for g in range(groups.n_groups):
        members = np.flatnonzero(groups.codes == g)
        out = [m for m in members if m not in enrolled]
        expected = round(share * len(members))
        if share > 0 and len(members) >= 2:
            expected = max(1, min(expected, len(members) - 1))
        assert len(out) == expected
        for m in members:
            if m in enrolled:  # enrolls min(samples, its samples); the rest are mated probes
                assert g_counts[m] == min(samples, counts[m])
            else:  # held out: every sample a non-mated probe
                assert g_counts[m] == 0
    bf = Brute(x, identity, group, g_rows, p_rows, 6)
    check_against_brute(r, bf, rank=1, random_state=11)
    if share == 0:
        assert r.overall["n_nonmated"] == 0 and math.isnan(r.overall["fpir"])


def test_default_split_is_deterministic_in_random_state(exact):
    x, identity, group, _ = exact
    es = embedding_set(x, identity, group)
    a = fairaudit.identification_audit(es, by="group", threshold=0.5, random_state=3, **FAST)
    b = fairaudit.identification_audit(es, by="group", threshold=0.5, random_state=3, **FAST)
    c = fairaudit.identification_audit(es, by="group", threshold=0.5, random_state=4, **FAST)
    assert a.protocol == b.protocol
    pd.testing.assert_frame_equal(a.by_group, b.by_group)
    pd.testing.assert_frame_equal(a.cmc, b.cmc)
    pd.testing.assert_frame_equal(a.gallery_size, b.gallery_size)
    ra, rc = _split_of(es, a)[3], _split_of(es, c)[3]
    assert not np.array_equal(ra[0], rc[0])
    assert a.protocol["seed"] != c.protocol["seed"]


# --------------------------------------------------------------------------
# 2. candidate lists with exact ties
# --------------------------------------------------------------------------
def tie_lists():
    """Seven searches of a gallery {a, b: G1; c, d: G2}; x (G1) and y (G2) are not enrolled.

    A mate's rank is 1 + the number of non-mate identities (best score each) scoring at least as
    high as the mate's best score: a non-mate tied with the mate ranks ahead of it. Mate ranks:
    s1 (a) 2 (b ties it at 0.8), s2 (b, best of 0.6 and 0.85) 3 (a and c at 0.9), s5 (c) not
    listed, s6 (d) 1, s7 (a, best of 0.45 and 0.7) 3 (c at 0.71 and b tied at 0.7)."""
    cand = pd.DataFrame([
        ("s1", "a", 0.8), ("s1", "b", 0.8), ("s1", "c", 0.5),          # mate tied with b: rank 2
        ("s2", "a", 0.9), ("s2", "c", 0.9), ("s2", "b", 0.6), ("s2", "b", 0.85),  # mate rank 3
        ("s3", "c", 0.5), ("s3", "a", 0.5),                             # non-mated, best exactly at T
        ("s4", "d", 0.4999),                                            # non-mated, just below T
        ("s5", "a", 0.3),                                               # mate not listed
        ("s6", "d", 0.5), ("s6", "a", 0.2),                             # mate exactly at T
        ("s7", "a", 0.45), ("s7", "b", 0.7), ("s7", "a", 0.7), ("s7", "c", 0.71),  # mate rank 3, tied
    ], columns=["search_id", "candidate", "score"])
    searches = pd.DataFrame({"search_id": [f"s{i}" for i in range(1, 8)],
                             "identity": ["a", "b", "x", "y", "c", "d", "a"],
                             "grp": ["G1", "G1", "G1", "G2", "G2", "G2", "G1"]})
    gallery = pd.DataFrame({"identity": ["a", "b", "c", "d"], "grp": ["G1", "G1", "G2", "G2"]})
    return CandidateLists(cand, searches, gallery)


def test_candidate_lists_ties_at_threshold_and_rank_by_hand():
    r = fairaudit.identification_audit(tie_lists(), by="grp", threshold=0.5, rank=1, k=3, **FAST)
    bg = r.by_group.set_index("label")
    counts = ["n_mated", "n_nonmated", "n_false_negatives", "n_false_positives"]
    # G1 mated: s1 (rank 2: b ties the mate at 0.8 and ranks ahead), s2 (rank 3), s7 (rank 3: c and
    # the tied b ahead): none at rank 1; non-mated s3 (0.5 >= 0.5: false positive)
    assert bg.loc["G1", counts].tolist() == [3, 1, 3, 1]
    assert bg.loc["G1", "fnir"] == 1.0 and bg.loc["G1", "fpir"] == 1.0 and bg.loc["G1", "rank1"] == 0.0
    # G2 mated: s5 (mate not listed), s6 (mate exactly at 0.5: returned); non-mated s4 (0.4999 < 0.5)
    assert bg.loc["G2", counts].tolist() == [2, 1, 1, 0]
    assert bg.loc["G2", "fnir"] == 0.5 and bg.loc["G2", "fpir"] == 0.0 and bg.loc["G2", "rank1"] == 0.5
    assert bg.loc["G1", "n_identities"] == 3 and bg.loc["G1", "n_mated_identities"] == 2  # a, b, x
    # pooled: 5 mated searches, only s6 found at rank 1 (4 false negatives)
    assert r.overall["fnir"] == 4 / 5 and r.overall["fpir"] == 0.5 and r.overall["rank1"] == 1 / 5
    assert r.overall["dir"] == (5 - 4) / 5
    cmc = r.cmc.set_index(["group", "rank"]).identification_rate
    # ranks: G1 2, 3, 3 (s1, s2, s7); G2 1 and not listed (s6, s5); pooled 1, 2, 3, 3 and not listed
    assert [cmc["G1", i] for i in (1, 2, 3)] == [0.0, 1 / 3, 1.0]
    assert [cmc["G2", i] for i in (1, 2, 3)] == [0.5, 0.5, 0.5]
    assert [cmc[POOLED, i] for i in (1, 2, 3)] == [1 / 5, 2 / 5, 4 / 5]
    dir_ = r.cmc.set_index(["group", "rank"])["dir"]
    # at T = 0.5 the mates of s1 (0.8), s2 (0.85), s6 (0.5), s7 (0.7) are returned; ranks 2, 3, 1, 3
    assert [dir_[POOLED, i] for i in (1, 2, 3)] == [1 / 5, 2 / 5, 4 / 5]
    assert [dir_["G1", i] for i in (1, 2, 3)] == [0.0, 1 / 3, 1.0]
    # the best candidate of s3 is a (0.5, tied with c: the lower identity first), in G1
    land = r.landing.set_index(["probe_group", "candidate_group"])
    assert land.loc[("G1", "G1"), "n_false_positives"] == 1 and land.loc[("G1", "G1"), "share"] == 1.0
    assert land.loc[("G1", "G2"), "n_false_positives"] == 0 and land.loc[("G1", "G2"), "share"] == 0.0
    assert land.loc[("G1", "G1"), "top_k_share"] == 0.5 and land.loc[("G1", "G2"), "top_k_share"] == 0.5
    assert land.loc[("G1", "G1"), "top_k_lift"] == 1.0
    assert math.isnan(land.loc[("G2", "G1"), "share"])  # no false positive in G2
    assert land.loc[("G2", "G2"), "top_k_share"] == 1.0 and land.loc[("G2", "G1"), "top_k_share"] == 0.0
    assert r.gallery.set_index("label").n_identities.tolist() == [2, 2]
    assert r.gallery.share.tolist() == [0.5, 0.5]
    assert len(r.gallery_size) == 0 and list(r.gallery_size.columns) == ["group", "gallery_identities", "fpir"]
    assert r.protocol["kind"] == "candidate_lists" and r.params["route"] == "candidates"
    # rank 2: s1 is now found (rank 2, behind b tied at 0.8); s2 and s7 (rank 3, s7 behind c 0.71 and
    # b tied at 0.7) are not
    r2 = fairaudit.identification_audit(tie_lists(), by="grp", threshold=0.5, rank=2, k=3, **FAST)
    assert r2.by_group.set_index("label").loc["G1", "n_false_negatives"] == 2
    # rank 3: s2 and s7 too; the tie puts s7 exactly at the boundary rank
    r3 = fairaudit.identification_audit(tie_lists(), by="grp", threshold=0.5, rank=3, k=3, **FAST)
    assert r3.by_group.set_index("label").loc["G1", "n_false_negatives"] == 0
    # the curves at the threshold and just above it
    cv = r.curves[r.curves.group == POOLED].set_index("threshold")
    assert cv.loc[0.5, "fpir"] == 0.5 and cv.loc[0.5, "fnir"] == 4 / 5


def test_candidate_lists_truncated_at_k():
    # k = 1: s1's single kept non-mate is b (0.8) and it ties the mate, so ranks ahead of it: the
    # mate is beyond the kept list (rank k + 1 = 2); so are s2's (a 0.9 kept, not c) and s7's
    # (c 0.71); s3 keeps a, not c
    r = fairaudit.identification_audit(tie_lists(), by="grp", threshold=0.5, rank=1, k=1, **FAST)
    bg = r.by_group.set_index("label")
    assert bg.loc["G1", "rank1"] == 0.0 and bg.loc["G1", "n_false_negatives"] == 3
    land = r.landing.set_index(["probe_group", "candidate_group"])
    assert land.loc[("G1", "G1"), "top_k_share"] == 1.0 and land.loc[("G1", "G1"), "n_false_positives"] == 1
    assert r.cmc.set_index(["group", "rank"]).loc[(POOLED, 1), "identification_rate"] == 1 / 5  # s6 only


def test_candidate_lists_fpir_target_threshold_by_hand():
    # non-mated best scores: 0.5 (s3) and 0.4999 (s4)
    r = fairaudit.identification_audit(tie_lists(), by="grp", threshold="fpir=0.5", k=3, **FAST)
    assert r.threshold == np.nextafter(0.4999, np.inf) and r.overall["fpir"] == 0.5
    r = fairaudit.identification_audit(tie_lists(), by="grp", threshold="fpir=0.4", k=3, **FAST)
    assert r.threshold == np.nextafter(0.5, np.inf) and r.overall["fpir"] == 0.0
    # at rank 1 only s6 is found at T = 0.5 (4 false negatives of 5); with the threshold just above
    # 0.5, s6's mate (exactly 0.5) is no longer returned either
    assert r.overall["n_false_negatives"] == 5
    assert any("below 1/2" in n for n in r.notes)


def test_fpir_target_met_by_lists_that_mostly_return_nothing_accepts_every_candidate():
    """Four of five non-mated searches return no candidate: FPIR is at most 1/5 at any threshold,
    so the lowest threshold meeting a 0.5 target returns every candidate, the mate scoring 0.3
    (below the only non-mate score, 0.9) included."""
    cand = pd.DataFrame([("n1", "b", 0.9), ("m1", "a", 0.3), ("m2", "b", 0.2), ("m2", "a", 0.1)],
                        columns=["search_id", "candidate", "score"])
    searches = pd.DataFrame({"search_id": ["n1", "n2", "n3", "n4", "n5", "m1", "m2"],
                             "identity": ["x1", "x2", "x3", "x4", "x5", "a", "b"], "g": ["G"] * 7})
    gallery = pd.DataFrame({"identity": ["a", "b"], "g": ["G", "G"]})
    r = fairaudit.identification_audit(CandidateLists(cand, searches, gallery), by="g", threshold="fpir=0.5",
                                       k=2, **FAST)
    assert r.threshold == 0.1  # the lowest listed score
    assert r.overall["fpir"] == 0.2 and r.overall["fnir"] == 0.0 and r.overall["n_false_negatives"] == 0
    # a target the lists cannot meet below 0.9 keeps the usual rule
    r = fairaudit.identification_audit(CandidateLists(cand, searches, gallery), by="g", threshold="fpir=0.1",
                                       k=2, **FAST)
    assert r.threshold == np.nextafter(0.9, np.inf) and r.overall["fpir"] == 0.0


def test_candidate_lists_one_gallery_identity_listed_twice_is_one_candidate():
    cand = pd.DataFrame([("s1", "b", 0.4), ("s1", "b", 0.9), ("s1", "c", 0.6), ("s1", "a", 0.7)],
                        columns=["search_id", "candidate", "score"])
    searches = pd.DataFrame({"search_id": ["s1"], "identity": ["a"], "grp": ["G"]})
    gallery = pd.DataFrame({"identity": ["a", "b", "c"], "grp": ["G"] * 3})
    r = fairaudit.identification_audit(CandidateLists(cand, searches, gallery), by="grp", threshold=0.5,
                                       k=3, **FAST)
    # b's best (0.9) is ahead; b counted once: the mate is at rank 2 and the list holds b, c only
    cmc = r.cmc[r.cmc.group == POOLED].set_index("rank").identification_rate
    assert cmc[1] == 0.0 and cmc[2] == 1.0 and cmc[3] == 1.0


# --------------------------------------------------------------------------
# 3. properties
# --------------------------------------------------------------------------
populations = st.builds(
    lambda n_ids, seed, held: exact_population(n_ids=n_ids, seed=seed, held_out=held, dim=8),
    st.integers(6, 30), st.integers(0, 10_000), st.sampled_from([0.2, 0.4]))
PROPS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(pop=populations, t=st.sampled_from([0.0, 0.25, 0.5, 0.75]))
def test_fnir_non_increasing_in_rank_and_cmc_non_decreasing(pop, t):
    x, identity, group, role = pop
    es = embedding_set(x, identity, group)
    r1 = fairaudit.identification_audit(es, by="group", gallery=role, threshold=t, rank=1, k=4, **FAST)
    r4 = fairaudit.identification_audit(es, by="group", gallery=role, threshold=t, rank=4, k=4, **FAST)
    with np.errstate(invalid="ignore"):
        assert not (r4.by_group.fnir.to_numpy() > r1.by_group.fnir.to_numpy()).any()
    assert r4.overall["fnir"] <= r1.overall["fnir"]
    for _, part in r4.cmc.groupby("group"):
        ir = part.sort_values("rank").identification_rate.to_numpy()
        d = part.sort_values("rank")["dir"].to_numpy()
        if np.isfinite(ir).all():
            assert (np.diff(ir) >= 0).all() and (np.diff(d) >= 0).all() and (d <= ir).all()
    # FNIR(T, R) = 1 - DIR at rank R, for every R: the CMC's dir column says the same as by_group
    dir_ = r4.cmc.set_index(["group", "rank"])["dir"]
    for r, res in ((1, r1), (4, r4)):
        np.testing.assert_allclose(1 - dir_[POOLED, r], res.overall["fnir"], rtol=1e-12)
        for label, fnir in zip(res.by_group.label, res.by_group.fnir):
            np.testing.assert_allclose(1 - dir_[label, r], fnir, rtol=1e-12)
    np.testing.assert_array_equal(r1.cmc.identification_rate, r4.cmc.identification_rate)


@PROPS
@given(pop=populations, rank=st.integers(1, 3))
def test_curves_are_monotone_in_threshold(pop, rank):
    x, identity, group, role = pop
    es = embedding_set(x, identity, group)
    r = fairaudit.identification_audit(es, by="group", gallery=role, threshold=0.3, rank=rank, k=3, **FAST)
    for _, part in r.curves.groupby("group"):
        part = part.sort_values("threshold")
        for col, sign in (("fpir", -1), ("fnir", 1)):
            v = part[col].to_numpy()
            if np.isfinite(v).all():
                assert (sign * np.diff(v) >= 0).all()
    at = r.curves[(r.curves.group == POOLED) & (r.curves.threshold == r.threshold)]
    assert len(at) == 1
    np.testing.assert_equal(at.fpir.iloc[0], r.overall["fpir"])
    np.testing.assert_equal(at.fnir.iloc[0], r.overall["fnir"])


def _figures(r):
    return (r.by_group, r.overall, r.cmc, r.curves, r.gallery, r.landing, r.gallery_size)


def assert_same_figures(a, b):
    for fa, fb in zip(_figures(a), _figures(b)):
        if isinstance(fa, pd.Series):
            pd.testing.assert_series_equal(fa, fb)
        else:
            pd.testing.assert_frame_equal(fa, fb)
    assert a.threshold == b.threshold


@PROPS
@given(pop=populations, seed=st.integers(0, 1000), tile=st.integers(1, 9), block=st.integers(1, 9))
def test_invariant_to_row_order_gallery_tile_and_probe_block(pop, seed, tile, block):
    """Exact scores: permuting the rows (and their roles) and cutting the gallery and the probes
    into other tiles and blocks changes nothing, bit for bit."""
    x, identity, group, role = pop
    perm = np.random.default_rng(seed).permutation(len(x))
    a = fairaudit.identification_audit(embedding_set(x, identity, group), by="group", gallery=role,
                                       threshold="fpir=0.3", rank=2, k=3, **FAST)
    b = fairaudit.identification_audit(embedding_set(x[perm], identity[perm], group[perm]), by="group",
                                       gallery=role[perm], threshold="fpir=0.3", rank=2, k=3,
                                       gallery_tile=tile, probe_block=block, **FAST)
    assert_same_figures(a, b)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 1000), tile=st.integers(1, 7), block=st.integers(1, 7))
def test_tiles_agree_on_float_data_away_from_ties(seed, tile, block):
    """Float32 products of different tile shapes may round differently: the ranks and outcomes
    agree wherever no two compared scores are within 1e-5."""
    rng = np.random.default_rng(seed)
    n_ids = 20
    rows = np.repeat(np.arange(n_ids), 3)
    x = rng.standard_normal((n_ids, 8))[rows] + 0.6 * rng.standard_normal((len(rows), 8))
    identity = np.array([f"i{i:02d}" for i in range(n_ids)])[rows]
    group = np.array(["A", "B"])[np.arange(n_ids) % 2][rows]
    role = np.where(np.arange(len(rows)) % 3 == 0, "gallery", "probe")
    role[rows >= 16] = "probe"
    es = embedding_set(x, identity, group)
    bf = role_brute(x, identity, group, role, 3)
    t = 0.35
    for m, sc in zip(bf.probes.mate, bf.probes.topk_scores):
        v = np.sort(np.r_[sc, [m] if np.isfinite(m) else [], t])
        if np.diff(v).min() < 1e-5:
            return  # a near-tie: the engines may legitimately differ in float32
    a = fairaudit.identification_audit(es, by="group", gallery=role, threshold=t, k=3, **FAST)
    b = fairaudit.identification_audit(es, by="group", gallery=role, threshold=t, k=3,
                                       gallery_tile=tile, probe_block=block, **FAST)
    for col in ("n_false_negatives", "n_false_positives", "fnir", "fpir", "rank1"):
        np.testing.assert_array_equal(a.by_group[col].to_numpy(), b.by_group[col].to_numpy())
    pd.testing.assert_frame_equal(a.cmc, b.cmc)
    pd.testing.assert_frame_equal(a.landing, b.landing)


# --------------------------------------------------------------------------
# 4. engines
# --------------------------------------------------------------------------
def test_engines_are_bit_identical():
    pytest.importorskip("distributed")
    es = synthetic.population("diveface", n_identities=20, samples_per_identity=3, dim=16, random_state=2)
    kw = dict(by="ethnicity", threshold="fpir=0.05", k=5, n_boot=50, n_perm=200, probe_block=16,
              gallery_tile=32)
    base = fairaudit.identification_audit(es, **kw)
    for scheduler in ("threads", "processes"):
        other = fairaudit.identification_audit(es, scheduler=scheduler, workers=2, **kw)
        assert other.threshold == base.threshold
        for name in ("by_group", "cmc", "landing", "curves", "gallery_size", "comparisons"):
            pd.testing.assert_frame_equal(getattr(base, name), getattr(other, name), check_exact=True)


# --------------------------------------------------------------------------
# 5. bootstrap and comparisons
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted_audit():
    es = synthetic.population("diveface", n_identities=150, samples_per_identity=4, dim=32, random_state=0)
    roles = synthetic.search_roles(es, random_state=0)
    return fairaudit.identification_audit(es, by=["gender", "ethnicity"], gallery=roles, n_boot=300,
                                          n_perm=2000, random_state=1)


def test_bootstrap_is_reproducible_and_seeded():
    es = synthetic.population("diveface", n_identities=15, samples_per_identity=3, dim=16, random_state=4)
    kw = dict(by="ethnicity", threshold="fpir=0.1", n_boot=100, n_perm=300)
    a = fairaudit.identification_audit(es, random_state=5, **kw)
    b = fairaudit.identification_audit(es, random_state=5, **kw)
    c = fairaudit.identification_audit(es, random_state=6, **kw)
    pd.testing.assert_frame_equal(a.by_group, b.by_group)
    pd.testing.assert_frame_equal(a.comparisons, b.comparisons)
    pd.testing.assert_frame_equal(a.fairness, b.fairness)
    assert not a.comparisons.p_value.equals(c.comparisons.p_value) or not a.by_group.equals(c.by_group)


def test_intervals_contain_the_estimates(planted_audit):
    r = planted_audit
    rows = pd.concat([r.by_group, r.overall.to_frame().T], ignore_index=True)
    for m in ("fnir", "fpir", "rank1"):
        ok = rows[m].notna()
        assert (rows.loc[ok, f"{m}_ci_low"] <= rows.loc[ok, m] + 1e-12).all(), m
        assert (rows.loc[ok, m] <= rows.loc[ok, f"{m}_ci_high"] + 1e-12).all(), m
        assert set(rows.loc[ok, f"{m}_ci_method"]) <= {"percentile", "clopper-pearson"}
    assert (r.by_group.fnir_ci_high - r.by_group.fnir_ci_low).max() < 0.3
    c = r.comparisons
    assert set(c.metric) == {"fnir", "fpir", "rank1"}
    assert len(c) == 3 * (15 + 6)  # 15 pairs and 6 group-vs-rest of 6 groups, per metric
    tested = c[c.metric.isin(["fnir", "fpir"]) & c.p_value.notna()]
    assert ((tested.p_holm >= tested.p_value - 1e-15) & (tested.p_holm <= 1)).all()
    assert c[c.metric == "rank1"].p_value.isna().all()
    fin = c.difference.notna() & c.difference_ci_low.notna()
    assert (c.difference_ci_low[fin] <= c.difference_ci_high[fin]).all()


def test_planted_fnir_ordering_is_found(planted_audit):
    r = planted_audit
    planted = synthetic.planted("diveface").set_index("group")
    fnir = r.by_group.set_index("label").fnir
    worst = planted.fnir_rank.idxmin()  # rank 1 = the highest planted rate
    best = planted.fnir_rank.idxmax()
    assert fnir.idxmax() == worst
    assert fnir.idxmin() == best
    from scipy.stats import spearmanr

    rho = spearmanr(-planted.fnir_rank.loc[fnir.index], fnir).statistic
    assert rho >= 0.7
    c = r.comparisons
    row = c[(c.metric == "fnir") & (c.kind == "pair") & (
        ((c.group_a == worst) & (c.group_b == best)) | ((c.group_a == best) & (c.group_b == worst)))]
    assert len(row) == 1 and row.p_holm.iloc[0] < 0.05
    vs_rest = c[(c.metric == "fnir") & (c.kind == "vs_rest") & (c.group_a == worst)]
    assert vs_rest.p_holm.iloc[0] < 0.05 and vs_rest.difference.iloc[0] > 0
    # each group's own identities crowd the top of its non-mated lists, most where the planted
    # identity similarity (fpir_rank) is highest
    own = pd.Series(np.diag(r.landing_matrix("top_k_lift")), index=r.gallery.label)
    assert (own > 1).all()
    assert own.idxmax() == planted.fpir_rank.idxmin() and own.idxmin() == planted.fpir_rank.idxmax()


def test_comparison_values_agree_with_the_group_table(planted_audit):
    r = planted_audit
    bg = r.by_group.set_index("label")
    c = r.comparisons
    spec = {"fnir": ("n_false_negatives", "n_mated"), "fpir": ("n_false_positives", "n_nonmated")}
    for _, row in c.iterrows():
        assert row.value_a == bg.loc[row.group_a, row.metric]
        if row.kind == "pair":
            assert row.value_b == bg.loc[row.group_b, row.metric]
        elif row.metric in spec:  # the rest: pooled counts of the other groups
            num, den = spec[row.metric]
            rest = bg.drop(index=row.group_a)
            np.testing.assert_allclose(row.value_b, rest[num].sum() / rest[den].sum(), rtol=1e-12)
        np.testing.assert_allclose(row.difference, row.value_a - row.value_b, rtol=1e-12, atol=1e-15)
    # Holm's step-down adjustment over the tested rows, by hand
    p = c.p_value.to_numpy()
    ok = np.isfinite(p)
    order = np.argsort(p[ok], kind="stable")
    m = ok.sum()
    adj = np.minimum(1, np.maximum.accumulate((m - np.arange(m)) * p[ok][order]))
    expected = np.empty(m)
    expected[order] = adj
    np.testing.assert_allclose(c.p_holm.to_numpy()[ok], expected, rtol=1e-12)
    assert c.p_holm[~ok].isna().all()


def test_permutation_pvalue_matches_exact_enumeration():
    """Every split of 9 probe identities into 4 + 5 enumerated: the permutation p-value converges
    to the exact share of splits at least as extreme (both sides of the smaller-side draw)."""
    from itertools import combinations

    from fairaudit.identification.uncertainty import permutation_pvalue

    num = np.array([3, 2, 3, 1, 0, 1, 0, 2, 0], dtype=float)
    den = np.array([3, 3, 4, 2, 3, 2, 1, 4, 2], dtype=float)

    def diff(first):
        rest = np.setdiff1d(np.arange(9), first)
        return num[first].sum() / den[first].sum() - num[rest].sum() / den[rest].sum()

    for n_first in (4, 5):
        obs = abs(diff(np.arange(n_first)))
        splits = [diff(np.array(c)) for c in combinations(range(9), n_first)]
        exact = np.mean(np.abs(splits) >= obs * (1 - 1e-9))
        p = permutation_pvalue(num, den, n_first, 20000, seed=1)
        assert abs(p - exact) < 0.015, (n_first, p, exact)


def test_a_huge_gap_gets_the_smallest_p_value():
    from fairaudit.identification.uncertainty import permutation_pvalue

    num = np.r_[np.zeros(40), np.full(40, 3.0)]
    den = np.full(80, 3.0)
    assert permutation_pvalue(num, den, 40, 999, seed=2) == 1 / 1000
    assert permutation_pvalue(num, den, 30, 999, seed=2) == 1 / 1000
