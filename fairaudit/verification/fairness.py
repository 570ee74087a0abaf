"""Fairness figures of a verification system from per-group FMR and FNMR (and EER).

All figures summarise, in one number, how unequal the per-group false match
rates (FMR) and false non-match rates (FNMR) are at one global threshold --
or, for ``eer_max_min`` and ``eer_sd``, the per-group equal error rates. The
default five (:data:`FIGURES`):

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
    The two max/min ratios on their own -- the skewed error ratio (SER) of the
    FMR and of the FNMR at the threshold --, 1 is perfectly fair.

Further figures (:data:`SPREAD_FIGURES`, :data:`EER_FIGURES`; all of them are
:data:`ALL_FIGURES`, what the verification audit reports):

``fmr_sd``, ``fnmr_sd``
    Population standard deviation of the group rates, 0 is perfectly fair.
``fmr_max_geomean``, ``fnmr_max_geomean``
    Largest ratio of a group's rate to the geometric mean of the group rates
    (NIST IR 8429), 1 is perfectly fair; :func:`ratios_to_geomean` gives the
    ratio of every group.
``eer_max_min``, ``eer_sd``
    SER and standard deviation of the per-group EER, when the EERs are given.

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
    SPREAD_FIGURES,
    EER_FIGURES,
    ALL_FIGURES,
    DIRECTION,
    FORMULA,
    RATES_SCALAR,
    RATES_SHAPE_MISMATCH,
    UNKNOWN_FIGURE,
    EER_SHAPE_MISMATCH,
    EER_NEEDED,
    BAD_FIGURES,
    _check_alpha,
    _pair,
    _eer,
    _figure_names,
    _compute,
    max_pairwise_difference,
    fdr,
    gini,
    garbe,
    max_min_ratio,
    inequity_rate,
    group_sd,
    ratio_to_geomean,
    max_geomean_ratio,
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
BAD_EER_REPLICATES = (
    "eer_replicates must be an array of shape ({n_boot}, {n}) (one row of per-group EERs per "
    "bootstrap replicate{same}); got shape {got}. Fix: stack the replicates' EERs in the order "
    "of the groups."
)
EER_REPLICATES_WITHOUT_EER = (
    "eer_replicates was given but eer=None. Fix: pass the full-data per-group EERs as eer= too, "
    "or drop eer_replicates."
)

_RATE_FIX = {
    # Acceptance is score >= threshold, so a lower threshold accepts more impostors
    # (raises FMR) and a higher one rejects more genuine pairs (raises FNMR).
    "FMR": ("lower the threshold or collect more impostor pairs", "impostor"),
    "FNMR": ("raise the threshold or collect more genuine pairs", "genuine"),
    # No threshold moves an EER: a zero EER means the group's genuine and impostor scores
    # do not overlap in this sample.
    "EER": ("collect more genuine and impostor pairs for the group(s), or read eer_sd, which "
            "stays defined", "genuine or impostor"),
}

#: figures that divide by the smallest group rate, and those that divide by the geometric mean
_MIN_RATIOS = ("inequity", "fmr_max_min", "fnmr_max_min", "eer_max_min")
_GEOMEAN_RATIOS = ("fmr_max_geomean", "fnmr_max_geomean")


# --- input handling -----------------------------------------------------------
def _check_ci(ci: Any) -> float:
    ok = isinstance(ci, numbers.Real) and not isinstance(ci, bool) and 0.0 < float(ci) < 1.0
    if not ok:
        raise errors.FairauditInputError(errors.BAD_CI.format(value=ci))
    return float(ci)


def _quote(labels: Sequence[str]) -> str:
    return ", ".join(repr(str(label)) for label in labels)


# --- explanations and the summary table ---------------------------------------
def _used(figure: str, alpha: float) -> tuple[str, ...]:
    """The rates (``"FMR"``, ``"FNMR"``, ``"EER"``) that ``figure`` at ``alpha`` depends on."""
    for prefix, rate in (("fmr_", "FMR"), ("fnmr_", "FNMR"), ("eer_", "EER")):
        if figure.startswith(prefix):
            return (rate,)
    return (("FMR",) if alpha > 0.0 else ()) + (("FNMR",) if alpha < 1.0 else ())


def undefined_reason(
    figure: str,
    fmr: Any,
    fnmr: Any,
    labels: Sequence[Any],
    alpha: float = 0.5,
    *,
    eer: Any = None,
) -> str:
    """Why a figure is undefined for these full-data rates, in one plain sentence.

    Parameters
    ----------
    figure : str
        One of :data:`ALL_FIGURES`.
    fmr, fnmr : array_like, shape (G,)
        Per-group rates. The caller normally removes groups without pairs
        first (see :func:`fairness_table`); a NaN rate is still explained.
    labels : sequence, length G
        Group labels used in the sentence.
    alpha : float, default 0.5
        As in the figure; a rate with weight 0 is not blamed.
    eer : array_like, shape (G,), optional
        Per-group EERs; needed for the figures of :data:`EER_FIGURES`.

    Returns
    -------
    str
        ``""`` when the figure is defined, otherwise a sentence starting with
        ``"undefined: "`` that names the cause, the groups and the fix. The
        sentence is empty exactly when the figure's value is finite.
    """
    if figure not in ALL_FIGURES:
        raise errors.FairauditInputError(UNKNOWN_FIGURE.format(value=figure, expected=list(ALL_FIGURES)))
    alpha = _check_alpha(alpha)
    a, b = _pair(fmr, fnmr)
    if a.ndim != 1:
        raise errors.FairauditInputError(RATES_NOT_1D.format(name="fmr", shape=a.shape))
    e = _eer(eer, a)
    if figure in EER_FIGURES and e is None:
        raise errors.FairauditInputError(EER_NEEDED.format(value=figure))
    labels = [str(label) for label in labels]
    if len(labels) != a.shape[0]:
        raise errors.FairauditInputError(LABELS_LENGTH.format(got=len(labels), n=a.shape[0]))
    n = a.shape[0]
    if n < 2:
        return (
            f"undefined: fewer than 2 groups ({n} given), so there is nothing to "
            "compare; audit at least two groups that have pairs."
        )

    rates = {"FMR": a, "FNMR": b, "EER": e}
    causes: list[str] = []
    for name in _used(figure, alpha):
        rate = rates[name]
        fix, kind = _RATE_FIX[name]
        where = "" if name == "EER" else " at this threshold"
        missing = np.isnan(rate)
        if missing.any():
            groups = _quote([labels[i] for i in np.flatnonzero(missing)])
            if name == "EER":
                causes.append(
                    f"the EER of group(s) {groups} is missing (NaN); pass a finite EER for "
                    "every group that has genuine and impostor pairs, or leave the group out."
                )
            else:
                causes.append(
                    f"the {name} of group(s) {groups} is missing because the group has no "
                    f"{kind} pairs; collect {kind} pairs for it or leave it out."
                )
        elif figure == "garbe" and not rate.sum() > 0:
            causes.append(
                f"the {name} of every group ({_quote(labels)}) is 0{where}, "
                f"so the Gini coefficient divides by a zero mean; {fix}."
            )
        elif figure in _MIN_RATIOS and (rate <= 0).any():
            groups = _quote([labels[i] for i in np.flatnonzero(rate <= 0)])
            causes.append(
                f"the {name} of group(s) {groups} is 0{where}, so the "
                f"max/min ratio divides by zero; {fix}."
            )
        elif figure in _GEOMEAN_RATIOS and (rate <= 0).any():
            groups = _quote([labels[i] for i in np.flatnonzero(rate <= 0)])
            causes.append(
                f"the {name} of group(s) {groups} is 0{where}, so the geometric "
                f"mean of the group rates is 0 and the ratio divides by zero; {fix}."
            )
    if not causes and not np.isfinite(_compute(figure, a, b, alpha, e)):
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


def _check_eer_replicates(eer_replicates: Any, n: int, n_boot: int | None) -> np.ndarray:
    """``eer_replicates`` as an array of shape (B, n); B must be ``n_boot`` when the FMR and
    FNMR replicates fixed it."""
    try:
        reps = np.asarray(eer_replicates, dtype=np.float64)
    except (TypeError, ValueError):
        reps = None
    ok = reps is not None and reps.ndim == 2 and reps.shape[1] == n
    if ok and n_boot is not None:
        ok = reps.shape[0] == n_boot
    if not ok:
        got = type(eer_replicates).__name__ if reps is None else str(reps.shape)
        raise errors.FairauditInputError(BAD_EER_REPLICATES.format(
            n_boot="n_boot" if n_boot is None else n_boot, n=n, got=got,
            same="" if n_boot is None else ", as many as in replicates"))
    # inf is as meaningless as a missing EER (as for the rates)
    return np.where(np.isfinite(reps), reps, np.nan)


def fairness_table(
    fmr: Any,
    fnmr: Any,
    *,
    labels: Sequence[Any],
    alpha: float = 0.5,
    replicates: tuple[Any, Any] | None = None,
    ci: float = 0.95,
    eer: Any = None,
    eer_replicates: Any = None,
    figures: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Fairness figures with percentile intervals and plain-language status.

    Groups whose full-data FMR or FNMR is missing (NaN: the group has no
    impostor or no genuine pairs) are left out of every figure, including in
    the replicates, and every row's ``reason`` then ends with
    ``"(groups excluded for lack of pairs: 'X', 'Y')"`` -- so ``reason`` is
    non-empty for a defined figure in that case; ``defined`` is the flag to test.
    The EER figures use the same groups; a kept group whose EER is missing
    makes them undefined, with a reason.

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
    eer : array_like, shape (G,), optional
        Full-data per-group EERs, for the rows of :data:`EER_FIGURES`.
    eer_replicates : array_like of shape (B, G), optional
        Per-group EERs of the bootstrap replicates (the same B replicates as
        ``replicates`` when both are given); intervals of the EER rows.
    figures : sequence of str, optional
        The rows, in order, from :data:`ALL_FIGURES`. Default: the five of
        :data:`FIGURES`, followed by those of :data:`EER_FIGURES` when ``eer``
        is given. The verification audit asks for :data:`ALL_FIGURES`.

    Returns
    -------
    DataFrame
        Indexed by figure name (index name ``"figure"``, one row per figure
        asked for, whatever the rates) with columns ``value`` (float, NaN if
        undefined), ``ci_low`` and ``ci_high`` (percentile interval over the
        replicates where the figure is defined; NaN without replicates or with
        fewer than 2 defined), ``defined`` (bool), ``reason`` (str),
        ``n_boot_undefined`` (int, replicates where the figure is undefined; 0
        without replicates), ``direction`` and ``formula`` (str). ``attrs``
        holds ``alpha``, ``ci``, ``n_boot`` and ``excluded_groups``.
    """
    alpha = _check_alpha(alpha)
    ci = _check_ci(ci)
    a, b = _pair(fmr, fnmr)
    if a.ndim != 1:
        raise errors.FairauditInputError(RATES_NOT_1D.format(name="fmr", shape=a.shape))
    e = _eer(eer, a)
    if eer_replicates is not None and e is None:
        raise errors.FairauditInputError(EER_REPLICATES_WITHOUT_EER)
    names = _figure_names(figures, e is not None)
    labels = [str(label) for label in labels]
    if len(labels) != a.shape[0]:
        raise errors.FairauditInputError(LABELS_LENGTH.format(got=len(labels), n=a.shape[0]))

    keep = ~(np.isnan(a) | np.isnan(b))
    excluded = [labels[i] for i in np.flatnonzero(~keep)]
    kept_labels = [labels[i] for i in np.flatnonzero(keep)]
    note = f"(groups excluded for lack of pairs: {_quote(excluded)})" if excluded else ""
    e_kept = None if e is None else e[keep]
    values = compute_all(a[keep], b[keep], alpha, eer=e_kept, figures=names)

    rep_values: dict[str, np.ndarray] = {}
    n_boot: int | None = None
    if replicates is not None:
        reps_fmr, reps_fnmr = _check_replicates(replicates, a.shape[0])
        n_boot = reps_fmr.shape[0]
        rate_names = [name for name in names if name not in EER_FIGURES]
        rep_values.update(compute_all(reps_fmr[:, keep], reps_fnmr[:, keep], alpha, figures=rate_names))
    if eer_replicates is not None:
        reps_eer = _check_eer_replicates(eer_replicates, a.shape[0], n_boot)
        n_boot = reps_eer.shape[0]
        for name in names:
            if name in EER_FIGURES:  # they read the EERs only
                rep_values[name] = np.asarray(_compute(name, None, None, alpha, reps_eer[:, keep]))

    tail = (1.0 - ci) / 2.0
    rows = []
    for name in names:
        value = float(values[name])
        reason = undefined_reason(name, a[keep], b[keep], kept_labels, alpha, eer=e_kept)
        if note:
            reason = f"{reason} {note}" if reason else note
        low = high = np.nan
        n_undefined = 0
        if name in rep_values:
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
    table = pd.DataFrame(rows, index=pd.Index(list(names), name="figure"),
                         columns=["value", "ci_low", "ci_high", "defined", "reason",
                                  "n_boot_undefined", "direction", "formula"])
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
    table.attrs.update(alpha=alpha, ci=ci, n_boot=n_boot or 0, excluded_groups=excluded)
    return table


def ratios_to_geomean(fmr: Any, fnmr: Any) -> dict[str, np.ndarray]:
    """Every group's FMR and FNMR over the geometric mean of the group rates (NIST IR 8429).

    The per-group values behind ``fmr_max_geomean`` and ``fnmr_max_geomean``
    of :func:`fairness_table`, over the same groups: a group whose FMR or FNMR
    is missing (no impostor or no genuine pairs) is left out of both geometric
    means and gets NaN, so the largest defined ratio is the table's value.

    Parameters
    ----------
    fmr, fnmr : array_like, shape (G,)
        Full-data per-group rates at one global threshold.

    Returns
    -------
    dict
        ``{"fmr_vs_geomean": ndarray (G,), "fnmr_vs_geomean": ndarray (G,)}``.
        A rate's ratios are all NaN (its geometric mean is 0) when a kept
        group's rate is 0, and when fewer than 2 groups are kept.
    """
    a, b = _pair(fmr, fnmr)
    if a.ndim != 1:
        raise errors.FairauditInputError(RATES_NOT_1D.format(name="fmr", shape=a.shape))
    keep = ~(np.isnan(a) | np.isnan(b))
    out = {}
    for name, rate in (("fmr_vs_geomean", a), ("fnmr_vs_geomean", b)):
        column = np.full(rate.shape, np.nan)
        column[keep] = ratio_to_geomean(rate[keep])
        out[name] = column
    return out
