"""Score distributions of a verification result: the genuine and impostor histograms of one group
(:func:`score_histograms`) and a grid of them (:func:`histogram_grid`)."""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.common import errors
from fairaudit.common.figures import literal
from fairaudit.data import POOLED
from fairaudit.verification.plot_style import (
    shown,
    GENUINE_LABEL,
    IMPOSTOR_COLOR,
    IMPOSTOR_LABEL,
    POOLED_LABEL,
    SCORE_LABEL,
    _axes,
    _check_group,
    _colors,
    _note,
    _score_range,
    _select,
    _threshold_handle,
    _threshold_line,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# --- message templates (errors.py conventions: argument, expectation, what came, fix)
BAD_NCOLS = "ncols={value!r} must be a positive integer. Fix: pass e.g. ncols=3."


# --------------------------------------------------------------------------
# score distributions
def score_histograms(result: Any, *, group: Any, ax: "Axes | None" = None, density: bool = True,
                     log: bool = False, legend: bool = True) -> "Axes":
    """Genuine and impostor score histograms of one group, with the threshold.

    Genuine (mated) comparisons are filled in the group's colour, impostor
    (non-mated) ones in grey with a dark outline.

    Parameters
    ----------
    result : VerificationResult
    group : str
        One group label, or ``"all"`` for the pooled population.
    ax : matplotlib Axes, optional
    density : bool
        Scale each histogram to unit area (default), so that the few genuine
        comparisons are visible next to the many impostor ones; otherwise counts.
    log : bool
        Log-scaled y axis.
    legend : bool

    Returns
    -------
    matplotlib Axes
    """
    label = _check_group(result, group, name="group", allow_pooled=True)
    ax = _axes(ax, (6.5, 4.0))
    color = _colors(result)[label]
    h = result.histograms
    h = h[h["group"].astype(str) == label]
    empty = []
    styles = {
        "impostor": dict(fill=True, facecolor=(0.6, 0.6, 0.6, 0.35), edgecolor=IMPOSTOR_COLOR, lw=1.2),
        "genuine": dict(fill=True, facecolor=_with_alpha(color, 0.45), edgecolor=color, lw=1.2),
    }
    for kind in ("impostor", "genuine"):
        part = h[h["kind"] == kind].sort_values("bin_left")
        counts = part["count"].to_numpy(dtype=float)
        if counts.size == 0 or counts.sum() == 0:
            empty.append(kind)
            continue
        edges = np.r_[part["bin_left"].to_numpy(dtype=float), float(part["bin_right"].iloc[-1])]
        values = counts / (counts.sum() * np.diff(edges)) if density else counts
        if log:
            values = np.where(values > 0, values, np.nan)
        ax.stairs(values, edges, label=label, gid=kind, **styles[kind])
    _threshold_line(ax, result)
    span = _score_range(result)
    if span is not None:
        ax.set_xlim(*span)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel(SCORE_LABEL)
    ax.set_ylabel("Density" if density else "Number of comparisons")
    ax.set_title(f"Comparison scores: {POOLED_LABEL if label == POOLED else literal(shown(label))}")
    if legend:
        from matplotlib.patches import Patch

        handles = [Patch(label=GENUINE_LABEL, **styles["genuine"]),
                   Patch(label=IMPOSTOR_LABEL, **styles["impostor"]), _threshold_handle(result)]
        ax.legend(handles=handles, loc="upper left", fontsize="small")
    if empty:
        _note(ax, f"No {' or '.join(empty)} comparisons in this group.")
    return ax


def _with_alpha(color: str, alpha: float) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(color, alpha)


def histogram_grid(result: Any, *, groups: Any = None, ncols: int = 3, density: bool = True,
                   log: bool = False) -> "Figure":
    """One score histogram subplot per group, in a new figure.

    Unlike the other functions this draws several axes and therefore returns
    the :class:`matplotlib.figure.Figure` (its ``axes`` are the subplots, in the
    order of the groups).

    Parameters
    ----------
    result : VerificationResult
    groups : list of str, optional
        Group labels to show (default: every group; ``"all"`` adds the pooled
        population).
    ncols : int
        Subplots per row.
    density, log : bool
        As in :func:`score_histograms`.

    Returns
    -------
    matplotlib Figure
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1:
        raise errors.FairauditInputError(BAD_NCOLS.format(value=ncols))
    labels = _select(result, groups, allow_pooled=True)
    n = len(labels)
    ncols = min(int(ncols), n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(3.6 * ncols + 0.4, 2.7 * nrows + 0.9), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, label in enumerate(labels):
        a = axes[i // ncols, i % ncols]
        score_histograms(result, group=label, ax=a, density=density, log=log, legend=False)
        a.set_title(POOLED_LABEL if label == POOLED else literal(shown(label)))
        if i + ncols < n:  # another subplot below: its x label suffices
            a.set_xlabel("")
        if i % ncols:
            a.set_ylabel("")
    for j in range(n, nrows * ncols):
        fig.delaxes(axes[j // ncols, j % ncols])
    grey = dict(facecolor=(0.6, 0.6, 0.6, 0.35), edgecolor=IMPOSTOR_COLOR)
    handles = [Patch(facecolor=(0.6, 0.6, 0.6, 0.0), edgecolor="0.1", hatch=None,
                     label=GENUINE_LABEL + " (group colour)"),
               Patch(label=IMPOSTOR_LABEL, **grey), _threshold_handle(result)]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small", frameon=False)
    fig.suptitle("Comparison score distributions per group")
    return fig

