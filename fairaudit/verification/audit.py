"""The verification audit: per-group FMR, FNMR, EER and fairness figures at one threshold."""

from __future__ import annotations

import contextlib
import math
import numbers
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.verification import rates
from fairaudit.verification.bootstrap import group_replicates, percentile_interval, replicate_eer
from fairaudit.data import EmbeddingSet
from fairaudit.verification.engine import (
    _MARGIN,
    DEFAULT_BIN_WIDTH,
    DEFAULT_TILE,
    BinGrid,
    PairStats,
    embedding_identity_pair_counts,
    embedding_pair_stats,
    score_identity_pair_counts,
    score_pair_stats,
)
from fairaudit.data import LABEL_SEP, POOLED, Groups, make_groups, normalize_by
from fairaudit.common.provenance import provenance
from fairaudit.common.seeds import resolve_rng
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable
from fairaudit.common.results import ResultOutput

#: bins of the coarse score histograms reported for plots
HISTOGRAM_BINS = 80
#: columns of ``VerificationResult.by_group`` (and of ``overall``) before the CI columns
RATE_COLUMNS = (
    "label", "n_identities", "n_samples", "n_genuine", "n_impostor", "fmr", "fnmr",
    "eer", "eer_threshold", "auc", *(rates.fmr_point_label(x) for x in rates.FMR_POINTS),
)
CI_COLUMNS = ("fmr_ci_low", "fmr_ci_high", "fnmr_ci_low", "fnmr_ci_high", "eer_ci_low", "eer_ci_high")
#: thresholds per group on which a bootstrap replicate's EER is searched
EER_GRID_POINTS = 41


@dataclass(frozen=True)
class ThresholdPolicy:
    """How the one global threshold is chosen: ``fixed``, ``eer`` or ``fmr`` (with a target)."""

    kind: str
    value: float | None = None

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"fixed threshold {self.value:g}"
        if self.kind == "eer":
            return "pooled EER threshold"
        return f"threshold where the pooled FMR is at most {self.value:g}"


def parse_threshold(threshold: Any) -> ThresholdPolicy:
    """Turn the ``threshold=`` argument into a :class:`ThresholdPolicy`."""
    if isinstance(threshold, ThresholdPolicy):
        return threshold
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        value = float(threshold)
        if not math.isfinite(value) or not -1.0 <= value <= 1.0:
            raise errors.FairauditInputError(
                errors.BAD_THRESHOLD.format(value=threshold) + " Cosine thresholds lie in [-1, 1]."
            )
        return ThresholdPolicy("fixed", value)
    target: Any = None
    if isinstance(threshold, str):
        text = threshold.strip().lower()
        if text == "eer":
            return ThresholdPolicy("eer")
        for prefix in ("fmr=", "fmr:", "far=", "far:"):
            if text.startswith(prefix):
                target = text[len(prefix):]
                break
        else:
            raise errors.FairauditInputError(errors.BAD_THRESHOLD.format(value=threshold))
    elif isinstance(threshold, dict) and len(threshold) == 1:
        key, target = next(iter(threshold.items()))
        if str(key).lower() not in ("fmr", "far"):
            raise errors.FairauditInputError(errors.BAD_THRESHOLD.format(value=threshold))
    else:
        raise errors.FairauditInputError(errors.BAD_THRESHOLD.format(value=threshold))
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise errors.FairauditInputError(errors.BAD_FMR_TARGET.format(value=target)) from None
    if not 0.0 < value < 1.0:
        raise errors.FairauditInputError(errors.BAD_FMR_TARGET.format(value=target))
    return ThresholdPolicy("fmr", value)


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
        from fairaudit.common.text import verification_summary

        return verification_summary(self)

    def __repr__(self) -> str:
        return (f"VerificationResult(by={list(self.by)}, threshold={self.threshold:.6g}, "
                f"groups={len(self.by_group)})")


# --------------------------------------------------------------------------
BAD_TILE = "tile={value!r} must be an integer >= 1 (rows per tile of the blocked product). Fix: keep the default 2048."


def _check_options(alpha: Any, n_boot: Any, ci: Any, bin_width: Any, tile: Any = DEFAULT_TILE) -> None:
    if isinstance(tile, bool) or not isinstance(tile, numbers.Integral) or tile < 1:
        raise errors.FairauditInputError(BAD_TILE.format(value=tile))
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= float(alpha) <= 1.0:
        raise errors.FairauditInputError(errors.BAD_ALPHA.format(value=alpha))
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or (n_boot != 0 and n_boot < 20):
        raise errors.FairauditInputError(errors.BAD_N_BOOT.format(value=n_boot))
    if isinstance(ci, bool) or not isinstance(ci, numbers.Real) or not 0.0 < float(ci) < 1.0:
        raise errors.FairauditInputError(errors.BAD_CI.format(value=ci))
    if isinstance(bin_width, bool) or not isinstance(bin_width, numbers.Real) or not 1e-6 <= float(bin_width) <= 0.01:
        raise errors.FairauditInputError(errors.BAD_BIN_WIDTH.format(value=bin_width))


def _progress_bar(total: int, enabled: bool | None, desc: str):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="pair", unit_scale=True, leave=False)


def _identity_groups_from_embeddings(data: EmbeddingSet, by: tuple[str, ...]):
    names, ident = np.unique(data.identity, return_inverse=True)
    first = np.zeros(len(names), dtype=np.int64)
    first[ident[::-1]] = np.arange(len(ident))[::-1]  # first sample of every identity
    columns = {name: data.column(name)[first] for name in by}
    return names, ident.astype(np.int64), make_groups(columns, by)


SCORES_OUT_OF_RANGE = (
    "{count} score(s) lie outside [-1, 1] (the scores range from {lo:g} to {hi:g}), but the audit "
    "bins scores on [-1, 1], the range of cosine similarity, so every rate would be wrong. Fix: map "
    "the scores into [-1, 1] with an increasing transform before the audit, e.g. score / 100 for "
    "scores in [0, 100], or -d / d_max for a distance d (higher must mean more similar); FMR, FNMR, "
    "EER and AUC do not change under an increasing transform, only the threshold's value does."
)


def _stats_from_data(data: Any, by: Any, grid_origin: float, bin_width: float, tile: int,
                     progress: bool | None, executor: Any = None,
                     scratch: str | None = None) -> tuple[PairStats, tuple[str, ...]]:
    if isinstance(data, EmbeddingSet):
        by_t = normalize_by(by, data.attribute_names)
        names, ident, groups = _identity_groups_from_embeddings(data, by_t)
        grid = BinGrid.around(grid_origin, bin_width)
        n = len(data)
        bar = _progress_bar(n * (n + 1) // 2, progress, "impostor pairs")
        try:
            stats = embedding_pair_stats(
                data, ident, names, groups, grid, tile=tile,
                progress=None if bar is None else bar.update, executor=executor, scratch_dir=scratch,
            )
        finally:
            if bar is not None:
                bar.close()
        return stats, by_t
    from fairaudit.data import ScoreSet

    if isinstance(data, ScoreSet):
        by_t = data.resolve_by(by)
        outside = np.abs(data.scores) > 1.0 + _MARGIN
        if outside.any():
            raise errors.FairauditInputError(SCORES_OUT_OF_RANGE.format(
                count=int(outside.sum()), lo=float(data.scores.min()), hi=float(data.scores.max())))
        table = data.identity_table()
        names = table.index.to_numpy().astype(str)
        groups = make_groups({name: table[name].to_numpy() for name in by_t}, by_t)
        lookup = pd.Index(names)
        ident_a = lookup.get_indexer(data.identity_a)
        ident_b = lookup.get_indexer(data.identity_b)
        grid = BinGrid.around(grid_origin, bin_width)
        stats = score_pair_stats(data.scores, data.genuine, ident_a, ident_b, names, groups, grid)
        return stats, by_t
    raise errors.FairauditInputError(errors.BAD_DATA_TYPE.format(type=type(data).__name__))


@dataclass
class _Curves:
    """FMR and FNMR of one population at every grid edge."""

    imp_hist: np.ndarray
    gen_sorted: np.ndarray
    edges: np.ndarray

    def __post_init__(self) -> None:
        self.n_imp = int(self.imp_hist.sum())
        self.n_gen = int(self.gen_sorted.size)
        imp_ge = rates.impostor_ge(self.imp_hist)
        gen_lt = rates.genuine_lt(self.gen_sorted, self.edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.fmr = imp_ge / self.n_imp if self.n_imp else np.full(len(self.edges), np.nan)
            self.fnmr = gen_lt / self.n_gen if self.n_gen else np.full(len(self.edges), np.nan)

    def figures(self, k_op: int, grid: BinGrid) -> dict[str, float]:
        out: dict[str, float] = {
            "n_genuine": self.n_gen, "n_impostor": self.n_imp,
            "fmr": float(self.fmr[k_op]), "fnmr": float(self.fnmr[k_op]),
            "eer": np.nan, "eer_threshold": np.nan, "auc": np.nan,
        }
        if self.n_imp and self.n_gen:
            eer, k = rates.eer(self.fmr, self.fnmr)
            gen_hist = np.bincount(grid.bin_of(self.gen_sorted), minlength=grid.n_bins)
            out.update(eer=eer, eer_threshold=float(self.edges[k]),
                       auc=rates.auc_binned(self.imp_hist, gen_hist))
        for target in rates.FMR_POINTS:
            value = np.nan
            if self.n_gen and rates.fmr_point_supported(self.n_imp, target):
                k = rates.threshold_index_for_fmr(self.fmr * self.n_imp, self.n_imp, target)
                value = float(self.fnmr[min(k, len(self.fnmr) - 1)])
            out[rates.fmr_point_label(target)] = value
        return out

    def eer_grid(self) -> np.ndarray:
        """Edges around this population's EER on which bootstrap replicates search theirs."""
        eer, _ = rates.eer(self.fmr, self.fnmr)
        level = min(1.0, 3.0 * eer + 0.01)
        k_lo = rates.threshold_index_for_fmr(self.fmr * self.n_imp, self.n_imp, level)
        k_hi = int(np.searchsorted(self.fnmr, level, side="left"))
        lo, hi = sorted((k_lo, min(k_hi, len(self.fnmr) - 1)))
        return np.unique(np.linspace(lo, hi, EER_GRID_POINTS).round().astype(np.int64))


def _coarse_histograms(curves: dict[str, _Curves], grid: BinGrid) -> pd.DataFrame:
    pooled = curves[POOLED]
    occupied = np.flatnonzero(pooled.imp_hist)
    lo_s = min(pooled.gen_sorted[0] if pooled.n_gen else 1.0, grid.edge(int(occupied[0])) if occupied.size else 1.0)
    hi_s = max(pooled.gen_sorted[-1] if pooled.n_gen else -1.0,
               grid.edge(int(occupied[-1]) + 1) if occupied.size else -1.0)
    k_lo = max(int(np.floor((lo_s - grid.lo) / grid.width)), 0)
    k_hi = min(int(np.ceil((hi_s - grid.lo) / grid.width)) + 1, grid.n_bins)
    step = max(1, int(np.ceil((k_hi - k_lo) / HISTOGRAM_BINS)))
    starts = np.arange(k_lo, k_hi, step)
    rows = []
    for label, c in curves.items():
        imp = np.add.reduceat(c.imp_hist, starts) if starts.size else np.zeros(0)
        gen_bins = np.bincount(grid.bin_of(c.gen_sorted), minlength=grid.n_bins)
        gen = np.add.reduceat(gen_bins, starts) if starts.size else np.zeros(0)
        imp[0] += c.imp_hist[:k_lo].sum()
        gen[0] += gen_bins[:k_lo].sum()
        for kind, counts in (("genuine", gen), ("impostor", imp)):
            for s, cnt in zip(starts, counts):
                rows.append((label, kind, grid.edge(int(s)), grid.edge(int(min(s + step, grid.n_bins))), int(cnt)))
    return pd.DataFrame(rows, columns=["group", "kind", "bin_left", "bin_right", "count"])


PAIRS_NEED_EMBEDDINGS = (
    "pairs= lists comparisons of an EmbeddingSet's samples, but data is a {type}. Fix: pass the "
    "EmbeddingSet the pairs refer to (a ScoreSet already lists its comparisons)."
)
PAIRS_COLUMNS = (
    "pairs must be a DataFrame with columns index_a and index_b (rows of data) or path_a and path_b "
    "(values of data.path); got columns {columns}. Fix: rename the columns."
)
PAIRS_UNKNOWN = (
    "pairs refers to {count} sample(s) that are not in data (first: {first}). Fix: extract every image "
    "the protocol lists, or drop those pairs explicitly before the audit."
)
PAIRS_GENUINE = (
    "pairs has {count} row(s) whose 'genuine' flag disagrees with the identities of the two samples "
    "(first rows: {rows}). Fix: correct the labels or the pairs."
)


def listed_pairs(data: Any, pairs: pd.DataFrame) -> Any:
    """A ScoreSet holding the cosine scores of exactly the listed pairs of an EmbeddingSet."""
    from fairaudit.data import ScoreSet

    if not isinstance(data, EmbeddingSet):
        raise errors.FairauditInputError(PAIRS_NEED_EMBEDDINGS.format(type=type(data).__name__))
    if not isinstance(pairs, pd.DataFrame):
        raise errors.FairauditInputError(PAIRS_COLUMNS.format(columns=type(pairs).__name__))
    if {"index_a", "index_b"} <= set(pairs.columns):
        ia = pairs["index_a"].to_numpy()
        ib = pairs["index_b"].to_numpy()
        bad = [v.item() if isinstance(v, np.generic) else v for v in np.r_[ia, ib]
               if not (isinstance(v, (int, np.integer)) and 0 <= v < len(data))]
        if bad:
            raise errors.FairauditInputError(PAIRS_UNKNOWN.format(count=len(bad), first=bad[:5]))
        ia, ib = ia.astype(np.int64), ib.astype(np.int64)
    elif {"path_a", "path_b"} <= set(pairs.columns) and data.path is not None:
        lookup = pd.Index(data.path)
        ia = lookup.get_indexer(pairs["path_a"].astype(str))
        ib = lookup.get_indexer(pairs["path_b"].astype(str))
        missing = pd.unique(np.r_[pairs["path_a"].to_numpy()[ia < 0], pairs["path_b"].to_numpy()[ib < 0]])
        if len(missing):
            raise errors.FairauditInputError(PAIRS_UNKNOWN.format(count=len(missing), first=list(missing[:5])))
    else:
        raise errors.FairauditInputError(PAIRS_COLUMNS.format(columns=list(pairs.columns)))
    x = data.normalized().astype(np.float64)
    score = np.einsum("ij,ij->i", x[ia], x[ib])
    identity = data.identity
    genuine = identity[ia] == identity[ib]
    if "genuine" in pairs.columns:
        wrong = np.flatnonzero(pairs["genuine"].to_numpy(dtype=bool) != genuine)
        if wrong.size:
            raise errors.FairauditInputError(PAIRS_GENUINE.format(count=wrong.size, rows=wrong[:5].tolist()))
    attrs = data.attributes
    return ScoreSet.from_arrays(
        score, identity_a=identity[ia], identity_b=identity[ib], genuine=genuine,
        attributes_a=attrs.iloc[ia].reset_index(drop=True), attributes_b=attrs.iloc[ib].reset_index(drop=True),
    )


def _data_types() -> tuple[type, ...]:
    from fairaudit.data import ScoreSet

    return (EmbeddingSet, ScoreSet)


def verification_audit(
    data: Any,
    *,
    by: str | Sequence[str],
    threshold: Any = "eer",
    alpha: float = 0.5,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
    bin_width: float = DEFAULT_BIN_WIDTH,
    tile: int = DEFAULT_TILE,
    progress: bool | None = None,
    pairs: pd.DataFrame | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    scratch_dir: str | None = None,
) -> VerificationResult:
    """Audit verification errors per demographic group at one global threshold.

    Parameters
    ----------
    data : EmbeddingSet or ScoreSet
        Embeddings (every unordered pair of samples is compared once: genuine
        when both show one identity, impostor otherwise) or a table of scores
        from a black-box system (the listed comparisons are used as they are).
    by : str or sequence of str
        The attribute(s) that define the groups; several give intersections
        (``by=["gender", "ethnicity"]``). A pair counts toward group g when both
        of its samples are in g; pairs across groups feed ``cross_fmr``.
    threshold : float, "eer", {"fmr": target} or "fmr=1e-3"
        The threshold policy: a fixed score; the pooled EER threshold; or the
        lowest threshold at which the pooled FMR is at most the target (as
        NIST FRTE does). The same threshold applies to every group.
    alpha : float in [0, 1]
        Weight of FMR against FNMR in FDR, GARBE and the inequity rate.
    n_boot : int
        Bootstrap replicates over identities for confidence intervals (0 = none).
    ci : float
        Confidence level of the percentile intervals.
    random_state : int, Generator or None
        Seeds the bootstrap; the same value gives the same numbers.
    bin_width : float
        Width of the impostor score bins. Counts at the threshold are exact;
        curves, EER and AUC are accurate to one bin.
    tile : int
        Rows per tile of the blocked product (memory per tile is about
        ``8 * tile**2`` bytes).
    progress : bool or None
        Show a progress bar (None: only on a terminal).
    pairs : DataFrame, optional
        With an EmbeddingSet: compare exactly these pairs instead of all pairs,
        as protocols with fixed pairs require (RFW). Columns ``index_a`` and
        ``index_b`` (rows of ``data``) or ``path_a`` and ``path_b`` (values of
        ``data.path``), e.g. ``manifest.attrs["pairs"]`` of the ``rfw``
        loader; an optional ``genuine`` column must agree with the identities.
        Pairs are used as listed: none is added, dropped or merged.
    scheduler : dask.distributed.Client, str or None
        Run the all-pairs engine on Dask: a ``Client``, a scheduler address
        (``"tcp://host:8786"``), ``"processes"`` or ``"threads"`` (a local
        cluster). Results are identical to the single-process engine (None),
        bit for bit. Needs ``pip install fairaudit[dask]``. Applies to an
        EmbeddingSet; a ScoreSet is counted in one pass here.
    workers : int, optional
        Without ``scheduler``: run on a local cluster of this many worker
        processes. With ``"threads"``/``"processes"``: its size.
    scratch_dir : str, optional
        Where the engine writes the embeddings sorted by group and identity
        (``4 * n_samples * n_features`` bytes) when it needs a file: on a Dask
        cluster, whose workers read their blocks from it (so it must be on a
        filesystem every worker mounts), or for an out-of-core EmbeddingSet.
        Default: the system's temporary directory. Removed afterwards.

    Returns
    -------
    VerificationResult
    """
    from fairaudit.common.executors import executor_for, scratch_directory

    # bad options fail here, before a Dask cluster starts or any pair is scored
    parse_threshold(threshold)
    _check_options(alpha, n_boot, ci, bin_width, tile)
    resolve_rng(random_state)
    if isinstance(data, EmbeddingSet):
        normalize_by(by, data.attribute_names)
    elif isinstance(data, _data_types()):
        data.resolve_by(by)
    else:
        raise errors.FairauditInputError(errors.BAD_DATA_TYPE.format(type=type(data).__name__))
    with contextlib.ExitStack() as stack:
        executor = stack.enter_context(executor_for(scheduler, workers))
        # a sorted embeddings file is written only for other processes or an out-of-core set
        needs_file = executor is not None or getattr(data, "out_of_core", False)
        scratch = stack.enter_context(scratch_directory(scratch_dir)) if needs_file else None
        return _verification_audit(
            data, by=by, threshold=threshold, alpha=alpha, n_boot=n_boot, ci=ci, random_state=random_state,
            bin_width=bin_width, tile=tile, progress=progress, pairs=pairs, executor=executor,
            scratch=scratch,
        )


def _verification_audit(data: Any, *, by: Any, threshold: Any, alpha: float, n_boot: int, ci: float,
                        random_state: Any, bin_width: float, tile: int, progress: bool | None,
                        pairs: pd.DataFrame | None, executor: Any, scratch: str | None) -> VerificationResult:
    start = time.perf_counter()
    policy = parse_threshold(threshold)
    _check_options(alpha, n_boot, ci, bin_width, tile)
    rng = resolve_rng(random_state)
    origin = policy.value if policy.kind == "fixed" else 0.0
    unpaired: list[str] = []
    if pairs is not None:
        embeddings = data
        data = listed_pairs(data, pairs)
        by_all = normalize_by(by, embeddings.attribute_names)
        _, _, all_groups = _identity_groups_from_embeddings(embeddings, by_all)
    stats, by_t = _stats_from_data(data, by, origin, float(bin_width), int(tile), progress, executor, scratch)
    if pairs is not None:
        unpaired = [label for label in all_groups.labels if label not in set(stats.groups.labels)]
    if stats.gen_score.size == 0:
        raise errors.FairauditInputError(errors.NO_GENUINE_PAIRS)
    grid = stats.grid
    edges = grid.edges()
    groups = stats.groups
    labels = groups.labels
    gen_group = stats.gen_group

    curves: dict[str, _Curves] = {POOLED: _Curves(stats.pooled_impostor_hist(), np.sort(stats.gen_score), edges)}
    for g, label in enumerate(labels):
        curves[label] = _Curves(stats.impostor_hist(g), np.sort(stats.gen_score[gen_group == g]), edges)
    pooled = curves[POOLED]
    notes: list[str] = []
    if unpaired:
        notes.append(f"Group(s) {', '.join(repr(u) for u in unpaired)} have samples in the data but no listed "
                     "pair, so they have no row in the results.")
    if executor is not None and stats.route == "scores":
        notes.append("The listed comparisons were counted in this process: scheduler and workers apply to "
                     "the all-pairs engine of an EmbeddingSet.")

    if policy.kind == "fixed":
        k_op = grid.k0
    elif policy.kind == "eer":
        _, k_op = rates.eer(pooled.fmr, pooled.fnmr)
    else:
        k_op = rates.threshold_index_for_fmr(pooled.fmr * pooled.n_imp, pooled.n_imp, policy.value)
        if pooled.n_imp * policy.value < 1:
            notes.append(
                f"The FMR target {policy.value:g} is below 1/{pooled.n_imp:,} (one false match among "
                f"all impostor pairs): the threshold is the one with no false match at all."
            )
    thr = float(edges[k_op])

    ident_per_group = np.bincount(groups.codes, minlength=groups.n_groups)
    rows = []
    for g, label in enumerate(labels):
        fig = curves[label].figures(k_op, grid)
        n_samples = np.nan if stats.n_samples_group is None else int(stats.n_samples_group[g])
        rows.append({"label": label, "n_identities": int(ident_per_group[g]), "n_samples": n_samples, **fig})
    by_group = pd.DataFrame(rows, index=groups.index, columns=list(RATE_COLUMNS))
    for column in CI_COLUMNS:
        by_group[column] = np.nan
    overall_fig = pooled.figures(k_op, grid)
    overall = pd.Series({
        "label": POOLED, "n_identities": int(len(stats.identity_names)),
        "n_samples": np.nan if stats.n_samples_group is None else int(stats.n_samples_group.sum()),
        **overall_fig,
    })[list(RATE_COLUMNS)]

    for target in rates.FMR_POINTS:
        col = rates.fmr_point_label(target)
        missing = by_group.loc[by_group[col].isna(), "label"].tolist()
        if missing:
            notes.append(
                f"{col} is not reported for {', '.join(repr(m) for m in missing)}: fewer than "
                f"{int(math.ceil(rates.MIN_FALSE_MATCHES / target)):,} impostor pairs "
                f"({rates.MIN_FALSE_MATCHES} expected false matches) support it."
            )
    for label, c in curves.items():
        if label == POOLED:
            continue
        if c.n_imp == 0:
            notes.append(f"Group {label!r} has no impostor pairs (one identity): its FMR is undefined.")
        if c.n_gen == 0:
            notes.append(f"Group {label!r} has no genuine pairs (one sample per identity): its FNMR is undefined.")
        elif c.n_gen < 100:
            notes.append(f"Group {label!r} has only {c.n_gen} genuine pairs: its FNMR is coarse.")

    # group x group impostor FMR at the threshold
    G = groups.n_groups
    cross = np.full((G, G), np.nan)
    cross_n = np.zeros((G, G), dtype=np.int64)
    for a in range(G):
        for b in range(G):
            h = stats.impostor_hist(a, b)
            n = int(h.sum())
            cross_n[a, b] = n
            if n:
                cross[a, b] = h[k_op:].sum() / n
    cross_fmr = pd.DataFrame(cross, index=pd.Index(labels, name="group"), columns=pd.Index(labels, name="group"))
    cross_impostor = pd.DataFrame(cross_n, index=cross_fmr.index, columns=cross_fmr.columns)

    curve_rows = []
    for label, c in curves.items():
        if not (c.n_imp and c.n_gen):
            continue
        idx = rates.curve_indices(c.fmr, c.fnmr)
        curve_rows.append(pd.DataFrame({"group": label, "threshold": edges[idx],
                                        "fmr": c.fmr[idx], "fnmr": c.fnmr[idx]}))
    curves_df = pd.concat(curve_rows, ignore_index=True)
    hist_df = _coarse_histograms(curves, grid)

    # bootstrap over identities
    fmr_vec = by_group["fmr"].to_numpy(dtype=float)
    fnmr_vec = by_group["fnmr"].to_numpy(dtype=float)
    replicates = None
    if n_boot:
        thresholds_k = []
        for label in labels:
            c = curves[label]
            extra = c.eer_grid() if (c.n_imp and c.n_gen) else np.zeros(0, dtype=np.int64)
            thresholds_k.append(np.unique(np.r_[k_op, extra]).astype(np.int64))
        if stats.route == "embeddings":
            ipc = embedding_identity_pair_counts(stats, thresholds_k)
        else:
            ipc = score_identity_pair_counts(stats, thresholds_k)
        reps = group_replicates(stats, ipc, int(n_boot), rng)
        fmr_reps = np.full((n_boot, G), np.nan)
        fnmr_reps = np.full((n_boot, G), np.nan)
        for g, (fmr_r, fnmr_r) in enumerate(reps):
            pos = int(np.searchsorted(thresholds_k[g], k_op))
            fmr_reps[:, g] = fmr_r[:, pos]
            fnmr_reps[:, g] = fnmr_r[:, pos]
            eer_r = replicate_eer(fmr_r, fnmr_r)
            row = by_group.index[g]
            by_group.loc[row, ["fmr_ci_low", "fmr_ci_high"]] = percentile_interval(fmr_reps[:, g], ci)
            by_group.loc[row, ["fnmr_ci_low", "fnmr_ci_high"]] = percentile_interval(fnmr_reps[:, g], ci)
            by_group.loc[row, ["eer_ci_low", "eer_ci_high"]] = percentile_interval(eer_r, ci)
        replicates = (fmr_reps, fnmr_reps)

    from fairaudit.verification.fairness import fairness_table

    fairness = fairness_table(fmr_vec, fnmr_vec, labels=labels, alpha=float(alpha),
                              replicates=replicates, ci=float(ci))

    params = {
        "by": list(by_t), "threshold": threshold if isinstance(threshold, (int, float, str)) else str(threshold),
        "alpha": float(alpha), "n_boot": int(n_boot), "ci": float(ci),
        "random_state": random_state if isinstance(random_state, (int, type(None))) else "Generator",
        "bin_width": float(bin_width), "tile": int(tile), "route": stats.route,
        "pair_rule": ("every unordered pair of distinct samples, once" if stats.route == "embeddings"
                      else "the comparisons listed in the score file, as given"),
        "bootstrap": "identities resampled with replacement within each group, percentile intervals",
        "engine": ("dask" if executor is not None and stats.route == "embeddings" else "single-process"),
    }
    return VerificationResult(
        threshold=thr,
        policy={"kind": policy.kind, "value": policy.value, "description": policy.describe()},
        by=by_t,
        by_group=by_group,
        overall=overall,
        cross_fmr=cross_fmr,
        cross_impostor=cross_impostor,
        curves=curves_df,
        histograms=hist_df,
        fairness=fairness,
        params=params,
        provenance=provenance(elapsed_s=time.perf_counter() - start),
        notes=notes,
    )


__all__ = ["verification_audit", "VerificationResult", "ThresholdPolicy", "parse_threshold", "LABEL_SEP"]
