"""Per identity pair impostor comparisons within each group by threshold slot, from either route
(what the identity bootstrap resamples), and every identity pair's accepts at the threshold (what
the permutation tests permute)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from fairaudit.verification.grid import PairStats
from fairaudit.verification.tiles import _batches, _pass2_task


@dataclass(eq=False)
class IdentityPairCounts:
    """Impostor comparisons of every identity pair of one group, by threshold slot.

    The group's thresholds are grid edges ``thresholds_k`` (ascending). Slot ``s`` holds the
    comparisons with score in ``[edges[thresholds_k[s]], edges[thresholds_k[s + 1]])`` (the last
    slot: at or above the highest threshold), so the accepts at threshold ``s`` are the sum of the
    slots from ``s`` up. Pair ``p`` (``id_a[p] < id_b[p]``, local codes within the group) has
    entries ``ptr[p]:ptr[p + 1]`` of ``slot`` (ascending) and ``count``; pairs with no comparison
    at or above the lowest threshold are omitted. ``totals`` (ScoreSet route only) holds the number
    of impostor comparisons of every identity pair that has any, as ``(tot_a, tot_b, tot_n)``.
    """

    thresholds_k: np.ndarray
    #: ``(id_a, id_b, ptr, slot, count)`` pieces (one per engine task), joined only on demand
    parts: list
    totals: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def n_pairs(self) -> int:
        return sum(len(p[0]) for p in self.parts)

    def _joined(self) -> tuple[np.ndarray, ...]:
        if len(self.parts) != 1:
            from fairaudit.verification.tiles import _concat_pair_slots

            self.parts = [_concat_pair_slots(self.parts)]
        return self.parts[0]

    id_a = property(lambda self: self._joined()[0])
    id_b = property(lambda self: self._joined()[1])
    ptr = property(lambda self: self._joined()[2])
    slot = property(lambda self: self._joined()[3])
    count = property(lambda self: self._joined()[4])

    def cumulative(self) -> np.ndarray:
        """``(pairs, thresholds)`` accepts of every listed pair at every threshold (dense: for tests
        and small groups)."""
        k = len(self.thresholds_k)
        dense = np.zeros((self.n_pairs, k), dtype=np.int64)
        owner = np.repeat(np.arange(self.n_pairs), np.diff(self.ptr))
        np.add.at(dense, (owner, self.slot.astype(np.int64)), self.count)
        return np.cumsum(dense[:, ::-1], axis=1)[:, ::-1]

    def identity_accepts(self, m: int) -> np.ndarray:
        """``(m, thresholds)`` accepts of every identity with the others of the group (each pair
        counts for both of its identities) at every threshold."""
        from fairaudit.verification import kernels

        per = np.zeros((m, len(self.thresholds_k)))
        for a, b, ptr, slot, count in self.parts:
            per += kernels.identity_slot_sums(a, b, ptr, slot, count, m, len(self.thresholds_k))
        return np.cumsum(per[:, ::-1], axis=1)[:, ::-1]


def csr_from_codes(pair: np.ndarray, slot: np.ndarray, n_k: int, m: int,
                   weights: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """``(a, b, ptr, slot, count)`` of entries ``(pair = a * m + b, slot)``, each ``weights`` times."""
    code = np.asarray(pair, dtype=np.int64) * n_k + np.asarray(slot, dtype=np.int64)
    if weights is None:
        uniq, cnt = np.unique(code, return_counts=True)
    else:
        uniq, inv = np.unique(code, return_inverse=True)
        cnt = np.bincount(inv.ravel(), weights=weights, minlength=len(uniq))
    pairs = uniq // n_k
    starts = np.flatnonzero(np.r_[True, pairs[1:] != pairs[:-1]]) if len(pairs) else np.zeros(0, dtype=np.int64)
    first = pairs[starts]
    return ((first // m).astype(np.int32), (first % m).astype(np.int32),
            np.r_[starts, len(pairs)].astype(np.int64), (uniq % n_k).astype(np.int16),
            np.asarray(cnt).astype(np.int32))


def _luts(thresholds_k: Sequence[np.ndarray], n_bins: int) -> list[np.ndarray]:
    out = []
    for ks in thresholds_k:
        # lut[q] = number of thresholds at or below bin q (0 = below all of them)
        lut = np.zeros(n_bins + 2, dtype=np.int16)
        lut[: n_bins] = np.searchsorted(np.asarray(ks, dtype=np.int64), np.arange(n_bins), side="right")
        lut[n_bins:] = len(ks)
        out.append(lut)
    return out


def embedding_identity_pair_counts(stats: PairStats, thresholds_k: Sequence[np.ndarray]) -> list[IdentityPairCounts]:
    """Second, within-group-only pass: per identity pair counts at each group's thresholds.

    ``thresholds_k[g]`` are grid edge indices (ascending) for group ``g``. Uses
    the same rows, tiles and products as the first pass, on the same executor,
    so decisions agree with it. Every identity pair lies in one tile pair, so the
    tasks' pairs are disjoint and are joined without sorting.
    """
    layout, rows, spec, executor = stats._source  # type: ignore[misc]
    local = _local_identity_codes(stats)
    m_of = np.bincount(stats.groups.codes, minlength=stats.n_groups)
    batches = _batches(layout, executor.pairs_per_task, within_only=True, local=local)
    kss = [np.asarray(ks, dtype=np.int64) for ks in thresholds_k]
    luts = _luts(kss, stats.grid.n_bins)
    jobs = [(b, b.i[2], luts[b.i[2]], len(kss[b.i[2]]), int(m_of[b.i[2]])) for b in batches]
    parts: list[dict] = [dict() for _ in range(stats.n_groups)]
    for index, g, pieces in executor.run(_pass2_task, rows, jobs, spec):
        parts[g][index] = pieces
    out = []
    for g in range(stats.n_groups):
        # task order, whatever order they finished in: the same pieces from every engine
        pieces = [piece for k in sorted(parts[g]) for piece in parts[g][k] if len(piece[0])]
        out.append(IdentityPairCounts(thresholds_k=kss[g], parts=pieces))
    return out


def _local_identity_codes(stats: PairStats) -> np.ndarray:
    """Code of every identity within its own group (0 .. m_g - 1), in identity order."""
    local = np.zeros(len(stats.identity_names), dtype=np.int64)
    for g in range(stats.n_groups):
        members = np.flatnonzero(stats.groups.codes == g)
        local[members] = np.arange(len(members))
    return local


def score_identity_pair_counts(stats: PairStats, thresholds_k: Sequence[np.ndarray]) -> list[IdentityPairCounts]:
    """Per identity pair counts (and comparison totals) within each group, from listed scores."""
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
        pair = lo[sel].astype(np.int64) * m + hi[sel]
        keep = kidx > 0
        piece = csr_from_codes(pair[keep], kidx[keep] - 1, len(ks), m)
        tp, tn = np.unique(pair, return_counts=True)
        out.append(IdentityPairCounts(thresholds_k=ks, parts=[piece], totals=(tp // m, tp % m, tn)))
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


def all_identity_pair_accepts(stats: PairStats, k_op: int) -> AllPairAccepts:
    """Accepts at grid edge ``k_op`` of every identity pair: from the high scores the first pass
    kept (when it kept every comparison at ``k_op`` and above), else from a third pass over every
    tile (embeddings), or from every listed impostor score. Memory is O(identity pairs with an
    accept)."""
    m = len(stats.identity_names)
    high = stats.high_scores
    if high is not None and k_op >= high.keep_from:
        sel = high.bin >= k_op
        a, b = high.a[sel].astype(np.int64), high.b[sel].astype(np.int64)
        up, un = np.unique(np.minimum(a, b) * m + np.maximum(a, b), return_counts=True)
        return AllPairAccepts(up // m, up % m, un.astype(np.int64))
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
    a_parts, b_parts, c_parts = [], [], []
    for _, _, pieces in executor.run(_pass2_task, rows, jobs, spec):
        for a, b, _, _, count in pieces:
            a_parts.append(a)
            b_parts.append(b)
            c_parts.append(count)
    if not a_parts or not sum(len(a) for a in a_parts):
        empty = np.zeros(0, dtype=np.int64)
        return AllPairAccepts(empty, empty, empty)
    a, b = np.concatenate(a_parts).astype(np.int64), np.concatenate(b_parts).astype(np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.argsort(lo * m + hi, kind="stable")  # pairs are disjoint across tasks: a sort, no merge
    return AllPairAccepts(lo[order], hi[order], np.concatenate(c_parts).astype(np.int64)[order])
