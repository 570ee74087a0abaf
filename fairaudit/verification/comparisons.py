"""Group comparisons (``VerificationResult.comparisons``): differences and ratios of FMR, FNMR and
EER between every pair of groups and between each group and the rest of the population, with
paired identity-bootstrap intervals and identity-level permutation p-values adjusted by Holm.

"The rest" of group g is every identity outside g, as one population: its FNMR is over their
genuine comparisons, its FMR over every impostor comparison between two of them (across groups
too, as a population without group g would see them). EER is compared between pairs of groups
only, with a bootstrap interval and no p-value: a permutation of the EER would need per identity
pair counts at every threshold of the EER search, across groups.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from fairaudit.verification.bootstrap import pair_sums, percentile_interval
from fairaudit.verification.permutation import PermutationData, draw_seed, holm, permutation_pvalue

#: columns of ``VerificationResult.comparisons``
COMPARISON_COLUMNS = (
    "metric", "kind", "group_a", "group_b", "value_a", "value_b",
    "difference", "difference_ci_low", "difference_ci_high",
    "ratio", "ratio_ci_low", "ratio_ci_high", "p_value", "p_holm", "n_perm",
)
#: the label of "every identity outside group_a" in ``group_b``
REST = "rest"


def empty_comparisons() -> pd.DataFrame:
    """The comparisons table with its columns and no row."""
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("metric", "kind", "group_a", "group_b")
                                      else float) for c in COMPARISON_COLUMNS})


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


def comparisons_table(stats, *, values: dict[str, np.ndarray], replicates: dict[str, np.ndarray],
                      weights: list[np.ndarray], accepts, threshold: float, ci: float, n_perm: int,
                      rng: np.random.Generator) -> pd.DataFrame:
    """The comparisons table.

    ``values[metric]`` holds each group's figure (group order), ``replicates[metric]`` its
    ``(n_boot, G)`` bootstrap replicates drawn with ``weights``; ``accepts`` comes from
    ``all_identity_pair_accepts`` at the threshold. Every row with a p-value draws one seed from
    ``rng``, in table order; its ``n_perm`` permutations follow from that seed.
    """
    labels = stats.groups.labels
    codes = stats.groups.codes
    G = len(labels)
    rows = []

    def add(metric, kind, a_label, b_label, va, vb, ra, rb, pvalue):
        rows.append({
            "metric": metric, "kind": kind, "group_a": a_label, "group_b": b_label,
            "value_a": float(va), "value_b": float(vb), "difference": float(va - vb),
            **dict(zip(("difference_ci_low", "difference_ci_high"), percentile_interval(ra - rb, ci))),
            "ratio": float(_ratio(va, vb)),
            **dict(zip(("ratio_ci_low", "ratio_ci_high"), percentile_interval(_ratio(ra, rb), ci))),
            "p_value": pvalue, "n_perm": int(n_perm) if np.isfinite(pvalue) else 0,
        })

    everyone = None
    rest_reps = None
    split = None
    tests = {}  # row -> (data, first, metric, seed): run together, in threads, once seeds are drawn
    for metric in ("fmr", "fnmr", "eer"):
        vals, reps = values[metric], replicates[metric]
        for a, b in combinations(range(G), 2):
            if metric != "eer" and n_perm:
                units = np.flatnonzero((codes == a) | (codes == b))
                if split is None:
                    split = _GroupPairSplit(stats, accepts)
                data = _permutation_data(stats, units, threshold, accepts, split, (a, b))
                tests[len(rows)] = (data, (codes[units] == a).astype(float), metric, draw_seed(rng))
            add(metric, "pair", labels[a], labels[b], vals[a], vals[b], reps[:, a], reps[:, b], float("nan"))
        if metric == "eer" or G < 3:  # with two groups, "the rest" is the other group
            continue
        if everyone is None:
            everyone = _permutation_data(stats, np.arange(len(codes)), threshold, accepts)
        for g in range(G):
            if rest_reps is None:
                rest_reps = _rest_replicates(stats, weights, accepts, threshold)
            first = (codes == g).astype(float)
            rest_value = everyone.rates(1.0 - first[None, :], metric)[0]
            if n_perm:
                tests[len(rows)] = (everyone, first, metric, draw_seed(rng))
            add(metric, "vs_rest", labels[g], REST, vals[g], rest_value, reps[:, g], rest_reps[g][metric],
                float("nan"))
    if tests:
        from concurrent.futures import ThreadPoolExecutor

        from fairaudit.common.parallel import cpu_count

        def run(item):
            data, first, metric, seed = item
            return permutation_pvalue(data, first, metric, n_perm, seed=seed)

        with ThreadPoolExecutor(min(cpu_count(), len(tests))) as pool:  # the kernels release the GIL
            for row, p in zip(tests, pool.map(run, tests.values())):
                rows[row]["p_value"] = p
                rows[row]["n_perm"] = int(n_perm) if np.isfinite(p) else 0
    if not rows:
        return empty_comparisons()
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_value"].to_numpy(dtype=float))
    return table[list(COMPARISON_COLUMNS)]
