"""Figures across groups of a verification result: the group x group FMR heatmap
(:func:`cross_fmr`), one per-group figure with its interval (:func:`by_group`) and the fairness
figures (:func:`fairness`)."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.figures import literal
from fairaudit.data import POOLED
from fairaudit.verification.policy import short_policy
from fairaudit.verification.plot_style import (
    shown,
    FMR_LABEL,
    FNMR_LABEL,
    POOLED_COLOR,
    POOLED_LABEL,
    _axes,
    _colors,
    _line_handle,
    _note,
    _rotate_ticks,
    _select,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

# --- message templates (errors.py conventions: argument, expectation, what came, fix)
UNKNOWN_METRIC = (
    "metric={value!r} is not a per-group figure that can be plotted; available: "
    "{available}. Fix: pass one of them."
)
#: axis labels of the per-group figures :func:`by_group` can draw
METRIC_LABELS = {
    "fmr": FMR_LABEL,
    "fnmr": FNMR_LABEL,
    "eer": "EER (equal error rate)",
    "auc": "AUC (area under the ROC curve)",
    "fnmr_at_fmr_1e-02": "FNMR at FMR = 1e-2",
    "fnmr_at_fmr_1e-03": "FNMR at FMR = 1e-3",
    "fnmr_at_fmr_1e-04": "FNMR at FMR = 1e-4",
}
#: figures whose value depends on the global threshold
_AT_THRESHOLD = {"fmr", "fnmr"}

#: readable names of the fairness figures
FAIRNESS_NAMES = {
    "fdr": "FDR (fairness discrepancy rate)",
    "garbe": "GARBE (Gini aggregate rate)",
    "inequity": "Inequity rate",
    "fmr_max_min": "FMR max/min",
    "fnmr_max_min": "FNMR max/min",
    "eer_max_min": "EER max/min",
    "fmr_sd": "FMR standard deviation",
    "fnmr_sd": "FNMR standard deviation",
    "eer_sd": "EER standard deviation",
    "fmr_max_geomean": "FMR max/geometric mean",
    "fnmr_max_geomean": "FNMR max/geometric mean",
    # the same figures over the 1:N rates of an identification audit
    "fpir_max_min": "FPIR max/min",
    "fnir_max_min": "FNIR max/min",
    "fpir_sd": "FPIR standard deviation",
    "fnir_sd": "FNIR standard deviation",
    "fpir_max_geomean": "FPIR max/geometric mean",
    "fnir_max_geomean": "FNIR max/geometric mean",
}
#: value of each fairness figure for a perfectly fair system
FAIR_VALUE = {"fdr": 1.0, "garbe": 0.0, "inequity": 1.0, "fmr_max_min": 1.0, "fnmr_max_min": 1.0,
              "fpir_max_min": 1.0, "fnir_max_min": 1.0, "eer_max_min": 1.0,
              "fmr_sd": 0.0, "fnmr_sd": 0.0, "eer_sd": 0.0, "fpir_sd": 0.0, "fnir_sd": 0.0,
              "fmr_max_geomean": 1.0, "fnmr_max_geomean": 1.0, "fpir_max_geomean": 1.0,
              "fnir_max_geomean": 1.0}


# --------------------------------------------------------------------------
# group x group
def cross_fmr(result: Any, *, ax: "Axes | None" = None, annotate: bool = True,
              cmap: str = "viridis") -> "Axes":
    """Heatmap of the group x group impostor FMR at the threshold (``result.cross_fmr``).

    Colours follow a log scale; cells with FMR = 0 (no false match) or without
    impostor comparisons cannot be placed on it and are drawn light grey,
    annotated ``0`` and ``n/a``. A colour bar is added to the axes' figure.

    Parameters
    ----------
    result : VerificationResult
    ax : matplotlib Axes, optional
    annotate : bool
        Write the FMR into every cell.
    cmap : str
        A sequential matplotlib colormap (default ``viridis``, colour-blind safe).

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib
    from matplotlib.colors import LogNorm

    table = result.cross_fmr
    values = table.to_numpy(dtype=float)
    rows = [str(x) for x in table.index]
    cols = [str(x) for x in table.columns]
    g = max(len(rows), len(cols))
    side = min(4.0 + 0.6 * g, 14.0)
    ax = _axes(ax, (side + 1.4, side))
    positive = np.isfinite(values) & (values > 0)
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.88")
    if positive.any():
        vmin, vmax = float(values[positive].min()), float(values[positive].max())
        if vmin == vmax:
            vmin, vmax = vmin / 3.0, vmax * 3.0
        norm = LogNorm(vmin=vmin, vmax=vmax)
    else:
        norm = LogNorm(vmin=1e-6, vmax=1.0)
    masked = np.ma.masked_where(~positive, values)
    image = ax.imshow(masked, cmap=colormap, norm=norm, aspect="equal", interpolation="nearest")
    image.set_gid("cross_fmr")
    ax.set_xticks(np.arange(len(cols)), labels=[literal(shown(c)) for c in cols])
    ax.set_yticks(np.arange(len(rows)), labels=[literal(shown(r)) for r in rows])
    _rotate_ticks(ax, cols, over=3, angle=40)
    ax.tick_params(length=0)
    if annotate:
        size = max(6.0, 11.0 - 0.4 * g)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                v = values[i, j]
                if positive[i, j]:
                    r, gr, b, _ = colormap(norm(v))
                    dark = 0.2126 * r + 0.7152 * gr + 0.0722 * b < 0.5
                    text, color = f"{v:.2g}", ("white" if dark else "black")
                else:
                    text, color = ("0" if v == 0 else "n/a"), "0.2"
                ax.text(j, i, text, ha="center", va="center", fontsize=size, color=color, gid="value")
    figure = ax.figure
    bar = figure.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label(FMR_LABEL + ", log scale")
    ax.set_xlabel("group")
    ax.set_ylabel("group")
    ax.set_title(f"Cross-group FMR {literal(short_policy(result.policy, result.threshold))}")
    notes = []
    if (values == 0).any():
        notes.append("grey '0': no false match")
    if (~np.isfinite(values)).any():
        notes.append("grey 'n/a': no impostor comparisons")
    if notes:
        _note(ax, "Cells " + "; ".join(notes) + " (off the log colour scale).")
    return ax


# --------------------------------------------------------------------------
# per-group figures
def by_group(result: Any, *, metric: str = "fnmr", ax: "Axes | None" = None, groups: Any = None,
             pooled: bool = True, log: bool = False) -> "Axes":
    """Bar chart of one per-group figure, with its confidence interval as error bars.

    Error bars are drawn where ``<metric>_ci_low`` / ``<metric>_ci_high`` are
    finite (FMR, FNMR and EER after a bootstrap).

    Parameters
    ----------
    result : VerificationResult
    metric : str
        ``"fmr"``, ``"fnmr"``, ``"eer"``, ``"auc"`` or ``"fnmr_at_fmr_1e-02"``
        (and ``1e-03``, ``1e-04``).
    ax : matplotlib Axes, optional
    groups : list of str, optional
        Group labels to show (default: every group).
    pooled : bool
        Draw the pooled value as a black dashed line.
    log : bool
        Log-scaled y axis.

    Returns
    -------
    matplotlib Axes
    """
    bg = result.by_group
    available = [m for m in METRIC_LABELS if m in bg.columns]
    if metric not in available:
        raise errors.FairauditInputError(UNKNOWN_METRIC.format(value=metric, available=available))
    labels = _select(result, groups)
    ax = _axes(ax, (max(4.5, 1.0 + 0.8 * len(labels)), 4.0))
    colors = _colors(result)
    label_col = bg["label"].astype(str)
    low_col, high_col = f"{metric}_ci_low", f"{metric}_ci_high"
    any_ci, missing = False, []
    for i, label in enumerate(labels):
        row = bg[label_col == label].iloc[0]
        v = float(row[metric])
        if not math.isfinite(v):
            missing.append(label)
            ax.text(i, 0, "n/a", ha="center", va="bottom", color="0.3", fontsize="small", gid="n/a")
            continue
        lo = float(row[low_col]) if low_col in bg.columns else math.nan
        hi = float(row[high_col]) if high_col in bg.columns else math.nan
        yerr = None
        if math.isfinite(lo) and math.isfinite(hi):
            yerr = [[max(v - lo, 0.0)], [max(hi - v, 0.0)]]
            any_ci = True
        ax.bar([i], [v], width=0.7, color=colors[label], label=label, gid=metric, yerr=yerr,
               capsize=5, error_kw=dict(ecolor="0.15", elinewidth=1.2))
    handles = []
    if pooled and metric in result.overall.index:
        pv = float(result.overall[metric])
        if math.isfinite(pv):
            ax.axhline(pv, color=POOLED_COLOR, ls="--", lw=1.2, label=POOLED, gid="pooled", zorder=3)
            handles.append(_line_handle(f"{POOLED_LABEL} = {pv:.3g}", POOLED_COLOR, lw=1.2, ls="--"))
    if any_ci:
        from matplotlib.lines import Line2D

        ci = result.params.get("ci") if isinstance(result.params, dict) else None
        text = f"{ci:.0%} confidence interval" if isinstance(ci, numbers.Real) else "confidence interval"
        handles.append(Line2D([], [], color="0.15", lw=1.2, marker="_", ms=10, label=text))
    ax.set_xticks(np.arange(len(labels)), labels=[literal(shown(x)) for x in labels])
    _rotate_ticks(ax, labels)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
        ax.margins(y=0.12)
    ax.set_ylabel(METRIC_LABELS[metric])
    ax.set_xlabel("group" if len(result.by) != 1 else literal(result.by[0]))
    short = METRIC_LABELS[metric].split(" (")[0]
    where = f" {literal(short_policy(result.policy, result.threshold))}" if metric in _AT_THRESHOLD else ""
    # the policy phrase goes on a second line: one line would run past the axes' left edge
    ax.set_title(f"{short} per group" + (f"\n{where.strip()}" if where else ""))
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                  fontsize="small")
    if missing:
        _note(ax, f"n/a: {short} not defined for {', '.join(map(repr, missing))} (see result.notes).")
    return ax


def fairness(result: Any, *, ax: "Axes | None" = None, log: bool = False) -> "Axes":
    """Horizontal bars of the defined fairness figures with their confidence intervals.

    A black tick on every bar marks the value of a perfectly fair system
    (1 for FDR and the ratios, 0 for GARBE). Figures that are not defined
    (e.g. a ratio with a zero rate) are listed with the reason under the axes.

    Parameters
    ----------
    result : VerificationResult
    ax : matplotlib Axes, optional
    log : bool
        Log-scaled x axis (useful when a max/min ratio is large).

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.lines import Line2D

    table = result.fairness
    ax = _axes(ax, (8.5, 4.4))
    shown, undefined = [], []
    for name, row in table.iterrows():
        value = float(row["value"]) if pd.notna(row.get("value")) else math.nan
        defined = bool(row.get("defined", True)) and math.isfinite(value)
        if defined:
            shown.append((str(name), row, value))
        else:
            reason = row.get("reason")
            reason = str(reason) if isinstance(reason, str) and reason else "undefined"
            undefined.append(f"{FAIRNESS_NAMES.get(str(name), str(name))}: {reason}")
    right = 0.0
    any_ci = False
    for y, (name, row, value) in enumerate(shown):
        lo = float(row["ci_low"]) if "ci_low" in row.index and pd.notna(row["ci_low"]) else math.nan
        hi = float(row["ci_high"]) if "ci_high" in row.index and pd.notna(row["ci_high"]) else math.nan
        xerr = None
        if math.isfinite(lo) and math.isfinite(hi):
            xerr = [[max(value - lo, 0.0)], [max(hi - value, 0.0)]]
            any_ci = True
        ax.barh([y], [value], height=0.6, color="#9DB9D3", edgecolor="#3B6A93", label=name, gid=name,
                xerr=xerr, capsize=4, error_kw=dict(ecolor="0.15", elinewidth=1.2))
        if name in FAIR_VALUE:
            ax.plot([FAIR_VALUE[name]], [y], ls="none", marker="|", ms=20, mew=2.5, color="black",
                    zorder=4, label="perfectly fair", gid="fair value")
        end = max(value, hi) if math.isfinite(hi) else value
        right = max(right, end, FAIR_VALUE.get(name, 0.0))
        ax.annotate(f"{value:.3g}", xy=(end, y), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize="small", gid="value")
    if shown:
        ticks = []
        for name, row, _ in shown:
            direction = row.get("direction") if "direction" in row.index else None
            text = FAIRNESS_NAMES.get(name, name)
            ticks.append(f"{text}\n({direction})" if isinstance(direction, str) and direction else text)
        ax.set_yticks(np.arange(len(shown)), labels=[literal(t) for t in ticks], fontsize="small")
        ax.set_ylim(len(shown) - 0.5, -0.5)  # first figure on top
        if log:
            ax.set_xscale("log")
            ax.set_xlim(right=right * 2.0)
        else:
            ax.set_xlim(0, right * 1.18 if right > 0 else 1.0)
    else:
        ax.set_yticks([])
        ax.text(0.5, 0.5, "No fairness figure is defined.", transform=ax.transAxes, ha="center",
                va="center", color="0.3")
    alpha = result.params.get("alpha") if isinstance(result.params, dict) else None
    ax.set_xlabel("Value of the fairness figure")
    title = f"Fairness figures {literal(short_policy(result.policy, result.threshold))}"
    if isinstance(alpha, numbers.Real):
        title += f" (alpha = {alpha:g})"
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    if shown:
        handles = [Line2D([], [], ls="none", marker="|", ms=12, mew=2.5, color="black", label="perfectly fair")]
        if any_ci:
            ci = result.params.get("ci") if isinstance(result.params, dict) else None
            text = f"{ci:.0%} confidence interval" if isinstance(ci, numbers.Real) else "confidence interval"
            handles.append(Line2D([], [], color="0.15", lw=1.2, marker="|", ms=8, label=text))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                  fontsize="small")
    if undefined:
        _note(ax, "Not defined -- " + "\n".join(undefined), width=90)
    return ax



#: fairness figures that are ratios (>= 1, 1 is fair): drawn on a log axis by :func:`fairness_panels`
RATIO_FIGURES = {"inequity", "fmr_max_min", "fnmr_max_min", "fpir_max_min", "fnir_max_min", "eer_max_min",
                 "fmr_max_geomean", "fnmr_max_geomean", "fpir_max_geomean", "fnir_max_geomean"}


def fairness_panels(result: Any, *, fig: Any = None, ncols: int = 3) -> Any:
    """One small panel per fairness figure: its value, confidence interval and perfectly fair value.

    Figures on different scales never share an axis: FDR, GARBE and the standard deviations of the
    group rates (bounded in [0, 1]) are drawn on a linear axis from 0 to 1, the ratios (inequity,
    max/min and max/geometric mean; 1 is fair, :data:`RATIO_FIGURES`) on a log axis.
    Figures that are not defined get a panel that says why.

    Parameters
    ----------
    result : VerificationResult
    fig : matplotlib Figure, optional
        Draw into it (it should be empty); default a new figure (not registered with pyplot).
    ncols : int, default 3
        Panels per row.

    Returns
    -------
    matplotlib Figure
    """
    import textwrap

    from matplotlib.figure import Figure

    table = result.fairness
    names = [str(n) for n in table.index]
    ncols = max(1, min(int(ncols), len(names) or 1))
    nrows = max(1, math.ceil(len(names) / ncols))
    if fig is None:
        fig = Figure(figsize=(3.3 * ncols, 1.75 * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        row = table.loc[name]
        value = float(row["value"]) if pd.notna(row.get("value")) else math.nan
        defined = bool(row.get("defined", True)) and math.isfinite(value)
        ax.set_yticks([])
        ax.set_title(literal(FAIRNESS_NAMES.get(name, name)), fontsize="medium")
        fair = FAIR_VALUE.get(name)
        if not defined:
            reason = row.get("reason")
            reason = str(reason) if isinstance(reason, str) and reason else "undefined"
            ax.set_xticks([])
            ax.text(0.5, 0.5, literal("not defined:\n" + textwrap.fill(reason, 34)), transform=ax.transAxes,
                    ha="center", va="center", fontsize="small", color="0.3", gid="undefined")
            continue
        lo = float(row["ci_low"]) if pd.notna(row.get("ci_low")) else math.nan
        hi = float(row["ci_high"]) if pd.notna(row.get("ci_high")) else math.nan
        xerr = None
        if math.isfinite(lo) and math.isfinite(hi):
            xerr = [[max(value - lo, 0.0)], [max(hi - value, 0.0)]]
        if fair is not None:
            ax.axvline(fair, color="black", lw=2.0, gid="fair value")
        ax.errorbar([value], [0], xerr=xerr, fmt="o", ms=7, color="#3B6A93", ecolor="0.15", capsize=5,
                    elinewidth=1.3, gid=name, label=name)
        ax.annotate(f"{value:.3g}", xy=(value, 0), xytext=(0, 9), textcoords="offset points", ha="center",
                    fontsize="small", gid="value")
        ax.set_ylim(-1, 1)
        if name in RATIO_FIGURES:
            top = max(value, hi if math.isfinite(hi) else value, 1.0)
            ax.set_xscale("log")
            ax.set_xlim(0.8, max(top * 1.6, 2.0))
            ax.set_xlabel("ratio, log scale (1 = fair)", fontsize="small")
        else:
            ax.set_xlim(-0.02, 1.02)
            ax.set_xlabel(f"value ({_g(fair)} = fair)" if fair is not None else "value", fontsize="small")
        ax.tick_params(axis="x", labelsize="small")
        ax.grid(True, axis="x", alpha=0.3)
    for ax in axes[len(names):]:
        fig.delaxes(ax)
    title = f"Fairness figures {literal(short_policy(result.policy, result.threshold))}"
    ci = result.params.get("ci") if isinstance(result.params, dict) else None
    if isinstance(ci, numbers.Real):
        title += f"; bars: {ci:.0%} confidence intervals; black line: perfectly fair"
    fig.suptitle(title, fontsize="medium")
    return fig


def _g(value: Any) -> str:
    return f"{value:g}" if isinstance(value, numbers.Real) else str(value)
