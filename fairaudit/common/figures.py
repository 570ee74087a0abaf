"""Figure helpers every stage's plots share: user text drawn literally, safe file names, figures as
data URIs, the image formats matplotlib writes. matplotlib is imported inside the functions only."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from fairaudit.common import errors

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.figure import Figure

UNKNOWN_FORMAT = (
    "format {value!r} is not an image format matplotlib can write; available: "
    "{available}. Fix: pass e.g. 'png' or 'svg'."
)
NOT_A_FIGURE = (
    "fig_or_ax must be a matplotlib Figure or Axes; got {type}. Fix: pass the return "
    "value of a fairaudit.plot function."
)

#: dpi of the files written by :func:`save_all` and :func:`to_data_uri`
DPI = 120

_MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf", "jpg": "image/jpeg",
         "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif", "tif": "image/tiff",
         "tiff": "image/tiff", "eps": "application/postscript", "ps": "application/postscript"}


def literal(text: Any) -> str:
    """``text`` escaped so that matplotlib draws it as it is, never as mathtext.

    Group names are user data: ``"cost $5 and $"`` would otherwise be parsed
    as mathtext (and ``"$\\undefinedmacro{x}$"`` would fail at draw time).
    Escaping each ``$`` keeps mathtext on for everything else, such as the
    ``10^{-3}`` tick labels of log axes.
    """
    return str(text).replace("$", r"\$")


def _root_figure(fig_or_ax: Any) -> "Figure":
    from matplotlib.axes import Axes
    from matplotlib.figure import FigureBase

    fig = fig_or_ax.figure if isinstance(fig_or_ax, Axes) else fig_or_ax
    if not isinstance(fig, FigureBase):
        raise errors.FairauditInputError(NOT_A_FIGURE.format(type=type(fig_or_ax).__name__))
    while getattr(fig, "figure", fig) is not fig and fig.figure is not None:  # SubFigure -> Figure
        fig = fig.figure
    return fig


def _check_format(fmt: Any) -> str:
    from matplotlib.backend_bases import FigureCanvasBase

    available = sorted(FigureCanvasBase.get_supported_filetypes())
    text = str(fmt).lower().lstrip(".")
    if text not in available:
        raise errors.FairauditInputError(UNKNOWN_FORMAT.format(value=fmt, available=available))
    return text


#: (file name suffix, figure builder) of every figure :func:`save_all` writes, in order
def safe_filename(text: str) -> str:
    """A file-name part for user text (an attribute name): letters, digits, ``.``, ``_`` and ``-``
    only, ``" & "`` as ``_x_``; when anything else had to change, a short hash of the original keeps
    two names that clean up alike apart (so ``"../x"`` can never leave the output directory)."""
    import hashlib
    import re

    cleaned = str(text).replace(" & ", "_x_").replace(" ", "_")
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", cleaned).lstrip(".") or "_"
    if cleaned != str(text).replace(" & ", "_x_").replace(" ", "_"):
        cleaned += "-" + hashlib.sha1(str(text).encode("utf-8")).hexdigest()[:6]
    return cleaned


def to_data_uri(fig_or_ax: Any, *, format: str = "png", dpi: int = DPI) -> str:
    """The figure as a base64 ``data:`` URI, e.g. for ``<img src=...>`` in an HTML report.

    Parameters
    ----------
    fig_or_ax : matplotlib Figure or Axes
        An Axes stands for the whole figure it belongs to.
    format : str
        Image format, ``"png"`` (default) or ``"svg"`` / ``"jpeg"`` / ...
    dpi : int

    Returns
    -------
    str
        ``"data:image/png;base64,..."``.
    """
    fmt = _check_format(format)
    fig = _root_figure(fig_or_ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi)
    mime = _MIME.get(fmt, "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def save_figures(result: Any, outdir: str | Path, saved: Sequence[tuple[str, Callable[[Any], Any]]], *,
                 prefix: str, formats: str | Sequence[str], dpi: int) -> list[Path]:
    """The driver of every stage's ``save_all``: each ``(suffix, build)`` of ``saved`` draws
    ``build(result)`` and writes it as ``outdir/{prefix}_{suffix}.{fmt}`` for every format, each file
    atomically (a reader never sees half a file); ``outdir`` is created if needed and every format is
    checked before anything is drawn. The figures are drawn on several cores (forked processes, see
    :mod:`fairaudit.common.parallel`). Returns the paths in the order of ``saved``, all formats of one
    figure together."""
    from fairaudit.common.files import atomic_write
    from fairaudit.common.parallel import fork_map

    fmts = [_check_format(f) for f in ([formats] if isinstance(formats, str) else formats)]
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)

    def draw(item: tuple[str, Callable[[Any], Any]]) -> list[Path]:
        suffix, build = item
        fig = build(result)
        done = []
        for fmt in fmts:
            path = out / f"{prefix}_{suffix}.{fmt}"
            with atomic_write(path) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi)
            done.append(path)
        return done

    return [path for paths in fork_map(draw, list(saved)) for path in paths]


__all__ = [
    "group_colors", "fmr_fnmr", "det", "roc", "score_histograms", "histogram_grid", "cross_fmr",
    "by_group", "fairness", "save_all", "to_data_uri",
]
