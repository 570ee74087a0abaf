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

A permutation is a uniformly random subset of the units of the size of the smaller set, drawn in a
compiled kernel (a partial Fisher-Yates shuffle driven by SplitMix64, seeded by one draw from the
audit's generator per test, so the same ``random_state`` gives the same p-values). The pairs within the
subsets are summed 64 subsets per pass over the pairs (bit-sliced counters); the other set's sums
follow from the totals (``within(rest) = total - sum_{i in S} degree_i + within(S)``).
"""

from __future__ import annotations

import numpy as np

#: permutations drawn and evaluated at once (memory ``8 * chunk * set size`` bytes)
PERM_CHUNK = 200
#: relative tolerance for a permuted difference to count as "as extreme" (float round-off)
TIE_TOLERANCE = 1e-9


class _Pairs:
    """Values of unit pairs ``a != b`` (each listed once) in CSR form at the lower unit, with every
    unit's degree (the sum over its pairs) and the total."""

    def __init__(self, a, b, values, n_units: int):
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        v = np.asarray(values, dtype=np.int64)  # counts
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        order = np.argsort(lo, kind="stable")
        self.indptr = np.r_[0, np.cumsum(np.bincount(lo, minlength=n_units))].astype(np.int64)
        self.indices = hi[order]
        self.values = v[order]
        self.degree = (np.bincount(a, weights=v, minlength=n_units)
                       + np.bincount(b, weights=v, minlength=n_units)) if len(v) else np.zeros(n_units)
        self.total = float(v.sum())
        self.n_units = n_units

    def within(self, picked: np.ndarray) -> np.ndarray:
        from fairaudit.verification import kernels

        return kernels.within_set_sums(self.indptr, self.indices, self.values, picked, self.n_units)


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
        self.acc = _Pairs(*_restrict(local, accepts), u)
        self.tot = None if totals is None else _Pairs(*_restrict(local, totals), u)

    @property
    def n_units(self) -> int:
        return len(self.units)

    def set_and_rest(self, picked: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """``metric`` ("fmr" or "fnmr") of every set ``picked[k]`` (unit indices) and of the units
        outside it (NaN where a set has no comparison of that kind)."""
        picked = np.asarray(picked, dtype=np.int64)
        if metric == "fnmr":
            num, den = self.rej[picked].sum(axis=1), self.gen[picked].sum(axis=1)
            num_r, den_r = self.rej.sum() - num, self.gen.sum() - den
        else:
            num = self.acc.within(picked)
            num_r = self.acc.total - self.acc.degree[picked].sum(axis=1) + num
            if self.tot is None:
                n = self.samples
                s1, s2 = n[picked].sum(axis=1), (n[picked] ** 2).sum(axis=1)
                den = (s1**2 - s2) / 2.0
                den_r = ((n.sum() - s1) ** 2 - ((n**2).sum() - s2)) / 2.0
            else:
                den = self.tot.within(picked)
                den_r = self.tot.total - self.tot.degree[picked].sum(axis=1) + den
        return _rate(num, den), _rate(num_r, den_r)

    def rates(self, member: np.ndarray, metric: str) -> np.ndarray:
        """``metric`` of the set marked by every row of the 0/1 matrix ``member``."""
        member = np.atleast_2d(np.asarray(member)) > 0.5
        return np.array([self.set_and_rest(np.flatnonzero(row)[None, :], metric)[0][0] for row in member])

    def difference(self, member: np.ndarray, metric: str) -> np.ndarray:
        """Rate of the marked set minus rate of the others, for every row of ``member``."""
        member = np.atleast_2d(np.asarray(member)) > 0.5
        out = []
        for row in member:
            a, b = self.set_and_rest(np.flatnonzero(row)[None, :], metric)
            out.append(a[0] - b[0])
        return np.array(out)


def _rate(num, den):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _max(triple) -> int:
    if triple is None or len(triple[0]) == 0:
        return 0
    return int(max(np.max(triple[0]), np.max(triple[1])))


def _restrict(local: np.ndarray, triple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, v = (np.asarray(x) for x in triple)
    if len(a) == 0:
        return a.astype(np.int64), b.astype(np.int64), v.astype(np.int64)
    la, lb = local[a], local[b]
    keep = (la >= 0) & (lb >= 0)
    return la[keep], lb[keep], v[keep].astype(np.int64)


def draw_seed(rng: np.random.Generator) -> int:
    """The seed of one permutation test, drawn from the audit's generator."""
    return int(rng.integers(0, 2**63, dtype=np.int64))


def permutation_pvalue(data: PermutationData, first: np.ndarray, metric: str, n_perm: int,
                       rng: np.random.Generator | None = None, *, seed: int | None = None) -> float:
    """Two-sided permutation p-value of ``rate(first) - rate(rest of data.units)``.

    ``first`` is a 0/1 vector over ``data.units`` (the observed membership). NaN when the observed
    difference is undefined or no permutation gives a defined one. The permutations follow from
    ``seed``, or from one seed drawn from ``rng`` (:func:`draw_seed`, drawn in every case).
    """
    from fairaudit.verification import kernels

    if seed is None:
        seed = draw_seed(rng)
    first = np.asarray(first, dtype=np.float64)
    observed = float(data.difference(first[None, :], metric)[0])
    if not np.isfinite(observed) or n_perm <= 0:
        return float("nan")
    u = data.n_units
    n_first = int(first.sum())
    # draw the smaller side: a random subset of it, and its complement, is a random split
    pick_first = n_first <= u - n_first
    n_pick = n_first if pick_first else u - n_first
    subsets = kernels.RandomSubsets(u, n_pick, seed)
    extreme, valid = 0, 0
    for s in range(0, n_perm, PERM_CHUNK):
        rate_p, rate_o = data.set_and_rest(subsets.draw(min(PERM_CHUNK, n_perm - s)), metric)
        d = rate_p - rate_o if pick_first else rate_o - rate_p
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
