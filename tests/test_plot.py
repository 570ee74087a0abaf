"""The figures of fairaudit.plot: what they draw, into which axes, and what they write."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm, to_hex
from matplotlib.figure import Figure

import fairaudit
from fairaudit import errors, plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GROUPS = ["A", "B", "C"]


def make_population(n_ids=36, k=(1, 5), d=12, spread=0.8, groups=("A", "B", "C"), seed=0, second=None):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_ids, d))
    counts = rng.integers(k[0], k[1] + 1, size=n_ids)
    rows = np.repeat(np.arange(n_ids), counts)
    x = centres[rows] + spread * rng.standard_normal((len(rows), d))
    g = np.array(groups)[np.arange(n_ids) % len(groups)]  # every group present
    attrs = {"eth": g[rows]}
    if second is not None:
        attrs["gender"] = np.array(second)[(np.arange(n_ids) // len(groups)) % len(second)][rows]
    return fairaudit.EmbeddingSet(x, identity=[f"p{i:03d}" for i in rows], attributes=attrs)


@pytest.fixture(scope="module")
def result():
    return fairaudit.verification_audit(make_population(), by="eth", n_boot=30)


@pytest.fixture(scope="module")
def result_no_ci():
    return fairaudit.verification_audit(make_population(), by="eth", n_boot=0)


def lines(ax, label=None, gid=None):
    return [ln for ln in ax.get_lines()
            if (label is None or ln.get_label() == label) and (gid is None or ln.get_gid() == gid)]


def bars(ax, gid=None):
    return [p for c in ax.containers for p in getattr(c, "patches", []) if gid is None or p.get_gid() == gid]


def bar_labels(ax):
    return [c.get_label() for c in ax.containers if hasattr(c, "patches")]


AXES_FUNCTIONS = {
    "fmr_fnmr": lambda r, **kw: plot.fmr_fnmr(r, **kw),
    "det": lambda r, **kw: plot.det(r, **kw),
    "roc": lambda r, **kw: plot.roc(r, **kw),
    "score_histograms": lambda r, **kw: plot.score_histograms(r, group="A", **kw),
    "cross_fmr": lambda r, **kw: plot.cross_fmr(r, **kw),
    "by_group": lambda r, **kw: plot.by_group(r, **kw),
    "fairness": lambda r, **kw: plot.fairness(r, **kw),
}


# --- return values and target axes -------------------------------------------
@pytest.mark.parametrize("name", AXES_FUNCTIONS)
def test_axes_functions_return_axes_of_a_new_figure_without_pyplot(result, name):
    ax = AXES_FUNCTIONS[name](result)
    assert isinstance(ax, Axes)
    assert isinstance(ax.figure, Figure)
    assert not hasattr(ax.figure, "number")


@pytest.mark.parametrize("name", AXES_FUNCTIONS)
def test_passing_an_existing_ax_draws_into_it(result, name):
    fig = Figure()
    left, right = fig.subplots(1, 2)
    out = AXES_FUNCTIONS[name](result, ax=right)
    assert out is right
    assert right.has_data()
    assert not left.has_data()
    assert all(a.figure is fig for a in fig.axes)


def test_non_axes_ax_is_rejected(result):
    with pytest.raises(errors.FairauditInputError, match="ax must be a matplotlib Axes"):
        plot.det(result, ax="left")


def test_plot_functions_leave_rcparams_unchanged(result):
    before = dict(matplotlib.rcParams)
    for function in AXES_FUNCTIONS.values():
        function(result)
    plot.histogram_grid(result)
    assert dict(matplotlib.rcParams) == before


# --- curves ---------------------------------------------------------------------
def test_fmr_fnmr_draws_a_solid_fmr_and_a_dashed_fnmr_line_per_group(result):
    ax = plot.fmr_fnmr(result)
    for g in GROUPS + ["all"]:
        (fmr,) = lines(ax, g, "fmr")
        (fnmr,) = lines(ax, g, "fnmr")
        assert fmr.get_linestyle() == "-"
        assert fnmr.get_linestyle() == "--"
        curve = result.curves[result.curves.group == g]
        np.testing.assert_array_equal(fmr.get_xdata(), curve.threshold)
        np.testing.assert_array_equal(fnmr.get_ydata(), curve.fnmr)
    (thr,) = lines(ax, gid="threshold")
    assert thr.get_xdata()[0] == result.threshold
    assert ax.get_xlabel() == plot.THRESHOLD_LABEL


def test_fmr_fnmr_log_scale_and_no_pooled(result):
    ax = plot.fmr_fnmr(result, log=True, pooled=False)
    assert ax.get_yscale() == "log"
    assert lines(ax, "all") == []


def test_det_draws_one_curve_and_one_operating_point_per_group(result):
    ax = plot.det(result)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlabel() == plot.FMR_LABEL and ax.get_ylabel() == plot.FNMR_LABEL
    for g in GROUPS:
        assert len(lines(ax, g, "curve")) == 1
        (op,) = lines(ax, g, "operating point")
        row = result.by_group.loc[g]
        assert op.get_xdata()[0] == pytest.approx(row.fmr)
        assert op.get_ydata()[0] == pytest.approx(row.fnmr)
    (pooled,) = lines(ax, "all", "curve")
    assert pooled.get_linestyle() == "--"
    assert to_hex(pooled.get_color()) == "#000000"


def test_det_log_scale_leaves_out_zero_rates(result):
    ax = plot.det(result, groups=["A"], pooled=False)
    (curve,) = lines(ax, "A", "curve")
    x = np.asarray(curve.get_xdata(), dtype=float)
    y = np.asarray(curve.get_ydata(), dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    assert finite.any() and (x[finite] > 0).all() and (y[finite] > 0).all()


def test_det_normal_scale_draws_normal_deviates(result):
    norm = pytest.importorskip("scipy.stats").norm
    ax = plot.det(result, scale="normal", groups=["B"], pooled=False)
    (op,) = lines(ax, "B", "operating point")
    row = result.by_group.loc["B"]
    assert op.get_xdata()[0] == pytest.approx(norm.ppf(row.fmr))
    assert op.get_ydata()[0] == pytest.approx(norm.ppf(row.fnmr))
    assert "normal deviate" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "0.1" in labels


def test_det_normal_scale_without_scipy_raises_a_clear_error(result, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    with pytest.raises(errors.FairauditInputError) as info:
        plot.det(result, scale="normal")
    assert str(info.value) == plot.NORMAL_SCALE_NEEDS_SCIPY


def test_det_rejects_an_unknown_scale(result):
    with pytest.raises(errors.FairauditInputError) as info:
        plot.det(result, scale="probit")
    assert str(info.value) == plot.UNKNOWN_SCALE.format(value="probit")


def test_roc_plots_one_minus_fnmr_against_fmr_on_a_log_x_axis(result):
    ax = plot.roc(result)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    for g in GROUPS:
        (curve,) = lines(ax, g, "curve")
        expected = 1.0 - result.curves[result.curves.group == g].fnmr.to_numpy()
        np.testing.assert_allclose(curve.get_ydata(), expected)
        assert len(lines(ax, g, "operating point")) == 1
    assert plot.roc(result, log_x=False).get_xscale() == "linear"


# --- colours and selection -----------------------------------------------------
def test_a_group_has_the_same_colour_in_every_figure(result):
    colours = plot.group_colors(GROUPS)
    curves = plot.fmr_fnmr(result)
    detax = plot.det(result, groups=["C", "B"])  # restricting does not recolour
    bar_ax = plot.by_group(result, metric="fmr")
    hist = plot.score_histograms(result, group="B")
    for g in GROUPS:
        assert to_hex(lines(curves, g, "fmr")[0].get_color()) == colours[g]
    for g in ("B", "C"):
        assert to_hex(lines(detax, g, "curve")[0].get_color()) == colours[g]
    for container in bar_ax.containers:
        if hasattr(container, "patches"):
            label = container.get_label()
            assert to_hex(container.patches[0].get_facecolor()) == colours[label]
    (genuine,) = [p for p in hist.patches if p.get_gid() == "genuine"]
    assert to_hex(genuine.get_edgecolor()) == colours["B"]


def test_group_colors_are_distinct_and_pooled_is_black():
    colours = plot.group_colors(["x", "y", "z", "all"])
    assert colours["all"] == "#000000"
    assert len({colours[k] for k in "xyz"}) == 3
    assert tuple(colours[k] for k in "xyz") == plot.OKABE_ITO[:3]
    many = plot.group_colors([f"g{i}" for i in range(25)])
    assert len(set(many.values())) == 26


@pytest.mark.parametrize("name", ["fmr_fnmr", "det", "roc"])
def test_groups_restricts_the_curves(result, name):
    ax = AXES_FUNCTIONS[name](result, groups=["B"], pooled=False)
    drawn = {ln.get_label() for ln in ax.get_lines() if ln.get_gid() != "threshold"}
    assert drawn == {"B"}


def test_groups_restricts_the_bars(result):
    ax = plot.by_group(result, groups=["C", "A"])
    assert bar_labels(ax) == ["C", "A"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["C", "A"]


@pytest.mark.parametrize("call", [
    lambda r: plot.fmr_fnmr(r, groups=["A", "Z"]),
    lambda r: plot.det(r, groups="Z"),
    lambda r: plot.roc(r, groups=["Z"]),
    lambda r: plot.by_group(r, groups=["Z"]),
    lambda r: plot.histogram_grid(r, groups=["Z"]),
])
def test_unknown_group_label_raises_listing_the_available_labels(result, call):
    with pytest.raises(errors.FairauditInputError) as info:
        call(result)
    message = str(info.value)
    assert message.startswith("groups=")
    assert "'Z'" in message
    for g in GROUPS:
        assert repr(g) in message


def test_unknown_histogram_group_message_follows_the_template(result):
    with pytest.raises(errors.FairauditInputError) as info:
        plot.score_histograms(result, group="Z")
    assert str(info.value) == plot.UNKNOWN_GROUP.format(name="group", value="Z", available=GROUPS + ["all"])


def test_empty_groups_is_rejected(result):
    with pytest.raises(errors.FairauditInputError, match="names no group"):
        plot.det(result, groups=[])


def test_intersectional_groups_accept_tuples_of_attribute_values():
    r = fairaudit.verification_audit(make_population(n_ids=48, second=("F", "M")), by=["eth", "gender"],
                                     n_boot=0)
    ax = plot.det(r, groups=[("A", "F"), "B & M"], pooled=False)
    assert {ln.get_label() for ln in lines(ax, gid="curve")} == {"A & F", "B & M"}
    grid = plot.histogram_grid(r, ncols=4)
    assert [a.get_title() for a in grid.axes] == list(r.by_group["label"])


# --- score distributions ---------------------------------------------------------
def test_score_histograms_draw_genuine_and_impostor_densities_of_one_group(result):
    ax = plot.score_histograms(result, group="C")
    steps = {p.get_gid(): p for p in ax.patches if p.get_gid() in ("genuine", "impostor")}
    assert set(steps) == {"genuine", "impostor"}
    for step in steps.values():
        assert step.get_label() == "C"
        data = step.get_data()
        values, edges = data.values, data.edges
        assert np.sum(values * np.diff(edges)) == pytest.approx(1.0)
    (thr,) = lines(ax, gid="threshold")
    assert thr.get_xdata()[0] == result.threshold


def test_score_histograms_counts_and_pooled(result):
    ax = plot.score_histograms(result, group="all", density=False)
    (impostor,) = [p for p in ax.patches if p.get_gid() == "impostor"]
    values = impostor.get_data().values
    assert values.sum() == result.overall.n_impostor
    assert ax.get_ylabel() == "Number of comparisons"


def test_histogram_grid_returns_a_figure_with_one_subplot_per_group(result):
    fig = plot.histogram_grid(result, ncols=2)
    assert isinstance(fig, Figure)
    assert [a.get_title() for a in fig.axes] == GROUPS  # 2 x 2 grid, empty cell removed
    for ax, g in zip(fig.axes, GROUPS):
        assert {p.get_label() for p in ax.patches if p.get_gid() == "genuine"} == {g}
    some = plot.histogram_grid(result, groups=["B", "all"])
    assert [a.get_title() for a in some.axes] == ["B", plot.POOLED_LABEL]


@pytest.mark.parametrize("ncols", [0, -1, 1.5, True])
def test_histogram_grid_rejects_a_bad_ncols(result, ncols):
    with pytest.raises(errors.FairauditInputError) as info:
        plot.histogram_grid(result, ncols=ncols)
    assert str(info.value) == plot.BAD_NCOLS.format(value=ncols)


# --- cross FMR -------------------------------------------------------------------
def test_cross_fmr_is_a_log_scaled_annotated_heatmap_with_colourbar(result):
    ax = plot.cross_fmr(result)
    (image,) = ax.get_images()
    assert isinstance(image.norm, LogNorm)
    np.testing.assert_allclose(image.get_array().filled(np.nan), result.cross_fmr.to_numpy(dtype=float))
    values = [t for t in ax.texts if t.get_gid() == "value"]
    assert len(values) == len(GROUPS) ** 2
    assert values[0].get_text() == f"{result.cross_fmr.iloc[0, 0]:.2g}"
    assert len(ax.figure.axes) == 2  # heatmap and colour bar
    assert [t.get_text() for t in ax.get_xticklabels()] == GROUPS


def test_cross_fmr_masks_zero_and_empty_cells_and_says_so(result):
    table = result.cross_fmr.copy()
    table.loc["A", "B"] = table.loc["B", "A"] = 0.0
    table.loc["C", "C"] = np.nan
    ax = plot.cross_fmr(dataclasses.replace(result, cross_fmr=table))
    (image,) = ax.get_images()
    mask = np.ma.getmaskarray(image.get_array())
    assert mask.sum() == 3 and mask[0, 1] and mask[1, 0] and mask[2, 2]
    texts = {t.get_text() for t in ax.texts if t.get_gid() == "value"}
    assert {"0", "n/a"} <= texts
    (note,) = [t for t in ax.texts if t.get_gid() == "note"]
    assert "no false match" in note.get_text() and "no impostor" in note.get_text()


# --- per-group bars and fairness ---------------------------------------------------
@pytest.mark.parametrize("metric", ["fnmr", "fmr", "eer"])
def test_by_group_draws_one_bar_per_group_with_its_confidence_interval(result, metric):
    ax = plot.by_group(result, metric=metric)
    assert bar_labels(ax) == GROUPS
    heights = [p.get_height() for p in bars(ax, metric)]
    np.testing.assert_allclose(heights, result.by_group[metric])
    caps = [ln for ln in ax.get_lines() if ln.get_marker() == "_"]
    assert len(caps) == 2 * len(GROUPS)  # low and high cap of every bar
    lows = sorted(min(c.get_ydata()[0] for c in caps[2 * i:2 * i + 2]) for i in range(len(GROUPS)))
    np.testing.assert_allclose(lows, sorted(result.by_group[f"{metric}_ci_low"]))
    (pooled,) = lines(ax, "all", "pooled")
    assert pooled.get_ydata()[0] == pytest.approx(result.overall[metric])
    assert ax.get_ylabel() == plot.METRIC_LABELS[metric]


def test_by_group_without_bootstrap_draws_no_error_bars(result_no_ci):
    ax = plot.by_group(result_no_ci, metric="auc")
    assert bar_labels(ax) == GROUPS
    assert [ln for ln in ax.get_lines() if ln.get_marker() == "_"] == []


def test_by_group_rejects_an_unknown_metric(result):
    with pytest.raises(errors.FairauditInputError) as info:
        plot.by_group(result, metric="accuracy")
    assert "'accuracy'" in str(info.value) and "'fnmr'" in str(info.value)


def test_fairness_draws_defined_figures_and_lists_undefined_ones(result):
    table = result.fairness.copy()
    table["defined"] = table["defined"].astype(object)
    table.loc["fmr_max_min", ["value", "ci_low", "ci_high"]] = np.nan
    table.loc["fmr_max_min", "defined"] = False
    table.loc["fmr_max_min", "reason"] = "a group has FMR = 0"
    ax = plot.fairness(dataclasses.replace(result, fairness=table))
    drawn = [c.get_label() for c in ax.containers if hasattr(c, "patches")]
    assert drawn == [f for f in table.index if f != "fmr_max_min" and bool(table.loc[f, "defined"])]
    widths = [c.patches[0].get_width() for c in ax.containers if hasattr(c, "patches")]
    np.testing.assert_allclose(widths, table.loc[drawn, "value"].astype(float))
    assert len(lines(ax, "perfectly fair", "fair value")) == len(drawn)
    (note,) = [t for t in ax.texts if t.get_gid() == "note"]
    assert "FMR max/min" in note.get_text() and "a group has FMR = 0" in note.get_text()


def test_fairness_with_nothing_defined_says_so(result):
    table = result.fairness.copy()
    table["value"] = np.nan
    table["defined"] = False
    ax = plot.fairness(dataclasses.replace(result, fairness=table))
    assert bar_labels(ax) == []
    assert any("No fairness figure" in t.get_text() for t in ax.texts)


# --- output ---------------------------------------------------------------------
def test_save_all_writes_every_figure_as_a_decodable_png(result, tmp_path):
    from matplotlib.image import imread

    paths = plot.save_all(result, tmp_path / "figs", prefix="audit")
    names = ["fmr_fnmr", "det", "roc", "histograms", "cross_fmr", "by_group_fnmr", "by_group_fmr",
             "fairness"]
    assert paths == [tmp_path / "figs" / f"audit_{n}.png" for n in names]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_save_all_writes_every_format_asked_for(result, tmp_path):
    paths = plot.save_all(result, tmp_path, formats=("png", "svg"))
    assert len(paths) == 16
    assert {p.suffix for p in paths} == {".png", ".svg"}
    assert all(p.stat().st_size > 0 for p in paths)


def test_save_all_rejects_an_unknown_format_before_writing(result, tmp_path):
    with pytest.raises(errors.FairauditInputError, match="'bmpx'"):
        plot.save_all(result, tmp_path / "out", formats=("png", "bmpx"))
    assert not (tmp_path / "out").exists()


def test_to_data_uri_returns_a_base64_png(result):
    ax = plot.det(result)
    uri = plot.to_data_uri(ax)
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    assert base64.b64decode(uri[len(prefix):], validate=True).startswith(PNG_SIGNATURE)
    grid_uri = plot.to_data_uri(plot.histogram_grid(result))
    assert base64.b64decode(grid_uri[len(prefix):]).startswith(PNG_SIGNATURE)
    assert plot.to_data_uri(ax, format="svg").startswith("data:image/svg+xml;base64,")


def test_to_data_uri_rejects_what_is_not_a_figure():
    with pytest.raises(errors.FairauditInputError, match="fig_or_ax must be"):
        plot.to_data_uri("figure.png")


def test_plots_work_on_a_result_read_back_from_json(result):
    back = type(result).from_dict(json.loads(result.to_json()))
    for function in AXES_FUNCTIONS.values():
        assert isinstance(function(back), Axes)
    assert bar_labels(plot.by_group(back)) == GROUPS
    assert len(bar_labels(plot.fairness(back))) == int(back.fairness["defined"].sum())
    assert plot.to_data_uri(plot.histogram_grid(back)).startswith("data:image/png;base64,")


# --- imports --------------------------------------------------------------------
def run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def test_importing_fairaudit_plot_imports_neither_pyplot_nor_matplotlib():
    out = run_python(
        "import sys, fairaudit\n"
        "from fairaudit import plot\n"
        "print('matplotlib.pyplot' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    assert out == "False False"


def test_drawing_and_saving_never_import_pyplot(tmp_path):
    out = run_python(
        "import sys, numpy as np, fairaudit\nfrom fairaudit import plot\n"
        "rng = np.random.default_rng(1)\n"
        "ids = np.repeat(np.arange(12), 3)\n"
        "x = rng.standard_normal((12, 8))[ids] + 0.5 * rng.standard_normal((36, 8))\n"
        "es = fairaudit.EmbeddingSet(x, identity=ids.astype(str), attributes={'g': (ids % 2).astype(str)})\n"
        "r = fairaudit.verification_audit(es, by='g', n_boot=0)\n"
        f"plot.save_all(r, {str(tmp_path)!r})\n"
        "plot.to_data_uri(plot.det(r))\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    assert out == "False"


def test_every_result_reads_back_from_a_json_file(result, tmp_path):
    result.to_json(tmp_path / "r.json")
    for source in (tmp_path / "r.json", str(tmp_path / "r.json"), result.to_json()):
        back = type(result).from_json(source)
        pd.testing.assert_frame_equal(back.by_group, result.by_group)
        assert back.threshold == result.threshold
