"""What the figures of :mod:`fairaudit.identification.plots` share: the vocabulary of ISO/IEC
19795-1 and NIST's FRTE 1:N reports, and small helpers (a group's row, its line style, legend
placement)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from fairaudit.data import POOLED
from fairaudit.verification.plot_style import POOLED_LABEL, _line_handle, _select, shown

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

# --- vocabulary (ISO/IEC 19795-1, NIST FRTE 1:N)
FNIR_LABEL = "FNIR (false negative identification rate)"
FPIR_LABEL = "FPIR (false positive identification rate)"
RANK_LABEL = "Rank k (position in the candidate list)"
CMC_LABEL = "Rank-k identification rate (mated searches)"
GALLERY_LABEL = "Enrolled identities in the gallery"


def _row(result: Any, label: str) -> Any:
    if label == POOLED:
        return result.overall
    bg = result.by_group
    return bg[bg["label"].astype(str) == label].iloc[0]


def _value(row: Any, name: str) -> float:
    try:
        v = float(row[name])
    except (KeyError, TypeError, ValueError):
        return math.nan
    return v


def _labels(result: Any, groups: Any, pooled: bool) -> list[str]:
    labels = _select(result, groups)
    return labels + ([POOLED] if pooled and POOLED not in labels else [])


def _style(label: str, colors: dict[str, str]) -> dict[str, Any]:
    pooled = label == POOLED
    return dict(color=colors[label], lw=1.3 if pooled else 1.8, ls="--" if pooled else "-")


def _handle(label: str, **style: Any) -> Any:
    return _line_handle(POOLED_LABEL if label == POOLED else label, **style)


def _names(labels: Sequence[str]) -> str:
    return ", ".join(repr(shown(x)) for x in labels)


def _legend_right(ax: "Axes", handles: list, **kw: Any) -> None:
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              fontsize="small", **kw)


def _rank_text(result: Any) -> str:
    return f"rank {int(result.rank)}"


