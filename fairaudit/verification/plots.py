"""Figures of a verification audit (:class:`~fairaudit.verification.VerificationResult`).

Every function takes the result first and keyword-only options, draws into
``ax`` when given (otherwise into a new figure) and returns the
:class:`matplotlib.axes.Axes` it drew into -- except :func:`histogram_grid`,
which returns a :class:`matplotlib.figure.Figure` because it draws several
axes. Nothing here calls ``plt.show()``, touches ``rcParams`` or registers
figures with pyplot: new figures are plain :class:`matplotlib.figure.Figure`
objects (constrained layout), so the functions work headless without choosing
a backend and a figure is freed as soon as it is no longer referenced. Show
one in a notebook by leaving it as the last expression of a cell
(``plot.det(result).figure``) or save it with ``fig.savefig(...)``,
:func:`save_all` or :func:`to_data_uri`. matplotlib is imported only inside the
functions, so ``import fairaudit.plot`` is cheap.

Conventions shared by all figures:

* A group keeps its colour in every figure (:func:`group_colors`, the
  colour-blind-safe Okabe-Ito palette); the pooled population (``"all"``) is
  black, dashed where line styles do not carry another meaning.
* Vocabulary of ISO/IEC 19795-1: FMR (false match rate), FNMR (false non-match
  rate), genuine (mated) and impostor (non-mated) comparisons.
* A dotted vertical line marks ``result.threshold`` where the x axis is a score.
* Every artist drawn for a group carries the group's label as its ``label``
  and its role as its ``gid`` (``"fmr"``, ``"fnmr"``, ``"curve"``,
  ``"operating point"``, ``"genuine"``, ``"impostor"``, ``"threshold"``, ...),
  so that figures can be restyled or inspected programmatically. Legends are
  built from separate proxy artists.
* ``groups=`` restricts a figure to some group labels (as in
  ``result.by_group["label"]``; a tuple of attribute values is joined with
  ``" & "``). An unknown label raises :class:`~fairaudit.FairauditInputError`
  listing the available ones.
"""

from __future__ import annotations

import base64
import io
import math
import numbers
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.figures import (  # noqa: F401 - public through fairaudit.plot
    DPI,
    NOT_A_FIGURE,
    UNKNOWN_FORMAT,
    _check_format,
    _root_figure,
    literal,
    safe_filename,
    to_data_uri,
)
from fairaudit.data import POOLED

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# --- message templates (errors.py conventions: argument, expectation, what came, fix)
UNKNOWN_GROUP = (
    "{name}={value!r} is not a group of this result; available groups: {available}. "
    "Fix: pass one of them (the labels of result.by_group['label'])."
)
EMPTY_GROUPS = (
    "groups={value!r} names no group. Fix: pass None (every group) or a list of labels "
    "such as {example!r}."
)
UNKNOWN_METRIC = (
    "metric={value!r} is not a per-group figure that can be plotted; available: "
    "{available}. Fix: pass one of them."
)
UNKNOWN_SCALE = (
    "scale={value!r} is not a DET axis scale; expected 'log' (log-log axes) or 'normal' "
    "(normal deviate axes). Fix: pass one of them."
)
NORMAL_SCALE_NEEDS_SCIPY = (
    "scale='normal' draws the DET curve on normal deviate axes, which needs "
    "scipy.stats.norm.ppf, but scipy is not installed. Fix: pip install scipy, or pass "
    "scale='log'."
)
BAD_NCOLS = "ncols={value!r} must be a positive integer. Fix: pass e.g. ncols=3."
NOT_AXES = (
    "ax must be a matplotlib Axes or None; got {type}. Fix: pass e.g. fig.add_subplot() "
    "or leave ax=None for a new figure."
)
# --- vocabulary (ISO/IEC 19795-1)
FMR_LABEL = "FMR (false match rate)"
FNMR_LABEL = "FNMR (false non-match rate)"
TMR_LABEL = "1 \u2212 FNMR (true match rate)"
THRESHOLD_LABEL = "Threshold (comparison score)"
SCORE_LABEL = "Comparison score"
GENUINE_LABEL = "genuine (mated) comparisons"
IMPOSTOR_LABEL = "impostor (non-mated) comparisons"
POOLED_LABEL = f"{POOLED} (pooled)"

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
}
#: value of each fairness figure for a perfectly fair system
FAIR_VALUE = {"fdr": 1.0, "garbe": 0.0, "inequity": 1.0, "fmr_max_min": 1.0, "fnmr_max_min": 1.0}

#: Okabe & Ito (2008) colour-blind-safe palette, black left out (it marks the pooled population)
OKABE_ITO = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442")
#: Paul Tol's colour-blind-safe "muted" palette, used for 8 or 9 groups
TOL_MUTED = ("#332288", "#88ccee", "#44aa99", "#117733", "#999933", "#ddcc77", "#cc6677",
             "#882255", "#aa4499")
#: colour of the pooled population in every figure
POOLED_COLOR = "#000000"
THRESHOLD_COLOR = "0.3"
IMPOSTOR_COLOR = "0.35"



# --------------------------------------------------------------------------
# colours and group selection
def group_colors(labels: Iterable[Any]) -> dict[str, str]:
    """A colour (hex string) for every label, in order; ``"all"`` (pooled) is black.

    Up to 7 groups get the Okabe-Ito palette and 8 or 9 Paul Tol's "muted"
    palette, both safe for colour-blind readers; more groups get matplotlib's
    ``tab20`` and then evenly spaced ``turbo`` colours, which are not (the
    labels then carry the identity). The plot functions call this with every
    group of the result, so that a group's colour does not depend on which
    groups a figure shows.
    """
    unique: list[str] = []
    for label in labels:
        text = str(label)
        if text != POOLED and text not in unique:
            unique.append(text)
    n = len(unique)
    if n <= len(OKABE_ITO):
        palette: Sequence[str] = OKABE_ITO
    elif n <= len(TOL_MUTED):
        palette = TOL_MUTED
    else:
        import matplotlib
        from matplotlib.colors import to_hex

        cmap = matplotlib.colormaps["tab20" if n <= 20 else "turbo"]
        palette = [to_hex(cmap(i if n <= 20 else i / max(n - 1, 1))) for i in range(n)]
    colors = {label: palette[i] for i, label in enumerate(unique)}
    colors[POOLED] = POOLED_COLOR
    return colors


def _labels(result: Any) -> list[str]:
    return [str(x) for x in result.by_group["label"]]


def _colors(result: Any) -> dict[str, str]:
    return group_colors(_labels(result))


def _as_label(result: Any, value: Any) -> str:
    """The label of a group given by its label or by its value (a tuple for intersections)."""
    labels = _labels(result)
    if isinstance(value, str) and value in labels:
        return value
    keys = list(result.by_group.index)
    if value in keys:
        return labels[keys.index(value)]
    return value if isinstance(value, str) else repr(value)


def _check_group(result: Any, value: Any, *, name: str, allow_pooled: bool) -> str:
    available = _labels(result) + ([POOLED] if allow_pooled else [])
    label = POOLED if (allow_pooled and value == POOLED) else _as_label(result, value)
    if label not in available:
        raise errors.FairauditInputError(UNKNOWN_GROUP.format(name=name, value=value, available=available))
    return label


def _select(result: Any, groups: Any, *, allow_pooled: bool = False) -> list[str]:
    """The group labels a figure shows: every group, or the requested ones in the order given."""
    if groups is None:
        return _labels(result)
    items = [groups] if isinstance(groups, (str, tuple)) else list(groups)
    if not items:
        raise errors.FairauditInputError(EMPTY_GROUPS.format(value=groups, example=_labels(result)[:2]))
    out: list[str] = []
    for item in items:
        label = _check_group(result, item, name="groups", allow_pooled=allow_pooled)
        if label not in out:
            out.append(label)
    return out


# --------------------------------------------------------------------------
# figure helpers
def _axes(ax: Any, figsize: tuple[float, float]) -> "Axes":
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    if ax is None:
        return Figure(figsize=figsize, layout="constrained").add_subplot()
    if not isinstance(ax, Axes):
        raise errors.FairauditInputError(NOT_AXES.format(type=type(ax).__name__))
    return ax


def _threshold_line(ax: "Axes", result: Any) -> Any:
    return ax.axvline(result.threshold, color=THRESHOLD_COLOR, lw=1.2, ls=":", zorder=1.5,
                      label=f"threshold = {result.threshold:.4g}", gid="threshold")


def _threshold_handle(result: Any) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], color=THRESHOLD_COLOR, lw=1.2, ls=":", label=f"threshold = {result.threshold:.4g}")


def _line_handle(label: str, color: str, **kw: Any) -> Any:
    from matplotlib.lines import Line2D

    kw.setdefault("lw", 2)
    return Line2D([], [], color=color, label=literal(label), **kw)


def _note(ax: "Axes", text: str, *, width: int = 80) -> Any:
    """Small text under the x-axis label (placed at draw time, so it follows tick labels)."""
    wrapped = literal("\n".join(textwrap.fill(part, width) for part in text.split("\n")))
    return ax.annotate(wrapped, xy=(0.5, 0.0), xycoords=ax.xaxis.label, xytext=(0, -4),
                       textcoords="offset points", ha="center", va="top", fontsize="small",
                       color="0.25", gid="note")


def _score_range(result: Any) -> tuple[float, float] | None:
    h = result.histograms
    if len(h) == 0:
        return None
    lo, hi = float(h["bin_left"].min()), float(h["bin_right"].max())
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) and hi > lo else None


def _curve(result: Any, label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    c = result.curves
    sel = c[c["group"].astype(str) == label].sort_values("threshold")
    if len(sel) == 0:
        return None
    return (sel["threshold"].to_numpy(dtype=float), sel["fmr"].to_numpy(dtype=float),
            sel["fnmr"].to_numpy(dtype=float))


def _operating_point(result: Any, label: str) -> tuple[float, float]:
    if label == POOLED:
        row = result.overall
    else:
        row = result.by_group[result.by_group["label"].astype(str) == label].iloc[0]
    return float(row["fmr"]), float(row["fnmr"])


def _no_curve_note(missing: list[str]) -> str:
    names = ", ".join(repr(m) for m in missing)
    return f"No curve for {names}: no genuine or no impostor comparisons in the group."


def _curve_labels(groups: list[str], pooled: bool) -> list[str]:
    return groups + ([POOLED] if pooled and POOLED not in groups else [])


# --------------------------------------------------------------------------
# curves
def fmr_fnmr(result: Any, *, ax: "Axes | None" = None, groups: Any = None, log: bool = False,
             pooled: bool = True, legend: bool = True) -> "Axes":
    """FMR(t) (solid) and FNMR(t) (dashed) of every group against the threshold t.

    Parameters
    ----------
    result : VerificationResult
    ax : matplotlib Axes, optional
        Draw into it; by default a new figure is created.
    groups : list of str, optional
        Group labels to show (default: every group).
    log : bool
        Log-scaled y axis (zero rates are then not drawn).
    pooled : bool
        Also draw the pooled population (black).
    legend : bool
        Draw a legend (right of the axes).

    Returns
    -------
    matplotlib Axes
    """
    labels = _select(result, groups)
    ax = _axes(ax, (7.5, 4.5))
    colors = _colors(result)
    handles, missing = [], []
    for label in _curve_labels(labels, pooled):
        curve = _curve(result, label)
        if curve is None:
            missing.append(label)
            continue
        t, fmr, fnmr = curve
        lw = 1.3 if label == POOLED else 1.8
        if log:
            fmr = np.where(fmr > 0, fmr, np.nan)
            fnmr = np.where(fnmr > 0, fnmr, np.nan)
        ax.plot(t, fmr, color=colors[label], lw=lw, ls="-", label=label, gid="fmr")
        ax.plot(t, fnmr, color=colors[label], lw=lw, ls="--", label=label, gid="fnmr")
        handles.append(_line_handle(POOLED_LABEL if label == POOLED else label, colors[label], lw=lw))
    _threshold_line(ax, result)
    span = _score_range(result)
    if span is not None:
        ax.set_xlim(*span)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(THRESHOLD_LABEL)
    ax.set_ylabel("Error rate")
    ax.set_title("FMR and FNMR against the threshold")
    ax.grid(True, alpha=0.3)
    if legend:
        handles += [_line_handle("FMR (solid)", "0.2", lw=1.5, ls="-"),
                    _line_handle("FNMR (dashed)", "0.2", lw=1.5, ls="--"),
                    _threshold_handle(result)]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  fontsize="small")
    if missing:
        _note(ax, _no_curve_note(missing))
    return ax


def _normal_ticks(ax: "Axes", ppf: Callable[[np.ndarray], np.ndarray]) -> None:
    """Probability tick labels on normal deviate axes, round values first, never crowded."""
    probs = np.array([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 0.9, 0.99, 0.05, 0.2, 0.02, 0.95,
                      0.4, 0.6, 0.8, 0.98, 0.3, 0.7])  # in order of preference
    pos = ppf(probs)
    for axis, get_lim in ((ax.xaxis, ax.get_xlim), (ax.yaxis, ax.get_ylim)):
        lo, hi = sorted(get_lim())
        gap = (hi - lo) / 9.0
        kept: list[int] = []
        for i, x in enumerate(pos):
            if lo <= x <= hi and all(abs(x - pos[k]) >= gap for k in kept):
                kept.append(i)
        kept.sort(key=lambda k: pos[k])
        axis.set_ticks(pos[kept], labels=[f"{p:g}" for p in probs[kept]])


def det(result: Any, *, ax: "Axes | None" = None, groups: Any = None, scale: str = "log",
        pooled: bool = True, legend: bool = True) -> "Axes":
    """DET curve of every group: FNMR against FMR, with the operating point at the threshold.

    Parameters
    ----------
    result : VerificationResult
    ax : matplotlib Axes, optional
    groups : list of str, optional
        Group labels to show (default: every group).
    scale : "log" or "normal"
        Log-log axes, or normal deviate axes (probit, as in ISO/IEC 19795-1 and
        NIST reports; needs scipy). Points with a rate of 0 (or 1 on normal
        axes) cannot be drawn on either scale and are left out.
    pooled : bool
        Also draw the pooled population (black, dashed).
    legend : bool

    Returns
    -------
    matplotlib Axes
    """
    if scale not in ("log", "normal"):
        raise errors.FairauditInputError(UNKNOWN_SCALE.format(value=scale))
    if scale == "normal":
        try:
            from scipy.stats import norm
        except ImportError:
            raise errors.FairauditInputError(NORMAL_SCALE_NEEDS_SCIPY) from None

        def transform(p: np.ndarray) -> np.ndarray:
            p = np.asarray(p, dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                out = norm.ppf(np.where((p > 0) & (p < 1), p, np.nan))
            return out
    else:
        def transform(p: np.ndarray) -> np.ndarray:
            p = np.asarray(p, dtype=float)
            return np.where(p > 0, p, np.nan)

    labels = _select(result, groups)
    ax = _axes(ax, (6.0, 5.0))
    colors = _colors(result)
    handles, missing, hidden = [], [], []
    for label in _curve_labels(labels, pooled):
        curve = _curve(result, label)
        if curve is None:
            missing.append(label)
            continue
        _, fmr, fnmr = curve
        is_pooled = label == POOLED
        style = dict(color=colors[label], lw=1.3 if is_pooled else 1.8, ls="--" if is_pooled else "-")
        ax.plot(transform(fmr), transform(fnmr), label=label, gid="curve", **style)
        op = _operating_point(result, label)
        x, y = transform(np.array([op[0]])), transform(np.array([op[1]]))
        if np.isfinite(x[0]) and np.isfinite(y[0]):
            ax.plot(x, y, ls="none", marker="o", ms=7, mfc=colors[label], mec="white", mew=1.2,
                    zorder=3, label=label, gid="operating point")
        else:
            hidden.append(label)
        handles.append(_line_handle(POOLED_LABEL if is_pooled else label, **style))
    if scale == "log":
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(FMR_LABEL)
        ax.set_ylabel(FNMR_LABEL)
    else:
        _normal_ticks(ax, transform)
        ax.set_xlabel(FMR_LABEL + ", normal deviate scale")
        ax.set_ylabel(FNMR_LABEL + ", normal deviate scale")
    ax.set_title("DET curve")
    ax.grid(True, which="major", alpha=0.3)
    if legend:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], ls="none", marker="o", ms=7, mfc="0.4", mec="white",
                              label=f"operating point (threshold = {result.threshold:.4g})"))
        ax.legend(handles=handles, loc="lower left", fontsize="small")
    notes = []
    if missing:
        notes.append(_no_curve_note(missing))
    if hidden:
        notes.append("Operating point not drawn (a rate of 0"
                     + (" or 1" if scale == "normal" else "") + f") for {', '.join(map(repr, hidden))}.")
    if notes:
        _note(ax, "\n".join(notes))
    return ax


def roc(result: Any, *, ax: "Axes | None" = None, groups: Any = None, log_x: bool = True,
        pooled: bool = True, legend: bool = True) -> "Axes":
    """ROC curve of every group: 1 - FNMR against FMR, with the operating point at the threshold.

    Parameters
    ----------
    result : VerificationResult
    ax : matplotlib Axes, optional
    groups : list of str, optional
        Group labels to show (default: every group).
    log_x : bool
        Log-scaled FMR axis (default), where the operating region of a face
        recognition system lies; points with FMR = 0 are then left out.
    pooled : bool
        Also draw the pooled population (black, dashed).
    legend : bool

    Returns
    -------
    matplotlib Axes
    """
    labels = _select(result, groups)
    ax = _axes(ax, (6.0, 5.0))
    colors = _colors(result)
    handles, missing = [], []
    for label in _curve_labels(labels, pooled):
        curve = _curve(result, label)
        if curve is None:
            missing.append(label)
            continue
        _, fmr, fnmr = curve
        if log_x:
            fmr = np.where(fmr > 0, fmr, np.nan)
        is_pooled = label == POOLED
        style = dict(color=colors[label], lw=1.3 if is_pooled else 1.8, ls="--" if is_pooled else "-")
        ax.plot(fmr, 1.0 - fnmr, label=label, gid="curve", **style)
        op_fmr, op_fnmr = _operating_point(result, label)
        if math.isfinite(op_fmr) and math.isfinite(op_fnmr) and (op_fmr > 0 or not log_x):
            ax.plot([op_fmr], [1.0 - op_fnmr], ls="none", marker="o", ms=7, mfc=colors[label], mec="white",
                    mew=1.2, zorder=3, label=label, gid="operating point")
        handles.append(_line_handle(POOLED_LABEL if is_pooled else label, **style))
    if log_x:
        ax.set_xscale("log")
    else:
        ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(top=1.02)
    ax.set_xlabel(FMR_LABEL)
    ax.set_ylabel(TMR_LABEL)
    ax.set_title("ROC curve")
    ax.grid(True, which="major", alpha=0.3)
    if legend:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], ls="none", marker="o", ms=7, mfc="0.4", mec="white",
                              label=f"operating point (threshold = {result.threshold:.4g})"))
        ax.legend(handles=handles, loc="lower right", fontsize="small")
    if missing:
        _note(ax, _no_curve_note(missing))
    return ax


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
    ax.set_title(f"Comparison scores: {POOLED_LABEL if label == POOLED else literal(label)}")
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
        a.set_title(POOLED_LABEL if label == POOLED else literal(label))
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
    ax.set_xticks(np.arange(len(cols)), labels=[literal(c) for c in cols])
    ax.set_yticks(np.arange(len(rows)), labels=[literal(r) for r in rows])
    if max((len(c) for c in cols), default=0) > 3 or len(cols) > 8:
        for tick in ax.get_xticklabels():
            tick.set_rotation(40)
            tick.set_ha("right")
            tick.set_rotation_mode("anchor")
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
    ax.set_title(f"Cross-group FMR at threshold {result.threshold:.4g}")
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
    ax.set_xticks(np.arange(len(labels)), labels=[literal(x) for x in labels])
    if max(len(x) for x in labels) > 6 or len(labels) > 8:
        for tick in ax.get_xticklabels():
            tick.set_rotation(35)
            tick.set_ha("right")
            tick.set_rotation_mode("anchor")
    ax.set_xlim(-0.6, len(labels) - 0.4)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
        ax.margins(y=0.12)
    ax.set_ylabel(METRIC_LABELS[metric])
    ax.set_xlabel("group" if len(result.by) != 1 else literal(result.by[0]))
    short = METRIC_LABELS[metric].split(" (")[0]
    where = f" at threshold {result.threshold:.4g}" if metric in _AT_THRESHOLD else ""
    ax.set_title(f"{short} per group{where}")
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
    title = f"Fairness figures at threshold {result.threshold:.4g}"
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


# --------------------------------------------------------------------------
# output
_SAVED: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("fmr_fnmr", lambda r: fmr_fnmr(r).figure),
    ("det", lambda r: det(r).figure),
    ("roc", lambda r: roc(r).figure),
    ("histograms", lambda r: histogram_grid(r)),
    ("cross_fmr", lambda r: cross_fmr(r).figure),
    ("by_group_fnmr", lambda r: by_group(r, metric="fnmr").figure),
    ("by_group_fmr", lambda r: by_group(r, metric="fmr").figure),
    ("fairness", lambda r: fairness(r).figure),
)


def save_all(result: Any, outdir: str | Path, *, prefix: str = "verification",
             formats: str | Sequence[str] = ("png",), dpi: int = DPI) -> list[Path]:
    """Write every figure of the result to ``outdir`` and return the paths.

    Files are ``{prefix}_fmr_fnmr``, ``_det``, ``_roc``, ``_histograms`` (the
    grid of :func:`histogram_grid`), ``_cross_fmr``, ``_by_group_fnmr``,
    ``_by_group_fmr`` and ``_fairness``, each with the suffix of every format
    in ``formats``. ``outdir`` is created if needed. The figures are never
    registered with pyplot, so nothing global is left open.

    Returns
    -------
    list of pathlib.Path
        In the order above, all formats of one figure together.
    """
    fmts = [_check_format(f) for f in ([formats] if isinstance(formats, str) else formats)]
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for suffix, build in _SAVED:
        fig = build(result)
        for fmt in fmts:
            path = out / f"{prefix}_{suffix}.{fmt}"
            fig.savefig(path, format=fmt, dpi=dpi)
            paths.append(path)
    return paths


