"""The findings of a report: one JSON-safe finding per headline figure, group comparison and probe
of every result, each with a plain-language sentence and, for a figure, its mark against the
tolerances."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from fairaudit.common.serialize import to_jsonable
from fairaudit.data import POOLED
from fairaudit.verification import shown
from fairaudit.reporting.entries import _Entry
from fairaudit.reporting.formatting import _ci_text, _float, _fmt_like, _g, _target, fmt_num
from fairaudit.reporting.tolerances import (
    DEFAULT_TOLERANCES,
    FAIR_VALUE,
    FIGURE_NAMES,
    _ci_marks,
    _tolerance_text,
    mark,
)

#: verification figures shown among the findings, in order
VERIFICATION_HEADLINE = ("fnmr_max_min", "fmr_max_min", "fdr", "garbe", "inequity")
#: classification figures shown among the findings (all six are marked in the classification section)
CLASSIFICATION_HEADLINE = ("accuracy_difference", "equalized_odds_difference", "demographic_parity_difference")
#: order of the classification figures in findings
CLASSIFICATION_ORDER = ("accuracy_difference", "accuracy_ratio", "equalized_odds_difference",
                        "equalized_odds_ratio", "demographic_parity_difference", "demographic_parity_ratio")
#: classification figures defined for binary targets only
BINARY_ONLY = frozenset({"demographic_parity_difference", "demographic_parity_ratio",
                         "equalized_odds_difference", "equalized_odds_ratio"})


def _finding(entry: _Entry, *, key: str, kind: str, sentence: str, figure: str | None = None,
             label: str | None = None, model: str | None = None, value: Any = None, ci_low: Any = None,
             ci_high: Any = None, ci: float | None = None, defined: bool = True, reason: str = "",
             tolerance: Mapping[str, Any] | None = None, headline: bool = True,
             marked: bool = False, extra: dict | None = None) -> dict[str, Any]:
    """One finding (a JSON-safe dict): see docs/reference/json-schema.md."""
    m = mark(value, tolerance) if (marked and defined) else None
    return to_jsonable({
        "id": f"{entry.id}/{key}",
        "result": entry.id,
        "kind": kind,
        "figure": figure,
        "label": label or (FIGURE_NAMES.get(figure, figure) if figure else None),
        "model": model,
        "value": _float(value),
        "ci_low": _float(ci_low),
        "ci_high": _float(ci_high),
        "ci": ci,
        "defined": bool(defined),
        "reason": reason,
        "better": (DEFAULT_TOLERANCES.get(figure or "", {}) or {}).get("better"),
        "fair_value": FAIR_VALUE.get(figure or ""),
        "tolerance": dict(tolerance) if (marked and tolerance is not None) else None,
        "mark": m,
        "ci_marks": _ci_marks(ci_low, ci_high, tolerance) if (marked and m) else [],
        "headline": bool(headline),
        "sentence": sentence,
        **(extra or {}),
    })


def _mark_clause(m: str | None, tolerance: Mapping[str, Any] | None, ci_marks: Sequence[str]) -> str:
    if m is None:
        return ""
    text = f": {m} ({_tolerance_text(tolerance)})"
    if len(ci_marks) > 1:
        text += f"; its interval spans {ci_marks[0]} to {ci_marks[-1]}"
    return text


def _strip_undefined(reason: str) -> str:
    reason = (reason or "").strip()
    return reason[len("undefined: "):] if reason.startswith("undefined: ") else reason


def _where(result: Any) -> str:
    policy = result.policy or {}
    thr = f"{result.threshold:.4g}"
    if policy.get("kind") == "fmr":
        on = f" on reference group {policy['group']!r}" if policy.get("group") is not None else ""
        return f"At FMR {_target(policy['value'])}{on} (threshold {thr})"
    if policy.get("kind") == "fixed" and policy.get("source"):
        return f"At the threshold {thr} chosen by a previous audit"
    if policy.get("kind") == "eer":
        return f"At the pooled EER threshold ({thr})"
    if policy.get("kind") == "fpir":
        return f"At a pooled FPIR of {_target(policy['value'])} (threshold {thr})"
    return f"At the fixed threshold {thr}"


def _group_rate(row: pd.Series, rate: str, level: float, *, nested: bool = False) -> str:
    """``0.105 (95 % CI 0.07–0.136)``, or ``0.105, 95 % CI 0.07–0.136`` inside parentheses."""
    value = _fmt_like(row[rate], row[rate])
    ci = _ci_text(row.get(f"{rate}_ci_low"), row.get(f"{rate}_ci_high"), level, ref=row[rate])
    if not ci:
        return value
    return f"{value}, {ci}" if nested else f"{value} ({ci})"


def _in_sentence(name: str) -> str:
    """A figure's name as written inside a sentence ("Inequity rate" -> "inequity rate", "FDR" stays)."""
    return name[0].lower() + name[1:] if len(name) > 1 and name[1].islower() else name


#: significance level of the comparisons' verdicts
LEVEL = 0.05


def _verdict(p: float, lo: float | None, n_tests: int, n_perm: int) -> str:
    floor = min(1.0, n_tests / (n_perm + 1)) if n_perm else 0.0
    if p < LEVEL and (lo is None or lo > 1):
        return "a real gap at the 5 % level"
    if n_perm and p <= floor * (1 + 1e-9):
        return (f"the smallest adjusted p-value {n_perm:,} permutations allow; rerun with more "
                "permutations (n_perm) to tell")
    return "not distinguishable from noise at the 5 % level"


def _tested_clause(result: Any, rate: str, word: str, high: str, other: str | None, level: float) -> str:
    """What the comparisons table says about ``high`` against ``other`` (a group) or, with ``other``
    None, against the other groups pooled: ratio, interval, Holm-adjusted p-value and verdict."""
    table = getattr(result, "comparisons", None)
    if table is None or not len(table) or "p_holm" not in table.columns:
        return ""
    rows = table[table["metric"] == rate]
    if other is None:
        match = rows[(rows["kind"] == "vs_rest") & (rows["group_a"] == high)]
        flip = False
    else:
        match = rows[(rows["kind"] == "pair") & (((rows["group_a"] == high) & (rows["group_b"] == other))
                                                 | ((rows["group_a"] == other) & (rows["group_b"] == high)))]
        flip = bool(len(match)) and match.iloc[0]["group_a"] != high
    if not len(match):
        return ""
    row = match.iloc[0]
    ratio, lo, hi = _float(row["ratio"]), _float(row["ratio_ci_low"]), _float(row["ratio_ci_high"])
    if flip:
        ratio = None if not ratio else 1.0 / ratio
        lo, hi = (None if not hi else 1.0 / hi), (None if not lo else 1.0 / lo)
    p = _float(row["p_holm"])
    if ratio is None or p is None:
        return ""
    interval = f"{100 * level:.0f} % CI {lo:.3g}–{hi:.3g}; " if lo is not None and hi is not None else ""
    p_text = "p < 0.001" if p < 0.001 else f"p = {p:.2g}"
    n = int(table["p_holm"].notna().sum())
    whom = f"{shown(other)}'s" if other is not None else "that of the other groups pooled"
    verdict = _verdict(p, lo, n, int(_float(row.get("n_perm")) or 0))
    return (f" {shown(high)}'s {word} is {ratio:.3g}× {whom} ({interval}{p_text} after Holm's adjustment "
            f"over {n} comparisons): {verdict}.")


def _extremes(bg: pd.DataFrame, rate: str) -> tuple[pd.DataFrame, pd.Series, pd.Series, pd.Series] | None:
    """The groups with a defined ``rate``, its values and the rows of the highest and the lowest
    group (None with fewer than two such groups)."""
    ok = bg[pd.to_numeric(bg[rate], errors="coerce").notna()]
    if len(ok) < 2:
        return None
    values = pd.to_numeric(ok[rate])
    return ok, values, ok.loc[values.idxmax()], ok.loc[values.idxmin()]


def _overlap_clause(a: tuple, b: tuple) -> str:
    """Whether the intervals ``a`` and ``b`` of two groups overlap ('' without both)."""
    if None in a or None in b:
        return ""
    overlap = a[0] <= b[1] and b[0] <= a[1]
    return " Their intervals overlap, so this ordering is not certain." if overlap else " Their intervals do not overlap."


def _verification_findings(entry: _Entry, tol: Mapping[str, Any]) -> list[dict[str, Any]]:
    r = entry.result
    level = float(r.params.get("ci", 0.95))
    bg = r.by_group.reset_index(drop=True)
    out: list[dict[str, Any]] = []
    where = _where(r)
    for rate, word in (("fnmr", "FNMR"), ("fmr", "FMR")):
        extremes = _extremes(bg, rate)
        if extremes is None:
            continue
        _, _, hi_row, lo_row = extremes
        hi_v, lo_v = float(hi_row[rate]), float(lo_row[rate])
        hi_l, lo_l = str(hi_row["label"]), str(lo_row["label"])
        if hi_v == lo_v:
            sentence = f"{where}, every group has the same {word}, {fmt_num(hi_v, digits=3)}."
        else:
            tail = (f"{hi_v / lo_v:.3g}× that of group {shown(lo_l)}" if lo_v > 0
                    else f"while group {shown(lo_l)} has none")
            sentence = (f"{where}, the {word} of group {shown(hi_l)} is {_group_rate(hi_row, rate, level)}, "
                        f"the highest; {tail} ({_group_rate(lo_row, rate, level, nested=True)}), the lowest.")
            a = (_float(hi_row.get(f"{rate}_ci_low")), _float(hi_row.get(f"{rate}_ci_high")))
            b = (_float(lo_row.get(f"{rate}_ci_low")), _float(lo_row.get(f"{rate}_ci_high")))
            sentence += _tested_clause(r, rate, word, hi_l, lo_l, level) or _overlap_clause(a, b)
        out.append(_finding(
            entry, key=f"{rate}_by_group", kind="comparison", figure=None, label=f"{word} by group",
            value=(hi_v / lo_v if lo_v > 0 else None), sentence=sentence,
            extra={"rate": rate, "threshold": r.threshold,
                   "highest": {"group": hi_l, "value": hi_v, "ci_low": _float(hi_row.get(f"{rate}_ci_low")),
                               "ci_high": _float(hi_row.get(f"{rate}_ci_high"))},
                   "lowest": {"group": lo_l, "value": lo_v, "ci_low": _float(lo_row.get(f"{rate}_ci_low")),
                              "ci_high": _float(lo_row.get(f"{rate}_ci_high"))}}))
    out += _fairness_findings(entry, VERIFICATION_HEADLINE, tol)
    return out


def _fairness_findings(entry: _Entry, figures: Sequence[str], tol: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One marked finding per fairness figure of ``entry.result.fairness`` named in ``figures`` (in
    that order): the value, its interval and its mark against the tolerances, in a sentence."""
    r = entry.result
    level = float(r.params.get("ci", 0.95))
    n_boot = int(r.params.get("n_boot", 0) or 0)
    out: list[dict[str, Any]] = []
    fair = r.fairness
    alpha = r.params.get("alpha")
    n_groups = len(r.by_group)
    for figure in figures:
        if figure not in fair.index:
            continue
        row = fair.loc[figure]
        name = _in_sentence(FIGURE_NAMES[figure])
        defined = bool(row.get("defined", True)) and _float(row["value"]) is not None
        tolerance = tol.get(figure)
        if not defined:
            reason = _strip_undefined(str(row.get("reason") or "")) or "the figure is not a finite number."
            sentence = f"The {name} is undefined: {reason}"
        else:
            value = _fmt_like(row["value"], row["value"])
            ci = _ci_text(row.get("ci_low"), row.get("ci_high"), level, ref=row["value"])
            detail = f" ({ci})" if ci else (" (no confidence interval: the audit ran without bootstrap)"
                                             if n_boot == 0 else "")
            weight = f" with α = {_g(alpha)}" if figure in ("fdr", "garbe", "inequity") and alpha is not None else ""
            sentence = (f"The {name}{weight} across the {n_groups} groups is {value}{detail}, where "
                        f"{_g(FAIR_VALUE[figure])} is perfectly fair")
            m = mark(row["value"], tolerance)
            sentence += _mark_clause(m, tolerance, _ci_marks(row.get("ci_low"), row.get("ci_high"), tolerance))
            sentence += "."
            extra_reason = str(row.get("reason") or "")
            if extra_reason:
                sentence += f" Note: {extra_reason}"
        out.append(_finding(
            entry, key=figure, kind="figure", figure=figure, value=row["value"], ci_low=row.get("ci_low"),
            ci_high=row.get("ci_high"), ci=level, defined=defined, reason=str(row.get("reason") or ""),
            tolerance=tolerance, marked=True, sentence=sentence))
    return out


def _training_shares(result: Any, model: str) -> dict[str, float]:
    t = result.training
    part = t[t["model"] == model]
    if not len(part):
        return {}
    per_group = part.groupby("group")["n_train"].sum()
    total = float(per_group.sum())
    return {str(g): float(n) / total for g, n in per_group.items() if total > 0}


def _shares_text(shares: Mapping[str, float]) -> str:
    if not shares:
        return ""
    items = sorted(shares.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{g} {100 * s:.0f} %" for g, s in items if s > 0)


def _classification_reason(result: Any, metric: str) -> str:
    if metric in BINARY_ONLY and not result.is_binary:
        return (f"defined for binary targets only; target {' & '.join(result.target)!r} has "
                f"{len(result.classes)} classes.")
    return "not a number in any seed (e.g. a group without a positive or a negative sample)."


def _classification_findings(entry: _Entry, tol: Mapping[str, Any]) -> list[dict[str, Any]]:
    r = entry.result
    level = float(r.params.get("ci", 0.95))
    n_seeds = len(r.seeds)
    seeds_text = f"{n_seeds} seed{'s' if n_seeds != 1 else ''}"
    out: list[dict[str, Any]] = []
    cross = r.cross
    for model in r.models:
        rows = cross[(cross["model"] == model) & (cross["test_group"] != POOLED)]
        rows = rows[pd.to_numeric(rows["accuracy_mean"], errors="coerce").notna()]
        shares = _training_shares(r, model)
        trained = f" (trained on {_shares_text(shares)})" if shares else ""
        if len(rows) >= 2:
            acc = pd.to_numeric(rows["accuracy_mean"])
            lo, hi = rows.loc[acc.idxmin()], rows.loc[acc.idxmax()]

            def one(row: pd.Series) -> str:
                ci = _ci_text(row["ci_low"], row["ci_high"], level, ref=row["accuracy_mean"])
                return f"{_fmt_like(row['accuracy_mean'], row['accuracy_mean'])}" + (f" ({ci})" if ci else "")

            sentence = (f"Model {model!r}{trained}: accuracy is lowest on test group {shown(lo['test_group'])}, "
                        f"{one(lo)}, and highest on {shown(hi['test_group'])}, {one(hi)}, over {seeds_text}.")
            if model in r.groups:
                own = rows[rows["test_group"] == model]
                others = rows[rows["test_group"] != model]
                if len(own) and len(others):
                    own_acc = fmt_num(own["accuracy_mean"].iloc[0], digits=3)
                    other_acc = fmt_num(pd.to_numeric(others["accuracy_mean"]).mean(), digits=3)
                    sentence += f" On its own group it scores {own_acc}, on the other groups {other_acc} on average."
            out.append(_finding(
                entry, key=f"{model}/accuracy_by_group", kind="comparison", label="Accuracy by test group",
                model=model, value=float(hi["accuracy_mean"]) - float(lo["accuracy_mean"]), sentence=sentence,
                extra={"training_shares": shares,
                       "lowest": {"group": str(lo["test_group"]), "value": _float(lo["accuracy_mean"]),
                                  "ci_low": _float(lo["ci_low"]), "ci_high": _float(lo["ci_high"])},
                       "highest": {"group": str(hi["test_group"]), "value": _float(hi["accuracy_mean"]),
                                   "ci_low": _float(hi["ci_low"]), "ci_high": _float(hi["ci_high"])}}))
        fair = r.fairness[r.fairness["model"] == model].set_index("metric")
        order = [m for m in CLASSIFICATION_ORDER if m in fair.index] + \
            [m for m in fair.index if m not in CLASSIFICATION_ORDER]
        for metric in order:
            row = fair.loc[metric]
            tolerance = tol.get(metric)
            name = _in_sentence(FIGURE_NAMES.get(metric, metric))
            defined = _float(row["mean"]) is not None
            reason = "" if defined else "undefined: " + _classification_reason(r, metric)
            if defined:
                ci = _ci_text(row["ci_low"], row["ci_high"], level, ref=row["mean"])
                sentence = (f"Model {model!r}: the {name} between test groups is "
                            f"{_fmt_like(row['mean'], row['mean'])}" + (f" ({ci} over {seeds_text})" if ci else
                                                                    f" ({seeds_text}, no interval)")
                            + f", where {_g(FAIR_VALUE.get(metric, 0))} is perfectly fair")
                m = mark(row["mean"], tolerance)
                sentence += _mark_clause(m, tolerance, _ci_marks(row["ci_low"], row["ci_high"], tolerance)) + "."
            else:
                sentence = f"Model {model!r}: the {name} is undefined: {_strip_undefined(reason)}"
            out.append(_finding(
                entry, key=f"{model}/{metric}", kind="figure", figure=str(metric), model=model,
                value=row["mean"], ci_low=row["ci_low"], ci_high=row["ci_high"], ci=level, defined=defined,
                reason=reason, tolerance=tolerance, marked=True, headline=metric in CLASSIFICATION_HEADLINE,
                sentence=sentence))
    split = r.params.get("split") or {}
    if split.get("kind") == "mixture-sweep" and len(r.models) >= 2:
        table = r.cross_table(include_all=False)
        spans = (table.max() - table.min()).dropna()
        if len(spans):
            group = str(spans.idxmax())
            col = table[group]
            sentence = (f"Across the {len(r.models)} training mixtures, accuracy on test group {shown(group)} "
                        f"varies most: from {fmt_num(col.min(), digits=3)} ({col.idxmin()}) to "
                        f"{fmt_num(col.max(), digits=3)} ({col.idxmax()}).")
            out.append(_finding(entry, key="mixture_sweep", kind="comparison", label="Mixture sweep",
                                value=float(spans.max()), sentence=sentence,
                                extra={"group": group, "lowest_model": str(col.idxmin()),
                                       "highest_model": str(col.idxmax())}))
    return out


def _diagnostics_findings(entry: _Entry) -> list[dict[str, Any]]:
    r = entry.result
    out = []
    for _, row in r.probe.iterrows():
        acc, chance, sd = _float(row["accuracy_mean"]), _float(row["chance"]), _float(row["accuracy_std"])
        attribute = str(row["attribute"])
        if acc is None or chance is None:
            sentence = f"The probe for {attribute} gave no accuracy (see the notes)."
        else:
            margin = max(2 * (sd or 0.0), 0.05)
            verdict = ("well above chance: the embeddings encode " + attribute if acc > chance + margin
                       else "close to chance: the embeddings carry little information about " + attribute)
            sentence = (f"A logistic-regression probe predicts {attribute} from the embeddings with "
                        f"accuracy {fmt_num(acc, digits=3)}"
                        + (f" (sd {fmt_num(sd, digits=2)} over {int(row['n_splits'])} identity-disjoint folds)"
                           if sd is not None else "")
                        + f", against {fmt_num(chance, digits=3)} for always guessing the majority class; "
                        f"{verdict}.")
        out.append(_finding(entry, key=f"probe/{attribute}", kind="probe", label=f"Probe: {attribute}",
                            value=acc, sentence=sentence, defined=acc is not None,
                            extra={"attribute": attribute, "chance": chance, "accuracy_std": sd}))
    return out
