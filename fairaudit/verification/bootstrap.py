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
"""

from __future__ import annotations

import numpy as np

from fairaudit.verification.grid import PairStats
from fairaudit.verification.identity_pairs import IdentityPairCounts

_CHUNK_ELEMENTS = 4_000_000


def _pair_sum(weights: np.ndarray, a: np.ndarray, b: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``sum_p w[:, a_p] * w[:, b_p] * values[p, :]`` for every replicate, in chunks."""
    n_rep = weights.shape[0]
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    out = np.zeros((n_rep, values.shape[1]))
    step = max(1, _CHUNK_ELEMENTS // max(n_rep, 1))
    for s in range(0, len(a), step):
        ww = weights[:, a[s:s + step]] * weights[:, b[s:s + step]]
        out += ww @ values[s:s + step]
    return out


def draw_weights(stats: PairStats, n_boot: int, rng: np.random.Generator) -> list[np.ndarray]:
    """How often every identity is drawn in every replicate, per group (group order, local codes):
    ``(n_boot, m_g)`` arrays. Replicate ``b`` of every group together is one replicate of the whole
    population (a stratified bootstrap), so comparisons between groups are paired."""
    codes = stats.groups.codes
    out = []
    for g in range(stats.n_groups):
        m = int(np.count_nonzero(codes == g))
        out.append(rng.multinomial(m, np.full(m, 1.0 / m), size=n_boot).astype(np.float64))
    return out


def full_weights(stats: PairStats, weights: list[np.ndarray]) -> np.ndarray:
    """The per-group weights of :func:`draw_weights` as one ``(n_boot, n_identities)`` matrix."""
    codes = stats.groups.codes
    out = np.zeros((weights[0].shape[0] if weights else 0, len(codes)))
    for g, w in enumerate(weights):
        out[:, np.flatnonzero(codes == g)] = w
    return out


def group_replicates(
    stats: PairStats,
    counts: list[IdentityPairCounts],
    n_boot: int,
    rng: np.random.Generator,
    weights: list[np.ndarray] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """FMR and FNMR of every replicate at every group's thresholds.

    Returns, per group, ``(fmr, fnmr)`` arrays of shape ``(n_boot, K_g)``
    (NaN where a replicate has no comparisons of that kind). ``weights`` (from
    :func:`draw_weights` on the same ``rng``) gives the same numbers as drawing here.
    """
    edges = stats.grid.edges()
    codes = stats.groups.codes
    if weights is None:
        weights_all = draw_weights(stats, n_boot, rng)
    else:
        weights_all = weights
    out = []
    for g, ipc in enumerate(counts):
        members = np.flatnonzero(codes == g)
        m = len(members)
        local = np.full(len(codes), -1, dtype=np.int64)
        local[members] = np.arange(m)
        weights = weights_all[g]

        thresholds = edges[ipc.thresholds_k]
        sel = codes[stats.gen_identity] == g
        gid = local[stats.gen_identity[sel]]
        gscore = stats.gen_score[sel]
        gen_per_id = np.bincount(gid, minlength=m).astype(np.float64)
        rejects = np.zeros((m, len(thresholds)))
        for k, t in enumerate(thresholds):
            rejects[:, k] = np.bincount(gid, weights=(gscore < t).astype(np.float64), minlength=m)
        n_gen = weights @ gen_per_id
        gen_rej = weights @ rejects

        if ipc.totals is None:
            n = stats.identity_samples[members].astype(np.float64)
            n_imp = ((weights @ n) ** 2 - (weights**2) @ (n**2)) / 2.0
        else:
            ta, tb, tn = ipc.totals
            n_imp = _pair_sum(weights, ta, tb, tn)[:, 0]
        imp_acc = _pair_sum(weights, ipc.id_a, ipc.id_b, ipc.counts)

        with np.errstate(invalid="ignore", divide="ignore"):
            fmr = np.where(n_imp[:, None] > 0, imp_acc / n_imp[:, None], np.nan)
            fnmr = np.where(n_gen[:, None] > 0, gen_rej / n_gen[:, None], np.nan)
        out.append((fmr, fnmr))
    return out


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
