"""The HTML fairness report: one self-contained file, findings first.

:func:`report` writes one HTML file for any mix of results
(:class:`~fairaudit.verification.VerificationResult`,
:class:`~fairaudit.classification.ClassificationResult`,
:class:`~fairaudit.diagnostics.DiagnosticsResult`, their ``to_dict()``
dictionaries or the paths of their JSON files). The file

* needs nothing else: figures are inline PNG ``data:`` URIs, the CSS and the
  few lines of JavaScript (sortable tables) are inline, there is no font,
  stylesheet, script or image to fetch, and a Content-Security-Policy
  ``<meta>`` forbids the browser to fetch anything, so the report opens
  offline and leaks nothing when opened;
* is readable without JavaScript and prints well (``@media print``, a page
  break before every section);
* is rendered by Jinja2 with autoescaping on: group names, titles and notes
  come from user data and are always shown as text, never interpreted.

The sections are, in order: findings (headline figures with confidence
intervals, plain-language sentences and a pass / review / fail mark against
:data:`DEFAULT_TOLERANCES`), data, verification, classification, diagnostics
and method. :func:`report_data` returns everything the report shows as
JSON-safe data (schema in ``docs/reference/json-schema.md``);
``fairaudit report RESULT.json ... --out report.html`` rebuilds the report
from result JSON files.

The module is callable: ``fairaudit.report(results, path)`` is
``fairaudit.report.report(results, path)``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import numbers
import os
import sys
import time
import types
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit import __version__
from fairaudit.common import errors
from fairaudit.data import POOLED, labels_of
from fairaudit.common.figures import literal
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable

#: identifies the layout of :func:`report_data` output
SCHEMA = "fairaudit.report/1"

#: result kinds the report knows, in the order of their sections
KINDS = ("verification", "classification", "diagnostics")

DEFAULT_TOLERANCES: dict[str, dict[str, Any]] = {
    # verification (fairness table of a VerificationResult)
    "fnmr_max_min": {"pass": 1.25, "review": 2.0, "better": "lower"},
    "fmr_max_min": {"pass": 1.25, "review": 2.0, "better": "lower"},
    "inequity": {"pass": 1.25, "review": 2.0, "better": "lower"},
    "fdr": {"pass": 0.95, "review": 0.90, "better": "higher"},
    "garbe": {"pass": 0.05, "review": 0.15, "better": "lower"},
    # classification (fairness table of a ClassificationResult, per model)
    "accuracy_difference": {"pass": 0.02, "review": 0.05, "better": "lower"},
    "accuracy_ratio": {"pass": 0.98, "review": 0.95, "better": "higher"},
    "demographic_parity_difference": {"pass": 0.05, "review": 0.10, "better": "lower"},
    "demographic_parity_ratio": {"pass": 0.90, "review": 0.80, "better": "higher"},
    "equalized_odds_difference": {"pass": 0.05, "review": 0.10, "better": "lower"},
    "equalized_odds_ratio": {"pass": 0.90, "review": 0.80, "better": "higher"},
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
  Note that FMR ratios of 10 or more between demographic groups are common
  in NIST FRTE reports, so most systems fail ``fmr_max_min``.
* ``fdr`` (1 is fair): pass from 0.95, review from 0.90.
* ``garbe`` (0 is fair): pass up to 0.05, review up to 0.15.
* ``accuracy_difference`` (classification, between test groups): pass up to
  0.02, review up to 0.05; ``accuracy_ratio``: pass from 0.98, review from 0.95.
* ``demographic_parity_*`` and ``equalized_odds_*`` (fairlearn, binary
  targets only): differences pass up to 0.05 and need review up to 0.10;
  ratios pass from 0.9 and need review from 0.8 (the "four-fifths rule").

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
    "accuracy_difference": "Accuracy difference",
    "accuracy_ratio": "Accuracy ratio",
    "demographic_parity_difference": "Demographic parity difference",
    "demographic_parity_ratio": "Demographic parity ratio",
    "equalized_odds_difference": "Equalized odds difference",
    "equalized_odds_ratio": "Equalized odds ratio",
}
#: value of each figure for a perfectly fair system
FAIR_VALUE = {
    "fdr": 1.0, "garbe": 0.0, "inequity": 1.0, "fmr_max_min": 1.0, "fnmr_max_min": 1.0,
    "accuracy_difference": 0.0, "accuracy_ratio": 1.0, "demographic_parity_difference": 0.0,
    "demographic_parity_ratio": 1.0, "equalized_odds_difference": 0.0, "equalized_odds_ratio": 1.0,
}
#: verification figures shown among the findings, in order
VERIFICATION_HEADLINE = ("fnmr_max_min", "fmr_max_min", "fdr", "garbe", "inequity")
#: classification figures shown among the findings (all six are marked in the classification section)
CLASSIFICATION_HEADLINE = ("accuracy_difference", "equalized_odds_difference", "demographic_parity_difference")
#: order of the classification figures in findings
CLASSIFICATION_ORDER = ("accuracy_difference", "accuracy_ratio", "equalized_odds_difference",
                        "equalized_odds_ratio", "demographic_parity_difference", "demographic_parity_ratio")
#: classification figures defined for binary targets only
BINARY_ONLY = frozenset({"demographic_parity_difference", "demographic_parity_ratio",
                         "equalized_odds_difference", "equalized_odds_ratio"})
#: a test group with fewer test samples (per seed) than this gets a warning in the data section
SMALL_TEST_GROUP = 50
#: resolution of the report's figures
FIGURE_DPI = 110

# --- message templates (errors.py conventions: argument, expectation, what came, fix)
NO_RESULTS = (
    "results is empty. Fix: pass a result, a list of results, or a dict of name -> result "
    "(VerificationResult, ClassificationResult, DiagnosticsResult or their to_dict())."
)
NOT_A_RESULT = (
    "{name} is not a fairaudit result: expected a VerificationResult, ClassificationResult, "
    "DiagnosticsResult, its to_dict() or the path of its JSON file; got {got}. Fix: pass what "
    "an audit returned, or the JSON written by result.to_json()."
)
UNKNOWN_KIND = (
    "{name} has kind={kind!r}, not one of {kinds}. Fix: pass the JSON written by "
    "result.to_json() of a verification, classification or diagnostics result."
)
BROKEN_RESULT = (
    "{name} has kind={kind!r} but cannot be read as such a result ({error}). Fix: pass the JSON "
    "written by result.to_json() of the same fairaudit version, unmodified."
)
RESULT_FILE_MISSING = "{name}: file {path!r} does not exist. Fix: check the path."
RESULT_FILE_IS_DIR = "{name}: {path!r} is a directory, not a result file. Fix: pass the JSON file itself."
RESULT_FILE_UNREADABLE = "{name}: file {path!r} cannot be read ({error}). Fix: check its permissions."
RESULT_FILE_NOT_JSON = (
    "{name}: file {path!r} is not valid JSON ({error}). Fix: pass the JSON written by "
    "result.to_json() or report_data()."
)
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
BAD_POPULATION = (
    "population must be None or the EmbeddingSet the results were computed from; got {got}. "
    "Fix: pass the EmbeddingSet (its failures give the failure-to-acquire rates)."
)
NOT_REPORT_DATA = (
    "data is not the output of report_data() (schema {got!r}, expected {expected!r}). Fix: pass "
    "what report_data() returned, or its JSON."
)


# ==========================================================================
# tolerances and marks
# ==========================================================================
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


# ==========================================================================
# number formatting
# ==========================================================================
def _float(value: Any) -> float | None:
    """A finite float, or None for None / NaN / inf / non-numbers."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _g(value: float) -> str:
    """Short form of a parameter such as a tolerance or an FMR target (1e-3, 0.95, 2)."""
    v = float(value)
    if v != 0 and abs(v) < 1e-2:
        mantissa, exponent = f"{v:.0e}".split("e")
        if float(mantissa) * 10 ** int(exponent) == v:
            return f"{mantissa}e{int(exponent)}"
    return f"{v:g}"


def _target(value: float) -> str:
    """An FMR target as people write it: 1e-3, 1e-2, 0.1."""
    v = float(value)
    if 0 < v < 0.1:
        mantissa, exponent = f"{v:.0e}".split("e")
        if float(f"{mantissa}e{exponent}") == v:
            return f"{mantissa}e{int(exponent)}"
    return f"{v:g}"


def fmt_num(value: Any, *, digits: int = 4, missing: str = "n/a") -> str:
    """Format a number for a table or a sentence.

    Integers get thousands separators; rates below 1e-3 scientific notation
    (``9.99e-04``); other numbers ``digits`` significant digits; None and NaN
    become ``missing``.
    """
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (numbers.Integral, np.integer)):
        return f"{int(value):,}"
    v = _float(value)
    if v is None:
        if isinstance(value, str):
            return value
        return missing
    if v == 0:
        return "0"
    a = abs(v)
    if a < 1e-3:
        return f"{v:.{max(digits - 2, 1)}e}"
    if a >= 10 ** digits:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def fmt_count(value: Any) -> str:
    """An integer count with thousands separators (floats from JSON included)."""
    v = _float(value)
    return "n/a" if v is None else f"{int(round(v)):,}"


def _fmt_like(value: Any, ref: Any) -> str:
    """``value`` with as many decimals as 3 significant digits of ``ref`` need.

    So that a value and its interval read alike: ``0.832 (0.800–0.864)``
    rather than ``0.832 (0.8–0.864)``. Rates below 1e-3 stay scientific.
    """
    v, r = _float(value), _float(ref)
    if v is None:
        return fmt_num(value, digits=3)
    if r is None or r == 0 or abs(r) < 1e-3 or abs(r) >= 1e4:
        return fmt_num(v, digits=3)
    decimals = min(max(2 - int(math.floor(math.log10(abs(r)))), 0), 6)
    return f"{v:.{decimals}f}"


def _ci_text(low: Any, high: Any, level: float | None, *, ref: Any = None) -> str:
    lo, hi = _float(low), _float(high)
    if lo is None or hi is None:
        return ""
    pct = f"{100 * level:g} % " if level else ""
    if ref is None:
        return f"{pct}CI {fmt_num(lo, digits=3)}–{fmt_num(hi, digits=3)}"
    return f"{pct}CI {_fmt_like(lo, ref)}–{_fmt_like(hi, ref)}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ==========================================================================
# inputs
# ==========================================================================
@dataclass
class _Entry:
    """One result of the report, with its id and display name."""

    id: str
    name: str
    kind: str
    result: Any


def _result_classes() -> dict[str, Any]:
    from fairaudit.classification import ClassificationResult
    from fairaudit.diagnostics import DiagnosticsResult
    from fairaudit.verification import VerificationResult

    return {"verification": VerificationResult, "classification": ClassificationResult,
            "diagnostics": DiagnosticsResult}


def load_result(obj: Any, *, name: str = "result") -> Any:
    """A result object from a result, its ``to_dict()`` or the path of its JSON file.

    Raises
    ------
    FairauditInputError
        When the file is missing or not JSON, or the data is not a result.
    """
    if not isinstance(obj, (str, os.PathLike, Mapping)):
        # a result object; importing the result classes loads scikit-learn, so only here
        classes = _result_classes()
        if isinstance(obj, tuple(classes.values())):
            return obj
        raise errors.FairauditInputError(NOT_A_RESULT.format(name=name, got=type(obj).__name__))
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if not path.exists():
            raise errors.FairauditInputError(RESULT_FILE_MISSING.format(name=name, path=str(obj)))
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.FairauditInputError(
                RESULT_FILE_NOT_JSON.format(name=name, path=str(path), error=_one_line(exc))) from None
        name = f"{name} {str(path)!r}"
    if not isinstance(obj, Mapping):
        raise errors.FairauditInputError(NOT_A_RESULT.format(name=name, got=type(obj).__name__))
    if "kind" not in obj:
        if obj.get("schema") == SCHEMA:
            raise errors.FairauditInputError(NOT_A_RESULT.format(
                name=name, got="report data (pass it to render() or to the CLI as the only file)"))
        raise errors.FairauditInputError(NOT_A_RESULT.format(
            name=name, got="a JSON object without 'kind' (keys: " + ", ".join(list(map(str, obj))[:6]) + ")"))
    kind = obj.get("kind")
    if kind not in KINDS:
        raise errors.FairauditInputError(UNKNOWN_KIND.format(name=name, kind=kind, kinds=list(KINDS)))
    try:
        return _result_classes()[kind].from_dict(dict(obj))
    except errors.FairauditInputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise errors.FairauditInputError(
            BROKEN_RESULT.format(name=name, kind=kind, error=_one_line(exc) or type(exc).__name__)) from None


def _auto_name(result: Any) -> str:
    kind = result.kind
    by = " × ".join(str(b) for b in result.by)
    if kind == "verification":
        policy = result.policy or {}
        if policy.get("kind") == "fmr":
            where = f"at FMR {_target(policy['value'])}"
        elif policy.get("kind") == "eer":
            where = "at the pooled EER threshold"
        else:
            where = f"at threshold {result.threshold:.4g}"
        return f"Verification by {by} {where}"
    if kind == "classification":
        split = (result.params.get("split") or {}).get("name", "?")
        target = " & ".join(result.target)
        return f"Classification of {target} by {by}, split {split}"
    return f"Embedding diagnostics by {by}"


def _entries(results: Any) -> list[_Entry]:
    if isinstance(results, Mapping) and "kind" not in results and "schema" not in results:
        items = [(str(k), v) for k, v in results.items() if v is not None]
    elif isinstance(results, (list, tuple)):
        items = [(None, v) for v in results]
    else:
        items = [(None, results)]
    if not items:
        raise errors.FairauditInputError(NO_RESULTS)
    entries: list[_Entry] = []
    used: dict[str, int] = {}
    for i, (name, value) in enumerate(items):
        label = f"results[{name!r}]" if name is not None else (f"results[{i}]" if len(items) > 1 else "results")
        result = load_result(value, name=label)
        display = name if name is not None else _auto_name(result)
        used[display] = used.get(display, 0) + 1
        if used[display] > 1:
            display = f"{display} ({used[display]})"
        entries.append(_Entry(id=f"r{i + 1}", name=display, kind=result.kind, result=result))
    # sections list results by kind, so ids follow that order too
    entries.sort(key=lambda e: KINDS.index(e.kind))
    for i, entry in enumerate(entries):
        entry.id = f"r{i + 1}"
    return entries


# ==========================================================================
# findings
# ==========================================================================
def _finding(entry: _Entry, *, key: str, kind: str, sentence: str, figure: str | None = None,
             label: str | None = None, model: str | None = None, value: Any = None, ci_low: Any = None,
             ci_high: Any = None, ci: float | None = None, defined: bool = True, reason: str = "",
             tolerance: Mapping[str, Any] | None = None, headline: bool = True,
             marked: bool = False, extra: dict | None = None) -> dict[str, Any]:
    """One finding (a JSON-safe dict): see docs/reference/json-schema.md."""
    m = mark(value, tolerance) if (marked and defined) else None
    return to_jsonable({
        "id": f"{entry.id}/{key}",
        "result": entry.id,
        "kind": kind,
        "figure": figure,
        "label": label or (FIGURE_NAMES.get(figure, figure) if figure else None),
        "model": model,
        "value": _float(value),
        "ci_low": _float(ci_low),
        "ci_high": _float(ci_high),
        "ci": ci,
        "defined": bool(defined),
        "reason": reason,
        "better": (DEFAULT_TOLERANCES.get(figure or "", {}) or {}).get("better"),
        "fair_value": FAIR_VALUE.get(figure or ""),
        "tolerance": dict(tolerance) if (marked and tolerance is not None) else None,
        "mark": m,
        "ci_marks": _ci_marks(ci_low, ci_high, tolerance) if (marked and m) else [],
        "headline": bool(headline),
        "sentence": sentence,
        **(extra or {}),
    })


def _mark_clause(m: str | None, tolerance: Mapping[str, Any] | None, ci_marks: Sequence[str]) -> str:
    if m is None:
        return ""
    text = f": {m} ({_tolerance_text(tolerance)})"
    if len(ci_marks) > 1:
        text += f"; its interval spans {ci_marks[0]} to {ci_marks[-1]}"
    return text


def _strip_undefined(reason: str) -> str:
    reason = (reason or "").strip()
    return reason[len("undefined: "):] if reason.startswith("undefined: ") else reason


def _where(result: Any) -> str:
    policy = result.policy or {}
    thr = f"{result.threshold:.4g}"
    if policy.get("kind") == "fmr":
        return f"At FMR {_target(policy['value'])} (threshold {thr})"
    if policy.get("kind") == "eer":
        return f"At the pooled EER threshold ({thr})"
    return f"At the fixed threshold {thr}"


def _group_rate(row: pd.Series, rate: str, level: float, *, nested: bool = False) -> str:
    """``0.105 (95 % CI 0.07–0.136)``, or ``0.105, 95 % CI 0.07–0.136`` inside parentheses."""
    value = _fmt_like(row[rate], row[rate])
    ci = _ci_text(row.get(f"{rate}_ci_low"), row.get(f"{rate}_ci_high"), level, ref=row[rate])
    if not ci:
        return value
    return f"{value}, {ci}" if nested else f"{value} ({ci})"


def _in_sentence(name: str) -> str:
    """A figure's name as written inside a sentence ("Inequity rate" -> "inequity rate", "FDR" stays)."""
    return name[0].lower() + name[1:] if len(name) > 1 and name[1].islower() else name


def _verification_findings(entry: _Entry, tol: Mapping[str, Any]) -> list[dict[str, Any]]:
    r = entry.result
    level = float(r.params.get("ci", 0.95))
    n_boot = int(r.params.get("n_boot", 0) or 0)
    bg = r.by_group.reset_index(drop=True)
    out: list[dict[str, Any]] = []
    where = _where(r)
    for rate, word in (("fnmr", "FNMR"), ("fmr", "FMR")):
        ok = bg[pd.to_numeric(bg[rate], errors="coerce").notna()]
        if len(ok) < 2:
            continue
        values = pd.to_numeric(ok[rate])
        hi_row, lo_row = ok.loc[values.idxmax()], ok.loc[values.idxmin()]
        hi_v, lo_v = float(hi_row[rate]), float(lo_row[rate])
        hi_l, lo_l = str(hi_row["label"]), str(lo_row["label"])
        if hi_v == lo_v:
            sentence = f"{where}, every group has the same {word}, {fmt_num(hi_v, digits=3)}."
        else:
            tail = (f"{hi_v / lo_v:.3g}× that of group {lo_l}" if lo_v > 0
                    else f"while group {lo_l} has none")
            sentence = (f"{where}, the {word} of group {hi_l} is {_group_rate(hi_row, rate, level)}, "
                        f"the highest; {tail} ({_group_rate(lo_row, rate, level, nested=True)}), the lowest.")
            a = (_float(hi_row.get(f"{rate}_ci_low")), _float(hi_row.get(f"{rate}_ci_high")))
            b = (_float(lo_row.get(f"{rate}_ci_low")), _float(lo_row.get(f"{rate}_ci_high")))
            if None not in a and None not in b:
                overlap = a[0] <= b[1] and b[0] <= a[1]  # type: ignore[operator]
                sentence += (" Their intervals overlap, so this ordering is not certain."
                             if overlap else " Their intervals do not overlap.")
        out.append(_finding(
            entry, key=f"{rate}_by_group", kind="comparison", figure=None, label=f"{word} by group",
            value=(hi_v / lo_v if lo_v > 0 else None), sentence=sentence,
            extra={"rate": rate, "threshold": r.threshold,
                   "highest": {"group": hi_l, "value": hi_v, "ci_low": _float(hi_row.get(f"{rate}_ci_low")),
                               "ci_high": _float(hi_row.get(f"{rate}_ci_high"))},
                   "lowest": {"group": lo_l, "value": lo_v, "ci_low": _float(lo_row.get(f"{rate}_ci_low")),
                              "ci_high": _float(lo_row.get(f"{rate}_ci_high"))}}))
    fair = r.fairness
    alpha = r.params.get("alpha")
    n_groups = len(bg)
    for figure in VERIFICATION_HEADLINE:
        if figure not in fair.index:
            continue
        row = fair.loc[figure]
        name = _in_sentence(FIGURE_NAMES[figure])
        defined = bool(row.get("defined", True)) and _float(row["value"]) is not None
        tolerance = tol.get(figure)
        if not defined:
            reason = _strip_undefined(str(row.get("reason") or "")) or "the figure is not a finite number."
            sentence = f"The {name} is undefined: {reason}"
        else:
            value = _fmt_like(row["value"], row["value"])
            ci = _ci_text(row.get("ci_low"), row.get("ci_high"), level, ref=row["value"])
            detail = f" ({ci})" if ci else (" (no confidence interval: the audit ran without bootstrap)"
                                             if n_boot == 0 else "")
            weight = f" with α = {_g(alpha)}" if figure in ("fdr", "garbe", "inequity") and alpha is not None else ""
            sentence = (f"The {name}{weight} across the {n_groups} groups is {value}{detail}, where "
                        f"{_g(FAIR_VALUE[figure])} is perfectly fair")
            m = mark(row["value"], tolerance)
            sentence += _mark_clause(m, tolerance, _ci_marks(row.get("ci_low"), row.get("ci_high"), tolerance))
            sentence += "."
            extra_reason = str(row.get("reason") or "")
            if extra_reason:
                sentence += f" Note: {extra_reason}"
        out.append(_finding(
            entry, key=figure, kind="figure", figure=figure, value=row["value"], ci_low=row.get("ci_low"),
            ci_high=row.get("ci_high"), ci=level, defined=defined, reason=str(row.get("reason") or ""),
            tolerance=tolerance, marked=True, sentence=sentence))
    return out


def _training_shares(result: Any, model: str) -> dict[str, float]:
    t = result.training
    part = t[t["model"] == model]
    if not len(part):
        return {}
    per_group = part.groupby("group")["n_train"].sum()
    total = float(per_group.sum())
    return {str(g): float(n) / total for g, n in per_group.items() if total > 0}


def _shares_text(shares: Mapping[str, float]) -> str:
    if not shares:
        return ""
    items = sorted(shares.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{g} {100 * s:.0f} %" for g, s in items if s > 0)


def _classification_reason(result: Any, metric: str) -> str:
    if metric in BINARY_ONLY and not result.is_binary:
        return (f"defined for binary targets only; target {' & '.join(result.target)!r} has "
                f"{len(result.classes)} classes.")
    return "not a number in any seed (e.g. a group without a positive or a negative sample)."


def _classification_findings(entry: _Entry, tol: Mapping[str, Any]) -> list[dict[str, Any]]:
    r = entry.result
    level = float(r.params.get("ci", 0.95))
    n_seeds = len(r.seeds)
    seeds_text = f"{n_seeds} seed{'s' if n_seeds != 1 else ''}"
    out: list[dict[str, Any]] = []
    cross = r.cross
    for model in r.models:
        rows = cross[(cross["model"] == model) & (cross["test_group"] != POOLED)]
        rows = rows[pd.to_numeric(rows["accuracy_mean"], errors="coerce").notna()]
        shares = _training_shares(r, model)
        trained = f" (trained on {_shares_text(shares)})" if shares else ""
        if len(rows) >= 2:
            acc = pd.to_numeric(rows["accuracy_mean"])
            lo, hi = rows.loc[acc.idxmin()], rows.loc[acc.idxmax()]

            def one(row: pd.Series) -> str:
                ci = _ci_text(row["ci_low"], row["ci_high"], level, ref=row["accuracy_mean"])
                return f"{_fmt_like(row['accuracy_mean'], row['accuracy_mean'])}" + (f" ({ci})" if ci else "")

            sentence = (f"Model {model!r}{trained}: accuracy is lowest on test group {lo['test_group']}, "
                        f"{one(lo)}, and highest on {hi['test_group']}, {one(hi)}, over {seeds_text}.")
            if model in r.groups:
                own = rows[rows["test_group"] == model]
                others = rows[rows["test_group"] != model]
                if len(own) and len(others):
                    own_acc = fmt_num(own["accuracy_mean"].iloc[0], digits=3)
                    other_acc = fmt_num(pd.to_numeric(others["accuracy_mean"]).mean(), digits=3)
                    sentence += f" On its own group it scores {own_acc}, on the other groups {other_acc} on average."
            out.append(_finding(
                entry, key=f"{model}/accuracy_by_group", kind="comparison", label="Accuracy by test group",
                model=model, value=float(hi["accuracy_mean"]) - float(lo["accuracy_mean"]), sentence=sentence,
                extra={"training_shares": shares,
                       "lowest": {"group": str(lo["test_group"]), "value": _float(lo["accuracy_mean"]),
                                  "ci_low": _float(lo["ci_low"]), "ci_high": _float(lo["ci_high"])},
                       "highest": {"group": str(hi["test_group"]), "value": _float(hi["accuracy_mean"]),
                                   "ci_low": _float(hi["ci_low"]), "ci_high": _float(hi["ci_high"])}}))
        fair = r.fairness[r.fairness["model"] == model].set_index("metric")
        order = [m for m in CLASSIFICATION_ORDER if m in fair.index] + \
            [m for m in fair.index if m not in CLASSIFICATION_ORDER]
        for metric in order:
            row = fair.loc[metric]
            tolerance = tol.get(metric)
            name = _in_sentence(FIGURE_NAMES.get(metric, metric))
            defined = _float(row["mean"]) is not None
            reason = "" if defined else "undefined: " + _classification_reason(r, metric)
            if defined:
                ci = _ci_text(row["ci_low"], row["ci_high"], level, ref=row["mean"])
                sentence = (f"Model {model!r}: the {name} between test groups is "
                            f"{_fmt_like(row['mean'], row['mean'])}" + (f" ({ci} over {seeds_text})" if ci else
                                                                    f" ({seeds_text}, no interval)")
                            + f", where {_g(FAIR_VALUE.get(metric, 0))} is perfectly fair")
                m = mark(row["mean"], tolerance)
                sentence += _mark_clause(m, tolerance, _ci_marks(row["ci_low"], row["ci_high"], tolerance)) + "."
            else:
                sentence = f"Model {model!r}: the {name} is undefined: {_strip_undefined(reason)}"
            out.append(_finding(
                entry, key=f"{model}/{metric}", kind="figure", figure=str(metric), model=model,
                value=row["mean"], ci_low=row["ci_low"], ci_high=row["ci_high"], ci=level, defined=defined,
                reason=reason, tolerance=tolerance, marked=True, headline=metric in CLASSIFICATION_HEADLINE,
                sentence=sentence))
    split = r.params.get("split") or {}
    if split.get("kind") == "mixture-sweep" and len(r.models) >= 2:
        table = r.cross_table(include_all=False)
        spans = (table.max() - table.min()).dropna()
        if len(spans):
            group = str(spans.idxmax())
            col = table[group]
            sentence = (f"Across the {len(r.models)} training mixtures, accuracy on test group {group} "
                        f"varies most: from {fmt_num(col.min(), digits=3)} ({col.idxmin()}) to "
                        f"{fmt_num(col.max(), digits=3)} ({col.idxmax()}).")
            out.append(_finding(entry, key="mixture_sweep", kind="comparison", label="Mixture sweep",
                                value=float(spans.max()), sentence=sentence,
                                extra={"group": group, "lowest_model": str(col.idxmin()),
                                       "highest_model": str(col.idxmax())}))
    return out


def _diagnostics_findings(entry: _Entry) -> list[dict[str, Any]]:
    r = entry.result
    out = []
    for _, row in r.probe.iterrows():
        acc, chance, sd = _float(row["accuracy_mean"]), _float(row["chance"]), _float(row["accuracy_std"])
        attribute = str(row["attribute"])
        if acc is None or chance is None:
            sentence = f"The probe for {attribute} gave no accuracy (see the notes)."
        else:
            margin = max(2 * (sd or 0.0), 0.05)
            verdict = ("well above chance: the embeddings encode " + attribute if acc > chance + margin
                       else "close to chance: the embeddings carry little information about " + attribute)
            sentence = (f"A logistic-regression probe predicts {attribute} from the embeddings with "
                        f"accuracy {fmt_num(acc, digits=3)}"
                        + (f" (sd {fmt_num(sd, digits=2)} over {int(row['n_splits'])} identity-disjoint folds)"
                           if sd is not None else "")
                        + f", against {fmt_num(chance, digits=3)} for always guessing the majority class; "
                        f"{verdict}.")
        out.append(_finding(entry, key=f"probe/{attribute}", kind="probe", label=f"Probe: {attribute}",
                            value=acc, sentence=sentence, defined=acc is not None,
                            extra={"attribute": attribute, "chance": chance, "accuracy_std": sd}))
    return out


# ==========================================================================
# data section
# ==========================================================================
def _fta_tables(entries: Sequence[_Entry], population: Any) -> list[dict[str, Any]]:
    bys: list[tuple[str, ...]] = []
    for entry in entries:
        if entry.kind in ("verification", "classification") and tuple(entry.result.by) not in bys:
            bys.append(tuple(entry.result.by))
    out = []
    for by in bys:
        item: dict[str, Any] = {"by": list(by), "status": "", "message": "", "table": None}
        if population is None:
            item["status"] = "not-available"
            item["message"] = ("No population was passed to the report (population=), so no failures to "
                               "acquire are recorded here.")
        elif len(population.failures) == 0:
            item["status"] = "none-recorded"
            item["message"] = (f"No failures to acquire are recorded in the population "
                               f"({len(population):,} samples acquired).")
        else:
            try:
                table = population.failure_to_acquire(list(by))
            except (errors.FairauditInputError, KeyError) as exc:
                item["status"] = "error"
                item["message"] = f"The failure-to-acquire rate per group could not be computed: {_one_line(exc)}"
            else:
                table = table.copy()
                table.insert(0, "group", labels_of(list(table.index)))
                item["status"] = "table"
                item["message"] = (f"{int(table['n_failures'].sum()):,} of {int(table['n_attempts'].sum()):,} "
                                   "attempts failed to give an embedding.")
                item["table"] = frame_to_dict(table.reset_index(drop=True))
        out.append(item)
    return out


def _warnings(entries: Sequence[_Entry]) -> list[dict[str, str]]:
    out = []
    for entry in entries:
        for note in entry.result.notes:
            out.append({"result": entry.id, "text": str(note)})
        if entry.kind == "classification":
            cross = entry.result.cross
            small = cross[(cross["test_group"] != POOLED) & (pd.to_numeric(cross["n_test"]) < SMALL_TEST_GROUP)]
            for group in dict.fromkeys(small["test_group"].astype(str)):
                n = int(pd.to_numeric(small.loc[small["test_group"].astype(str) == group, "n_test"]).min())
                out.append({"result": entry.id, "text": (
                    f"Test group {group!r} has only {n} test samples per seed (fewer than "
                    f"{SMALL_TEST_GROUP}): its accuracy is coarse.")})
    return out


def _population_summary(population: Any) -> dict[str, Any] | None:
    if population is None:
        return None
    return {"n_samples": len(population), "n_identities": population.n_identities,
            "n_features": population.n_features, "attributes": list(population.attribute_names),
            "n_failures": int(len(population.failures))}


# ==========================================================================
# report data
# ==========================================================================
def _assemble(entries: list[_Entry], *, title: str, tolerances: Any, population: Any,
              fta: list[dict[str, Any]] | None = None, population_summary: dict | None = None,
              created: str | None = None) -> dict[str, Any]:
    tol = resolve_tolerances(tolerances)
    findings: list[dict[str, Any]] = []
    for entry in entries:
        if entry.kind == "verification":
            findings += _verification_findings(entry, tol)
        elif entry.kind == "classification":
            findings += _classification_findings(entry, tol)
        else:
            findings += _diagnostics_findings(entry)
    summary = {"pass": 0, "review": 0, "fail": 0, "undefined": 0, "unmarked": 0}
    for f in findings:
        if f["kind"] != "figure":
            continue
        if not f["defined"]:
            summary["undefined"] += 1
        elif f["mark"] is None:
            summary["unmarked"] += 1
        else:
            summary[f["mark"]] += 1
    if fta is None:
        fta = _fta_tables(entries, population)
        population_summary = _population_summary(population)
    return {
        "schema": SCHEMA,
        "title": str(title),
        "created": created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "fairaudit_version": __version__,
        "tolerances": tol,
        "summary": summary,
        "results": [{"id": e.id, "name": e.name, "kind": e.kind, "result": e.result.to_dict()} for e in entries],
        "findings": findings,
        "data": {"population": population_summary, "failure_to_acquire": fta, "warnings": _warnings(entries)},
    }


def _check_population(population: Any) -> None:
    from fairaudit.data import EmbeddingSet

    if population is not None and not isinstance(population, EmbeddingSet):
        raise errors.FairauditInputError(BAD_POPULATION.format(got=type(population).__name__))


def report_data(results: Any, *, title: str = "fairaudit report", tolerances: Any = None,
                population: Any = None) -> dict[str, Any]:
    """Everything the report shows, as JSON-safe data.

    Parameters
    ----------
    results : result, list of results, or dict of name -> result
        Verification, classification and diagnostics results, their
        ``to_dict()`` or the paths of their JSON files. A dict gives each
        result its display name (None values are skipped); otherwise names
        are made from the results.
    title : str
        Title of the report.
    tolerances : mapping, path or None
        Pass / review bands overriding :data:`DEFAULT_TOLERANCES`.
    population : EmbeddingSet, optional
        The data the results were computed from; its ``failures`` give the
        failure-to-acquire rate per group.

    Returns
    -------
    dict
        ``schema``, ``title``, ``created``, ``fairaudit_version``,
        ``tolerances``, ``summary`` (counts of marks), ``results`` (id, name,
        kind and the result's ``to_dict()``), ``findings`` and ``data``; see
        ``docs/reference/json-schema.md``. :func:`render` turns it back into
        the HTML report.
    """
    _check_population(population)
    return _assemble(_entries(results), title=title, tolerances=tolerances, population=population)


def _entries_from_data(data: Mapping[str, Any]) -> list[_Entry]:
    if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, Mapping) else type(data).__name__
        raise errors.FairauditInputError(NOT_REPORT_DATA.format(got=got, expected=SCHEMA))
    entries = []
    for item in data["results"]:
        result = load_result(item["result"], name=f"results {item.get('id')!r}")
        entries.append(_Entry(id=item["id"], name=item["name"], kind=result.kind, result=result))
    return entries


def render(data: Mapping[str, Any], *, title: str | None = None, tolerances: Any = None) -> str:
    """The HTML report of :func:`report_data` output (e.g. read back from JSON).

    ``title`` and ``tolerances`` replace those stored in ``data`` when given
    (findings and marks are then recomputed).
    """
    entries = _entries_from_data(data)
    if title is not None or tolerances is not None:
        data = _assemble(entries, title=data["title"] if title is None else title,
                         tolerances=data["tolerances"] if tolerances is None else tolerances,
                         population=None, fta=data["data"]["failure_to_acquire"],
                         population_summary=data["data"].get("population"), created=data.get("created"))
    return _render(data, entries)


def report(results: Any, path: str | os.PathLike, *, title: str = "fairaudit report",
           tolerances: Any = None, population: Any = None,
           json_path: str | os.PathLike | None = None) -> Path:
    """Write the HTML fairness report of one or more results.

    Parameters
    ----------
    results : result, list of results, or dict of name -> result
        See :func:`report_data`.
    path : str or path
        The HTML file to write (atomically; parent directories are created).
    title : str
    tolerances : mapping, path or None
        Pass / review bands overriding :data:`DEFAULT_TOLERANCES`.
    population : EmbeddingSet, optional
        For the failure-to-acquire rates per group.
    json_path : str or path, optional
        Also write :func:`report_data` as JSON there.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from fairaudit.common.files import write_text_atomic
    from fairaudit.common.serialize import dumps

    _check_population(population)
    entries = _entries(results)
    data = _assemble(entries, title=title, tolerances=tolerances, population=population)
    html = _render(data, entries)
    if json_path is not None:
        write_text_atomic(json_path, dumps(data))
    return write_text_atomic(path, html)


def to_html(result: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    """The report of a single result (backs ``result.to_html(path)``); see :func:`report`."""
    return report(result, path, **kwargs)


# ==========================================================================
# plots of classification results
# ==========================================================================
def _new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    from matplotlib.figure import Figure

    if ax is None:
        return Figure(figsize=figsize, layout="constrained").add_subplot()
    return ax


def plot_cross(result: Any, ax: Any = None, *, include_all: bool = True, cmap: str = "viridis") -> Any:
    """Heatmap of a classification result's model × test group accuracy (``cross_table()``).

    Every cell shows the mean accuracy over seeds and, below it, the
    confidence interval when there is one.

    Parameters
    ----------
    result : ClassificationResult
    ax : matplotlib Axes, optional
        Draw into it; default a new figure (not registered with pyplot).
    include_all : bool, default True
        Add the column ``"all"`` (the whole test set).
    cmap : str
        A sequential matplotlib colormap.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib

    table = result.cross_table(include_all=include_all)
    values = table.to_numpy(dtype=float)
    rows, cols = [str(x) for x in table.index], [str(x) for x in table.columns]
    ax = _new_axes(ax, (max(4.5, 1.6 + 1.25 * len(cols)), max(2.6, 1.3 + 0.75 * len(rows))))
    finite = np.isfinite(values)
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.88")
    vmin = float(values[finite].min()) if finite.any() else 0.0
    vmax = float(values[finite].max()) if finite.any() else 1.0
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.01, vmax + 0.01
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap, vmin=vmin, vmax=vmax, aspect="auto",
                      interpolation="nearest")
    ax.set_xticks(np.arange(len(cols)), labels=[literal(c) for c in cols])
    ax.set_yticks(np.arange(len(rows)), labels=[literal(r) for r in rows])
    if max((len(c) for c in cols), default=0) > 4:
        for tick in ax.get_xticklabels():
            tick.set_rotation(30)
            tick.set_ha("right")
            tick.set_rotation_mode("anchor")
    ax.tick_params(length=0)
    ci = result.cross.set_index(["model", "test_group"])
    for i, model in enumerate(rows):
        for j, group in enumerate(cols):
            v = values[i, j]
            if not np.isfinite(v):
                ax.text(j, i, "n/a", ha="center", va="center", color="0.2", fontsize="small")
                continue
            r, g, b, _ = colormap((v - vmin) / (vmax - vmin))
            color = "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "black"
            text = f"{v:.3f}"
            if (model, group) in ci.index:
                lo, hi = ci.loc[(model, group), "ci_low"], ci.loc[(model, group), "ci_high"]
                if _float(lo) is not None and _float(hi) is not None:
                    text += f"\n[{float(lo):.2f}, {float(hi):.2f}]"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize="small")
    bar = ax.figure.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label("accuracy (mean over seeds)")
    ax.set_xlabel("test group")
    ax.set_ylabel("model (trained on)")
    ax.set_title(f"Accuracy of every model on every test group ({len(result.seeds)} seed(s))")
    return ax


def plot_mixture_sweep(result: Any, ax: Any = None) -> Any:
    """Accuracy per test group (lines, with confidence intervals) across the models of a sweep.

    Meant for a mixture sweep (the models in the order of the sweep, the
    x axis labelled with each mixture's shares) but draws any result.

    Parameters
    ----------
    result : ClassificationResult
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from fairaudit.verification import group_colors

    table = result.cross_table(include_all=True)
    models = [str(m) for m in table.index]
    strategies = {s.get("name"): s for s in (result.params.get("split") or {}).get("strategies", [])}
    labels = []
    for m in models:
        props = (strategies.get(m) or {}).get("proportions")
        if props:
            labels.append(m + "\n" + ", ".join(f"{g} {100 * float(s):.0f}%" for g, s in props.items()))
        else:
            labels.append(m)
    # room for the longest tick label line under every model (small font: ~0.075 in per character)
    longest = max((len(line) for label in labels for line in label.split("\n")), default=0)
    per_model = max(1.3, 0.075 * longest + 0.3)
    ax = _new_axes(ax, (max(5.5, 2.4 + per_model * len(models)), 4.2))
    colors = group_colors(list(result.groups))
    cross = result.cross.set_index(["model", "test_group"])
    x = np.arange(len(models))
    for group in table.columns:
        group = str(group)
        y = table[group].to_numpy(dtype=float)
        lo = np.array([_float(cross.loc[(m, group), "ci_low"]) if (m, group) in cross.index else None
                       for m in models], dtype=float)
        hi = np.array([_float(cross.loc[(m, group), "ci_high"]) if (m, group) in cross.index else None
                       for m in models], dtype=float)
        yerr = None
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            yerr = np.vstack([np.maximum(y - lo, 0), np.maximum(hi - y, 0)])
        style = dict(ls="--", lw=1.4) if group == POOLED else dict(ls="-", lw=2)
        ax.errorbar(x, y, yerr=yerr, marker="o", capsize=4, color=colors.get(group, "0.3"),
                    label=f"{group} (whole test set)" if group == POOLED else literal(group), **style)
    ax.set_xticks(x, labels=[literal(t) for t in labels], fontsize="small")
    ax.set_xlim(-0.4, len(models) - 0.6)
    ax.set_xlabel("model (training mixture)")
    ax.set_ylabel("accuracy (mean over seeds)")
    ax.set_title("Accuracy per test group across the training mixtures")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(title="test group", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return ax


def plot_classification_roc(result: Any, *, model: str, ax: Any = None) -> Any:
    """ROC curves of one model per test group (binary targets), every seed drawn.

    The legend gives each group's AUC as the mean over seeds.

    Parameters
    ----------
    result : ClassificationResult
    model : str
        One of ``result.models``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from fairaudit.verification import group_colors

    if model not in result.models:
        raise errors.FairauditInputError(
            f"model={model!r} is not a model of this result; models: {list(result.models)}. Fix: pass one of them.")
    ax = _new_axes(ax, (5.0, 4.6))
    roc = result.roc[result.roc["model"] == model]
    colors = group_colors(list(result.groups))
    for group in [*result.groups, POOLED]:
        part = roc[roc["group"].astype(str) == str(group)]
        if not len(part):
            continue
        aucs = []
        for i, (_, curve) in enumerate(part.groupby("seed", sort=False)):
            aucs.append(float(curve["auc"].iloc[0]))
            ax.plot(curve["fpr"], curve["tpr"], color=colors.get(str(group), "0.3"),
                    ls="--" if group == POOLED else "-", lw=1.2, alpha=0.75,
                    label=None if i else literal(f"{group} (AUC {np.mean(aucs):.3f})"))
        # the label was set with the first seed's AUC; update it to the mean
        ax.lines[-len(aucs)].set_label(literal(f"{group} (AUC {np.mean(aucs):.3f})"))
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel(literal(f"false positive rate (positive class {result.pos_label})"))
    ax.set_ylabel("true positive rate")
    ax.set_title(literal(f"ROC of model {model}"))
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_confusion(result: Any, *, model: str, group: str = POOLED, ax: Any = None,
                   normalize: bool = True) -> Any:
    """Confusion matrix of one model on one test group, summed over seeds.

    Parameters
    ----------
    result : ClassificationResult
    model : str
    group : str, default "all"
        A test group, or ``"all"`` for the whole test set.
    ax : matplotlib Axes, optional
    normalize : bool, default True
        Divide every row (true class) by its total, so cells are recalls.

    Returns
    -------
    matplotlib Axes
    """
    c = result.confusion
    part = c[(c["model"] == model) & (c["group"].astype(str) == str(group))]
    classes = [str(x) for x in result.classes]
    full = (part.pivot(index="true", columns="predicted", values="count")
            .reindex(index=classes, columns=classes).fillna(0).to_numpy(dtype=float))
    # rows of classes absent from the group (e.g. other ethnicities of a six-class target) are left out
    present = [i for i in range(len(classes)) if full[i].sum() > 0] or list(range(len(classes)))
    rows = [classes[i] for i in present]
    matrix = full[present]
    totals = matrix.sum(axis=1, keepdims=True)
    shown = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0) if normalize else matrix
    k = len(classes)
    ax = _new_axes(ax, (1.6 + 0.65 * k, 1.2 + 0.6 * len(rows)))
    ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(float(shown.max()), 1.0),
              interpolation="nearest")
    for i in range(len(rows)):
        for j in range(k):
            v = shown[i, j]
            dark = v > (0.55 if normalize else 0.55 * shown.max())
            ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center",
                    fontsize="x-small", color="white" if dark else "black")
    ax.set_xticks(np.arange(k), labels=[literal(c) for c in classes], fontsize="small")
    ax.set_yticks(np.arange(len(rows)), labels=[literal(r) for r in rows], fontsize="small")
    for tick in ax.get_xticklabels():
        tick.set_rotation(45)
        tick.set_ha("right")
        tick.set_rotation_mode("anchor")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(literal(f"{model} on {group}") + (" (row share)" if normalize else ""), fontsize="medium")
    return ax


# ==========================================================================
# rendering
# ==========================================================================
def _figure(build: Callable[[], Any], *, alt: str, caption: str, wide: bool = False) -> dict[str, Any]:
    """Draw a figure into a PNG data URI; a failing figure becomes a visible error box."""
    import matplotlib

    from fairaudit.common.figures import to_data_uri

    try:
        # user text in figures is escaped where it is drawn (plot.literal), so mathtext stays on for
        # the tick labels of log axes
        with warnings.catch_warnings():
            # group names in scripts the bundled fonts lack draw as boxes; the tables show them as text
            warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing.*")
            warnings.filterwarnings("ignore", message=r".*[Mm]issing from (current )?font.*")
            obj = build()
            fig = obj if hasattr(obj, "savefig") else obj.figure
            while getattr(fig, "figure", fig) is not fig and fig.figure is not None:
                fig = fig.figure
            uri = to_data_uri(fig, format="png", dpi=FIGURE_DPI)
            w, h = fig.get_size_inches()
    except Exception as exc:  # noqa: BLE001 - one broken figure must not lose the whole report
        return {"error": f"{type(exc).__name__}: {_one_line(exc)}", "alt": alt, "caption": caption, "wide": wide}
    # display at 96 CSS px per inch, so the PNG is sharp on high-density screens
    return {"uri": uri, "alt": alt, "caption": caption, "width": int(round(w * 96)),
            "height": int(round(h * 96)), "wide": wide}


def _cell(value: Any = None, *, text: str | None = None, sub: str = "", numeric: bool | None = None,
          cls: str = "", title: str = "", mark_: str | None = None) -> dict[str, Any]:
    v = _float(value)
    is_num = numeric if numeric is not None else (v is not None or (value is None and text is None))
    if text == "undefined":
        cls = (cls + " undefined").strip()
    return {"text": text if text is not None else fmt_num(value), "sub": sub,
            "sort": (repr(v) if v is not None else "") if is_num else None,
            "cls": ("num " if is_num else "") + cls, "title": title, "mark": mark_}


def _table(columns: Sequence[str | tuple[str, str]], rows: list[list[dict[str, Any]]], *,
           caption: str = "", sortable: bool = True) -> dict[str, Any]:
    cols = []
    for c in columns:
        label, tip = (c, "") if isinstance(c, str) else c
        cols.append({"label": label, "title": tip})
    return {"columns": cols, "rows": rows, "caption": caption, "sortable": sortable and len(rows) > 1}


def _rate_cell(row: Any, name: str) -> dict[str, Any]:
    lo, hi = (row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")) if hasattr(row, "get") else (None, None)
    ref = row[name]
    ok = _float(lo) is not None and _float(hi) is not None
    sub = f"[{_fmt_like(lo, ref)}, {_fmt_like(hi, ref)}]" if ok else ""
    return _cell(row[name], sub=sub)


def _verification_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any]) -> dict[str, Any]:
    from fairaudit.verification import plots as plot

    r = entry.result
    level = float(r.params.get("ci", 0.95))
    pct = f"{100 * level:g} %"
    bg = r.by_group.reset_index(drop=True)
    points = [c for c in bg.columns if str(c).startswith("fnmr_at_fmr_")]
    cols: list[Any] = ["group", ("FMR", f"false match rate at the threshold, {pct} CI below"),
                       ("FNMR", f"false non-match rate at the threshold, {pct} CI below"),
                       ("EER", f"equal error rate, {pct} CI below"), "EER threshold", "AUC"]
    cols += [(f"FNMR @ FMR {_g(float(p.rsplit('_', 1)[1]))}", "FNMR where the group's own FMR reaches the target")
             for p in points]
    rows = []
    frames = [bg, pd.DataFrame([r.overall])]
    for _, row in pd.concat(frames, ignore_index=True).iterrows():
        pooled = str(row["label"]) == POOLED
        cells = [_cell(text=str(row["label"]) + (" (pooled)" if pooled else ""), numeric=False),
                 _rate_cell(row, "fmr"), _rate_cell(row, "fnmr"), _rate_cell(row, "eer"),
                 _cell(row["eer_threshold"]), _cell(row["auc"])]
        cells += [_cell(row[p]) for p in points]
        rows.append(cells)
    by_group_table = _table(cols, rows, caption=f"Per-group error rates at threshold {r.threshold:.4g} "
                            f"({pct} confidence intervals over {int(r.params.get('n_boot', 0)):,} identity "
                            "bootstrap replicates below each value).")
    fair_rows = []
    marks = {f["figure"]: f for f in findings if f["result"] == entry.id and f["kind"] == "figure"}
    for figure, row in r.fairness.iterrows():
        f = marks.get(str(figure))
        defined = bool(row.get("defined", True)) and _float(row["value"]) is not None
        fair_rows.append([
            _cell(text=FIGURE_NAMES.get(str(figure), str(figure)), numeric=False, title=str(figure)),
            _cell(row["value"], text=None if defined else "undefined"),
            _cell(text=_ci_text(row.get("ci_low"), row.get("ci_high"), None, ref=row["value"]).replace("CI ", ""),
                  numeric=False),
            _mark_cell(f, defined),
            _cell(text=_tolerance_text(f["tolerance"]) if f and f["tolerance"] else "not marked", numeric=False),
            _cell(text=str(row.get("direction", "")), numeric=False),
            _cell(text=str(row.get("formula", "")), numeric=False, cls="formula"),
            _cell(text=str(row.get("reason") or ""), numeric=False, cls="reason"),
        ])
    fairness_table = _table(["figure", "value", f"{pct} CI", "mark", "tolerance", "direction", "formula",
                             "note"], fair_rows, caption=f"Fairness figures at threshold {r.threshold:.4g} "
                            f"(α = {_g(r.params.get('alpha', 0.5))}).")
    cross = r.cross_fmr
    n_imp = r.cross_impostor
    cross_rows = []
    for i, label in enumerate(cross.index):
        cells = [_cell(text=str(label), numeric=False)]
        for j in range(cross.shape[1]):
            cells.append(_cell(cross.iat[i, j], sub=f"n = {fmt_count(n_imp.iat[i, j])}"))
        cross_rows.append(cells)
    cross_table = _table(["group", *[str(c) for c in cross.columns]], cross_rows,
                         caption="Impostor FMR between the groups of every pair (n: impostor pairs).")
    name = entry.name
    figs = [
        _figure(lambda: plot.by_group(r, metric="fnmr"), alt=f"Bar chart of FNMR per group with {pct} CIs",
                caption="FNMR per group at the threshold, with confidence intervals; dashed: pooled."),
        _figure(lambda: plot.by_group(r, metric="fmr"), alt=f"Bar chart of FMR per group with {pct} CIs",
                caption="FMR per group at the threshold, with confidence intervals; dashed: pooled."),
        _figure(lambda: plot.fairness(r), alt="Bar chart of the fairness figures",
                caption="Fairness figures with confidence intervals; the black tick marks a perfectly fair value."),
        _figure(lambda: plot.fmr_fnmr(r, log=True), alt="FMR and FNMR against the threshold, per group",
                caption="FMR (solid) and FNMR (dashed) against the threshold, log scale; dotted: the threshold."),
        _figure(lambda: plot.det(r), alt="DET curves per group",
                caption="DET curves (FNMR against FMR) per group; markers: the operating point at the threshold."),
        _figure(lambda: plot.roc(r), alt="ROC curves per group",
                caption="ROC curves (1 − FNMR against FMR, log FMR axis) per group."),
        _figure(lambda: plot.histogram_grid(r), alt="Genuine and impostor score histograms per group",
                caption="Genuine (group colour) and impostor (grey) score distributions per group.", wide=True),
        _figure(lambda: plot.cross_fmr(r), alt="Heatmap of the cross-group impostor FMR, log colour scale",
                caption="Cross-group FMR at the threshold (log colour scale): impostor pairs whose samples "
                        "come from the row and the column group."),
    ]
    return {"id": entry.id, "name": name, "threshold": r.threshold,
            "policy": (r.policy or {}).get("description", ""), "by_group": by_group_table,
            "fairness": fairness_table, "cross": cross_table, "figures": figs,
            "notes": [str(n) for n in r.notes]}


def _mark_cell(f: Mapping[str, Any] | None, defined: bool) -> dict[str, Any]:
    if not defined:
        return _cell(text="undefined", numeric=False, cls="undefined")
    if f is None or f.get("mark") is None:
        return _cell(text="not marked", numeric=False, cls="unmarked")
    spans = f.get("ci_marks") or []
    title = f"the confidence interval spans {spans[0]} to {spans[-1]}" if len(spans) > 1 else ""
    return _cell(text=f["mark"], numeric=False, mark_=f["mark"], title=title,
                 sub=f"CI: {spans[0]}–{spans[-1]}" if len(spans) > 1 else "")


def _classification_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any]) -> dict[str, Any]:
    r = entry.result
    level = float(r.params.get("ci", 0.95))
    pct = f"{100 * level:g} %"
    figs = [_figure(lambda: plot_cross(r), alt="Heatmap of accuracy per model and test group",
                    caption="Accuracy of every model (rows, named after their training groups) on every test "
                            f"group (columns), mean over seeds with the {pct} interval below.")]
    split = r.params.get("split") or {}
    if split.get("kind") == "mixture-sweep":
        figs.append(_figure(lambda: plot_mixture_sweep(r), alt="Accuracy per test group across mixtures",
                            caption=f"Accuracy per test group across the training mixtures ({pct} intervals)."))
    # per-group metrics per model: mean over seeds
    bgm = r.by_group.copy()
    metrics = [m for m in ("accuracy", "recall_macro", "tpr", "fpr", "selection_rate", "roc_auc")
               if m in bgm.columns and pd.to_numeric(bgm[m], errors="coerce").notna().any()]
    for m in metrics + ["n"]:
        bgm[m] = pd.to_numeric(bgm[m], errors="coerce")
    mean = bgm.groupby(["model", "group"], sort=False)[metrics + ["n"]].mean()
    cross = r.cross.set_index(["model", "test_group"])
    names = {"accuracy": "accuracy", "recall_macro": "macro recall", "tpr": "TPR", "fpr": "FPR",
             "selection_rate": "selection rate", "roc_auc": "ROC AUC"}
    rows = []
    for model in r.models:
        for group in [*r.groups, POOLED]:
            if (model, group) not in mean.index:
                continue
            row = mean.loc[(model, group)]
            cells = [_cell(text=str(model), numeric=False), _cell(text=str(group), numeric=False),
                     _cell(text=fmt_count(row["n"]), value=row["n"], numeric=True)]
            for m in metrics:
                sub = ""
                if m == "accuracy" and (model, group) in cross.index:
                    c = cross.loc[(model, group)]
                    if _float(c["ci_low"]) is not None and _float(c["ci_high"]) is not None:
                        sub = f"[{_fmt_like(c['ci_low'], row[m])}, {_fmt_like(c['ci_high'], row[m])}]"
                cells.append(_cell(row[m], sub=sub))
            rows.append(cells)
    metrics_table = _table(["model", "test group", ("n", "test samples per seed"),
                            *[names[m] for m in metrics]], rows,
                           caption=f"Per-group metrics (fairlearn MetricFrame), mean over {len(r.seeds)} seed(s); "
                                   f"{pct} interval of the accuracy below it.")
    fair_rows = []
    fmarks = {(f["model"], f["figure"]): f for f in findings if f["result"] == entry.id and f["kind"] == "figure"}
    for _, row in r.fairness.iterrows():
        f = fmarks.get((row["model"], row["metric"]))
        defined = _float(row["mean"]) is not None
        fair_rows.append([
            _cell(text=str(row["model"]), numeric=False),
            _cell(text=FIGURE_NAMES.get(str(row["metric"]), str(row["metric"])), numeric=False,
                  title=str(row["metric"])),
            _cell(row["mean"], text=None if defined else "undefined"),
            _cell(text=_ci_text(row["ci_low"], row["ci_high"], None, ref=row["mean"]).replace("CI ", ""),
                  numeric=False),
            _mark_cell(f, defined),
            _cell(text=_tolerance_text(f["tolerance"]) if f and f["tolerance"] else "not marked", numeric=False),
            _cell(text="" if defined else _classification_reason(r, str(row["metric"])), numeric=False,
                  cls="reason"),
        ])
    fairness_table = _table(["model", "figure", "mean", f"{pct} CI", "mark", "tolerance", "note"], fair_rows,
                            caption="fairlearn disparity figures between the test groups, per model, over seeds.")
    if r.is_binary and len(r.roc):
        for model in r.models:
            figs.append(_figure(lambda model=model: plot_classification_roc(r, model=model),
                                alt=f"ROC curves of model {model} per test group",
                                caption=f"ROC of model {model!s} per test group (every seed drawn; AUC: mean)."))
    if not r.is_binary:
        for model in r.models:
            figs.append(_figure(lambda model=model: _confusion_grid(r, model),
                                alt=f"Confusion matrices of model {model} per test group",
                                caption=f"Confusion matrices of model {model!s} per test group, summed over "
                                        "seeds, as shares of each true class.", wide=True))
    return {"id": entry.id, "name": entry.name, "figures": figs, "metrics": metrics_table,
            "fairness": fairness_table, "notes": [str(n) for n in r.notes],
            "description": _classification_description(r)}


def _confusion_grid(result: Any, model: str) -> Any:
    from matplotlib.figure import Figure

    groups = [*result.groups, POOLED]
    ncols = min(len(groups), 4)
    nrows = int(math.ceil(len(groups) / ncols))
    k = len(result.classes)
    side = 1.5 + 0.5 * k
    fig = Figure(figsize=(side * ncols, side * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, group in enumerate(groups):
        plot_confusion(result, model=model, group=group, ax=axes[i // ncols][i % ncols])
    for j in range(len(groups), nrows * ncols):
        fig.delaxes(axes[j // ncols][j % ncols])
    return fig


def _classification_description(r: Any) -> str:
    split = r.params.get("split") or {}
    return (f"Target {' & '.join(r.target)} (classes {', '.join(map(str, r.classes))}), groups by "
            f"{' & '.join(r.by)}; head {r.params.get('head')}, split {split.get('name')}, "
            f"{len(r.seeds)} seed(s), test size {r.params.get('test_size')}.")


def _diagnostics_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any]) -> dict[str, Any]:
    from matplotlib.figure import Figure

    from fairaudit.diagnostics import plot_embedding

    r = entry.result
    method = str(r.params.get("method", "")).upper().replace("TSNE", "t-SNE")
    figs = []
    for column in r.color_columns:
        if column == "identity":
            continue

        def build(column: str = column) -> Any:
            ax = Figure(figsize=(6.0, 5.0), layout="constrained").add_subplot()
            return plot_embedding(r, column, ax=ax)

        figs.append(_figure(build, alt=f"{method} map of the embeddings coloured by {column}",
                            caption=f"{method} of {len(r.coords):,} embeddings coloured by {column}."))
    rows = []
    for _, row in r.probe.iterrows():
        acc, chance = _float(row["accuracy_mean"]), _float(row["chance"])
        rows.append([_cell(text=str(row["attribute"]), numeric=False), _cell(row["accuracy_mean"]),
                     _cell(row["accuracy_std"]), _cell(row["chance"]),
                     _cell(None if acc is None or chance is None else acc - chance),
                     _cell(row["n_classes"]), _cell(row["n_samples"]), _cell(row["n_identities"]),
                     _cell(row["n_splits"])])
    probe = _table(["attribute", "probe accuracy", "sd over folds", "chance (majority class)",
                    "above chance", "classes", "samples", "identities", "folds"], rows,
                   caption="Cross-validated accuracy of a logistic regression predicting each attribute from "
                           "the embedding (folds grouped by identity).")
    return {"id": entry.id, "name": entry.name, "figures": figs, "probe": probe,
            "notes": [str(n) for n in r.notes], "method": method}


def _data_view(entries: list[_Entry], data: Mapping[str, Any]) -> dict[str, Any]:
    groups_tables = []
    for entry in entries:
        r = entry.result
        if entry.kind == "verification":
            rows = []
            bg = r.by_group.reset_index(drop=True)
            for _, row in pd.concat([bg, pd.DataFrame([r.overall])], ignore_index=True).iterrows():
                rows.append([_cell(text=str(row["label"]), numeric=False), _cell(text=fmt_count(row["n_identities"]),
                             value=row["n_identities"], numeric=True),
                             _cell(text=fmt_count(row["n_samples"]), value=row["n_samples"], numeric=True),
                             _cell(text=fmt_count(row["n_genuine"]), value=row["n_genuine"], numeric=True),
                             _cell(text=fmt_count(row["n_impostor"]), value=row["n_impostor"], numeric=True)])
            groups_tables.append({"id": entry.id, "name": entry.name, "table": _table(
                ["group", "identities", "samples", "genuine pairs", "impostor pairs"], rows,
                caption=f"Samples, identities and pairs per group ({r.params.get('pair_rule', '')}).")})
        elif entry.kind == "classification":
            tr = r.training.groupby(["model", "seed", "group"], sort=False)["n_train"].sum().reset_index()
            per = tr.groupby(["model", "group"], sort=False)["n_train"].mean().unstack("group").fillna(0.0)
            groups = [g for g in r.groups if g in per.columns]
            rows = []
            test = r.cross[r.cross["model"] == r.models[0]].set_index("test_group")["n_test"] if len(r.models) else {}
            for model in r.models:
                if model not in per.index:
                    continue
                rows.append([_cell(text=f"train: {model}", numeric=False)]
                            + [_cell(text=fmt_count(per.loc[model, g]), value=per.loc[model, g], numeric=True)
                               for g in groups])
            rows.append([_cell(text="test (every model)", numeric=False)]
                        + [_cell(text=fmt_count(test.get(g)), value=test.get(g), numeric=True) for g in groups])
            groups_tables.append({"id": entry.id, "name": entry.name, "table": _table(
                ["set", *groups], rows, caption="Training rows per model and test rows, per group "
                "(mean per seed). Test sets are identity-disjoint from every training set.")})
        else:
            counts = r.coords[list(r.by)].astype(str).value_counts().sort_index()
            rows = [[_cell(text=label, numeric=False), _cell(int(v))]
                    for label, v in zip(labels_of(list(counts.index)), counts.to_numpy())]
            groups_tables.append({"id": entry.id, "name": entry.name, "table": _table(
                ["group", "mapped samples"], rows, caption="Samples mapped and probed per group.")})
    fta = []
    items = data["data"]["failure_to_acquire"]
    if items and all(i["status"] in ("not-available", "none-recorded") for i in items) \
            and len({i["message"] for i in items}) == 1:
        # the same sentence for every grouping: say it once
        items = [{**items[0], "by": []}]
    for item in items:
        table = None
        if item.get("table"):
            frame = frame_from_dict(item["table"])
            rows = [[_cell(text=str(row["group"]), numeric=False), _cell(text=fmt_count(row["n_attempts"]),
                     value=row["n_attempts"], numeric=True), _cell(text=fmt_count(row["n_failures"]),
                     value=row["n_failures"], numeric=True), _cell(row["fta"])]
                    for _, row in frame.iterrows()]
            table = _table(["group", "attempts", "failures", "FTA"], rows,
                           caption="Failure-to-acquire rate per group (ISO/IEC 19795-10).")
        fta.append({"by": " × ".join(map(str, item["by"])), "message": item["message"], "table": table,
                    "status": item["status"]})
    names = {e.id: e.name for e in entries}
    warnings_ = [{"result": names.get(w["result"], w["result"]), "text": w["text"]}
                 for w in data["data"]["warnings"]]
    return {"groups": groups_tables, "fta": fta, "warnings": warnings_, "population": data["data"].get("population")}


def _findings_view(entries: list[_Entry], data: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        mine = [f for f in data["findings"] if f["result"] == entry.id]
        rows = []
        for f in mine:
            if f["kind"] != "figure" or not f["headline"]:
                continue
            label = f["label"] + (f" — model {f['model']}" if f.get("model") else "")
            rows.append([
                _cell(text=label, numeric=False, title=f["figure"] or ""),
                _cell(f["value"], text=None if f["defined"] else "undefined"),
                _cell(text=_ci_text(f["ci_low"], f["ci_high"], None, ref=f["value"]).replace("CI ", ""),
                      numeric=False),
                _cell(text=_tolerance_text(f["tolerance"]) if f["tolerance"] else "not marked", numeric=False),
                _mark_cell(f, f["defined"]),
            ])
        level = next((f["ci"] for f in mine if f.get("ci")), None)
        pct = f"{100 * level:g} % CI" if level else "CI"
        sentences = [{"text": f["sentence"], "mark": f["mark"], "defined": f["defined"]}
                     for f in mine if f["kind"] != "figure" or f["headline"]]
        out.append({"id": entry.id, "name": entry.name, "kind": entry.kind, "sentences": sentences,
                    "table": _table(["figure", "value", pct, "tolerance", "mark"], rows, sortable=False)
                    if rows else None})
    return out


def _method_view(entries: list[_Entry], data: Mapping[str, Any]) -> dict[str, Any]:
    params = []
    for entry in entries:
        r = entry.result
        items = []
        for key, value in (r.params or {}).items():
            text = value if isinstance(value, str) else json.dumps(to_jsonable(value), ensure_ascii=False)
            items.append({"key": str(key), "value": str(text)})
        if entry.kind == "verification":
            items.insert(0, {"key": "threshold policy",
                             "value": f"{(r.policy or {}).get('description', '')}: threshold {r.threshold:.6g}"})
        prov = r.provenance or {}
        params.append({"id": entry.id, "name": entry.name, "kind": entry.kind, "rows": items,
                       "elapsed": prov.get("elapsed_s"), "created": prov.get("created"),
                       "platform": prov.get("platform"), "argv": " ".join(map(str, prov.get("argv") or [])),
                       "blas": [", ".join(f"{k}={v}" for k, v in (b or {}).items()) for b in prov.get("blas") or []]})
    packages: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for pkg, version in ((entry.result.provenance or {}).get("versions") or {}).items():
            packages.setdefault(str(pkg), {})[entry.id] = version
    version_rows = []
    for pkg, by_result in packages.items():
        distinct = set(map(str, by_result.values()))
        text = (next(iter(by_result.values())) or "not installed") if len(distinct) == 1 else \
            "; ".join(f"{rid}: {v or 'not installed'}" for rid, v in by_result.items())
        version_rows.append([_cell(text=pkg, numeric=False), _cell(text=str(text), numeric=False)])
    timing_rows = [[_cell(text=p["name"], numeric=False), _cell(p["elapsed"]),
                    _cell(text=str(p["created"] or ""), numeric=False)] for p in params]
    tol_rows = []
    for name, t in data["tolerances"].items():
        tol_rows.append([_cell(text=FIGURE_NAMES.get(name, name), numeric=False, title=name),
                         _cell(text=name, numeric=False, cls="code"),
                         _cell(text=f"{DEFAULT_TOLERANCES[name]['better']} is fairer", numeric=False),
                         _cell(text=_tolerance_text(t), numeric=False)])
    return {"params": params,
            "versions": _table(["package", "version"], version_rows, sortable=False),
            "timings": _table(["result", "time (s)", "created"], timing_rows, sortable=False),
            "tolerances": _table(["figure", "key", "direction", "bands"], tol_rows, sortable=False),
            "kinds": sorted({e.kind for e in entries}, key=KINDS.index)}


def _static(name: str) -> str:
    from importlib import resources

    return resources.files("fairaudit.reporting").joinpath("templates", name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    import base64

    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


#: bidirectional-text controls: in user text they can reorder what a reader sees ("Trojan Source")
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def neutralize_bidi(value: Any) -> Any:
    """Show every bidi control character of a string as a visible ``[U+202E]``; other values as they are."""
    if not isinstance(value, str) or not any(ch in BIDI_CONTROLS for ch in value):
        return value
    out = value
    for ch in BIDI_CONTROLS:
        if ch in out:
            out = out.replace(ch, f"[U+{ord(ch):04X}]")
    return out


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        finalize=neutralize_bidi,  # every {{ }}: no reordering by user text
        loader=jinja2.PackageLoader("fairaudit.reporting", "templates"),
        autoescape=True,  # every {{ }} is HTML-escaped: group names and titles are user data
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = fmt_num
    return env


def _render(data: Mapping[str, Any], entries: list[_Entry]) -> str:
    from markupsafe import Markup

    start = time.perf_counter()
    findings = data["findings"]
    by_kind = {kind: [e for e in entries if e.kind == kind] for kind in KINDS}
    views = {
        "verification": [_verification_view(e, findings, data) for e in by_kind["verification"]],
        "classification": [_classification_view(e, findings, data) for e in by_kind["classification"]],
        "diagnostics": [_diagnostics_view(e, findings, data) for e in by_kind["diagnostics"]],
    }
    css, js = _static("report.css"), _static("report.js")
    csp = ("default-src 'none'; img-src data:; style-src " + _csp_hash(css) + "; script-src "
           + _csp_hash(js) + "; base-uri 'none'; form-action 'none'")
    n_figures = sum(len(v["figures"]) for kind in views.values() for v in kind)
    glance = []
    for e in entries:
        counts = {"pass": 0, "review": 0, "fail": 0, "undefined": 0}
        for f in findings:
            if f["result"] == e.id and f["kind"] == "figure":
                if not f["defined"]:
                    counts["undefined"] += 1
                elif f["mark"]:
                    counts[f["mark"]] += 1
        glance.append({"id": e.id, "name": e.name, "kind": e.kind, **counts})
    template = _environment().get_template("report.html.j2")
    html = template.render(
        title=data["title"], created=data["created"], version=data["fairaudit_version"],
        summary=data["summary"], entries=glance,
        findings=_findings_view(entries, data), data=_data_view(entries, data),
        verification=views["verification"], classification=views["classification"],
        diagnostics=views["diagnostics"], method=_method_view(entries, data),
        css=Markup(css), js=Markup(js), csp=csp, n_figures=n_figures,
        render_seconds=f"{time.perf_counter() - start:.1f}",
    )
    return html


# ==========================================================================
# command line
# ==========================================================================
def cmd_report(args: argparse.Namespace) -> int:
    """``fairaudit report RESULT.json [RESULT.json ...] --out report.html``.

    The files are result JSON (``result.to_json()``, ``fairaudit verify
    --json``) or, alone, the report data JSON of an earlier report
    (``--json``), whose title and tolerances are kept unless given again.
    """
    from fairaudit.common.files import check_output, save_outputs, write_text_atomic
    from fairaudit.common.serialize import dumps

    # outputs are checked before anything is read or drawn
    check_output(args.out, name="--out")
    if args.json:
        check_output(args.json, name="--json")
    tolerances = resolve_tolerances(args.tolerances) if args.tolerances else None
    loaded = []
    for name in args.results:
        path = Path(name)
        if not path.exists():
            raise errors.FairauditInputError(RESULT_FILE_MISSING.format(name="RESULT", path=str(name)))
        if path.is_dir():
            raise errors.FairauditInputError(RESULT_FILE_IS_DIR.format(name="RESULT", path=str(name)))
        try:
            loaded.append(json.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise errors.FairauditInputError(RESULT_FILE_UNREADABLE.format(
                name="RESULT", path=str(name), error=exc.strerror or type(exc).__name__)) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.FairauditInputError(
                RESULT_FILE_NOT_JSON.format(name="RESULT", path=str(name), error=_one_line(exc))) from None
    if len(loaded) == 1 and isinstance(loaded[0], Mapping) and loaded[0].get("schema") == SCHEMA:
        stored = loaded[0]
        entries = _entries_from_data(stored)
        data = _assemble(entries, title=args.title if args.title is not None else stored["title"],
                         tolerances=tolerances if tolerances is not None else stored["tolerances"],
                         population=None, fta=stored["data"]["failure_to_acquire"],
                         population_summary=stored["data"].get("population"), created=stored.get("created"))
    else:
        results = [load_result(obj, name=f"RESULT {name!r}") for name, obj in zip(args.results, loaded)]
        entries = _entries(results)
        data = _assemble(entries, title=args.title if args.title is not None else "fairaudit report",
                         tolerances=tolerances, population=None)
    html = _render(data, entries)
    outputs = [("--out", args.out, lambda p: write_text_atomic(p, html, name="--out"))]
    if args.json:
        text = dumps(data)
        outputs.append(("--json", args.json, lambda p: write_text_atomic(p, text, name="--json")))
    out = save_outputs(outputs)[0]
    s = data["summary"]
    print(f"{len(entries)} result(s); marks: {s['pass']} pass, {s['review']} review, {s['fail']} fail, "
          f"{s['undefined']} undefined.")
    if args.json:
        print(f"Report data: {args.json}")
    print(f"Report: {out}")
    return 0


__all__ = [
    "report", "report_data", "render", "to_html", "load_result", "resolve_tolerances", "mark", "fmt_num",
    "plot_cross", "plot_mixture_sweep", "plot_classification_roc", "plot_confusion", "cmd_report",
    "DEFAULT_TOLERANCES", "SCHEMA",
]
