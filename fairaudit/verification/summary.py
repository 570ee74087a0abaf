"""The plain-text summary of a :class:`VerificationResult` for the terminal: per-group table,
threshold and fairness figures."""

from __future__ import annotations

import math

import pandas as pd

from fairaudit.common.text import _fmt, table


def _ci(row: pd.Series, name: str) -> str:
    lo, hi = row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return ""
    return f" [{_fmt(lo)}, {_fmt(hi)}]"


def verification_summary(result) -> str:
    """Per-group table, threshold and fairness figures of a VerificationResult."""
    ci_pct = int(round(100 * float(result.params.get("ci", 0.95))))
    has_ci = int(result.params.get("n_boot", 0)) > 0
    head = ["group", "ids", "genuine", "impostor", "FMR", "FNMR", "EER", "AUC"]
    rows = []
    frames = [result.by_group.reset_index(drop=True), pd.DataFrame([result.overall])]
    for _, row in pd.concat(frames, ignore_index=True).iterrows():
        rows.append([
            row["label"], _fmt(row["n_identities"]), f"{int(row['n_genuine']):,}", f"{int(row['n_impostor']):,}",
            _fmt(row["fmr"]) + (_ci(row, "fmr") if has_ci else ""),
            _fmt(row["fnmr"]) + (_ci(row, "fnmr") if has_ci else ""),
            _fmt(row["eer"]) + (_ci(row, "eer") if has_ci else ""),
            _fmt(row["auc"]),
        ])
    out = [
        f"Verification audit by {' x '.join(result.by)}",
        f"Threshold {result.threshold:.6g} ({result.policy['description']}); accept when score >= threshold.",
        "",
        table(rows, head),
        "",
        f"Fairness figures at the threshold (alpha={result.params['alpha']:g}"
        + (f", {ci_pct}% CI over {result.params['n_boot']} identity bootstraps)" if has_ci else ")"),
    ]
    frows = []
    for name, row in result.fairness.iterrows():
        value = _fmt(row["value"]) if row["defined"] else "undefined"
        interval = ""
        if has_ci and not (isinstance(row["ci_low"], float) and math.isnan(row["ci_low"])):
            interval = f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
        frows.append([name, value, interval, row.get("direction", ""), row["reason"] or ""])
    out.append(table(frows, ["figure", "value", "CI", "direction", "note"]))
    if result.notes:
        out += ["", "Notes:"] + [f"- {n}" for n in result.notes]
    return "\n".join(out)
