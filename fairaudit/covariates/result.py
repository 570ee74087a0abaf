"""What a covariate audit found (:class:`CovariateResult`), its summary and its JSON form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.results import ResultOutput
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable

_FRAMES = ("fnmr", "fmr", "fmr_cells", "fnmr_curve", "by_group")


@dataclass(frozen=True, eq=False)
class CovariateResult(ResultOutput):
    """What :func:`~fairaudit.covariate_audit` found.

    Attributes
    ----------
    threshold : float
        The one threshold of every table (the verification audit's, by the same policy).
    policy : dict
        How it was chosen.
    by : tuple of str
        The grouping attributes; ``groups`` their labels.
    fnmr : DataFrame
        FNMR per covariate bin within each group: ``covariate``, ``pairing`` (``lower``: the bin
        of the lower of the two samples' values, or the level both share / ``mixed``; ``gap``:
        the absolute difference of a numeric covariate, e.g. an age gap), ``group`` (None: all
        genuine pairs), ``bin``, ``bin_code``, ``n_identities``, ``n_pairs``, ``n_errors``,
        ``rate``, ``ci_low``, ``ci_high``, ``ci_method``, ``below_rule_of_30``.
    fmr : DataFrame
        FMR per "lower" pair bin within each group (impostor comparisons of two samples of the
        group; ``group`` None: all impostor comparisons), same columns.
    fmr_cells : DataFrame
        FMR of every unordered cell of the two samples' bins (``bin_a <= bin_b``), per group and
        overall: the heatmaps over e.g. (age bin of one sample, age bin of the other).
    fnmr_curve : DataFrame
        FNMR against the lower value of each numeric covariate in ``params["curve_bins"]``
        quantile bins of the genuine pairs, per group; ``x`` the bin's median lower value.
    models : dict or None
        The regressions (``"genuine"``: false non-matches per genuine pair, identity-clustered;
        ``"impostor"``: false matches on aggregated cells), see
        :mod:`fairaudit.covariates.regression`, as plain tables: ``coefficients``, ``gaps``,
        ``sentences``, ``notes``.
    by_group : DataFrame
        The verification audit's FMR and FNMR per group at the same threshold (the tables'
        totals).
    params, provenance, notes
        The arguments, the package versions, plain remarks.
    """

    threshold: float
    policy: dict
    by: tuple
    groups: list
    fnmr: pd.DataFrame
    fmr: pd.DataFrame
    fmr_cells: pd.DataFrame
    fnmr_curve: pd.DataFrame
    models: dict | None
    by_group: pd.DataFrame
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)

    kind = "covariates"

    def __repr__(self) -> str:
        return (f"CovariateResult(by={list(self.by)}, covariates={self.params.get('covariates')}, "
                f"threshold={self.threshold:.6g})")

    @property
    def covariates(self) -> list[str]:
        return list(self.params.get("covariates", []))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of everything in the result."""
        out = {"kind": self.kind, "threshold": self.threshold, "policy": self.policy, "by": list(self.by),
               "groups": list(self.groups), "models": self.models, "params": self.params,
               "provenance": self.provenance, "notes": list(self.notes)}
        out.update({name: frame_to_dict(getattr(self, name)) for name in _FRAMES})
        return to_jsonable(out)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CovariateResult":
        """Rebuild a result from :meth:`to_dict` output (e.g. a JSON file)."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            got = data.get("kind") if isinstance(data, dict) else type(data).__name__
            raise errors.FairauditInputError(
                f"data has kind={got!r}, expected {cls.kind!r}. Fix: pass the JSON written by "
                "CovariateResult.to_json() (fairaudit covariates --json).")
        missing = [k for k in ("threshold", "policy", "by", "groups", "params", "provenance", *_FRAMES) if k not in data]
        if missing:
            raise errors.FairauditInputError(
                f"data lacks {missing} for a covariate result. Fix: pass the JSON written by "
                "CovariateResult.to_json() of the same fairaudit version, unmodified.")
        frames = {name: frame_from_dict(data[name]) for name in _FRAMES}
        return cls(threshold=float(data["threshold"]), policy=data["policy"], by=tuple(data["by"]),
                   groups=list(data["groups"]), models=data.get("models"), params=data["params"],
                   provenance=data["provenance"], notes=list(data.get("notes", [])), **frames)

    # -- reading the result ---------------------------------------------------
    def table(self, rate: str = "fnmr", covariate: str | None = None, pairing: str = "lower") -> pd.DataFrame:
        """One rate by bin (rows) and group (columns): ``rate`` ``"fnmr"`` or ``"fmr"``."""
        if rate not in ("fnmr", "fmr"):
            raise errors.FairauditInputError(f"rate={rate!r} must be 'fnmr' or 'fmr'.")
        frame = getattr(self, rate)
        covariate = covariate or (self.covariates[0] if self.covariates else None)
        if covariate not in self.covariates:
            raise errors.FairauditInputError(
                f"covariate={covariate!r} was not audited; audited: {self.covariates}. Fix: pick one of those.")
        part = frame[(frame["covariate"] == covariate) & (frame["pairing"] == pairing)]
        if part.empty:
            return pd.DataFrame()
        part = part.assign(group=part["group"].where(part["group"].notna(), "(overall)"))
        out = part.pivot_table(index=["bin_code", "bin"], columns="group", values="rate", sort=False)
        return out.droplevel(0)

    def heatmap(self, covariate: str, group: str | None = None) -> pd.DataFrame:
        """FMR over (bin of one sample, bin of the other) as a symmetric square table; ``group``
        None: all impostor comparisons."""
        cells = self.fmr_cells
        part = cells[(cells["covariate"] == covariate)
                     & (cells["group"].isna() if group is None else cells["group"] == group)]
        if part.empty:
            raise errors.FairauditInputError(
                f"no FMR cells for covariate={covariate!r}, group={group!r}. Fix: pick an audited covariate "
                f"({self.covariates}) and group ({self.groups}, or None for everyone).")
        names = dict(zip(part["bin_a"], part["bin_a_label"])) | dict(zip(part["bin_b"], part["bin_b_label"]))
        k = max(names) + 1
        grid = np.full((k, k), np.nan)
        grid[part["bin_a"], part["bin_b"]] = part["fmr"]
        grid[part["bin_b"], part["bin_a"]] = part["fmr"]
        order = [names.get(i, str(i)) for i in range(k)]
        return pd.DataFrame(grid, index=pd.Index(order, name=f"{covariate} (one sample)"),
                            columns=pd.Index(order, name=f"{covariate} (other sample)"))

    def sentences(self) -> list[str]:
        """The regressions' plain-language findings (genuine side first)."""
        out: list[str] = []
        for side in ("genuine", "impostor"):
            model = (self.models or {}).get(side)
            if model:
                out += list(model.get("sentences", []))
        return out

    def summary(self) -> str:
        """A plain-text summary: FNMR and FMR by covariate bin per group, then the regressions."""
        from fairaudit.covariates.summary import summary_text

        return summary_text(self)
