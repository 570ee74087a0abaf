"""The report's figures: the plots of classification results (``plot_cross``,
``plot_mixture_sweep``, ``plot_classification_roc``, ``plot_confusion`` and a grid of confusion
matrices) and ``_figure``, which draws a figure into a PNG data URI for the page. matplotlib is
imported only inside the functions."""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np

from fairaudit.common import errors
from fairaudit.common.figures import literal
from fairaudit.data import POOLED
from fairaudit.verification import shown as display_name
from fairaudit.reporting.formatting import _float, _one_line

#: resolution of the report's figures
FIGURE_DPI = 110


def _new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    from matplotlib.figure import Figure

    if ax is None:
        return Figure(figsize=figsize, layout="constrained").add_subplot()
    return ax


def plot_cross(result: Any, ax: Any = None, *, include_all: bool = True, cmap: str = "viridis") -> Any:
    """Heatmap of a classification result's model × test group accuracy (``cross_table()``).

    Every cell shows the mean accuracy over seeds and, below it, the
    confidence interval when there is one.

    Parameters
    ----------
    result : ClassificationResult
    ax : matplotlib Axes, optional
        Draw into it; default a new figure (not registered with pyplot).
    include_all : bool, default True
        Add the column ``"all"`` (the whole test set).
    cmap : str
        A sequential matplotlib colormap.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib

    table = result.cross_table(include_all=include_all)
    values = table.to_numpy(dtype=float)
    rows, cols = [str(x) for x in table.index], [str(x) for x in table.columns]
    ax = _new_axes(ax, (max(4.5, 1.6 + 1.25 * len(cols)), max(2.6, 1.3 + 0.75 * len(rows))))
    finite = np.isfinite(values)
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.88")
    vmin = float(values[finite].min()) if finite.any() else 0.0
    vmax = float(values[finite].max()) if finite.any() else 1.0
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 0.01, vmax + 0.01
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap, vmin=vmin, vmax=vmax, aspect="auto",
                      interpolation="nearest")
    ax.set_xticks(np.arange(len(cols)), labels=[literal(display_name(c)) for c in cols])
    ax.set_yticks(np.arange(len(rows)), labels=[literal(display_name(r)) for r in rows])
    if max((len(display_name(c)) for c in cols), default=0) > 4:
        for tick in ax.get_xticklabels():
            tick.set_rotation(30)
            tick.set_ha("right")
            tick.set_rotation_mode("anchor")
    ax.tick_params(length=0)
    ci = result.cross.set_index(["model", "test_group"])
    for i, model in enumerate(rows):
        for j, group in enumerate(cols):
            v = values[i, j]
            if not np.isfinite(v):
                ax.text(j, i, "n/a", ha="center", va="center", color="0.2", fontsize="small")
                continue
            r, g, b, _ = colormap((v - vmin) / (vmax - vmin))
            color = "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "black"
            text = f"{v:.3f}"
            if (model, group) in ci.index:
                lo, hi = ci.loc[(model, group), "ci_low"], ci.loc[(model, group), "ci_high"]
                if _float(lo) is not None and _float(hi) is not None:
                    text += f"\n[{float(lo):.2f}, {float(hi):.2f}]"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize="small")
    bar = ax.figure.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label("accuracy (mean over seeds)")
    ax.set_xlabel("test group")
    ax.set_ylabel("model (trained on)")
    ax.set_title(f"Accuracy of every model on every test group ({len(result.seeds)} seed(s))")
    return ax


def plot_mixture_sweep(result: Any, ax: Any = None) -> Any:
    """Accuracy per test group (lines, with confidence intervals) across the models of a sweep.

    Meant for a mixture sweep (the models in the order of the sweep, the
    x axis labelled with each mixture's shares) but draws any result.

    Parameters
    ----------
    result : ClassificationResult
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from fairaudit.verification import group_colors

    table = result.cross_table(include_all=True)
    models = [str(m) for m in table.index]
    strategies = {s.get("name"): s for s in (result.params.get("split") or {}).get("strategies", [])}
    labels = []
    for m in models:
        props = (strategies.get(m) or {}).get("proportions")
        if props:
            labels.append(m + "\n" + ", ".join(f"{g} {100 * float(s):.0f}%" for g, s in props.items()))
        else:
            labels.append(m)
    # room for the longest tick label line under every model (small font: ~0.075 in per character)
    longest = max((len(line) for label in labels for line in label.split("\n")), default=0)
    per_model = max(1.3, 0.075 * longest + 0.3)
    ax = _new_axes(ax, (max(5.5, 2.4 + per_model * len(models)), 4.2))
    colors = group_colors(list(result.groups))
    cross = result.cross.set_index(["model", "test_group"])
    x = np.arange(len(models))
    for group in table.columns:
        group = str(group)
        y = table[group].to_numpy(dtype=float)
        lo = np.array([_float(cross.loc[(m, group), "ci_low"]) if (m, group) in cross.index else None
                       for m in models], dtype=float)
        hi = np.array([_float(cross.loc[(m, group), "ci_high"]) if (m, group) in cross.index else None
                       for m in models], dtype=float)
        yerr = None
        if np.isfinite(lo).all() and np.isfinite(hi).all():
            yerr = np.vstack([np.maximum(y - lo, 0), np.maximum(hi - y, 0)])
        style = dict(ls="--", lw=1.4) if group == POOLED else dict(ls="-", lw=2)
        ax.errorbar(x, y, yerr=yerr, marker="o", capsize=4, color=colors.get(group, "0.3"),
                    label=f"{group} (whole test set)" if group == POOLED else literal(display_name(group)), **style)
    ax.set_xticks(x, labels=[literal(t) for t in labels], fontsize="small")
    ax.set_xlim(-0.4, len(models) - 0.6)
    ax.set_xlabel("model (training mixture)")
    ax.set_ylabel("accuracy (mean over seeds)")
    ax.set_title("Accuracy per test group across the training mixtures")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(title="test group", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return ax


def plot_classification_roc(result: Any, *, model: str, ax: Any = None) -> Any:
    """ROC curves of one model per test group (binary targets), every seed drawn.

    The legend gives each group's AUC as the mean over seeds.

    Parameters
    ----------
    result : ClassificationResult
    model : str
        One of ``result.models``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    from fairaudit.verification import group_colors

    if model not in result.models:
        raise errors.FairauditInputError(
            f"model={model!r} is not a model of this result; models: {list(result.models)}. Fix: pass one of them.")
    ax = _new_axes(ax, (5.0, 4.6))
    roc = result.roc[result.roc["model"] == model]
    colors = group_colors(list(result.groups))
    for group in [*result.groups, POOLED]:
        part = roc[roc["group"].astype(str) == str(group)]
        if not len(part):
            continue
        aucs = []
        for i, (_, curve) in enumerate(part.groupby("seed", sort=False)):
            aucs.append(float(curve["auc"].iloc[0]))
            ax.plot(curve["fpr"], curve["tpr"], color=colors.get(str(group), "0.3"),
                    ls="--" if group == POOLED else "-", lw=1.2, alpha=0.75,
                    label=None if i else literal(f"{display_name(group)} (AUC {np.mean(aucs):.3f})"))
        # the label was set with the first seed's AUC; update it to the mean
        ax.lines[-len(aucs)].set_label(literal(f"{display_name(group)} (AUC {np.mean(aucs):.3f})"))
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel(literal(f"false positive rate (positive class {result.pos_label})"))
    ax.set_ylabel("true positive rate")
    ax.set_title(literal(f"ROC of model {model}"))
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_confusion(result: Any, *, model: str, group: str = POOLED, ax: Any = None,
                   normalize: bool = True) -> Any:
    """Confusion matrix of one model on one test group, summed over seeds.

    Parameters
    ----------
    result : ClassificationResult
    model : str
    group : str, default "all"
        A test group, or ``"all"`` for the whole test set.
    ax : matplotlib Axes, optional
    normalize : bool, default True
        Divide every row (true class) by its total, so cells are recalls.

    Returns
    -------
    matplotlib Axes
    """
    c = result.confusion
    part = c[(c["model"] == model) & (c["group"].astype(str) == str(group))]
    classes = [str(x) for x in result.classes]
    full = (part.pivot(index="true", columns="predicted", values="count")
            .reindex(index=classes, columns=classes).fillna(0).to_numpy(dtype=float))
    # rows of classes absent from the group (e.g. other ethnicities of a six-class target) are left out
    present = [i for i in range(len(classes)) if full[i].sum() > 0] or list(range(len(classes)))
    rows = [classes[i] for i in present]
    matrix = full[present]
    totals = matrix.sum(axis=1, keepdims=True)
    shown = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0) if normalize else matrix
    k = len(classes)
    ax = _new_axes(ax, (1.6 + 0.65 * k, 1.2 + 0.6 * len(rows)))
    ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(float(shown.max()), 1.0),
              interpolation="nearest")
    for i in range(len(rows)):
        for j in range(k):
            v = shown[i, j]
            dark = v > (0.55 if normalize else 0.55 * shown.max())
            ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center",
                    fontsize="x-small", color="white" if dark else "black")
    ax.set_xticks(np.arange(k), labels=[literal(c) for c in classes], fontsize="small")
    ax.set_yticks(np.arange(len(rows)), labels=[literal(r) for r in rows], fontsize="small")
    for tick in ax.get_xticklabels():
        tick.set_rotation(45)
        tick.set_ha("right")
        tick.set_rotation_mode("anchor")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(literal(f"{display_name(model)} on {display_name(group)}") + (" (row share)" if normalize else ""),
                 fontsize="medium")
    return ax


def _confusion_grid(result: Any, model: str) -> Any:
    from matplotlib.figure import Figure

    groups = [*result.groups, POOLED]
    ncols = min(len(groups), 4)
    nrows = int(math.ceil(len(groups) / ncols))
    k = len(result.classes)
    side = 1.5 + 0.5 * k
    fig = Figure(figsize=(side * ncols, side * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, group in enumerate(groups):
        plot_confusion(result, model=model, group=group, ax=axes[i // ncols][i % ncols])
    for j in range(len(groups), nrows * ncols):
        fig.delaxes(axes[j // ncols][j % ncols])
    return fig


def _figure(build: Callable[[], Any], *, alt: str, caption: str, wide: bool = False) -> dict[str, Any]:
    """A figure of the report, drawn later by :func:`draw_figures` (all of them at once, on every
    core): ``{"pending": build, "alt": ..., "caption": ..., "wide": ...}``."""
    return {"pending": build, "alt": alt, "caption": caption, "wide": wide}


def draw_figures(figures: list[dict[str, Any]]) -> None:
    """Draw every pending figure (:func:`_figure`) in place, in forked processes where there are
    several cores (:func:`fairaudit.common.parallel.fork_map`)."""
    from fairaudit.common.parallel import fork_map

    pending = [f for f in figures if "pending" in f]
    drawn = fork_map(lambda f: _draw(f["pending"], alt=f["alt"], caption=f["caption"], wide=f["wide"]), pending)
    for f, d in zip(pending, drawn):
        f.clear()
        f.update(d)


def _draw(build: Callable[[], Any], *, alt: str, caption: str, wide: bool = False) -> dict[str, Any]:
    """Draw a figure into a PNG data URI; a failing figure becomes a visible error box."""
    from fairaudit.common.figures import to_data_uri

    try:
        # user text in figures is escaped where it is drawn (plot.literal), so mathtext stays on for
        # the tick labels of log axes
        with warnings.catch_warnings():
            # group names in scripts the bundled fonts lack draw as boxes; the tables show them as text
            warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing.*")
            warnings.filterwarnings("ignore", message=r".*[Mm]issing from (current )?font.*")
            obj = build()
            fig = obj if hasattr(obj, "savefig") else obj.figure
            while getattr(fig, "figure", fig) is not fig and fig.figure is not None:
                fig = fig.figure
            uri = to_data_uri(fig, format="png", dpi=FIGURE_DPI)
            w, h = fig.get_size_inches()
    except Exception as exc:  # noqa: BLE001 - one broken figure must not lose the whole report
        return {"error": f"{type(exc).__name__}: {_one_line(exc)}", "alt": alt, "caption": caption, "wide": wide}
    # display at 96 CSS px per inch, so the PNG is sharp on high-density screens
    return {"uri": uri, "alt": alt, "caption": caption, "width": int(round(w * 96)),
            "height": int(round(h * 96)), "wide": wide}
