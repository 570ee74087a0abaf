"""Confidence intervals by resampling identities, not pairs.

Comparisons that share an identity are correlated: resampling pairs as if they
were independent gives intervals that are far too narrow. fairaudit draws, in
every group, as many identities as the group has, with replacement, each with
all its samples (a stratified identity bootstrap, so that group sizes stay
fixed). A replicate never recomputes a score: with identity ``i`` drawn
``w_i`` times,

* impostor comparisons of the group: ``sum_{i<j} w_i w_j n_ij``,
* impostor accepts at threshold t:   ``sum_{i<j} w_i w_j a_ij(t)``,
* genuine comparisons:               ``sum_i w_i g_i``,
* genuine rejects at t:              ``sum_i w_i r_i(t)``,

where ``n_ij`` and ``a_ij(t)`` count the impostor comparisons (and accepts)
between identities i and j, and ``g_i``, ``r_i(t)`` the genuine comparisons
(and rejects) of identity i. Copies of one identity are never compared with
each other. Intervals are percentile intervals.

The replicates' sums run in a compiled kernel (:mod:`~fairaudit.verification.kernels`) over the
identity pairs that have a comparison at or above a threshold, on blocks of replicates in threads.
A replicate's EER is searched, as defined, on every threshold of the group's EER grid (bob.measure's
rule: the threshold minimising |FMR - FNMR|, the highest one on a tie), but exact counts are only
computed where replicates can have it: a first, linear estimate of every replicate's accepts
(``sum_i w_i r_i``, with ``r_i`` the accepts of identity i, dropping the pair term ``sum (w_i - 1)
(w_j - 1) a_ij``) locates each replicate's EER; the exact rates are computed on the range of the central
98 % of those estimates and one grid step either side; FMR - FNMR never increases with the threshold, so a replicate whose exact
difference changes sign inside the range has its EER there, the same value as a search of the
whole grid. A replicate for which that is not shown (its crossing lies outside the range or at
its edge) is recomputed on the whole grid. The intervals are those of the full search, bit for bit.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fairaudit.common.parallel import cpu_count
from fairaudit.verification.grid import PairStats
from fairaudit.verification.identity_pairs import IdentityPairCounts

#: fewest replicates a thread of the pair kernel takes
MIN_BLOCK = 64
#: grid steps added on either side of the range where linear estimates put the replicates' EER
EER_RANGE_MARGIN = 1
#: share of the replicates' linear estimates left below (and above) that range
EER_RANGE_QUANTILE = 0.01


def pair_sums(pairs: tuple, slot_map: np.ndarray, weights: np.ndarray | None, n_out: int,
              transposed: np.ndarray | None = None) -> np.ndarray:
    """``(replicates, n_out)``: ``sum_p w[a_p] w[b_p] count[p, s]`` into output ``slot_map[s]``
    (negative: dropped; ``slot_map`` never decreases) for every replicate (row of the integer-valued
    ``weights``; or ``transposed``: the same as an int32 ``(identities, replicates)`` C-order
    array). ``pairs`` is ``(a, b, ptr, slot, count)`` as in :class:`IdentityPairCounts`, or a list
    of such pieces.
    Exact: integer sums."""
    from fairaudit.verification import kernels

    pieces = pairs if isinstance(pairs, list) else [pairs]
    pieces = [p for p in pieces if len(p[0])]
    n_rep = weights.shape[0] if transposed is None else transposed.shape[1]
    out = np.zeros((n_rep, n_out))
    if n_rep == 0 or not pieces or n_out == 0:
        return out
    # identities x replicates, C order: a pair reads two contiguous rows of it
    if transposed is None:
        transposed = weights.T
    # the smallest integer type that holds every weight: a pair reads two rows of them, and that
    # traffic, not the arithmetic, is what the kernel waits on
    top = int(transposed.max(initial=0))
    wt = np.ascontiguousarray(transposed, dtype=np.int8 if top <= 127 else np.int16 if top <= 32767 else np.int32)
    # one block of replicates per thread: the longer the block, the less per-pair overhead
    workers = min(cpu_count(), max(1, n_rep // MIN_BLOCK))
    step = -(-n_rep // workers)
    blocks = [(s, min(s + step, n_rep)) for s in range(0, n_rep, step)]

    def run(block):
        total = None
        max_w = int(wt[:, block[0]:block[1]].max())
        for a, b, ptr, slot, count in pieces:  # integer sums: any order of pieces gives the same
            r = kernels.weighted_pair_sums(a, b, ptr, slot, count, slot_map, wt, n_out, columns=block,
                                           max_w=max_w)
            total = r if total is None else total + r
        return total

    if len(blocks) == 1:
        results = [run(blocks[0])]
    else:
        with ThreadPoolExecutor(len(blocks)) as pool:
            results = list(pool.map(run, blocks))
    for (s, e), r in zip(blocks, results):
        out[s:e] = r.T  # int64 counts below 2**53: exact in float64
    return out


def draw_weights(stats: PairStats, n_boot: int, rng: np.random.Generator) -> list[np.ndarray]:
    """How often every identity is drawn in every replicate, per group (group order, local codes):
    ``(n_boot, m_g)`` arrays. Replicate ``b`` of every group together is one replicate of the whole
    population (a stratified bootstrap), so comparisons between groups are paired.

    Each replicate draws ``m_g`` identities of the group uniformly with replacement
    (``rng.integers``) and counts them: Multinomial(m_g, 1/m_g) weights, drawn in one call per group
    (``rng.multinomial`` draws the same distribution, one binomial per identity, 10x slower)."""
    from fairaudit.verification import kernels

    codes = stats.groups.codes
    out = []
    for g in range(stats.n_groups):
        m = int(np.count_nonzero(codes == g))
        out.append(kernels.count_draws(rng.integers(0, m, size=(n_boot, m)), m))
    return out


class GroupBootstrap:
    """The replicates of one group: exact FMR and FNMR at any of its thresholds.

    ``weights`` is ``(n_boot, m)``: how often each identity of the group is drawn in each replicate.
    """

    def __init__(self, stats: PairStats, ipc: IdentityPairCounts, g: int, weights: np.ndarray):
        codes = stats.groups.codes
        members = np.flatnonzero(codes == g)
        self.m = m = len(members)
        local = np.full(len(codes), -1, dtype=np.int64)
        local[members] = np.arange(m)
        self.ipc = ipc
        self.weights = np.asarray(weights, dtype=np.float64)
        #: the weights as the pair kernel reads them (identities x replicates, smallest integer
        #: type), converted once for every call on all replicates
        top = int(self.weights.max(initial=0))
        self._wt = np.ascontiguousarray(self.weights.T, dtype=np.int8 if top <= 127 else np.int16
                                        if top <= 32767 else np.int32)
        self.thresholds = stats.grid.edges()[ipc.thresholds_k]
        sel = codes[stats.gen_identity] == g
        self._gid = local[stats.gen_identity[sel]]
        self._gscore = stats.gen_score[sel]
        self.n_gen = self.weights @ np.bincount(self._gid, minlength=m).astype(np.float64)
        if ipc.totals is None:
            n = stats.identity_samples[members].astype(np.float64)
            self.n_imp = ((self.weights @ n) ** 2 - (self.weights**2) @ (n**2)) / 2.0
        else:
            ta, tb, tn = ipc.totals
            one = (np.asarray(ta, dtype=np.int32), np.asarray(tb, dtype=np.int32),
                   np.arange(len(ta) + 1, dtype=np.int64), np.zeros(len(ta), dtype=np.int16),
                   np.asarray(tn, dtype=np.int32))
            self.n_imp = pair_sums(one, np.zeros(1, dtype=np.int64), None, 1, transposed=self._wt)[:, 0]

    def rejects(self, cols: np.ndarray) -> np.ndarray:
        """``(m, len(cols))`` genuine rejects of every identity at thresholds ``cols``."""
        out = np.zeros((self.m, len(cols)))
        for j, c in enumerate(cols):
            out[:, j] = np.bincount(self._gid, weights=(self._gscore < self.thresholds[c]).astype(np.float64),
                                    minlength=self.m)
        return out

    def rates(self, cols, rows=None) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``(fmr, fnmr)`` of replicates ``rows`` (default all) at thresholds ``cols``
        (ascending indices into the group's thresholds): ``(replicates, len(cols))`` each, NaN where
        a replicate has no comparison of that kind."""
        cols = np.asarray(cols, dtype=np.int64)
        every = rows is None
        rows = np.arange(len(self.n_imp)) if every else np.asarray(rows)
        w = self.weights[rows]
        ipc = self.ipc
        # a comparison in slot s counts at every chosen threshold at or below it
        slot_map = np.searchsorted(cols, np.arange(len(ipc.thresholds_k)), side="right") - 1
        per = pair_sums(ipc.parts, slot_map, None, len(cols), transposed=self._wt if every else self._wt[:, rows])
        acc = np.cumsum(per[:, ::-1], axis=1)[:, ::-1]
        gen_rej = w @ self.rejects(cols)
        return self._ratios(acc, self.n_imp[rows], gen_rej, self.n_gen[rows])

    @staticmethod
    def _ratios(acc, n_imp, rej, n_gen):
        with np.errstate(invalid="ignore", divide="ignore"):
            fmr = np.where(n_imp[:, None] > 0, acc / n_imp[:, None], np.nan)
            fnmr = np.where(n_gen[:, None] > 0, rej / n_gen[:, None], np.nan)
        return fmr, fnmr

    def linear_eer_index(self) -> np.ndarray:
        """Every replicate's EER threshold index from the linear estimate of its accepts."""
        k = len(self.ipc.thresholds_k)
        r = self.ipc.identity_accepts(self.m)
        acc = r.sum(axis=0) / 2.0 + (self.weights - 1.0) @ r
        fmr, fnmr = self._ratios(acc, self.n_imp, self.weights @ self.rejects(np.arange(k)), self.n_gen)
        return _eer_index(fmr, fnmr)

    def at_threshold_and_eer(self, pos: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every replicate's FMR and FNMR at threshold ``pos`` (an index into the group's
        thresholds) and its EER, exactly as :func:`replicate_eer` on all the group's thresholds."""
        k = len(self.ipc.thresholds_k)
        n_rep = len(self.n_imp)
        eer = np.full(n_rep, np.nan)
        defined = (self.n_imp > 0) & (self.n_gen > 0)  # otherwise every |FMR - FNMR| is NaN
        lo, hi = pos, pos
        if defined.any():
            guess = self.linear_eer_index()[defined]
            # the central replicates' range: the few outside it are redone on every threshold
            q_lo, q_hi = np.quantile(guess, [EER_RANGE_QUANTILE, 1.0 - EER_RANGE_QUANTILE], method="inverted_cdf")
            lo = max(0, int(q_lo) - EER_RANGE_MARGIN)
            hi = min(k - 1, int(q_hi) + EER_RANGE_MARGIN)
        cols = np.unique(np.r_[np.arange(lo, hi + 1), pos])
        fmr, fnmr = self.rates(cols)
        at = int(np.searchsorted(cols, pos))
        self.n_redone = 0
        if not defined.any():
            return fmr[:, at], fnmr[:, at], eer
        rows = np.flatnonzero(defined)
        sub = (cols >= lo) & (cols <= hi)
        fmr_s, fnmr_s = fmr[np.ix_(rows, sub)], fnmr[np.ix_(rows, sub)]
        diff = fmr_s - fnmr_s
        best = np.min(np.abs(diff), axis=1)
        # FMR - FNMR never increases: outside [lo, hi] nothing is closer to 0, and nothing ties with
        # the minimum above hi, when the difference is >= 0 at lo and < -best at hi
        shown = ((lo == 0) | (diff[:, 0] >= 0)) & ((hi == k - 1) | ((diff[:, -1] <= 0) & (-diff[:, -1] > best)))
        eer[rows[shown]] = replicate_eer(fmr_s[shown], fnmr_s[shown])
        if not shown.all():
            redo = rows[~shown]
            fmr_all, fnmr_all = self.rates(np.arange(k), redo)
            eer[redo] = replicate_eer(fmr_all, fnmr_all)
            self.n_redone = len(redo)
        return fmr[:, at], fnmr[:, at], eer


def group_replicates_at(stats: PairStats, counts: list[IdentityPairCounts], weights: list[np.ndarray],
                        thresholds_k: list[np.ndarray], k_op: int) -> list[tuple[np.ndarray, ...]]:
    """Every group's replicates at grid edge ``k_op`` (one of each group's ``thresholds_k``): ``(fmr,
    fnmr, eer)`` per group (:meth:`GroupBootstrap.at_threshold_and_eer`). Groups run two at a time
    on threads: one group's numpy work overlaps another's compiled sums, and each group's numbers
    depend on its weights alone, so the order cannot change them."""

    def one(g):
        boot = GroupBootstrap(stats, counts[g], g, weights[g])
        return boot.at_threshold_and_eer(int(np.searchsorted(thresholds_k[g], k_op)))

    n = len(counts)
    if n < 2 or cpu_count() < 2:
        return [one(g) for g in range(n)]
    with ThreadPoolExecutor(min(n, cpu_count())) as pool:
        return list(pool.map(one, range(n)))


def group_replicates(
    stats: PairStats,
    counts: list[IdentityPairCounts],
    n_boot: int,
    rng: np.random.Generator,
    weights: list[np.ndarray] | None = None,
    cols: list[np.ndarray] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """FMR and FNMR of every replicate at every group's thresholds (all of them, or ``cols[g]``).

    Returns, per group, ``(fmr, fnmr)`` arrays of shape ``(n_boot, K_g)``
    (NaN where a replicate has no comparisons of that kind). ``weights`` (from
    :func:`draw_weights` on the same ``rng``) gives the same numbers as drawing here.
    """
    weights_all = draw_weights(stats, n_boot, rng) if weights is None else weights
    out = []
    for g, ipc in enumerate(counts):
        boot = GroupBootstrap(stats, ipc, g, weights_all[g])
        out.append(boot.rates(np.arange(len(ipc.thresholds_k)) if cols is None else cols[g]))
    return out


def _eer_index(fmr: np.ndarray, fnmr: np.ndarray) -> np.ndarray:
    diff = np.abs(fmr - fnmr)
    diff = np.where(np.isnan(diff), np.inf, diff)
    return diff.shape[1] - 1 - np.argmin(diff[:, ::-1], axis=1)


def replicate_eer(fmr: np.ndarray, fnmr: np.ndarray) -> np.ndarray:
    """EER of every replicate on its threshold grid (bob.measure's definition: on a tie in
    |FMR - FNMR|, the highest threshold, as :func:`fairaudit.verification.rates.eer_index`)."""
    diff = np.abs(fmr - fnmr)
    diff = np.where(np.isnan(diff), np.inf, diff)
    k = diff.shape[1] - 1 - np.argmin(diff[:, ::-1], axis=1)
    rows = np.arange(len(k))
    value = (fmr[rows, k] + fnmr[rows, k]) / 2.0
    return np.where(np.isinf(diff[rows, k]), np.nan, value)


def percentile_interval(values: np.ndarray, ci: float) -> tuple[float, float]:
    """Percentile interval of the finite values (NaN, NaN when fewer than 2)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    lo, hi = np.quantile(v, [(1.0 - ci) / 2.0, 1.0 - (1.0 - ci) / 2.0])
    return float(lo), float(hi)
