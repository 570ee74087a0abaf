"""The plain-text summary of a covariate audit (the CLI's table and ``summary.txt``)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def _rate(value: float, lo: float, hi: float, flag: bool) -> str:
    if not np.isfinite(value):
        return "n/a"
    text = f"{value:.4f}"
    if np.isfinite(lo) and np.isfinite(hi):
        text += f" [{lo:.4f}, {hi:.4f}]"
    return text + (" *" if flag else "")


def _block(frame: pd.DataFrame, covariate: str, pairing: str, title: str) -> list[str]:
    part = frame[(frame["covariate"] == covariate) & (frame["pairing"] == pairing)]
    if part.empty:
        return []
    key = [None if pd.isna(g) else str(g) for g in part["group"]]
    groups = [g for g in dict.fromkeys(key) if g is not None] + ([None] if None in key else [])
    cells: dict[int, dict] = {}
    names: dict[int, str] = {}
    for k, (_, r) in zip(key, part.iterrows()):
        code = int(r["bin_code"])
        names[code] = str(r["bin"])
        cells.setdefault(code, {})[k] = _rate(r["rate"], r["ci_low"], r["ci_high"], r["below_rule_of_30"])
    rows = [[names[c]] + [cells[c].get(g, "") for g in groups] for c in sorted(cells)]
    from fairaudit.covariates.bins import everyone_label

    everyone = everyone_label(g for g in groups if g is not None)
    header = [title] + [everyone if g is None else str(g) for g in groups]
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [line(header)] + [line(r) for r in rows] + [""]


def summary_text(result) -> str:
    """FNMR and FMR by covariate bin per group (95 % intervals; * fewer than 30 errors), then the
    regressions' sentences and the notes."""
    lines = [f"Covariate audit at threshold {result.threshold:.6g} "
             f"({', '.join(result.covariates)}; groups by {' & '.join(result.by)})", ""]
    for name in result.covariates:
        lines += [f"FNMR by {name}:"]
        lines += _block(result.fnmr, name, "lower", f"{name} (lower of the pair)")
        lines += _block(result.fnmr, name, "gap", f"{name} gap")
        block = _block(result.fmr, name, "lower", f"{name} (lower of the pair)")
        if block:
            lines += [f"FMR by {name} (impostor pairs of one group):"] + block
    said = result.sentences()
    if said:
        lines += ["Does the gap survive the covariates?"] + [f"- {s}" for s in said] + [""]
    if result.notes:
        lines += ["Notes:"] + [f"- {n}" for n in result.notes]
    lines += ["", "* fewer than 30 errors in the bin (Doddington's rule of 30): read the rate as coarse."]
    return "\n".join(lines).rstrip() + "\n"
