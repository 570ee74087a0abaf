"""The result of a verification what-if: :class:`WhatIfResult` (its tables and JSON) and its
plain-text summary (:func:`what_if_summary`). :func:`~fairaudit.verification.whatif.verification_what_if`
computes it; its figure is :func:`fairaudit.verification.whatif_plots.before_after`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.results import ResultOutput
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable
from fairaudit.common.text import _fmt, table
from fairaudit.data import POOLED


#: the tables of a WhatIfResult, in the order of its JSON
_FRAMES = ("by_group", "overall", "fairness", "changes", "fitted", "assignment")


@dataclass(frozen=True, eq=False)
class WhatIfResult(ResultOutput):
    """What :func:`~fairaudit.verification.whatif.verification_what_if` estimated on the evaluation
    identities (the columns: "Reading the result" in ``docs/guide/mitigation.md``).

    Attributes
    ----------
    method, target, by
        The what-if, its target on development (``{"metric": "fmr" | "fnmr", "value": ...}``), the groups.
    by_group : DataFrame
        Indexed by ``stage`` (``"before"``: one global threshold, fitted on the pooled development
        comparisons; ``"after"``: the method) and group: the audit's per-group columns at the stage's
        ``threshold`` (``fmr``, ``fnmr``, their intervals, counts and small-sample flags, on the evaluation
        identities) and the development side's ``n_identities_dev``, ``dev_fmr``, ``dev_fnmr``, ... (the fit).
    overall, fairness : DataFrame
        Pooled figures per stage (none after group thresholds); the fairness figures of each stage.
    changes : DataFrame
        Per group and rate: after - before, with the interval of the paired replicates.
    fitted, assignment : DataFrame
        What was fitted on development (thresholds per group, or impostor mean and sd per pair of groups);
        the ``side`` and group ``label`` of every identity.
    params, provenance : dict
    notes : list of str
        The deployment note first, then what could not be evaluated and why.
    """

    method: str
    target: dict
    by: tuple
    by_group: pd.DataFrame
    overall: pd.DataFrame
    fairness: pd.DataFrame
    changes: pd.DataFrame
    fitted: pd.DataFrame
    assignment: pd.DataFrame
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)

    kind = "verification_what_if"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of everything in the result."""
        return to_jsonable({"kind": self.kind, "method": self.method, "target": self.target, "by": list(self.by),
                            **{name: frame_to_dict(getattr(self, name)) for name in _FRAMES},
                            "params": self.params, "provenance": self.provenance, "notes": list(self.notes)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "WhatIfResult":
        """Rebuild a result from :meth:`to_dict` output (e.g. a JSON file)."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            got = data.get("kind") if isinstance(data, dict) else type(data).__name__
            raise errors.FairauditInputError(f"data has kind={got!r}, expected {cls.kind!r}. Fix: pass the JSON "
                                             "written by WhatIfResult.to_json().")
        return cls(method=data["method"], target=data["target"], by=tuple(data["by"]),
                   **{name: frame_from_dict(data[name]) for name in _FRAMES}, params=data["params"],
                   provenance=data["provenance"], notes=list(data.get("notes", [])))

    def summary(self) -> str:
        """A plain-text before/after table, the fairness figures before and after, and the notes."""
        return what_if_summary(self)

    def plot(self, **kwargs: Any) -> "Figure":
        """Per-group FMR and FNMR before and after, with intervals (:func:`before_after`)."""
        from fairaudit.verification.whatif_plots import before_after

        return before_after(self, **kwargs)

    def __repr__(self) -> str:
        target = f"{{{self.target['metric']!r}: {self.target['value']:g}}}"
        return (f"WhatIfResult(method={self.method!r}, target={target}, "
                f"by={list(self.by)}, groups={len(self.by_group) // 2})")


def _stage(result: Any, stage: str) -> pd.DataFrame:
    bg = result.by_group
    return bg[bg.index.get_level_values("stage") == stage].reset_index(drop=True).set_index("label", drop=False)


def _ci(row: pd.Series, name: str) -> str:
    lo, hi = row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if lo is None or hi is None or not np.isfinite(float(lo)):
        return ""
    return f" [{_fmt(float(lo))}, {_fmt(float(hi))}]"


def _threshold(value: Any) -> str:
    return "-" if value is None or not np.isfinite(float(value)) else f"{float(value):.4g}"


def what_if_summary(result: Any) -> str:
    """The before/after table per group, the fairness figures before and after, and the notes."""
    p, t = result.params, result.target
    ci_pct = int(round(100 * float(p.get("ci", 0.95))))
    before, after = _stage(result, "before"), _stage(result, "after")
    rows = []
    for label in before.index:
        b, a = before.loc[label], after.loc[label]
        rows.append([label, f"{int(b['n_identities_dev'])}/{int(b['n_identities'])}",
                     f"{_threshold(b['threshold'])} -> {_threshold(a['threshold'])}",
                     *(_fmt(float(r[m])) + _ci(r, m) for m in ("fmr", "fnmr") for r in (b, a))])
    for stage, row in result.overall.iterrows():  # no pooled figure after group thresholds
        if np.isfinite(float(row["fmr"])):
            f, n = _fmt(float(row["fmr"])), _fmt(float(row["fnmr"]))
            rows.append([f"{POOLED} ({stage})", "", _threshold(row["threshold"]),
                         *((f, "", n, "") if stage == "before" else ("", f, "", n))])
    n_dev, n_eval = int(before["n_identities_dev"].sum()), int(before["n_identities"].sum())
    out = [f"Mitigation what-if {result.method!r} by {' x '.join(result.by)}: fitted on development "
           "identities, evaluated on held-out identities (the audited system is unchanged)",
           f"Target on development: {t['metric'].upper()} = {t['value']:g}. Before: one global threshold "
           f"({p['global_threshold_dev']:.6g}, pooled). After: {p.get('method_description', result.method)}.",
           f"Split: {n_dev} development and {n_eval} evaluation identities; "
           f"{int(p.get('n_comparisons_unused', 0)):,} comparisons join the two sides and are used by neither.",
           f"Thresholds: before {p['score_scale']['before']}, after {p['score_scale']['after']}; "
           f"intervals: {ci_pct}% over {p['n_boot']} identity bootstraps of the evaluation identities"
           if p["n_boot"] else "Thresholds: before cosine; n_boot=0: no interval.", "",
           table(rows, ["group", "ids dev/eval", "threshold", "FMR before", "FMR after", "FNMR before",
                        "FNMR after"]), ""]
    changes = [[c["label"], c["metric"].upper(), _fmt(float(c["difference"]))
                + (f" [{_fmt(float(c['difference_ci_low']))}, {_fmt(float(c['difference_ci_high']))}]"
                   if np.isfinite(float(c["difference_ci_low"])) else "")] for _, c in result.changes.iterrows()]
    out += ["Change (after - before) on the evaluation identities, paired replicates",
            table(changes, ["group", "rate", "difference [CI]"]), "",
            f"Fairness figures on the evaluation identities (alpha={p['alpha']:g})"]
    frows = []
    for name in result.fairness.loc["before"].index:
        cells = []
        for stage in ("before", "after"):
            row = result.fairness.loc[(stage, name)]
            cell = _fmt(float(row["value"])) if bool(row["defined"]) else "undefined"
            cells.append(cell + (f" [{_fmt(float(row['ci_low']))}, {_fmt(float(row['ci_high']))}]"
                                 if np.isfinite(float(row["ci_low"])) else ""))
        frows.append([name, *cells, str(result.fairness.loc[("before", name), "direction"])])
    out += [table(frows, ["figure", "before", "after", "direction"])]
    if result.notes:
        out += ["", "Notes:"] + [f"- {n}" for n in result.notes]
    return "\n".join(out)
