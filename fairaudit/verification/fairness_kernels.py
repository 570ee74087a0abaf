"""The fairness figures: their names (:data:`FIGURES`), directions and formulas, and the kernels
that compute them over per-group rates of shape ``(..., G)``: :func:`fdr`, :func:`garbe` and
:func:`gini`, :func:`max_min_ratio`, :func:`inequity_rate`, :func:`max_pairwise_difference` and
:func:`compute_all`. Public through :mod:`fairaudit.verification.fairness` (``fairaudit.fairness``),
which also explains and tabulates them.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

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
RATES_SHAPE_MISMATCH = (
    "fmr has shape {fmr_shape} but fnmr has shape {fnmr_shape}. Fix: pass both rates "
    "for the same groups (and replicates) in the same order."
)
UNKNOWN_FIGURE = (
    "figure={value!r} is not a fairness figure; expected one of {expected}. Fix: pass "
    "one of them."
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
