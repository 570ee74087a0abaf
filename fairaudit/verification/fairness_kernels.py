"""The fairness figures: their names (:data:`FIGURES`, :data:`ALL_FIGURES`), directions and
formulas, and the kernels that compute them over per-group rates of shape ``(..., G)``:
:func:`fdr`, :func:`garbe` and :func:`gini`, :func:`max_min_ratio` (the skewed error ratio),
:func:`inequity_rate`, :func:`max_pairwise_difference`, :func:`group_sd`,
:func:`ratio_to_geomean` and :func:`max_geomean_ratio`, and :func:`compute_all`. Public through
:mod:`fairaudit.verification.fairness` (``fairaudit.fairness``), which also explains and
tabulates them.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

import numpy as np

from fairaudit.common import errors

#: the default figures, in the order of :func:`fairness_table`'s default rows
FIGURES = ("fdr", "garbe", "inequity", "fmr_max_min", "fnmr_max_min")

#: further figures over FMR and FNMR: the spread of the group rates (population standard
#: deviation) and NIST IR 8429's largest ratio to the geometric mean of the group rates
SPREAD_FIGURES = ("fmr_sd", "fnmr_sd", "fmr_max_geomean", "fnmr_max_geomean")

#: figures over the per-group EER: defined only when the EERs are given
EER_FIGURES = ("eer_max_min", "eer_sd")

#: every figure, in table order (what the verification audit reports)
ALL_FIGURES = FIGURES + SPREAD_FIGURES + EER_FIGURES

#: which way is fairer, per figure
DIRECTION = {name: "higher is fairer" if name == "fdr" else "lower is fairer" for name in ALL_FIGURES}

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
    **{f"{r.lower()}_sd": f"sqrt(sum_i ({r}_i - mean {r})^2 / n) (population SD, ddof = 0)"
       for r in ("FMR", "FNMR", "EER")},
    **{f"{r.lower()}_max_geomean": f"max_i {r}_i / geomean({r}), geomean(x) = (prod_i x_i)^(1/n)"
       for r in ("FMR", "FNMR")},
    "eer_max_min": "max EER / min EER (skewed error ratio of the EER)",
}

# Message templates of this module. They follow the errors.py conventions
# (argument, expectation, what came, fix); they live here only because this
# module was written without touching errors.py and can be moved there as is.
RATES_SCALAR = (
    "{name} must have a last axis of groups; got a scalar. Fix: pass one rate per "
    "group, e.g. np.array([0.01, 0.02, 0.04])."
)
RATES_SHAPE_MISMATCH = (
    "fmr has shape {fmr_shape} but fnmr has shape {fnmr_shape}. Fix: pass both rates "
    "for the same groups (and replicates) in the same order."
)
UNKNOWN_FIGURE = (
    "figure={value!r} is not a fairness figure; expected one of {expected}. Fix: pass "
    "one of them."
)
EER_SHAPE_MISMATCH = (
    "eer has shape {eer_shape} but fmr has shape {fmr_shape}. Fix: pass one EER per group "
    "(and replicate), in the order of the FMR and FNMR."
)
EER_NEEDED = (
    "figure {value!r} is computed from the per-group EER, but eer=None. Fix: pass eer= "
    "(one EER per group) or leave {value!r} out of figures=."
)
BAD_FIGURES = (
    "figures={value!r} must be None or a sequence of distinct figure names from {expected}. "
    "Fix: pass e.g. figures=fairness.ALL_FIGURES."
)


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


def _eer(eer: Any, like: np.ndarray) -> np.ndarray | None:
    """``eer`` as rates of the shape of ``like`` (the FMR), or None."""
    arr = None if eer is None else _rates(eer, "eer")
    if arr is not None and arr.shape != like.shape:
        raise errors.FairauditInputError(EER_SHAPE_MISMATCH.format(eer_shape=arr.shape, fmr_shape=like.shape))
    return arr


def _figure_names(figures: Any, has_eer: bool) -> tuple[str, ...]:
    """The figures to compute: the default (:data:`FIGURES`, plus :data:`EER_FIGURES` when the
    EERs are given) or the names asked for, checked."""
    if figures is None:
        return FIGURES + (EER_FIGURES if has_eer else ())
    ok = isinstance(figures, Sequence) and not isinstance(figures, str)
    if not (ok and all(isinstance(n, str) for n in figures) and len(set(figures)) == len(figures)):
        raise errors.FairauditInputError(BAD_FIGURES.format(value=figures, expected=list(ALL_FIGURES)))
    for name in figures:
        if name not in ALL_FIGURES:
            raise errors.FairauditInputError(UNKNOWN_FIGURE.format(value=name, expected=list(ALL_FIGURES)))
        if name in EER_FIGURES and not has_eer:
            raise errors.FairauditInputError(EER_NEEDED.format(value=name))
    return tuple(figures)


def _result(arr: np.ndarray) -> float | np.ndarray:
    """A 0-d result as a Python float, anything else as a float64 array."""
    arr = np.asarray(arr, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _nan(shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, np.nan)


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


def _sd(x: np.ndarray) -> np.ndarray:
    if x.shape[-1] < 2:
        return _nan(x.shape[:-1])
    # The population SD is shift invariant; taking the first group's rate off first makes
    # equal rates give exactly 0 (their mean would otherwise round away from them). NaN
    # propagates without a warning.
    shifted = x - x[..., :1]
    dev = shifted - shifted.mean(axis=-1, keepdims=True)
    return np.sqrt((dev * dev).mean(axis=-1))


def _vs_geomean(x: np.ndarray) -> np.ndarray:
    out = _nan(x.shape)
    if x.shape[-1] < 2:
        return out
    positive = x > 0  # False for NaN: a missing rate leaves its whole row undefined
    ok = positive.all(axis=-1)
    logs = np.zeros(x.shape)
    np.log(x, out=logs, where=positive)
    # x_g / geomean(x) = exp(log x_g - mean log x); shifting the logs by the first group's
    # makes equal rates give exactly 1.
    logs = logs - logs[..., :1]
    dev = logs - logs.mean(axis=-1, keepdims=True)
    with np.errstate(over="ignore"):
        ratio = np.exp(dev)
    # Only subnormal rates can overflow; such a row is as undefined as one with a zero rate.
    ok &= np.isfinite(ratio).all(axis=-1)
    np.copyto(out, ratio, where=ok[..., None])
    return out


def _max_geomean(x: np.ndarray) -> np.ndarray:
    if x.shape[-1] < 2:
        return _nan(x.shape[:-1])
    # The largest rate is never below the geometric mean; rounding of the mean log could put
    # it a hair under 1. np.maximum keeps NaN.
    return np.maximum(_vs_geomean(x).max(axis=-1), 1.0)


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


def _compute(
    figure: str,
    fmr: np.ndarray | None,
    fnmr: np.ndarray | None,
    alpha: float,
    eer: np.ndarray | None = None,
) -> np.ndarray:
    # The EER figures read only ``eer`` (the rates may then be None), the others only the rates.
    if figure in EER_FIGURES:
        if eer is None:
            raise errors.FairauditInputError(EER_NEEDED.format(value=figure))
        return _ratio(eer) if figure == "eer_max_min" else _sd(eer)
    if figure == "fmr_sd":
        return _sd(fmr)
    if figure == "fnmr_sd":
        return _sd(fnmr)
    if figure == "fmr_max_geomean":
        return _max_geomean(fmr)
    if figure == "fnmr_max_geomean":
        return _max_geomean(fnmr)
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
    raise errors.FairauditInputError(UNKNOWN_FIGURE.format(value=figure, expected=list(ALL_FIGURES)))


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

    This is the skewed error ratio (SER) of Wang & Deng (CVPR 2020) and the max/min summary of
    the NIST FRTE demographic reports: of the FMR or FNMR at one threshold (``fmr_max_min``,
    ``fnmr_max_min``) or of the per-group EER (``eer_max_min``).

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


def group_sd(x: Any) -> float | np.ndarray:
    """Population standard deviation of the group rates, ``sqrt(mean((x - mean(x))**2))``.

    ``ddof=0``: the groups are the whole set being compared, not a sample of groups, so the
    figure describes their spread (as ``np.std`` does by default).

    Parameters
    ----------
    x : array_like, shape (..., G)
        Per-group rates; the last axis is the groups.

    Returns
    -------
    float or ndarray, shape (...)
        In the units of the rates, at least 0 (0 when all groups are equal, also when they are
        all 0); NaN when ``G < 2`` or a rate is missing.
    """
    return _result(_sd(_rates(x, "x")))


def ratio_to_geomean(x: Any) -> np.ndarray:
    """Each group's rate over the geometric mean of the group rates, ``x_g / geomean(x)``.

    The per-group ratios of NIST IR 8429 (FRTE demographic summaries): a group at 3 makes three
    times the errors of the "typical" group, whatever the number of groups. The geometric mean
    suits rates that span orders of magnitude.

    Parameters
    ----------
    x : array_like, shape (..., G)
        Per-group rates, non-negative.

    Returns
    -------
    ndarray, shape (..., G)
        The ratios (their product over the groups is 1). A whole row is NaN when ``G < 2``, a
        rate is 0 (the geometric mean is then 0) or a rate is missing.
    """
    return np.asarray(_vs_geomean(_rates(x, "x")), dtype=np.float64)


def max_geomean_ratio(x: Any) -> float | np.ndarray:
    """The largest group rate over the geometric mean of the group rates, ``max_g x_g / geomean(x)``.

    The summary of :func:`ratio_to_geomean` (NIST IR 8429): at least 1 and at most
    :func:`max_min_ratio`.

    Parameters
    ----------
    x : array_like, shape (..., G)
        Per-group rates, non-negative.

    Returns
    -------
    float or ndarray, shape (...)
        NaN when ``G < 2``, a rate is 0 or a rate is missing.
    """
    return _result(_max_geomean(_rates(x, "x")))


def compute_all(
    fmr: Any,
    fnmr: Any,
    alpha: float = 0.5,
    *,
    eer: Any = None,
    figures: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Several figures in one call: by default those of :data:`FIGURES`.

    Parameters
    ----------
    fmr, fnmr : array_like, shape (..., G)
        Per-group rates; leading axes are e.g. bootstrap replicates.
    alpha : float, default 0.5
        FMR weight of ``fdr``, ``garbe`` and ``inequity``.
    eer : array_like, shape (..., G), optional
        Per-group EERs, for the figures of :data:`EER_FIGURES`.
    figures : sequence of str, optional
        Names from :data:`ALL_FIGURES`, in the order wanted. Default: :data:`FIGURES`, followed
        by :data:`EER_FIGURES` when ``eer`` is given.

    Returns
    -------
    dict of str to ndarray
        One float64 array of shape ``(...)`` per figure name -- 0-d for 1-D
        input -- so that callers can always index or stack the values.
    """
    alpha = _check_alpha(alpha)
    a, b = _pair(fmr, fnmr)
    e = _eer(eer, a)
    names = _figure_names(figures, e is not None)
    return {name: np.asarray(_compute(name, a, b, alpha, e), dtype=np.float64) for name in names}
