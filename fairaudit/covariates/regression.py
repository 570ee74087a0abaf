"""Does the gap survive? Logistic regressions of verification errors on group and covariates.

:func:`gap_models` fits two binomial GLMs (logit link) to a table of pairs, *unadjusted* (group only) and
*adjusted* (group + covariates), and reports each group's odds ratio against a reference group before and after
adjustment. Genuine pairs: one row per pair, a 0/1 false non-match, identity-clustered (CRV1) standard errors.
Impostor comparisons: false matches out of ``trials`` per cell, quasi-binomial scale. Pure (tables in, tables
out); design matrices are built with numpy, never from a formula of user strings; statsmodels is imported lazily.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common.errors import FairauditInputError
from fairaudit.common.results import ResultOutput
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable

NOT_A_TABLE = "pairs must be a pandas DataFrame; got {type}. Fix: pass pd.DataFrame({{...}}), one row per pair."
NO_ROWS = "pairs has no rows. Fix: pass one row per genuine pair, or one row per impostor cell with trials=..."
MISSING_COLUMN = ("{name}={value!r} is not a column of pairs (columns: {available}). Fix: pass one of them, "
                  "or add the column to pairs.")
DUPLICATE_COLUMN = "pairs has several columns named {value!r} ({name}). Fix: give every column a unique name."
NOT_A_LIST = ("covariates must be a list of column names; got {value!r}. Fix: pass e.g. covariates=['quality'] "
              "(or [] for none).")
ROLE_CLASH = "covariates lists {value!r}, which is also the {role} column. Fix: remove it from covariates."
MISSING_VALUES = ("column {value!r} ({name}) has {count} missing value(s) (first rows: {rows}). Fix: fill them or "
                  "drop those rows before the regression; fairaudit never drops rows silently.")
NOT_BINARY = ("outcome={value!r} must be 0/1 for genuine pairs (1 = false non-match); got the values {got}. Fix: "
              "pass (score < threshold).astype(int), or pass trials=... when the rows are aggregated counts.")
BAD_COUNTS = ("{name}={value!r} must hold whole numbers with 0 <= {what}; {count} row(s) do not (first rows: "
              "{rows}). Fix: pass false-match counts in outcome and comparison counts in trials.")
ONE_GROUP = ("group={value!r} has a single group ({groups}); a gap needs at least two. Fix: pass a column with "
             "two or more groups, or audit more groups.")
UNKNOWN_REFERENCE = ("reference={value!r} is not a group of column {column!r} (groups: {groups}). Fix: pass one "
                     "of them, or reference=None to use the largest group.")
DEGENERATE_REFERENCE = ("reference={value!r} has {what} among its {n} {unit}, so no odds ratio against it can be "
                        "estimated. Fix: pass a group with both outcomes (e.g. {suggest!r}) or reference=None.")
BAD_KIND = ("kinds[{column!r}]={value!r} must be 'numeric' or 'categorical'. Fix: pass kinds={{{column!r}: "
            "'numeric'}} or leave the column out of kinds to infer it from its dtype.")
KIND_NOT_COVARIATE = "kinds names {value!r}, not in covariates ({covariates}). Fix: add it or drop it from kinds."
NOT_NUMERIC = ("covariate {value!r} is declared numeric but holds {dtype} values (e.g. {example!r}). Fix: convert "
               "it with pd.to_numeric, or set kinds[{value!r}]='categorical'.")
NOT_FINITE = "numeric covariate {value!r} has {count} infinite value(s) (first rows: {rows}). Fix: clip or drop them."
BAD_ALPHA = "alpha={value!r} must be a number in (0, 1). Fix: pass e.g. alpha=0.05 for 95 % intervals."
CLUSTER_WITH_TRIALS = ("cluster={value!r} cannot be used with trials={trials!r}: aggregated cells mix identities. "
                       "Fix: pass cluster=None (quasi-binomial intervals), or one 0/1 row per pair without trials.")
ONE_CLUSTER = "cluster={value!r} has a single value; clustering needs at least 2 identities. Fix: check the column."

_DIVERGED_COEF, _DIVERGED_SE = 15.0, 25.0  # |log-odds| or SE beyond these on standardised terms: separation
_NO_GAP = math.log(1.05)  # |log OR| below this: no gap to explain
_GROUP_COLUMNS = ["group", "n_rows", "n", "events", "rate", "n_clusters", "status"]
_COEF_COLUMNS = ["model", "term", "level", "per", "log_odds", "std_error", "odds_ratio", "ci_low", "ci_high",
                 "p_value", "estimable", "note"]
_GAP_COLUMNS = ["group", "reference", "or_unadjusted", "ci_low_unadjusted", "ci_high_unadjusted", "p_unadjusted",
                "or_adjusted", "ci_low_adjusted", "ci_high_adjusted", "p_adjusted", "explained", "note"]


@dataclass(frozen=True, eq=False)
class GapModels(ResultOutput):
    """The demographic gap in verification errors before and after adjusting for covariates.

    Attributes
    ----------
    coefficients : DataFrame
        One row per non-intercept term of each model. Columns: ``model`` ('unadjusted' or 'adjusted'), ``term``
        (the group column or a covariate), ``level`` (group or category; '' for numeric), ``per`` (what the odds
        ratio compares: "vs group 'A'", "vs level 'x'", or "per 1 SD (= s)" for standardised numeric covariates),
        ``log_odds``, ``std_error`` (log-odds scale), ``odds_ratio``, ``ci_low``, ``ci_high`` (Wald, normal
        quantiles), ``p_value``, ``estimable`` (False: values are NaN, see ``note``) and ``note``.
    gaps : DataFrame
        One row per group other than the reference: ``group``, ``reference``, ``or_unadjusted``,
        ``ci_low_unadjusted``, ``ci_high_unadjusted``, ``p_unadjusted``, the same four ``*_adjusted``,
        ``explained`` (``1 - log(OR_adjusted) / log(OR_unadjusted)``; NaN when undefined) and ``note``
        (why a value is NaN; '' otherwise).
    groups : DataFrame
        One row per group: ``group``, ``n_rows``, ``n`` (pairs or comparisons), ``events``, ``rate``,
        ``n_clusters`` (0 without clusters) and ``status`` ('reference', 'ok', 'no events', 'all events').
    notes : list of str
        Plain-language warnings: dropped covariates, separation, zero events, convergence, ...
    n, n_rows, n_clusters : int
        Pairs (or comparisons) and table rows in the fits, and identities (0 when not clustered).
    reference, kind, event : str
        The reference group; 'genuine' (0/1 rows) or 'impostor' (counts); the outcome in words.
    covariates : list of str
        The covariates kept in the adjusted model (``labels`` maps them to words for sentences).
    alpha : float
        Intervals are ``100 (1 - alpha)`` %.
    dispersion : dict
        The scale of each model (1 for genuine fits, Pearson chi2 / df for impostor fits).
    """

    coefficients: pd.DataFrame
    gaps: pd.DataFrame
    groups: pd.DataFrame
    notes: list
    n: int
    n_rows: int
    n_clusters: int
    reference: str
    covariates: list
    kind: str
    event: str
    alpha: float
    dispersion: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)

    def sentences(self) -> list[str]:
        """The gaps in plain English: before, after, the share explained, and what the model cannot say."""
        ci, ev, ref, out = f"{100 * (1 - self.alpha):g} % CI", self.event, self.reference, []
        names = [self.labels.get(c, str(c).replace("_", " ")) for c in self.covariates]
        adj = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        for r in self.gaps.itertuples(index=False):
            if not np.isfinite(r.or_unadjusted):
                out.append(f"The odds of a {ev} in group '{r.group}' cannot be compared with group '{ref}': {r.note}.")
                continue
            s = (f"Before adjustment, the odds of a {ev} in group '{r.group}' are {_x(r.or_unadjusted)}x those in "
                 f"group '{ref}' ({ci} {_x(r.ci_low_unadjusted)}-{_x(r.ci_high_unadjusted)}).")
            before = (r.ci_low_unadjusted > 1) - (r.ci_high_unadjusted < 1)  # +1 / -1: clear gap, 0: none
            after = (r.ci_low_adjusted > 1) - (r.ci_high_adjusted < 1) if np.isfinite(r.or_adjusted) else None
            share = _share(r.explained, r.note) if names else ""
            tail = f"; {share}." if share else "."
            if not names:
                s += " No covariate was adjusted for."
            elif after is None:
                s += f" After adjusting for {adj} the odds ratio is not estimable: {r.note}."
            elif after and after == before:
                s += (f" After adjusting for {adj}, the gap remains ({_x(r.or_adjusted)}x, {ci} "
                      f"{_x(r.ci_low_adjusted)}-{_x(r.ci_high_adjusted)}){tail}")
            elif after:
                s += (f" After adjusting for {adj} they are {_x(r.or_adjusted)}x ({ci} {_x(r.ci_low_adjusted)}-"
                      f"{_x(r.ci_high_adjusted)}), an interval that excludes no difference{tail}")
            else:
                s += (f" After adjusting for {adj} they are {_x(r.or_adjusted)}x ({_x(r.ci_low_adjusted)}-"
                      f"{_x(r.ci_high_adjusted)}), an interval that includes no difference" + (f": {share}." if share
                                                                                              else "."))
            if not before:
                s += " The unadjusted gap itself is not statistically distinguishable from none."
            out.append(s)
        out.append(f"These are associations in this data, not causal effects: the adjusted model holds "
                   f"{'only ' + adj if names else 'no covariate'} fixed. It does not control for anything unmeasured "
                   "(capture conditions, enrolment practice, other covariates), and a covariate that itself differs "
                   "because of group membership may carry part of the gap rather than explain it away. The share "
                   "explained is a log-odds summary; odds ratios are not collapsible, so it is indicative only.")
        if self.kind == "impostor":
            out.append("Intervals use a quasi-binomial scale and are not identity-clustered: comparisons sharing a "
                       "person are treated as independent apart from that overall scale.")
        else:
            out.append(f"Intervals are Wald intervals with standard errors clustered by identity ({self.n_clusters} "
                       f"identities, {self.n} pairs)." if self.n_clusters else "Intervals are model-based and not "
                       "identity-clustered: pairs of one person are treated as independent, so may be too narrow.")
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary (NaN becomes None) of everything in the result, sentences included."""
        return to_jsonable({
            "kind": "gap_models", "side": self.kind, "event": self.event, "reference": self.reference,
            "alpha": self.alpha, "n": self.n, "n_rows": self.n_rows, "n_clusters": self.n_clusters,
            "covariates": list(self.covariates), "labels": dict(self.labels), "dispersion": dict(self.dispersion),
            "coefficients": frame_to_dict(self.coefficients), "gaps": frame_to_dict(self.gaps),
            "groups": frame_to_dict(self.groups), "notes": list(self.notes), "sentences": self.sentences(),
        })

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GapModels":
        """Rebuild a result from :meth:`to_dict` output."""
        if data.get("kind") != "gap_models":
            raise FairauditInputError(f"data has kind={data.get('kind')!r}, expected 'gap_models'. Fix: pass "
                                      "the JSON written by GapModels.to_json().")
        tables = {k: frame_from_dict(data[k]) for k in ("coefficients", "gaps", "groups")}
        plain = {k: data[k] for k in ("notes", "n", "n_rows", "n_clusters", "reference", "covariates", "event",
                                      "alpha", "labels")}
        disp = {k: (math.nan if v is None else float(v)) for k, v in data["dispersion"].items()}
        return cls(**tables, **plain, kind=data["side"], dispersion=disp)


def _x(v: float) -> str:  # an odds ratio for a sentence: 12, 2.9, 0.45
    return f"{v:.0f}" if v >= 9.95 else f"{v:.1f}" if v >= 0.95 else f"{v:.2g}"


def _share(explained: float, note: str) -> str:
    if not np.isfinite(explained):
        return note
    if explained > 1:
        return "the adjusted odds ratio lies on the other side of 1, so the covariates more than account for the gap"
    if explained < 0:
        return "the gap is larger after adjustment than before, so the covariates do not explain it"
    return f"the covariates account for about {100 * explained:.0f} % of the gap on the log-odds scale"


def _nan_row(model: str, term: str, level: str, per: str, note: str) -> dict:
    return dict(model=model, term=term, level=level, per=per, **dict.fromkeys(_COEF_COLUMNS[4:10], math.nan),
                estimable=False, note=note)


def _rows(mask: np.ndarray) -> str:
    return ", ".join(str(i) for i in np.flatnonzero(mask)[:5])


def gap_models(pairs: pd.DataFrame, *, outcome: str, group: str, covariates: Sequence[str] = (),
               cluster: str | None = None, kinds: Mapping[str, str] | None = None, reference: str | None = None,
               trials: str | None = None, alpha: float = 0.05, event: str | None = None,
               labels: Mapping[str, str] | None = None) -> GapModels:
    """Odds ratios of verification errors between groups, before and after adjusting for covariates.

    Parameters
    ----------
    pairs : DataFrame
        Without ``trials``: one row per genuine pair. With ``trials``: one row per impostor cell (e.g. group x
        covariate bin) holding counts.
    outcome : str
        Column: 0/1 false non-match (genuine), or the number of false matches in the cell (impostor).
    group : str
        Column of demographic group labels (any text; compared as ``str``).
    covariates : list of str
        Columns to adjust for. Numeric ones are standardised (mean 0, SD 1 with ``ddof=0``, weighted by
        ``trials`` on the impostor side): their odds ratios are per SD. Categorical ones become treatment dummies
        against their most frequent level. Constant or collinear columns are dropped with a note.
    cluster : str, optional
        Identity column of the genuine pairs: standard errors are cluster-robust (CRV1, statsmodels
        ``cov_type='cluster'``). Without it they are model-based, with a note. Not allowed with ``trials``.
    kinds : dict, optional
        ``{covariate: 'numeric' | 'categorical'}``; unlisted covariates: numeric dtype (not bool) is numeric.
    reference : str, optional
        Reference group; default: the estimable group with the most identities (genuine; rows without
        ``cluster``) or comparisons (impostor).
    trials : str, optional
        Column of comparisons per cell; switches to the impostor model: binomial GLM on the proportions with the
        counts as weights and the Pearson chi2 / df scale (quasi-binomial).
    alpha : float
        Intervals are ``100 (1 - alpha)`` % Wald intervals (normal quantiles).
    event, labels : optional
        Words for :meth:`GapModels.sentences`: the outcome (default 'false non-match' / 'false match') and
        ``{covariate: name}`` (default: the column name with '_' as spaces).

    Returns
    -------
    GapModels

    Raises
    ------
    FairauditInputError
        No rows, a missing column or value, outcome not 0/1 (or counts outside 0..trials), a single group, an
        unknown or degenerate ``reference``, bad ``kinds`` or ``alpha``.
    """
    y, m, g, clusters, covs, kinds_ = _validate(pairs, outcome, group, covariates, cluster, kinds, trials, alpha)
    genuine, notes, unit = trials is None, [], "pairs" if trials is None else "comparisons"
    keep = m > 0
    if not keep.all():
        notes.append(f"{int((~keep).sum())} row(s) with trials = 0 hold no comparison and were left out.")
    cells = pd.DataFrame({"group": g, "y": y, "m": m, "c": clusters if clusters is not None else -1})[keep]
    groups = cells.groupby("group", sort=True).agg(n_rows=("y", "size"), n=("m", "sum"), events=("y", "sum"),
                                                  n_clusters=("c", "nunique")).reset_index().astype(
        {"n": np.int64, "events": np.int64, "group": str})
    groups["rate"], groups["n_clusters"] = groups.events / groups.n, groups.n_clusters * (clusters is not None)
    groups["status"] = np.where(groups.events == 0, "no events",
                                np.where(groups.events == groups.n, "all events", "ok"))
    groups, labels_all = groups[_GROUP_COLUMNS], list(groups.group)
    if len(groups) < 2:
        raise FairauditInputError(ONE_GROUP.format(value=group, groups=", ".join(map(repr, labels_all))))
    ok = groups[groups.status == "ok"]
    ranked = (ok if len(ok) else groups).sort_values(["n_clusters" if clusters is not None else "n", "n", "group"],
                                                     ascending=[False, False, True]).group
    if reference is not None and str(reference) not in labels_all:
        raise FairauditInputError(UNKNOWN_REFERENCE.format(value=reference, column=group,
                                                           groups=", ".join(map(repr, labels_all))))
    reference = str(reference) if reference is not None else str(ranked.iloc[0])
    row = groups[groups.group == reference].iloc[0]
    if row.status != "ok" and len(ok):  # an explicit reference without both outcomes
        raise FairauditInputError(DEGENERATE_REFERENCE.format(
            value=reference, what=f"only {'correct decisions' if row.status == 'no events' else 'errors'}",
            n=row.n, unit=unit, suggest=ranked.iloc[0]))
    groups.loc[groups.group == reference, "status"] = "reference"
    ev_name = event or ("false non-match" if genuine else "false match")
    evs = ev_name + ("es" if ev_name.endswith(("s", "ch", "x")) else "s")
    bad = {r.group: (f"group '{r.group}' has {'no' if r.status == 'no events' else 'only'} {evs} among its {r.n} "
                     f"{unit}, so its odds ratio is not estimable (it would be "
                     f"{'0' if r.status == 'no events' else 'infinite'}) and its rows are left out")
           for r in groups.itertuples() if r.status in ("no events", "all events")}
    notes.extend(b + "." for b in bad.values())
    estimable = [lab for lab in labels_all if lab not in bad and lab != reference]
    fit = keep & np.isin(g, [reference, *estimable])
    y, m, g = y[fit], m[fit], g[fit]
    clusters = clusters[fit] if clusters is not None else None
    n_clusters = len(np.unique(clusters)) if clusters is not None else 0
    notes += (["No cluster column: standard errors treat pairs as independent, although pairs of one identity "
               "are correlated; the intervals may be too narrow."] if genuine and clusters is None else
              [f"Only {n_clusters} identities: cluster-robust intervals can be too narrow with few clusters."]
              if genuine and n_clusters < 30 else [])
    base = [np.ones(len(y))] + [(g == lab).astype(float) for lab in estimable]
    terms = [(group, lab, f"vs group '{reference}'") for lab in estimable]
    extra, extra_terms, kept = _covariate_columns(covs, kinds_, fit, m, np.column_stack(base), notes)
    if covariates and not kept:
        notes.append("No covariate is left: the adjusted model equals the unadjusted one.")
    coef_rows, dispersion = [], {}
    for model, X, tt in (("unadjusted", np.column_stack(base), terms),
                         ("adjusted", np.column_stack(base + extra), terms + extra_terms)):
        res, scale, why = (_fit(model, y, m, X, clusters, genuine, alpha, notes) if estimable
                           else (None, math.nan, "no other group has both outcomes"))
        dispersion[model] = scale
        for k, (term, level, per) in enumerate(tt, start=1):
            row = _nan_row(model, term, level, per, why)
            if res is not None:
                b, se, lo, hi, p = (float(v[k]) for v in res)
                if all(map(np.isfinite, (b, se))) and abs(b) < _DIVERGED_COEF and se < _DIVERGED_SE:
                    row.update(log_odds=b, std_error=se, odds_ratio=math.exp(b), ci_low=math.exp(lo),
                               ci_high=math.exp(hi), p_value=p, estimable=True, note="")
                else:
                    row["note"] = ("the estimate diverges (log-odds %.3g, SE %.3g): separation, the term predicts "
                                   "the outcome (almost) perfectly" % (b, se))
                    notes.append(f"{model} model: the odds ratio of {term} {level!r} ({per}) is not estimable: "
                                 f"{row['note']}.")
            coef_rows.append(row)
        coef_rows += [_nan_row(model, group, lab, f"vs group '{reference}'", bad[lab]) for lab in bad]
    coefficients = pd.DataFrame(coef_rows, columns=_COEF_COLUMNS)
    gaps = _gaps(coefficients, group, reference, [lab for lab in labels_all if lab != reference])
    return GapModels(coefficients=coefficients, gaps=gaps, groups=groups, notes=list(dict.fromkeys(notes)),
                     n=int(m.sum()), n_rows=len(y), n_clusters=n_clusters, reference=reference, covariates=kept,
                     kind="genuine" if genuine else "impostor", event=ev_name, alpha=float(alpha),
                     dispersion=dispersion, labels=dict(labels or {}))


def _validate(pairs, outcome, group, covariates, cluster, kinds, trials, alpha):
    if not isinstance(pairs, pd.DataFrame):
        raise FairauditInputError(NOT_A_TABLE.format(type=type(pairs).__name__))
    if isinstance(covariates, str) or not isinstance(covariates, (list, tuple)):
        raise FairauditInputError(NOT_A_LIST.format(value=covariates))
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise FairauditInputError(BAD_ALPHA.format(value=alpha))
    if cluster is not None and trials is not None:
        raise FairauditInputError(CLUSTER_WITH_TRIALS.format(value=cluster, trials=trials))
    roles = {"outcome": outcome, "group": group, "cluster": cluster, "trials": trials}
    for c in covariates:
        for role, col in roles.items():
            if col is not None and c == col:
                raise FairauditInputError(ROLE_CLASH.format(value=c, role=role))
    named = [(r, c) for r, c in roles.items() if c is not None] + [("covariates", c) for c in covariates]
    available = ", ".join(map(repr, list(pairs.columns)[:20])) + (", ..." if pairs.shape[1] > 20 else "")
    for role, col in named:
        hits = int(sum(1 for c in pairs.columns if c == col))
        if hits == 0:
            raise FairauditInputError(MISSING_COLUMN.format(name=role, value=col, available=available))
        if hits > 1:
            raise FairauditInputError(DUPLICATE_COLUMN.format(name=role, value=col))
    if len(pairs) == 0:
        raise FairauditInputError(NO_ROWS)
    for role, col in named:
        miss = pairs[col].isna().to_numpy()
        if miss.any():
            raise FairauditInputError(MISSING_VALUES.format(value=col, name=role, count=int(miss.sum()),
                                                            rows=_rows(miss)))
    kinds_ = {}
    for c, k in (kinds or {}).items():
        if c not in covariates:
            raise FairauditInputError(KIND_NOT_COVARIATE.format(value=c, covariates=list(covariates)))
        if k not in ("numeric", "categorical"):
            raise FairauditInputError(BAD_KIND.format(column=c, value=k))
    covs = {}
    for c in covariates:
        col = pairs[c]
        num = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        kinds_[c] = (kinds or {}).get(c, "numeric" if num else "categorical")
        if kinds_[c] == "numeric":
            if not num:
                raise FairauditInputError(NOT_NUMERIC.format(value=c, dtype=col.dtype, example=col.iloc[0]))
            v = col.to_numpy(dtype=float)
            if not np.isfinite(v).all():
                raise FairauditInputError(NOT_FINITE.format(value=c, count=int((~np.isfinite(v)).sum()),
                                                            rows=_rows(~np.isfinite(v))))
            covs[c] = v
        else:
            covs[c] = col.astype(str).to_numpy()
    raw = pairs[outcome]
    if pd.api.types.is_bool_dtype(raw):
        raw = raw.astype(int)
    y = raw.to_numpy(dtype=float) if pd.api.types.is_numeric_dtype(raw) else np.full(len(raw), np.nan)
    if trials is None:
        if not np.isin(y, (0.0, 1.0)).all():
            got = sorted(set(map(str, raw[~np.isin(y, (0.0, 1.0))])))[:5]
            raise FairauditInputError(NOT_BINARY.format(value=outcome, got=", ".join(got)))
        m = np.ones(len(y))
    else:
        t = pairs[trials]
        m = t.to_numpy(dtype=float) if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) \
            else np.full(len(y), np.nan)
        bad_t = ~np.isfinite(m) | (m < 0) | (m != np.round(m))
        if bad_t.any():
            raise FairauditInputError(BAD_COUNTS.format(name="trials", value=trials, what="trials", rows=_rows(bad_t),
                                                        count=int(bad_t.sum())))
        bad_y = ~np.isfinite(y) | (y < 0) | (y != np.round(y)) | (y > m)
        if bad_y.any():
            raise FairauditInputError(BAD_COUNTS.format(name="outcome", value=outcome, what="outcome <= trials",
                                                        count=int(bad_y.sum()), rows=_rows(bad_y)))
    clusters = None
    if cluster is not None:
        clusters = pd.factorize(pairs[cluster])[0].astype(np.int64)
        if len(np.unique(clusters)) < 2:
            raise FairauditInputError(ONE_CLUSTER.format(value=cluster))
    return y, m, pairs[group].astype(str).to_numpy(), clusters, covs, kinds_


def _covariate_columns(covs, kinds, fit, m, X0, notes):
    """Standardised numeric columns and treatment dummies, dropping constant and collinear ones."""
    cols, terms, kept, w, X = [], [], [], m / m.sum(), X0  # m: the fitted rows' weights
    for c, values in covs.items():
        v = values[fit]
        if kinds[c] == "numeric":
            mean = float(w @ v)
            sd = math.sqrt(float(w @ (v - mean) ** 2))
            if sd <= 1e-12 * max(1.0, abs(mean)):
                notes.append(f"Covariate {c!r} is constant in the fitted rows and was dropped.")
                continue
            cand = [((v - mean) / sd, (c, "", f"per 1 SD (= {sd:.3g})"))]
        else:
            levels = pd.Series(m).groupby(v).sum()
            levels = levels.sort_index().sort_values(ascending=False, kind="stable")
            if len(levels) < 2:
                notes.append(f"Covariate {c!r} has a single level in the fitted rows and was dropped.")
                continue
            ref = levels.index[0]
            cand = [((v == lev).astype(float), (c, lev, f"vs level '{ref}'")) for lev in sorted(levels.index[1:])]
        used = False
        for col, term in cand:
            if np.linalg.matrix_rank(np.column_stack([X, col])) > X.shape[1]:
                X, used, cols, terms = np.column_stack([X, col]), True, cols + [col], terms + [term]
            else:
                what = f"{c!r}" + (f" level {term[1]!r}" if term[1] else "")
                notes.append(f"Covariate {what} is collinear with the group and earlier covariates "
                             "(it adds no information in these rows) and was dropped.")
        if used:
            kept.append(c)
    return cols, terms, kept


def _fit(model, y, m, X, clusters, genuine, alpha, notes):
    """Fit one GLM: ((params, bse, ci_low, ci_high, p), scale, '') or (None, nan, why); warnings become notes."""
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM

    saturated = X.shape[0] <= X.shape[1]
    if genuine and saturated:
        why = f"the {model} model has {X.shape[0]} pair(s) for {X.shape[1]} parameters and was not fitted"
        notes.append(why + ".")
        return None, math.nan, why
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            if genuine:
                glm = GLM(y, X, family=Binomial())
                res = glm.fit(**({"cov_type": "cluster", "cov_kwds": {"groups": clusters}} if clusters is not None
                                 else {}))
            else:  # proportions with var_weights: statsmodels' 'X2' scale is wrong with a 2-column endog
                res = GLM(y / m, X, family=Binomial(), var_weights=m).fit(scale=None if saturated else "X2")
            ci = np.asarray(res.conf_int(alpha))
            out = (np.asarray(res.params), np.asarray(res.bse), ci[:, 0], ci[:, 1], np.asarray(res.pvalues))
        except Exception as exc:  # statsmodels raises many kinds; the note carries the message
            why = f"the {model} model could not be fitted ({type(exc).__name__}: {str(exc)[:200]})"
            notes.append(why + ".")
            return None, math.nan, why
    for w in caught:
        exact = genuine or bool(np.all(np.abs(np.asarray(res.mu) - 0.5) > 0.5 - 1e-8))  # statsmodels flags any
        if w.category.__name__ == "PerfectSeparationWarning" and exact:  # exact fit; separation: all mu in {0, 1}
            why = (f"the {model} model predicts every outcome exactly (complete separation), so none of its odds "
                   "ratios is identified")
            notes.append(why + "; drop or coarsen the covariate that gives the outcome away.")
            return None, math.nan, why
        if not issubclass(w.category, RuntimeWarning) and w.category.__name__ != "PerfectSeparationWarning":
            notes.append(f"{model} model: statsmodels warned ({w.category.__name__}): {str(w.message)[:200]}")
    if not getattr(res, "converged", True):
        notes.append(f"{model} model: the iterations did not converge; treat its odds ratios with caution.")
    if saturated:
        notes.append(f"{model} model: as many cells as parameters, so overdispersion cannot be estimated; its "
                     "intervals assume binomial variance and are not identity-clustered, so may be too narrow.")
    elif not genuine:
        notes.append(f"{model} model: quasi-binomial scale (Pearson chi2 / df) = {res.scale:.3g}; its intervals "
                     "are not identity-clustered.")
    return out, float(res.scale), ""


def _gaps(coefs, group, reference, others):
    rows = []
    for lab in others:
        r, notes, logs = {"group": lab, "reference": reference, "explained": math.nan}, [], []
        for model in ("unadjusted", "adjusted"):
            c = coefs[(coefs.model == model) & (coefs.term == group) & (coefs.level == lab)].iloc[0]
            r.update({f"or_{model}": c.odds_ratio, f"ci_low_{model}": c.ci_low, f"ci_high_{model}": c.ci_high,
                      f"p_{model}": c.p_value})
            notes += [c.note] if c.note and c.note not in notes else []
            logs.append(c.log_odds)
        if np.isfinite(logs).all() and abs(logs[0]) < _NO_GAP:
            notes.append("no gap to explain: the unadjusted odds ratio is within 0.95-1.05")
        elif np.isfinite(logs).all():
            r["explained"] = 1.0 - logs[1] / logs[0]
        rows.append({**r, "note": "; ".join(notes)})
    return pd.DataFrame(rows, columns=_GAP_COLUMNS)
