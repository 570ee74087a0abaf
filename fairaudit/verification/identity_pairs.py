"""Per identity pair impostor accepts within each group at the groups' thresholds, from either
route: what the identity bootstrap resamples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fairaudit.verification.grid import PairStats
from fairaudit.verification.tiles import _batches, _pass2_task


@dataclass(eq=False)
class IdentityPairCounts:
    """Impostor accepts of every identity pair of one group at K thresholds.

    ``counts[p, k]`` is the number of impostor comparisons between identities
    ``id_a[p] < id_b[p]`` (local codes within the group) with score ``>=
    thresholds[k]``. Pairs with no accept at any threshold are omitted.
    ``totals`` (ScoreSet route only) holds the number of impostor comparisons
    of every identity pair that has any, as ``(tot_a, tot_b, tot_n)``.
    """

    thresholds_k: np.ndarray
    id_a: np.ndarray
    id_b: np.ndarray
    counts: np.ndarray
    totals: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _aggregate(codes: list[np.ndarray], n_k: int, m: int,
               weights: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn per-entry codes ``pair * n_k + k`` (each ``weights`` times) into per-pair cumulative counts."""
    if not codes:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros((0, n_k), dtype=np.int64)
    allc = np.concatenate(codes)
    if weights is None:
        uniq, cnt = np.unique(allc, return_counts=True)
    else:
        uniq, inv = np.unique(allc, return_inverse=True)
        cnt = np.bincount(inv.ravel(), weights=np.concatenate(weights), minlength=len(uniq)).astype(np.int64)
    pair = uniq // n_k
    k = uniq % n_k
    pairs, inv = np.unique(pair, return_inverse=True)
    dense = np.zeros((len(pairs), n_k), dtype=np.int64)
    np.add.at(dense, (inv, k), cnt)
    # entry in bin-range k counts for every threshold <= its score: cumulative from the top
    cum = np.cumsum(dense[:, ::-1], axis=1)[:, ::-1]
    return pairs // m, pairs % m, cum


def embedding_identity_pair_counts(stats: PairStats, thresholds_k: Sequence[np.ndarray]) -> list[IdentityPairCounts]:
    """Second, within-group-only pass: per identity pair accepts at each group's thresholds.

    ``thresholds_k[g]`` are grid edge indices (ascending) for group ``g``. Uses
    the same rows, tiles and task code as the first pass, on the same executor,
    so decisions agree with it.
    """
    layout, rows, spec, executor = stats._source  # type: ignore[misc]
    n_bins = stats.grid.n_bins
    local = _local_identity_codes(stats)
    m_of = np.bincount(stats.groups.codes, minlength=stats.n_groups)
    batches = _batches(layout, executor.pairs_per_task, within_only=True, local=local)
    codes: list[list[np.ndarray]] = [[] for _ in range(stats.n_groups)]
    weights: list[list[np.ndarray]] = [[] for _ in range(stats.n_groups)]
    kss, luts = [], []
    for g in range(stats.n_groups):
        ks = np.asarray(thresholds_k[g], dtype=np.int64)
        kss.append(ks)
        # lut[q] = number of thresholds at or below bin q (0 = below all of them)
        lut = np.zeros(n_bins + 2, dtype=np.int16)
        lut[: n_bins] = np.searchsorted(ks, np.arange(n_bins), side="right")
        luts.append(lut)
    jobs = [(b, b.i[2], luts[b.i[2]], len(kss[b.i[2]]), int(m_of[b.i[2]])) for b in batches]
    for g, code, count in executor.run(_pass2_task, rows, jobs, spec):
        if code.size:
            codes[g].append(code)
            weights[g].append(count)
    out = []
    for g in range(stats.n_groups):
        a, b, c = _aggregate(codes[g], len(kss[g]), int(m_of[g]), weights[g])
        out.append(IdentityPairCounts(thresholds_k=kss[g], id_a=a, id_b=b, counts=c))
    return out


def _local_identity_codes(stats: PairStats) -> np.ndarray:
    """Code of every identity within its own group (0 .. m_g - 1), in identity order."""
    local = np.zeros(len(stats.identity_names), dtype=np.int64)
    for g in range(stats.n_groups):
        members = np.flatnonzero(stats.groups.codes == g)
        local[members] = np.arange(len(members))
    return local


def score_identity_pair_counts(stats: PairStats, thresholds_k: Sequence[np.ndarray]) -> list[IdentityPairCounts]:
    """Per identity pair accepts (and comparison totals) within each group, from listed scores."""
    score, genuine, ident_a, ident_b = stats._source  # type: ignore[misc]
    local = _local_identity_codes(stats)
    codes_g = stats.groups.codes
    imp = ~genuine & (codes_g[ident_a] == codes_g[ident_b])
    s = score[imp]
    a = ident_a[imp]
    b = ident_b[imp]
    g_of = codes_g[a]
    lo = np.minimum(local[a], local[b])
    hi = np.maximum(local[a], local[b])
    bins = stats.grid.bin_of(s)
    out = []
    m_of = np.bincount(codes_g, minlength=stats.n_groups)
    for g in range(stats.n_groups):
        sel = g_of == g
        m = int(m_of[g])
        ks = np.asarray(thresholds_k[g], dtype=np.int64)
        kidx = np.searchsorted(ks, bins[sel], side="right")
        pair = lo[sel] * m + hi[sel]
        keep = kidx > 0
        ia, ib, c = _aggregate([pair[keep] * len(ks) + kidx[keep] - 1], len(ks), m)
        tp, tn = np.unique(pair, return_counts=True)
        out.append(IdentityPairCounts(thresholds_k=ks, id_a=ia, id_b=ib, counts=c,
                                      totals=(tp // m, tp % m, tn)))
    return out


@dataclass(eq=False)
class AllPairAccepts:
    """Impostor accepts at one threshold of every identity pair, within and across groups: what an
    exact permutation of group membership needs (a pair's comparisons count for whichever group
    both its identities land in).

    ``id_a < id_b`` are global identity codes, ``accepts`` their accepts (pairs without one are
    omitted). ``totals`` (ScoreSet route only) lists the impostor comparisons of every identity pair
    that has any; on the EmbeddingSet route pair ``(i, j)`` has ``n_i * n_j`` comparisons.
    """

    id_a: np.ndarray
    id_b: np.ndarray
    accepts: np.ndarray
    totals: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _split_pairs(pair: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = pair // m, pair % m
    return np.minimum(a, b), np.maximum(a, b)


def all_identity_pair_accepts(stats: PairStats, k_op: int) -> AllPairAccepts:
    """A third pass (only when permutation tests are asked for): accepts at grid edge ``k_op`` of
    every identity pair, over every tile (embeddings) or every listed impostor score. Memory is
    O(identity pairs with an accept)."""
    m = len(stats.identity_names)
    if stats.route == "scores":
        score, genuine, ident_a, ident_b = stats._source  # type: ignore[misc]
        imp = ~genuine
        a, b = np.minimum(ident_a[imp], ident_b[imp]), np.maximum(ident_a[imp], ident_b[imp])
        pair = a.astype(np.int64) * m + b
        acc = stats.grid.bin_of(score[imp]) >= k_op
        up, un = np.unique(pair[acc], return_counts=True)
        tp, tn = np.unique(pair, return_counts=True)
        return AllPairAccepts(up // m, up % m, un.astype(np.int64), (tp // m, tp % m, tn.astype(np.int64)))
    layout, rows, spec, executor = stats._source  # type: ignore[misc]
    lut = np.zeros(stats.grid.n_bins + 2, dtype=np.int16)
    lut[k_op:] = 1
    batches = _batches(layout, executor.pairs_per_task, within_only=False, local=np.arange(m))
    jobs = [(b, 0, lut, 1, m) for b in batches]
    codes, counts = [], []
    for _, code, count in executor.run(_pass2_task, rows, jobs, spec):
        if code.size:
            codes.append(code)
            counts.append(count)
    if not codes:
        empty = np.zeros(0, dtype=np.int64)
        return AllPairAccepts(empty, empty, empty)
    lo, hi = _split_pairs(np.concatenate(codes), m)
    uniq, inv = np.unique(lo * m + hi, return_inverse=True)
    acc = np.bincount(inv.ravel(), weights=np.concatenate(counts), minlength=len(uniq)).astype(np.int64)
    return AllPairAccepts(uniq // m, uniq % m, acc)
