"""Rendering a report page: the Jinja2 environment (autoescaping on, bidirectional-text controls
shown as text), the inline CSS and JavaScript with their Content-Security-Policy hashes, and
``_render``, which turns report data and its entries into the HTML."""

from __future__ import annotations

import hashlib
import time
from typing import Any, Mapping

from fairaudit.reporting.entries import KINDS, _Entry
from fairaudit.reporting.formatting import fmt_num
from fairaudit.reporting.views import (
    _classification_view,
    _data_view,
    _diagnostics_view,
    _findings_view,
    _method_view,
    _verification_view,
)


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
