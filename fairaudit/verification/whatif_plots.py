"""The figure of a mitigation what-if: :func:`before_after` (per-group FMR and FNMR before and after,
with intervals). The result and its summary live in :mod:`.whatif_result` (re-exported here).
matplotlib is imported inside the figure function only."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.common import errors
from fairaudit.common.figures import literal
from fairaudit.verification.plot_style import (EMPTY_GROUPS, FMR_LABEL, FNMR_LABEL, THRESHOLD_COLOR,
                                               UNKNOWN_GROUP, _log_ticks, _note, _rotate_ticks, group_colors,
                                               shown)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.figure import Figure

#: a rate axis turns logarithmic when its positive values span more than this factor
LOG_SPAN = 30.0
#: (offset on the x axis, marker filled) of each stage
STAGES = {"before": (-0.17, False), "after": (0.17, True)}
NOT_A_WHAT_IF = ("result must be a WhatIfResult (from fairaudit.verification_what_if); got {type}. "
                 "Fix: pass the what-if's result.")


from fairaudit.verification.whatif_result import (  # noqa: E402,F401 - the result, importable from here
    WhatIfResult, _ci, _stage, _threshold, what_if_summary)

def _labels(result: Any, groups: Any) -> list[str]:
    labels = [str(x) for x in _stage(result, "before")["label"]]
    if groups is None:
        return labels
    items = [groups] if isinstance(groups, str) else list(groups)
    if not items:
        raise errors.FairauditInputError(EMPTY_GROUPS.format(value=groups, example=labels[:2]))
    for item in items:
        if item not in labels:
            raise errors.FairauditInputError(UNKNOWN_GROUP.format(name="groups", value=item, available=labels))
    return list(dict.fromkeys(items))


def before_after(result: Any, *, fig: "Figure | None" = None, groups: Any = None, log: bool | None = None) -> "Figure":
    """Per-group FMR (left) and FNMR (right) on the evaluation identities, before (hollow markers: one
    global threshold) and after the what-if (filled), with their confidence intervals; a dashed line
    marks the target on the panel of the targeted rate.

    Parameters
    ----------
    result : WhatIfResult
    fig : matplotlib Figure, optional
        Draw into it (it should be empty); default a new figure (not registered with pyplot).
    groups : list of str, optional
        Group labels to show (default: every group).
    log : bool or None
        Log-scaled rate axes; None: each axis whose positive values span more than a factor of 30.
        A rate of 0 cannot sit on a log axis: it is written ``0`` at the bottom.

    Returns
    -------
    matplotlib Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if not hasattr(result, "by_group") or getattr(result, "kind", None) != "verification_what_if":
        raise errors.FairauditInputError(NOT_A_WHAT_IF.format(type=type(result).__name__))
    labels = _labels(result, groups)
    frames = {stage: _stage(result, stage) for stage in STAGES}
    colors = group_colors(_stage(result, "before")["label"])
    if fig is None:
        fig = Figure(figsize=(max(8.0, 3.0 + 1.5 * len(labels)), 4.6), layout="constrained")
    axes = fig.subplots(1, 2, squeeze=True)
    target = result.target
    for ax, metric, name in zip(axes, ("fmr", "fnmr"), (FMR_LABEL, FNMR_LABEL)):
        values = np.array([frames[s].loc[lb, c] for s in STAGES for lb in labels
                           for c in (metric, f"{metric}_ci_low", f"{metric}_ci_high")], dtype=float)
        if metric == target["metric"]:
            values = np.r_[values, target["value"]]
        positive = values[np.isfinite(values) & (values > 0)]
        use_log = bool(log) if log is not None else (positive.size > 0 and positive.max() / positive.min() > LOG_SPAN)
        floor = positive.min() / 3.0 if positive.size else 1e-6
        zeros = []
        for i, label in enumerate(labels):
            for stage, (dx, filled) in STAGES.items():
                row = frames[stage].loc[label]
                v, lo, hi = (float(row[c]) for c in (metric, f"{metric}_ci_low", f"{metric}_ci_high"))
                if not math.isfinite(v):
                    ax.text(i + dx, 0.02, "n/a", transform=ax.get_xaxis_transform(), ha="center", fontsize="small",
                            color="0.3", gid="n/a")
                    continue
                if use_log and v <= 0:
                    zeros.append(f"{shown(label)} ({stage})")
                    ax.text(i + dx, 0.02, "0", transform=ax.get_xaxis_transform(), ha="center", fontsize="small",
                            color=colors[label], gid="zero")
                    continue
                yerr = None
                if math.isfinite(lo) and math.isfinite(hi):
                    low = max(lo, floor) if use_log else lo
                    yerr = [[max(v - low, 0.0)], [max(hi - v, 0.0)]]
                ax.errorbar([i + dx], [v], yerr=yerr, fmt="o", ms=7, color=colors[label], ecolor=colors[label],
                            mfc=colors[label] if filled else "white", mew=1.6, capsize=4, elinewidth=1.3,
                            label=label, gid=f"{metric} {stage}")
        if metric == target["metric"]:
            ax.axhline(target["value"], color=THRESHOLD_COLOR, ls="--", lw=1.2, gid="target")
        ax.set_xticks(np.arange(len(labels)), labels=[literal(shown(x)) for x in labels])
        _rotate_ticks(ax, labels)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        if use_log:
            ax.set_yscale("log")
            ax.set_ylim(bottom=floor)
            _log_ticks(ax.yaxis)
        else:
            ax.set_ylim(bottom=0)
            ax.margins(y=0.12)
        ax.set_ylabel(name + (", log scale" if use_log else ""))
        ax.set_xlabel("group" if len(result.by) != 1 else literal(result.by[0]))
        ax.set_title(f"{name.split(' (')[0]} per group, evaluation identities")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        if zeros:
            _note(ax, "0 at the bottom: no error, off the log scale: " + ", ".join(zeros), width=60)
    handles = [Line2D([], [], ls="none", marker="o", mfc="white", mec="0.2", mew=1.6, color="0.2",
                      label="before: one global threshold"),
               Line2D([], [], ls="none", marker="o", color="0.2", label=f"after: {result.method}"),
               Line2D([], [], color=THRESHOLD_COLOR, ls="--", lw=1.2,
                      label=f"target {target['metric'].upper()} = {target['value']:g} (on development)")]
    if int(result.params.get("n_boot", 0)):
        handles.append(Line2D([], [], color="0.2", lw=1.3, marker="_", ms=10,
                              label=f"{float(result.params.get('ci', 0.95)):.0%} confidence interval"))
    axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
                   fontsize="small")
    fig.suptitle(literal(f"Mitigation what-if '{result.method}' by {' x '.join(result.by)}: fitted on development "
                         "identities, shown on held-out ones"), fontsize="medium")
    return fig
