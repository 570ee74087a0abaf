"""What the verification audit reads and hands on: the pair statistics of an EmbeddingSet or a
ScoreSet (:func:`_stats_from_data`), the progress bar of the engine, and the sink a caller sets to
receive the audit's bootstrap replicates (:data:`REPLICATE_SINK`, used by
:func:`fairaudit.systems.compare_systems`). Importable from :mod:`.audit` as before."""

from __future__ import annotations

import contextvars
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.progress import progress_bar
from fairaudit.data import EmbeddingSet, make_groups, normalize_by
from fairaudit.verification.engine import embedding_pair_stats, score_pair_stats
from fairaudit.verification.grid import _MARGIN, BinGrid, PairStats


def _progress_bar(total: int, enabled: bool | None, desc: str, unit: str = "pair"):
    return progress_bar(total, enabled, desc, unit)


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
                     scratch: str | None = None, keep: dict | None = None) -> tuple[PairStats, tuple[str, ...]]:
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
                **(keep or {}),
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


#: a dict the audit fills with its bootstrap replicates, when set (see :func:`_replicates_for_sink`)
REPLICATE_SINK: contextvars.ContextVar[dict | None] = contextvars.ContextVar("fairaudit_replicates", default=None)


def _replicates_for_sink(stats: PairStats, weights: list[np.ndarray], threshold: float, fmr_reps: np.ndarray,
                         fnmr_reps: np.ndarray, eer_reps: np.ndarray) -> dict[str, Any]:
    """What a caller needs to pair this audit's replicates with another's: the per-group
    replicates, the pooled FNMR of every replicate (genuine pairs are within identities, so the
    weights give it exactly), and the identities and groups the weights were drawn over (equal
    for two audits of the same samples with the same ``random_state``: the same identities are
    drawn in replicate b of both)."""
    codes = stats.groups.codes
    m = len(stats.identity_names)
    gen = np.bincount(stats.gen_identity, minlength=m).astype(float)
    rej = np.bincount(stats.gen_identity, weights=(stats.gen_score < threshold).astype(float), minlength=m)
    n_gen = np.zeros(len(fmr_reps))
    n_rej = np.zeros(len(fmr_reps))
    for g, w in enumerate(weights):
        members = np.flatnonzero(codes == g)
        n_gen += w @ gen[members]
        n_rej += w @ rej[members]
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled_fnmr = np.where(n_gen > 0, n_rej / n_gen, np.nan)
    return {"fmr": fmr_reps, "fnmr": fnmr_reps, "eer": eer_reps, "pooled_fnmr": pooled_fnmr,
            "identities": np.asarray(stats.identity_names), "group_codes": np.asarray(codes),
            "labels": list(stats.groups.labels)}
