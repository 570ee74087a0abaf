"""What a 1:N identification audit found (:class:`IdentificationResult`) and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.results import ResultOutput
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable
from fairaudit.verification.comparisons import empty_comparisons

_FRAMES = ("by_group", "cmc", "curves", "gallery", "landing", "gallery_size", "fairness", "comparisons")


@dataclass(frozen=True, eq=False)
class IdentificationResult(ResultOutput):
    """What :func:`fairaudit.identification_audit` found.

    Attributes
    ----------
    threshold : float
        The one threshold applied to every group: a candidate is returned when its score >= threshold.
    policy : dict
        How it was chosen: ``{"kind": "fixed"|"fpir", "value": ...}``.
    rank : int
        The rank R of FNIR(T, R): a mate counts as found at rank <= R.
    k : int
        Length of the kept candidate lists (the CMC goes up to k).
    by : tuple of str
        The attributes that define the groups (of the probe's identity).
    protocol : dict
        The gallery/probe protocol: ``kind`` ``split`` (with ``nonmated_share``, ``samples`` and the
        ``seed`` of the split), ``roles`` (with the numbers of gallery and probe samples) or
        ``candidate_lists`` (with ``source``).
    by_group : DataFrame
        One row per group, indexed by the group's value(s). Columns: ``label``, ``n_identities``,
        ``n_mated_identities``, ``n_nonmated_identities`` (probe identities), ``n_mated``,
        ``n_nonmated`` (searches), ``n_false_negatives``, ``n_false_positives``, ``fnir`` (FNIR(T,
        R)), ``fpir`` (FPIR(T)), ``rank1`` (rank-1 identification rate, no threshold), ``dir``
        (detection-and-identification rate at T and R, = 1 - fnir), then for ``fnir``, ``fpir`` and
        ``rank1`` the interval ``_ci_low``, ``_ci_high`` and ``_ci_method`` (``percentile`` or
        ``clopper-pearson``; NaN and ``""`` without bootstrap), and the flags
        ``fnir_below_rule_of_30``, ``fpir_below_rule_of_30``, ``below_min_identities``.
    overall : Series
        The same figures pooled over every probe (label ``"all"``).
    cmc : DataFrame
        ``group``, ``rank`` (1..k), ``n_mated``, ``identification_rate`` (CMC), ``dir`` (at T).
    curves : DataFrame
        ``group``, ``threshold``, ``fpir``, ``fnir`` (at rank R): the DET of FNIR against FPIR.
    gallery : DataFrame
        The gallery's composition: ``label``, ``n_identities``, ``n_samples``, ``share``.
    landing : DataFrame
        Where false positives land: ``probe_group``, ``candidate_group``, ``n_false_positives``,
        ``share``, ``top_k_share``, ``gallery_share``, ``top_k_lift``
        (see :func:`fairaudit.identification.rates.landing_table`).
    gallery_size : DataFrame
        ``group``, ``gallery_identities``, ``fpir``: FPIR at T in nested random sub-galleries.
    fairness : DataFrame
        ``fdr``, ``garbe``, ``inequity``, ``fpir_max_min``, ``fnir_max_min`` over FPIR and FNIR.
    comparisons : DataFrame
        Group comparisons of ``fnir``, ``fpir`` and ``rank1`` (the columns of the verification
        audit's ``comparisons``).
    params, provenance, notes
        The arguments, the environment, plain-language remarks.
    """

    threshold: float
    policy: dict
    rank: int
    k: int
    by: tuple
    protocol: dict
    by_group: pd.DataFrame
    overall: pd.Series
    cmc: pd.DataFrame
    curves: pd.DataFrame
    gallery: pd.DataFrame
    landing: pd.DataFrame
    gallery_size: pd.DataFrame
    fairness: pd.DataFrame
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)
    comparisons: pd.DataFrame = field(default_factory=empty_comparisons)

    kind = "identification"

    def landing_matrix(self, value: str = "share") -> pd.DataFrame:
        """``landing`` as a probe-group x candidate-group matrix of one column (``share``,
        ``n_false_positives``, ``top_k_share`` or ``top_k_lift``)."""
        if value not in self.landing.columns or value in ("probe_group", "candidate_group"):
            raise errors.FairauditInputError(
                f"value={value!r} is not a column of landing. Fix: pass one of 'share', "
                "'n_false_positives', 'top_k_share', 'top_k_lift', 'gallery_share'.")
        labels = list(self.gallery["label"])
        m = self.landing.pivot(index="probe_group", columns="candidate_group", values=value)
        return m.reindex(index=labels, columns=labels)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of everything in the result."""
        out = {
            "kind": self.kind, "threshold": self.threshold, "policy": self.policy, "rank": self.rank,
            "k": self.k, "by": list(self.by), "protocol": self.protocol,
            "overall": {k: to_jsonable(v) for k, v in self.overall.items()},
            "params": self.params, "provenance": self.provenance, "notes": list(self.notes),
        }
        for name in _FRAMES:
            out[name] = frame_to_dict(getattr(self, name))
        return to_jsonable(out)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "IdentificationResult":
        """Rebuild a result from :meth:`to_dict` output (e.g. a JSON file)."""
        if data.get("kind") != cls.kind:
            raise errors.FairauditInputError(
                f"data has kind={data.get('kind')!r}, expected {cls.kind!r}. Fix: pass the JSON "
                "written by IdentificationResult.to_json()."
            )
        required = ("threshold", "policy", "rank", "k", "by", "protocol", "overall", "params", "provenance",
                    *_FRAMES)
        missing = [name for name in required if name not in data]
        if missing:
            raise errors.FairauditInputError(
                f"data: the identification result lacks {missing} (a truncated or edited file?). Fix: "
                "pass the whole JSON written by IdentificationResult.to_json().")
        return cls(
            threshold=float(data["threshold"]), policy=data["policy"], rank=int(data["rank"]),
            k=int(data["k"]), by=tuple(data["by"]), protocol=data["protocol"],
            overall=pd.Series({k: (np.nan if v is None else v) for k, v in data["overall"].items()}),
            params=data["params"], provenance=data["provenance"], notes=list(data.get("notes", [])),
            **{name: frame_from_dict(data[name]) for name in _FRAMES},
        )

    def summary(self) -> str:
        """A plain-text table of the per-group figures and the fairness figures."""
        from fairaudit.identification.summary import identification_summary

        return identification_summary(self)

    def __repr__(self) -> str:
        return (f"IdentificationResult(by={list(self.by)}, threshold={self.threshold:.6g}, rank={self.rank}, "
                f"groups={len(self.by_group)})")
