"""The comparison-of-systems section of a report, from a
:class:`~fairaudit.systems.SystemComparison`: its findings (the verdict: which system is more
accurate and which is fairer, and whether each gap holds after Holm's adjustment; every system's
marked fairness figure; the differences that hold) and the helpers its view shares
(:mod:`fairaudit.reporting.systems_view`: the tables and figures).

Every system is judged at its own threshold from one policy, so every caption names the policy and
each system's threshold."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from fairaudit.reporting.entries import _Entry
from fairaudit.reporting.findings import LEVEL, _fairness_findings, _finding, _in_sentence
from fairaudit.reporting.formatting import _fmt_like, _float
from fairaudit.reporting.tolerances import FIGURE_NAMES
from fairaudit.verification import shown

#: the rates of the system x group differences, as sentences and tables write them
RATE_NAMES = {"fmr": "FMR", "fnmr": "FNMR", "eer": "EER"}
#: the question of a family of differences (``SystemComparison.differences["family"]`` after "a vs b: ")
QUESTIONS = {"fmr by group": "FMR across the groups", "fnmr by group": "FNMR across the groups",
             "eer by group": "EER across the groups", "pooled fnmr": "the pooled FNMR",
             "fairness figures": "the fairness figures"}
#: at most this many held differences are named in the findings sentence
NAMED_DIFFERENCES = 4


# --------------------------------------------------------------------------
# small pieces
def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _figure_label(figure: str) -> str:
    return FIGURE_NAMES.get(figure, figure)


def _short_label(figure: str) -> str:
    """A figure's name without its gloss, for sentences and headers: ``FDR``, ``FNMR max/min ratio``."""
    label = _figure_label(figure)
    return label.split(" (", 1)[0] if label.endswith(")") else label


def _direction(figure: str) -> str:
    from fairaudit.verification.fairness_kernels import DIRECTION

    return DIRECTION.get(figure, "lower is fairer")


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def _p_cell(p: float | None) -> str:
    return "–" if p is None else ("< 0.001" if p < 0.001 else f"{p:.2g}")


def _range(lo: float | None, hi: float | None, ref: Any) -> str:
    """An interval of a difference, which may cross 0: ``-0.05 to 0.01``."""
    if lo is None or hi is None:
        return ""
    return f"{_fmt_like(lo, ref)} to {_fmt_like(hi, ref)}"


def _level(c: Any) -> float:
    return float(c.params.get("ci", 0.95))


def thresholds_text(c: Any) -> str:
    """``A 0.4045, B 0.3621``: every system's own threshold."""
    return ", ".join(f"{name} {c.audits[name].threshold:.4g}" for name in c.systems)


def policy_text(c: Any) -> str:
    return str(c.params.get("policy") or (c.audits[c.systems[0]].policy or {}).get("description", ""))


def _reason(c: Any, system: str, figure: str) -> str:
    """Why ``figure`` is undefined for ``system``: the first clause of its audit's reason, groups by
    their readable names."""
    audit = c.audits[system]
    fair = audit.fairness
    reason = str(fair.loc[figure].get("reason") or "") if figure in fair.index else ""
    reason = reason[len("undefined: "):] if reason.startswith("undefined: ") else reason
    reason = reason.split("; ", 1)[0].rstrip(".") or "not a finite number"
    found = 0
    for label in sorted(map(str, audit.by_group["label"]), key=len, reverse=True):
        found += reason.count(f"'{label}'")
        reason = reason.replace(f"'{label}'", shown(label))
    return reason.replace("group(s) ", "group " if found == 1 else "groups ")


def _pair(c: Any, a: str, b: str, metric: str, scope: str, group: str | None = None) -> dict[str, Any] | None:
    """The paired difference ``a - b`` of ``metric`` (sign and interval turned to that order), its
    p-values and the smallest Holm-adjusted p-value its family allows."""
    d = c.differences
    for x, y, sign in ((a, b, 1.0), (b, a, -1.0)):
        sel = (d["system_a"] == x) & (d["system_b"] == y) & (d["metric"] == metric) & (d["scope"] == scope)
        if group is not None:
            sel &= d["group"].astype(str) == str(group)
        if not sel.any():
            continue
        row = d[sel].iloc[0]
        lo, hi = _float(row["ci_low"]), _float(row["ci_high"])
        if sign < 0:
            lo, hi = (None if hi is None else -hi), (None if lo is None else -lo)
        diff = _float(row["difference"])
        return {"difference": None if diff is None else sign * diff, "ci_low": lo, "ci_high": hi,
                "p_value": _float(row["p_value"]), "p_holm": _float(row["p_holm"]), "family": str(row["family"]),
                "n_boot": int(_float(row["n_boot"]) or 0), "floor": _floor(d, row)}
    return None


def _floor(d: pd.DataFrame, row: Any) -> float | None:
    """The smallest Holm-adjusted p-value of a difference's family: ``k * 2 / (n + 1)`` for ``k``
    tested differences and ``n`` finite replicates (the bootstrap p-value is never below ``2 / (n + 1)``)."""
    n = int(_float(row["n_boot"]) or 0)
    if n < 2:
        return None
    same = (d["family"] == row["family"]).to_numpy()
    tested = pd.to_numeric(d["p_value"], errors="coerce").notna().to_numpy()
    k = int((same & tested).sum())
    return min(1.0, max(k, 1) * 2.0 / (n + 1))


def few_identities(c: Any) -> list[str]:
    """The groups with fewer than ``min_identities`` identities: compare_systems gives their
    differences, and those of the fairness figures, no interval and no p-value."""
    bg = c.audits[c.systems[0]].by_group
    floor = int(c.params.get("min_identities", 30))
    return [str(x) for x in bg.loc[pd.to_numeric(bg["n_identities"]) < floor, "label"]]


def _untested(c: Any, scope: str, group: str | None = None) -> str:
    """Why a difference has no p-value."""
    few = few_identities(c)
    floor = int(c.params.get("min_identities", 30))
    if few and (scope == "fairness" or (scope == "group" and str(group) in few) or scope == "pooled"):
        who = _names([shown(g) for g in few])
        verb = "has" if len(few) == 1 else "have"
        tail = ", and the fairness figures compare every group" if scope == "fairness" else ""
        return f"not tested: {who} {verb} fewer than {floor} identities (min_identities){tail}"
    return "not tested: no bootstrap replicate defines the difference"


def _status(pair: dict[str, Any] | None, level: float, untested: str) -> tuple[str, str]:
    """(state, clause) of a paired difference: ``holds``, ``noise``, ``too-few`` or ``untested``."""
    if pair is None or pair["p_holm"] is None:
        return "untested", untested
    p = pair["p_holm"]
    if p < LEVEL:
        return "holds", f"the difference holds after Holm's adjustment, {_p_text(p)}"
    floor = pair["floor"]
    if floor is not None and floor >= LEVEL and p <= floor * (1 + 1e-9):
        return "too-few", (f"too few replicates to tell: {_p_text(p)} after Holm's adjustment is the smallest "
                           f"{pair['n_boot']:,} replicates allow in its family; raise n_boot")
    ci = _range(pair["ci_low"], pair["ci_high"], pair["difference"])
    return "noise", ("within noise: " + (f"{100 * level:g} % CI of the difference {ci}, " if ci else "")
                     + f"{_p_text(p)} after Holm's adjustment")


# --------------------------------------------------------------------------
# findings
def _accuracy_clause(c: Any, level: float) -> tuple[str | None, str, dict[str, Any]]:
    board = c.leaderboard.sort_values("fnmr", kind="stable", na_position="last").reset_index(drop=True)
    n = len(board)
    best, second = board.iloc[0], board.iloc[1]
    a, b = str(best["system"]), str(second["system"])
    va, vb = _float(best["fnmr"]), _float(second["fnmr"])
    info: dict[str, Any] = {"most_accurate": a, "runner_up": b, "fnmr": va, "runner_up_fnmr": vb}
    if va is None or vb is None:
        return None, "No pooled FNMR is defined for every system", {**info, "state": "untested"}
    pair = _pair(c, a, b, "fnmr", "pooled")
    state, clause = _status(pair, level, _untested(c, "pooled"))
    info.update({"state": state, "difference": pair})
    if va == vb:
        return None, f"{a} and {b} are equally accurate (pooled FNMR {_fmt_like(va, va)})", info
    more = "more accurate" if n == 2 else "the most accurate"
    against = f"against {_fmt_like(vb, va)} for {b}" if n == 2 else f"against {_fmt_like(vb, va)} for the runner-up, {b}"
    return a, f"{a} is {more} (pooled FNMR {_fmt_like(va, va)} {against}; {clause})", info


def _fairness_clause(c: Any, level: float, subject: str | None) -> tuple[str, bool, dict[str, Any]]:
    """The fairness half of the verdict; the bool says whether it continues ``subject``'s clause."""
    figure = str(c.params.get("figure"))
    name = _in_sentence(_short_label(figure))
    higher = _direction(figure).startswith("higher")
    board = c.leaderboard.reset_index(drop=True)
    values = pd.to_numeric(board[figure], errors="coerce")
    ok = board[values.notna()].copy()
    undefined = [str(s) for s in board.loc[values.isna(), "system"]]
    info: dict[str, Any] = {"figure": figure, "undefined": undefined}
    if not len(ok):
        return (f"no system's {name} is defined ({undefined[0]}: {_reason(c, undefined[0], figure)})", False,
                {**info, "fairest": None, "state": "undefined"})
    if len(ok) == 1:
        only = ok.iloc[0]
        s, v = str(only["system"]), _float(only[figure])
        ci = _range(_float(only[f"{figure}_ci_low"]), _float(only[f"{figure}_ci_high"]), v).replace(" to ", "–")
        why = (f"{undefined[0]}'s is undefined: {_reason(c, undefined[0], figure)}" if len(undefined) == 1
               else f"it is undefined for {_names(undefined)}")
        return (f"only {s}'s {name} is defined ({_fmt_like(v, v)}" + (f", {100 * level:g} % CI {ci}" if ci else "")
                + f"); {why}", False, {**info, "fairest": None, "only_defined": s, "state": "undefined"})
    ok["_key"] = -pd.to_numeric(ok[figure]) if higher else pd.to_numeric(ok[figure])
    ok = ok.sort_values("_key", kind="stable").reset_index(drop=True)
    f_row, r_row = ok.iloc[0], ok.iloc[1]
    f, r = str(f_row["system"]), str(r_row["system"])
    vf, vr = float(f_row[figure]), float(r_row[figure])
    pair = _pair(c, f, r, figure, "fairness")
    state, clause = _status(pair, level, _untested(c, "fairness"))
    info.update({"fairest": f, "runner_up": r, "value": vf, "runner_up_value": vr, "state": state,
                 "difference": pair})
    tail = f"; undefined for {_names(undefined)}" if undefined else ""
    if vf == vr:
        return f"{f} and {r} are equally fair by {name} ({_fmt_like(vf, vf)}{tail})", False, info
    word = "fairer" if len(c.systems) == 2 else "the fairest"
    against = f"against {_fmt_like(vr, vf)} for {r}" if len(ok) == 2 and len(c.systems) == 2 \
        else f"against {_fmt_like(vr, vf)} for the runner-up, {r}"
    body = f"{word} by {name} ({_fmt_like(vf, vf)} {against}; {clause}{tail})"
    if f == subject:
        return f"also {body}", True, info
    return f"{f} is {body}", False, info


def _verdict_finding(entry: _Entry) -> dict[str, Any]:
    c = entry.result
    level = _level(c)
    subject, accuracy, acc_info = _accuracy_clause(c, level)
    fairness, same, fair_info = _fairness_clause(c, level, subject)
    # system names are the user's: the sentence starts with one as written
    sentence = f"{accuracy} and {fairness}." if same else f"{accuracy}, and {fairness}."
    board = c.leaderboard
    front = [str(s) for s, p in zip(board["system"], board["pareto"]) if bool(p)]
    if len(c.systems) > 2 and front:
        sentence += (f" On the Pareto front (no other system at least as good on both and better on one): "
                     f"{_names(front)}.")
    return _finding(entry, key="verdict", kind="verdict", label="Verdict", sentence=sentence,
                    extra={"accuracy": acc_info, "fairness": fair_info, "pareto": front,
                           "thresholds": {s: float(c.audits[s].threshold) for s in c.systems}})


def _system_figure_findings(entry: _Entry, tol: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The comparison's fairness figure of every system, marked against the tolerances (the
    headline figures of a comparison)."""
    c = entry.result
    figure = str(c.params.get("figure"))
    out = []
    for k, name in enumerate(c.systems):
        audit = _Entry(id=entry.id, name=entry.name, kind="verification", result=c.audits[name])
        for f in _fairness_findings(audit, (figure,), tol):
            f["id"] = f"{entry.id}/system-{k + 1}/{figure}"
            f["system"] = name
            f["threshold"] = float(c.audits[name].threshold)
            f["sentence"] = f"System {name} (threshold {c.audits[name].threshold:.4g}): " \
                + f["sentence"][0].lower() + f["sentence"][1:]
            out.append(f)
    return out


def _what(row: Any) -> str:
    """What a difference is of: ``FNMR of woman (M) & Black (N)``, ``pooled FNMR``, a figure's name."""
    if row["scope"] == "pooled":
        return f"pooled {RATE_NAMES.get(str(row['metric']), str(row['metric']))}"
    if row["scope"] == "group":
        return f"{RATE_NAMES.get(str(row['metric']), str(row['metric']))} of {shown(row['group'])}"
    return _in_sentence(_figure_label(str(row["metric"])))


def _held(c: Any) -> pd.DataFrame:
    d = c.differences
    p = pd.to_numeric(d["p_holm"], errors="coerce")
    return d[p < LEVEL].assign(_p=p[p < LEVEL]).sort_values("_p", kind="stable")


def _blocked_families(c: Any) -> tuple[float, list[str], int]:
    """The smallest bootstrap p-value, the questions whose families are too large for any of their
    differences to hold after Holm's adjustment, and the n_boot that would let them."""
    d = c.differences
    tested = d[pd.to_numeric(d["p_value"], errors="coerce").notna()]
    if not len(tested):
        return 1.0, [], 0
    n = int(pd.to_numeric(tested["n_boot"]).max())
    floor = 2.0 / (n + 1)
    sizes = tested.groupby("family", sort=False).size()
    blocked = [str(f) for f, k in sizes.items() if k * floor >= LEVEL]
    questions = list(dict.fromkeys(QUESTIONS.get(q, q) for q in (f.split(": ", 1)[-1] for f in blocked)))
    needed = int(max(sizes) * 2 / LEVEL) if blocked else 0
    return floor, questions, needed


def _differences_finding(entry: _Entry) -> dict[str, Any]:
    c = entry.result
    level = _level(c)
    d = c.differences
    tested = d[pd.to_numeric(d["p_holm"], errors="coerce").notna()]
    held = _held(c)
    named = []
    for _, row in held.head(NAMED_DIFFERENCES).iterrows():
        diff = _float(row["difference"])
        ci = _range(_float(row["ci_low"]), _float(row["ci_high"]), diff)
        named.append(f"{_what(row)}, {row['system_a']} − {row['system_b']} = {_fmt_like(diff, diff)}"
                     + (f" ({100 * level:g} % CI {ci})" if ci else ""))
    sentence = (f"Of the {len(tested)} paired differences tested between the systems (FMR, FNMR and EER of "
                f"every group, the pooled FNMR and the fairness figures, for every pair of systems), "
                f"{len(held)} hold{'s' if len(held) == 1 else ''} at the 5 % level after Holm's adjustment "
                "within their family")
    sentence += (": " + "; ".join(named) + (f"; and {len(held) - len(named)} more" if len(held) > len(named) else "")
                 + ".") if named else "."
    few = few_identities(c)
    if few:
        sentence += (f" Not tested: the differences of {_names([shown(g) for g in few])} (fewer than "
                     f"{int(c.params.get('min_identities', 30))} identities) and of the fairness figures.")
    floor, blocked, needed = _blocked_families(c)
    if blocked:
        sentence += (f" With {int(c.params.get('n_boot', 0)):,} replicates no bootstrap p-value falls below "
                     f"{floor:.2g}, so no difference can hold in the families of {_names(blocked)}: raise "
                     f"n_boot to at least {needed:,}.")
    return _finding(entry, key="differences", kind="comparison", label="Differences between systems",
                    value=len(held), sentence=sentence,
                    extra={"n_tests": int(len(tested)), "n_significant": int(len(held)), "blocked": blocked,
                           "significant": [{"system_a": str(r["system_a"]), "system_b": str(r["system_b"]),
                                     "scope": str(r["scope"]), "group": str(r["group"]), "metric": str(r["metric"]),
                                     "difference": _float(r["difference"]), "p_holm": _float(r["p_holm"])}
                                    for _, r in held.iterrows()]})


def _systems_findings(entry: _Entry, tol: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The findings of a comparison of systems: the verdict first (see docs/reference/json-schema.md)."""
    return [_verdict_finding(entry), *_system_figure_findings(entry, tol), _differences_finding(entry)]
