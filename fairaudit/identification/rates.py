"""The figures of a 1:N audit from a :class:`~fairaudit.identification.search.SearchStats`.

Definitions (ISO/IEC 19795-1, and NIST's FRTE 1:N reports, NISTIR 8271 / 8280), for a threshold
``T`` and a rank ``R``:

``FNIR(T, R)``
    share of mated searches whose mate is not returned at rank ``<= R`` with a score ``>= T``
    (a mate absent from a candidate list counts as not returned);
``FPIR(T)``
    share of non-mated searches that return at least one candidate with a score ``>= T``: their best
    candidate scores ``>= T``;
``rank-k identification rate`` (CMC)
    share of mated searches whose mate is at rank ``<= k``, whatever its score;
``detection and identification rate`` (DIR, open-set)
    ``1 - FNIR(T, k)``.

Every figure is per group of the probe's identity and pooled (label ``"all"``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.groups import POOLED

BAD_THRESHOLD = (
    "threshold={value!r} is not a 1:N threshold policy. Fix: pass a score (threshold=0.4; a candidate "
    "is returned when its score >= threshold), or the threshold where the pooled FPIR is at most a "
    "target, as NIST's 1:N reports do (threshold='fpir=1e-3', or threshold={{'fpir': 1e-3}}). "
    "The EER and FMR policies belong to 1:1 verification."
)
FPIR_TARGET_OUT_OF_RANGE = (
    "the FPIR target {value!r} must be a number in (0, 1): the share of non-mated searches the "
    "threshold may let return a candidate. Fix: pass e.g. threshold='fpir=1e-2'."
)
NO_NONMATED_FOR_TARGET = (
    "threshold={value!r} needs non-mated searches to set the threshold, and the protocol has none. "
    "Fix: hold identities out of the gallery (gallery={{'nonmated_share': 0.2}}), or pass a fixed "
    "threshold (threshold=0.4)."
)


@dataclass(frozen=True)
class SearchPolicy:
    """How the one threshold of a 1:N audit is chosen: ``fixed`` or ``fpir`` (a pooled target)."""

    kind: str
    value: float

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"fixed threshold {self.value:g}"
        return f"threshold where the pooled FPIR is at most {self.value:g}"


def parse_search_threshold(threshold: Any) -> SearchPolicy:
    """Turn ``threshold=`` into a :class:`SearchPolicy` (a finite number, ``'fpir=x'`` or ``{'fpir': x}``)."""
    if isinstance(threshold, SearchPolicy):
        return threshold
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        if not math.isfinite(float(threshold)):
            raise errors.FairauditInputError(BAD_THRESHOLD.format(value=threshold))
        return SearchPolicy("fixed", float(threshold))
    target: Any = None
    if isinstance(threshold, str):
        text = threshold.strip().lower()
        for prefix in ("fpir=", "fpir:"):
            if text.startswith(prefix):
                target = text[len(prefix):]
                break
        else:
            raise errors.FairauditInputError(BAD_THRESHOLD.format(value=threshold))
    elif isinstance(threshold, dict) and len(threshold) == 1 and str(next(iter(threshold))).lower() == "fpir":
        target = next(iter(threshold.values()))
    else:
        raise errors.FairauditInputError(BAD_THRESHOLD.format(value=threshold))
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise errors.FairauditInputError(FPIR_TARGET_OUT_OF_RANGE.format(value=target)) from None
    if not 0.0 < value < 1.0:
        raise errors.FairauditInputError(FPIR_TARGET_OUT_OF_RANGE.format(value=target))
    return SearchPolicy("fpir", value)


def threshold_for_fpir(top1: np.ndarray, target: float, lowest: float | None = None) -> float:
    """The lowest threshold whose FPIR over these best non-mate scores is at most ``target``: just
    above the score of the ``(a + 1)``-th best search, ``a = floor(target * n)`` (ties may leave the
    FPIR below the target; it is never above).

    Where fewer than ``a + 1`` searches return any candidate (candidate lists), no threshold is
    needed: every threshold meets the target, and the lowest one returns every candidate. It is
    then ``lowest``, the lowest score of any listed candidate (mates included: a threshold at the
    lowest non-mate score alone would turn away the mates scoring below it), or the lowest best
    non-mate score without it."""
    s = np.sort(np.asarray(top1, dtype=np.float64))[::-1]
    n = len(s)
    allowed = int(math.floor(target * n + 1e-9))
    cut = s[allowed] if allowed < n else -np.inf
    if not np.isfinite(cut):  # fewer than a + 1 searches return any candidate: accept every score
        finite = s[np.isfinite(s)]
        floors = [float(finite.min())] if finite.size else []
        if lowest is not None and np.isfinite(lowest):
            floors.append(float(lowest))
        return min(floors) if floors else 0.0
    return float(np.nextafter(cut, np.inf))


# --------------------------------------------------------------------------
# Per probe outcomes
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Outcomes:
    """Per probe outcomes at one threshold and rank (bool arrays over probes)."""

    mated: np.ndarray
    nonmated: np.ndarray
    rank: np.ndarray  # mate rank (k + 1 beyond the list; 0 non-mated)
    false_negative: np.ndarray  # mated and not returned at rank <= R with score >= T
    rank1: np.ndarray  # mated and at rank 1
    false_positive: np.ndarray  # non-mated and best candidate >= T
    top1: np.ndarray  # best non-mate score (-inf when none)


def outcomes(stats, threshold: float, rank: int) -> Outcomes:
    r = stats.mate_rank()
    mated = stats.mated.copy()
    with np.errstate(invalid="ignore"):
        returned = (r >= 1) & (r <= rank) & (stats.mate_score >= threshold)
    top1 = stats.top_score[:, 0] if stats.k else np.full(stats.n_probes, -np.inf)
    return Outcomes(
        mated=mated, nonmated=~mated, rank=r,
        false_negative=mated & ~returned,
        rank1=mated & (r == 1),
        false_positive=~mated & (top1 >= threshold),
        top1=top1,
    )


def _rate(num, den) -> float:
    return float(num) / float(den) if den > 0 else float("nan")


#: columns of ``IdentificationResult.by_group`` (and ``overall``) before the intervals
RATE_COLUMNS = (
    "label", "n_identities", "n_mated_identities", "n_nonmated_identities", "n_mated", "n_nonmated",
    "n_false_negatives", "n_false_positives", "fnir", "fpir", "rank1", "dir",
)


def group_rows(stats, out: Outcomes) -> tuple[pd.DataFrame, pd.Series]:
    """Per group (of the probe) and pooled counts and rates at the threshold."""
    groups = stats.groups
    labels = groups.labels
    rows = []
    for g in range(groups.n_groups):
        rows.append(_row(stats, out, stats.probe_group == g, labels[g]))
    by_group = pd.DataFrame(rows, index=groups.index, columns=list(RATE_COLUMNS))
    overall = pd.Series(_row(stats, out, np.ones(stats.n_probes, dtype=bool), POOLED), index=list(RATE_COLUMNS))
    return by_group, overall


def _row(stats, out: Outcomes, sel: np.ndarray, label: str) -> list:
    m = sel & out.mated
    nm = sel & out.nonmated
    n_m, n_nm = int(m.sum()), int(nm.sum())
    fn, fp = int(out.false_negative[m].sum()), int(out.false_positive[nm].sum())
    return [
        label,
        len(np.unique(stats.probe_identity[sel])),
        len(np.unique(stats.probe_identity[m])),
        len(np.unique(stats.probe_identity[nm])),
        n_m, n_nm, fn, fp,
        _rate(fn, n_m), _rate(fp, n_nm), _rate(out.rank1[m].sum(), n_m), _rate(n_m - fn, n_m),
    ]


def _selections(stats):
    labels = stats.groups.labels
    yield POOLED, np.ones(stats.n_probes, dtype=bool)
    for g, label in enumerate(labels):
        yield label, stats.probe_group == g


def cmc_table(stats, out: Outcomes, threshold: float) -> pd.DataFrame:
    """Rank-k identification rate (CMC) and detection-and-identification rate at the threshold,
    k = 1..K, per group and pooled. Columns ``group``, ``rank``, ``n_mated``, ``identification_rate``,
    ``dir``."""
    ks = np.arange(1, stats.k + 1)
    frames = []
    with np.errstate(invalid="ignore"):
        above = stats.mate_score >= threshold
    for label, sel in _selections(stats):
        m = sel & out.mated
        n = int(m.sum())
        r = out.rank[m]
        counts = np.bincount(np.minimum(r, stats.k + 1), minlength=stats.k + 2)[1:stats.k + 1]
        counts_t = np.bincount(np.minimum(r[above[m]], stats.k + 1), minlength=stats.k + 2)[1:stats.k + 1]
        ident = np.cumsum(counts) / n if n else np.full(len(ks), np.nan)
        dir_ = np.cumsum(counts_t) / n if n else np.full(len(ks), np.nan)
        frames.append(pd.DataFrame({"group": label, "rank": ks, "n_mated": n,
                                    "identification_rate": ident, "dir": dir_}))
    return pd.concat(frames, ignore_index=True)


#: points of the FPIR/FNIR curves per group (quantiles of the scores, plus the threshold)
CURVE_POINTS = 400


def curves_table(stats, out: Outcomes, threshold: float, rank: int) -> pd.DataFrame:
    """FPIR(t) and FNIR(t, rank) at shared thresholds (quantiles of every mate score and best
    non-mate score, and the audit's threshold), per group and pooled: columns ``group``,
    ``threshold``, ``fpir``, ``fnir``. Exact at every listed threshold (DET of FNIR against FPIR)."""
    finite_mate = stats.mate_score[np.isfinite(stats.mate_score)]
    finite_top = out.top1[out.nonmated & np.isfinite(out.top1)]
    pool = np.r_[finite_mate, finite_top]
    if pool.size == 0:
        ts = np.array([threshold])
    else:
        ts = np.unique(np.r_[np.quantile(pool, np.linspace(0, 1, CURVE_POINTS)), threshold])
    within = (out.rank >= 1) & (out.rank <= rank)
    frames = []
    for label, sel in _selections(stats):
        nm = np.sort(out.top1[sel & out.nonmated])
        m = sel & out.mated
        # a mated search is returned at t when within the rank and mate score >= t
        ok = np.sort(np.where(within[m] & np.isfinite(stats.mate_score[m]), stats.mate_score[m], -np.inf))
        n_nm, n_m = len(nm), len(ok)
        fpir = (n_nm - np.searchsorted(nm, ts, side="left")) / n_nm if n_nm else np.full(len(ts), np.nan)
        fnir = np.searchsorted(ok, ts, side="left") / n_m if n_m else np.full(len(ts), np.nan)
        frames.append(pd.DataFrame({"group": label, "threshold": ts, "fpir": fpir, "fnir": fnir}))
    return pd.concat(frames, ignore_index=True)


def gallery_table(stats) -> pd.DataFrame:
    """The gallery's composition by group: ``label``, ``n_identities``, ``n_samples``, ``share``
    (of the enrolled identities), indexed like ``by_group``."""
    groups = stats.groups
    g_of = groups.codes[stats.gallery_identity]
    n_ids = np.bincount(g_of, minlength=groups.n_groups)
    n_samples = np.bincount(g_of, weights=stats.gallery_samples, minlength=groups.n_groups).astype(np.int64)
    total = max(1, len(stats.gallery_identity))
    return pd.DataFrame({"label": groups.labels, "n_identities": n_ids, "n_samples": n_samples,
                         "share": n_ids / total}, index=groups.index)


def landing_table(stats, out: Outcomes) -> pd.DataFrame:
    """Where the false positives of non-mated searches land: one row per (probe group, candidate
    group). Columns ``probe_group``, ``candidate_group`` (labels), ``n_false_positives`` (searches
    of the probe group whose best candidate, scoring >= the threshold, is of the candidate group),
    ``share`` (of the probe group's false positives), ``top_k_share`` (share of the candidates in
    the probe group's top-K lists, whatever their score), ``gallery_share`` (share of the gallery's
    identities) and ``top_k_lift`` = top_k_share / gallery_share (above 1: the candidate group
    crowds the top of the lists of that probe group beyond its weight in the gallery)."""
    groups = stats.groups
    labels = groups.labels
    n_g = groups.n_groups
    gal_share = np.bincount(groups.codes[stats.gallery_identity], minlength=n_g) / max(1, len(stats.gallery_identity))
    top1_id = stats.top_identity[:, 0] if stats.k else np.full(stats.n_probes, -1)
    rows = []
    for g in range(n_g):
        nm = out.nonmated & (stats.probe_group == g)
        fp = nm & out.false_positive & (top1_id >= 0)
        cand = groups.codes[top1_id[fp]]
        fp_counts = np.bincount(cand, minlength=n_g)
        listed = stats.top_identity[nm]
        listed = listed[listed >= 0]
        k_counts = np.bincount(groups.codes[listed], minlength=n_g) if listed.size else np.zeros(n_g)
        for h in range(n_g):
            share = fp_counts[h] / fp_counts.sum() if fp_counts.sum() else np.nan
            k_share = k_counts[h] / k_counts.sum() if k_counts.sum() else np.nan
            lift = k_share / gal_share[h] if gal_share[h] > 0 else np.nan
            rows.append((labels[g], labels[h], int(fp_counts[h]), share, k_share, gal_share[h], lift))
    return pd.DataFrame(rows, columns=["probe_group", "candidate_group", "n_false_positives", "share",
                                       "top_k_share", "gallery_share", "top_k_lift"])


def gallery_size_table(stats, out: Outcomes, threshold: float) -> pd.DataFrame:
    """FPIR at the threshold in nested random sub-galleries (1/16 ... all of the enrolled
    identities, the same sub-galleries for every group): columns ``group``,
    ``gallery_identities``, ``fpir``. Empty when the route cannot answer (candidate lists)."""
    columns = ["group", "gallery_identities", "fpir"]
    if stats.level_best is None or stats.gallery_level is None:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "group" else float) for c in columns})
    n_levels = stats.level_best.shape[1]
    best = np.maximum.accumulate(stats.level_best, axis=1)  # best over levels <= l
    sizes = np.bincount(stats.gallery_level, minlength=n_levels).cumsum()
    rows = []
    for label, sel in _selections(stats):
        nm = sel & out.nonmated
        n = int(nm.sum())
        for lv in range(n_levels):
            fpir = float((best[nm, lv] >= threshold).sum()) / n if n else np.nan
            rows.append((label, int(sizes[lv]), fpir))
    return pd.DataFrame(rows, columns=columns)
