"""Figures of a 1:N identification audit (:class:`~fairaudit.identification.IdentificationResult`).

They follow the conventions of :mod:`fairaudit.verification.plots` (``fairaudit.plot``): the result
first, keyword-only options, ``ax=None`` draws into a new figure (a plain matplotlib ``Figure``,
never registered with pyplot, never ``plt.show()``) and the :class:`~matplotlib.axes.Axes` drawn
into is returned; a group keeps its colour in every figure, the pooled population (``"all"``) is
black and dashed; ``groups=`` restricts a figure to some group labels; every artist drawn for a
group carries its label and its role as ``gid``.

Vocabulary of ISO/IEC 19795-1 and NIST's FRTE 1:N reports: FNIR (false negative identification
rate, of mated searches, at threshold T and rank R), FPIR (false positive identification rate, of
non-mated searches, at T), the rank-k identification rate (CMC) and the candidate list.

* :func:`cmc`: rank-k identification rate per group, k = 1..K;
* :func:`det`: FNIR against FPIR per group, with the operating point at the threshold;
* :func:`landing`: where false positives land, probe group x candidate group
  (in :mod:`fairaudit.identification.plot_landing`);
* :func:`gallery_size`: FPIR at the threshold against the number of enrolled identities;
* :func:`rates`: FNIR and FPIR per group with their confidence intervals (in
  :mod:`fairaudit.identification.plot_rates`);
* :func:`fairness_panels`: the fairness figures over FPIR and FNIR;
* :func:`save_all`: every figure as files.

A group without non-mated searches has no FPIR (NaN): it is left out of the FPIR figures and named
in a note under the axes, never an error. matplotlib is imported only inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from fairaudit.common.figures import DPI, _check_format, save_figures, to_data_uri  # noqa: F401 - public here
from fairaudit.data import POOLED
from fairaudit.identification.plot_common import (  # noqa: F401 - the vocabulary is public here
    CMC_LABEL,
    FNIR_LABEL,
    FPIR_LABEL,
    GALLERY_LABEL,
    RANK_LABEL,
    _handle,
    _labels,
    _legend_right,
    _names,
    _rank_text,
    _row,
    _style,
    _value,
)
from fairaudit.identification.plot_landing import LANDING_VALUES, UNKNOWN_LANDING_VALUE, landing
from fairaudit.identification.plot_rates import RATE_NAMES, rates
from fairaudit.verification.plot_curves import _det_axes, _det_transform, _normal_ticks
from fairaudit.verification.plot_groups import fairness_panels
from fairaudit.verification.plot_style import (
    THRESHOLD_COLOR,
    _axes,
    _colors,
    _note,
    display_labels,
    group_colors,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

# --------------------------------------------------------------------------
# CMC
def _lines(table: Any, labels: Sequence[str], order: str, column: str) -> tuple[list, list[str]]:
    """The rows of ``table`` of every label (sorted by ``order``) with a finite ``column``, as
    ``(label, rows, values)``; and the labels without one."""
    drawn, missing = [], []
    for label in labels:
        part = table[table["group"].astype(str) == label].sort_values(order)
        y = part[column].to_numpy(dtype=float)
        if not len(part) or not np.isfinite(y).any():
            missing.append(label)
            continue
        drawn.append((label, part, y))
    return drawn, missing


def cmc(result: Any, *, ax: "Axes | None" = None, groups: Any = None, pooled: bool = True,
        legend: bool = True) -> "Axes":
    """Rank-k identification rate (CMC) of every group, k = 1..K: the share of mated searches whose
    mate is in the first k candidates, whatever its score. Pooled: black, dashed.

    Parameters
    ----------
    result : IdentificationResult
    ax : matplotlib Axes, optional
    groups : list of str, optional
        Group labels to show (default: every group).
    pooled : bool
        Also draw the pooled population.
    legend : bool
        Draw a legend (right of the axes).

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.ticker import MaxNLocator

    labels = _labels(result, groups, pooled)
    ax = _axes(ax, (7.5, 4.5))
    colors = _colors(result)
    drawn, missing = _lines(result.cmc, labels, "rank", "identification_rate")
    handles, low = [], 1.0
    for label, part, y in drawn:
        style = _style(label, colors)
        ax.plot(part["rank"].to_numpy(dtype=float), y, marker="o", ms=3.5, label=label, gid="cmc", **style)
        low = min(low, float(np.nanmin(y)))
        handles.append(_handle(label, **style))
    k = int(result.k)
    ax.set_xlim(0.5, k + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2, nbins=min(k, 10)))
    ax.set_ylim(max(0.0, low - 0.05 * max(1.0 - low, 0.02) - 0.02), 1.005)
    ax.set_xlabel(RANK_LABEL)
    ax.set_ylabel(CMC_LABEL)
    ax.set_title(f"CMC: rank-k identification rate, k = 1 to {k}")
    ax.grid(True, alpha=0.3)
    if legend and handles:
        _legend_right(ax, handles)
    if missing:
        _note(ax, f"No CMC for {_names(missing)}: no mated search in the group.")
    return ax


# --------------------------------------------------------------------------
# DET
def det(result: Any, *, ax: "Axes | None" = None, groups: Any = None, scale: str = "log",
        pooled: bool = True, legend: bool = True) -> "Axes":
    """DET of every group: FNIR (at the audit's rank R) against FPIR as the threshold moves, with the
    operating point at the audit's threshold (a filled marker).

    FNIR never falls below the share of mated searches whose mate is beyond rank R, so the curves
    level off on the left. An operating point with FPIR = 0 cannot be placed on these axes: it is
    drawn as a hollow triangle on the left edge, at its FNIR.

    Parameters
    ----------
    result : IdentificationResult
    ax : matplotlib Axes, optional
    groups : list of str, optional
    scale : "log" or "normal"
        Log-log axes, or normal deviate (probit) axes as in ISO/IEC 19795-1 (needs scipy).
    pooled : bool
    legend : bool

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.lines import Line2D

    transform = _det_transform(scale)
    labels = _labels(result, groups, pooled)
    ax = _axes(ax, (7.6, 5.2))
    colors = _colors(result)
    c = result.curves
    handles, missing, edge = [], [], []
    for label in labels:
        part = c[c["group"].astype(str) == label].sort_values("threshold")
        x = transform(part["fpir"].to_numpy(dtype=float))
        y = transform(part["fnir"].to_numpy(dtype=float))
        if not (np.isfinite(x) & np.isfinite(y)).any():
            missing.append(label)
            continue
        style = _style(label, colors)
        ax.plot(x, y, label=label, gid="curve", **style)
        handles.append(_handle(label, **style))
    points = []
    for label in labels:
        if label in missing:
            continue
        row = _row(result, label)
        fpir, fnir = _value(row, "fpir"), _value(row, "fnir")
        px, py = transform(np.array([fpir]))[0], transform(np.array([fnir]))[0]
        if np.isfinite(px) and np.isfinite(py):
            ax.plot([px], [py], ls="none", marker="o", ms=7, mfc=colors[label], mec="white", mew=1.2, zorder=3,
                    label=label, gid="operating point")
        elif fpir == 0 and np.isfinite(py):
            points.append((label, py))
        else:
            edge.append(label)
    _det_axes(ax, scale, transform, (FPIR_LABEL, f"{FNIR_LABEL}, {_rank_text(result)}"),
              (FPIR_LABEL + ", normal deviate scale", f"FNIR ({_rank_text(result)}), normal deviate scale"))
    if points:
        ax.autoscale_view()
        lo, hi = ax.get_xlim()
        for label, py in points:
            ax.plot([lo], [py], ls="none", marker="<", ms=8, mfc="white", mec=colors[label], mew=1.6, zorder=3.5,
                    clip_on=False, label=label, gid="operating point at FPIR 0")
        ax.set_xlim(lo, hi)
        if scale == "normal":
            _normal_ticks(ax, transform)
    ax.set_title(f"DET: FNIR against FPIR ({_rank_text(result)})")
    ax.grid(True, which="major", alpha=0.3)
    if legend and handles:
        handles.append(Line2D([], [], ls="none", marker="o", ms=7, mfc="0.4", mec="white",
                              label=f"operating point (threshold {result.threshold:.4g})"))
        if points:
            handles.append(Line2D([], [], ls="none", marker="<", ms=8, mfc="white", mec="0.4", mew=1.6,
                                  label="operating point, FPIR = 0\n(drawn on the left edge)"))
        _legend_right(ax, handles)
    notes = []
    if missing:
        notes.append(f"No curve for {_names(missing)}: no mated or no non-mated search in the group.")
    if edge:
        notes.append(f"Operating point not drawn for {_names(edge)} (a rate of 0"
                     + (" or 1" if scale == "normal" else "") + ").")
    if notes:
        _note(ax, "\n".join(notes))
    return ax


# --------------------------------------------------------------------------
# FPIR against gallery size
def gallery_size(result: Any, *, ax: "Axes | None" = None, groups: Any = None, pooled: bool = True,
                 legend: bool = True) -> "Axes":
    """FPIR at the audit's threshold against the number of enrolled identities, per group: every
    probe searched against nested random sub-galleries (the same for every group), log x axis.
    FPIR grows with the gallery: each added identity is one more chance of a false positive.

    Parameters
    ----------
    result : IdentificationResult
    ax : matplotlib Axes, optional
    groups : list of str, optional
    pooled : bool
    legend : bool

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    labels = _labels(result, groups, pooled)
    ax = _axes(ax, (7.5, 4.5))
    colors = _colors(result)
    table = result.gallery_size
    drawn, missing = _lines(table, labels, "gallery_identities", "fpir")
    handles, sizes, top = [], set(), 0.0
    for label, part, y in drawn:
        x = part["gallery_identities"].to_numpy(dtype=float)
        style = _style(label, colors)
        ax.plot(x, y, marker="o", ms=4, label=label, gid="gallery size", **style)
        handles.append(_handle(label, **style))
        sizes.update(int(v) for v in x)
        top = max(top, float(np.nanmax(y)))
    ax.set_xlabel(GALLERY_LABEL + ", log scale")
    ax.set_ylabel(FPIR_LABEL)
    ax.set_title(f"FPIR against gallery size at threshold {result.threshold:.4g}")
    if sizes:
        ticks = sorted(sizes)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(_plain_ints(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(ticks[0] / 1.25, ticks[-1] * 1.25)
        ax.set_ylim(-0.03 * max(top, 1e-3), max(top, 1e-3) * 1.15)
        ax.grid(True, alpha=0.3)
        if legend:
            _legend_right(ax, handles)
    elif len(table) == 0:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.5, 0.5, "No sub-gallery FPIR: candidate lists returned by a system\n"
                "cannot be searched against smaller galleries.", transform=ax.transAxes, ha="center",
                va="center", color="0.3", gid="empty")
    notes = []
    if missing and sizes:
        notes.append(f"No FPIR for {_names(missing)}: no non-mated search in the group.")
    flat = [label for label in labels if label not in missing and label != POOLED and
            not (table.loc[table["group"].astype(str) == label, "fpir"].fillna(0) > 0).any()]
    if len(flat) > 1 and sizes:
        notes.append(f"No false positive at any gallery size for {_names(flat)}: their lines overlap at 0.")
    if notes:
        _note(ax, "\n".join(notes))
    return ax


def _plain_ints(ticks: Sequence[int]) -> Any:
    from matplotlib.ticker import FixedFormatter

    return FixedFormatter([f"{t:,}" for t in ticks])


# --------------------------------------------------------------------------
# output
_SAVED: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("cmc", lambda r: cmc(r).figure),
    ("det", lambda r: det(r).figure),
    ("rates", lambda r: rates(r).figure),
    ("landing_share", lambda r: landing(r, value="share").figure),
    ("landing_top_k_lift", lambda r: landing(r, value="top_k_lift").figure),
    ("gallery_size", lambda r: gallery_size(r).figure),
    ("fairness", lambda r: fairness_panels(r)),
)


def save_all(result: Any, outdir: str | Path, *, prefix: str = "identification",
             formats: str | Sequence[str] = ("png",), dpi: int = DPI) -> list[Path]:
    """Write every figure of the result to ``outdir`` and return the paths.

    Files are ``{prefix}_cmc``, ``_det``, ``_rates``, ``_landing_share``, ``_landing_top_k_lift``,
    ``_gallery_size`` and ``_fairness``, each with the suffix of every format in ``formats``,
    each written atomically (a reader never sees half a file). ``outdir`` is created if needed.
    The figures are drawn on several cores (forked processes, see
    :mod:`fairaudit.common.parallel`) and never registered with pyplot.

    Returns
    -------
    list of pathlib.Path
        In the order above, all formats of one figure together.
    """
    return save_figures(result, outdir, _SAVED, prefix=prefix, formats=formats, dpi=dpi)


__all__ = [
    "FNIR_LABEL", "FPIR_LABEL", "RANK_LABEL", "CMC_LABEL", "GALLERY_LABEL", "LANDING_VALUES", "RATE_NAMES",
    "UNKNOWN_LANDING_VALUE",
    "cmc", "det", "landing", "gallery_size", "rates", "fairness_panels", "save_all", "to_data_uri",
    "display_labels", "group_colors", "THRESHOLD_COLOR",
]
