"""The covariates section's tables and figures, from a
:class:`~fairaudit.covariates.CovariateResult`: what was audited, FNMR (and FMR) per covariate bin
per group with intervals and small-sample marks, the gap before and after adjustment and the
coefficients of each regression, the data section's table, and the figures of
:mod:`fairaudit.covariates.plots` (FNMR by bin, FNMR against each numeric covariate, FNMR by the gap
of a numeric covariate, FMR by bin, FMR heatmaps), drawn with the groups' readable names."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import pandas as pd

from fairaudit.covariates.bins import everyone_label
from fairaudit.reporting.covariates import (
    CLEAR_AFTER,
    SIDES,
    STATES,
    gap_state,
    group_key,
    level_of,
    models_of,
    names_text,
    not_fitted_text,
    sentences_of,
    verdict,
)
from fairaudit.reporting.entries import _Entry
from fairaudit.reporting.formatting import _float, _fmt_like, fmt_count, fmt_num
from fairaudit.reporting.views import _cell, _mark_cell, _table
from fairaudit.verification import shown
from fairaudit.verification.small_samples import RULE_OF_30

#: how the pairs of each kind of covariate are binned, by pairing
PAIRINGS = {("numeric", "lower"): "the lower of the two samples' values",
            ("numeric", "gap"): "the gap between the two samples' values",
            ("categorical", "lower"): "the level both samples share, or mixed"}
EVERYONE = "everyone"
_SIDE_TITLES = {"genuine": "False non-matches (genuine pairs, FNMR)", "impostor": "False matches (impostor "
                "comparisons within each group, FMR)"}


def _kind(r: Any, covariate: str) -> str:
    return str((r.params.get("covariate_kinds") or {}).get(covariate, "numeric"))


def _p_cell(p: Any) -> dict[str, Any]:
    v = _float(p)
    return _cell(v, text="–" if v is None else ("< 0.001" if v < 0.001 else f"{v:.2g}"))


def _or_cell(v: Any, lo: Any, hi: Any, *, title: str = "") -> dict[str, Any]:
    x = _float(v)
    ok = _float(lo) is not None and _float(hi) is not None
    return _cell(x, text=_fmt_like(x, x) if x is not None else "n/a", numeric=True, title=title,
                 sub=f"[{_fmt_like(lo, x)}, {_fmt_like(hi, x)}]" if ok and x is not None else "")


def _bins(part: pd.DataFrame) -> list[tuple[int, str]]:
    """(code, label) of a table's bins, in their order."""
    pairs = dict(zip(pd.to_numeric(part["bin_code"]).astype(int), part["bin"].astype(str)))
    return sorted(pairs.items())


def _columns(r: Any, part: pd.DataFrame) -> list[str | None]:
    """The groups of a table (result order), then None: everyone."""
    present = {group_key(g) for g in part["group"]}
    return [g for g in map(str, r.groups) if g in present] + ([None] if None in present else [])


# --------------------------------------------------------------------------
# tables
def _rate_cell(row: Any, few: int, errors: str) -> dict[str, Any]:
    rate, n = _float(row["rate"]), int(_float(row["n_pairs"]) or 0)
    if rate is None:
        return _cell(text="n/a", numeric=True, title="no pair in this bin")
    thin = bool(row.get("below_rule_of_30", False))
    small = int(_float(row.get("n_identities")) or 0) < few
    sub = ""
    if _float(row["ci_low"]) is not None and _float(row["ci_high"]) is not None:
        sub = f"[{fmt_num(row['ci_low'], digits=3)}, {fmt_num(row['ci_high'], digits=3)}]"
        sub += " †" if str(row.get("ci_method", "")) == "clopper-pearson" else ""
    sub += f"\n{fmt_count(row['n_errors'])}/{fmt_count(n)}"
    title = (f"{fmt_count(row['n_errors'])} {errors} of {fmt_count(n)} pairs, "
             f"{fmt_count(row['n_identities'])} identities")
    title += f"; fewer than {RULE_OF_30} {errors} (rule of 30)" if thin else ""
    title += f"; fewer than {few} identities (min_identities)" if small else ""
    text = _fmt_like(rate, rate) + (" *" if thin else "") + (" !" if small else "")
    return _cell(rate, text=text, sub=sub.strip(), numeric=True, title=title)


def rate_table(r: Any, rate: str, covariate: str, pairing: str) -> dict[str, Any] | None:
    """One rate per group (rows, then everyone) and bin (columns), with intervals, counts and marks."""
    frame = getattr(r, rate)
    part = frame[(frame["covariate"] == covariate) & (frame["pairing"] == pairing)]
    if part.empty:
        return None
    few = int(r.params.get("min_identities", 30))
    pct = f"{100 * level_of(r):g} %"
    word, errors = ("FNMR", "false non-matches") if rate == "fnmr" else ("FMR", "false matches")
    bins = _bins(part)
    cells = {(int(row["bin_code"]), group_key(row["group"])): row for _, row in part.iterrows()}
    rows = []
    for g in _columns(r, part):
        row = [_cell(text=shown(g), numeric=False) if g is not None else
               _cell(text=everyone_label(r.groups), numeric=False, cls="everyone",
                     title="every genuine pair" if rate == "fnmr" else
                     "every impostor comparison, also between groups")]
        for code, _ in bins:
            hit = cells.get((code, g))
            row.append(_rate_cell(hit, few, errors) if hit is not None else _cell(text="–", numeric=True))
        rows.append(row)
    how = PAIRINGS.get((_kind(r, covariate), pairing), pairing)
    subject = f"the {covariate} gap" if pairing == "gap" else covariate
    cols: list[Any] = ["group", *[(label, f"{word} where {how} is in {label}") for _, label in bins]]
    n_boot = int(r.params.get("n_boot", 0) or 0)
    ci = (f"{pct} intervals over {n_boot:,} identity bootstrap replicates below each value († Clopper–Pearson, "
          "where a bin is small)" if n_boot else "no bootstrap: intervals only where a bin is small (†)")
    whose = "genuine pairs" if rate == "fnmr" else "impostor comparisons of two samples of the group"
    caption = (f"{word} of the {whose} per group (rows) and bin of {subject} (columns: {how}) at threshold "
               f"{r.threshold:.4g}: {ci}, then {errors} / pairs. * fewer than {RULE_OF_30} {errors} (Doddington's "
               f"rule of 30: read the rate as coarse); ! fewer than {few} identities in the bin (min_identities).")
    if rate == "fmr":
        caption += f" {EVERYONE.capitalize()}: every impostor comparison, also between groups."
    return _table(cols, rows, caption=caption, sortable=False)


def audited_table(r: Any) -> dict[str, Any]:
    fr = r.fnmr
    rows = []
    for name in r.covariates:
        kind = _kind(r, name)
        part = fr[(fr["covariate"] == name) & (fr["pairing"] == "lower")]
        labels = [b for _, b in _bins(part)] if len(part) else []
        gap = fr[(fr["covariate"] == name) & (fr["pairing"] == "gap")]
        how = PAIRINGS[(kind, "lower")] + ("; FNMR also by " + PAIRINGS[(kind, "gap")] if len(gap) else "")
        rows.append([_cell(text=name, numeric=False, cls="code"), _cell(text=kind, numeric=False, cls="nowrap"),
                     _cell(text=str(len(labels)), value=len(labels), numeric=True),
                     _cell(text=" · ".join(labels), numeric=False, cls="bins"), _cell(text=how, numeric=False)])
    n_bins, curve = r.params.get("n_bins"), r.params.get("curve_bins")
    return _table(["covariate", "kind", "bins", ("bin labels", "a numeric covariate's quantile bins (or given edges); "
                   "a categorical one's levels and mixed"), ("a pair is binned by", "")], rows, sortable=False,
                  caption=f"The covariates audited: numeric ones in {n_bins} quantile bins (ties merge bins) unless "
                          f"edges were given, and in {curve} quantile bins for the FNMR curves.")


def gaps_table(r: Any, side: str, model: Mapping[str, Any], marks: Mapping[str, dict]) -> dict[str, Any]:
    pct = f"{100 * level_of(r):g} %"
    notes = any(str(n or "") for n in model["gaps"].get("note", []))
    rows = []
    for _, row in model["gaps"].iterrows():
        group = str(row["group"])
        f = marks.get(group)
        share = _float(row.get("explained"))
        state = gap_state(row)
        note = str(row.get("note") or "")
        cells = [
            _cell(text=shown(group), numeric=False),
            _or_cell(row["or_unadjusted"], row["ci_low_unadjusted"], row["ci_high_unadjusted"]),
            _p_cell(row["p_unadjusted"]),
            _or_cell(row["or_adjusted"], row["ci_low_adjusted"], row["ci_high_adjusted"]),
            _p_cell(row["p_adjusted"]),
            _cell(share, text="–" if share is None else f"{round(100 * share) + 0:.0f} %", numeric=True,
                  title=note or "1 − log(OR after) / log(OR before)"),
            _cell(text=STATES[state], numeric=False, cls="gap-yes" if state in CLEAR_AFTER else ""),
            _mark_cell(f, bool(f and f["defined"])),
        ]
        rows.append(cells + ([_cell(text=note, numeric=False, cls="reason")] if notes else []))
    event = "false non-match" if side == "genuine" else "false match"
    covs = names_text([str(c) for c in model.get("covariates") or []], limit=8) or "nothing"
    ref = shown(model.get("reference", ""))
    return _table([("group", f"against the reference group {ref}"),
                   ("OR before", f"odds ratio of a {event} against {ref}, group only; {pct} CI below"),
                   ("p before", "Wald p-value of the unadjusted odds ratio"),
                   ("OR after", f"odds ratio after adjusting for {covs}; {pct} CI below"),
                   ("p after", "Wald p-value of the adjusted odds ratio"),
                   ("share explained", "1 − log(OR after) / log(OR before): indicative only (odds ratios are not "
                                       "collapsible); above 100 %: the adjusted odds ratio is on the other side of 1"),
                   ("what happens", "survives: the adjusted interval excludes 1 on the same side as before"),
                   "mark", *(["note"] if notes else [])], rows, sortable=False,
                  caption=f"The gap before and after adjustment: the odds of a {event} of every group against the "
                          f"reference group {ref}, without and with {covs} in the model ({pct} Wald intervals "
                          "below). Marked on max(OR after, 1 / OR after) against the tolerance; a gap that "
                          "survives is at least review.")


def _per_text(per: str, labels: list[str]) -> str:
    for label in sorted(labels, key=len, reverse=True):
        per = per.replace(f"group '{label}'", f"group {shown(label)}")
    return per


def coefficients_table(r: Any, model: Mapping[str, Any]) -> dict[str, Any]:
    labels = list(map(str, r.groups))
    rows = []
    for _, row in model["coefficients"].iterrows():
        term, level = str(row["term"]), str(row.get("level") or "")
        rows.append([
            _cell(text=str(row["model"]), numeric=False), _cell(text=term, numeric=False),
            _cell(text=shown(level) if term == "group" else level, numeric=False),
            _cell(text=_per_text(str(row.get("per") or ""), labels), numeric=False),
            _or_cell(row["odds_ratio"], row["ci_low"], row["ci_high"]), _p_cell(row["p_value"]),
            _cell(text=str(row.get("note") or ""), numeric=False, cls="reason"),
        ])
    pct = f"{100 * level_of(r):g} %"
    return _table(["model", "term", "level", ("per", "what the odds ratio compares: a group or level against the "
                   "reference, a numeric covariate per standard deviation"), ("odds ratio", f"{pct} CI below"),
                   ("p", "Wald p-value"), "note"], rows, sortable=False,
                  caption="Every coefficient of both models as an odds ratio: groups against the reference group, "
                          "categorical levels against their reference level, numeric covariates per 1 SD.")


def fit_groups_table(model: Mapping[str, Any]) -> dict[str, Any] | None:
    frame = model.get("groups")
    if frame is None or not len(frame):
        return None
    rows = [[_cell(text=shown(row["group"]), numeric=False),
             _cell(text=fmt_count(row["n"]), value=row["n"], numeric=True),
             _cell(text=fmt_count(row["events"]), value=row["events"], numeric=True), _cell(row["rate"]),
             _cell(text=fmt_count(row["n_clusters"]), value=row["n_clusters"], numeric=True),
             _cell(text=str(row["status"]), numeric=False)] for _, row in frame.iterrows()]
    unit = "pairs" if model.get("side") == "genuine" else "comparisons"
    return _table(["group", unit, "errors", "rate", ("identities", "clusters of the standard errors (0: none)"),
                   "status"], rows, sortable=False, caption="What each group brings to the fits.")


def covariates_groups_table(r: Any) -> dict[str, Any]:
    """The data section's table of a covariate audit: identities and pairs per group."""
    bg = r.by_group.reset_index(drop=True)
    rows = [[_cell(text=shown(row["label"]), numeric=False)]
            + [_cell(text=fmt_count(row[k]), value=row[k], numeric=True) for k in ("n_identities", "n_genuine",
                                                                                   "n_impostor")]
            + [_cell(row["fnmr"]), _cell(row["fmr"])] for _, row in bg.iterrows()]
    return _table(["group", "identities", "genuine pairs", ("impostor pairs", "within the group"), "FNMR", "FMR"],
                  rows, caption=f"Identities and pairs per group, and the rates at the threshold {r.threshold:.4g} "
                                "that the covariate tables break down.")


# --------------------------------------------------------------------------
# figures
def display_result(r: Any) -> Any:
    """The result with its groups under their readable names (the codebook), for the figures: the
    covariate plots draw a group's label as it is."""
    names = {str(g): shown(g) for g in r.groups}
    if all(k == v for k, v in names.items()):
        return r

    def relabel(frame: pd.DataFrame) -> pd.DataFrame:
        if "group" not in frame.columns or frame.empty:
            return frame
        return frame.assign(group=[g if group_key(g) is None else names.get(str(g), g) for g in frame["group"]])

    return dataclasses.replace(r, groups=[names[str(g)] for g in r.groups], fnmr=relabel(r.fnmr),
                               fmr=relabel(r.fmr), fmr_cells=relabel(r.fmr_cells), fnmr_curve=relabel(r.fnmr_curve))


def _legend_below(build: Callable[[], Any]) -> Callable[[], Any]:
    """``build`` with its legend moved under the axes, in columns (as the score histograms place
    theirs), the figure made taller to hold it: no legend covers a line or an interval, and the
    figure keeps its width, so its text stays legible beside another figure."""
    def drawn() -> Any:
        fig = build()
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is None:
                continue
            title = legend.get_title().get_text()
            handles, labels = ax.get_legend_handles_labels()
            legend.remove()
            ncols = min(3, len(labels)) or 1
            fig.legend(handles, labels, title=title, loc="outside lower center", ncols=ncols, fontsize="small",
                       title_fontsize="small", frameon=False)
            w, h = fig.get_size_inches()
            fig.set_size_inches(w, h + 0.45 + 0.2 * -(-len(labels) // ncols))
            break
        return fig
    return drawn


def covariate_figures(r: Any, covariate: str, figure: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    """The figures of one covariate, as :func:`fairaudit.covariates.plots.figures` lists them."""
    from fairaudit.covariates import plots

    shown_r = display_result(r)
    pct = f"{100 * level_of(r):g} %"
    thr = f"{r.threshold:.4g}"
    kind = _kind(r, covariate)
    has = lambda frame, pairing="lower": not frame[(frame["covariate"] == covariate)  # noqa: E731
                                                   & (frame["pairing"] == pairing)].empty
    band = "shaded bands" if kind == "numeric" else "error bars"
    out = [figure(_legend_below(lambda: plots.rates_by_bin(shown_r, covariate)),
                  alt=f"FNMR per bin of {covariate}, one line per group and one for everyone",
                  caption=f"FNMR per bin of {covariate} ({PAIRINGS[(kind, 'lower')]}) within each group at "
                          f"threshold {thr}; dashed black: everyone; {band}: {pct} intervals.")]
    if kind == "numeric":
        if not r.fnmr_curve[r.fnmr_curve["covariate"] == covariate].empty:
            out.append(figure(_legend_below(lambda: plots.fnmr_curve(shown_r, covariate)),
                              alt=f"FNMR against {covariate}, one line per group",
                              caption=f"FNMR against {covariate} (the lower of the two samples' values): "
                                      f"{r.params.get('curve_bins')} quantile bins of the genuine pairs, each point at "
                                      f"its bin's median, with {pct} intervals."))
        if has(r.fnmr, "gap"):
            out.append(figure(_legend_below(lambda: plots.rates_by_bin(shown_r, covariate, pairing="gap")),
                              alt=f"FNMR per bin of the {covariate} gap between the two samples",
                              caption=f"FNMR per bin of the {covariate} gap between the two samples of a genuine "
                                      f"pair, per group, with {pct} intervals."))
    if has(r.fmr):
        out.append(figure(_legend_below(lambda: plots.rates_by_bin(shown_r, covariate, rate="fmr", log=True)),
                          alt=f"FMR per bin of {covariate}, log scale, one line per group",
                          caption=f"FMR per bin of {covariate} ({PAIRINGS[(kind, 'lower')]}), impostor comparisons "
                                  f"of two samples of one group, log scale ({pct} intervals); a bin without a false "
                                  "match has no point on the log axis."))
        if not r.fmr_cells[r.fmr_cells["covariate"] == covariate].empty:
            out.append(figure(lambda: plots.fmr_heatmap(shown_r, covariate),
                              alt=f"Heatmaps of FMR over the {covariate} bins of the two samples, one per group",
                              caption=f"FMR over the {covariate} bin of one sample (columns) and of the other (rows) "
                                      "of an impostor pair, one panel per group and one for every impostor "
                                      "comparison; log colour scale, the rate in every cell (0: no false match; "
                                      "n/a: no pair).", wide=True))
    return out


# --------------------------------------------------------------------------
# the view
def covariates_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any], *,
                    figure: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Everything the covariates section of the template shows; ``figure`` is the views' ``_figure``."""
    r = entry.result
    pct = f"{100 * level_of(r):g} %"
    mine = [f for f in findings if f["result"] == entry.id and f["kind"] == "figure"]
    blocks, figs = [], []
    for name in r.covariates:
        block_figs = covariate_figures(r, name, figure)
        figs += block_figs
        kind = _kind(r, name)
        blocks.append({"name": name, "kind": kind, "figures": block_figs,
                       "fnmr": rate_table(r, "fnmr", name, "lower"),
                       "gap": rate_table(r, "fnmr", name, "gap") if kind == "numeric" else None,
                       "fmr": rate_table(r, "fmr", name, "lower")})
    models = []
    for side, rate, _, _ in SIDES:
        model = models_of(r).get(side)
        if model is None:
            continue
        marks = {str(f.get("group")): f for f in mine if f.get("side") == side}
        models.append({"side": side, "title": _SIDE_TITLES[side], "gaps": gaps_table(r, side, model, marks),
                       "coefficients": coefficients_table(r, model), "groups": fit_groups_table(model),
                       "n": model.get("n"), "reference": shown(model.get("reference", "")),
                       "notes": [str(n) for n in model.get("notes") or []]})
    said = verdict(r)
    n_boot = int(r.params.get("n_boot", 0) or 0)
    return {
        "id": entry.id, "name": entry.name, "threshold": r.threshold,
        "policy": (r.policy or {}).get("description", ""), "by": " & ".join(map(str, r.by)),
        "covariates": [{"name": c, "kind": _kind(r, c)} for c in r.covariates], "pct": pct, "n_boot": n_boot,
        "min_identities": int(r.params.get("min_identities", 30)), "audited": audited_table(r),
        "verdict": said["lines"], "sentences": sentences_of(r),
        "not_fitted": "" if models_of(r) else not_fitted_text(r),
        "blocks": blocks, "models": models, "figures": figs,
        "no_fmr": not len(r.fmr), "notes": [str(n) for n in r.notes],
    }
