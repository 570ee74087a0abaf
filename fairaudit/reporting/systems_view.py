"""The comparison-of-systems section's tables and figures, from a
:class:`~fairaudit.systems.SystemComparison`: the leaderboard, FMR and FNMR per system and group,
every fairness figure per system, the paired differences (those that hold after Holm's adjustment,
and all of them), the data section's table, and the two figures (DET small multiples, the
accuracy-fairness plane). Every caption names the policy and each system's threshold."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import pandas as pd

from fairaudit.data import POOLED
from fairaudit.reporting.entries import _Entry
from fairaudit.reporting.findings import LEVEL
from fairaudit.reporting.formatting import _fmt_like, _float, fmt_count
from fairaudit.reporting.systems import (
    RATE_NAMES,
    _blocked_families,
    _direction,
    _figure_label,
    _held,
    _level,
    _names,
    _p_cell,
    _range,
    _reason,
    _short_label,
    few_identities,
    policy_text,
    thresholds_text,
)
from fairaudit.reporting.views import _cell, _mark_cell, _rate_cell, _table
from fairaudit.verification import shown


# --------------------------------------------------------------------------
# tables
def _leaderboard_table(entry: _Entry, findings: list[dict], pct: str) -> dict[str, Any]:
    c = entry.result
    figure = str(c.params.get("figure"))
    marks = {f.get("system"): f for f in findings if f["result"] == entry.id and f["kind"] == "figure"}
    rows = []
    for _, r in c.leaderboard.iterrows():
        name = str(r["system"])
        v = _float(r[figure])
        lo, hi = _float(r[f"{figure}_ci_low"]), _float(r[f"{figure}_ci_high"])
        fair = _cell(r[figure], text=None if v is not None else "undefined",
                     sub=f"[{_fmt_like(lo, v)}, {_fmt_like(hi, v)}]" if v is not None and lo is not None else "",
                     title="" if v is not None else _reason(c, name, figure))
        worst = []
        for rate in ("fnmr", "fmr"):
            group = r[f"worst_{rate}_group"]
            ok = isinstance(group, str) and group != ""
            worst.append(_cell(text=shown(group) if ok else "n/a", numeric=False,
                               sub=f"{RATE_NAMES[rate]} {_fmt_like(r[f'worst_{rate}'], r[f'worst_{rate}'])}" if ok else ""))
        pareto = "yes" if bool(r["pareto"]) else ("no" if v is not None else "n/a")
        rank_a, rank_f = _float(r["rank_accuracy"]), _float(r["rank_fairness"])
        rows.append([
            _cell(None if rank_a is None else int(rank_a), text=None if rank_a is not None else "n/a"),
            _cell(text=name, numeric=False, cls="system"),
            _cell(text=f"{float(r['threshold']):.4g}", value=r["threshold"], numeric=True),
            _cell(r["fmr"]), _rate_cell(r, "fnmr"), _cell(r["eer"]),
            fair, _mark_cell(marks.get(name), v is not None),
            _cell(None if rank_f is None else int(rank_f), text=None if rank_f is not None else "n/a"),
            *worst,
            _cell(text=pareto, numeric=False, cls="pareto-yes" if pareto == "yes" else "",
                  title="" if v is not None else "not placed: the fairness figure is undefined"),
        ])
    label = _short_label(figure)
    cols = [("rank", "rank by pooled FNMR (1: the lowest)"), "system", ("threshold", "the system's own threshold"),
            ("pooled FMR", "FMR of every impostor pair at the system's threshold"),
            ("pooled FNMR", f"FNMR of every genuine pair at the system's threshold, {pct} CI below"),
            ("pooled EER", "EER of everyone (at its own EER threshold)"),
            (label, f"{_direction(figure)}; {pct} CI below"), "mark",
            ("fairness rank", f"rank by {label} (1: the fairest)"),
            ("worst FNMR group", "the group with the highest FNMR"), ("worst FMR group", "the group with the highest FMR"),
            ("Pareto front", "no other system is at least as good on pooled FNMR and the fairness figure, and "
                             "better on one")]
    return _table(cols, rows, caption=f"Systems ranked by pooled FNMR, each at its own threshold ({thresholds_text(c)}; "
                  f"policy: {policy_text(c)}). {label} ({_direction(figure)}) ranks fairness; {pct} intervals "
                  f"over {int(c.params.get('n_boot', 0)):,} replicates of one identity bootstrap shared by all "
                  "systems. A system whose figure is undefined gets no fairness rank and no place on the front.")


def _by_group_table(c: Any, pct: str) -> dict[str, Any]:
    first = c.audits[c.systems[0]]
    labels = [str(x) for x in first.by_group["label"]]
    board = c.leaderboard.set_index("system")
    frames = {}
    for name in c.systems:
        a = c.audits[name]
        bg = a.by_group.set_index(a.by_group["label"].astype(str))
        pooled = dict(a.overall)
        pooled.update({"fnmr_ci_low": board.loc[name, "fnmr_ci_low"], "fnmr_ci_high": board.loc[name, "fnmr_ci_high"]})
        frames[name] = {**{g: bg.loc[g] for g in labels}, POOLED: pd.Series(pooled)}
    rows = []
    for g in [*labels, POOLED]:
        n = first.by_group.set_index(first.by_group["label"].astype(str))["n_identities"].get(g) \
            if g != POOLED else first.overall.get("n_identities")
        cells = [_cell(text=shown(g) + (" (pooled)" if g == POOLED else ""), numeric=False),
                 _cell(text=fmt_count(n), value=n, numeric=True)]
        for rate in ("fnmr", "fmr"):
            block = [_rate_cell(frames[name][g], rate) for name in c.systems]
            values = [_float(frames[name][g][rate]) for name in c.systems]
            finite = [v for v in values if v is not None]
            # the pooled FMR is the policy's target for every system: nothing to single out
            if len(finite) > 1 and min(finite) < max(finite) and not (g == POOLED and rate == "fmr"):
                for cell, v in zip(block, values):
                    if v == min(finite):
                        cell["cls"] += " best"
            cells += block
        rows.append(cells)
    cols: list[Any] = ["group", ("identities", "identities of the group (the same samples in every system)")]
    for rate in ("fnmr", "fmr"):
        cols += [(f"{RATE_NAMES[rate]} · {name}", f"{RATE_NAMES[rate]} of system {name} at its threshold "
                  f"{c.audits[name].threshold:.4g}; {pct} CI below") for name in c.systems]
    n_boot = int(c.params.get("n_boot", 0))
    return _table(cols, rows, caption=f"FNMR and FMR per group and system, each system at its own threshold "
                  f"({thresholds_text(c)}; policy: {policy_text(c)}); {pct} intervals over {n_boot:,} shared "
                  "identity bootstrap replicates below each value; bold: the lowest of the systems. The pooled "
                  "FMR is set by the policy, so it has no interval.")


def _fairness_by_system_table(c: Any, pct: str) -> dict[str, Any]:
    first = c.audits[c.systems[0]]
    rows = []
    for figure in first.fairness.index:
        cells = [_cell(text=_figure_label(str(figure)), numeric=False, title=str(figure)),
                 _cell(text=_direction(str(figure)), numeric=False)]
        for name in c.systems:
            fair = c.audits[name].fairness
            row = fair.loc[figure] if figure in fair.index else pd.Series({"value": None})
            v = _float(row.get("value"))
            lo, hi = _float(row.get("ci_low")), _float(row.get("ci_high"))
            cells.append(_cell(v, text=None if v is not None else "undefined",
                               sub=f"[{_fmt_like(lo, v)}, {_fmt_like(hi, v)}]" if v is not None and lo is not None
                               and hi is not None else "",
                               title="" if v is not None else _reason(c, name, str(figure))))
        rows.append(cells)
    return _table(["figure", "direction", *c.systems], rows,
                  caption=f"Every fairness figure of every system at its own threshold ({thresholds_text(c)}; "
                          f"α = {c.params.get('alpha', 0.5):g}), {pct} intervals below; hover an undefined value "
                          "for the reason. Their paired differences are among the differences below.")


def _differences_table(c: Any, frame: pd.DataFrame, pct: str, caption: str) -> dict[str, Any]:
    rows = []
    for _, r in frame.iterrows():
        diff, p, ph = _float(r["difference"]), _float(r["p_value"]), _float(r["p_holm"])
        holds = "–" if ph is None else ("yes" if ph < LEVEL else "no")
        what = ("pooled " + RATE_NAMES.get(str(r["metric"]), str(r["metric"])) if r["scope"] == "pooled"
                else RATE_NAMES.get(str(r["metric"]), str(r["metric"])) if r["scope"] == "group"
                else _figure_label(str(r["metric"])))
        rows.append([
            _cell(text=str(r["system_a"]), numeric=False), _cell(text=str(r["system_b"]), numeric=False),
            _cell(text=what, numeric=False),
            _cell(text=shown(r["group"]) if r["scope"] == "group" else ("everyone" if r["scope"] == "pooled" else "—"),
                  numeric=False),
            _cell(r["value_a"]), _cell(r["value_b"]),
            _cell(diff, sub=_range(_float(r["ci_low"]), _float(r["ci_high"]), diff)),
            _cell(p, text=_p_cell(p)), _cell(ph, text=_p_cell(ph)),
            _cell(text=holds, numeric=False, cls="gap-yes" if holds == "yes" else ""),
        ])
    return _table(["system a", "system b", "figure", "group", "a", "b", ("a − b", f"paired difference, {pct} CI below"),
                   ("p", "two-sided bootstrap p-value of the paired difference"),
                   ("p (Holm)", "adjusted by Holm within the family: one pair of systems and one question"),
                   ("holds at 5 %", "Holm-adjusted p < 0.05")], rows, caption=caption)


# --------------------------------------------------------------------------
# the data section and the view
def systems_groups_table(c: Any) -> dict[str, Any]:
    """The data section's table of a comparison: samples, identities and pairs per group (the same
    samples for every system)."""
    first = c.audits[c.systems[0]]
    frame = pd.concat([first.by_group.reset_index(drop=True), pd.DataFrame([first.overall])], ignore_index=True)
    rows = [[_cell(text=shown(row["label"]), numeric=False)]
            + [_cell(text=fmt_count(row[k]), value=row[k], numeric=True)
               for k in ("n_identities", "n_samples", "n_genuine", "n_impostor")] for _, row in frame.iterrows()]
    return _table(["group", "identities", "samples", "genuine pairs", "impostor pairs"], rows,
                  caption=f"Samples, identities and pairs per group: the same for all {len(c.systems)} systems "
                          f"({_names(list(c.systems))}), which hold the same samples.")


def systems_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any], *,
                 figure: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Everything the comparison section of the template shows; ``figure`` is the views' ``_figure``."""
    from fairaudit.systems import plots

    c = entry.result
    pct = f"{100 * _level(c):g} %"
    fig_name = _short_label(str(c.params.get("figure")))
    board = c.leaderboard
    undefined = [str(s) for s, v in zip(board["system"], pd.to_numeric(board[c.params.get("figure")],
                                                                        errors="coerce")) if pd.isna(v)]
    left_out = (f" Not drawn, their {fig_name} being undefined: {_names(undefined)}." if undefined else "")
    # a curve needs FMR > 0 and FNMR > 0 on the log axes: no false non-match leaves little or none
    perfect = [f"{s} in {shown(g)}" for s in c.systems
               for g, v in zip(c.audits[s].by_group["label"], c.audits[s].by_group["fnmr"]) if _float(v) == 0]
    off_axes = (" Without a false non-match at its threshold a system draws little or no curve on the log "
                f"axes: {'; '.join(perfect)}." if perfect else "")
    figs = [
        figure(lambda: plots.det_by_group(c), alt="DET curves per group, one panel per group, every system overlaid",
               caption=f"DET curves (FNMR against FMR) per group, every system overlaid; markers: each system's "
                       f"operating point at its own threshold ({thresholds_text(c)}).{off_axes}", wide=True),
        figure(lambda: plots.accuracy_fairness(c), alt=f"Pooled FNMR against {fig_name}, one point per system",
               caption=f"Accuracy and fairness: each system's pooled FNMR at its own threshold against its "
                       f"{fig_name}, with {pct} intervals; filled and joined: the Pareto front.{left_out}"),
    ]
    d = c.differences
    held = _held(c)
    tested = int(pd.to_numeric(d["p_holm"], errors="coerce").notna().sum())
    floor, blocked, needed = _blocked_families(c)
    few = few_identities(c)
    n_boot = int(c.params.get("n_boot", 0))
    return {
        "id": entry.id, "name": entry.name, "systems": list(c.systems), "policy": policy_text(c),
        "thresholds": [{"system": s, "threshold": float(c.audits[s].threshold)} for s in c.systems],
        "n_boot": n_boot, "pct": pct, "figure": fig_name,
        "leaderboard": _leaderboard_table(entry, findings, pct),
        "by_group": _by_group_table(c, pct),
        "fairness": _fairness_by_system_table(c, pct),
        "held": _differences_table(c, held, pct, f"Paired differences a − b that hold at the 5 % level after "
                                   f"Holm's adjustment, each system at its own threshold ({thresholds_text(c)}); "
                                   f"{pct} intervals over {n_boot:,} shared replicates.") if len(held) else None,
        "differences": _differences_table(c, d, pct, f"Every paired difference a − b, each system at its own "
                                          f"threshold ({thresholds_text(c)}): FMR, FNMR and EER of every group, the "
                                          "pooled FNMR and every fairness figure, with bootstrap p-values, "
                                          "Holm-adjusted within each family (one pair of systems and one "
                                          "question); – : not tested (a group with fewer than "
                                          f"{int(c.params.get('min_identities', 30))} identities, the fairness "
                                          "figures beside one, or no replicate defining the difference)."),
        "n_differences": int(len(d)), "n_tested": tested, "n_held": int(len(held)),
        "untested": (f"Not tested: the differences of {_names([shown(g) for g in few])} (fewer than "
                     f"{int(c.params.get('min_identities', 30))} identities, min_identities) and of the fairness "
                     "figures, which compare every group." if few else ""),
        "blocked": (f"With {n_boot:,} replicates no bootstrap p-value falls below {floor:.2g}, so no difference "
                    f"can hold in the families of {_names(blocked)}: raise n_boot to at least {needed:,}.")
        if blocked else "",
        "figures": figs,
        "notes": [str(n) for n in c.notes],
    }
