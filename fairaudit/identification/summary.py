"""The plain-text summary of an :class:`IdentificationResult` for the terminal."""

from __future__ import annotations

import math

import pandas as pd

from fairaudit.common.text import _fmt, table
from fairaudit.verification.summary import _ci, _comparisons_table, _mark


def identification_summary(result) -> str:
    """Per-group table, threshold, fairness figures, comparisons and notes of an IdentificationResult."""
    ci_pct = int(round(100 * float(result.params.get("ci", 0.95))))
    has_ci = int(result.params.get("n_boot", 0)) > 0
    head = ["group", "probe ids", "mated", "non-mated", f"FNIR (R={result.rank})", "FPIR", "rank-1"]
    rows = []
    frames = [result.by_group.reset_index(drop=True), pd.DataFrame([result.overall])]
    for _, row in pd.concat(frames, ignore_index=True).iterrows():
        rows.append([
            row["label"] + _mark(row, "below_min_identities", " !"), _fmt(row["n_identities"]),
            f"{int(row['n_mated']):,}", f"{int(row['n_nonmated']):,}",
            _fmt(row["fnir"]) + _mark(row, "fnir_below_rule_of_30", "*") + (_ci(row, "fnir") if has_ci else ""),
            _fmt(row["fpir"]) + _mark(row, "fpir_below_rule_of_30", "*") + (_ci(row, "fpir") if has_ci else ""),
            _fmt(row["rank1"]) + (_ci(row, "rank1") if has_ci else ""),
        ])
    params = result.params
    out = [
        f"Identification (1:N) audit by {' x '.join(result.by)}: {params['n_probes']:,} searches of a gallery of "
        f"{params['n_gallery_identities']:,} identities ({params['n_gallery_samples']:,} samples)",
        f"Threshold {result.threshold:.6g} ({result.policy['description']}); a candidate is returned when "
        "score >= threshold.",
        "",
        table(rows, head),
    ]
    bg = result.by_group
    if bool(bg[["fnir_below_rule_of_30", "fpir_below_rule_of_30"]].to_numpy().any()):
        out.append("* fewer than 30 errors behind the rate (Doddington's rule of 30)")
    if bool(bg["below_min_identities"].any()):
        out.append(f"! fewer than {params.get('min_identities', 30)} probe identities in the group")
    out += ["", f"Fairness figures over FPIR and FNIR at the threshold (alpha={params['alpha']:g}"
            + (f", {ci_pct}% CI over {params['n_boot']} probe-identity bootstraps)" if has_ci else ")")]
    frows = []
    for name, row in result.fairness.iterrows():
        value = _fmt(row["value"]) if row["defined"] else "undefined"
        interval = ""
        if has_ci and not (isinstance(row["ci_low"], float) and math.isnan(row["ci_low"])):
            interval = f"[{_fmt(row['ci_low'])}, {_fmt(row['ci_high'])}]"
        frows.append([name, value, interval, row.get("direction", ""), row["reason"] or ""])
    out.append(table(frows, ["figure", "value", "CI", "direction", "note"]))
    if len(result.comparisons):
        out += ["", f"Group comparisons ({ci_pct}% CI from the same bootstraps; p: probe-identity "
                "permutation test, Holm-adjusted over the table)", _comparisons_table(result.comparisons)]
    if result.notes:
        out += ["", "Notes:"] + [f"- {n}" for n in result.notes]
    return "\n".join(out)
