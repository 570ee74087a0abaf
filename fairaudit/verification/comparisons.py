"""Group comparisons (``VerificationResult.comparisons``): differences and ratios of FMR, FNMR and
EER between every pair of groups and between each group and the rest of the population, with
paired identity-bootstrap intervals and identity-level permutation p-values adjusted by Holm.

"The rest" of group g is every identity outside g, as one population: its FNMR is over their
genuine comparisons, its FMR over every impostor comparison between two of them (across groups
too, as a population without group g would see them). EER is compared between pairs of groups
only, with a bootstrap p-value (:func:`bootstrap_pvalue`: the percentile interval of the paired
differences, inverted) instead of a permutation one: a permutation of the EER would need per
identity pair counts at every threshold of the EER search, across groups.

Where a side of a comparison is below ``min_identities`` or has its interval replaced by a
Clopper-Pearson one (:mod:`~fairaudit.verification.small_samples`), the percentile interval of the
paired differences is as falsely tight as that side's collapsed bootstrap: the row combines the two
sides' reported intervals instead (Newcombe's square-and-add for the difference, MOVER for the
ratio; ``ci_method`` ``"newcombe"``), and an EER row's p-value is then the inversion of that
interval (the smallest ``1 - ci`` at which it excludes 0; ``p_method`` ``"newcombe"``).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from fairaudit.verification.bootstrap import pair_sums, percentile_interval
from fairaudit.verification.permutation import PermutationData, draw_seed, holm, permutation_pvalue
from fairaudit.verification.small_samples import (
    DEFAULT_MIN_IDENTITIES,
    METHOD_EXACT,
    METHOD_NEWCOMBE,
    METHOD_PERCENTILE,
    clopper_pearson,
    exact_size,
    honest_interval,
    mover_ratio,
    newcombe_difference,
    rate_inputs,
)

#: columns of ``VerificationResult.comparisons``
COMPARISON_COLUMNS = (
    "metric", "kind", "group_a", "group_b", "value_a", "value_b",
    "difference", "difference_ci_low", "difference_ci_high",
    "ratio", "ratio_ci_low", "ratio_ci_high", "ci_method", "p_value", "p_method", "p_holm", "n_perm",
)
#: text columns of the table
TEXT_COLUMNS = ("metric", "kind", "group_a", "group_b", "ci_method", "p_method")
#: the label of "every identity outside group_a" in ``group_b``
REST = "rest"


def empty_comparisons() -> pd.DataFrame:
    """The comparisons table with its columns and no row."""
    return pd.DataFrame({c: pd.Series(dtype=object if c in TEXT_COLUMNS else float) for c in COMPARISON_COLUMNS})


def bootstrap_pvalue(diff: np.ndarray) -> float:
    """Two-sided p-value of a paired difference from its bootstrap replicates: ``2 * min(P*(d <= 0),
    P*(d >= 0))`` with one added to each count (never 0), NaN with fewer than two finite replicates:
    about the smallest ``1 - ci`` at which the percentile interval of ``diff`` excludes 0."""
    d = np.asarray(diff, dtype=float)
    d = d[np.isfinite(d)]
    if d.size < 2:
        return float("nan")
    below = (np.count_nonzero(d <= 0) + 1) / (d.size + 1)
    above = (np.count_nonzero(d >= 0) + 1) / (d.size + 1)
    return float(min(1.0, 2.0 * min(below, above)))


class Side:
    """One side of a comparison: its figure, its replicates and, where its reported interval is a
    Clopper-Pearson one, the ``(x_eff, n_eff)`` behind it (None: a percentile interval)."""

    def __init__(self, value: float, reps: np.ndarray, exact: tuple[float, float] | None = None):
        self.value, self.reps, self.exact = float(value), reps, exact

    def interval(self, ci: float) -> tuple[float, float, float]:
        lo, hi = percentile_interval(self.reps, ci) if self.exact is None else clopper_pearson(*self.exact, ci)
        return self.value, lo, hi


def honest_side(value, reps, errors, n, units, ci, small, n_identities) -> Side:
    """The side as the small-sample rule reports it (see ``honest_interval``)."""
    if not n > 0:
        return Side(float("nan"), reps)
    pct = percentile_interval(reps, ci)
    if honest_interval(errors, n, units, reps, pct, ci, small, n_identities)[2] != METHOD_EXACT:
        return Side(value, reps)
    return Side(value, reps, exact_size(errors, n, units, reps, n_identities))


#: the smallest p-value an inverted Newcombe interval reports
MIN_P = 1e-6


def newcombe_pvalue(a: Side, b: Side) -> float:
    """The smallest ``1 - ci`` at which the Newcombe interval of ``a - b`` excludes 0 (bisection)."""
    def excludes(alpha):
        lo, hi = newcombe_difference(a.interval(1.0 - alpha), b.interval(1.0 - alpha))
        return np.isfinite(lo) and (lo > 0 or hi < 0)

    if not (np.isfinite(a.value) and np.isfinite(b.value)):
        return float("nan")
    if excludes(MIN_P):
        return MIN_P
    if not excludes(1.0 - 1e-3):
        return 1.0
    lo, hi = MIN_P, 1.0 - 1e-3
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if excludes(mid) else (mid, hi)
    return float(hi)


def _ratio(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def _permutation_data(stats, units, threshold: float, accepts, split=None, groups=None) -> PermutationData:
    """The permutation data of ``units``; with ``split`` (a :class:`_GroupPairSplit`), ``groups``
    (the pair of group codes whose identities the units are) picks their pairs without a scan."""
    m = len(stats.identity_names)
    gen = np.bincount(stats.gen_identity, minlength=m)
    rej = np.bincount(stats.gen_identity, weights=(stats.gen_score < threshold).astype(float), minlength=m)
    if split is None:
        return PermutationData(units, gen, rej, stats.identity_samples,
                               (accepts.id_a, accepts.id_b, accepts.accepts), accepts.totals)
    return PermutationData(units, gen, rej, stats.identity_samples, split.accepts(groups), split.totals(groups))


class _GroupPairSplit:
    """The identity pairs of the accepts (and totals), sorted by group pair once, sliced per test."""

    def __init__(self, stats, accepts):
        self.stats = stats
        self._acc = self._sort((accepts.id_a, accepts.id_b, accepts.accepts))
        self._tot = None if accepts.totals is None else self._sort(accepts.totals)

    def _sort(self, triple):
        a, b, v = (np.asarray(x) for x in triple)
        codes, index = self.stats.groups.codes, self.stats.pair_index
        row = index[codes[a], codes[b]] if len(a) else np.zeros(0, dtype=np.int64)
        order = np.argsort(row, kind="stable")
        return a[order], b[order], v[order], np.searchsorted(row[order], np.arange(int(index.max()) + 2))

    def _pick(self, sorted_triple, groups):
        a, b, v, bounds = sorted_triple
        g, h = groups
        index = self.stats.pair_index
        rows = sorted({int(index[g, g]), int(index[h, h]), int(index[g, h])})
        pick = np.concatenate([np.arange(bounds[r], bounds[r + 1]) for r in rows])
        return a[pick], b[pick], v[pick]

    def accepts(self, groups):
        return self._pick(self._acc, groups)

    def totals(self, groups):
        return None if self._tot is None else self._pick(self._tot, groups)


def _rest_replicates(stats, weights, accepts, threshold: float) -> dict[int, dict[str, np.ndarray]]:
    """FMR and FNMR of the identities outside each group g in every bootstrap replicate: one pass
    of the pair kernel sums every replicate's weighted accepts by group pair, and "outside g" is
    every group pair without g."""
    codes = stats.groups.codes
    G = stats.n_groups
    members = [np.flatnonzero(codes == g) for g in range(G)]
    n_rep = weights[0].shape[0]
    wt = np.zeros((len(codes), n_rep), dtype=np.int32)  # identities x replicates, for the pair kernel
    for g in range(G):
        wt[members[g]] = weights[g].T
    m = len(stats.identity_names)
    gen = np.bincount(stats.gen_identity, minlength=m).astype(float)
    rej = np.bincount(stats.gen_identity, weights=(stats.gen_score < threshold).astype(float), minlength=m)
    index = stats.pair_index
    n_rows = int(index.max()) + 1

    def by_group_pair(a, b, values):
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        row = index[codes[a], codes[b]]
        # one entry per pair, so any order sums the same; the kernel is fastest on pairs that
        # come sorted by their first identity, as they do
        pairs = (a.astype(np.int32), b.astype(np.int32), np.arange(len(a) + 1, dtype=np.int64),
                 row.astype(np.int16 if n_rows < 2**15 else np.int32), np.asarray(values).astype(np.int32))
        return pair_sums(pairs, np.arange(n_rows, dtype=np.int64), None, n_rows, transposed=wt)

    num_rows = by_group_pair(accepts.id_a, accepts.id_b, accepts.accepts)
    if accepts.totals is None:
        n = stats.identity_samples.astype(float)
        u = np.stack([weights[g] @ n[members[g]] for g in range(G)], axis=1)
        v = np.stack([(weights[g] ** 2) @ (n[members[g]] ** 2) for g in range(G)], axis=1)
    else:
        den_rows = by_group_pair(*accepts.totals)
    gen_g = np.stack([weights[g] @ gen[members[g]] for g in range(G)], axis=1)
    rej_g = np.stack([weights[g] @ rej[members[g]] for g in range(G)], axis=1)
    out = {}
    for g in range(G):
        keep = np.array([index[a, b] for a in range(G) for b in range(a, G) if g not in (a, b)], dtype=np.int64)
        num = num_rows[:, keep].sum(axis=1)
        if accepts.totals is None:
            others = np.arange(G) != g
            den = (u[:, others].sum(axis=1) ** 2 - v[:, others].sum(axis=1)) / 2.0
        else:
            den = den_rows[:, keep].sum(axis=1)
        others = np.arange(G) != g
        out[g] = {"fmr": _ratio(num, den), "fnmr": _ratio(rej_g[:, others].sum(axis=1), gen_g[:, others].sum(axis=1))}
    return out


def _rest_side(stats, g: int, metric: str, value: float, reps, by_group, accepts, ci: float,
               min_identities: int) -> Side:
    """The FMR or FNMR side of "the rest" of group g, under the small-sample rule."""
    codes = stats.groups.codes
    out_g = codes != g
    m_r = int(np.count_nonzero(out_g))
    small = m_r < int(min_identities)
    if metric == "fnmr":
        others = np.arange(stats.n_groups) != g
        n_gen = float(by_group["n_genuine"].to_numpy(dtype=float)[others].sum())
        fnm = float(by_group["n_false_non_matches"].to_numpy(dtype=float)[others].sum())
        return honest_side(value, reps, fnm, n_gen, m_r, ci, small, m_r)
    index = stats.pair_index
    n_imp = float(sum(stats.imp_hist[index[a, b]].sum() for a in range(stats.n_groups)
                      for b in range(a, stats.n_groups) if g not in (a, b)))
    if accepts.totals is None:
        pairs = m_r * (m_r - 1) / 2.0
    else:
        ta, tb = np.asarray(accepts.totals[0]), np.asarray(accepts.totals[1])
        pairs = float(np.count_nonzero(out_g[ta] & out_g[tb])) if len(ta) else 0.0
    errors = float(np.rint(value * n_imp)) if n_imp else 0.0
    return honest_side(value, reps, errors, n_imp, pairs, ci, small, m_r)


def _group_side(by_group, g: int, metric: str, value: float, reps: np.ndarray, fmr_units) -> Side:
    """Group g's side as ``by_group`` reports it (Clopper-Pearson where its ``_ci_method`` says so)."""
    if by_group is None or by_group[f"{metric}_ci_method"].iloc[g] != METHOD_EXACT:
        return Side(value, reps)
    row = by_group.iloc[g]
    n, errors, units = rate_inputs(row, metric, fmr_units[g])
    return Side(value, reps, exact_size(errors, n, units, reps, int(row["n_identities"])))


def comparisons_table(stats, *, values: dict[str, np.ndarray], replicates: dict[str, np.ndarray],
                      weights: list[np.ndarray], accepts, threshold: float, ci: float, n_perm: int,
                      rng: np.random.Generator, by_group=None, fmr_units=None,
                      min_identities: int = DEFAULT_MIN_IDENTITIES) -> pd.DataFrame:
    """The comparisons table.

    ``values[metric]`` holds each group's figure (group order), ``replicates[metric]`` its
    ``(n_boot, G)`` bootstrap replicates drawn with ``weights``; ``accepts`` comes from
    ``all_identity_pair_accepts`` at the threshold. Every row with a permutation p-value draws one
    seed from ``rng``, in table order; its ``n_perm`` permutations follow from that seed. With
    ``by_group`` (after ``apply_intervals``; ``fmr_units``: each group's identity pairs with an
    impostor comparison), rows with a side below ``min_identities`` or with a replaced interval
    combine the sides' intervals (``ci_method`` ``"newcombe"``); without it, every row is percentile.
    """
    labels = stats.groups.labels
    codes = stats.groups.codes
    G = len(labels)
    rows = []

    def add(metric, kind, a_label, b_label, side_a, side_b, pvalue):
        va, vb, ra, rb = side_a.value, side_b.value, side_a.reps, side_b.reps
        combine = side_a.exact is not None or side_b.exact is not None
        if combine:
            a, b = side_a.interval(ci), side_b.interval(ci)
            diff_ci, ratio_ci = newcombe_difference(a, b), mover_ratio(a, b)
        else:
            diff_ci, ratio_ci = percentile_interval(ra - rb, ci), percentile_interval(_ratio(ra, rb), ci)
        p_method = "permutation" if np.isfinite(pvalue) else ""
        if metric == "eer" and n_perm:  # EER: no permutation test; the interval's own p-value
            pvalue = newcombe_pvalue(side_a, side_b) if combine else bootstrap_pvalue(ra - rb)
            p_method = ("newcombe" if combine else "bootstrap") if np.isfinite(pvalue) else ""
        rows.append({
            "metric": metric, "kind": kind, "group_a": a_label, "group_b": b_label,
            "value_a": float(va), "value_b": float(vb), "difference": float(va - vb),
            "difference_ci_low": diff_ci[0], "difference_ci_high": diff_ci[1],
            "ratio": float(_ratio(va, vb)), "ratio_ci_low": ratio_ci[0], "ratio_ci_high": ratio_ci[1],
            "ci_method": METHOD_NEWCOMBE if combine else METHOD_PERCENTILE,
            "p_value": pvalue, "p_method": p_method, "n_perm": int(n_perm) if p_method == "permutation" else 0,
        })

    everyone = None
    rest_reps = None
    split = None
    tests = {}  # row -> (data, first, metric, seed): run together, in threads, once seeds are drawn
    for metric in ("fmr", "fnmr", "eer"):
        vals, reps = values[metric], replicates[metric]
        sides = [_group_side(by_group, g, metric, vals[g], reps[:, g], fmr_units) for g in range(G)]
        for a, b in combinations(range(G), 2):
            if metric != "eer" and n_perm:
                units = np.flatnonzero((codes == a) | (codes == b))
                if split is None:
                    split = _GroupPairSplit(stats, accepts)
                data = _permutation_data(stats, units, threshold, accepts, split, (a, b))
                tests[len(rows)] = (data, (codes[units] == a).astype(float), metric, draw_seed(rng))
            add(metric, "pair", labels[a], labels[b], sides[a], sides[b], float("nan"))
        if metric == "eer" or G < 3:  # with two groups, "the rest" is the other group
            continue
        if everyone is None:
            everyone = _permutation_data(stats, np.arange(len(codes)), threshold, accepts)
        for g in range(G):
            if rest_reps is None:
                rest_reps = _rest_replicates(stats, weights, accepts, threshold)
            first = (codes == g).astype(float)
            rest_value = float(everyone.rates(1.0 - first[None, :], metric)[0])
            if by_group is None:
                rest_side = Side(rest_value, rest_reps[g][metric])
            else:
                rest_side = _rest_side(stats, g, metric, rest_value, rest_reps[g][metric], by_group, accepts, ci,
                                       min_identities)
            if n_perm:
                tests[len(rows)] = (everyone, first, metric, draw_seed(rng))
            add(metric, "vs_rest", labels[g], REST, sides[g], rest_side, float("nan"))
    if tests:
        from concurrent.futures import ThreadPoolExecutor

        from fairaudit.common.parallel import cpu_count

        def run(item):
            data, first, metric, seed = item
            return permutation_pvalue(data, first, metric, n_perm, seed=seed)

        with ThreadPoolExecutor(min(cpu_count(), len(tests))) as pool:  # the kernels release the GIL
            for row, p in zip(tests, pool.map(run, tests.values())):
                rows[row]["p_value"] = p
                rows[row]["p_method"] = "permutation" if np.isfinite(p) else ""
                rows[row]["n_perm"] = int(n_perm) if np.isfinite(p) else 0
    if not rows:
        return empty_comparisons()
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_value"].to_numpy(dtype=float))
    return table[list(COMPARISON_COLUMNS)]
