"""The figures of a 1:N identification audit and its section of the HTML report (and report JSON)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fairaudit import synthetic
from fairaudit.common import parallel
from fairaudit.common.errors import FairauditInputError
from fairaudit.identification import IdentificationResult, identification_audit
from fairaudit.identification import plots
from fairaudit.reporting import figures as figures_module
from fairaudit.reporting import views as views_module
from fairaudit.reporting.document import render, report, report_data

sys.path.insert(0, str(Path(__file__).parent))
from test_report_figures import _draw, _drawn_string, _overlaps, _texts  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
AXES_FUNCTIONS = {
    "cmc": lambda r, **kw: plots.cmc(r, **kw),
    "det": lambda r, **kw: plots.det(r, **kw),
    "det_normal": lambda r, **kw: plots.det(r, scale="normal", **kw),
    "landing_share": lambda r, **kw: plots.landing(r, value="share", **kw),
    "landing_lift": lambda r, **kw: plots.landing(r, value="top_k_lift", **kw),
    "landing_counts": lambda r, **kw: plots.landing(r, value="n_false_positives", **kw),
    "gallery_size": lambda r, **kw: plots.gallery_size(r, **kw),
    "rates": lambda r, **kw: plots.rates(r, **kw),
}


@pytest.fixture
def fast_figures(monkeypatch):
    """Skip drawing where a test reads text only (drawing is the slow part)."""
    def stub(build, *, alt, caption, wide=False):
        return {"uri": "data:image/png;base64,AAAA", "alt": alt, "caption": caption, "width": 1, "height": 1,
                "wide": wide}

    monkeypatch.setattr(views_module, "_figure", stub)


@pytest.fixture(scope="module")
def population():
    return synthetic.population("diveface", n_identities=20, samples_per_identity=3, dim=32, random_state=2)


@pytest.fixture(scope="module")
def result(population):
    return identification_audit(population, by=["gender", "ethnicity"], n_boot=50, n_perm=200, random_state=0)


@pytest.fixture(scope="module")
def no_boot(population):
    return identification_audit(population, by="ethnicity", n_boot=0, random_state=0)


def _without_nonmated(result: IdentificationResult, label: str) -> IdentificationResult:
    """The result as if group ``label`` had no non-mated search: its FPIR, curves, sub-gallery FPIR
    and landing rows undefined (what the audit reports for such a group)."""
    data = result.to_dict()
    r = IdentificationResult.from_dict(data)
    bg = r.by_group.copy()
    sel = bg["label"] == label
    for col in ("fpir", "fpir_ci_low", "fpir_ci_high"):
        bg.loc[sel, col] = np.nan
    bg.loc[sel, ["n_nonmated", "n_nonmated_identities", "n_false_positives"]] = 0
    curves = r.curves.copy()
    curves.loc[curves["group"] == label, "fpir"] = np.nan
    sizes = r.gallery_size.copy()
    sizes.loc[sizes["group"] == label, "fpir"] = np.nan
    landing = r.landing.copy()
    rows = landing["probe_group"] == label
    landing.loc[rows, ["share", "top_k_share", "top_k_lift"]] = np.nan
    landing.loc[rows, "n_false_positives"] = 0
    import dataclasses

    return dataclasses.replace(r, by_group=bg, curves=curves, gallery_size=sizes, landing=landing,
                               notes=[*r.notes, f"Group {label!r} has no non-mated search: its FPIR is undefined."])


@pytest.fixture(scope="module")
def gap(result):
    return _without_nonmated(result, str(result.by_group["label"].iloc[0]))


# --------------------------------------------------------------------------
# figures
@pytest.mark.parametrize("name", sorted(AXES_FUNCTIONS))
def test_every_plot_returns_axes_of_a_new_figure(result, name):
    ax = AXES_FUNCTIONS[name](result)
    assert isinstance(ax, Axes) and isinstance(ax.figure, Figure)
    assert ax.figure.canvas.manager is None  # never registered with pyplot
    _draw(ax.figure)


@pytest.mark.parametrize("name", sorted(AXES_FUNCTIONS))
def test_every_plot_draws_into_a_given_axes(result, name):
    fig = Figure()
    ax = fig.add_subplot()
    assert AXES_FUNCTIONS[name](result, ax=ax) is ax


@pytest.mark.parametrize("name", sorted(AXES_FUNCTIONS))
def test_a_group_without_non_mated_searches_does_not_break_a_plot(gap, name):
    ax = AXES_FUNCTIONS[name](gap)
    _draw(ax.figure)
    assert isinstance(ax, Axes)


def test_plots_name_the_group_left_out(gap):
    label = str(gap.by_group["label"].iloc[0])
    for ax in (plots.det(gap), plots.rates(gap), plots.gallery_size(gap)):
        notes = [t.get_text() for t in ax.texts if t.get_gid() == "note"]
        assert any(label in n and "non-mated" in n for n in notes), notes
    fig = plots.fairness_panels(gap)
    _draw(fig)


def test_cmc_draws_one_curve_per_group_and_a_dashed_pooled_one(result):
    ax = plots.cmc(result)
    curves = [ln for ln in ax.get_lines() if ln.get_gid() == "cmc"]
    assert [ln.get_label() for ln in curves] == [*result.by_group["label"], "all"]
    assert curves[-1].get_linestyle() == "--"
    first = result.cmc[result.cmc["group"] == curves[0].get_label()]
    np.testing.assert_allclose(curves[0].get_ydata(), first["identification_rate"])
    assert list(curves[0].get_xdata()) == list(range(1, result.k + 1))


def test_det_marks_the_operating_points_on_log_axes(result):
    ax = plots.det(result)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    marked = [ln.get_label() for ln in ax.get_lines() if ln.get_gid() and ln.get_gid().startswith("operating point")]
    drawn = [ln.get_label() for ln in ax.get_lines() if ln.get_gid() == "curve"]
    assert set(marked) <= set(drawn) and marked
    assert "FPIR" in ax.get_xlabel() and "FNIR" in ax.get_ylabel()


def test_det_puts_a_zero_fpir_operating_point_on_the_left_edge(result):
    zero = result.by_group[result.by_group["fpir"] == 0]
    if not len(zero):
        pytest.skip("every group has a false positive")
    ax = plots.det(result)
    edge = [ln for ln in ax.get_lines() if ln.get_gid() == "operating point at FPIR 0"]
    expected = set(zero["label"]) | ({"all"} if result.overall["fpir"] == 0 else set())
    assert {ln.get_label() for ln in edge} == expected
    assert all(ln.get_xdata()[0] == pytest.approx(ax.get_xlim()[0]) for ln in edge)


def test_landing_heatmap_annotates_every_cell(result):
    ax = plots.landing(result, value="top_k_lift")
    values = [t.get_text() for t in ax.texts if t.get_gid() == "value"]
    n = len(result.gallery)
    assert len(values) == n * n
    m = result.landing_matrix("top_k_lift").to_numpy()
    assert values[0] == f"{m[0, 0]:.2f}"
    share = plots.landing(result, value="share")
    texts = [t.get_text() for t in share.texts if t.get_gid() == "value"]
    assert all(t.endswith("%") or t in ("n/a", "0") for t in texts)


def test_landing_rejects_an_unknown_value(result):
    with pytest.raises(FairauditInputError, match="top_k_lift"):
        plots.landing(result, value="lift")


def test_gallery_size_uses_a_log_x_axis_with_plain_labels(result):
    ax = plots.gallery_size(result)
    assert ax.get_xscale() == "log"
    _draw(ax.figure)
    labels = [t.get_text() for t in ax.xaxis.get_ticklabels() if t.get_text()]
    sizes = sorted(result.gallery_size["gallery_identities"].unique())
    assert labels == [f"{int(s):,}" for s in sizes]


def test_gallery_size_says_so_when_there_is_no_table(result):
    import dataclasses

    empty = dataclasses.replace(result, gallery_size=result.gallery_size.iloc[0:0])
    ax = plots.gallery_size(empty)
    assert any(t.get_gid() == "empty" for t in ax.texts)


def test_rates_draws_fnir_and_fpir_with_intervals(result, no_boot):
    ax = plots.rates(result)
    assert ax.get_yscale() == "log"
    gids = {p.get_gid() for c in ax.containers for p in getattr(c, "patches", [])}
    assert {"fnir", "fpir"} & gids

    def intervals(ax):
        return [c for c in ax.collections if str(c.get_gid()).endswith("interval")]

    n_ci = int(np.isfinite(result.by_group[["fnir_ci_low", "fpir_ci_low"]].to_numpy(dtype=float)).sum())
    assert len(intervals(ax)) == n_ci > 0
    assert intervals(plots.rates(no_boot)) == []


def test_identification_figures_show_no_raw_mathtext_and_no_overlapping_ticks(result):
    figs = [f(result).figure for f in AXES_FUNCTIONS.values()] + [plots.fairness_panels(result)]
    bad = []
    for fig in figs:
        renderer = _draw(fig)
        for t in _texts(fig):
            drawn = _drawn_string(t, renderer)
            if ("$" in drawn and "\\$" not in t.get_text()) or "mathdefault" in drawn or "\\" in drawn:
                bad.append((fig.axes[0].get_title(), t.get_text()))
        bad += _overlaps(fig)
    assert bad == []


def test_figures_never_say_far_or_frr(result):
    words = []
    for f in AXES_FUNCTIONS.values():
        fig = f(result).figure
        words += [t.get_text() for t in _texts(fig)]
    text = " ".join(words)
    assert not re.search(r"\b(FAR|FRR|FMR|FNMR)\b", text)


def test_save_all_writes_every_figure_as_a_png(result, tmp_path):
    paths = plots.save_all(result, tmp_path / "plots", prefix="id")
    assert [p.name for p in paths] == [f"id_{name}.png" for name, _ in plots._SAVED]
    for p in paths:
        assert p.read_bytes()[:8] == PNG
    assert not list((tmp_path / "plots").glob(".*.tmp"))  # written atomically: no temporary file left


def test_save_all_writes_every_format_and_rejects_an_unknown_one(result, tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "_SAVED", plots._SAVED[:2])
    paths = plots.save_all(result, tmp_path, formats=["svg", "png"], prefix="x")
    assert [p.name for p in paths] == ["x_cmc.svg", "x_cmc.png", "x_det.svg", "x_det.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(FairauditInputError):
        plots.save_all(result, tmp_path / "none", formats="nope")
    assert not (tmp_path / "none").exists() or not any((tmp_path / "none").iterdir())


# --------------------------------------------------------------------------
# the report
@pytest.fixture(scope="module")
def html_and_data(result, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    path = report({"1:N audit": result}, tmp / "r.html", json_path=tmp / "r.json")
    return path.read_text(encoding="utf-8"), json.loads((tmp / "r.json").read_text(encoding="utf-8"))


def _section(html: str) -> str:
    return html.split('<section id="identification"', 1)[1].split("</section>", 1)[0]


def test_report_has_an_identification_section_with_its_tables(html_and_data, result):
    html, _ = html_and_data
    assert '<a href="#identification">Identification</a>' in html
    section = _section(html)
    for heading in ("Per-group error rates", "Fairness figures", "Group comparisons", "Gallery composition",
                    "Where false positives land", "FPIR against gallery size"):
        assert f"<h4>{heading}</h4>" in section, heading
    assert "FNIR (rank 1)" in section and "FPIR" in section and "rank-1 rate" in section
    assert "mated searches" in section and "non-mated searches" in section and "candidate list" in section
    assert section.count("<table") >= 7
    for label in result.by_group["label"]:
        assert label.replace("&", "&amp;") in section
    assert "Doddington" in section  # the small-sample marks are explained


def test_report_section_has_its_figures_inline(html_and_data):
    section = _section(html_and_data[0])
    images = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', section)
    assert len(images) == 7
    for needle in ("FNIR and FPIR per group", "DET", "CMC", "where false positives land", "top-K lift",
                   "FPIR against the number of enrolled identities", "fairness figure"):
        assert any(needle in alt for alt in images), needle
    assert "could not be drawn" not in section


def test_report_never_uses_verification_vocabulary_in_the_section(html_and_data):
    section = _section(html_and_data[0])
    text = re.sub(r"<[^>]+>", " ", section)
    assert not re.search(r"\b(FAR|FRR|FMR|FNMR|impostor|genuine)\b", text)


def test_findings_state_highest_fnir_and_fpir_holm_and_landing(html_and_data, result):
    _, data = html_and_data
    mine = {f["id"].split("/", 1)[1]: f for f in data["findings"]}
    bg = result.by_group.set_index("label")
    fnir = mine["fnir_by_group"]
    assert fnir["highest"]["group"] == bg["fnir"].idxmax() and fnir["lowest"]["group"] == bg["fnir"].idxmin()
    assert f"group {bg['fnir'].idxmax()} is" in fnir["sentence"] and "the highest" in fnir["sentence"]
    assert "Holm" in fnir["sentence"]
    assert mine["fpir_by_group"]["highest"]["group"] == bg["fpir"].idxmax()
    holm = mine["comparisons"]
    tested = result.comparisons[result.comparisons["p_holm"].notna()]
    assert holm["n_tests"] == len(tested) and holm["n_significant"] == int((tested["p_holm"] < 0.05).sum())
    landing = mine["landing"]
    lift = result.landing_matrix("top_k_lift")
    for top in landing["top_lift"]:
        assert top["candidate_group"] == lift.loc[top["probe_group"]].idxmax()
    assert landing["kind"] == "landing" and "top-K lift" in landing["sentence"]
    for figure in ("fnir_max_min", "fpir_max_min", "fdr", "garbe", "inequity"):
        f = mine[figure]
        assert f["kind"] == "figure" and f["headline"]
        assert (f["mark"] is None) == (not f["defined"])


def test_report_json_holds_the_identification_result(html_and_data, result):
    _, data = html_and_data
    (entry,) = data["results"]
    assert entry["kind"] == "identification" and entry["name"] == "1:N audit"
    back = IdentificationResult.from_dict(entry["result"])
    pd.testing.assert_frame_equal(back.by_group.reset_index(drop=True), result.by_group.reset_index(drop=True),
                                  check_dtype=False)
    assert data["tolerances"]["fnir_max_min"] == {"pass": 1.25, "review": 2.0, "better": "lower"}
    assert data["summary"]["pass"] + data["summary"]["review"] + data["summary"]["fail"] \
        + data["summary"]["undefined"] == 5
    json.dumps(data, allow_nan=False)


def test_report_from_a_result_round_tripped_through_json(result, tmp_path, html_and_data):
    back = IdentificationResult.from_json(result.to_json())
    html = back.to_html(tmp_path / "back.html").read_text(encoding="utf-8")
    section = _section(html)
    assert section.count("<img") == 7 and "could not be drawn" not in section
    # the same report from the report JSON alone (text only: figures stubbed)
    mp = pytest.MonkeyPatch()
    mp.setattr(views_module, "_figure", lambda build, **how: {"uri": "data:image/png;base64,AAAA", "width": 1,
                                                                "height": 1, "wide": False, **how})
    try:
        again = render(json.loads(json.dumps(html_and_data[1])))
    finally:
        mp.undo()
    assert 'id="identification"' in again and "Where false positives land" in again


def test_report_of_a_result_file_and_with_other_kinds(result, tmp_path, population, fast_figures):
    from fairaudit.verification.audit import verification_audit

    path = tmp_path / "ident.json"
    result.to_json(path)
    v = verification_audit(population, by=["gender", "ethnicity"], threshold={"fmr": 1e-2}, n_boot=0)
    data = report_data({"I": str(path), "V": v})
    assert [e["kind"] for e in data["results"]] == ["verification", "identification"]
    html = render(data)
    assert html.index('id="verification"') < html.index('id="identification"') < html.index('id="method"')
    assert "Identification (1:N) figures" in html  # the method section defines FNIR and FPIR


def test_report_of_a_result_without_bootstrap(no_boot, tmp_path, fast_figures):
    html = report(no_boot, tmp_path / "n.html").read_text(encoding="utf-8")
    section = _section(html)
    assert "no confidence intervals" in section and "No group comparison" in section
    data = report_data(no_boot)
    holm = next(f for f in data["findings"] if f["id"].endswith("/comparisons"))
    assert holm["defined"] is False


def test_report_of_a_group_without_non_mated_searches(gap, tmp_path):
    html = report(gap, tmp_path / "g.html").read_text(encoding="utf-8")
    section = _section(html)
    assert "could not be drawn" not in section and "no non-mated search" in section


def test_the_report_draws_the_identification_figures_through_the_views(result):
    captured = []
    real = figures_module._figure

    def capture(build, *, alt, caption, wide=False):
        captured.append(alt)
        return real(build, alt=alt, caption=caption, wide=wide)

    mp = pytest.MonkeyPatch()
    mp.setattr(views_module, "_figure", capture)
    mp.setattr(parallel, "MAX_WORKERS", 1)
    try:
        render(report_data(result))
    finally:
        mp.undo()
    assert len(captured) == 7


def test_hostile_group_names_are_drawn_and_written_as_text(tmp_path):
    # "$...$" is mathtext to matplotlib ("$x^$" would fail to draw); "<script>" is HTML to a browser
    from fairaudit import EmbeddingSet

    base = synthetic.population("diveface", n_identities=12, samples_per_identity=3, dim=16, random_state=4)
    attrs = base.attributes
    attrs["ethnicity"] = attrs["ethnicity"].map({"A": "$x^$", "B": "<script>alert(1)</script>", "N": r"\frac{1}"})
    es = EmbeddingSet(base.embeddings, identity=base.identity, attributes=attrs)
    result = identification_audit(es, by="ethnicity", n_boot=20, n_perm=50, random_state=0)
    html = report(result, tmp_path / "h.html").read_text(encoding="utf-8")
    section = _section(html)
    assert 'class="figure-error"' not in section and section.count("<img") == 7
    assert "$x^$" in section and "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in section


def test_report_without_sub_gallery_fpir_leaves_that_figure_and_table_out(result, tmp_path, fast_figures):
    import dataclasses

    lists_like = dataclasses.replace(result, gallery_size=result.gallery_size.iloc[0:0])
    section = _section(report(lists_like, tmp_path / "l.html").read_text(encoding="utf-8"))
    assert section.count("<img") == 6 and "FPIR against gallery size" not in section
