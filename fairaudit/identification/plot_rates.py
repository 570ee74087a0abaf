"""FNIR and FPIR per group with their confidence intervals on one log axis (:func:`rates`, public
through :mod:`fairaudit.identification.plots`)."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.common.figures import literal
from fairaudit.data import POOLED
from fairaudit.identification.plot_common import _legend_right, _names, _rank_text, _row, _value
from fairaudit.verification.plot_style import (
    POOLED_COLOR,
    POOLED_LABEL,
    _axes,
    _colors,
    _log_ticks,
    _note,
    _rotate_ticks,
    _select,
    shown,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

RATE_NAMES = {"fnir": "FNIR", "fpir": "FPIR", "rank1": "rank-1 rate"}
#: colour of the bars drawn for the rates (the groups are named on the axis)
_RATE_HATCH = {"fnir": None, "fpir": "////"}


def rates(result: Any, *, ax: "Axes | None" = None, groups: Any = None, pooled: bool = True,
          legend: bool = True) -> "Axes":
    """FNIR (solid bars) and FPIR (hatched bars) of every group at the audit's threshold, with their
    confidence intervals, on one log axis (NIST's 1:N reports draw both on log scales; the two
    rates differ by orders of magnitude). A rate of 0 has no bar: it is written ``0`` and its
    interval drawn up to its upper bound. ``*`` marks a rate behind fewer than 30 errors
    (Doddington's rule of 30). Dashed and dotted lines: the pooled FNIR and FPIR.

    Parameters
    ----------
    result : IdentificationResult
    ax : matplotlib Axes, optional
    groups : list of str, optional
    pooled : bool
        Draw the pooled rates as horizontal lines.
    legend : bool

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    labels = _select(result, groups)
    longest = max((len(shown(x)) for x in labels), default=0)
    # long (readable) names stand upright under the bars: make room for them
    ax = _axes(ax, (max(6.0, 3.2 + 0.7 * len(labels)), 4.6 + (0.07 * longest if longest > 12 else 0.0)))
    colors = _colors(result)
    width = 0.38
    drawn: list[tuple[float, float, float, float, str, str]] = []  # x, value, lo, hi, metric, label
    undefined: dict[str, list[str]] = {"fnir": [], "fpir": []}
    thin: list[tuple[float, float, str]] = []
    positive: list[float] = []
    for i, label in enumerate(labels):
        row = _row(result, label)
        for j, metric in enumerate(("fnir", "fpir")):
            v = _value(row, metric)
            x = i + (j - 0.5) * width
            if not math.isfinite(v):
                undefined[metric].append(label)
                continue
            lo, hi = _value(row, f"{metric}_ci_low"), _value(row, f"{metric}_ci_high")
            drawn.append((x, v, lo, hi, metric, label))
            positive += [u for u in (v, lo, hi) if math.isfinite(u) and u > 0]
            if bool(row.get(f"{metric}_below_rule_of_30", False)):
                thin.append((x, max(v, hi) if math.isfinite(hi) else v, metric))
    bottom = 10.0 ** math.floor(math.log10(min(positive) / 1.5)) if positive else 1e-3
    top = 10.0 ** math.ceil(math.log10(max(positive) * 1.6)) if positive else 1.0
    top = min(max(top, bottom * 100), 1.5)
    any_ci = False
    for x, v, lo, hi, metric, label in drawn:
        color = colors[label]
        hatch = _RATE_HATCH[metric]
        if v > 0:
            ax.bar([x], [v - bottom], bottom=bottom, width=width * 0.92, color=color if hatch is None else "white",
                   edgecolor=color, hatch=hatch, lw=1.2, label=label, gid=metric)
        else:
            ax.annotate("0", xy=(x, bottom), xytext=(0, 4), textcoords="offset points", ha="center",
                        va="bottom", fontsize="medium", fontweight="bold", color="0.15", zorder=4,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"), gid=f"{metric} zero")
        if math.isfinite(lo) and math.isfinite(hi):
            any_ci = True
            y = max(v, bottom)
            ax.errorbar([x], [y], yerr=[[max(y - max(lo, bottom), 0.0)], [max(hi - y, 0.0)]], fmt="none",
                        ecolor="0.15", elinewidth=1.1, capsize=4, gid=f"{metric} interval", zorder=3)
    for x, y, metric in thin:
        ax.annotate("*", xy=(x, y), xytext=(0, 1), textcoords="offset points", ha="center", va="bottom",
                    fontsize="medium", fontweight="bold", color="0.15", gid=f"{metric} rule of 30")
    handles: list[Any] = [Patch(facecolor="0.45", edgecolor="0.45", label="FNIR (solid)"),
                          Patch(facecolor="white", edgecolor="0.45", hatch="////", label="FPIR (hatched)")]
    if pooled:
        for metric, ls in (("fnir", "--"), ("fpir", ":")):
            pv = _value(result.overall, metric)
            if math.isfinite(pv) and pv > 0:
                ax.axhline(pv, color=POOLED_COLOR, ls=ls, lw=1.1, zorder=2.5, label=POOLED, gid=f"pooled {metric}")
                handles.append(Line2D([], [], color=POOLED_COLOR, ls=ls, lw=1.1,
                                      label=f"{POOLED_LABEL} {RATE_NAMES[metric]} = {pv:.3g}"))
    if any_ci:
        ci = result.params.get("ci") if isinstance(result.params, dict) else None
        text = f"{ci:.0%} confidence interval" if isinstance(ci, numbers.Real) else "confidence interval"
        handles.append(Line2D([], [], color="0.15", lw=1.1, marker="_", ms=8, label=text))
    if thin:
        handles.append(Line2D([], [], ls="none", marker="$*$", ms=7, color="0.15",
                              label="* fewer than 30 errors (rule of 30)"))
    ax.set_yscale("log")
    ax.set_ylim(bottom, top)
    _log_ticks(ax.yaxis)
    ax.set_xticks(np.arange(len(labels)), labels=[literal(shown(x)) for x in labels])
    _rotate_ticks(ax, labels)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylabel("Error rate, log scale")
    ax.set_xlabel("group of the probe" if len(result.by) != 1 else literal(f"{result.by[0]} of the probe"))
    ax.set_title(f"FNIR ({_rank_text(result)}) and FPIR per group at threshold {result.threshold:.4g}")
    ax.grid(True, axis="y", which="major", alpha=0.3)
    ax.set_axisbelow(True)
    if legend:
        _legend_right(ax, handles)
    notes = [f"No {RATE_NAMES[m]} for {_names(v)}: no {'mated' if m == 'fnir' else 'non-mated'} search "
             "in the group." for m, v in undefined.items() if v]
    if notes:
        _note(ax, "\n".join(notes))
    return ax

