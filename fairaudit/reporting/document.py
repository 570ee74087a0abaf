"""The HTML fairness report: one self-contained file, findings first.

:func:`report` writes one HTML file for any mix of results
(:class:`~fairaudit.verification.VerificationResult`,
:class:`~fairaudit.systems.SystemComparison`,
:class:`~fairaudit.covariates.CovariateResult`,
:class:`~fairaudit.identification.IdentificationResult`,
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
:data:`DEFAULT_TOLERANCES`), data, verification, comparison of systems, covariates, identification (1:N),
classification, diagnostics and method. :func:`report_data` returns everything the report shows as
JSON-safe data (schema in ``docs/reference/json-schema.md``);
``fairaudit report RESULT.json ... --out report.html`` rebuilds the report
from result JSON files.

``fairaudit.report(results, path)`` is :func:`report`, a plain function.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from fairaudit import __version__
from fairaudit.common import errors
from fairaudit.reporting.codebook import codebook_of, display_names
from fairaudit.reporting.covariates import _covariates_findings
from fairaudit.reporting.data_section import _fta_tables, _population_summary, _warnings
from fairaudit.reporting.entries import SCHEMA, _Entry, _entries, _entries_from_data, load_result
from fairaudit.reporting.figures import plot_classification_roc, plot_confusion, plot_cross, plot_mixture_sweep
from fairaudit.reporting.findings import _classification_findings, _diagnostics_findings, _verification_findings
from fairaudit.reporting.identification import _identification_findings
from fairaudit.reporting.systems import _systems_findings
from fairaudit.reporting.formatting import fmt_num
from fairaudit.reporting.rendering import _render
from fairaudit.reporting.tolerances import DEFAULT_TOLERANCES, mark, resolve_tolerances

BAD_POPULATION = (
    "population must be None or the EmbeddingSet the results were computed from; got {got}. "
    "Fix: pass the EmbeddingSet (its failures give the failure-to-acquire rates)."
)


def _assemble(entries: list[_Entry], *, title: str, tolerances: Any, population: Any,
              fta: list[dict[str, Any]] | None = None, population_summary: dict | None = None,
              created: str | None = None) -> dict[str, Any]:
    from fairaudit.verification import display_labels

    tol = resolve_tolerances(tolerances)
    if fta is None:
        fta = _fta_tables(entries, population)
        population_summary = _population_summary(population)
    # sentences name groups as the codebook does ("woman (M) & Black (N)")
    codebook = codebook_of({"data": {"population": population_summary}}, [e.result for e in entries])
    findings: list[dict[str, Any]] = []
    with display_labels(display_names(entries, codebook)):
        for entry in entries:
            if entry.kind == "verification":
                findings += _verification_findings(entry, tol)
            elif entry.kind == "systems":
                findings += _systems_findings(entry, tol)
            elif entry.kind == "covariates":
                findings += _covariates_findings(entry, tol)
            elif entry.kind == "identification":
                findings += _identification_findings(entry, tol)
            elif entry.kind == "classification":
                findings += _classification_findings(entry, tol)
            else:
                findings += _diagnostics_findings(entry)
    summary = {"pass": 0, "review": 0, "fail": 0, "undefined": 0, "unmarked": 0}
    for f in findings:
        # the headline figures only: the badges and the at-a-glance table count what Findings shows
        if f["kind"] != "figure" or not f.get("headline", True):
            continue
        if not f["defined"]:
            summary["undefined"] += 1
        elif f["mark"] is None:
            summary["unmarked"] += 1
        else:
            summary[f["mark"]] += 1
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
        Verification, comparison-of-systems, covariate, identification,
        classification and diagnostics results, their ``to_dict()`` or the paths of their JSON files. A dict gives each
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


__all__ = [
    "report", "report_data", "render", "to_html", "load_result", "resolve_tolerances", "mark", "fmt_num",
    "plot_cross", "plot_mixture_sweep", "plot_classification_roc", "plot_confusion",
    "DEFAULT_TOLERANCES", "SCHEMA",
]
