"""The plain-text summary of an :class:`IdentificationResult` for the terminal."""

from __future__ import annotations

from fairaudit.common.text import _fmt, table
from fairaudit.verification.summary import _comparisons_table, _fairness_table, _group_rows, _mark, _rate


def identification_summary(result) -> str:
    """Per-group table, threshold, fairness figures, comparisons and notes of an IdentificationResult."""
    ci_pct = int(round(100 * float(result.params.get("ci", 0.95))))
    has_ci = int(result.params.get("n_boot", 0)) > 0
    head = ["group", "probe ids", "mated", "non-mated", f"FNIR (R={result.rank})", "FPIR", "rank-1"]
    rows = []
    for row in _group_rows(result):
        rows.append([
            row["label"] + _mark(row, "below_min_identities", " !"), _fmt(row["n_identities"]),
            f"{int(row['n_mated']):,}", f"{int(row['n_nonmated']):,}",
            _rate(row, "fnir", has_ci), _rate(row, "fpir", has_ci), _rate(row, "rank1", has_ci, flagged=False),
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
    out.append(_fairness_table(result.fairness, has_ci))
    if len(result.comparisons):
        out += ["", f"Group comparisons ({ci_pct}% CI from the same bootstraps; p: probe-identity "
                "permutation test, Holm-adjusted over the table)", _comparisons_table(result.comparisons)]
    if result.notes:
        out += ["", "Notes:"] + [f"- {n}" for n in result.notes]
    return "\n".join(out)
