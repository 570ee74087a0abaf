"""What a verification audit found (:class:`VerificationResult`), its columns, and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.results import ResultOutput
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable
from fairaudit.verification import rates

#: columns of ``VerificationResult.by_group`` (and of ``overall``) before the CI columns
RATE_COLUMNS = (
    "label", "n_identities", "n_samples", "n_genuine", "n_impostor", "fmr", "fnmr",
    "eer", "eer_threshold", "auc", *(rates.fmr_point_label(x) for x in rates.FMR_POINTS),
)
CI_COLUMNS = ("fmr_ci_low", "fmr_ci_high", "fnmr_ci_low", "fnmr_ci_high", "eer_ci_low", "eer_ci_high")


@dataclass(frozen=True, eq=False)
class VerificationResult(ResultOutput):
    """What :func:`verification_audit` found.

    Attributes
    ----------
    threshold : float
        The one global threshold applied to every group (accept when score >= threshold).
    policy : dict
        How it was chosen: ``{"kind": "fixed"|"eer"|"fmr", "value": ...}``.
    by : tuple of str
        The attributes that define the groups.
    by_group : DataFrame
        One row per group, indexed by the group's value (a MultiIndex when
        ``by`` names several attributes). Columns: ``label``, ``n_identities``,
        ``n_samples`` (NaN for score files), ``n_genuine``, ``n_impostor``,
        ``fmr``, ``fnmr`` (at the threshold, exact counts), ``eer``,
        ``eer_threshold``, ``auc``, ``fnmr_at_fmr_1e-02`` / ``1e-03`` /
        ``1e-04`` (NaN where the group has too few impostor pairs, see
        ``notes``), and ``fmr_ci_low`` ... ``eer_ci_high`` (NaN without bootstrap).
    overall : Series
        The same figures for the pooled population (all pairs, label ``"all"``).
    cross_fmr : DataFrame
        Group x group impostor FMR at the threshold (rows and columns are
        group labels); the diagonal equals ``by_group.fmr``.
    cross_impostor : DataFrame
        Number of impostor pairs behind each cell of ``cross_fmr``.
    curves : DataFrame
        Columns ``group`` (label, ``"all"`` = pooled), ``threshold``, ``fmr``,
        ``fnmr``: FMR(t) and FNMR(t), which also give ROC and DET.
    histograms : DataFrame
        Columns ``group``, ``kind`` (``genuine``/``impostor``), ``bin_left``,
        ``bin_right``, ``count``.
    fairness : DataFrame
        Indexed by figure (``fdr``, ``garbe``, ``inequity``, ``fmr_max_min``,
        ``fnmr_max_min``); columns ``value``, ``ci_low``, ``ci_high``,
        ``defined``, ``reason``, ...
    params : dict
        The arguments that produced the result.
    provenance : dict
        Package versions, BLAS kernel, time.
    notes : list of str
        Plain-language remarks: figures not reported and why, small groups.
    """

    threshold: float
    policy: dict
    by: tuple
    by_group: pd.DataFrame
    overall: pd.Series
    cross_fmr: pd.DataFrame
    cross_impostor: pd.DataFrame
    curves: pd.DataFrame
    histograms: pd.DataFrame
    fairness: pd.DataFrame
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)

    kind = "verification"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of everything in the result."""
        return to_jsonable({
            "kind": self.kind,
            "threshold": self.threshold,
            "policy": self.policy,
            "by": list(self.by),
            "by_group": frame_to_dict(self.by_group),
            "overall": {k: to_jsonable(v) for k, v in self.overall.items()},
            "cross_fmr": frame_to_dict(self.cross_fmr),
            "cross_impostor": frame_to_dict(self.cross_impostor),
            "curves": frame_to_dict(self.curves),
            "histograms": frame_to_dict(self.histograms),
            "fairness": frame_to_dict(self.fairness),
            "params": self.params,
            "provenance": self.provenance,
            "notes": list(self.notes),
        })


    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "VerificationResult":
        """Rebuild a result from :meth:`to_dict` output (e.g. a JSON file)."""
        if data.get("kind") != cls.kind:
            raise errors.FairauditInputError(
                f"data has kind={data.get('kind')!r}, expected {cls.kind!r}. Fix: pass the JSON "
                "written by VerificationResult.to_json()."
            )
        cross = frame_from_dict(data["cross_fmr"])
        cross_n = frame_from_dict(data["cross_impostor"])
        return cls(
            threshold=float(data["threshold"]),
            policy=data["policy"],
            by=tuple(data["by"]),
            by_group=frame_from_dict(data["by_group"]),
            overall=pd.Series({k: (np.nan if v is None else v) for k, v in data["overall"].items()}),
            cross_fmr=cross,
            cross_impostor=cross_n,
            curves=frame_from_dict(data["curves"]),
            histograms=frame_from_dict(data["histograms"]),
            fairness=frame_from_dict(data["fairness"]),
            params=data["params"],
            provenance=data["provenance"],
            notes=list(data.get("notes", [])),
        )


    def summary(self) -> str:
        """A plain-text table of the per-group figures and the fairness figures."""
        from fairaudit.verification.summary import verification_summary

        return verification_summary(self)

    def __repr__(self) -> str:
        return (f"VerificationResult(by={list(self.by)}, threshold={self.threshold:.6g}, "
                f"groups={len(self.by_group)})")
