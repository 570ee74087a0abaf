"""Error-rate curves of a verification result: FMR and FNMR against the threshold
(:func:`fmr_fnmr`), DET (:func:`det`) and ROC (:func:`roc`) with the operating point."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from fairaudit.common import errors
from fairaudit.data import POOLED
from fairaudit.verification.plot_style import (
    FMR_LABEL,
    FNMR_LABEL,
    POOLED_LABEL,
    THRESHOLD_LABEL,
    TMR_LABEL,
    _axes,
    _colors,
    _log_ticks,
    _line_handle,
    _note,
    _score_range,
    _select,
    _threshold_handle,
    _threshold_line,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

# --- message templates (errors.py conventions: argument, expectation, what came, fix)
UNKNOWN_SCALE = (
    "scale={value!r} is not a DET axis scale; expected 'log' (log-log axes) or 'normal' "
    "(normal deviate axes). Fix: pass one of them."
)
NORMAL_SCALE_NEEDS_SCIPY = (
    "scale='normal' draws the DET curve on normal deviate axes, which needs "
    "scipy.stats.norm.ppf, but scipy is not installed. Fix: pip install scipy, or pass "
    "scale='log'."
)


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
        _log_ticks(ax.yaxis)
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


def _det_transform(scale: str) -> Callable[[np.ndarray], np.ndarray]:
    """The map from rates to DET axis positions: ``"log"`` keeps the positive rates (0 -> NaN),
    ``"normal"`` is the probit (normal deviate; 0 and 1 -> NaN, needs scipy)."""
    if scale not in ("log", "normal"):
        raise errors.FairauditInputError(UNKNOWN_SCALE.format(value=scale))
    if scale == "normal":
        try:
            from scipy.stats import norm
        except ImportError:
            raise errors.FairauditInputError(NORMAL_SCALE_NEEDS_SCIPY) from None

        def probit(p: np.ndarray) -> np.ndarray:
            p = np.asarray(p, dtype=float)
            with np.errstate(invalid="ignore", divide="ignore"):
                return norm.ppf(np.where((p > 0) & (p < 1), p, np.nan))
        return probit

    def positive(p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        return np.where(p > 0, p, np.nan)
    return positive


def _det_axes(ax: "Axes", scale: str, transform: Callable[[np.ndarray], np.ndarray],
              log_labels: tuple[str, str], normal_labels: tuple[str, str]) -> None:
    """Scales, ticks and (x, y) labels of DET axes: log-log, or normal deviate ticks."""
    if scale == "log":
        ax.set_xscale("log")
        ax.set_yscale("log")
        _log_ticks(ax.xaxis)
        _log_ticks(ax.yaxis)
        xlabel, ylabel = log_labels
    else:
        _normal_ticks(ax, transform)
        xlabel, ylabel = normal_labels
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


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
    transform = _det_transform(scale)
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
    _det_axes(ax, scale, transform, (FMR_LABEL, FNMR_LABEL),
              (FMR_LABEL + ", normal deviate scale", FNMR_LABEL + ", normal deviate scale"))
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
        _log_ticks(ax.xaxis)
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

