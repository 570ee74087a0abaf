"""Figures of a comparison of systems (:class:`~fairaudit.systems.SystemComparison`).

:func:`det_by_group`: DET curves in small multiples, one panel per group (and the pooled
population), every system overlaid with its operating point. :func:`accuracy_fairness`: the
accuracy-fairness plane, pooled FNMR at each system's threshold against a fairness figure, both
with their intervals, the Pareto front joined. :func:`save_all` writes both. The conventions of
:mod:`fairaudit.verification.plots` hold: plain Figures (no pyplot state), user text drawn
literally, matplotlib imported inside the functions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from fairaudit.common import errors
from fairaudit.common.figures import DPI, literal, save_figures
from fairaudit.data import POOLED

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: one colour and marker per system (Okabe-Ito, then repeats with other markers)
SYSTEM_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
SYSTEM_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: fairness figures drawn on a log axis (ratios, 1 = fair)
_RATIO = ("inequity", "fmr_max_min", "fnmr_max_min", "eer_max_min", "fmr_max_geomean", "fnmr_max_geomean")


def system_styles(systems: Sequence[str]) -> dict[str, dict[str, str]]:
    """The colour and marker of every system, in order."""
    return {name: {"color": SYSTEM_COLORS[k % len(SYSTEM_COLORS)],
                   "marker": SYSTEM_MARKERS[(k // len(SYSTEM_COLORS) + k) % len(SYSTEM_MARKERS)]}
            for k, name in enumerate(systems)}


def _figure(figsize: tuple[float, float]) -> "Figure":
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def det_by_group(comparison: Any, *, groups: Any = None, pooled: bool = True, scale: str = "log",
                 columns: int | None = None) -> "Figure":
    """DET curves (FNMR against FMR) in one panel per group, every system overlaid, each with a
    marker at its operating point (its own threshold). ``groups`` restricts the panels to some
    labels; ``pooled`` adds a panel for everyone. Returns the Figure."""
    from fairaudit.verification.plot_curves import _curve, _det_axes, _det_transform, _operating_point
    from fairaudit.verification.plot_style import shown

    audits = comparison.audits
    first = audits[comparison.systems[0]]
    labels = [str(x) for x in first.by_group["label"]]
    if groups is not None:
        wanted = [groups] if isinstance(groups, str) else list(groups)
        unknown = [g for g in wanted if g not in labels]
        if unknown:
            raise errors.FairauditInputError(
                f"groups={unknown!r}: not groups of this comparison; its groups are {labels}. Fix: pass labels "
                "as in comparison.by_group['label'].")
        labels = wanted
    panels = labels + ([POOLED] if pooled else [])
    if not panels:
        raise errors.FairauditInputError("det_by_group has no panel to draw: no group and pooled=False. "
                                         "Fix: pass pooled=True or a group.")
    ncol = int(columns) if columns else min(3, len(panels))
    nrow = int(math.ceil(len(panels) / ncol))
    fig = _figure((3.6 * ncol + 1.6, 3.2 * nrow + 0.6))
    axes = fig.subplots(nrow, ncol, squeeze=False, sharex=True, sharey=True)
    transform = _det_transform(scale)
    styles = system_styles(comparison.systems)
    for k, label in enumerate(panels):
        ax = axes[k // ncol][k % ncol]
        for name in comparison.systems:
            curve = _curve(audits[name], label)
            if curve is None:
                continue
            _, fmr, fnmr = curve
            st = styles[name]
            ax.plot(transform(fmr), transform(fnmr), color=st["color"], lw=1.5, label=name, gid="curve")
            op = _operating_point(audits[name], label)
            x, y = transform(np.array([op[0]])), transform(np.array([op[1]]))
            if np.isfinite(x[0]) and np.isfinite(y[0]):
                ax.plot(x, y, ls="none", marker=st["marker"], ms=6.5, mfc=st["color"], mec="white", mew=1.0,
                        zorder=3, label=name, gid="operating point")
        _det_axes(ax, scale, transform, ("FMR", "FNMR"), ("FMR (normal deviate)", "FNMR (normal deviate)"))
        ax.set_title("everyone (pooled)" if label == POOLED else literal(shown(label)), fontsize="medium")
        ax.grid(True, which="major", alpha=0.3)
        ax.minorticks_off()  # shared log axes of many panels: minor ticks cost seconds of layout, and add nothing
        if k % ncol:
            ax.set_ylabel("")
        if k + ncol < len(panels):
            ax.set_xlabel("")  # a panel below carries the axis label
        else:
            ax.xaxis.set_tick_params(labelbottom=True)  # the lowest panel of its column
    for k in range(len(panels), nrow * ncol):
        axes[k // ncol][k % ncol].set_visible(False)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=styles[n]["color"], lw=1.5, marker=styles[n]["marker"], ms=6,
                      mec="white", label=literal(n)) for n in comparison.systems]
    fig.legend(handles=handles, loc="outside right upper", title="system (marker: its operating point)",
               fontsize="small", title_fontsize="small")
    policy = comparison.params.get("policy") or ""
    fig.suptitle(literal(f"DET per group, each system at its own threshold ({policy})"), fontsize="medium")
    return fig


def accuracy_fairness(comparison: Any, *, figure: str | None = None, ax: "Axes | None" = None) -> "Axes":
    """The accuracy-fairness plane: each system's pooled FNMR at its own threshold (x) against a
    fairness figure (y, default the comparison's ``figure``), both with interval bars; the systems
    on the Pareto front (no other better on both) are joined and filled, the others hollow."""
    from fairaudit.systems.compare import pareto_front
    from fairaudit.verification.fairness_kernels import DIRECTION

    board = comparison.leaderboard.set_index("system")
    figure = figure or comparison.params.get("figure")
    if figure not in board.columns:
        raise errors.FairauditInputError(
            f"figure={figure!r} is not in this comparison's leaderboard (it has {comparison.params.get('figure')!r}). "
            "Fix: compare again with figure=... to plot another one.")
    if ax is None:
        ax = _figure((6.4, 4.6)).add_subplot()
    styles = system_styles(comparison.systems)
    x = board.loc[list(comparison.systems), "fnmr"].to_numpy(dtype=float)
    y = board.loc[list(comparison.systems), figure].to_numpy(dtype=float)
    higher_fairer = DIRECTION.get(figure, "lower").startswith("higher")
    front = pareto_front(x, -y if higher_fairer else y)
    for k, name in enumerate(comparison.systems):
        r = board.loc[name]
        st = styles[name]
        if not (np.isfinite(x[k]) and np.isfinite(y[k])):
            continue
        xerr = [[max(0.0, x[k] - r["fnmr_ci_low"])], [max(0.0, r["fnmr_ci_high"] - x[k])]]
        lo, hi = r[f"{figure}_ci_low"], r[f"{figure}_ci_high"]
        yerr = [[max(0.0, y[k] - lo)], [max(0.0, hi - y[k])]] if np.isfinite(lo) and np.isfinite(hi) else None
        ax.errorbar([x[k]], [y[k]], xerr=xerr if np.isfinite(r["fnmr_ci_low"]) else None, yerr=yerr,
                    fmt=st["marker"], ms=8, color=st["color"], mfc=st["color"] if front[k] else "white",
                    mew=1.6, capsize=3, lw=1.1, label=name, gid="system")
        ax.annotate(literal(name), (x[k], y[k]), xytext=(7, 6), textcoords="offset points", fontsize="small",
                    color=st["color"])
    idx = np.flatnonzero(front)
    if len(idx) > 1:
        order = idx[np.argsort(x[idx])]
        ax.plot(x[order], y[order], color="0.35", lw=1.0, ls="--", zorder=0, gid="pareto front")
    if figure in _RATIO and np.all(y[np.isfinite(y)] > 0):
        ax.set_yscale("log")
        from fairaudit.verification.plot_style import _log_ticks

        _log_ticks(ax.yaxis)
    ax.set_xlabel("pooled FNMR at the system's own threshold")
    from fairaudit.verification.plot_groups import FAIRNESS_NAMES

    ax.set_ylabel(f"{FAIRNESS_NAMES.get(figure, figure)}; {DIRECTION.get(figure, '')}")
    ax.set_title("Accuracy and fairness (filled: Pareto front; bars: intervals)", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.margins(0.15)
    return ax


def save_all(comparison: Any, outdir: str | Path, *, formats: str | Sequence[str] = "png", dpi: int = DPI,
             prefix: str = "compare") -> list[Path]:
    """Write :func:`det_by_group` and :func:`accuracy_fairness` to ``outdir`` (each file atomically)."""
    saved = [("det_by_group", det_by_group), ("accuracy_fairness", lambda c: accuracy_fairness(c).figure)]
    return save_figures(comparison, outdir, saved, prefix=prefix, formats=formats, dpi=dpi)
