"""Where the false positives of a 1:N audit land: the probe group x candidate group heatmap of
:meth:`~fairaudit.identification.IdentificationResult.landing_matrix` (public through
:mod:`fairaudit.identification.plots`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from fairaudit.common import errors
from fairaudit.common.figures import literal
from fairaudit.verification.plot_style import _axes, _note, _rotate_ticks, shown

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

#: what :func:`landing` can draw: column of ``result.landing`` -> (colour bar label, title)
LANDING_VALUES = {
    "share": ("share of the probe group's false positives",
              "Where false positives land: share of each probe group's false positives"),
    "top_k_lift": ("top-K lift, log scale (1: as in the gallery)",
                   "Which candidate groups crowd the candidate lists (top-K lift)"),
    "top_k_share": ("share of the candidates in the probe group's top-K lists",
                    "Candidate groups in the top-K lists of non-mated searches"),
    "n_false_positives": ("false positives (non-mated searches)",
                          "Where false positives land: counts"),
    "gallery_share": ("share of the gallery's identities", "Gallery share of every candidate group"),
}
UNKNOWN_LANDING_VALUE = (
    "value={value!r} is not a column landing() can draw; available: {available}. Fix: pass one of "
    "them ('share': where the false positives land, 'top_k_lift': which candidate groups crowd "
    "the candidate lists)."
)


def _luminance(rgba: Any) -> float:
    r, g, b = rgba[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def landing(result: Any, *, value: str = "share", ax: "Axes | None" = None, annotate: bool = True,
            cmap: str | None = None) -> "Axes":
    """Heatmap of where the false positives land: probe groups (rows) x candidate groups (columns).

    ``value="share"`` (default): the share of the probe group's false positives whose best
    candidate, scoring at least the threshold, is of the column's group (rows sum to 1; a probe
    group without false positives is grey, ``n/a``). ``value="top_k_lift"``: the candidate group's
    share of the probe group's top-K candidate lists divided by its share of the gallery, whatever
    the scores: above 1 the group crowds the lists beyond its weight in the gallery (a diverging
    colour scale, log, centred on 1). ``"top_k_share"``, ``"n_false_positives"`` and
    ``"gallery_share"`` draw those columns of ``result.landing``.

    Parameters
    ----------
    result : IdentificationResult
    value : str
    ax : matplotlib Axes, optional
    annotate : bool
        Write the value into every cell.
    cmap : str, optional
        A matplotlib colormap (default ``Blues``, light at 0; ``RdBu_r``, diverging, for the lift).

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib
    from matplotlib.colors import LogNorm, Normalize

    if value not in LANDING_VALUES:
        raise errors.FairauditInputError(UNKNOWN_LANDING_VALUE.format(value=value, available=list(LANDING_VALUES)))
    matrix = result.landing_matrix(value)
    values = matrix.to_numpy(dtype=float)
    rows = [str(x) for x in matrix.index]
    cols = [str(x) for x in matrix.columns]
    g = max(len(rows), len(cols), 1)
    longest = max((len(shown(x)) for x in rows + cols), default=0)
    side = min(2.8 + 0.45 * g + 0.03 * longest, 12.0)
    ax = _axes(ax, (side + 1.5, side))
    finite = np.isfinite(values)
    lift = value == "top_k_lift"
    if lift:
        positive = finite & (values > 0)
        span = float(np.abs(np.log(values[positive])).max()) if positive.any() else math.log(2.0)
        span = max(span, math.log(1.5))
        norm: Any = LogNorm(vmin=math.exp(-span), vmax=math.exp(span))
        shown_mask = positive
        colormap = matplotlib.colormaps[cmap or "RdBu_r"].with_extremes(bad="0.88")
    else:
        hi = float(values[finite].max()) if finite.any() else 1.0
        vmax = 1.0 if value in ("share", "top_k_share", "gallery_share") else max(hi, 1.0)
        norm = Normalize(vmin=0.0, vmax=vmax)
        shown_mask = finite
        colormap = matplotlib.colormaps[cmap or "Blues"].with_extremes(bad="0.88")
    image = ax.imshow(np.ma.masked_where(~shown_mask, values), cmap=colormap, norm=norm, aspect="equal",
                      interpolation="nearest")
    image.set_gid(f"landing {value}")
    row_labels = [shown(r) for r in rows]
    if value in ("share", "n_false_positives") and len(result.landing):
        fp = result.landing.groupby("probe_group")["n_false_positives"].sum()
        row_labels = [f"{shown(r)}\n({int(fp.get(r, 0)):,} false positive{'s' if int(fp.get(r, 0)) != 1 else ''})"
                      for r in rows]
    ax.set_xticks(np.arange(len(cols)), labels=[literal(shown(c)) for c in cols])
    ax.set_yticks(np.arange(len(rows)), labels=[literal(t) for t in row_labels])
    _rotate_ticks(ax, cols, over=3, angle=40)
    ax.tick_params(length=0)
    if annotate:
        size = max(6.5, 12.0 - 0.45 * g)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                v = values[i, j]
                if shown_mask[i, j]:
                    color = "white" if _luminance(colormap(norm(v))) < 0.5 else "black"
                    text = (f"{int(round(v)):,}" if value == "n_false_positives"
                            else f"{v:.2f}" if lift else f"{100 * v:.0f}%")
                else:
                    color, text = "0.25", ("0" if v == 0 else "n/a")
                ax.text(j, i, text, ha="center", va="center", fontsize=size, color=color, gid="value")
    bar = ax.figure.colorbar(image, ax=ax, shrink=0.85)
    label, title = LANDING_VALUES[value]
    bar.set_label(label)
    if lift:
        from matplotlib.ticker import FixedLocator, NullLocator

        ticks = [t for t in (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0) if norm.vmin <= t <= norm.vmax]
        if len(ticks) < 3:
            ticks = sorted({round(norm.vmin, 2), 1.0, round(norm.vmax, 2)})
        bar.ax.yaxis.set_major_locator(FixedLocator(ticks))
        bar.ax.yaxis.set_minor_locator(NullLocator())
        bar.ax.set_yticklabels([f"{t:g}×" for t in ticks])
    elif value in ("share", "top_k_share", "gallery_share"):
        from matplotlib.ticker import PercentFormatter

        bar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
    ax.set_xlabel("candidate group (best candidate in the list)" if value == "share" else "candidate group")
    ax.set_ylabel("probe group (non-mated searches)")
    ax.set_title(f"{title}\nat threshold {result.threshold:.4g}" if value in ("share", "n_false_positives")
                 else f"{title}, K = {int(result.k)}", fontsize="medium")
    notes = []
    if (~finite).any():
        notes.append("grey 'n/a': no false positive in the probe group" if value == "share"
                     else "grey 'n/a': no non-mated search or no candidate")
    if lift and (finite & (values == 0)).any():
        notes.append("grey '0': never among the top-K candidates")
    if notes:
        _note(ax, "Cells " + "; ".join(notes) + ".")
    return ax
