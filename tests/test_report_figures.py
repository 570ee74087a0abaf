"""Every figure the HTML report draws is readable: no raw mathtext in any drawn text, and no two tick
labels of one axis drawn on top of each other."""

from __future__ import annotations

import itertools

import pytest

from fairaudit import synthetic
from fairaudit.common import parallel
from fairaudit.classification.audit import classification_audit
from fairaudit.diagnostics.audit import embedding_diagnostics
from fairaudit.reporting import figures as figures_module
from fairaudit.reporting import views as views_module
from fairaudit.reporting.document import render, report_data
from fairaudit.verification.audit import verification_audit


@pytest.fixture(scope="module")
def drawn_figures():
    """Every figure the report builds for a verification, a classification and a diagnostics result,
    captured from the views' own ``_figure`` calls (so a figure added to a view is tested too)."""
    population = synthetic.population("diveface", n_identities=10, samples_per_identity=3, dim=16,
                                      random_state=5)
    results = [
        verification_audit(population, by=["ethnicity", "gender"], threshold={"fmr": 1e-2}, n_boot=20,
                           random_state=0),
        classification_audit(population, target="gender", by="ethnicity", split="per-group", n_seeds=2,
                             progress=False, keep_models="none"),
        embedding_diagnostics(population, by=["gender", "ethnicity"], method="pca", random_state=0),
    ]
    captured: list[tuple[str, object]] = []
    real = figures_module._figure

    def capture(build, *, alt, caption, wide=False):
        def keep():
            obj = build()
            fig = obj if hasattr(obj, "savefig") else obj.figure
            captured.append((alt, fig))
            return obj
        return real(keep, alt=alt, caption=caption, wide=wide)

    mp = pytest.MonkeyPatch()
    mp.setattr(views_module, "_figure", capture)
    mp.setattr(parallel, "MAX_WORKERS", 1)  # draw here: a forked child's captures would stay in it
    try:
        render(report_data(results))
    finally:
        mp.undo()
    return captured


def _draw(fig):
    """Draw a figure on an Agg canvas (report figures are made without pyplot) and return its renderer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _texts(fig):
    """Every visible Text artist of a figure, tick labels included (``findobj`` misses them)."""
    from matplotlib.text import Text

    seen = {id(t): t for t in fig.findobj(Text)}
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for t in axis.get_ticklabels() + axis.get_ticklabels(minor=True):
                seen[id(t)] = t
    return [t for t in seen.values() if t.get_visible() and t.get_text()]


def _drawn_string(text, renderer):
    """The string matplotlib draws for a Text: mathtext parsed into glyphs where the text uses it."""
    s, mtext = text._preprocess_math(text.get_text())
    if mtext is True:
        from matplotlib.mathtext import MathTextParser

        parsed = MathTextParser("path").parse(s, dpi=72, prop=text.get_fontproperties())
        return "".join(chr(glyph[2]) for glyph in parsed.glyphs)
    return s


def test_report_draws_every_kind_of_figure(drawn_figures):
    alts = " | ".join(alt for alt, _ in drawn_figures)
    for expected in ("DET", "ROC curves per group", "FMR and FNMR against the threshold", "cross-group",
                     "fairness figure", "accuracy per model", "map of the embeddings"):
        assert expected in alts


def test_no_figure_text_shows_mathtext_markup(drawn_figures):
    bad = []
    for alt, fig in drawn_figures:
        renderer = _draw(fig)
        for t in _texts(fig):
            shown = _drawn_string(t, renderer)
            if "$" in shown and "\\$" not in t.get_text() or "mathdefault" in shown or "\\" in shown:
                bad.append((alt, t.get_text(), shown))
    assert bad == []


def test_log_axis_ticks_are_parsed_as_mathtext(drawn_figures):
    # the reason mathtext stays on: the 10^-k labels of log axes must be drawn as numbers
    alt, fig = next((a, f) for a, f in drawn_figures if a.startswith("DET"))
    _draw(fig)
    labels = [t.get_text() for ax in fig.axes for t in ax.xaxis.get_ticklabels() if t.get_visible()]
    assert any("10^" in s for s in labels)
    assert not any("mathdefault" in _drawn_string(t, None) for ax in fig.axes for t in ax.xaxis.get_ticklabels())


def _overlaps(fig):
    renderer = _draw(fig)
    found = []
    for ax in fig.axes:
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            ticks = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            # labels closer than 2 px read as one; boxes are padded by 1 px on each side
            boxes = [(t.get_text(), t.get_window_extent(renderer).padded(1)) for t in ticks]
            for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
                if ba.width and bb.width and ba.overlaps(bb):
                    found.append((ax.get_title(), name, a, b))
    return found


def test_no_two_tick_labels_of_one_axis_overlap(drawn_figures):
    bad = []
    for alt, fig in drawn_figures:
        bad += [(alt, *o) for o in _overlaps(fig)]
    assert bad == []


def test_overlap_check_sees_crowded_labels():
    # the check itself can fail: ten long labels on a narrow axis overlap
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.set_xticks(range(10), labels=[f"label number {i}" for i in range(10)])
    assert _overlaps(fig)


def test_markup_check_sees_unparsed_mathtext():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    t = ax.set_title(r"$\mathdefault{10^{-1}}$", parse_math=False)
    assert "mathdefault" in _drawn_string(t, _draw(fig))


def test_fairness_chart_has_one_panel_per_figure_with_ratios_on_a_log_axis():
    from fairaudit.verification import plots as plot

    population = synthetic.population("diveface", n_identities=10, samples_per_identity=3, dim=16,
                                      random_state=5)
    r = verification_audit(population, by="ethnicity", threshold={"fmr": 1e-2}, n_boot=20, random_state=0)
    fig = plot.fairness_panels(r)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [plot.FAIRNESS_NAMES[str(n)] for n in r.fairness.index]
    for ax, name in zip(fig.axes, r.fairness.index):
        assert ax.get_xscale() == ("log" if name in plot.RATIO_FIGURES else "linear")
        if name not in plot.RATIO_FIGURES and r.fairness.loc[name, "defined"]:
            assert ax.get_xlim() == pytest.approx((-0.02, 1.02))
    assert not _overlaps(fig)
