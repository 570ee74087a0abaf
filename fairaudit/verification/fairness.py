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

#: names of the fairness figures, in the order of :func:`fairness_table`
FIGURES = ("fdr", "garbe", "inequity", "fmr_max_min", "fnmr_max_min")

#: which way is fairer, per figure
DIRECTION = {
    "fdr": "higher is fairer",
    "garbe": "lower is fairer",
    "inequity": "lower is fairer",
    "fmr_max_min": "lower is fairer",
    "fnmr_max_min": "lower is fairer",
}

#: short text formula, per figure
FORMULA = {
    "fdr": "1 - (alpha * max|FMR_i - FMR_j| + (1 - alpha) * max|FNMR_i - FNMR_j|)",
    "garbe": (
        "alpha * Gini(FMR) + (1 - alpha) * Gini(FNMR), "
        "Gini(x) = n/(n-1) * sum_ij |x_i - x_j| / (2 n^2 mean(x))"
    ),
    "inequity": "(max FMR / min FMR)^alpha * (max FNMR / min FNMR)^(1 - alpha)",
    "fmr_max_min": "max FMR / min FMR",
    "fnmr_max_min": "max FNMR / min FNMR",
}

# Message templates of this module. They follow the errors.py conventions
# (argument, expectation, what came, fix); they live here only because this
# module was written without touching errors.py and can be moved there as is.
RATES_SCALAR = (
    "{name} must have a last axis of groups; got a scalar. Fix: pass one rate per "
    "group, e.g. np.array([0.01, 0.02, 0.04])."
)
RATES_NOT_1D = (
    "{name} must be a 1-D array with one rate per group; got an array of shape "
    "{shape}. Fix: pass the full-data rates here and bootstrap rates via replicates=."
)
RATES_SHAPE_MISMATCH = (
    "fmr has shape {fmr_shape} but fnmr has shape {fnmr_shape}. Fix: pass both rates "
    "for the same groups (and replicates) in the same order."
)
LABELS_LENGTH = (
    "labels has {got} entries but there are {n} groups. Fix: give one label per group, "
    "in the order of the rates."
)
UNKNOWN_FIGURE = (
    "figure={value!r} is not a fairness figure; expected one of {expected}. Fix: pass "
    "one of them."
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
def _check_alpha(alpha: Any) -> float:
    ok = (
        isinstance(alpha, numbers.Real)
        and not isinstance(alpha, bool)
        and 0.0 <= float(alpha) <= 1.0
    )
    if not ok:
        raise errors.FairauditInputError(errors.BAD_ALPHA.format(value=alpha))
    return float(alpha)


def _check_ci(ci: Any) -> float:
    ok = isinstance(ci, numbers.Real) and not isinstance(ci, bool) and 0.0 < float(ci) < 1.0
    if not ok:
        raise errors.FairauditInputError(errors.BAD_CI.format(value=ci))
    return float(ci)


def _rates(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a float64 array of shape (..., G) with inf turned into NaN."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        raise errors.FairauditInputError(RATES_SCALAR.format(name=name))
    # An infinite rate is as meaningless as a missing one; mapping it to NaN keeps
    # inf - inf and inf / inf (which warn) out of every later step.
    return np.where(np.isfinite(arr), arr, np.nan)


def _pair(fmr: Any, fnmr: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _rates(fmr, "fmr"), _rates(fnmr, "fnmr")
    if a.shape != b.shape:
        raise errors.FairauditInputError(
            RATES_SHAPE_MISMATCH.format(fmr_shape=a.shape, fnmr_shape=b.shape)
        )
    return a, b


def _result(arr: np.ndarray) -> float | np.ndarray:
    """A 0-d result as a Python float, anything else as a float64 array."""
    arr = np.asarray(arr, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _nan(shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, np.nan)


def _quote(labels: Sequence[str]) -> str:
    return ", ".join(repr(str(label)) for label in labels)


# --- array kernels (always ndarray out) ----------------------------------------
def _spread(x: np.ndarray) -> np.ndarray:
    # max_ij |x_i - x_j| is max - min: O(G) instead of the O(G^2) double loop.
    if x.shape[-1] < 2:
        return _nan(x.shape[:-1])
    return x.max(axis=-1) - x.min(axis=-1)


def _ratio(x: np.ndarray) -> np.ndarray:
    if x.shape[-1] < 2:
        return _nan(x.shape[:-1])
    hi, lo = x.max(axis=-1), x.min(axis=-1)
    out = _nan(hi.shape)
    # `where` skips zero (and NaN) minima, so nothing divides by zero and the
    # skipped entries keep their NaN.
    with np.errstate(over="ignore"):
        np.divide(hi, lo, out=out, where=lo > 0)
    # Only a subnormal minimum can overflow; such a ratio is no more meaningful
    # than a division by zero.
    out[np.isinf(out)] = np.nan
    return out


def _gini(x: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    if n < 2:
        return _nan(x.shape[:-1])
    xs = np.sort(x, axis=-1)
    # For sorted values, sum_i sum_j |x_i - x_j| = 2 * sum_k (2k - n - 1) x_(k)
    # (k = 1..n), an O(G log G) form of the double sum. The weights sum to zero,
    # so subtracting the minimum changes nothing mathematically but makes equal
    # rates give exactly 0 instead of rounding noise.
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    half_sum = ((xs - xs[..., :1]) * weights).sum(axis=-1)
    total = xs.sum(axis=-1)
    # n/(n-1) * 2*half_sum / (2 n^2 mean) = half_sum / ((n-1) * sum)
    out = _nan(total.shape)
    np.divide(half_sum, (n - 1) * total, out=out, where=total > 0)
    # Rounding can leave a -1e-17 where the exact value is 0; a Gini is never
    # negative. np.maximum keeps NaN.
    return np.maximum(out, 0.0)


def _mix(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    # A term with weight 0 is dropped, not multiplied by 0: 0 * NaN is NaN, and an
    # FMR-only figure (alpha=1) must not become undefined because of the FNMR.
    if alpha == 1.0:
        return a
    if alpha == 0.0:
        return b
    return alpha * a + (1.0 - alpha) * b


def _geo(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    # Same reason as _mix: NaN**0 is 1 in IEEE arithmetic but a zero minimum in
    # the unused rate should not even be looked at.
    if alpha == 1.0:
        return a
    if alpha == 0.0:
        return b
    return a**alpha * b ** (1.0 - alpha)


def _compute(figure: str, fmr: np.ndarray, fnmr: np.ndarray, alpha: float) -> np.ndarray:
    if figure == "fdr":
        return 1.0 - _mix(_spread(fmr), _spread(fnmr), alpha)
    if figure == "garbe":
        return _mix(_gini(fmr), _gini(fnmr), alpha)
    if figure == "inequity":
        return _geo(_ratio(fmr), _ratio(fnmr), alpha)
    if figure == "fmr_max_min":
        return _ratio(fmr)
    if figure == "fnmr_max_min":
        return _ratio(fnmr)
    raise errors.FairauditInputError(UNKNOWN_FIGURE.format(value=figure, expected=list(FIGURES)))


# --- public figures -------------------------------------------------------------
def max_pairwise_difference(x: Any) -> float | np.ndarray:
    """Largest absolute difference between two groups, ``max_ij |x_i - x_j|``.

    Parameters
    ----------
    x : array_like, shape (..., G)
        Per-group rates; the last axis is the groups.

    Returns
    -------
    float or ndarray, shape (...)
        ``max(x) - min(x)`` over the last axis; NaN when ``G < 2`` or a rate is
        missing (NaN).
    """
    return _result(_spread(_rates(x, "x")))


def fdr(fmr: Any, fnmr: Any, alpha: float = 0.5) -> float | np.ndarray:
    """Fairness Discrepancy Rate of de Freitas Pereira & Marcel (IEEE T-BIOM 2021).

    ``FDR = 1 - (alpha * A + (1 - alpha) * B)`` with ``A = max_ij |FMR_i - FMR_j|``
    and ``B = max_ij |FNMR_i - FNMR_j|``. 1 is perfectly fair; since rates lie in
    [0, 1], so does FDR.

    Parameters
    ----------
    fmr, fnmr : array_like, shape (..., G)
        Per-group false match and false non-match rates at one global threshold.
    alpha : float, default 0.5
        Weight of the FMR term, in [0, 1]. A term with weight 0 is ignored.

    Returns
    -------
    float or ndarray, shape (...)
        NaN when ``G < 2`` or a used rate is missing.
    """
    alpha = _check_alpha(alpha)
    return _result(_compute("fdr", *_pair(fmr, fnmr), alpha))


def gini(x: Any) -> float | np.ndarray:
    """Gini coefficient with the small-sample correction used by GARBE.

    ``Gini = n/(n-1) * sum_i sum_j |x_i - x_j| / (2 n^2 mean(x))``. The factor
    ``n/(n-1)`` makes the maximum 1 (all error in one group) for any ``n``.

    Parameters
    ----------
    x : array_like, shape (..., G)
        Per-group rates, non-negative.

    Returns
    -------
    float or ndarray, shape (...)
        In [0, 1]; NaN when ``G < 2``, ``mean(x) == 0`` or a rate is missing.
    """
    return _result(_gini(_rates(x, "x")))


def garbe(fmr: Any, fnmr: Any, alpha: float = 0.5) -> float | np.ndarray:
    """Gini Aggregate Rate for Biometric Equitability (Howard et al., 2022).

    ``GARBE = alpha * Gini(FMR) + (1 - alpha) * Gini(FNMR)``, see :func:`gini`.
    0 is perfectly fair.

    Parameters
    ----------
    fmr, fnmr : array_like, shape (..., G)
        Per-group false match and false non-match rates at one global threshold.
    alpha : float, default 0.5
        Weight of the FMR term, in [0, 1]. A term with weight 0 is ignored, so
        ``alpha=1`` is defined even when every FNMR is 0.

    Returns
    -------
    float or ndarray, shape (...)
        NaN when a used Gini is undefined.
    """
    alpha = _check_alpha(alpha)
    return _result(_compute("garbe", *_pair(fmr, fnmr), alpha))


def max_min_ratio(x: Any) -> float | np.ndarray:
    """Ratio of the largest to the smallest group rate, ``max(x) / min(x)``.

    Parameters
    ----------
    x : array_like, shape (..., G)
        Per-group rates, non-negative.

    Returns
    -------
    float or ndarray, shape (...)
        At least 1; NaN when ``min(x) == 0``, ``G < 2`` or a rate is missing.
    """
    return _result(_ratio(_rates(x, "x")))


def inequity_rate(fmr: Any, fnmr: Any, alpha: float = 0.5) -> float | np.ndarray:
    """Inequity rate ``(max/min FMR)^alpha * (max/min FNMR)^(1 - alpha)``.

    As in the NIST FRTE demographic summaries and Howard et al. (2022). 1 is
    perfectly fair.

    Parameters
    ----------
    fmr, fnmr : array_like, shape (..., G)
        Per-group false match and false non-match rates at one global threshold.
    alpha : float, default 0.5
        Exponent of the FMR ratio, in [0, 1]. At ``alpha=1`` (``0``) the FNMR
        (FMR) ratio is not used at all, so a zero minimum there does not matter.

    Returns
    -------
    float or ndarray, shape (...)
        NaN when a used minimum is 0, ``G < 2`` or a used rate is missing.
    """
    alpha = _check_alpha(alpha)
    return _result(_compute("inequity", *_pair(fmr, fnmr), alpha))


def compute_all(fmr: Any, fnmr: Any, alpha: float = 0.5) -> dict[str, np.ndarray]:
    """All figures of :data:`FIGURES` in one call.

    Parameters
    ----------
    fmr, fnmr : array_like, shape (..., G)
        Per-group rates; leading axes are e.g. bootstrap replicates.
    alpha : float, default 0.5
        FMR weight of ``fdr``, ``garbe`` and ``inequity``.

    Returns
    -------
    dict of str to ndarray
        One float64 array of shape ``(...)`` per figure name -- 0-d for 1-D
        input -- so that callers can always index or stack the values.
    """
    alpha = _check_alpha(alpha)
    a, b = _pair(fmr, fnmr)
    return {name: np.asarray(_compute(name, a, b, alpha), dtype=np.float64) for name in FIGURES}


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
