"""The plain-text summary of a comparison of systems."""

from __future__ import annotations

from typing import Any

import numpy as np



def _rate(x: Any) -> str:
    """A rate as the tables print it: 4 decimals, or 3 significant digits below 1e-3."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(v):
        return "n/a"
    return f"{v:.3g}" if 0 < abs(v) < 1e-3 else f"{v:.4f}"


#: the most held differences the summary lists
SHOWN = 10


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip(),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return out


def _ci(lo: Any, hi: Any) -> str:
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    return f" [{_rate(lo)}, {_rate(hi)}]"


def summary(result: Any) -> str:
    figure = result.params.get("figure", "")
    ci = float(result.params.get("ci", 0.95))
    out = [f"Comparison of {len(result.systems)} systems by {' x '.join(result.by)}",
           f"Policy: {result.params.get('policy')}, each system at its own threshold; "
           f"{ci:.0%} intervals from one identity bootstrap shared by all systems "
           f"({result.params.get('n_boot'):,} replicates).", ""]
    rows = []
    for _, r in result.leaderboard.iterrows():
        rows.append([str(r["system"]), f"{r['threshold']:.4g}", _rate(r["fmr"]),
                     _rate(r["fnmr"]) + _ci(r["fnmr_ci_low"], r["fnmr_ci_high"]),
                     (f"{r[figure]:.3g}" if np.isfinite(r[figure]) else "n/a")
                     + (f" [{r[f'{figure}_ci_low']:.3g}, {r[f'{figure}_ci_high']:.3g}]"
                        if np.isfinite(r[f"{figure}_ci_low"]) else ""),
                     f"{r['worst_fnmr_group']} {_rate(r['worst_fnmr'])}" if r["worst_fnmr_group"] else "",
                     "yes" if r["pareto"] else ""])
    out += _table(["system", "threshold", "FMR", "FNMR", figure, "worst FNMR", "pareto"], rows)
    d = result.differences
    held = d[(d["p_holm"] < 0.05) & d["scope"].isin(["group", "pooled"])]
    out.append("")
    if held.empty:
        out.append("No group or pooled difference between systems holds at 5 % after Holm's adjustment.")
    else:
        out.append(f"{len(held)} difference(s) hold at 5 % after Holm's adjustment (a - b)"
                   + (f"; the {SHOWN} largest relative to their rates:" if len(held) > SHOWN else ":"))
        size = (held["difference"].abs() / held[["value_a", "value_b"]].abs().max(axis=1).replace(0, np.nan))
        top = held.loc[size.fillna(0).sort_values(ascending=False, kind="stable").index[:SHOWN]]
        top = top.loc[[i for i in held.index if i in top.index]]  # in table order
        rows = [[str(r["system_a"]), str(r["system_b"]), str(r["group"]), r["metric"].upper(),
                 _rate(r["value_a"]), _rate(r["value_b"]), f"{r['difference']:+.3g}",
                 f"[{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]", f"{r['p_holm']:.3g}"] for _, r in top.iterrows()]
        out += _table(["a", "b", "group", "rate", "a", "b", "a - b", "CI", "p (Holm)"], rows)
        if len(held) > SHOWN:
            out.append(f"... and {len(held) - SHOWN} more in result.differences.")
    fair = d[(d["scope"] == "fairness") & (d["metric"] == figure)]
    for _, r in fair.iterrows():
        if not (np.isfinite(r["value_a"]) and np.isfinite(r["value_b"])):
            out.append(f"{figure}: undefined for {r['system_a'] if not np.isfinite(r['value_a']) else r['system_b']} "
                       "(see its audit's fairness table for why).")
            continue
        if not np.isfinite(r["p_holm"]):
            out.append(f"{figure}: {r['system_a']} {r['value_a']:.3g} against {r['system_b']} {r['value_b']:.3g}; "
                       "no interval or p-value (see the notes).")
            continue
        verdict = "holds" if r["p_holm"] < 0.05 else "is within noise"
        out.append(f"{figure}: {r['system_a']} {r['value_a']:.3g} against {r['system_b']} {r['value_b']:.3g}, "
                   f"difference {r['difference']:+.3g} [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}], "
                   f"p (Holm) {r['p_holm']:.3g}: the gap {verdict}.")
    if result.notes:
        out.append("")
        out += [f"Note: {n}" for n in result.notes]
    return "\n".join(out)
