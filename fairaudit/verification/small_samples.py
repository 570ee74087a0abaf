"""Intervals that do not collapse on small groups, and the rules of thumb that flag thin figures.

A percentile bootstrap over identities collapses where it has nothing to resample: a group of two
identities has one impostor identity pair, so every replicate repeats its FMR; a group without an
error gives ``[0, 0]``. fairaudit then reports a Clopper-Pearson interval (Clopper & Pearson 1934)
on an *effective sample size* that accounts for the clustering of comparisons by identity
(Kish 1965's design effect): with ``x`` errors in ``n`` comparisons, ``p = x / n``,

* ``deff = var_boot * m / (m - 1) / (p (1 - p) / n)``, the variance of the identity bootstrap
  (with the usual ``m / (m - 1)`` correction for ``m`` identities, which a bootstrap of a mean
  underestimates by ``(m - 1) / m``) over the binomial variance, at least 1, and
  ``n_eff = n / deff`` with ``x_eff = p n_eff`` errors, when the bootstrap has spread and
  ``0 < p < 1``;
* otherwise (zero errors, all errors, a bootstrap without spread) ``n_eff`` = the number of
  independent units: identities for FNMR, identity pairs for FMR. With zero errors the upper
  bound is then ``1 - (alpha / 2) ** (1 / n_eff)``, the exact form of the rule of three
  (Jovanovic & Levy 1997) on those units.

The interval is ``[B(alpha/2; x_eff, n_eff - x_eff + 1), B(1 - alpha/2; x_eff + 1, n_eff - x_eff)]``
with ``B`` the beta quantile (0 and 1 at the ends). It replaces the percentile interval where the
group is below ``min_identities``, has no error, or the percentile interval has no width.

The EER is treated as an error rate at the EER threshold: ``p`` = EER, ``n`` = ``n_genuine +
n_impostor`` (the most the EER could know, as if every comparison were an independent trial:
by the delta method its variance is at least ``p (1 - p) / n``), so that ``n_eff = min(n, p (1 - p)
/ var)`` from the bootstrap variance as above; without spread or error, ``n_eff`` = the units of the
smaller side: ``min(identities, identity pairs)``.

A group comparison involving a replaced interval (or a group below ``min_identities``) combines the
two groups' intervals instead of taking the percentile interval of the paired differences:
Newcombe's (1998) square-and-add for the difference, and the same method of variance estimates
recovery (MOVER, Donner & Zou 2012) for the ratio.
"""

from __future__ import annotations

import numpy as np

#: Doddington's rule of 30 (Doddington et al. 2000; Mansfield & Wayman 2002, sec. 2.2): fewer than
#: 30 errors and the rate is not known to within +-30 % at 90 % confidence
RULE_OF_30 = 30
#: default minimum number of identities per group below which a group is flagged
DEFAULT_MIN_IDENTITIES = 30
METHOD_PERCENTILE = "percentile"
METHOD_EXACT = "clopper-pearson"
#: the method of a comparison's interval that combines the two groups' intervals
METHOD_NEWCOMBE = "newcombe"


def effective_size(errors: float, n: float, units: float, boot_var: float, n_identities: int) -> float:
    """The effective sample size ``n_eff`` of a clustered rate (see the module docstring)."""
    if n <= 0:
        return float("nan")
    p = errors / n
    if 0.0 < p < 1.0 and np.isfinite(boot_var) and boot_var > 0 and n_identities >= 2:
        var = boot_var * n_identities / (n_identities - 1.0)
        n_eff = n / max(1.0, var / (p * (1.0 - p) / n))
    else:
        n_eff = float(units)
    return float(min(max(n_eff, 1.0), n))


def clopper_pearson(x: float, n: float, ci: float) -> tuple[float, float]:
    """Clopper-Pearson interval for ``x`` successes in ``n`` trials (both may be fractional)."""
    from scipy.stats import beta

    if not n > 0:
        return float("nan"), float("nan")
    a = (1.0 - ci) / 2.0
    lo = 0.0 if x <= 0 else float(beta.ppf(a, x, n - x + 1.0))
    hi = 1.0 if x >= n else float(beta.ppf(1.0 - a, x + 1.0, n - x))
    return lo, hi


def honest_interval(errors: float, n: float, units: float, replicates: np.ndarray, percentile: tuple,
                    ci: float, small: bool, n_identities: int) -> tuple[float, float, str]:
    """The interval to report: the percentile interval, or Clopper-Pearson on ``n_eff`` where the
    group is small, has no error or the percentile interval collapsed. Returns ``(lo, hi, method)``."""
    lo, hi = percentile
    collapsed = not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo
    if not (small or errors == 0 or collapsed) or not n > 0:
        return float(lo), float(hi), METHOD_PERCENTILE
    x_eff, n_eff = exact_size(errors, n, units, replicates, n_identities)
    lo, hi = clopper_pearson(x_eff, n_eff, ci)
    return lo, hi, METHOD_EXACT


def exact_size(errors: float, n: float, units: float, replicates: np.ndarray, n_identities: int) -> tuple[float, float]:
    """``(x_eff, n_eff)``: the errors and the effective size behind a Clopper-Pearson interval."""
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    boot_var = float(np.var(reps, ddof=1)) if reps.size >= 2 else float("nan")
    n_eff = effective_size(errors, n, units, boot_var, n_identities)
    return errors / n * n_eff, n_eff


#: columns the small-sample rules add to ``VerificationResult.by_group``
FLAG_COLUMNS = ("n_false_matches", "n_false_non_matches", "fmr_ci_method", "fnmr_ci_method",
                "eer_ci_method", "fmr_below_rule_of_30", "fnmr_below_rule_of_30", "below_min_identities")


def add_flags(by_group, min_identities: int) -> list[str]:
    """Error counts and rule-of-thumb flags as columns of ``by_group`` (in place); the notes."""
    n_fm = np.rint(by_group["fmr"].to_numpy(dtype=float) * by_group["n_impostor"].to_numpy(dtype=float))
    n_fnm = np.rint(by_group["fnmr"].to_numpy(dtype=float) * by_group["n_genuine"].to_numpy(dtype=float))
    by_group["n_false_matches"] = np.where(np.isfinite(n_fm), n_fm, 0).astype(np.int64)
    by_group["n_false_non_matches"] = np.where(np.isfinite(n_fnm), n_fnm, 0).astype(np.int64)
    by_group["fmr_ci_method"] = ""
    by_group["fnmr_ci_method"] = ""
    has_eer = "eer" in by_group.columns
    if has_eer:
        by_group["eer_ci_method"] = ""
    by_group["fmr_below_rule_of_30"] = by_group["n_false_matches"] < RULE_OF_30
    by_group["fnmr_below_rule_of_30"] = by_group["n_false_non_matches"] < RULE_OF_30
    by_group["below_min_identities"] = by_group["n_identities"] < int(min_identities)
    return small_sample_notes(by_group, min_identities, units="identities",
                              intervals=(", and their FMR, FNMR and EER" if has_eer else ", and their FMR and FNMR")
                              + " intervals are Clopper-Pearson intervals on an effective sample size",
                              rates=(("FMR", "fmr_below_rule_of_30", "false matches"),
                                     ("FNMR", "fnmr_below_rule_of_30", "false non-matches")))


def small_sample_notes(by_group, min_identities: int, *, units: str, intervals: str,
                       rates: tuple[tuple[str, str, str], ...]) -> list[str]:
    """The notes on the groups flagged in ``by_group``: one on those below ``min_identities``
    (``units``: what is counted, ``intervals``: what it does to their intervals, '' for nothing),
    then one per ``(metric, flag column, what is counted)`` of ``rates`` on its rule-of-30 groups."""
    notes = []
    few = by_group.loc[by_group["below_min_identities"], "label"].tolist()
    if few:
        notes.append(f"Group(s) {', '.join(repr(x) for x in few)} have fewer than {int(min_identities)} "
                     f"{units} (min_identities): their figures rest on few people{intervals}.")
    for metric, col, what in rates:
        thin = by_group.loc[by_group[col], "label"].tolist()
        if thin:
            notes.append(f"{metric} of {', '.join(repr(x) for x in thin)} rests on fewer than {RULE_OF_30} "
                         f"{what} (Doddington's rule of 30): the rate is not known to within +-30 %.")
    return notes


def apply_intervals(by_group, g: int, *, fmr_reps, fnmr_reps, fmr_units: float, ci: float,
                    min_identities: int, eer_reps=None) -> None:
    """Replace group g's collapsed or small-group percentile intervals (in place); the EER's too
    when ``eer_reps`` are given (see the module docstring)."""
    row = by_group.iloc[g]
    m = float(row["n_identities"])
    small = int(m) < int(min_identities)
    todo = [(metric, reps, *rate_inputs(row, metric, fmr_units))
            for metric, reps in (("fmr", fmr_reps), ("fnmr", fnmr_reps), ("eer", eer_reps)) if reps is not None]
    for metric, reps, n, errors, units in todo:
        pct = (float(row[f"{metric}_ci_low"]), float(row[f"{metric}_ci_high"]))
        lo, hi, method = honest_interval(errors, n, units, reps, pct, ci, small, int(m))
        if not n > 0:
            method = ""
        by_group.iloc[g, by_group.columns.get_indexer([f"{metric}_ci_low", f"{metric}_ci_high",
                                                       f"{metric}_ci_method"])] = [lo, hi, method]


def rate_inputs(row, metric: str, fmr_units: float) -> tuple[float, float, float]:
    """``(n, errors, units)`` of ``metric`` in a ``by_group`` row, as :func:`honest_interval` takes
    them (``fmr_units``: the group's identity pairs with an impostor comparison)."""
    m, n_gen, n_imp = float(row["n_identities"]), float(row["n_genuine"]), float(row["n_impostor"])
    if metric == "fmr":
        return n_imp, float(row["n_false_matches"]), float(fmr_units)
    if metric == "fnmr":
        return n_gen, float(row["n_false_non_matches"]), m
    if not (n_gen > 0 and n_imp > 0 and np.isfinite(float(row["eer"]))):
        return 0.0, 0.0, m
    return n_gen + n_imp, float(row["eer"]) * (n_gen + n_imp), min(m, float(fmr_units))


def newcombe_difference(a: tuple, b: tuple) -> tuple[float, float]:
    """Newcombe's (1998) square-and-add interval of ``p_a - p_b`` from each side's ``(p, lo, hi)``
    (independent sides), within ``[-1, 1]``; NaN when a side is not finite."""
    (pa, la, ua), (pb, lb, ub) = a, b
    if not np.all(np.isfinite([pa, la, ua, pb, lb, ub])):
        return float("nan"), float("nan")
    d = pa - pb
    return (float(max(-1.0, d - np.hypot(pa - la, ub - pb))), float(min(1.0, d + np.hypot(ua - pa, pb - lb))))


def mover_ratio(a: tuple, b: tuple) -> tuple[float, float]:
    """The MOVER interval of ``p_a / p_b`` (Donner & Zou 2012) from each side's ``(p, lo, hi)``: the
    ratios r for which Newcombe's interval of ``p_a - r p_b`` holds 0. The upper bound is NaN (no
    finite bound: JSON has no infinity) when ``p_b`` may be 0 (``lo_b = 0``); both are NaN when
    ``p_b`` is 0 or a side is not finite."""
    (pa, la, ua), (pb, lb, ub) = a, b
    if not (np.all(np.isfinite([pa, la, ua, pb, lb, ub])) and pb > 0):
        return float("nan"), float("nan")
    la, ua, lb, ub = min(la, pa), max(ua, pa), min(lb, pb), max(ub, pb)
    c_lo, c_hi = la * (2 * pa - la), ua * (2 * pa - ua)  # pa^2 - (pa - la)^2, pa^2 - (ua - pa)^2
    q_lo, q_hi = ub * (2 * pb - ub), lb * (2 * pb - lb)  # pb^2 - (ub - pb)^2, pb^2 - (pb - lb)^2
    prod = pa * pb
    if q_lo == 0:
        lo = c_lo / (2 * prod) if prod > 0 else 0.0
    else:
        lo = (prod - np.sqrt(max(0.0, prod**2 - q_lo * c_lo))) / q_lo
    hi = float("nan") if q_hi <= 0 else (prod + np.sqrt(max(0.0, prod**2 - q_hi * c_hi))) / q_hi
    return float(max(0.0, lo)), float(hi)
