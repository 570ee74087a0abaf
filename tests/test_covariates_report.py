"""The report section of a covariate audit (kind "covariates"): what was audited and the plain verdict
first, FNMR and FMR per covariate bin per group with intervals and small-sample marks, the gap
before and after adjustment with its marks, the coefficients, the figures, the findings and the
contents; from the API, from JSON through ``fairaudit report``, with hostile group names, without
regressions and without FMR tables."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from html import escape, unescape
from pathlib import Path

import pytest

import fairaudit
from fairaudit.cli import main
from fairaudit.common import parallel
from fairaudit.common.serialize import frame_from_dict, frame_to_dict
from fairaudit.reporting import figures as figures_module
from fairaudit.reporting import views as views_module
from fairaudit.reporting.covariates import gap_state, verdict
from fairaudit.reporting.document import report, report_data

sys.path.insert(0, str(Path(__file__).parent))
from test_covariates import _population  # noqa: E402
from test_report_figures import _drawn_string, _texts  # noqa: E402

#: group names that are HTML, mathtext, the pooled label and a bidi override
HOSTILE = ("all", "$x$", "<b>", "a\u202eb")
VOLATILE = re.compile(r'<span class="volatile">.*?</span>|"created": "[^"]*"|audits ran in [\d.]+ s|'
                      r"<td class=\"num\" data-sort=\"[^\"]*\">[\d.]+</td>")


@pytest.fixture(scope="module")
def result():
    es = _population(n_ids=30)
    return fairaudit.covariate_audit(es, by="g", threshold={"fmr": 1e-2}, n_boot=50)


@pytest.fixture(scope="module")
def hostile():
    es = _population(n_ids=30, group_names=HOSTILE)
    return fairaudit.covariate_audit(es, by="g", threshold={"fmr": 1e-2}, n_boot=30)


@pytest.fixture
def fast_figures(monkeypatch):
    def stub(build, *, alt, caption, wide=False):
        return {"uri": "data:image/png;base64,AAAA", "alt": alt, "caption": caption, "width": 1, "height": 1,
                "wide": wide}

    monkeypatch.setattr(views_module, "_figure", stub)


@pytest.fixture(scope="module")
def drawn(hostile, tmp_path_factory):
    """The hostile result's report with its real figures, drawn here and captured from the views' calls."""
    captured = []
    real = figures_module._figure

    def capture(build, *, alt, caption, wide=False):
        def keep():
            obj = build()
            captured.append((alt, obj if hasattr(obj, "savefig") else obj.figure))
            return obj
        return real(keep, alt=alt, caption=caption, wide=wide)

    mp = pytest.MonkeyPatch()
    mp.setattr(views_module, "_figure", capture)
    mp.setattr(parallel, "MAX_WORKERS", 1)
    try:
        path = report(hostile, tmp_path_factory.mktemp("cov") / "h.html")
    finally:
        mp.undo()
    return path.read_text(encoding="utf-8"), captured


def _section(html: str) -> str:
    return html.split('<section id="covariates"', 1)[1].split("</section>", 1)[0]


def _rows(table: str) -> list[list[str]]:
    body = table.split("<tbody>", 1)[1]
    return [[" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split())
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def _table_after(html: str, heading: str) -> str:
    return html.split(heading, 1)[1].split("</table>", 1)[0]


# --------------------------------------------------------------------------
# the section, from the API
def test_the_section_shows_what_was_audited_and_the_verdict_first(result, fast_figures, tmp_path):
    html = result.to_html(tmp_path / "c.html").read_text(encoding="utf-8")
    assert '<li><a href="#covariates">Covariates</a></li>' in html  # in the contents
    section = _section(html)
    for name in result.covariates:
        assert f"<code>{name}</code>" in section
    assert f"{result.threshold:.4g}" in section and escape(result.policy["description"]) in section
    # the verdict comes before the tables, then the regressions' sentences, genuine then impostor
    question = section.index("Does the gap survive the covariates?")
    assert question < section.index("What was audited") < section.index("<h5>FNMR by quality")
    said = [unescape(s) for s in re.findall(r'<p class="cov-answer">(.*?)</p>', section, re.S)]
    assert said == verdict(result)["lines"] and said[1].startswith("FNMR: ") and said[2].startswith("FMR: ")
    items = [unescape(s) for s in re.findall(r"<li>(.*?)</li>", section.split("What was audited")[0], re.S)]
    assert items == result.sentences()  # no codebook: the sentences as the regressions wrote them
    assert any("not causal effects" in s for s in items)


def test_rate_tables_have_intervals_counts_and_small_sample_marks(result, fast_figures, tmp_path):
    section = _section(report(result, tmp_path / "c.html").read_text(encoding="utf-8"))
    rows = _rows(_table_after(section, "<h5>FNMR by quality"))
    fr = result.fnmr[(result.fnmr["covariate"] == "quality") & (result.fnmr["pairing"] == "lower")]
    assert [r[0] for r in rows] == [*result.groups, "everyone"]
    first = fr[(fr["group"] == result.groups[0]) & (fr["bin_code"] == 0)].iloc[0]
    cell = rows[0][1]
    assert cell.startswith(f"{first['rate']:.3g}"[:4]) and f"{int(first['n_errors'])}/{int(first['n_pairs'])}" in cell
    assert ("*" in cell) == bool(first["below_rule_of_30"]) and "[" in cell
    assert "rule of 30" in section and "min_identities" in section
    # FMR per bin, the gap table of a numeric covariate, and the categorical covariate's levels
    assert "<h5>FMR by quality" in section and "FNMR by the quality gap" in section
    assert all(level in section for level in ("p", "q", "mixed"))


def test_gap_table_and_coefficients_hold_the_odds_ratios(result, fast_figures, tmp_path):
    data = report_data(result)
    section = _section(report(result, tmp_path / "c.html").read_text(encoding="utf-8"))
    gaps = frame_from_dict(result.models["genuine"]["gaps"])
    rows = _rows(_table_after(section, "<h5>False non-matches"))
    assert [r[0] for r in rows] == list(gaps["group"])
    row, g = rows[0], gaps.iloc[0]
    assert row[1].startswith(f"{g['or_unadjusted']:.3g}") and row[3].startswith(f"{g['or_adjusted']:.3g}")
    assert row[-1].split()[1] in ("pass", "review", "fail")  # "✓ pass", then the CI's bands
    assert "<summary>Coefficients of both models" in section and "per 1 SD" in section
    coef = frame_from_dict(result.models["genuine"]["coefficients"])
    assert len(_rows(_table_after(section, "<summary>Coefficients of both models"))) == len(coef)
    # findings: the verdict first, one headline odds ratio per side, marked and counted in the badges
    mine = [f for f in data["findings"] if f["result"] == "r1"]
    assert mine[0]["kind"] == "verdict" and mine[0]["sentence"] == verdict(result)["text"]
    heads = [f for f in mine if f["kind"] == "figure" and f["headline"]]
    assert [f["figure"] for f in heads] == ["fnmr_adjusted_or", "fmr_adjusted_or"]
    assert sum(data["summary"][k] for k in ("pass", "review", "fail")) == 2
    json.dumps(data, allow_nan=False)


def test_a_gap_that_survives_is_at_least_review(result, fast_figures):
    models = json.loads(json.dumps(result.models))
    gaps = frame_from_dict(models["genuine"]["gaps"])
    gaps.loc[0, ["or_unadjusted", "ci_low_unadjusted", "ci_high_unadjusted"]] = [1.3, 1.1, 1.5]
    gaps.loc[0, ["or_adjusted", "ci_low_adjusted", "ci_high_adjusted", "explained"]] = [1.1, 1.02, 1.2, 0.6]
    models["genuine"]["gaps"] = frame_to_dict(gaps)
    small = dataclasses.replace(result, models=models)
    assert gap_state(gaps.iloc[0]) == "survives"
    f = next(f for f in report_data(small)["findings"] if f["figure"] == "fnmr_adjusted_or")
    assert f["value"] == pytest.approx(1.1) and f["mark"] == "review" and "survives" in f["sentence"]
    loose = report_data(small, tolerances={"fnmr_adjusted_or": {"pass": 3, "review": 4}})
    assert next(f for f in loose["findings"] if f["figure"] == "fnmr_adjusted_or")["mark"] == "review"
    off = report_data(small, tolerances={"fnmr_adjusted_or": None})
    assert next(f for f in off["findings"] if f["figure"] == "fnmr_adjusted_or")["mark"] is None


# --------------------------------------------------------------------------
# figures, hostile names
def test_figures_are_embedded_and_draw_group_names_literally(drawn, hostile):
    html, captured = drawn
    section = _section(html)
    assert section.count('src="data:image/png;base64,') == len(captured) >= 5
    assert "figure-error" not in section
    alts = " | ".join(alt for alt, _ in captured)
    for expected in ("FNMR per bin of quality", "FNMR against quality", "FMR per bin of", "Heatmaps of FMR"):
        assert expected in alts
    fig = next(f for alt, f in captured if alt.startswith("FNMR per bin of quality"))
    drawn_text = {_drawn_string(t, None) for t in _texts(fig)}
    assert any("$x$" in t for t in drawn_text)  # a "$" prints as "$", not as mathtext


def test_hostile_group_names_are_escaped(drawn, hostile):
    section = _section(drawn[0])
    assert "<b>" not in section and "&lt;b&gt;" in section
    assert "\u202e" not in drawn[0] and "[U+202E]" in section
    assert "$x$" in section
    labels = [unescape(c[0]) for c in _rows(_table_after(section, "<h5>FNMR by quality"))]
    assert labels[-1] == "everyone" and [x.replace("[U+202E]", "\u202e") for x in labels[:-1]] == hostile.groups


# --------------------------------------------------------------------------
# JSON and the CLI, other shapes of result
def test_covariate_json_renders_through_the_cli(result, fast_figures, tmp_path, capsys):
    direct = report(result, tmp_path / "direct.html").read_text(encoding="utf-8")
    result.to_json(tmp_path / "cov.json")
    code = main(["report", str(tmp_path / "cov.json"), "--out", str(tmp_path / "cli.html"),
                 "--json", str(tmp_path / "cli.json")])
    assert code == 0 and capsys.readouterr().out.strip().splitlines()[-1] == f"Report: {tmp_path / 'cli.html'}"
    cli = (tmp_path / "cli.html").read_text(encoding="utf-8")
    assert VOLATILE.sub("", cli) == VOLATILE.sub("", direct)
    stored = json.loads((tmp_path / "cli.json").read_text(encoding="utf-8"))
    assert [r["kind"] for r in stored["results"]] == ["covariates"]
    # the report data rebuilds the same page
    assert main(["report", str(tmp_path / "cli.json"), "--out", str(tmp_path / "again.html")]) == 0
    assert VOLATILE.sub("", (tmp_path / "again.html").read_text(encoding="utf-8")) == VOLATILE.sub("", cli)


def test_without_regressions_the_section_still_renders(fast_figures, tmp_path):
    r = fairaudit.covariate_audit(_population(n_ids=12), by="g", threshold={"fmr": 1e-2}, n_boot=0,
                                  regression=False)
    assert r.models is None
    html = report(r, tmp_path / "c.html").read_text(encoding="utf-8")
    section = _section(html)
    assert "No regression was fitted" in section and "<h5>FNMR by quality" in section
    assert "not marked: no regression was fitted" in html.split("</header>")[0]
    data = report_data(r)
    assert not any(f["kind"] == "figure" for f in data["findings"])
    assert [f["kind"] for f in data["findings"]] == ["verdict", "comparison", "comparison", "comparison"]


def test_without_fmr_tables_the_section_still_renders(fast_figures, tmp_path, monkeypatch):
    from fairaudit.covariates import audit

    monkeypatch.setattr(audit, "MAX_FALSE_MATCHES", 0)
    r = fairaudit.covariate_audit(_population(n_ids=12), by="g", threshold={"fmr": 1e-2}, n_boot=20)
    assert r.fmr.empty and r.fmr_cells.empty and "impostor" not in (r.models or {})
    section = _section(report(r, tmp_path / "c.html").read_text(encoding="utf-8"))
    assert "<h5>FMR by" not in section and "No FMR by covariate" in section
    assert "FMR: no regression was fitted" in section


def test_beside_a_verification_result(result, fast_figures, tmp_path):
    ver = fairaudit.verification_audit(_population(n_ids=30), by="g", threshold={"fmr": 1e-2}, n_boot=20)
    data = report_data({"Covariates": result, "Verification": ver})
    assert [r["kind"] for r in data["results"]] == ["verification", "covariates"]
    html = report({"Covariates": result, "Verification": ver}, tmp_path / "both.html").read_text(encoding="utf-8")
    assert html.index('<section id="verification"') < html.index('<section id="covariates"') \
        < html.index('<section id="method"')
    assert "fnmr_adjusted_or" in html.split('<section id="method"')[1]  # the tolerances listed under Method


def test_covariate_findings_keys_are_documented():
    import json as _json
    from pathlib import Path as _Path

    import fairaudit as _fa

    es = _fa.synthetic.population("covariates_direct", n_identities=40, random_state=0)
    r = _fa.covariate_audit(es, by="ethnicity", threshold={"fmr": 1e-2}, n_boot=20)
    from fairaudit.reporting import report_data

    data = report_data({"cov": r})
    doc = (_Path(__file__).resolve().parents[1] / "docs" / "reference" / "json-schema.md").read_text(encoding="utf-8")
    _json.dumps(data, allow_nan=False)
    for finding in data["findings"]:
        for key in finding:
            assert f"`{key}`" in doc, f"finding key {key!r} is not documented"
    assert {f["kind"] for f in data["findings"]} >= {"verdict", "figure"}
