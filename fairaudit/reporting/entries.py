"""The results a report is built from: the kinds it knows (``KINDS``), the schema of its data
(``SCHEMA``), a result loaded from an object, its ``to_dict()`` or its JSON file (``load_result``),
and the entries (id, display name, kind, result) of a report, from results or from report data."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from fairaudit.common import errors
from fairaudit.reporting.formatting import _one_line, _target

#: identifies the layout of :func:`report_data` output
SCHEMA = "fairaudit.report/1"

#: result kinds the report knows, in the order of their sections
KINDS = ("verification", "systems", "covariates", "identification", "classification", "diagnostics")

# --- message templates (errors.py conventions: argument, expectation, what came, fix)
NO_RESULTS = (
    "results is empty. Fix: pass a result, a list of results, or a dict of name -> result "
    "(VerificationResult, SystemComparison, CovariateResult, IdentificationResult, ClassificationResult, "
    "DiagnosticsResult or their to_dict())."
)
NOT_A_RESULT = (
    "{name} is not a fairaudit result: expected a VerificationResult, SystemComparison, CovariateResult, "
    "IdentificationResult, ClassificationResult, DiagnosticsResult, its to_dict() or the path of its JSON "
    "file; got {got}. "
    "Fix: pass what an audit returned, or the JSON written by result.to_json()."
)
UNKNOWN_KIND = (
    "{name} has kind={kind!r}, not one of {kinds}. Fix: pass the JSON written by "
    "result.to_json() of a verification, comparison of systems, covariate, identification, classification "
    "or diagnostics result."
)
BROKEN_RESULT = (
    "{name} has kind={kind!r} but cannot be read as such a result ({error}). Fix: pass the JSON "
    "written by result.to_json() of the same fairaudit version, unmodified."
)
RESULT_FILE_MISSING = "{name}: file {path!r} does not exist. Fix: check the path."
RESULT_FILE_NOT_JSON = (
    "{name}: file {path!r} is not valid JSON ({error}). Fix: pass the JSON written by "
    "result.to_json() or report_data()."
)
NOT_REPORT_DATA = (
    "data is not the output of report_data() (schema {got!r}, expected {expected!r}). Fix: pass "
    "what report_data() returned, or its JSON."
)


@dataclass
class _Entry:
    """One result of the report, with its id and display name."""

    id: str
    name: str
    kind: str
    result: Any


def _result_classes() -> dict[str, Any]:
    from fairaudit.classification import ClassificationResult
    from fairaudit.covariates import CovariateResult
    from fairaudit.diagnostics import DiagnosticsResult
    from fairaudit.identification import IdentificationResult
    from fairaudit.systems import SystemComparison
    from fairaudit.verification import VerificationResult

    return {"verification": VerificationResult, "systems": SystemComparison, "covariates": CovariateResult,
            "identification": IdentificationResult, "classification": ClassificationResult,
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


def _systems_name(result: Any, by: str) -> str:
    names = [str(s) for s in result.systems]
    listed = " vs ".join(names) if len(names) <= 4 else " vs ".join(names[:3]) + f" and {len(names) - 3} more"
    policy = result.audits[names[0]].policy or {}
    if policy.get("kind") == "fmr":
        on = f" on {policy['group']}" if policy.get("group") is not None else ""
        where = f"each at its own FMR {_target(policy['value'])} threshold{on}"
    elif policy.get("kind") == "eer":
        where = "each at its own EER threshold"
    else:
        where = f"at the fixed threshold {result.audits[names[0]].threshold:.4g}"
    return f"Systems {listed} by {by}, {where}"


def _verification_where(result: Any) -> str:
    policy = result.policy or {}
    if policy.get("kind") == "fmr":
        on = f" on {policy['group']}" if policy.get("group") is not None else ""
        return f"at FMR {_target(policy['value'])}{on}"
    if policy.get("kind") == "fixed" and policy.get("source"):
        return f"at a threshold from a previous audit ({result.threshold:.4g})"
    if policy.get("kind") == "eer":
        return "at the pooled EER threshold"
    return f"at threshold {result.threshold:.4g}"


def _auto_name(result: Any) -> str:
    kind = result.kind
    by = " × ".join(str(b) for b in result.by)
    if kind == "systems":
        return _systems_name(result, by)
    if kind == "verification":
        return f"Verification by {by} {_verification_where(result)}"
    if kind == "covariates":
        names = [str(c) for c in result.covariates]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"Covariates {listed} by {by} {_verification_where(result)}"
    if kind == "identification":
        policy = result.policy or {}
        where = (f"at FPIR {_target(policy['value'])}" if policy.get("kind") == "fpir"
                 else f"at threshold {result.threshold:.4g}")
        return f"Identification (1:N) by {by} {where}"
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


def _entries_from_data(data: Mapping[str, Any]) -> list[_Entry]:
    if not isinstance(data, Mapping) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, Mapping) else type(data).__name__
        raise errors.FairauditInputError(NOT_REPORT_DATA.format(got=got, expected=SCHEMA))
    entries = []
    for item in data["results"]:
        result = load_result(item["result"], name=f"results {item.get('id')!r}")
        entries.append(_Entry(id=item["id"], name=item["name"], kind=result.kind, result=result))
    return entries
