"""The pair engine: counts of genuine and impostor comparisons without holding all scores.

Both audit routes end in the same :class:`PairStats`:

* from an :class:`~fairaudit.EmbeddingSet`, :func:`embedding_pair_stats` walks the
  upper triangle of the all-pairs score matrix in tiles. Samples are sorted by
  group and then identity, and tiles are cut at identity boundaries, so every
  tile holds pairs of one group pair only, and all genuine pairs lie in the
  diagonal tiles. Impostor scores are binned into one fine histogram per group
  pair on a fixed grid; genuine scores (few) are kept exactly.
* from a :class:`~fairaudit.ScoreSet`, :func:`score_pair_stats` bins the listed
  impostor scores on the same grid.

The grid
--------
Bin ``k`` covers ``[edges[k], edges[k+1])`` with ``edges[k] = origin + (k - k0) * width``.
The count of impostor scores ``>= edges[k]`` is the sum of the bins from ``k`` up,
an exact count, never an interpolation. A fixed threshold is made the grid's
``origin``, so it is an edge; the EER and FMR-target policies pick an edge.
Scores from embeddings are computed in float32 with the bin arithmetic folded
into the matrix product (an extra constant column), so a decision for a pair
whose score lies within about 2e-6 of the threshold follows float32 rounding.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from fairaudit.data import Groups
from fairaudit.verification.grid import (  # noqa: F401 - the engine's names, importable from here
    _MARGIN,
    DEFAULT_BIN_WIDTH,
    DEFAULT_TILE,
    BinGrid,
    HighScores,
    PairStats,
    _pair_index,
)
from fairaudit.verification.identity_pairs import (  # noqa: F401 - the engine's names, importable from here
    IdentityPairCounts,
    embedding_identity_pair_counts,
    score_identity_pair_counts,
)
from fairaudit.verification.layout import _layout, rows_for_executor
from fairaudit.verification.tiles import LocalExecutor, _batches, _pass1_task, _Spec


#: the most high-scoring comparisons the first pass keeps (12 bytes each)
MAX_KEPT = 40_000_000
#: samples drawn for the pilot estimate of a score quantile
PILOT_SAMPLES = 2000
#: fewest pilot impostor scores above the estimated score
PILOT_MIN_ABOVE = 50


def pilot_score_at_fmr(rows, ident: np.ndarray, fmr: float, seed: int = 0) -> float | None:
    """A score near which about ``fmr`` of the impostor comparisons lie above (or the score of the
    :data:`PILOT_MIN_ABOVE`-th highest, when ``fmr`` is too small for the pilot), from every pair of
    :data:`PILOT_SAMPLES` samples drawn at random (a fixed seed: it only decides how much the first
    pass keeps, never a result). None when the pilot has no impostor pair."""
    n = len(ident)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(n, size=min(n, PILOT_SAMPLES), replace=False))
    x = np.asarray(rows.array[pick] if hasattr(rows, "array") else np.load(rows.path, mmap_mode="r")[pick],
                   dtype=np.float32)
    ids = ident[pick]
    upper = np.triu(np.ones((len(pick), len(pick)), dtype=bool), 1) & (ids[:, None] != ids[None, :])
    scores = (x @ x.T)[upper]
    if scores.size == 0:
        return None
    above = min(scores.size, max(PILOT_MIN_ABOVE, int(np.ceil(fmr * scores.size))))
    return float(np.partition(scores, scores.size - above)[scores.size - above])


# --------------------------------------------------------------------------
# EmbeddingSet route
# --------------------------------------------------------------------------
def embedding_pair_stats(
    x,
    ident: np.ndarray,
    identity_names: np.ndarray,
    groups: Groups,
    grid: BinGrid,
    *,
    tile: int = DEFAULT_TILE,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    executor=None,
    scratch_dir: str | None = None,
    keep_from_score: float | None = None,
    keep_fmr: float | None = None,
    keep_share: float = 0.25,
) -> PairStats:
    """Blocked all-pairs pass over L2-normalised embeddings.

    Parameters
    ----------
    x : ndarray (n, d) of unit rows, or an EmbeddingSet
        An EmbeddingSet is read block by block (normalised on the way), so an
        out-of-core set is never loaded whole.
    ident : ndarray (n,) of identity codes
    identity_names : ndarray of str, name of each identity code
    groups : Groups indexed by identity code
    grid : BinGrid
    tile : rows per tile
    progress : called with the number of pairs finished after every task
    workers : threads of the local executor (default: the number of BLAS threads)
    executor : where tasks run (default: a :class:`LocalExecutor`); a Dask
        executor (``fairaudit.common.executors``) runs them on a cluster
    scratch_dir : directory of the sorted matrix file, when one is needed (an
        executor on other processes, or an out-of-core set)
    keep_from_score, keep_fmr, keep_share : also list every impostor comparison scoring at
        least ``keep_from_score``, or at least the score a pilot sample of pairs puts at an FMR of
        ``keep_fmr`` (:attr:`PairStats.high_scores`), unless a tile has more than ``keep_share``
        of its comparisons there or the list would pass :data:`MAX_KEPT` (then it is dropped):
        what the permutation tests need at a threshold above it, without another pass
    """
    executor = LocalExecutor(workers) if executor is None else executor
    n_ids = len(identity_names)
    layout = _layout(ident, groups.codes, tile)
    rows = rows_for_executor(x, layout.order, executor, scratch_dir, "fairaudit-sorted")
    pair_index, n_pairs = _pair_index(groups.n_groups)
    n_bins = grid.n_bins
    if keep_from_score is None and keep_fmr is not None:
        keep_from_score = pilot_score_at_fmr(rows, layout.ident, keep_fmr)
    keep_from = -1 if keep_from_score is None else int(grid.bin_of(np.array([keep_from_score]))[0])
    n_kept = 0
    spec = _Spec(scale=np.float32(1.0 / grid.width), offset=np.float32(-grid.lo / grid.width),
                 n_bins=n_bins, pair_index=pair_index, keep_from=keep_from, keep_share=float(keep_share))
    hist = np.zeros((n_pairs, n_bins), dtype=np.int64)
    batches = _batches(layout, executor.pairs_per_task, local=np.arange(n_ids))
    genuine: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    kept: dict[int, tuple] | None = {} if keep_from >= 0 else None
    # integer sums: the order in which tasks finish cannot change the result
    for index, packed, size, gen, listed in executor.run(_pass1_task, rows, batches, spec):
        for row, lo, counts in packed:
            hist[row, lo:lo + len(counts)] += counts
        if gen is not None:
            genuine[index] = gen
        if kept is not None:
            n_kept += 0 if listed is None else len(listed[0])
            if listed is None or n_kept > MAX_KEPT:
                kept = None  # a tile had too many, or all of them: the list is dropped
            else:
                kept[index] = listed
        if progress is not None:
            progress(size)
    high = None
    if kept is not None:
        parts = [kept[k] for k in sorted(kept)]
        high = HighScores(keep_from, *(np.concatenate([p[i] for p in parts]) if parts
                                       else np.zeros(0, dtype=np.int32) for i in range(3)))
    # genuine scores in tile order, whatever order the tasks finished in
    parts = [genuine[k] for k in sorted(genuine)]
    gen_score = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    gen_ident = layout.ident[:0] if not parts else np.concatenate([p[1] for p in parts])
    return PairStats(
        groups=groups,
        identity_names=identity_names,
        identity_samples=np.bincount(ident, minlength=n_ids),
        grid=grid,
        imp_hist=hist,
        pair_index=pair_index,
        gen_score=gen_score.astype(np.float64),
        gen_identity=gen_ident.astype(np.int64),
        n_samples_group=np.bincount(groups.codes[ident], minlength=groups.n_groups),
        route="embeddings",
        _source=(layout, rows, spec, executor),
        high_scores=high,
    )


# --------------------------------------------------------------------------
# ScoreSet route
# --------------------------------------------------------------------------
def score_pair_stats(
    score: np.ndarray,
    genuine: np.ndarray,
    ident_a: np.ndarray,
    ident_b: np.ndarray,
    identity_names: np.ndarray,
    groups: Groups,
    grid: BinGrid,
) -> PairStats:
    """Histograms and genuine scores from an explicit list of comparisons."""
    pair_index, n_pairs = _pair_index(groups.n_groups)
    imp = ~genuine
    ga = groups.codes[ident_a[imp]]
    gb = groups.codes[ident_b[imp]]
    rows = pair_index[ga, gb]
    bins = grid.bin_of(score[imp])
    flat = np.bincount(rows * grid.n_bins + bins, minlength=n_pairs * grid.n_bins)
    hist = flat.reshape(n_pairs, grid.n_bins).astype(np.int64)
    return PairStats(
        groups=groups,
        identity_names=identity_names,
        identity_samples=None,
        grid=grid,
        imp_hist=hist,
        pair_index=pair_index,
        gen_score=score[genuine].astype(np.float64),
        gen_identity=ident_a[genuine].astype(np.int64),
        n_samples_group=None,
        route="scores",
        _source=(score, genuine, ident_a, ident_b),
    )
