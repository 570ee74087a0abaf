"""Rendering a report page: the Jinja2 environment (autoescaping on, bidirectional-text controls
shown as text), the inline CSS and JavaScript with their Content-Security-Policy hashes, and
``_render``, which turns report data and its entries into the HTML."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

from fairaudit.reporting.codebook import codebook_of, display_names
from fairaudit.reporting.entries import KINDS, _Entry
from fairaudit.reporting.figures import draw_figures
from fairaudit.reporting.formatting import fmt_num
from fairaudit.reporting.views import (
    _classification_view,
    _covariates_view,
    _data_view,
    _diagnostics_view,
    _findings_view,
    _identification_view,
    _method_view,
    _systems_view,
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


#: the plain verdict of one question, from the marks of its headline figures
VERDICTS = {
    "fail": "{n} of {total} headline figures outside the review band",
    "review": "none fails; {n} of {total} headline figures in the review band",
    "pass": "all {total} headline figures within the pass band",
    "undefined": "no verdict: no headline figure is defined",
    "diagnostics": "not marked: diagnostics describe the embeddings, they do not pass or fail",
}


def _verdict(kind: str, counts: Mapping[str, int]) -> dict[str, str]:
    if kind == "diagnostics":
        return {"verdict": "none", "verdict_text": VERDICTS["diagnostics"]}
    for key in ("fail", "review", "pass"):
        if counts[key]:
            n = sum(counts[k] for k in ("pass", "review", "fail", "undefined"))
            return {"verdict": key, "verdict_text": VERDICTS[key].format(n=counts[key], total=n)}
    return {"verdict": "undefined", "verdict_text": VERDICTS["undefined"]}


def _render(data: Mapping[str, Any], entries: list[_Entry]) -> str:
    from markupsafe import Markup

    from fairaudit.verification import display_labels

    findings = data["findings"]
    by_kind = {kind: [e for e in entries if e.kind == kind] for kind in KINDS}
    # the codebook's readable names in every table and figure: "woman (M) & Black (N)"
    codebook = codebook_of(data, [e.result for e in entries])
    with display_labels(display_names(entries, codebook)):
        views = {
            "verification": [_verification_view(e, findings, data) for e in by_kind["verification"]],
            "systems": [_systems_view(e, findings, data) for e in by_kind["systems"]],
            "covariates": [_covariates_view(e, findings, data) for e in by_kind["covariates"]],
            "identification": [_identification_view(e, findings, data) for e in by_kind["identification"]],
            "classification": [_classification_view(e, findings, data) for e in by_kind["classification"]],
            "diagnostics": [_diagnostics_view(e, findings, data) for e in by_kind["diagnostics"]],
        }
        data_view = _data_view(entries, data)
        draw_figures([f for kind in views.values() for v in kind for f in v["figures"]])
    css, js = _static("report.css"), _static("report.js")
    csp = ("default-src 'none'; img-src data:; style-src " + _csp_hash(css) + "; script-src "
           + _csp_hash(js) + "; base-uri 'none'; form-action 'none'")
    n_images = sum(len(v["figures"]) for kind in views.values() for v in kind)
    glance = []
    for e in entries:
        counts = {"pass": 0, "review": 0, "fail": 0, "undefined": 0}
        for f in findings:
            if f["result"] == e.id and f["kind"] == "figure" and f.get("headline", True):
                if not f["defined"]:
                    counts["undefined"] += 1
                elif f["mark"]:
                    counts[f["mark"]] += 1
        verdict = _verdict(e.kind, counts)
        if e.kind == "systems":
            # a comparison's verdict is a sentence (which system is more accurate, which fairer), not a mark
            said = next((f["sentence"] for f in findings if f["result"] == e.id and f["kind"] == "verdict"), "")
            verdict = {"verdict": "comparison", "verdict_text": said}
        elif e.kind == "covariates":
            # the plain answer (does the gap survive?) with the worst mark of its headline odds ratios
            from fairaudit.reporting.covariates import verdict as covariate_verdict

            short = covariate_verdict(e.result)["short"]
            verdict = {"verdict": verdict["verdict"] if verdict["verdict"] in ("pass", "review", "fail") else "none",
                       "verdict_text": short}
        glance.append({"id": e.id, "name": e.name, "kind": e.kind, **counts, **verdict})
    method = _method_view(entries, data)
    template = _environment().get_template("report.html.j2")
    html = template.render(
        title=data["title"], created=data["created"], version=data["fairaudit_version"],
        summary=data["summary"], entries=glance,
        findings=_findings_view(entries, data), data=data_view,
        verification=views["verification"], systems=views["systems"], covariates=views["covariates"],
        identification=views["identification"],
        classification=views["classification"],
        diagnostics=views["diagnostics"], method=method,
        css=Markup(css), js=Markup(js), csp=csp, n_images=n_images,
        n_marked=sum(data["summary"].values()), run_seconds=method["total_seconds"],
    )
    return html


def first_screen_outline(html: str) -> list[str]:
    """The structure of a report's first screen (its header), numbers and times left out: the title,
    each verdict's result, the mark badges, the contents and the at-a-glance rows. The README's
    screenshot (``docs/img/report-top.png``) is stored with the outline it shows, and a test compares
    that outline with the demo's, so the picture cannot silently go stale."""
    import re
    from html import unescape

    top = html.split('<header class="top">', 1)[-1].split("</header>", 1)[0]
    top = re.sub(r'<span class="volatile">.*?</span>', "", top, flags=re.S)

    def text(fragment: str) -> str:
        plain = unescape(re.sub(r"<[^>]+>", "", fragment))
        return re.sub(r"\s+", " ", re.sub(r"\d+(\.\d+)?", "#", plain)).strip()

    out = [f"title: {text(m)}" for m in re.findall(r"<h1>(.*?)</h1>", top, re.S)]
    out += [f"meta: {text(m)}" for m in re.findall(r'<p class="meta">(.*?)</p>', top, re.S)]
    out += [f"verdict: {text(m)}" for m in re.findall(r'<li class="verdict[^"]*"><a [^>]*>(.*?)</a>', top, re.S)]
    summary = "".join(re.findall(r'<p class="summary".*?</p>', top, re.S))
    summary = re.sub(r'<span aria-hidden="true">[^<]*</span>', "", summary)
    out += [f"badge: {text(m)}" for m in
            re.findall(r'<span class="(?:mark mark-\w+|undefined-count|summary-label)">(.*?)</span>', summary, re.S)]
    out += [f"contents: {text(m)}" for m in re.findall(r'<nav class="toc".*?</nav>', top, re.S)]
    out += [f"glance: {text(a)} | {text(k)}" for a, k in
            re.findall(r'<tr><td><a [^>]*>(.*?)</a></td><td>(.*?)</td>', top, re.S)]
    return out
