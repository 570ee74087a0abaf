"""What a comparison of systems found (:class:`SystemComparison`), its summary and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fairaudit.common import errors
from fairaudit.common.results import ResultOutput
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable


@dataclass(frozen=True, eq=False)
class SystemComparison(ResultOutput):
    """What :func:`~fairaudit.systems.compare_systems` found.

    Attributes
    ----------
    systems : tuple of str
        The systems' names, in the order given.
    by : tuple of str
        The attributes that define the groups.
    audits : dict of str to VerificationResult
        Each system's own audit (at its own threshold; bootstrap intervals, no permutation test).
    by_group : DataFrame
        One row per system and group: ``system``, ``threshold`` and the columns of
        ``VerificationResult.by_group``.
    leaderboard : DataFrame
        One row per system: ``threshold``, pooled ``fmr`` and ``fnmr`` (with an interval), pooled
        ``eer``, the chosen fairness figure (``params["figure"]``, with an interval), the worst
        group's FNMR and FMR, ``rank_accuracy`` (by pooled FNMR), ``rank_fairness`` and ``pareto``
        (no other system is better on both).
    differences : DataFrame
        Paired differences ``value_a - value_b`` between every two systems: ``scope`` ``group``
        (FMR, FNMR and EER of one group), ``pooled`` (FNMR of everyone) or ``fairness`` (one
        figure); ``ci_low``, ``ci_high`` (percentile interval of the shared bootstrap's
        differences), ``p_value`` (bootstrap, two-sided), ``family`` (one pair of systems and one
        question) and ``p_holm`` (Holm within the family).
    params, provenance, notes
        The arguments, the package versions, plain remarks.
    """

    systems: tuple
    by: tuple
    audits: dict
    by_group: pd.DataFrame
    leaderboard: pd.DataFrame
    differences: pd.DataFrame
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)

    kind = "systems"

    def __repr__(self) -> str:
        return f"SystemComparison(systems={list(self.systems)}, by={list(self.by)})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of everything in the comparison (each system's audit in full)."""
        return to_jsonable({
            "kind": self.kind, "systems": list(self.systems), "by": list(self.by),
            "audits": {name: r.to_dict() for name, r in self.audits.items()},
            "by_group": frame_to_dict(self.by_group), "leaderboard": frame_to_dict(self.leaderboard),
            "differences": frame_to_dict(self.differences), "params": self.params,
            "provenance": self.provenance, "notes": list(self.notes),
        })

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SystemComparison":
        """Rebuild a comparison from :meth:`to_dict` output (e.g. a JSON file)."""
        from fairaudit.verification.result import VerificationResult

        if data.get("kind") != cls.kind:
            raise errors.FairauditInputError(
                f"data has kind={data.get('kind')!r}, expected {cls.kind!r}. Fix: pass the JSON written by "
                "SystemComparison.to_json() (fairaudit compare --json).")
        return cls(
            systems=tuple(data["systems"]), by=tuple(data["by"]),
            audits={name: VerificationResult.from_dict(r) for name, r in data["audits"].items()},
            by_group=frame_from_dict(data["by_group"]), leaderboard=frame_from_dict(data["leaderboard"]),
            differences=frame_from_dict(data["differences"]), params=data["params"],
            provenance=data["provenance"], notes=list(data.get("notes", [])),
        )

    def difference(self, system_a: str, system_b: str, metric: str, group: str | None = None) -> pd.Series:
        """The row of ``differences`` for ``metric`` (``fmr``, ``fnmr``, ``eer`` or a fairness
        figure) between two systems, for ``group`` (a label; ``"all"`` for pooled FNMR; omitted
        for a fairness figure). The sign follows the order asked for."""
        d = self.differences
        flip = False
        sel = (d["system_a"] == system_a) & (d["system_b"] == system_b)
        if not sel.any():
            sel, flip = (d["system_a"] == system_b) & (d["system_b"] == system_a), True
        sel &= d["metric"] == metric
        sel &= (d["scope"] == "fairness") if group is None else (d["group"] == group)
        if not sel.any():
            raise errors.FairauditInputError(
                f"no difference for systems {system_a!r} and {system_b!r}, metric={metric!r}, group={group!r}. "
                f"Fix: use names from {list(self.systems)} and labels from by_group['label'].")
        row = d[sel].iloc[0].copy()
        if flip:
            row["system_a"], row["system_b"] = system_a, system_b
            row["value_a"], row["value_b"] = row["value_b"], row["value_a"]
            row["difference"] = -row["difference"]
            row["ci_low"], row["ci_high"] = -row["ci_high"], -row["ci_low"]
        return row

    def summary(self) -> str:
        """A plain-text account: the leaderboard, then the differences that hold after Holm."""
        from fairaudit.systems.summary import summary

        return summary(self)

    def __str__(self) -> str:
        return self.summary()
