"""Identity-level permutation tests of a difference in FMR or FNMR between two sets of identities.

Under the null hypothesis that group membership does not matter, the identities of the two sets
are exchangeable: a permutation reassigns them (keeping both sizes) and the figure is recomputed at
the same, fixed threshold. No score is recomputed:

* FNMR of a set A: ``sum_{i in A} r_i / sum_{i in A} g_i`` with ``g_i`` genuine comparisons and
  ``r_i`` genuine rejects of identity i (exact: genuine comparisons never cross identities);
* FMR of a set A: ``sum_{i<j in A} a_ij / sum_{i<j in A} n_ij`` with ``a_ij`` the impostor accepts
  and ``n_ij`` the impostor comparisons between identities i and j, over *every* pair of the two
  sets (a pair across the sets becomes a within-set pair when both land in one set): exact, from
  :func:`~fairaudit.verification.identity_pairs.all_identity_pair_accepts`.

The p-value is two-sided, ``(1 + #{|d*| >= |d|}) / (1 + n)`` over the ``n`` permutations whose
difference ``d*`` is defined (Phipson & Smyth 2010: never 0).
"""

from __future__ import annotations

import numpy as np


def pair_matrix(a, b, values, n_units: int):
    """Symmetric sparse ``(n_units, n_units)`` matrix with ``values[p]`` at ``(a_p, b_p)`` and
    ``(b_p, a_p)`` (pairs ``a_p != b_p``, each listed once)."""
    from scipy.sparse import coo_matrix

    v = np.asarray(values, dtype=np.float64)
    rows = np.r_[np.asarray(a), np.asarray(b)]
    cols = np.r_[np.asarray(b), np.asarray(a)]
    return coo_matrix((np.r_[v, v], (rows, cols)), shape=(n_units, n_units)).tocsr()


def pair_sum(matrix, weights: np.ndarray) -> np.ndarray:
    """``sum_{i<j} w_i w_j v_ij`` for every row ``w`` of ``weights``: half of ``w S w^T``."""
    weights = np.asarray(weights, dtype=np.float64)
    return 0.5 * np.einsum("ku,uk->k", weights, matrix @ weights.T)

#: permutations drawn and evaluated at once (memory ``8 * chunk * identities`` bytes)
PERM_CHUNK = 200
#: relative tolerance for a permuted difference to count as "as extreme" (float round-off)
TIE_TOLERANCE = 1e-9


def draw_membership(rng: np.random.Generator, n_perm: int, n_units: int, n_first: int) -> np.ndarray:
    """``(n_perm, n_units)`` 0/1 matrix: row p marks the ``n_first`` units of the first set in
    permutation p (a uniform random subset of that size). Drawn in chunks of :data:`PERM_CHUNK`
    permutations, each chunk by ``rng.permuted`` of ``arange(n_units)`` rows."""
    out = np.zeros((n_perm, n_units))
    for s in range(0, n_perm, PERM_CHUNK):
        k = min(PERM_CHUNK, n_perm - s)
        order = rng.permuted(np.tile(np.arange(n_units), (k, 1)), axis=1)
        rows = np.arange(k)[:, None]
        out[s + rows, order[:, :n_first]] = 1.0
    return out


class PermutationData:
    """Per identity counts over a set of identities ``units`` (global codes), ready for
    :meth:`rates` on membership matrices.

    ``gen``/``rej``: genuine comparisons and rejects per identity; ``samples``: samples per identity
    (EmbeddingSet route, where identity pair (i, j) has ``n_i * n_j`` impostor comparisons) or None
    with ``totals`` (listed comparisons per identity pair); ``accepts``: ``(id_a, id_b, count)``.
    """

    def __init__(self, units, gen, rej, samples, accepts, totals):
        self.units = np.asarray(units, dtype=np.int64)
        local = np.full(int(max(self.units.max(initial=0), _max(accepts), _max(totals))) + 1, -1)
        local[self.units] = np.arange(len(self.units))
        self.gen = np.asarray(gen, dtype=np.float64)[self.units]
        self.rej = np.asarray(rej, dtype=np.float64)[self.units]
        self.samples = None if samples is None else np.asarray(samples, dtype=np.float64)[self.units]
        u = len(self.units)
        self.acc = pair_matrix(*_restrict(local, accepts), u)
        self.tot = None if totals is None else pair_matrix(*_restrict(local, totals), u)

    def rates(self, member: np.ndarray, metric: str) -> np.ndarray:
        """``metric`` ("fmr" or "fnmr") of the set marked by every row of ``member`` (NaN where the
        set has no comparison of that kind)."""
        if metric == "fnmr":
            num, den = member @ self.rej, member @ self.gen
        else:
            num = pair_sum(self.acc, member)
            if self.tot is None:
                den = ((member @ self.samples) ** 2 - (member ** 2) @ (self.samples ** 2)) / 2.0
            else:
                den = pair_sum(self.tot, member)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)

    def difference(self, member: np.ndarray, metric: str) -> np.ndarray:
        """Rate of the marked set minus rate of the others, for every row of ``member``."""
        return self.rates(member, metric) - self.rates(1.0 - member, metric)


def _max(triple) -> int:
    if triple is None or len(triple[0]) == 0:
        return 0
    return int(max(triple[0].max(), triple[1].max()))


def _restrict(local: np.ndarray, triple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, v = (np.asarray(x) for x in triple)
    la, lb = local[a], local[b]
    keep = (la >= 0) & (lb >= 0)
    return la[keep], lb[keep], v[keep].astype(np.float64)


def permutation_pvalue(data: PermutationData, first: np.ndarray, metric: str, n_perm: int,
                       rng: np.random.Generator) -> float:
    """Two-sided permutation p-value of ``rate(first) - rate(rest of data.units)``.

    ``first`` is a 0/1 vector over ``data.units`` (the observed membership). NaN when the observed
    difference is undefined or no permutation gives a defined one.
    """
    first = np.asarray(first, dtype=np.float64)
    observed = float(data.difference(first[None, :], metric)[0])
    if not np.isfinite(observed) or n_perm <= 0:
        return float("nan")
    extreme, valid = 0, 0
    for s in range(0, n_perm, PERM_CHUNK):
        # chunk by chunk: the same draws as draw_membership(rng, n_perm, ...) at once
        member = draw_membership(rng, min(PERM_CHUNK, n_perm - s), len(first), int(first.sum()))
        d = data.difference(member, metric)
        d = d[np.isfinite(d)]
        valid += d.size
        extreme += int(np.count_nonzero(np.abs(d) >= abs(observed) * (1.0 - TIE_TOLERANCE)))
    if valid == 0:
        return float("nan")
    return (1.0 + extreme) / (1.0 + valid)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjustment (Holm 1979) of the finite p-values; NaN stays NaN.

    With ``m`` finite p-values sorted ascending ``p_(1) <= ... <= p_(m)``, the adjusted value is
    ``max_{j <= i} min(1, (m - j + 1) p_(j))``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out
