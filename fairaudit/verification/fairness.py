"""Fairness figures of a verification system from per-group FMR and FNMR.

All figures summarise, in one number, how unequal the per-group false match
rates (FMR) and false non-match rates (FNMR) are at one global threshold:

``fdr``
    Fairness Discrepancy Rate (de Freitas Pereira & Marcel, IEEE T-BIOM 2021),
    1 is perfectly fair.
``garbe``
    Gini Aggregate Rate for Biometric Equitability (Howard et al., 2022),
    0 is perfectly fair.
``inequity``
    Weighted geometric mean of the max/min ratios of FMR and FNMR (as in the
    NIST FRTE demographic summaries and Howard et al.), 1 is perfectly fair.
``fmr_max_min``, ``fnmr_max_min``
    The two max/min ratios on their own, 1 is perfectly fair.

Every function is vectorised over leading axes: rates of shape ``(..., G)``
(``G`` groups; the leading axes are typically bootstrap replicates) give
figures of shape ``(...)``, so that a whole bootstrap is one call instead of a
Python loop. A 1-D input gives a Python float.

A figure that cannot be computed (division by a zero rate, fewer than two
groups, a missing rate) is NaN -- never inf and never a RuntimeWarning -- so
that undefined bootstrap replicates can be counted rather than crash or
silently bias an interval. :func:`undefined_reason` says in words why.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.verification.fairness_kernels import (  # noqa: F401 - public here, in the order of the reference
    FIGURES,
    DIRECTION,
    FORMULA,
    RATES_SCALAR,
    RATES_SHAPE_MISMATCH,
    UNKNOWN_FIGURE,
    _check_alpha,
    _pair,
    _compute,
    max_pairwise_difference,
    fdr,
    gini,
    garbe,
    max_min_ratio,
    inequity_rate,
    compute_all,
)

# Message templates of this module. They follow the errors.py conventions
# (argument, expectation, what came, fix); they live here only because this
# module was written without touching errors.py and can be moved there as is.
RATES_NOT_1D = (
    "{name} must be a 1-D array with one rate per group; got an array of shape "
    "{shape}. Fix: pass the full-data rates here and bootstrap rates via replicates=."
)
LABELS_LENGTH = (
    "labels has {got} entries but there are {n} groups. Fix: give one label per group, "
    "in the order of the rates."
)
BAD_REPLICATES = (
    "replicates must be a pair (fmr_reps, fnmr_reps) of arrays of shape (n_boot, {n}); "
    "got {got}. Fix: stack one row of per-group rates per bootstrap replicate."
)

_RATE_FIX = {
    # Acceptance is score >= threshold, so a lower threshold accepts more impostors
    # (raises FMR) and a higher one rejects more genuine pairs (raises FNMR).
    "FMR": ("lower the threshold or collect more impostor pairs", "impostor"),
    "FNMR": ("raise the threshold or collect more genuine pairs", "genuine"),
}


# --- input handling -----------------------------------------------------------
def _check_ci(ci: Any) -> float:
    ok = isinstance(ci, numbers.Real) and not isinstance(ci, bool) and 0.0 < float(ci) < 1.0
    if not ok:
        raise errors.FairauditInputError(errors.BAD_CI.format(value=ci))
    return float(ci)


def _quote(labels: Sequence[str]) -> str:
    return ", ".join(repr(str(label)) for label in labels)


# --- explanations and the summary table ---------------------------------------
def _uses(figure: str, alpha: float) -> tuple[bool, bool]:
    """Whether ``figure`` at ``alpha`` depends on the FMR and on the FNMR."""
    if figure == "fmr_max_min":
        return True, False
    if figure == "fnmr_max_min":
        return False, True
    return alpha > 0.0, alpha < 1.0


def undefined_reason(
    figure: str, fmr: Any, fnmr: Any, labels: Sequence[Any], alpha: float = 0.5
) -> str:
    """Why a figure is undefined for these full-data rates, in one plain sentence.

    Parameters
    ----------
    figure : str
        One of :data:`FIGURES`.
    fmr, fnmr : array_like, shape (G,)
        Per-group rates. The caller normally removes groups without pairs
        first (see :func:`fairness_table`); a NaN rate is still explained.
    labels : sequence, length G
        Group labels used in the sentence.
    alpha : float, default 0.5
        As in the figure; a rate with weight 0 is not blamed.

    Returns
    -------
    str
        ``""`` when the figure is defined, otherwise a sentence starting with
        ``"undefined: "`` that names the cause, the groups and the fix. The
        sentence is empty exactly when the figure's value is finite.
    """
    if figure not in FIGURES:
        raise errors.FairauditInputError(UNKNOWN_FIGURE.format(value=figure, expected=list(FIGURES)))
    alpha = _check_alpha(alpha)
    a, b = _pair(fmr, fnmr)
    if a.ndim != 1:
        raise errors.FairauditInputError(RATES_NOT_1D.format(name="fmr", shape=a.shape))
    labels = [str(label) for label in labels]
    if len(labels) != a.shape[0]:
        raise errors.FairauditInputError(LABELS_LENGTH.format(got=len(labels), n=a.shape[0]))
    n = a.shape[0]
    if n < 2:
        return (
            f"undefined: fewer than 2 groups ({n} given), so there is nothing to "
            "compare; audit at least two groups that have pairs."
        )

    causes: list[str] = []
    for rate, name, used in zip((a, b), ("FMR", "FNMR"), _uses(figure, alpha)):
        if not used:
            continue
        fix, kind = _RATE_FIX[name]
        missing = np.isnan(rate)
        if missing.any():
            groups = _quote([labels[i] for i in np.flatnonzero(missing)])
            causes.append(
                f"the {name} of group(s) {groups} is missing because the group has no "
                f"{kind} pairs; collect {kind} pairs for it or leave it out."
            )
        elif figure == "garbe" and not rate.sum() > 0:
            causes.append(
                f"the {name} of every group ({_quote(labels)}) is 0 at this threshold, "
                f"so the Gini coefficient divides by a zero mean; {fix}."
            )
        elif figure in ("inequity", "fmr_max_min", "fnmr_max_min") and (rate <= 0).any():
            groups = _quote([labels[i] for i in np.flatnonzero(rate <= 0)])
            causes.append(
                f"the {name} of group(s) {groups} is 0 at this threshold, so the "
                f"max/min ratio divides by zero; {fix}."
            )
    if not causes and not np.isfinite(_compute(figure, a, b, alpha)):
        # Only reachable with absurd inputs (e.g. a subnormal rate overflowing a
        # ratio); kept so that "" always means "defined".
        causes.append("the figure is not a finite number for these rates.")
    if not causes:
        return ""
    return "undefined: " + " Also, ".join(causes)


def _check_replicates(replicates: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    def describe() -> str:
        try:
            return "shapes " + ", ".join(str(np.shape(r)) for r in replicates)
        except TypeError:
            return type(replicates).__name__

    if not isinstance(replicates, (tuple, list)) or len(replicates) != 2:
        raise errors.FairauditInputError(BAD_REPLICATES.format(n=n, got=describe()))
    reps_fmr, reps_fnmr = _pair(*replicates)
    if reps_fmr.ndim != 2 or reps_fmr.shape[1] != n:
        raise errors.FairauditInputError(BAD_REPLICATES.format(n=n, got=describe()))
    return reps_fmr, reps_fnmr


def fairness_table(
    fmr: Any,
    fnmr: Any,
    *,
    labels: Sequence[Any],
    alpha: float = 0.5,
    replicates: tuple[Any, Any] | None = None,
    ci: float = 0.95,
) -> pd.DataFrame:
    """All fairness figures with percentile intervals and plain-language status.

    Groups whose full-data FMR or FNMR is missing (NaN: the group has no
    impostor or no genuine pairs) are left out of every figure, including in
    the replicates, and every row's ``reason`` then ends with
    ``"(groups excluded for lack of pairs: 'X', 'Y')"`` -- so ``reason`` is
    non-empty for a defined figure in that case; ``defined`` is the flag to test.

    Parameters
    ----------
    fmr, fnmr : array_like, shape (G,)
        Full-data per-group rates at one global threshold.
    labels : sequence, length G
        Group labels, in the order of the rates.
    alpha : float, default 0.5
        FMR weight of ``fdr``, ``garbe`` and ``inequity``.
    replicates : tuple of two array_like of shape (B, G), optional
        ``(fmr_reps, fnmr_reps)``: per-group rates of B bootstrap replicates.
    ci : float, default 0.95
        Coverage of the percentile interval.

    Returns
    -------
    DataFrame
        Indexed by figure name (index name ``"figure"``, always the five rows of
        :data:`FIGURES`) with columns ``value`` (float, NaN if undefined),
        ``ci_low`` and ``ci_high`` (percentile interval over the replicates
        where the figure is defined; NaN without replicates or with fewer than
        2 defined), ``defined`` (bool), ``reason`` (str), ``n_boot_undefined``
        (int, replicates where the figure is undefined; 0 without replicates),
        ``direction`` and ``formula`` (str). ``attrs`` holds ``alpha``, ``ci``,
        ``n_boot`` and ``excluded_groups``.
    """
    alpha = _check_alpha(alpha)
    ci = _check_ci(ci)
    a, b = _pair(fmr, fnmr)
    if a.ndim != 1:
        raise errors.FairauditInputError(RATES_NOT_1D.format(name="fmr", shape=a.shape))
    labels = [str(label) for label in labels]
    if len(labels) != a.shape[0]:
        raise errors.FairauditInputError(LABELS_LENGTH.format(got=len(labels), n=a.shape[0]))

    keep = ~(np.isnan(a) | np.isnan(b))
    excluded = [labels[i] for i in np.flatnonzero(~keep)]
    kept_labels = [labels[i] for i in np.flatnonzero(keep)]
    note = f"(groups excluded for lack of pairs: {_quote(excluded)})" if excluded else ""
    values = compute_all(a[keep], b[keep], alpha)

    rep_values: dict[str, np.ndarray] | None = None
    n_boot = 0
    if replicates is not None:
        reps_fmr, reps_fnmr = _check_replicates(replicates, a.shape[0])
        n_boot = reps_fmr.shape[0]
        rep_values = compute_all(reps_fmr[:, keep], reps_fnmr[:, keep], alpha)

    tail = (1.0 - ci) / 2.0
    rows = []
    for name in FIGURES:
        value = float(values[name])
        reason = undefined_reason(name, a[keep], b[keep], kept_labels, alpha)
        if note:
            reason = f"{reason} {note}" if reason else note
        low = high = np.nan
        n_undefined = 0
        if rep_values is not None:
            reps = rep_values[name]
            ok = np.isfinite(reps)
            n_undefined = int(reps.size - ok.sum())
            # Undefined replicates are dropped and counted rather than imputed;
            # n_boot_undefined tells how much of the bootstrap the interval rests on.
            if ok.sum() >= 2:
                low, high = (float(q) for q in np.quantile(reps[ok], [tail, 1.0 - tail]))
        rows.append(
            {
                "value": value,
                "ci_low": low,
                "ci_high": high,
                "defined": bool(np.isfinite(value)),
                "reason": reason,
                "n_boot_undefined": n_undefined,
                "direction": DIRECTION[name],
                "formula": FORMULA[name],
            }
        )
    table = pd.DataFrame(rows, index=pd.Index(list(FIGURES), name="figure"))
    # Fix the dtypes so the table looks the same whatever the input (e.g. all-NaN
    # columns must stay float, counts int).
    table = table.astype(
        {
            "value": np.float64,
            "ci_low": np.float64,
            "ci_high": np.float64,
            "defined": bool,
            "n_boot_undefined": np.int64,
        }
    )
    table.attrs.update(alpha=alpha, ci=ci, n_boot=n_boot, excluded_groups=excluded)
    return table
