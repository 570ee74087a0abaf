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
from fairaudit.verification.comparisons import empty_comparisons

#: columns of ``VerificationResult.by_group`` (and of ``overall``) before the CI columns
RATE_COLUMNS = (
    "label", "n_identities", "n_samples", "n_genuine", "n_impostor", "fmr", "fnmr",
    "eer", "eer_threshold", "auc", "d_prime", *(rates.fmr_point_label(x) for x in rates.FMR_POINTS),
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
        ``eer_threshold``, ``auc``, ``d_prime`` (Daugman's decidability index of the group's
        genuine and impostor scores, within ``separation_by_group``'s ``d_prime_bound``, see
        :mod:`fairaudit.verification.separation`), ``fnmr_at_fmr_1e-02`` / ``1e-03`` /
        ``1e-04`` (NaN where the group has too few impostor pairs, see
        ``notes``), ``fmr_ci_low`` ... ``eer_ci_high`` (NaN without bootstrap), and
        ``fmr_vs_geomean`` and ``fnmr_vs_geomean`` (the group's rate over the geometric mean
        of the group rates, NIST IR 8429; see :func:`fairaudit.fairness.ratios_to_geomean`).
        Results written before ``d_prime`` and the ``_vs_geomean`` columns existed read back
        without them.
        Small samples: ``n_false_matches`` and ``n_false_non_matches`` (the error counts at the
        threshold), ``fmr_ci_method``, ``fnmr_ci_method`` and ``eer_ci_method`` (``"percentile"``, or
        ``"clopper-pearson"`` where the group has fewer than ``min_identities`` identities, no
        error, or a percentile interval without width; ``""`` without bootstrap; the EER's on
        ``n_genuine + n_impostor`` comparisons, see ``docs/concepts/statistics.md``),
        ``fmr_below_rule_of_30`` and ``fnmr_below_rule_of_30`` (fewer than 30 errors,
        Doddington's rule of 30) and ``below_min_identities``. System level (ISO/IEC 19795-1):
        ``fta`` (failure-to-acquire rate of the group's samples), ``far`` = fmr x (1 - fta) and
        ``frr`` = fta + fnmr x (1 - fta), NaN when the data records no failure to acquire;
        ``overall`` carries the pooled ``fta``, ``far`` and ``frr``.
    overall : Series
        The same figures for the pooled population (all pairs, label ``"all"``), without the
        ``_vs_geomean`` columns (a comparison between groups).
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
        ``fnmr_max_min``, ``fmr_sd``, ``fnmr_sd``, ``fmr_max_geomean``, ``fnmr_max_geomean``,
        ``eer_max_min``, ``eer_sd``: :data:`fairaudit.fairness.ALL_FIGURES`; older results may
        hold only the first five); columns ``value``, ``ci_low``, ``ci_high``,
        ``defined``, ``reason``, ...
    params : dict
        The arguments that produced the result.
    provenance : dict
        Package versions, BLAS kernel, time.
    notes : list of str
        Plain-language remarks: figures not reported and why, small groups.
    comparisons : DataFrame
        Group comparisons, one row per comparison (empty, same columns, when ``n_boot=0``), see
        :data:`~fairaudit.verification.comparisons.COMPARISON_COLUMNS`: ``metric`` (``fmr``,
        ``fnmr``, ``eer``), ``kind`` (``pair``: two groups; ``vs_rest``: a group against every
        identity outside it, labelled ``"rest"``, FMR and FNMR with three groups or more),
        ``group_a``, ``group_b`` (labels), ``value_a``, ``value_b``, ``difference`` (a - b) and
        ``ratio`` (a / b, NaN when b is 0) with ``difference_ci_low``, ``difference_ci_high``,
        ``ratio_ci_low`` and ``ratio_ci_high`` (percentile intervals of the same paired identity-bootstrap
        replicates as ``by_group``; replicates with a zero denominator are left out of the ratio),
        ``ci_method`` (``"percentile"``; ``"newcombe"`` where a side is below ``min_identities`` or
        has a Clopper-Pearson interval: the two sides' reported intervals combined, Newcombe's
        square-and-add for the difference and MOVER for the ratio, whose upper bound is NaN when
        unbounded), ``p_value`` (two-sided; NaN when ``n_perm=0``), ``p_method``
        (``"permutation"``: identity-level permutation test at the fixed threshold, FMR and FNMR;
        ``"bootstrap"``: EER, the percentile interval of the paired differences inverted;
        ``"newcombe"``: EER with ``ci_method`` ``"newcombe"``, that interval inverted; ``""``
        without a p-value), ``p_holm`` (Holm's adjustment over every p-value of the table) and
        ``n_perm`` (permutations behind the p-value, 0 without one).
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
    comparisons: pd.DataFrame = field(default_factory=empty_comparisons)

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
            "comparisons": frame_to_dict(self.comparisons),
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
            comparisons=(frame_from_dict(data["comparisons"]) if "comparisons" in data
                         else empty_comparisons()),
        )


    def summary(self) -> str:
        """A plain-text table of the per-group figures and the fairness figures."""
        from fairaudit.verification.summary import verification_summary

        return verification_summary(self)

    def __repr__(self) -> str:
        return (f"VerificationResult(by={list(self.by)}, threshold={self.threshold:.6g}, "
                f"groups={len(self.by_group)})")
