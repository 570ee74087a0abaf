"""The plain-text summary of a :class:`VerificationResult` for the terminal: per-group table,
threshold and fairness figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fairaudit.common.text import _fmt, table


def _ci(row: pd.Series, name: str) -> str:
    lo, hi = row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return ""
    return f" [{_fmt(lo)}, {_fmt(hi)}]"


def _mark(row: pd.Series, column: str, marker: str) -> str:
    value = row.get(column)
    return marker if isinstance(value, (bool, np.bool_)) and bool(value) else ""


def _rate(row: pd.Series, name: str, has_ci: bool, *, flagged: bool = True) -> str:
    """A rate of the per-group table: its value, ``*`` under the rule of 30 and its interval."""
    mark = _mark(row, f"{name}_below_rule_of_30", "*") if flagged else ""
    return _fmt(row[name]) + mark + (_ci(row, name) if has_ci else "")


def _group_rows(result) -> list[pd.Series]:
    """The rows of the per-group table: every group, then the pooled population."""
    frames = [result.by_group.reset_index(drop=True), pd.DataFrame([result.overall])]
    return [row for _, row in pd.concat(frames, ignore_index=True).iterrows()]


def _fairness_table(fairness: pd.DataFrame, has_ci: bool) -> str:
    """The fairness figures: value (or "undefined"), interval, direction and note."""
    frows = []
    for name, row in fairness.iterrows():
        value = _fmt(row["value"]) if row["defined"] else "undefined"
        interval = ""
        if has_ci and not (isinstance(row["ci_low"], float) and math.isnan(row["ci_low"])):
            interval = f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
        frows.append([name, value, interval, row.get("direction", ""), row["reason"] or ""])
    return table(frows, ["figure", "value", "CI", "direction", "note"])


def _legend(result) -> list[str]:
    """What the markers of the per-group table mean (only those that appear)."""
    bg = result.by_group
    out = []
    if any(bool(bg.get(c, pd.Series(dtype=bool)).fillna(False).any())
           for c in ("fmr_below_rule_of_30", "fnmr_below_rule_of_30")):
        out.append("* fewer than 30 errors behind the rate (Doddington's rule of 30)")
    if bool(bg.get("below_min_identities", pd.Series(dtype=bool)).fillna(False).any()):
        out.append(f"! fewer than {result.params.get('min_identities', 30)} identities in the group; "
                   "its FMR/FNMR intervals are Clopper-Pearson on an effective sample size")
    return out


def verification_summary(result) -> str:
    """Per-group table, threshold and fairness figures of a VerificationResult."""
    ci_pct = int(round(100 * float(result.params.get("ci", 0.95))))
    has_ci = int(result.params.get("n_boot", 0)) > 0
    head = ["group", "ids", "genuine", "impostor", "FMR", "FNMR", "EER", "AUC"]
    rows = []
    for row in _group_rows(result):
        rows.append([
            row["label"] + _mark(row, "below_min_identities", " !"), _fmt(row["n_identities"]),
            f"{int(row['n_genuine']):,}", f"{int(row['n_impostor']):,}",
            _rate(row, "fmr", has_ci), _rate(row, "fnmr", has_ci), _rate(row, "eer", has_ci, flagged=False),
            _fmt(row["auc"]),
        ])
    out = [
        f"Verification audit by {' x '.join(result.by)}" if result.by else "Verification audit, pooled only (no --by)",
        f"Threshold {result.threshold:.6g} ({result.policy['description']}); accept when score >= threshold.",
        "",
        table(rows, head),
        *_legend(result),
        "",
        f"Fairness figures at the threshold (alpha={result.params['alpha']:g}"
        + (f", {ci_pct}% CI over {result.params['n_boot']} identity bootstraps)" if has_ci else ")"),
    ]
    out.append(_fairness_table(result.fairness, has_ci))
    comparisons = getattr(result, "comparisons", None)
    if comparisons is not None and len(comparisons):
        out += ["", f"Group comparisons ({ci_pct}% CI from the same identity bootstraps; p: identity "
                "permutation test for FMR and FNMR, paired bootstrap for EER, Holm-adjusted over the table)",
                _comparisons_table(comparisons)]
    if result.notes:
        out += ["", "Notes:"] + [f"- {n}" for n in result.notes]
    return "\n".join(out)


def _p(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _comparisons_table(comparisons: pd.DataFrame) -> str:
    """One line per comparison: difference and ratio with their intervals, raw and Holm p."""
    rows = []
    for _, c in comparisons.iterrows():
        rows.append([
            c["metric"].upper(), f"{c['group_a']} vs {c['group_b']}",
            f"{_fmt(c['difference'])} [{_fmt(c['difference_ci_low'])}, {_fmt(c['difference_ci_high'])}]",
            f"{_fmt(c['ratio'], 2)} [{_fmt(c['ratio_ci_low'], 2)}, {_fmt(c['ratio_ci_high'], 2)}]",
            _p(c["p_value"]), _p(c["p_holm"]),
        ])
    return table(rows, ["metric", "groups", "difference (a - b) [CI]", "ratio (a / b) [CI]", "p", "p Holm"])
