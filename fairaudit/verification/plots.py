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

from pathlib import Path
from typing import Any, Callable, Sequence

from fairaudit.common.figures import (  # noqa: F401 - public through fairaudit.plot
    DPI,
    NOT_A_FIGURE,
    UNKNOWN_FORMAT,
    _check_format,
    _root_figure,
    literal,
    safe_filename,
    save_figures,
    to_data_uri,
)
from fairaudit.data import POOLED  # noqa: F401 - importable from here, as it was

# the figures, public through fairaudit.plot, imported in the order of the reference page
from fairaudit.verification.plot_style import (  # noqa: F401
    display_labels,
    shown,
    UNKNOWN_GROUP,
    EMPTY_GROUPS,
    NOT_AXES,
    FMR_LABEL,
    FNMR_LABEL,
    TMR_LABEL,
    THRESHOLD_LABEL,
    SCORE_LABEL,
    GENUINE_LABEL,
    IMPOSTOR_LABEL,
    POOLED_LABEL,
    OKABE_ITO,
    TOL_MUTED,
    POOLED_COLOR,
    THRESHOLD_COLOR,
    IMPOSTOR_COLOR,
    group_colors,
)
from fairaudit.verification.plot_curves import UNKNOWN_SCALE, NORMAL_SCALE_NEEDS_SCIPY, fmr_fnmr, det, roc  # noqa: F401
from fairaudit.verification.plot_scores import BAD_NCOLS, score_histograms, histogram_grid  # noqa: F401
from fairaudit.verification.plot_groups import (  # noqa: F401
    UNKNOWN_METRIC,
    METRIC_LABELS,
    FAIRNESS_NAMES,
    FAIR_VALUE,
    cross_fmr,
    by_group,
    fairness,
    fairness_panels,
    RATIO_FIGURES,
)

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
    ("fairness", lambda r: fairness_panels(r)),
)


def save_all(result: Any, outdir: str | Path, *, prefix: str = "verification",
             formats: str | Sequence[str] = ("png",), dpi: int = DPI) -> list[Path]:
    """Write every figure of the result to ``outdir`` and return the paths.

    Files are ``{prefix}_fmr_fnmr``, ``_det``, ``_roc``, ``_histograms`` (the
    grid of :func:`histogram_grid`), ``_cross_fmr``, ``_by_group_fnmr``,
    ``_by_group_fmr`` and ``_fairness``, each with the suffix of every format
    in ``formats``, each written atomically (a reader never sees half a file).
    ``outdir`` is created if needed. The figures are drawn on several cores
    (forked processes, see :mod:`fairaudit.common.parallel`) and never
    registered with pyplot, so nothing global is left open.

    Returns
    -------
    list of pathlib.Path
        In the order above, all formats of one figure together.
    """
    return save_figures(result, outdir, _SAVED, prefix=prefix, formats=formats, dpi=dpi)


#: the names this module has defined (``literal``, ``safe_filename``, ``to_data_uri``, ``DPI`` ... of
#: :mod:`fairaudit.common.figures` are importable from it too)
__all__ = [
    "UNKNOWN_GROUP", "EMPTY_GROUPS", "UNKNOWN_METRIC", "UNKNOWN_SCALE", "NORMAL_SCALE_NEEDS_SCIPY",
    "BAD_NCOLS", "NOT_AXES", "FMR_LABEL", "FNMR_LABEL", "TMR_LABEL", "THRESHOLD_LABEL", "SCORE_LABEL",
    "GENUINE_LABEL", "IMPOSTOR_LABEL", "POOLED_LABEL", "METRIC_LABELS", "FAIRNESS_NAMES", "FAIR_VALUE",
    "OKABE_ITO", "TOL_MUTED", "POOLED_COLOR", "THRESHOLD_COLOR", "IMPOSTOR_COLOR",
    "group_colors", "fmr_fnmr", "det", "roc", "score_histograms", "histogram_grid", "cross_fmr",
    "by_group", "fairness", "fairness_panels", "RATIO_FIGURES", "display_labels", "shown", "save_all",
]
