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
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    boot_var = float(np.var(reps, ddof=1)) if reps.size >= 2 else float("nan")
    n_eff = effective_size(errors, n, units, boot_var, n_identities)
    lo, hi = clopper_pearson(errors / n * n_eff, n_eff, ci)
    return lo, hi, METHOD_EXACT


#: columns the small-sample rules add to ``VerificationResult.by_group``
FLAG_COLUMNS = ("n_false_matches", "n_false_non_matches", "fmr_ci_method", "fnmr_ci_method",
                "fmr_below_rule_of_30", "fnmr_below_rule_of_30", "below_min_identities")


def add_flags(by_group, min_identities: int) -> list[str]:
    """Error counts and rule-of-thumb flags as columns of ``by_group`` (in place); the notes."""
    n_fm = np.rint(by_group["fmr"].to_numpy(dtype=float) * by_group["n_impostor"].to_numpy(dtype=float))
    n_fnm = np.rint(by_group["fnmr"].to_numpy(dtype=float) * by_group["n_genuine"].to_numpy(dtype=float))
    by_group["n_false_matches"] = np.where(np.isfinite(n_fm), n_fm, 0).astype(np.int64)
    by_group["n_false_non_matches"] = np.where(np.isfinite(n_fnm), n_fnm, 0).astype(np.int64)
    by_group["fmr_ci_method"] = ""
    by_group["fnmr_ci_method"] = ""
    by_group["fmr_below_rule_of_30"] = by_group["n_false_matches"] < RULE_OF_30
    by_group["fnmr_below_rule_of_30"] = by_group["n_false_non_matches"] < RULE_OF_30
    by_group["below_min_identities"] = by_group["n_identities"] < int(min_identities)
    return small_sample_notes(by_group, min_identities, units="identities",
                              intervals=", and their FMR and FNMR intervals are Clopper-Pearson intervals on "
                                        "an effective sample size",
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
                    min_identities: int) -> None:
    """Replace group g's collapsed or small-group percentile intervals (in place)."""
    row = by_group.iloc[g]
    small = int(row["n_identities"]) < int(min_identities)
    for metric, reps, n_col, e_col, units in (
            ("fmr", fmr_reps, "n_impostor", "n_false_matches", fmr_units),
            ("fnmr", fnmr_reps, "n_genuine", "n_false_non_matches", float(row["n_identities"]))):
        pct = (float(row[f"{metric}_ci_low"]), float(row[f"{metric}_ci_high"]))
        lo, hi, method = honest_interval(float(row[e_col]), float(row[n_col]), units, reps, pct, ci, small,
                                         int(row["n_identities"]))
        if not float(row[n_col]) > 0:
            method = ""
        by_group.iloc[g, by_group.columns.get_indexer([f"{metric}_ci_low", f"{metric}_ci_high",
                                                       f"{metric}_ci_method"])] = [lo, hi, method]
