"""The report section of a comparison of systems (kind "systems"): the leaderboard, the system x group
table, the differences that hold after Holm, both figures, the verdict on the first screen, user
names escaped in HTML and drawn literally in figures, and the JSON round trip through the CLI."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from html import escape, unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit.cli import main
from fairaudit.common import parallel
from fairaudit.reporting import figures as figures_module
from fairaudit.reporting import views as views_module
from fairaudit.reporting.codebook import readable
from fairaudit.reporting.document import render, report, report_data
from fairaudit.reporting.formatting import _fmt_like, fmt_num
from fairaudit.systems import SystemComparison

sys.path.insert(0, str(Path(__file__).parent))
from test_report_figures import _drawn_string, _texts  # noqa: E402

BY = ["gender", "ethnicity"]
#: a system name that is HTML to a browser and mathtext to matplotlib
HOSTILE = "<b>$x$</b>"


@pytest.fixture(scope="module")
def two():
    a = fairaudit.synthetic.population("diveface", n_identities=30, samples_per_identity=4, random_state=2)
    rng = np.random.default_rng(7)  # system B: the same samples, noisier embeddings (another extractor)
    x = a.embeddings + 0.6 * rng.standard_normal(a.embeddings.shape).astype(np.float32) / np.sqrt(a.n_features)
    b = fairaudit.EmbeddingSet(x, identity=a.identity, attributes=a.attributes, value_labels=a.value_labels)
    return a, b


@pytest.fixture(scope="module")
def comparison(two):
    a, b = two
    return fairaudit.compare_systems({HOSTILE: a, "B": b}, by=BY, threshold="fmr=1e-3", n_boot=100, random_state=0)


@pytest.fixture(scope="module")
def drawn(comparison, tmp_path_factory):
    """The report of the comparison with its real figures, drawn here (not in forked children) and
    captured from the views' own ``_figure`` calls."""
    captured = []
    real = figures_module._figure

    def capture(build, *, alt, caption, wide=False):
        def keep():
            obj = build()
            captured.append((alt, obj if hasattr(obj, "savefig") else obj.figure))
            return obj
        return real(keep, alt=alt, caption=caption, wide=wide)

    tmp = tmp_path_factory.mktemp("cmp")
    mp = pytest.MonkeyPatch()
    mp.setattr(views_module, "_figure", capture)
    mp.setattr(parallel, "MAX_WORKERS", 1)
    try:
        path = report({"Two extractors": comparison}, tmp / "c.html", json_path=tmp / "c.json")
    finally:
        mp.undo()
    return path.read_text(encoding="utf-8"), json.loads((tmp / "c.json").read_text(encoding="utf-8")), captured


@pytest.fixture
def fast_figures(monkeypatch):
    def stub(build, *, alt, caption, wide=False):
        return {"uri": "data:image/png;base64,AAAA", "alt": alt, "caption": caption, "width": 1, "height": 1,
                "wide": wide}

    monkeypatch.setattr(views_module, "_figure", stub)


def _section(html: str) -> str:
    return html.split('<section id="systems"', 1)[1].split("</section>", 1)[0]


def _table_after(html: str, heading: str) -> str:
    return html.split(f"<h4>{heading}</h4>", 1)[1].split("</table>", 1)[0]


def _rows(table: str) -> list[list[str]]:
    """The cells of every body row as text (the interval of a value stays after it, in its span)."""
    body = table.split("<tbody>", 1)[1]
    return [[" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def _verdict_finding(data):
    return next(f for f in data["findings"] if f["kind"] == "verdict")


# --------------------------------------------------------------------------
# the section
def test_report_has_a_systems_section_with_its_tables(drawn, comparison):
    html, _, _ = drawn
    assert '<a href="#systems">Systems</a>' in html
    section = _section(html)
    for heading in ("Leaderboard", "Per-group error rates by system", "Fairness figures by system",
                    "Differences between systems"):
        assert f"<h4>{heading}</h4>" in section, heading
    # group codes are written as the codebook reads them, and escaped
    assert "woman (M) &amp; Black (N)" in section and "man (H) &amp; White (B)" in section
    # the policy and every system's own threshold, in the text and in every table caption
    assert escape(comparison.params["policy"]) in section
    thresholds = ", ".join(f"{escape(n)} {comparison.audits[n].threshold:.4g}" for n in comparison.systems)
    captions = re.findall(r"<caption>(.*?)</caption>", section, re.S)
    assert len(captions) >= 4
    assert all(thresholds in c for c in captions), [c for c in captions if thresholds not in c]


def test_leaderboard_ranks_the_systems_with_their_intervals(drawn, comparison, two):
    codebook = two[0].value_labels
    rows = _rows(_table_after(_section(drawn[0]), "Leaderboard"))
    board = comparison.leaderboard
    figure = comparison.params["figure"]
    assert [r[1] for r in rows] == list(board["system"])  # ranked by pooled FNMR
    for row, (_, r) in zip(rows, board.iterrows()):
        assert row[0] == str(int(r["rank_accuracy"])) and row[2] == f"{r['threshold']:.4g}"
        assert row[4] == f"{fmt_num(r['fnmr'])} [{_fmt_like(r['fnmr_ci_low'], r['fnmr'])}, " \
                         f"{_fmt_like(r['fnmr_ci_high'], r['fnmr'])}]"
        if np.isfinite(r[figure]):
            assert row[6].startswith(fmt_num(r[figure]) + " [") and row[7].split()[-1] in ("pass", "review", "fail")
            assert row[-1] == ("yes" if r["pareto"] else "no")
        else:
            assert row[6] == "undefined" and row[7] == "undefined" and row[-1] == "n/a"
        assert row[9] == f"{readable(r['worst_fnmr_group'], BY, codebook)} FNMR {_fmt_like(r['worst_fnmr'], r['worst_fnmr'])}"


def test_system_by_group_table_has_every_rate_with_its_interval(drawn, comparison):
    table = _table_after(_section(drawn[0]), "Per-group error rates by system")
    header = unescape(" | ".join(re.findall(r"<th[^>]*>(.*?)</th>", table)))
    assert header == f"group | identities | FNMR · {HOSTILE} | FNMR · B | FMR · {HOSTILE} | FMR · B"
    rows = _rows(table)
    audit = comparison.audits["B"]
    labels = list(audit.by_group["label"])
    assert len(rows) == len(labels) + 1 and rows[-1][0] == "all (pooled)"
    for row, (_, g) in zip(rows, audit.by_group.iterrows()):
        assert row[3] == f"{fmt_num(g['fnmr'])} [{_fmt_like(g['fnmr_ci_low'], g['fnmr'])}, " \
                         f"{_fmt_like(g['fnmr_ci_high'], g['fnmr'])}]"
    # bold marks the lower FNMR of the two systems in every group where they differ
    body = table.split("<tbody>", 1)[1]
    first = re.findall(r"<tr>(.*?)</tr>", body, re.S)[0]
    cells = re.findall(r'<td class="([^"]*)"', first)
    a, b = comparison.audits[HOSTILE].by_group["fnmr"].iloc[0], audit.by_group["fnmr"].iloc[0]
    if a != b:
        assert ("best" in cells[2]) == (a < b) and ("best" in cells[3]) == (b < a)


def test_differences_that_hold_are_listed_and_all_are_collapsed(drawn, comparison):
    section = _section(drawn[0])
    d = comparison.differences
    held = d[d["p_holm"] < 0.05]
    assert f"{len(held)} of the {int(d['p_holm'].notna().sum())} tested paired differences hold" in section
    details = section.split("<details>", 1)[1].split("</details>", 1)[0]
    assert f"All {len(d)} paired differences" in details and len(_rows(details)) == len(d)
    listed = section.split("<h4>Differences between systems</h4>", 1)[1].split("<details>", 1)[0]
    if len(held):
        shown = _rows(listed)
        assert len(shown) == len(held) and all(r[-1] == "yes" for r in shown)
    else:
        assert "<table" not in listed
    # a family too large for any difference to hold at n_boot=100 is said so, with the n_boot that would do
    assert "raise n_boot to at least" in section


def test_both_figures_are_embedded_with_names_drawn_literally(drawn, comparison):
    html, _, captured = drawn
    section = _section(html)
    images = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', section)
    assert len(images) == 2 and "could not be drawn" not in section
    assert images[0].startswith("DET curves per group") and images[1].startswith("Pooled FNMR against")
    assert [alt for alt, _ in captured] == [unescape(a) for a in images]
    drawn_texts = []
    for _, fig in captured:
        for t in _texts(fig):
            s = _drawn_string(t, None)
            assert "mathdefault" not in s and "\\" not in s, t.get_text()
            drawn_texts.append(s)
    # the legend and the point labels print the system's name as written, "$" included
    assert sum(HOSTILE in s for s in drawn_texts) >= 1
    det = captured[0][1]
    titles = {ax.get_title() for ax in det.axes if ax.get_visible()}
    assert "woman (M) & Black (N)" in titles and "everyone (pooled)" in titles


def test_system_names_are_escaped_everywhere(drawn):
    html = drawn[0]
    assert HOSTILE not in html  # never as markup
    assert escape(HOSTILE, quote=False) in _section(html)
    assert escape(HOSTILE, quote=False) in html.split("</header>", 1)[0]


# --------------------------------------------------------------------------
# findings
def test_the_verdict_is_on_the_first_screen(drawn, comparison):
    html, data, _ = drawn
    top = html.split('<header class="top">', 1)[1].split("</header>", 1)[0]
    verdict = _verdict_finding(data)
    line = re.search(r'<li class="verdict verdict-comparison"><a href="#finding-r1">Two extractors</a>: (.*?)</li>',
                     top, re.S)
    assert line and unescape(line.group(1)) == verdict["sentence"]
    # the sentence says what the leaderboard and the differences say
    board = comparison.leaderboard
    best, other = board["system"].iloc[0], board["system"].iloc[1]
    pooled = comparison.difference(best, other, "fnmr", "all")
    sentence = verdict["sentence"]
    assert sentence.startswith(f"{best} is more accurate (pooled FNMR {_fmt_like(board['fnmr'].iloc[0], board['fnmr'].iloc[0])}")
    assert ("the difference holds after Holm's adjustment" in sentence) == (pooled["p_holm"] < 0.05)
    assert verdict["accuracy"]["most_accurate"] == best
    figure = comparison.params["figure"]
    defined = board[board[figure].notna()]
    if len(defined) == 1:
        assert f"only {defined['system'].iloc[0]}'s FNMR max/min ratio is defined" in sentence
    # one marked headline figure per system, with its system named in Findings
    marked = [f for f in data["findings"] if f["kind"] == "figure"]
    assert [f["system"] for f in marked] == list(comparison.systems)
    assert all(f["figure"] == figure and f["headline"] for f in marked)
    assert "FNMR max/min ratio — system B" in html.split('id="findings"', 1)[1].split("</section>", 1)[0]


def _with_figure(c: SystemComparison, figure: str) -> SystemComparison:
    """The comparison as compare_systems(figure=...) ranks it: the leaderboard's fairness columns from
    each system's own audit (the intervals of one shared bootstrap, as compare_systems computes them)."""
    from fairaudit.systems import pareto_front

    board = c.leaderboard.copy()
    for col in [k for k in board.columns if k.startswith(c.params["figure"])]:
        board = board.drop(columns=col)
    fair = {s: c.audits[s].fairness.loc[figure] for s in board["system"]}
    board[figure] = [fair[s]["value"] for s in board["system"]]
    board[f"{figure}_ci_low"] = [fair[s]["ci_low"] for s in board["system"]]
    board[f"{figure}_ci_high"] = [fair[s]["ci_high"] for s in board["system"]]
    key = -board[figure] if figure == "fdr" else board[figure]
    board["rank_fairness"] = key.rank(method="min").astype("Int64")
    board["pareto"] = pareto_front(board["fnmr"].to_numpy(float), key.to_numpy(float))
    return dataclasses.replace(c, leaderboard=board, params={**c.params, "figure": figure})


def test_verdict_names_the_fairer_system_and_whether_the_gap_holds(comparison):
    c = _with_figure(comparison, "fdr")
    board = c.leaderboard
    fairest = board.loc[board["fdr"].idxmax(), "system"]
    other = board.loc[board["fdr"].idxmin(), "system"]
    row = c.difference(fairest, other, "fdr")
    verdict = _verdict_finding(report_data(c))
    assert verdict["fairness"]["fairest"] == fairest and verdict["fairness"]["runner_up"] == other
    sentence = verdict["sentence"]
    best = board["system"].iloc[0]
    body = "fairer by FDR (" + _fmt_like(board["fdr"].max(), board["fdr"].max())
    assert (f"and also {body}" if fairest == best else f", and {fairest} is {body}") in sentence
    # Holm over the defined fairness figures with 100 replicates cannot reach 5 %: at the smallest
    # p-value the verdict says the replicates are too few, above it that the gap is within noise
    assert row["p_holm"] >= 0.05
    if row["p_value"] == pytest.approx(2 / (row["n_boot"] + 1)):
        assert verdict["fairness"]["state"] == "too-few"
        assert "too few replicates to tell" in sentence and "raise n_boot" in sentence
    else:
        assert verdict["fairness"]["state"] == "noise" and "within noise" in sentence
    # with the same gap holding after Holm, the verdict says so
    d = c.differences.copy()
    sel = (d["scope"] == "fairness") & (d["metric"] == "fdr")
    d.loc[sel, "p_holm"] = 0.01
    held = _verdict_finding(report_data(dataclasses.replace(c, differences=d)))
    assert held["fairness"]["state"] == "holds"
    assert "FDR (" in held["sentence"] and "the difference holds after Holm's adjustment, p = 0.01)." in held["sentence"]
    # and a gap far from the floor of the p-values is within noise, with its interval
    d.loc[sel, "p_holm"] = 0.6
    noise = _verdict_finding(report_data(dataclasses.replace(c, differences=d)))
    assert noise["fairness"]["state"] == "noise" and "within noise: 95 % CI of the difference" in noise["sentence"]


def test_findings_tally_the_differences_that_hold(drawn, comparison):
    data = drawn[1]
    tally = next(f for f in data["findings"] if f["id"] == "r1/differences")
    d = comparison.differences
    assert tally["n_tests"] == int(d["p_holm"].notna().sum())
    assert tally["n_significant"] == int((d["p_holm"] < 0.05).sum()) == len(tally["significant"])
    assert "the fairness figures" in tally["blocked"]


# --------------------------------------------------------------------------
# JSON, the CLI, and beside other results
def test_cli_report_of_a_comparison_json_and_of_its_report_data(comparison, drawn, tmp_path, fast_figures, capsys):
    comparison.to_json(tmp_path / "cmp.json")
    assert main(["report", str(tmp_path / "cmp.json"), "--out", str(tmp_path / "r.html"),
                 "--json", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"Report: {tmp_path / 'r.html'}"
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    section = _section(html)
    # the same numbers as the report of the object itself
    assert _rows(_table_after(section, "Leaderboard")) == _rows(_table_after(_section(drawn[0]), "Leaderboard"))
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    (entry,) = data["results"]
    assert entry["kind"] == "systems"
    back = SystemComparison.from_dict(entry["result"])
    pd.testing.assert_frame_equal(back.leaderboard, comparison.leaderboard, check_dtype=False)
    assert _verdict_finding(data)["sentence"] == _verdict_finding(drawn[1])["sentence"]
    # the report data alone rebuilds the report
    assert main(["report", str(tmp_path / "r.json"), "--out", str(tmp_path / "again.html")]) == 0
    again = (tmp_path / "again.html").read_text(encoding="utf-8")
    assert _section(again) == section
    json.dumps(data, allow_nan=False)


def test_a_comparison_beside_a_verification_result(comparison, two, tmp_path, fast_figures):
    a, _ = two
    v = fairaudit.verification_audit(a, by="ethnicity", threshold="fmr=1e-2", n_boot=0)
    v.to_json(tmp_path / "v.json")
    comparison.to_json(tmp_path / "c.json")
    data = report_data([str(tmp_path / "c.json"), str(tmp_path / "v.json")], population=a)
    assert [e["kind"] for e in data["results"]] == ["verification", "systems"]
    html = render(data)
    assert html.index('id="verification"') < html.index('id="systems"') < html.index('id="method"')
    top = html.split("</header>", 1)[0]
    assert top.count('<li class="verdict ') == 2 and "verdict-comparison" in top
    assert '<a href="#verification">Verification</a>' in top and '<a href="#systems">Systems</a>' in top
    method = html.split('id="method"', 1)[1]
    assert "<h3>Verification figures</h3>" in method and "<h3>Comparison of systems</h3>" in method
    assert "each system at its own threshold" in method
    # the data section: the comparison's groups, and the planted orderings checked against each system
    data_section = html.split('<section id="data"', 1)[1].split("</section>", 1)[0]
    assert "the same for all 2 systems" in data_section
    assert f"— system {escape(HOSTILE, quote=False)}" in data_section and "— system B" in data_section
    # one result object, in a list beside another, is accepted as an object too
    objects = report_data({"V": v, "C": comparison})
    assert [e["name"] for e in objects["results"]] == ["V", "C"]


def test_a_comparison_is_named_after_its_systems_and_policy(comparison, fast_figures):
    data = report_data(comparison)
    assert data["results"][0]["name"] == (f"Systems {HOSTILE} vs B by gender × ethnicity, each at its own "
                                          "FMR 1e-3 threshold")
    assert data["summary"]["undefined"] + data["summary"]["pass"] + data["summary"]["review"] \
        + data["summary"]["fail"] + data["summary"]["unmarked"] == len(comparison.systems)


def test_groups_under_min_identities_are_said_untested(fast_figures):
    few = fairaudit.synthetic.population("diveface", n_identities={"H & A": 5}, samples_per_identity=3, dim=32,
                                         random_state=1)
    rng = np.random.default_rng(3)
    x = few.embeddings + 0.5 * rng.standard_normal(few.embeddings.shape).astype(np.float32) / np.sqrt(few.n_features)
    other = fairaudit.EmbeddingSet(x, identity=few.identity, attributes=few.attributes, value_labels=few.value_labels)
    c = fairaudit.compare_systems({"A": few, "B": other}, by=BY, threshold="fmr=1e-2", n_boot=20, figure="fdr")
    data = report_data(c)
    verdict = _verdict_finding(data)
    assert verdict["fairness"]["state"] == "untested"
    assert "not tested: man (H) & Asian (A) has fewer than 30 identities (min_identities), and the fairness " \
           "figures compare every group" in verdict["sentence"]
    tally = next(f for f in data["findings"] if f["id"].endswith("/differences"))
    assert "Not tested: the differences of man (H) & Asian (A) (fewer than 30 identities)" in tally["sentence"]
    section = _section(render(data))
    assert "Not tested: the differences of man (H) &amp; Asian (A)" in section
    rows = _rows(section.split("<details>", 1)[1])
    small = [r for r in rows if r[3] == "man (H) & Asian (A)"]
    assert len(small) == 3 and all(r[-1] == "–" and r[7] == "–" for r in small)
