"""The figures the report marks: their readable names and fair values, the default pass / review /
fail bands (``DEFAULT_TOLERANCES``), the user's bands checked and merged with them
(``resolve_tolerances``) and the mark of a value or an interval against a band (``mark``)."""

from __future__ import annotations

import copy
import json
import math
import numbers
import os
from pathlib import Path
from typing import Any, Mapping

from fairaudit.common import errors
from fairaudit.reporting.entries import RESULT_FILE_MISSING, RESULT_FILE_NOT_JSON
from fairaudit.reporting.formatting import _float, _g, _one_line

DEFAULT_TOLERANCES: dict[str, dict[str, Any]] = {
    # verification (fairness table of a VerificationResult)
    "fnmr_max_min": {"pass": 1.25, "review": 2.0, "better": "lower"},
    "fmr_max_min": {"pass": 1.25, "review": 2.0, "better": "lower"},
    "inequity": {"pass": 1.25, "review": 2.0, "better": "lower"},
    "fdr": {"pass": 0.95, "review": 0.90, "better": "higher"},
    "garbe": {"pass": 0.05, "review": 0.15, "better": "lower"},
    # identification (fairness table of an IdentificationResult; fdr, garbe and inequity as above)
    "fnir_max_min": {"pass": 1.25, "review": 2.0, "better": "lower"},
    "fpir_max_min": {"pass": 1.25, "review": 2.0, "better": "lower"},
    # classification (fairness table of a ClassificationResult, per model)
    "accuracy_difference": {"pass": 0.02, "review": 0.05, "better": "lower"},
    "accuracy_ratio": {"pass": 0.98, "review": 0.95, "better": "higher"},
    "demographic_parity_difference": {"pass": 0.05, "review": 0.10, "better": "lower"},
    "demographic_parity_ratio": {"pass": 0.90, "review": 0.80, "better": "higher"},
    "equalized_odds_difference": {"pass": 0.05, "review": 0.10, "better": "lower"},
    "equalized_odds_ratio": {"pass": 0.90, "review": 0.80, "better": "higher"},
    # covariate audit (the regressions' odds ratio of a group against the reference after adjusting for the
    # covariates, folded to >= 1: max(OR, 1 / OR))
    "fnmr_adjusted_or": {"pass": 1.25, "review": 2.0, "better": "lower"},
    "fmr_adjusted_or": {"pass": 1.25, "review": 2.0, "better": "lower"},
}
"""Default pass / review / fail bands of every marked figure.

Each entry maps a figure name to ``{"pass": p, "review": r, "better": b}``.
For ``better="lower"`` a value ``<= p`` passes, ``<= r`` needs review and
anything larger fails; for ``better="higher"`` the comparisons are ``>=``.
The mark is decided on the point estimate; when the confidence interval
reaches into other bands the finding lists them (``ci_marks``) and its
sentence says so. An undefined figure gets no mark: it is shown as
"undefined" with the reason.

The defaults are a starting point for a review, not a standard:

* ``fnmr_max_min``, ``fmr_max_min``, ``inequity`` (max/min ratios, 1 is
  fair): pass up to 1.25 (a 25 % relative difference), review up to 2.
  The 1:N audit's ``fnir_max_min`` and ``fpir_max_min`` have the same bands,
  and its ``fdr``, ``garbe`` and ``inequity`` (over FPIR and FNIR) share the
  bands of the verification figures of the same name.
  Note that FMR ratios of 10 or more between demographic groups are common
  in NIST FRTE reports, so most systems fail ``fmr_max_min``.
* ``fdr`` (1 is fair): pass from 0.95, review from 0.90.
* ``garbe`` (0 is fair): pass up to 0.05, review up to 0.15.
* ``accuracy_difference`` (classification, between test groups): pass up to
  0.02, review up to 0.05; ``accuracy_ratio``: pass from 0.98, review from 0.95.
* ``demographic_parity_*`` and ``equalized_odds_*`` (fairlearn, binary
  targets only): differences pass up to 0.05 and need review up to 0.10;
  ratios pass from 0.9 and need review from 0.8 (the "four-fifths rule").
* ``fnmr_adjusted_or``, ``fmr_adjusted_or`` (covariate audit: the odds ratio
  of a false non-match / false match of a group against the reference group
  after adjusting for the covariates, folded to ``max(OR, 1 / OR)``, 1 is
  fair): pass up to 1.25, review up to 2, like the max/min ratios. A gap that
  survives adjustment (its interval excludes 1) is marked at least
  ``review`` even when its point estimate is in the pass band
  (:data:`SURVIVING_GAP_MARK`).

Override any of them with ``tolerances={"fnmr_max_min": {"pass": 1.1,
"review": 1.5}}`` (or a JSON file of that shape); the direction of a known
figure cannot be changed. ``{"garbe": None}`` turns the mark of a figure off.
"""

#: readable names of the figures the report marks or shows
FIGURE_NAMES = {
    "fdr": "FDR (fairness discrepancy rate)",
    "garbe": "GARBE (Gini aggregate rate)",
    "inequity": "Inequity rate",
    "fmr_max_min": "FMR max/min ratio",
    "fnmr_max_min": "FNMR max/min ratio",
    "eer_max_min": "EER max/min ratio",
    "fmr_sd": "FMR standard deviation",
    "fnmr_sd": "FNMR standard deviation",
    "eer_sd": "EER standard deviation",
    "fmr_max_geomean": "FMR max/geometric mean",
    "fnmr_max_geomean": "FNMR max/geometric mean",
    "fnir_max_min": "FNIR max/min ratio",
    "fpir_max_min": "FPIR max/min ratio",
    "accuracy_difference": "Accuracy difference",
    "accuracy_ratio": "Accuracy ratio",
    "demographic_parity_difference": "Demographic parity difference",
    "demographic_parity_ratio": "Demographic parity ratio",
    "equalized_odds_difference": "Equalized odds difference",
    "equalized_odds_ratio": "Equalized odds ratio",
    "fnmr_adjusted_or": "FNMR odds ratio after adjustment",
    "fmr_adjusted_or": "FMR odds ratio after adjustment",
}
#: value of each figure for a perfectly fair system
FAIR_VALUE = {
    "fdr": 1.0, "garbe": 0.0, "inequity": 1.0, "fmr_max_min": 1.0, "fnmr_max_min": 1.0,
    "fnir_max_min": 1.0, "fpir_max_min": 1.0, "eer_max_min": 1.0, "fmr_sd": 0.0, "fnmr_sd": 0.0, "eer_sd": 0.0,
    "fmr_max_geomean": 1.0, "fnmr_max_geomean": 1.0,
    "accuracy_difference": 0.0, "accuracy_ratio": 1.0, "demographic_parity_difference": 0.0,
    "demographic_parity_ratio": 1.0, "equalized_odds_difference": 0.0, "equalized_odds_ratio": 1.0,
    "fnmr_adjusted_or": 1.0, "fmr_adjusted_or": 1.0,
}
#: the least mark of a covariate audit's gap that survives adjustment (its interval excludes 1)
SURVIVING_GAP_MARK = "review"

# --- message templates (errors.py conventions: argument, expectation, what came, fix)
UNKNOWN_TOLERANCE = (
    "tolerances names the figure {name!r}, which the report does not mark; known figures: "
    "{known}. Fix: use one of them."
)
BAD_TOLERANCE = (
    "tolerances[{name!r}]={value!r} must be null or a mapping with numbers 'pass' and 'review' "
    "({rule}). Fix: pass e.g. {example}."
)
BAD_TOLERANCE_DIRECTION = (
    "tolerances[{name!r}] sets better={value!r}, but for this figure {better} values are "
    "fairer. Fix: drop 'better'."
)
TOLERANCES_NOT_MAPPING = (
    "tolerances must be None, a mapping of figure name -> {{'pass': x, 'review': y}} or the path "
    "of a JSON file holding one; got {got}. Fix: pass e.g. {{'fnmr_max_min': {{'pass': 1.1, "
    "'review': 1.5}}}}."
)


def resolve_tolerances(tolerances: Any = None) -> dict[str, dict[str, Any] | None]:
    """:data:`DEFAULT_TOLERANCES` updated with the user's bands.

    Parameters
    ----------
    tolerances : mapping, str, path or None
        ``{figure: {"pass": p, "review": r}}`` (or ``None`` to switch the mark
        of that figure off), or the path of a JSON file holding such a
        mapping. Figures not named keep their default.

    Returns
    -------
    dict
        Every figure of :data:`DEFAULT_TOLERANCES`, mapped to
        ``{"pass", "review", "better"}`` or None.

    Raises
    ------
    FairauditInputError
        On an unknown figure, a non-numeric band, bands in the wrong order
        (for ``better="lower"``, ``pass <= review``) or a changed direction.
    """
    out: dict[str, dict[str, Any] | None] = copy.deepcopy(DEFAULT_TOLERANCES)  # type: ignore[arg-type]
    if tolerances is None:
        return out
    if isinstance(tolerances, (str, os.PathLike)):
        path = Path(tolerances)
        if not path.exists():
            raise errors.FairauditInputError(RESULT_FILE_MISSING.format(name="tolerances", path=str(path)))
        try:
            tolerances = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.FairauditInputError(
                RESULT_FILE_NOT_JSON.format(name="tolerances", path=str(path), error=_one_line(exc))) from None
    if not isinstance(tolerances, Mapping):
        raise errors.FairauditInputError(TOLERANCES_NOT_MAPPING.format(got=type(tolerances).__name__))
    for name, value in tolerances.items():
        if name not in DEFAULT_TOLERANCES:
            raise errors.FairauditInputError(
                UNKNOWN_TOLERANCE.format(name=name, known=", ".join(DEFAULT_TOLERANCES)))
        default = DEFAULT_TOLERANCES[name]
        better = default["better"]
        rule = "pass <= review, lower is fairer" if better == "lower" else "pass >= review, higher is fairer"
        example = {"pass": default["pass"], "review": default["review"]}
        if value is None:
            out[name] = None
            continue
        if not isinstance(value, Mapping) or "pass" not in value or "review" not in value:
            raise errors.FairauditInputError(
                BAD_TOLERANCE.format(name=name, value=value, rule=rule, example=example))
        if "better" in value and value["better"] != better:
            raise errors.FairauditInputError(
                BAD_TOLERANCE_DIRECTION.format(name=name, value=value["better"], better=better))
        extra = set(value) - {"pass", "review", "better"}
        bands = [value["pass"], value["review"]]
        ok = not extra and all(isinstance(b, numbers.Real) and not isinstance(b, bool)
                               and math.isfinite(float(b)) for b in bands)
        if ok:
            p, r = float(bands[0]), float(bands[1])
            ok = p <= r if better == "lower" else p >= r
        if not ok:
            raise errors.FairauditInputError(
                BAD_TOLERANCE.format(name=name, value=dict(value), rule=rule, example=example))
        out[name] = {"pass": float(value["pass"]), "review": float(value["review"]), "better": better}
    return out


def mark(value: Any, tolerance: Mapping[str, Any] | None) -> str | None:
    """``"pass"``, ``"review"`` or ``"fail"`` for a value against one tolerance.

    None when the value is undefined (None, NaN, inf) or there is no tolerance.
    """
    v = _float(value)
    if tolerance is None or v is None:
        return None
    if tolerance["better"] == "lower":
        return "pass" if v <= tolerance["pass"] else "review" if v <= tolerance["review"] else "fail"
    return "pass" if v >= tolerance["pass"] else "review" if v >= tolerance["review"] else "fail"


def _ci_marks(low: Any, high: Any, tolerance: Mapping[str, Any] | None) -> list[str]:
    """The bands a confidence interval touches, in the order pass, review, fail."""
    lo, hi = _float(low), _float(high)
    if tolerance is None or lo is None or hi is None:
        return []
    touched = {mark(lo, tolerance), mark(hi, tolerance)}
    order = ["pass", "review", "fail"]
    ends = sorted(order.index(m) for m in touched if m)
    return order[ends[0]:ends[-1] + 1] if ends else []


def _tolerance_text(tolerance: Mapping[str, Any] | None) -> str:
    if tolerance is None:
        return "not marked"
    op = "≤" if tolerance["better"] == "lower" else "≥"
    return f"pass {op} {_g(tolerance['pass'])}, review {op} {_g(tolerance['review'])}"
