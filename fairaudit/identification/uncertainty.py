"""Intervals, group comparisons and fairness figures of a 1:N audit.

The unit of resampling is the probe's identity: the searches of one person are not independent
(one hard face fails in every search). Every replicate redraws, within each group, as many probe
identities as the group has, with replacement (the gallery stays fixed: it is the system's
enrolment, not a sample of the audit); a rate is then the weighted share over the drawn
identities' searches. The pooled figures sum the groups' replicates (a stratified bootstrap).

Comparisons follow :mod:`fairaudit.verification.comparisons`: every pair of groups and, with three
groups or more, each group against the rest, for FNIR, FPIR and the rank-1 rate; differences and
ratios with percentile intervals of the same replicates, and a two-sided permutation p-value that
reshuffles the probe identities between the two sides (sizes kept), adjusted by Holm over the table.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from fairaudit.verification.bootstrap import percentile_interval
from fairaudit.verification.comparisons import COMPARISON_COLUMNS, REST, empty_comparisons
from fairaudit.verification.permutation import TIE_TOLERANCE, draw_seed, holm

#: the rates with intervals and comparisons: (name, numerator, denominator) outcome names
METRICS = (("fnir", "false_negative", "mated"), ("fpir", "false_positive", "nonmated"),
           ("rank1", "rank1", "mated"))
#: the rates with a permutation p-value (the rank-1 rate moves with FNIR at rank 1: intervals only,
#: so that Holm's adjustment is not spent on a near-duplicate of FNIR)
TESTED = ("fnir", "fpir")


class UnitCounts:
    """Per probe identity sums of every outcome, and the group of each identity."""

    def __init__(self, stats, out):
        ident = stats.probe_identity
        self.units, inverse = np.unique(ident, return_inverse=True)
        self.group = stats.groups.codes[self.units]
        n = len(self.units)
        self.sums = {}
        for _, num, den in METRICS:
            for name in (num, den):
                if name not in self.sums:
                    self.sums[name] = np.bincount(inverse, weights=getattr(out, name).astype(np.float64),
                                                  minlength=n)

    def of_group(self, g: int) -> np.ndarray:
        return np.flatnonzero(self.group == g)


def bootstrap(units: UnitCounts, n_groups: int, n_boot: int, rng: np.random.Generator) -> dict:
    """Replicates ``{metric: (n_boot, n_groups + 1)}`` (the last column pooled) of every rate."""
    num = {m: np.zeros((n_boot, n_groups)) for m, _, _ in METRICS}
    den = {m: np.zeros((n_boot, n_groups)) for m, _, _ in METRICS}
    for g in range(n_groups):
        members = units.of_group(g)
        u = len(members)
        if u == 0 or n_boot == 0:
            continue
        draws = rng.integers(0, u, size=(n_boot, u))
        flat = (draws + u * np.arange(n_boot)[:, None]).ravel()
        weights = np.bincount(flat, minlength=n_boot * u).reshape(n_boot, u).astype(np.float64)
        for m, a, b in METRICS:
            num[m][:, g] = weights @ units.sums[a][members]
            den[m][:, g] = weights @ units.sums[b][members]
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for m, _, _ in METRICS:
            groups = num[m] / den[m]
            pooled = num[m].sum(axis=1) / den[m].sum(axis=1)
            groups[den[m] == 0] = np.nan
            pooled[den[m].sum(axis=1) == 0] = np.nan
            out[m] = np.c_[groups, pooled]
            out[f"{m}_parts"] = (num[m], den[m])
    return out


def _subset_sums(num, den, perm, state_box, n_pick, out_num, out_den):
    """Sums of ``num`` and ``den`` over ``len(out_num)`` uniformly random ``n_pick``-subsets of the
    units: a partial Fisher-Yates shuffle of ``perm`` (kept from subset to subset) driven by
    SplitMix64 from ``state_box[0]`` (a 32-bit draw per step), with the sums taken on the way
    instead of listing the subsets."""
    n_units = len(perm)
    state = state_box[0]
    for k in range(len(out_num)):
        sn = 0.0
        sd = 0.0
        for t in range(n_pick):
            state = state + np.uint64(0x9E3779B97F4A7C15)
            z = state
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            bits = z ^ (z >> np.uint64(31))
            # Lemire's multiply-shift: a uniform integer in [0, n_units - t) from the top 32 bits
            # (bias below (n_units - t) / 2**32, far under the Monte Carlo error)
            j = t + np.int64(((bits >> np.uint64(32)) * np.uint64(n_units - t)) >> np.uint64(32))
            drawn = perm[j]
            perm[j] = perm[t]
            perm[t] = drawn
            # the unit drawn into position t, not the one it displaced: summing the displaced unit
            # would sum the previous subset (the first one: the observed split itself, always "as
            # extreme", and every p-value at least 2 / (n + 1))
            sn += num[drawn]
            sd += den[drawn]
        out_num[k] = sn
        out_den[k] = sd
    state_box[0] = state


def _kernel():
    """The compiled loop (numba, on first use; memoised by :func:`fairaudit.verification.kernels._jit`)."""
    from fairaudit.verification.kernels import _jit

    return _jit(_subset_sums)


def permutation_pvalue(num: np.ndarray, den: np.ndarray, n_first: int, n_perm: int, seed: int) -> float:
    """Two-sided p-value of ``rate(first n_first units) - rate(the others)`` when the units are
    reshuffled between the two sides (units with a zero denominator are left out by the caller):
    ``(1 + #{|d_perm| >= |d_obs|}) / (1 + #defined d_perm)``."""
    u = len(num)
    if n_perm <= 0 or n_first == 0 or n_first == u:
        return float("nan")
    num = np.ascontiguousarray(num, dtype=np.float64)
    den = np.ascontiguousarray(den, dtype=np.float64)
    tot_n, tot_d = num.sum(), den.sum()
    a_n, a_d = num[:n_first].sum(), den[:n_first].sum()
    observed = a_n / a_d - (tot_n - a_n) / (tot_d - a_d)
    # draw the smaller side: a random subset of it, and its complement, is a random split
    pick_first = n_first <= u - n_first
    n_pick = n_first if pick_first else u - n_first
    pn = np.empty(n_perm)
    pd_ = np.empty(n_perm)
    _kernel()(num, den, np.arange(u, dtype=np.int64), np.array([seed], dtype=np.uint64), n_pick, pn, pd_)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = pn / pd_ - (tot_n - pn) / (tot_d - pd_)
    if not pick_first:
        d = -d
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    extreme = int(np.count_nonzero(np.abs(d) >= abs(observed) * (1.0 - TIE_TOLERANCE)))
    return (1.0 + extreme) / (1.0 + d.size)


def _ratio(a, b):
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.asarray(a, dtype=float) / np.asarray(b, dtype=float)
    return np.where(np.isfinite(r), r, np.nan)


def comparisons_table(units: UnitCounts, values: dict, reps: dict | None, labels: list, *, ci: float,
                      n_perm: int, rng: np.random.Generator) -> pd.DataFrame:
    """Pairs of groups (and each group against the rest with three groups or more) for every metric."""
    n_groups = len(labels)
    rows: list[dict] = []
    tests: list[tuple] = []
    sides = [(a, b) for a, b in combinations(range(n_groups), 2)]
    if n_groups >= 3:
        sides += [(a, None) for a in range(n_groups)]
    for metric, num_name, den_name in METRICS:
        num_all, den_all = units.sums[num_name], units.sums[den_name]
        parts = reps.get(f"{metric}_parts") if reps else None
        for a, b in sides:
            va = values[metric][a]
            if b is None:
                others = [g for g in range(n_groups) if g != a]
                sel_b = np.isin(units.group, others)
                vb_num, vb_den = num_all[sel_b].sum(), den_all[sel_b].sum()
                vb = vb_num / vb_den if vb_den > 0 else np.nan
                label_b = REST
            else:
                vb = values[metric][b]
                sel_b = units.group == b
                label_b = labels[b]
            ra = rb = None
            if parts is not None:
                n, d = parts
                with np.errstate(invalid="ignore", divide="ignore"):
                    ra = n[:, a] / d[:, a]
                    rb = (n[:, b] / d[:, b] if b is not None
                          else n[:, others].sum(axis=1) / d[:, others].sum(axis=1))
            seed = draw_seed(rng)
            sel_a = units.group == a
            keep_a = sel_a & (den_all > 0)
            keep_b = sel_b & (den_all > 0)
            order = np.r_[np.flatnonzero(keep_a), np.flatnonzero(keep_b)]
            tested = metric in TESTED and np.isfinite(va) and np.isfinite(vb)
            p = float("nan")
            if tested:
                tests.append((len(rows), (num_all[order], den_all[order], int(keep_a.sum()), n_perm, seed)))
            diff = va - vb
            ratio = float(_ratio(va, vb))
            if ra is not None:
                d_lo, d_hi = percentile_interval(ra - rb, ci)
                r_lo, r_hi = percentile_interval(_ratio(ra, rb), ci)
            else:
                d_lo = d_hi = r_lo = r_hi = np.nan
            rows.append({"metric": metric, "kind": "pair" if b is not None else "vs_rest",
                         "group_a": labels[a], "group_b": label_b, "value_a": va, "value_b": vb,
                         "difference": diff, "difference_ci_low": d_lo, "difference_ci_high": d_hi,
                         "ratio": ratio, "ratio_ci_low": r_lo, "ratio_ci_high": r_hi,
                         "p_value": p, "p_holm": np.nan, "n_perm": n_perm if np.isfinite(p) else 0})
    if not rows:
        return empty_comparisons()
    # the tests run in threads (the kernel releases the GIL); each has its own seed, drawn in table
    # order above, so the p-values do not depend on the number of threads
    from concurrent.futures import ThreadPoolExecutor

    from fairaudit.common.parallel import cpu_count

    if tests:
        with ThreadPoolExecutor(max(1, min(cpu_count(), len(tests)))) as pool:
            pvalues = list(pool.map(lambda job: permutation_pvalue(*job[1]), tests))
        for (row, _), p in zip(tests, pvalues):
            rows[row]["p_value"] = p
            rows[row]["n_perm"] = n_perm if np.isfinite(p) else 0
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    table["p_holm"] = holm(table["p_value"].to_numpy(dtype=float))
    table["n_perm"] = table["n_perm"].astype(np.int64)
    return table


#: fairness figures of verification renamed for 1:N: FMR -> FPIR, FNMR -> FNIR (NIST's 1:N reports)
FIGURE_NAMES = {"fmr_max_min": "fpir_max_min", "fnmr_max_min": "fnir_max_min"}


def _rename_rates(text):
    if not isinstance(text, str):
        return text
    for a, b in (("FNMR", "FNIR"), ("FMR", "FPIR"), ("fnmr", "fnir"), ("fmr", "fpir"),
                 ("impostor pairs", "non-mated searches"), ("genuine pairs", "mated searches")):
        text = text.replace(a, b)
    return text


def fairness(values: dict, reps: dict | None, labels: list, *, alpha: float, ci: float) -> pd.DataFrame:
    """The fairness figures of :mod:`fairaudit.verification.fairness` over FPIR (in FMR's place)
    and FNIR (in FNMR's), with bootstrap intervals."""
    from fairaudit.verification.fairness import fairness_table

    replicates = None
    if reps is not None:
        replicates = (reps["fpir"][:, :-1], reps["fnir"][:, :-1])
    table = fairness_table(values["fpir"], values["fnir"], labels=labels, alpha=alpha,
                           replicates=replicates, ci=ci)
    table = table.rename(index=FIGURE_NAMES)
    for col in ("reason", "formula", "direction"):
        if col in table.columns:
            table[col] = table[col].map(_rename_rates)
    return table


def interval_columns(by_group: pd.DataFrame, overall: pd.Series, reps: dict | None, units: UnitCounts,
                     *, ci: float, min_identities: int) -> None:
    """Add ``{metric}_ci_low``, ``_ci_high`` and ``_ci_method`` columns (in place): percentile
    intervals of the replicates, or Clopper-Pearson on an effective size where a group is below
    ``min_identities`` probe identities (the ``below_min_identities`` flag), has no error (for the
    rank-1 rate: no miss), or its percentile interval collapsed
    (:func:`fairaudit.verification.small_samples.honest_interval`)."""
    from fairaudit.verification.small_samples import honest_interval

    n_groups = len(by_group)
    spec = {"fnir": ("n_false_negatives", "n_mated", "n_mated_identities"),
            "fpir": ("n_false_positives", "n_nonmated", "n_nonmated_identities"),
            "rank1": (None, "n_mated", "n_mated_identities")}
    for metric in spec:
        for col in ("ci_low", "ci_high"):
            by_group[f"{metric}_{col}"] = np.nan
            overall[f"{metric}_{col}"] = np.nan
        by_group[f"{metric}_ci_method"] = ""
        overall[f"{metric}_ci_method"] = ""
    if reps is None:
        return
    for metric, (err_col, n_col, u_col) in spec.items():
        for g in range(n_groups + 1):
            row = overall if g == n_groups else by_group.iloc[g]
            r = reps[metric][:, g]
            pct = percentile_interval(r, ci)
            n = float(row[n_col])
            if not n > 0:
                lo, hi, method = np.nan, np.nan, ""
            else:
                # the small-group rule is the flag's (probe identities of the group); the exact
                # interval's units are the identities behind this rate
                small = int(row["n_identities"]) < int(min_identities)
                if err_col:
                    lo, hi, method = honest_interval(float(row[err_col]), n, float(row[u_col]), r, pct, ci,
                                                     small, int(row[u_col]))
                else:  # the rank-1 rate: the rules apply to its misses, the interval is mirrored
                    misses = float(round(n - float(row["rank1"]) * n))
                    lo, hi, method = honest_interval(misses, n, float(row[u_col]), 1.0 - r, (1.0 - pct[1], 1.0 - pct[0]),
                                                     ci, small, int(row[u_col]))
                    lo, hi = 1.0 - hi, 1.0 - lo
            if g == n_groups:
                overall[f"{metric}_ci_low"], overall[f"{metric}_ci_high"] = lo, hi
                overall[f"{metric}_ci_method"] = method
            else:
                by_group.iloc[g, by_group.columns.get_indexer(
                    [f"{metric}_ci_low", f"{metric}_ci_high", f"{metric}_ci_method"])] = [lo, hi, method]
