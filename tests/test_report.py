"""The HTML report: self-contained, escaped, ordered, marked by tolerances, rebuilt from JSON."""

from __future__ import annotations

import json
import re
from html import unescape
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit import EmbeddingSet, synthetic
from fairaudit.reporting import rendering as report_module
from fairaudit.reporting import views as views_module
from fairaudit.classification.audit import classification_audit
from fairaudit.cli import main
from fairaudit.diagnostics.audit import embedding_diagnostics
from fairaudit.common.errors import FairauditInputError
from fairaudit.reporting.document import (
    DEFAULT_TOLERANCES,
    SCHEMA,
    fmt_num,
    mark,
    render,
    report,
    report_data,
    resolve_tolerances,
    to_html,
)
from fairaudit.verification.audit import verification_audit

ROOT = Path(__file__).resolve().parents[1]
HOSTILE_ETHNICITY = {"A": "<script>alert(1)</script>", "B": '"><img src=x onerror=alert(1)>', "N": "東京"}
HOSTILE_GENDER = {"H": "Zoë", "M": "Ελλάδα 'q'"}
HOSTILE_TITLE = "<script>alert('title')</script> & \"quoted\" Zoë"
VOLATILE = re.compile(r'<span class="volatile">.*?</span>', re.S)
TINY_PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9"
            "awAAAABJRU5ErkJggg==")


def _stable(html: str) -> str:
    """The HTML without the parts that depend on when it was generated."""
    return VOLATILE.sub("", html)


@pytest.fixture
def fast_figures(monkeypatch):
    """Skip drawing: tests about text, marks and files do not need real figures (drawing is the slow part)."""
    def stub(build, *, alt, caption, wide=False):
        return {"uri": TINY_PNG, "alt": alt, "caption": caption, "width": 1, "height": 1, "wide": wide}

    monkeypatch.setattr(views_module, "_figure", stub)


@pytest.fixture(scope="module")
def population():
    return synthetic.population("diveface", n_identities=15, samples_per_identity=4, dim=32, random_state=3)


@pytest.fixture(scope="module")
def verification(population):
    return verification_audit(population, by="ethnicity", threshold={"fmr": 1e-2}, n_boot=20, random_state=0)


@pytest.fixture(scope="module")
def classification(population):
    return classification_audit(population, target="gender", by="ethnicity", split="per-group", n_seeds=2,
                                progress=False, keep_models="none")


@pytest.fixture(scope="module")
def six_class(population):
    return classification_audit(population, target=["gender", "ethnicity"], by="ethnicity", split="pooled",
                                n_seeds=2, progress=False, keep_models="none")


@pytest.fixture(scope="module")
def diagnostics(population):
    return embedding_diagnostics(population, by=["gender", "ethnicity"], method="pca", cv=3)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory, verification, classification, six_class, diagnostics, population):
    out = tmp_path_factory.mktemp("report")
    path = report([diagnostics, six_class, verification, classification], out / "r.html", population=population,
                  json_path=out / "r.json")
    return path.read_text(encoding="utf-8"), json.loads((out / "r.json").read_text(encoding="utf-8")), out


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = synthetic.population("diveface", n_identities=8, samples_per_identity=3, dim=16, random_state=1)
    attrs = base.attributes
    attrs["ethnicity"] = attrs["ethnicity"].map(HOSTILE_ETHNICITY)
    attrs["gender"] = attrs["gender"].map(HOSTILE_GENDER)
    es = EmbeddingSet(base.embeddings, identity=base.identity, attributes=attrs)
    result = verification_audit(es, by=["ethnicity", "gender"], threshold="eer", n_boot=0)
    path = report({HOSTILE_TITLE: result}, tmp_path_factory.mktemp("hostile") / "h.html", title=HOSTILE_TITLE)
    return path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# self-contained and safe
def test_report_requests_nothing_from_the_network(full_report):
    html = full_report[0]
    urls = re.findall(r'\b(?:src|href|action|poster|data)\s*=\s*["\']?([^"\'\s>]+)', html, flags=re.I)
    assert urls, "expected some src/href attributes"
    assert not [u for u in urls if u.lower().startswith(("http://", "https://", "//"))]
    assert all(u.startswith(("#", "data:")) for u in urls), [u[:40] for u in urls if not u.startswith(("#", "data:"))]
    assert "@import" not in html and "url(" not in html.replace("data:", "")
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert csp and unescape(csp.group(1)).startswith("default-src 'none'; img-src data:;")
    assert not re.search(r"<script[^>]+src=", html) and not re.search(r"<link[^>]+stylesheet", html)


def test_every_figure_is_an_inline_png(full_report):
    html = full_report[0]
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) >= 8 + 2
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert 'class="figure-error"' not in html  # no figure failed to draw


def test_hostile_strings_are_shown_as_text(hostile):
    html = hostile
    # our own inline script is the only one; user strings never open a tag
    assert len(re.findall(r"<script", html, flags=re.I)) == 1
    assert "<img src=x" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert not re.search(r"<img[^>]*onerror", html, flags=re.I)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; &amp; &#34;quoted&#34; Zoë" in html
    for name in ("東京", "Zoë", "Ελλάδα"):
        assert name in html
    assert html.count("<title>") == 1


def test_templates_autoescape():
    env = report_module._environment()
    assert env.autoescape is True
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


# --------------------------------------------------------------------------
# content
def test_sections_appear_in_order(full_report):
    html = full_report[0]
    positions = [html.index(f'<section id="{s}"') for s in
                 ("findings", "data", "verification", "classification", "diagnostics", "method")]
    assert positions == sorted(positions)
    # findings list results in section order: verification before classification before diagnostics
    data = full_report[1]
    assert [r["kind"] for r in data["results"]] == ["verification", "classification", "classification",
                                                    "diagnostics"]


def test_sections_of_absent_kinds_are_left_out(tmp_path, verification, fast_figures):
    html = report(verification, tmp_path / "v.html").read_text(encoding="utf-8")
    assert '<section id="verification"' in html
    assert '<section id="classification"' not in html and '<section id="diagnostics"' not in html


def test_findings_sentences_quote_group_rates_and_cis(full_report, verification):
    data = full_report[1]
    bg = verification.by_group
    worst = bg.loc[bg["fnmr"].idxmax()]
    sentence = next(f["sentence"] for f in data["findings"] if f["id"].endswith("/fnmr_by_group"))
    assert sentence.startswith("At FMR 1e-2 (threshold")
    # the population's codebook names the group: "group Black (N)"
    assert f"({worst['label']})" in sentence and "95 % CI" in sentence and "×" in sentence
    assert re.search(rf"group \w+ \({worst['label']}\)", sentence) or f"group {worst['label']}" in sentence
    ratio = next(f for f in data["findings"] if f["figure"] == "fnmr_max_min")
    row = verification.fairness.loc["fnmr_max_min"]
    assert ratio["value"] == pytest.approx(row["value"])
    assert ratio["ci_low"] == pytest.approx(row["ci_low"]) and ratio["ci_high"] == pytest.approx(row["ci_high"])
    assert ratio["mark"] in ("pass", "review", "fail")
    assert ratio["mark"] in ratio["sentence"]


def test_classification_and_diagnostics_content(full_report, classification, six_class):
    html, data, _ = full_report
    assert "Per-group metrics per model" in html and "Disparity figures (fairlearn)" in html
    assert "Attribute probe" in html
    assert html.count('alt="ROC curves of model') == len(classification.models)
    assert html.count('alt="Confusion matrices of model') == len(six_class.models)
    six_id = next(r["id"] for r in data["results"] if r["result"].get("target") == ["gender", "ethnicity"])
    six = [f for f in data["findings"] if f["figure"] == "equalized_odds_difference" and f["result"] == six_id]
    assert six and not six[0]["defined"] and six[0]["mark"] is None
    assert "binary targets only" in six[0]["reason"]


def test_data_section_counts_and_failures_to_acquire(tmp_path, population, verification, fast_figures):
    fails = pd.DataFrame({"path": ["x.jpg", "y.jpg", "z.jpg"], "identity": ["q1", "q2", "q3"],
                          "reason": ["no face", "no face", "unreadable"], "gender": ["H", "M", "M"],
                          "ethnicity": ["N", "N", "A"]})
    with_failures = EmbeddingSet(population.embeddings, identity=population.identity,
                                 attributes=population.attributes, failures=fails)
    data = report_data(verification, population=with_failures)
    item = data["data"]["failure_to_acquire"][0]
    assert item["status"] == "table" and item["by"] == ["ethnicity"]
    table = pd.DataFrame(item["table"]["data"], columns=item["table"]["columns"]).set_index("group")
    assert table.loc["N", "n_failures"] == 2 and table.loc["A", "n_failures"] == 1
    assert table.loc["N", "n_attempts"] == (population.attributes["ethnicity"] == "N").sum() + 2
    assert report_data(verification, population=population)["data"]["failure_to_acquire"][0]["status"] == \
        "none-recorded"
    assert report_data(verification)["data"]["failure_to_acquire"][0]["status"] == "not-available"
    html = report(verification, tmp_path / "f.html", population=with_failures).read_text(encoding="utf-8")
    assert "Failure-to-acquire rate per group" in html
    with pytest.raises(FairauditInputError, match="population must be None or the EmbeddingSet"):
        report_data(verification, population="pop.npz")


def test_notes_of_small_groups_become_warnings(verification):
    data = report_data(verification)
    texts = [w["text"] for w in data["data"]["warnings"]]
    assert texts == [str(n) for n in verification.notes]
    assert any("fnmr_at_fmr_1e-04" in t for t in texts)


# --------------------------------------------------------------------------
# marks and tolerances
def test_mark_bands_lower_and_higher_is_fairer():
    lower = {"pass": 1.25, "review": 2.0, "better": "lower"}
    assert [mark(v, lower) for v in (1.0, 1.25, 1.3, 2.0, 2.01)] == ["pass", "pass", "review", "review", "fail"]
    higher = {"pass": 0.95, "review": 0.9, "better": "higher"}
    assert [mark(v, higher) for v in (1.0, 0.95, 0.92, 0.9, 0.5)] == ["pass", "pass", "review", "review", "fail"]
    assert mark(float("nan"), lower) is None and mark(None, lower) is None and mark(1.0, None) is None


@pytest.mark.parametrize("offsets, expected", [((0.01, 0.02), "pass"), ((-0.2, 0.01), "review"),
                                               ((-0.2, -0.1), "fail")])
def test_marks_follow_user_tolerances(verification, offsets, expected):
    value = float(verification.fairness.loc["fnmr_max_min", "value"])
    tol = {"fnmr_max_min": {"pass": value + offsets[0], "review": value + offsets[1]}}
    data = report_data(verification, tolerances=tol)
    finding = next(f for f in data["findings"] if f["figure"] == "fnmr_max_min")
    assert finding["mark"] == expected
    assert finding["tolerance"]["pass"] == pytest.approx(value + offsets[0])
    assert data["tolerances"]["fnmr_max_min"]["better"] == "lower"
    assert data["tolerances"]["fdr"] == DEFAULT_TOLERANCES["fdr"]


def test_default_marks_match_default_tolerances(verification):
    data = report_data(verification)
    for f in data["findings"]:
        if f["kind"] == "figure" and f["defined"]:
            assert f["mark"] == mark(f["value"], DEFAULT_TOLERANCES[f["figure"]])
    counts = {k: sum(1 for f in data["findings"] if f["kind"] == "figure" and f["headline"] and f["mark"] == k)
              for k in ("pass", "review", "fail")}
    assert {k: data["summary"][k] for k in counts} == counts


def test_a_tolerance_can_be_switched_off(verification):
    data = report_data(verification, tolerances={"garbe": None})
    finding = next(f for f in data["findings"] if f["figure"] == "garbe")
    assert finding["mark"] is None and finding["tolerance"] is None and data["summary"]["unmarked"] == 1


def test_undefined_figure_is_shown_without_a_mark(tmp_path, population, fast_figures):
    # at a very strict fixed threshold some group has no false match: FMR max/min divides by zero
    result = verification_audit(population, by="ethnicity", threshold=0.95, n_boot=0)
    assert not result.fairness.loc["fmr_max_min", "defined"]
    path = report(result, tmp_path / "u.html", json_path=tmp_path / "u.json")
    data = json.loads((tmp_path / "u.json").read_text(encoding="utf-8"))
    finding = next(f for f in data["findings"] if f["figure"] == "fmr_max_min")
    assert finding["defined"] is False and finding["mark"] is None and finding["value"] is None
    assert "undefined" in finding["sentence"] and "divides by zero" in finding["sentence"]
    assert data["summary"]["undefined"] >= 1
    html = path.read_text(encoding="utf-8")
    row = re.search(r'<tr><td class="" title="fmr_max_min">FMR max/min ratio</td>(.*?)</tr>', html, re.S)
    assert row and "undefined" in row.group(1) and "mark-" not in row.group(1)


@pytest.mark.parametrize("tolerances, needle", [
    ({"fnmr_ratio": {"pass": 1, "review": 2}}, "does not mark; known figures"),
    ({"fnmr_max_min": {"pass": 2, "review": 1}}, "pass <= review"),
    ({"fdr": {"pass": 0.8, "review": 0.9}}, "pass >= review"),
    ({"fdr": {"pass": "high", "review": 0.9}}, "must be null or a mapping"),
    ({"fdr": {"pass": 0.95, "review": 0.9, "better": "lower"}}, "higher values are fairer"),
    ([1, 2], "tolerances must be None, a mapping"),
])
def test_bad_tolerances_are_refused(tolerances, needle):
    with pytest.raises(FairauditInputError, match=re.escape(needle)) as info:
        resolve_tolerances(tolerances)
    assert "Fix:" in str(info.value)


def test_tolerances_from_a_json_file(tmp_path):
    path = tmp_path / "tol.json"
    path.write_text(json.dumps({"fnmr_max_min": {"pass": 1.1, "review": 1.5}}), encoding="utf-8")
    assert resolve_tolerances(path)["fnmr_max_min"] == {"pass": 1.1, "review": 1.5, "better": "lower"}


# --------------------------------------------------------------------------
# JSON
def test_report_data_is_strict_json_with_the_documented_keys(full_report):
    data = full_report[1]
    json.dumps(data, allow_nan=False)
    assert data["schema"] == SCHEMA
    doc = (ROOT / "docs" / "reference" / "json-schema.md").read_text(encoding="utf-8")
    for key in data:
        assert f"`{key}`" in doc, f"top-level key {key!r} is not documented"
    for finding in data["findings"]:
        for key in finding:
            assert f"`{key}`" in doc, f"finding key {key!r} is not documented"
    for key in data["data"]:
        assert f"`{key}`" in doc


def test_json_round_trip_rebuilds_the_same_html(full_report):
    html, data, out = full_report
    again = render(json.loads(json.dumps(data)))
    assert _stable(again) == _stable(html)


def test_result_json_files_rebuild_the_same_report(tmp_path, verification, classification, capsys):
    direct = report([verification, classification], tmp_path / "direct.html").read_text(encoding="utf-8")
    verification.to_json(tmp_path / "v.json")
    classification.to_json(tmp_path / "c.json")
    code = main(["report", str(tmp_path / "v.json"), str(tmp_path / "c.json"), "--out", str(tmp_path / "cli.html"),
                 "--json", str(tmp_path / "cli.json")])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"Report: {tmp_path / 'cli.html'}"
    assert _stable((tmp_path / "cli.html").read_text(encoding="utf-8")) == _stable(direct)
    stored = json.loads((tmp_path / "cli.json").read_text(encoding="utf-8"))
    assert stored["schema"] == SCHEMA and [r["kind"] for r in stored["results"]] == ["verification", "classification"]


def test_a_report_data_file_rebuilds_its_report(tmp_path, verification, population, fast_figures, capsys):
    path = report({"Audit": verification}, tmp_path / "first.html", population=population,
                  json_path=tmp_path / "first.json")
    first = path.read_text(encoding="utf-8")
    assert main(["report", str(tmp_path / "first.json"), "--out", str(tmp_path / "same.html")]) == 0
    assert _stable((tmp_path / "same.html").read_text(encoding="utf-8")) == _stable(first)
    # a new title and new tolerances replace the stored ones; the population's data stays
    (tmp_path / "tol.json").write_text('{"fnmr_max_min": {"pass": 1000, "review": 2000}}', encoding="utf-8")
    assert main(["report", str(tmp_path / "first.json"), "--out", str(tmp_path / "again.html"),
                 "--title", "Second look", "--tolerances", str(tmp_path / "tol.json"),
                 "--json", str(tmp_path / "again.json")]) == 0
    again = (tmp_path / "again.html").read_text(encoding="utf-8")
    assert "<title>Second look</title>" in again and "No failures to acquire are recorded" in again
    data = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    assert next(f for f in data["findings"] if f["figure"] == "fnmr_max_min")["mark"] == "pass"
    assert data["data"]["population"]["n_samples"] == len(population)


def test_results_may_be_dicts_paths_or_named(tmp_path, verification):
    verification.to_json(tmp_path / "v.json")
    from_dict = report_data(verification.to_dict())
    from_path = report_data(str(tmp_path / "v.json"))
    named = report_data({"My audit": verification, "skipped": None})
    assert from_dict["findings"] == from_path["findings"]
    assert [r["name"] for r in named["results"]] == ["My audit"]
    assert from_dict["results"][0]["name"] == "Verification by ethnicity at FMR 1e-2"


@pytest.mark.parametrize("bad, needle", [
    ([], "results is empty"),
    ({"kind": "nonsense"}, "kind='nonsense'"),
    ({"kind": "verification"}, "cannot be read as such a result"),
    ({"something": 1}, "is not a fairaudit result"),
    (42, "is not a fairaudit result"),
    ("missing.json", "does not exist"),
])
def test_bad_results_raise_clear_errors(bad, needle):
    with pytest.raises(FairauditInputError, match=re.escape(needle)):
        report_data(bad)


# --------------------------------------------------------------------------
# API and CLI
def test_report_is_a_plain_function_and_to_html_writes(tmp_path, verification, fast_figures):
    import inspect

    import fairaudit.reporting

    assert inspect.isfunction(fairaudit.report)  # no callable-module trick (issue 12)
    assert fairaudit.report(verification, tmp_path / "a.html").exists()
    assert to_html(verification, tmp_path / "b.html", title="One").read_text(encoding="utf-8").count("One") >= 1
    assert fairaudit.reporting.report_data is report_data


def test_number_formatting():
    assert fmt_num(0.000999) == "9.99e-04"
    assert fmt_num(0.0421) == "0.0421"
    assert fmt_num(4.78012) == "4.78"
    assert fmt_num(123456) == "123,456" and fmt_num(np.int64(1000)) == "1,000"
    assert fmt_num(float("nan")) == "n/a" and fmt_num(None) == "n/a" and fmt_num(0.0) == "0"
    assert fmt_num(True) == "yes"


def _run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fairaudit.cli", *argv], capture_output=True, text=True)


@pytest.mark.parametrize("content, needle", [
    (None, "does not exist"),
    ('{"hello": "world"}', "is not a fairaudit result"),
    ("[1, 2, 3]", "is not a fairaudit result"),
    ("{not json", "is not valid JSON"),
    ('{"kind": "verification", "threshold": 0.5}', "cannot be read as such a result"),
])
def test_cli_bad_input_gives_one_line_error_and_exit_code_2(tmp_path, content, needle):
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    proc = _run_cli("report", str(path), "--out", str(tmp_path / "r.html"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("fairaudit: error:")
    assert needle in proc.stderr and "Fix:" in proc.stderr
    assert not (tmp_path / "r.html").exists()


def test_cli_bad_tolerances_file(tmp_path, verification):
    verification.to_json(tmp_path / "v.json")
    (tmp_path / "tol.json").write_text('{"fnmr_max_min": {"pass": 3, "review": 1}}', encoding="utf-8")
    proc = _run_cli("report", str(tmp_path / "v.json"), "--out", str(tmp_path / "r.html"),
                    "--tolerances", str(tmp_path / "tol.json"))
    assert proc.returncode == 2 and "pass <= review" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_report_requires_out(tmp_path):
    proc = _run_cli("report", "x.json")
    assert proc.returncode == 2 and "--out" in proc.stderr


def test_demo_writes_the_report_and_prints_its_path_last(tmp_path, capsys, fast_figures, monkeypatch):
    from fairaudit.identification import plots as identification_plots

    monkeypatch.setattr(fairaudit.plot, "save_all", lambda *a, **k: [])  # the PNG files are test_cli's business
    monkeypatch.setattr(identification_plots, "save_all", lambda *a, **k: [])
    from fairaudit.systems import plots as systems_plots

    monkeypatch.setattr(systems_plots, "save_all", lambda *a, **k: [])
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-identities", "10", "--dim", "16", "--n-boot", "20",
                 "--no-classification"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.endswith(str(out / "report.html"))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('<article class="result"') == 7  # four verification results, the 1:N one, two systems, covariates
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["data"]["failure_to_acquire"][0]["status"] == "none-recorded"


def test_group_names_with_dollar_signs_are_drawn_as_text(tmp_path):
    # matplotlib parses "$...$" as mathtext; "$x^$" would make every figure fail to draw
    base = synthetic.population("diveface", n_identities=6, samples_per_identity=3, dim=16, random_state=4)
    attrs = base.attributes
    attrs["ethnicity"] = attrs["ethnicity"].map({"A": "$x^$", "B": "cost $5", "N": r"\frac{1}"})
    es = EmbeddingSet(base.embeddings, identity=base.identity, attributes=attrs)
    result = verification_audit(es, by="ethnicity", threshold="eer", n_boot=0)
    html = report(result, tmp_path / "d.html").read_text(encoding="utf-8")
    assert 'class="figure-error"' not in html
    assert "$x^$" in html and "cost $5" in html


def test_getting_started_snippets_run_in_the_order_shown(tmp_path, monkeypatch, fast_figures):
    # the first-audit section of docs/getting-started.md: each Python block runs after the ones above it
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    section = page.split("## A first audit of your own embeddings", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 3
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in blocks:
        exec(code.replace("n_boot=1000", "n_boot=20").replace("n_identities=100", "n_identities=12"),
             namespace)
    assert (tmp_path / "report.html").exists() and (tmp_path / "population.npz").exists()


def test_first_screen_counts_equal_what_findings_shows(tmp_path, verification, classification, fast_figures):
    path = report({"V": verification, "C": classification}, tmp_path / "r.html", json_path=tmp_path / "r.json")
    html = path.read_text(encoding="utf-8")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    top = html.split("<main>", 1)[0]
    findings = html.split('<section id="findings"', 1)[1].split("</section>", 1)[0]
    for key in ("pass", "review", "fail"):
        badge = int(re.search(rf'mark-{key}"><span aria-hidden="true">[^<]*</span>(\d+) {key}', top).group(1))
        # every headline figure appears once in the Findings tables, with its mark
        table_marks = len(re.findall(rf'<td[^>]*>\s*<span class="mark mark-{key}"', findings))
        assert badge == data["summary"][key] == table_marks
    # one verdict per result, before the counts
    assert top.index('class="verdicts"') < top.index('class="summary"')
    assert len(re.findall(r'<li class="verdict verdict-', top)) == 2
    # the header time is the total of the time table
    total = sum(r.provenance["elapsed_s"] for r in (verification, classification))
    assert f"audits ran in {total:.1f} s" in top
    assert " figures</p>" not in top


def test_demo_text_shows_the_report_marks_and_the_intervals_its_notes_mention(tmp_path, verification,
                                                                                 classification, fast_figures):
    from fairaudit.cli.demo import _accuracy_intervals, _report_marks

    report({"V": verification, "C": classification}, tmp_path / "r.html", json_path=tmp_path / "r.json")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    text = _report_marks(tmp_path / "r.json")
    s = data["summary"]
    assert text.splitlines()[0] == (
        f"Report marks ({sum(s.values())} headline fairness figures): {s['pass']} pass, {s['review']} review, "
        f"{s['fail']} fail, {s['undefined']} undefined")
    assert any(line.startswith("V ") for line in text.splitlines())
    table = _accuracy_intervals(classification)
    row = classification.cross.iloc[0]
    assert f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]" in table
    assert any("Student-t" in n for n in classification.notes)


def _demo_shaped_report(tmp_path, verification, classification):
    """A report with the demo's results' names, kinds and title (from small results): its first
    screen has the structure of the demo's."""
    from fairaudit.cli import demo

    diag = embedding_diagnostics(synthetic.population("diveface", n_identities=6, samples_per_identity=2, dim=32,
                                                      random_state=1), by=["gender", "ethnicity"], method="pca",
                                 cv=2)
    from fairaudit.identification import identification_audit

    results = {}
    for pair in demo.VERIFICATION_TITLES.values():
        results.update({title: verification for title in pair})
    results[demo.IDENTIFICATION_TITLE] = identification_audit(
        synthetic.population("diveface", n_identities=8, samples_per_identity=2, dim=32, random_state=1),
        by=["gender", "ethnicity"], n_boot=0)
    from fairaudit.covariates import covariate_audit
    from fairaudit.systems import compare_systems

    results[demo.COMPARE_TITLE] = compare_systems(
        synthetic.systems("diveface", n_identities=8, samples_per_identity=2, dim=32, random_state=1),
        by=["gender", "ethnicity"], threshold={"fmr": 1e-2}, n_boot=20)
    results[demo.COVARIATES_TITLE] = covariate_audit(
        synthetic.population("covariates_direct", n_identities=12, samples_per_identity=3, dim=32, random_state=1),
        by="ethnicity", threshold={"fmr": 1e-2}, n_boot=0)
    for key, title in demo.STUDY_TITLES.items():
        results[title] = diag if key == "diagnostics" else classification
    return report(results, tmp_path / "demo.html", title=demo.REPORT_TITLE).read_text(encoding="utf-8")


def test_readme_screenshot_shows_the_demo_first_screen(tmp_path, verification, classification, fast_figures):
    # docs/img/report-top.txt is written with the screenshot (tests/test_report_browser.py,
    # FAIRAUDIT_UPDATE_SCREENSHOT=1); when the first screen changes, the screenshot must be refreshed
    from fairaudit.reporting.rendering import first_screen_outline

    stored = (ROOT / "docs" / "img" / "report-top.txt").read_text(encoding="utf-8").splitlines()
    outline = first_screen_outline(_demo_shaped_report(tmp_path, verification, classification))
    assert outline == stored, ("the demo's first screen changed: refresh docs/img/report-top.png with "
                               "FAIRAUDIT_UPDATE_SCREENSHOT=1 pytest tests/test_report_browser.py")
    assert any(line.startswith("verdict: ") for line in outline)


def test_report_writes_groups_with_the_codebook_and_shows_it(tmp_path, population, fast_figures):
    result = verification_audit(population, by=["gender", "ethnicity"], threshold="eer", n_boot=0)
    html = report(result, tmp_path / "r.html", population=population).read_text(encoding="utf-8")
    data_section = html.split('<section id="data"', 1)[1].split("</section>", 1)[0]
    assert 'id="codebook"' in data_section
    for code, name in (("H", "man"), ("M", "woman"), ("A", "Asian"), ("B", "White"), ("N", "Black")):
        assert re.search(rf"<td[^>]*>{code}</td>\s*<td[^>]*>{name}</td>", data_section)
    verification_section = html.split('<section id="verification"', 1)[1]
    assert "woman (M) &amp; Black (N)" in verification_section  # the order of by: gender, then ethnicity


def test_figure_legends_use_the_codebook_in_the_order_of_by(population):
    from fairaudit.reporting.codebook import display_names, readable
    from fairaudit.reporting.entries import _Entry
    from fairaudit.verification import plots as plot

    book = population.value_labels
    assert readable("M & N", ["gender", "ethnicity"], book) == "woman (M) & Black (N)"
    assert readable("N & M", ["ethnicity", "gender"], book) == "Black (N) & woman (M)"
    assert readable("all", ["gender"], book) == "all" and readable("X", ["gender"], book) == "X"
    result = verification_audit(population, by=["gender", "ethnicity"], threshold="eer", n_boot=0)
    names = display_names([_Entry(id="v", name="v", kind="verification", result=result)], book)
    with plot.display_labels(names):
        ax = plot.det(result)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "woman (M) & Black (N)" in legend and "M & N" not in legend


def test_planted_orderings_are_compared_with_the_observed_ones(tmp_path, fast_figures):
    from scipy.stats import kendalltau

    from fairaudit.reporting.codebook import planted_checks
    from fairaudit.reporting.entries import _Entry

    es = synthetic.population("diveface", n_identities=40, samples_per_identity=4, dim=64, random_state=0)
    result = verification_audit(es, by=["ethnicity", "gender"], threshold={"fmr": 1e-2}, n_boot=0)
    checks = planted_checks(es.metadata["planted"], [_Entry(id="v", name="v", kind="verification", result=result)])
    assert [c["metric"] for c in checks] == ["FNMR", "FMR"]
    for c in checks:
        # planted groups rewritten in the order of this audit's by
        assert all(g.split(" & ")[0] in "ABN" for g in c["planted"])
        observed = result.by_group.sort_values(c["metric"].lower(), ascending=False)["label"].tolist()
        assert c["observed"] == observed and c["recovered"] == (observed == c["planted"])
        rank = {g: i for i, g in enumerate(c["observed"])}
        assert c["tau"] == pytest.approx(kendalltau(range(len(c["planted"])),
                                                    [rank[g] for g in c["planted"]]).statistic)
    html = report(result, tmp_path / "p.html", population=es).read_text(encoding="utf-8")
    assert 'id="planted"' in html and ("recovered every planted ordering" in html or "recovered 0 of" in html
                                       or "recovered 1 of" in html)


def test_findings_state_the_tested_gap_with_holm_adjusted_p_values():
    pop = synthetic.population("diveface", n_identities=30, samples_per_identity=3, dim=32, random_state=0)
    result = verification_audit(pop, by="ethnicity", threshold={"fmr": 1e-2}, n_boot=100, n_perm=1000)
    findings = {f["rate"]: f for f in report_data([result])["findings"] if f.get("kind") == "comparison"}
    sentence = findings["fnmr"]["sentence"]
    bg = result.by_group.set_index("label")
    high, low = bg["fnmr"].idxmax(), bg["fnmr"].idxmin()
    row = result.comparisons[(result.comparisons.metric == "fnmr") & (result.comparisons.kind == "pair")
                             & result.comparisons.group_a.isin([high, low])
                             & result.comparisons.group_b.isin([high, low])].iloc[0]
    ratio = bg.loc[high, "fnmr"] / bg.loc[low, "fnmr"]
    assert f"FNMR is {ratio:.3g}×" in sentence
    assert f"p = {row.p_holm:.2g} after Holm's adjustment over {result.comparisons.p_holm.notna().sum()}" in sentence
    assert sentence.endswith("a real gap at the 5 % level.")
