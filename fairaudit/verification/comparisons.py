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

from fairaudit.verification.bootstrap import full_weights, percentile_interval
from fairaudit.verification.permutation import PermutationData, holm, pair_matrix, pair_sum, permutation_pvalue

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


def _permutation_data(stats, units, threshold: float, accepts) -> PermutationData:
    m = len(stats.identity_names)
    gen = np.bincount(stats.gen_identity, minlength=m)
    rej = np.bincount(stats.gen_identity, weights=(stats.gen_score < threshold).astype(float), minlength=m)
    return PermutationData(units, gen, rej, stats.identity_samples,
                           (accepts.id_a, accepts.id_b, accepts.accepts), accepts.totals)


def _rest_replicates(stats, weights, accepts, threshold: float, g: int) -> dict[str, np.ndarray]:
    """FMR and FNMR of the identities outside group g in every bootstrap replicate."""
    w = full_weights(stats, weights)
    w[:, stats.groups.codes == g] = 0.0
    m = len(stats.identity_names)
    gen = np.bincount(stats.gen_identity, minlength=m).astype(float)
    rej = np.bincount(stats.gen_identity, weights=(stats.gen_score < threshold).astype(float), minlength=m)
    num = pair_sum(pair_matrix(accepts.id_a, accepts.id_b, accepts.accepts, m), w)
    if accepts.totals is None:
        n = stats.identity_samples.astype(float)
        den = ((w @ n) ** 2 - (w ** 2) @ (n ** 2)) / 2.0
    else:
        den = pair_sum(pair_matrix(*accepts.totals, m), w)
    return {"fmr": _ratio(num, den), "fnmr": _ratio(w @ rej, w @ gen)}


def comparisons_table(stats, *, values: dict[str, np.ndarray], replicates: dict[str, np.ndarray],
                      weights: list[np.ndarray], accepts, threshold: float, ci: float, n_perm: int,
                      rng: np.random.Generator) -> pd.DataFrame:
    """The comparisons table.

    ``values[metric]`` holds each group's figure (group order), ``replicates[metric]`` its
    ``(n_boot, G)`` bootstrap replicates drawn with ``weights``; ``accepts`` comes from
    ``all_identity_pair_accepts`` at the threshold. Permutations are drawn from ``rng`` row by row,
    in table order, ``n_perm`` per row with a p-value.
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
    rest_reps = {}
    for metric in ("fmr", "fnmr", "eer"):
        vals, reps = values[metric], replicates[metric]
        for a, b in combinations(range(G), 2):
            p = float("nan")
            if metric != "eer" and n_perm:
                units = np.flatnonzero((codes == a) | (codes == b))
                data = _permutation_data(stats, units, threshold, accepts)
                p = permutation_pvalue(data, (codes[units] == a).astype(float), metric, n_perm, rng)
            add(metric, "pair", labels[a], labels[b], vals[a], vals[b], reps[:, a], reps[:, b], p)
        if metric == "eer" or G < 3:  # with two groups, "the rest" is the other group
            continue
        if everyone is None:
            everyone = _permutation_data(stats, np.arange(len(codes)), threshold, accepts)
        for g in range(G):
            if g not in rest_reps:
                rest_reps[g] = _rest_replicates(stats, weights, accepts, threshold, g)
            first = (codes == g).astype(float)
            rest_value = everyone.rates(1.0 - first[None, :], metric)[0]
            p = permutation_pvalue(everyone, first, metric, n_perm, rng) if n_perm else float("nan")
            add(metric, "vs_rest", labels[g], REST, vals[g], rest_value, reps[:, g], rest_reps[g][metric], p)
    if not rows:
        return empty_comparisons()
    table = pd.DataFrame(rows)
    table["p_holm"] = holm(table["p_value"].to_numpy(dtype=float))
    return table[list(COMPARISON_COLUMNS)]
