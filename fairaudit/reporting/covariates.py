"""The covariates section of a report, from a :class:`~fairaudit.covariates.CovariateResult`: does
a demographic gap survive the covariates? Its findings (the plain verdict first, then each group's
odds ratio after adjustment, marked against the tolerances ``fnmr_adjusted_or`` and
``fmr_adjusted_or``, and FNMR by bin of every covariate) and the helpers its view shares
(:mod:`fairaudit.reporting.covariates_view`: the tables and figures).

The regressions (``result.models``) compare every group's odds of an error with a reference group,
before and after adjusting for the covariates. A gap *survives* when the adjusted interval excludes
1 on the side of the unadjusted one; it is *no longer clear* when a clear unadjusted gap has an
adjusted interval that includes 1. Associations, not causal effects: every sentence list ends with
the regressions' own caveats."""

from __future__ import annotations

import math
from typing import Any, Mapping

import pandas as pd

from fairaudit.common.serialize import frame_from_dict
from fairaudit.reporting.entries import _Entry
from fairaudit.reporting.findings import _finding, _mark_clause
from fairaudit.reporting.formatting import _ci_text, _float, _fmt_like
from fairaudit.reporting.tolerances import FIGURE_NAMES, SURVIVING_GAP_MARK, _ci_marks, mark
from fairaudit.verification import shown

#: (side of ``result.models``, rate, what is counted, tolerance key)
SIDES = (("genuine", "FNMR", "false non-match", "fnmr_adjusted_or"),
         ("impostor", "FMR", "false match", "fmr_adjusted_or"))
#: what the state of a gap (:func:`gap_state`) means, as the verdict says it
STATES = {"survives": "the gap survives adjustment", "reversed": "the gap reverses after adjustment",
          "appears": "a gap appears only after adjustment", "cleared": "the gap is no longer clear after adjustment",
          "none": "no clear gap before or after adjustment", "not-estimable": "not estimable"}
#: the states whose adjusted interval excludes 1: a gap the covariates leave
CLEAR_AFTER = ("survives", "appears", "reversed")
#: at most this many groups are named in one clause of the verdict
NAMED_GROUPS = 5
_ORDER = {"fail": 3, "review": 2, "pass": 1, None: 0}


# --------------------------------------------------------------------------
# small pieces
def names_text(names: list[str], limit: int = NAMED_GROUPS) -> str:
    """``a``, ``a and b``, ``a, b and c``; beyond ``limit``: ``a, b, c and 2 more``."""
    names = [str(n) for n in names]
    if len(names) > limit:
        return ", ".join(names[:limit - 1]) + f" and {len(names) - limit + 1} more"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def level_of(r: Any) -> float:
    return float(r.params.get("ci", 0.95))


def group_key(value: Any) -> str | None:
    """A table's group: None (everyone) for None / NaN, else its label as text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def models_of(r: Any) -> dict[str, dict[str, Any]]:
    """The fitted regressions by side, their tables rebuilt as DataFrames."""
    out = {}
    for side, *_ in SIDES:
        m = (r.models or {}).get(side)
        if not m:
            continue
        tables = {k: frame_from_dict(m[k]) if isinstance(m.get(k), Mapping) else pd.DataFrame()
                  for k in ("coefficients", "gaps", "groups")}
        out[side] = {**m, **tables}
    return out


def fold(value: Any, low: Any, high: Any) -> tuple[float | None, float | None, float | None]:
    """An odds ratio and its interval as the larger over the smaller odds, ``max(OR, 1 / OR)``: the
    interval of the fold is ``[1, ...]`` when the interval holds 1."""
    v, lo, hi = _float(value), _float(low), _float(high)
    if v is None or v <= 0:
        return None, None, None
    f = max(v, 1.0 / v)
    if lo is None or hi is None or lo <= 0 or hi <= 0:
        return f, None, None
    ends = sorted((max(lo, 1.0 / lo), max(hi, 1.0 / hi)))
    return f, (1.0 if lo <= 1.0 <= hi else ends[0]), ends[1]


def _side(lo: float | None, hi: float | None) -> int:
    """+1 / -1: the interval excludes 1 above / below it; 0: it holds 1 (or is unknown)."""
    if lo is None or hi is None:
        return 0
    return 1 if lo > 1 else (-1 if hi < 1 else 0)


def gap_state(row: Any) -> str:
    """``survives``, ``appears``, ``reversed``, ``cleared``, ``none`` or ``not-estimable``."""
    if _float(row.get("or_unadjusted")) is None or _float(row.get("or_adjusted")) is None:
        return "not-estimable"
    before = _side(_float(row.get("ci_low_unadjusted")), _float(row.get("ci_high_unadjusted")))
    after = _side(_float(row.get("ci_low_adjusted")), _float(row.get("ci_high_adjusted")))
    if after:
        return "survives" if after == before else ("appears" if before == 0 else "reversed")
    return "cleared" if before else "none"


def odds_text(v: Any) -> str:
    """An odds ratio as the sentences write it: 12, 2.9, 0.45."""
    x = _float(v)
    if x is None:
        return "n/a"
    return f"{x:.0f}" if x >= 9.95 else f"{x:.1f}" if x >= 0.95 else f"{x:.2g}"


def share_text(explained: Any) -> str:
    e = _float(explained)
    if e is None:
        return ""
    if e > 1:
        return "the adjusted odds ratio lies on the other side of 1"
    if e < 0:
        return "the gap is larger after adjustment than before"
    return f"the covariates account for about {100 * e:.0f} % of it on the log-odds scale"


def covariates_text(r: Any) -> str:
    return names_text([str(c) for c in r.covariates], limit=8) if r.covariates else "no covariate"


def readable_sentence(text: str, labels: list[str]) -> str:
    """A regression sentence with its groups (``group 'M & N'``) named through the codebook."""
    for label in sorted(labels, key=len, reverse=True):
        name = shown(label)
        if name != label:
            text = text.replace(f"group '{label}'", f"group {name}")
    return text


def sentences_of(r: Any) -> list[dict[str, Any]]:
    """The regressions' plain-English findings with their caveats, genuine side first:
    ``[{"side", "rate", "sentences"}]``."""
    models = models_of(r)
    return [{"side": side, "rate": rate, "event": event,
             "sentences": [readable_sentence(str(s), list(map(str, r.groups))) for s in models[side]["sentences"]]}
            for side, rate, event, _ in SIDES if side in models]


def not_fitted_text(r: Any) -> str:
    """Why no regression is in the result: its notes that say so, or regression=False."""
    said = [str(n) for n in r.notes if "regression" in str(n).lower()]
    return " ".join(said) if said else ("No regression was fitted (regression=False), so the report cannot say "
                                        "whether a gap survives the covariates; the tables show the rates by bin.")


# --------------------------------------------------------------------------
# the verdict
def _side_verdict(r: Any, rate: str, model: Mapping[str, Any]) -> tuple[str, dict[str, list[str]]]:
    """``FNMR: yes for 3 of the 5 groups against A (...)``: the answer of one side, and the groups by state."""
    gaps = model["gaps"]
    by_state: dict[str, list[str]] = {}
    for _, row in gaps.iterrows():
        by_state.setdefault(gap_state(row), []).append(shown(row["group"]))
    ref = shown(model.get("reference", ""))
    n = len(gaps)
    clear = sum(len(by_state.get(s, [])) for s in CLEAR_AFTER)
    if clear:
        answer = f"yes, for {clear} of the {n} group{'s' if n != 1 else ''} compared with {ref}"
    elif by_state.get("cleared"):
        answer = f"no, no group's gap against {ref} is clear after adjustment"
    elif by_state.get("none"):
        answer = f"no gap to explain, no group differs clearly from {ref} before or after adjustment"
    else:
        answer = f"not estimable against {ref}"
    # the groups with a clear gap before or after (those without one are in the sentences below)
    clauses = [f"{names_text(by_state[s])}: {STATES[s]}" for s in STATES
               if by_state.get(s) and s not in ("none", "not-estimable" if clear else "")]
    return f"{rate}: {answer}" + (f" ({'; '.join(clauses)})" if clauses else "") + ".", by_state


def verdict(r: Any) -> dict[str, Any]:
    """The one-line answer to "Does the gap survive the covariates?", per side, and a short form for
    the first screen."""
    models = models_of(r)
    if not models:
        return {"text": not_fitted_text(r), "lines": [not_fitted_text(r)], "short": "not marked: no regression was "
                "fitted", "sides": {}}
    parts, short, sides = [], [], {}
    for side, rate, _, _ in SIDES:
        if side not in models:
            marker = ("regression of false non-matches",) if side == "genuine" else (
                "regression of false matches", "impostor regression")
            why = [str(n) for n in r.notes if any(w in str(n) for w in marker)]
            parts.append(f"{rate}: no regression was fitted" + (f" ({why[0].rstrip('.')})" if why else "") + ".")
            continue
        text, by_state = _side_verdict(r, rate, models[side])
        parts.append(text)
        n = len(models[side]["gaps"])
        clear = sum(len(by_state.get(s, [])) for s in CLEAR_AFTER)
        short.append(f"{rate} gap survives the covariates for {clear} of {n} group{'s' if n != 1 else ''}")
        sides[side] = {k: list(v) for k, v in by_state.items()}
    lines = [f"Adjusted for {covariates_text(r)}.", *parts,
             "Associations in this data, not causal effects (see the caveats)."]
    return {"text": " ".join(lines), "lines": lines, "short": "; ".join(short) or "no regression was fitted",
            "sides": sides}


# --------------------------------------------------------------------------
# findings
def _gap_finding(entry: _Entry, tol: Mapping[str, Any], side: str, rate: str, event: str, figure: str,
                 k: int, row: Any, reference: str) -> dict[str, Any]:
    r = entry.result
    level = level_of(r)
    group = str(row["group"])
    state = gap_state(row)
    value, lo, hi = fold(row.get("or_adjusted"), row.get("ci_low_adjusted"), row.get("ci_high_adjusted"))
    tolerance = tol.get(figure)
    who = f"group {shown(group)} against {shown(reference)}"
    label = f"{FIGURE_NAMES[figure]} — {shown(group)} vs {shown(reference)}"
    note = str(row.get("note") or "")
    if value is None:
        sentence = (f"{rate}, {who}: the odds ratio after adjusting for {covariates_text(r)} cannot be estimated"
                    + (f": {note}" if note else "") + ".")
        return _finding(entry, key=f"{side}/{k + 1}", kind="figure", figure=figure, label=label, defined=False,
                        reason=note or "not estimable", ci=level, tolerance=tolerance, marked=True,
                        headline=False, sentence=sentence,
                        extra={"side": side, "group": group, "reference": str(reference), "state": state})
    ci_adj = _ci_text(row.get("ci_low_adjusted"), row.get("ci_high_adjusted"), level)
    ci_un = _ci_text(row.get("ci_low_unadjusted"), row.get("ci_high_unadjusted"), None)
    sentence = (f"{rate}, {who}: after adjusting for {covariates_text(r)}, the odds of a {event} are "
                f"{odds_text(row['or_adjusted'])}× ({ci_adj}; before adjustment {odds_text(row['or_unadjusted'])}×"
                + (f", {ci_un}" if ci_un else "") + ")")
    share = share_text(row.get("explained"))
    sentence += (f"; {share}" if share else "") + f". {STATES[state][0].upper()}{STATES[state][1:]}"
    m = mark(value, tolerance)
    ci_marks = _ci_marks(lo, hi, tolerance) if m else []
    raised = m is not None and state in CLEAR_AFTER and _ORDER[m] < _ORDER[SURVIVING_GAP_MARK]
    folded = _fmt_like(value, value)
    sentence += (f". As the larger over the smaller odds, the gap after adjustment is {folded} (1: no gap)"
                 + _mark_clause(m, tolerance, ci_marks))
    if raised:
        sentence = sentence.replace(f": {m} (", f": {SURVIVING_GAP_MARK}, not {m}, as the gap survives (", 1)
    f = _finding(entry, key=f"{side}/{k + 1}", kind="figure", figure=figure, label=label, value=value,
                 ci_low=lo, ci_high=hi, ci=level, tolerance=tolerance, marked=True, headline=False,
                 reason=note, sentence=sentence + ".",
                 extra={"side": side, "group": group, "reference": str(reference), "state": state,
                        "odds_ratio": _float(row["or_adjusted"]), "odds_ratio_unadjusted": _float(row["or_unadjusted"]),
                        "explained": _float(row.get("explained"))})
    if raised:
        f["mark"] = SURVIVING_GAP_MARK
        f["ci_marks"] = [b for b in ("pass", "review", "fail") if b in ci_marks or b == SURVIVING_GAP_MARK]
    return f


def _bin_finding(entry: _Entry, i: int, covariate: str) -> dict[str, Any] | None:
    """FNMR by bin of one covariate, every genuine pair: the highest and the lowest bin."""
    r = entry.result
    level = level_of(r)
    fr = r.fnmr
    part = fr[(fr["covariate"] == covariate) & (fr["pairing"] == "lower")]
    part = part[[group_key(g) is None for g in part["group"]]]
    part = part[pd.to_numeric(part["rate"], errors="coerce").notna()]
    if len(part) < 2:
        return None
    rates = pd.to_numeric(part["rate"])
    hi_row, lo_row = part.loc[rates.idxmax()], part.loc[rates.idxmin()]
    numeric = (r.params.get("covariate_kinds") or {}).get(covariate) == "numeric"
    how = "the lower of the two samples' values" if numeric else "the level both samples share, or mixed"

    def one(row: Any) -> str:
        ci = _ci_text(row["ci_low"], row["ci_high"], level)
        return f"bin {row['bin']} at {_fmt_like(row['rate'], row['rate'])}" + (f" ({ci})" if ci else "")

    thin = int(part["below_rule_of_30"].astype(bool).sum())
    sentence = (f"FNMR by {covariate} ({how}), every genuine pair at threshold {r.threshold:.4g}: highest in "
                f"{one(hi_row)}, lowest in {one(lo_row)}.")
    if thin:
        verb = "rests" if thin == 1 else "rest"
        sentence += (f" {thin} of the {len(part)} bins {verb} on fewer than 30 false non-matches (Doddington's rule "
                     "of 30): read them as coarse.")
    lo_v, hi_v = float(lo_row["rate"]), float(hi_row["rate"])
    return _finding(entry, key=f"fnmr_by_covariate_{i + 1}", kind="comparison", label=f"FNMR by {covariate}",
                    value=hi_v / lo_v if lo_v > 0 else None, sentence=sentence,
                    extra={"covariate": covariate, "rate": "fnmr", "threshold": r.threshold,
                           "highest": {"bin": str(hi_row["bin"]), "value": hi_v, "ci_low": _float(hi_row["ci_low"]),
                                       "ci_high": _float(hi_row["ci_high"])},
                           "lowest": {"bin": str(lo_row["bin"]), "value": lo_v, "ci_low": _float(lo_row["ci_low"]),
                                      "ci_high": _float(lo_row["ci_high"])}})


def _covariates_findings(entry: _Entry, tol: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The findings of a covariate audit: the verdict, then per side every group's adjusted odds
    ratio (the worst marked one a headline figure), then FNMR by bin of every covariate."""
    r = entry.result
    said = verdict(r)
    out = [_finding(entry, key="verdict", kind="verdict", label="Does the gap survive the covariates?",
                    sentence=said["text"], extra={"sides": said["sides"]})]
    for side, rate, event, figure in SIDES:
        model = models_of(r).get(side)
        if model is None:
            continue
        reference = str(model.get("reference", ""))
        found = [_gap_finding(entry, tol, side, rate, event, figure, k, row, reference)
                 for k, (_, row) in enumerate(model["gaps"].iterrows())]
        defined = [f for f in found if f["defined"]]
        if defined:
            worst = max(defined, key=lambda f: (_ORDER[f["mark"]], f["value"] or 0.0))
            worst["headline"] = True
        out += found
    for i, covariate in enumerate(r.covariates):
        f = _bin_finding(entry, i, covariate)
        if f is not None:
            out.append(f)
    return out
