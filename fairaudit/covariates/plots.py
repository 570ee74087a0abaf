"""Figures of a covariate audit (:class:`~fairaudit.covariates.CovariateResult`).

:func:`rates_by_bin`: FNMR (or FMR) per covariate bin, one line per group with its intervals.
:func:`fnmr_curve`: FNMR against a numeric covariate's lower value per group (e.g. FNMR against
quality). :func:`fmr_heatmap`: FMR over (bin of one sample, bin of the other), one panel per
group, NIST-style (a log colour scale, the rate written in every cell). :func:`save_all` writes
them all. The conventions of :mod:`fairaudit.verification.plots` hold: plain Figures, user text
drawn literally, matplotlib imported inside the functions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from fairaudit.common import errors
from fairaudit.common.figures import DPI, literal, save_figures, safe_filename
from fairaudit.covariates.bins import everyone_label
from fairaudit.verification.plot_style import _log_ticks, _rotate_ticks, group_colors

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

_RATE_LABEL = {"fnmr": "FNMR (false non-match rate)", "fmr": "FMR (false match rate)"}


def _figure(figsize: tuple[float, float]) -> "Figure":
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _check(result: Any, covariate: str, rate: str = "fnmr") -> None:
    if rate not in _RATE_LABEL:
        raise errors.FairauditInputError(f"rate={rate!r} must be 'fnmr' or 'fmr'.")
    if covariate not in result.covariates:
        raise errors.FairauditInputError(
            f"covariate={covariate!r} was not audited; audited: {result.covariates}. Fix: pick one of those.")


def _lines(ax, part, colors, x_of, *, log: bool, joined: bool = True) -> bool:
    """One line (or, ``joined=False``, points with error bars) per group and one for everyone."""
    drawn = False
    keys = [None if g is None or (isinstance(g, float) and math.isnan(g)) else str(g) for g in part["group"]]
    order = list(dict.fromkeys(keys))
    order = [k for k in order if k is not None] + ([None] if None in order else [])
    for n, key in enumerate(order):
        sub = part[np.array([k == key for k in keys])].sort_values("bin_code")
        x = np.asarray(x_of(sub), dtype=float)
        if not joined:  # side by side within a level
            x = x + (n - (len(order) - 1) / 2) * 0.08
        y = sub["rate"].to_numpy(dtype=float)
        lo = sub["ci_low"].to_numpy(dtype=float)
        hi = sub["ci_high"].to_numpy(dtype=float)
        if log:
            y = np.where(y > 0, y, np.nan)
            lo = np.where(lo > 0, lo, np.nan)
        color = "black" if key is None else colors.get(key, "0.5")
        label = literal(everyone_label(k for k in order if k is not None) if key is None else key)
        if joined:
            ax.plot(x, y, label=label, color=color, marker="o", lw=1.6, ms=4, ls="--" if key is None else "-")
            ok = np.isfinite(lo) & np.isfinite(hi)
            if ok.any():
                ax.fill_between(x[ok], lo[ok], hi[ok], color=color, alpha=0.12, lw=0)
        else:
            err = np.vstack([np.where(np.isfinite(lo), y - lo, 0), np.where(np.isfinite(hi), hi - y, 0)])
            ax.errorbar(x, y, yerr=np.clip(np.nan_to_num(err), 0, None), label=label, color=color,
                        marker="s" if key is None else "o", ms=5, ls="none", capsize=3, lw=1.2)
        drawn = drawn or bool(np.isfinite(y).any())
    return drawn


def rates_by_bin(result: Any, covariate: str, *, rate: str = "fnmr", pairing: str = "lower",
                 log: bool = False) -> "Figure":
    """FNMR or FMR per bin of ``covariate`` (``pairing`` "lower" or, for FNMR of a numeric
    covariate, "gap"), one line per group and one for everyone, with the bootstrap intervals."""
    _check(result, covariate, rate)
    frame = getattr(result, rate)
    part = frame[(frame["covariate"] == covariate) & (frame["pairing"] == pairing)]
    if part.empty:
        raise errors.FairauditInputError(
            f"no {rate.upper()} rows for covariate={covariate!r} with pairing={pairing!r}. Fix: pairing='lower' "
            "(and 'gap' only for FNMR of a numeric covariate).")
    fig = _figure((6.4, 3.8))
    ax = fig.add_subplot()
    labels = list(dict.fromkeys(part.sort_values("bin_code")["bin"].astype(str)))
    numeric = result.params["covariate_kinds"].get(covariate) == "numeric"
    _lines(ax, part, group_colors(result.groups), lambda sub: sub["bin_code"].to_numpy(), log=log,
           joined=numeric)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels([literal(b) for b in labels])
    _rotate_ticks(ax, labels, over=5)
    what = {"lower": "lower of the two samples" if numeric else "level both samples share, or mixed", "gap": "gap between the two samples"}[pairing]
    ax.set_xlabel(literal(f"{covariate} ({what})"))
    ax.set_ylabel(_RATE_LABEL[rate])
    if log:
        ax.set_yscale("log")
        _log_ticks(ax.yaxis)
    else:
        ax.set_ylim(bottom=0)
    subject = f"{covariate} gap" if pairing == "gap" else covariate
    ax.set_title(literal(f"{rate.upper()} by {subject} at threshold {result.threshold:.4g}"), fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", title=literal(" & ".join(result.by)), title_fontsize="small")
    return fig


def fnmr_curve(result: Any, covariate: str) -> "Figure":
    """FNMR against the lower value of a numeric covariate of the genuine pairs, per group (each
    point a quantile bin at its median value), with the bootstrap intervals."""
    _check(result, covariate)
    part = result.fnmr_curve[result.fnmr_curve["covariate"] == covariate]
    if part.empty:
        raise errors.FairauditInputError(
            f"covariate={covariate!r} has no FNMR curve: curves are drawn for numeric covariates "
            f"({[c for c, k in result.params['covariate_kinds'].items() if k == 'numeric']}).")
    fig = _figure((6.4, 3.8))
    ax = fig.add_subplot()
    _lines(ax, part, group_colors(result.groups), lambda sub: sub["x"].to_numpy(dtype=float), log=False)
    ax.set_xlabel(literal(f"{covariate} (lower of the two samples)"))
    ax.set_ylabel(_RATE_LABEL["fnmr"])
    ax.set_ylim(bottom=0)
    ax.set_title(literal(f"FNMR against {covariate} at threshold {result.threshold:.4g}"), fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", title=literal(" & ".join(result.by)), title_fontsize="small")
    return fig


def fmr_heatmap(result: Any, covariate: str, *, groups: Sequence[str] | None = None,
                everyone: bool = True) -> "Figure":
    """FMR over (bin of one sample, bin of the other) of the impostor comparisons within each
    group (and of all impostor comparisons), on one log colour scale; every cell is labelled."""
    from matplotlib.colors import LogNorm

    _check(result, covariate)
    cells = result.fmr_cells[result.fmr_cells["covariate"] == covariate]
    if cells.empty:
        raise errors.FairauditInputError(
            f"covariate={covariate!r} has no FMR cells (the impostor tables were skipped: see the notes).")
    chosen = list(result.groups) if groups is None else [str(g) for g in groups]
    unknown = [g for g in chosen if g not in result.groups]
    if unknown:
        raise errors.FairauditInputError(f"groups names {unknown[0]!r}, not a group of the result "
                                         f"({result.groups}).")
    panels = [(g, result.heatmap(covariate, g)) for g in chosen] + (
        [(None, result.heatmap(covariate, None))] if everyone else [])
    values = np.concatenate([p.to_numpy().ravel() for _, p in panels])
    positive = values[np.isfinite(values) & (values > 0)]
    lo, hi = (positive.min(), positive.max()) if positive.size else (1e-6, 1.0)
    if hi <= lo:
        lo, hi = lo / 10, hi * 10
    norm = LogNorm(vmin=lo, vmax=hi)
    k = panels[0][1].shape[0]
    cols = min(len(panels), 3)
    rows = math.ceil(len(panels) / cols)
    size = 1.2 + 0.55 * k
    fig = _figure((cols * size + 1.2, rows * size + 0.6))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    image = None
    for ax, (group, table) in zip(axes, panels):
        data = table.to_numpy(dtype=float)
        shown = np.where(data > 0, data, np.nan)
        image = ax.imshow(shown, norm=norm, cmap="viridis", origin="lower")
        for i in range(k):
            for j in range(k):
                v = data[i, j]
                text = "n/a" if not np.isfinite(v) else ("0" if v == 0 else f"{v:.1e}".replace("e-0", "e-"))
                light = np.isfinite(shown[i, j]) and norm(shown[i, j]) < 0.55
                ax.text(j, i, text, ha="center", va="center", fontsize="x-small",
                        color="white" if light else "black")
        names = [literal(x) for x in table.index]
        ax.set_xticks(range(k))
        ax.set_xticklabels(names, rotation=45, ha="right", fontsize="x-small")
        ax.set_yticks(range(k))
        ax.set_yticklabels(names, fontsize="x-small")
        ax.set_title(literal(everyone_label(result.groups) + " (all impostor pairs)" if group is None else group),
                     fontsize="small")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    fig.supxlabel(literal(f"{covariate} of one sample"), fontsize="small")
    fig.supylabel(literal(f"{covariate} of the other sample"), fontsize="small")
    if image is not None:
        bar = fig.colorbar(image, ax=axes[:len(panels)].tolist(), shrink=0.8)
        bar.set_label("FMR", fontsize="small")
    fig.suptitle(literal(f"FMR by {covariate} of the two samples, threshold {result.threshold:.4g}"),
                 fontsize="medium")
    return fig


def figures(result: Any) -> list[tuple[str, Any]]:
    """``(suffix, build)`` of every figure :func:`save_all` writes."""
    out: list[tuple[str, Any]] = []
    kinds = result.params.get("covariate_kinds", {})
    for name in result.covariates:
        tag = safe_filename(name)
        out.append((f"{tag}_fnmr", lambda r, n=name: rates_by_bin(r, n)))
        if kinds.get(name) == "numeric":
            if not result.fnmr_curve[result.fnmr_curve["covariate"] == name].empty:
                out.append((f"{tag}_fnmr_curve", lambda r, n=name: fnmr_curve(r, n)))
            if not result.fnmr[(result.fnmr["covariate"] == name) & (result.fnmr["pairing"] == "gap")].empty:
                out.append((f"{tag}_fnmr_gap", lambda r, n=name: rates_by_bin(r, n, pairing="gap")))
        if not result.fmr[result.fmr["covariate"] == name].empty:
            out.append((f"{tag}_fmr", lambda r, n=name: rates_by_bin(r, n, rate="fmr", log=True)))
            out.append((f"{tag}_fmr_heatmap", lambda r, n=name: fmr_heatmap(r, n)))
    return out


def save_all(result: Any, outdir: str | Path, *, formats: str | Sequence[str] = "png", dpi: int = DPI,
             prefix: str = "covariates") -> list[Path]:
    """Write every figure of :func:`figures` to ``outdir`` (each file atomically)."""
    return save_figures(result, outdir, figures(result), prefix=prefix, formats=formats, dpi=dpi)


__all__ = ["rates_by_bin", "fnmr_curve", "fmr_heatmap", "figures", "save_all"]
