"""What every figure of :mod:`fairaudit.verification.plots` shares: the messages, the vocabulary
of ISO/IEC 19795-1, the colour-blind-safe palettes and :func:`group_colors`, group selection
(``groups=``) and the helpers that make axes, threshold lines, legend handles and notes."""

from __future__ import annotations

import math
import textwrap
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from fairaudit.common import errors
from fairaudit.common.figures import literal
from fairaudit.data import POOLED

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

# --- message templates (errors.py conventions: argument, expectation, what came, fix)
UNKNOWN_GROUP = (
    "{name}={value!r} is not a group of this result; available groups: {available}. "
    "Fix: pass one of them (the labels of result.by_group['label'])."
)
EMPTY_GROUPS = (
    "groups={value!r} names no group. Fix: pass None (every group) or a list of labels "
    "such as {example!r}."
)
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


#: group label -> the name figures draw for it (see :func:`display_labels`)
_DISPLAY: ContextVar[Mapping[str, str]] = ContextVar("fairaudit_display_labels", default={})


@contextmanager
def display_labels(names: Mapping[str, str]) -> Iterator[None]:
    """Within the block, figures draw group ``label`` as ``names[label]`` (legends, tick labels, titles).

    The report uses it to write a codebook's readable names, e.g. ``"woman (M) & Black (N)"`` for
    ``"M & N"``; the result's tables keep the codes.
    """
    token = _DISPLAY.set(dict(names))
    try:
        yield
    finally:
        _DISPLAY.reset(token)


def shown(label: Any) -> str:
    """The name drawn for a group label (the label itself unless :func:`display_labels` maps it)."""
    return _DISPLAY.get().get(str(label), str(label))


def _line_handle(label: str, color: str, **kw: Any) -> Any:
    from matplotlib.lines import Line2D

    kw.setdefault("lw", 2)
    return Line2D([], [], color=color, label=literal(shown(label)), **kw)


def _note(ax: "Axes", text: str, *, width: int = 80) -> Any:
    """Small text under the x-axis label (placed at draw time, so it follows tick labels)."""
    wrapped = literal("\n".join(textwrap.fill(part, width) for part in text.split("\n")))
    return ax.annotate(wrapped, xy=(0.5, 0.0), xycoords=ax.xaxis.label, xytext=(0, -4),
                       textcoords="offset points", ha="center", va="top", fontsize="small",
                       color="0.25", gid="note")


def _rotate_ticks(ax: "Axes", labels: Sequence[Any], *, over: int = 6, angle: float = 35) -> None:
    """Slant the x tick labels by ``angle`` when one is longer than ``over`` characters or there
    are more than 8; long names (readable codebook labels, over 12 characters) stand upright, so
    that neighbours never overlap."""
    longest = max((len(shown(x)) for x in labels), default=0)
    if longest > over or len(labels) > 8:
        upright = longest > 12
        for tick in ax.get_xticklabels():
            tick.set_rotation(90 if upright else angle)
            tick.set_ha("center" if upright else "right")
            tick.set_rotation_mode("default" if upright else "anchor")


def _log_ticks(axis: Any, *, max_labels: int = 8) -> None:
    """Decade tick labels on a log axis that never run into each other: every decade keeps its tick
    and grid line, but when more than ``max_labels`` decades are in view only every k-th is labelled
    (always including 10^0 and the even powers), in a slightly smaller font."""
    from matplotlib.ticker import LogFormatterSciNotation

    class _Sparse(LogFormatterSciNotation):
        def __call__(self, x: float, pos: Any = None) -> str:
            lo, hi = sorted(self.axis.get_view_interval())
            if lo > 0 and hi > lo and x > 0:
                decades = math.log10(hi) - math.log10(lo)
                step = max(1, math.ceil(decades / max_labels))
                if round(math.log10(x)) % step:
                    return ""
            return super().__call__(x, pos)

    axis.set_major_formatter(_Sparse())
    axis.set_tick_params(which="major", labelsize="small")


def _score_range(result: Any) -> tuple[float, float] | None:
    h = result.histograms
    if len(h) == 0:
        return None
    lo, hi = float(h["bin_left"].min()), float(h["bin_right"].max())
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) and hi > lo else None

