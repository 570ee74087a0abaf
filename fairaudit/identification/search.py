"""The 1:N search engine: every probe against the whole gallery, in tiles, keeping per probe only
the best score of its mate and a running top-K of the other gallery identities.

What every audit route ends in is a :class:`SearchStats`: per probe, the best score of its mate's
gallery samples (the mate's *candidate score*; several samples of one identity count as one
candidate, its best score), the ``K`` best non-mate candidates (scores and identities, best first)
and, for nested random sub-galleries, the best non-mate score in each (FPIR against gallery size).
From those, FPIR(T), FNIR(T, R) for every R <= K, the CMC up to K and the candidate lists'
composition are exact counts: the probes x gallery score matrix is never held.

* from an :class:`~fairaudit.EmbeddingSet`, :func:`embedding_search_stats` sorts the gallery by
  sub-gallery level and identity, cuts it into tiles at identity boundaries, and runs one task per
  block of probes: the float32 product of the block with each gallery tile, then a compiled loop
  (:func:`_search_tile`) that reduces chunks of columns to their maximum and merges into the top-K
  only the chunks that reach it (taking each identity's best score).
  Tasks own their probes, so no two tasks share state and the results are the same, bit for bit,
  on threads, on a Dask cluster and in one process.
* candidate lists read from files (:mod:`fairaudit.identification.candidates`) fill the same
  arrays from the listed candidates.

Ties: candidates of equal score are ordered by gallery identity code (the identity's position in
the sorted gallery names), so the top-K never depends on the order of tiles. Non-mate candidates
tied with the mate rank ahead of it (rank = 1 + the number of non-mates scoring at least as high),
as bob.measure's ``cmc``, ``recognition_rate`` and ``detection_identification_rate`` count it: a
tie is never resolved in the mate's favour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

#: gallery columns per tile (identities are never split across tiles)
DEFAULT_GALLERY_TILE = 2048
#: probes per task
DEFAULT_PROBE_BLOCK = 512
#: nested sub-galleries for FPIR against gallery size: 1/2**j of the gallery identities, j < LEVELS
LEVELS = 5


@dataclass(frozen=True, eq=False)
class SearchStats:
    """What the search kept of every probe (arrays of length ``n_probes`` unless said otherwise).

    Attributes
    ----------
    probe_identity : ndarray of int
        Code of the probe's identity in ``identity_names``.
    probe_group : ndarray of int
        Group code of the probe's identity (``groups.codes`` is indexed by identity code).
    mated : ndarray of bool
        The probe's identity is enrolled in the gallery.
    mate_score : ndarray of float64
        Best score of the mate's gallery samples (NaN: not mated, or the mate is not in a
        candidate list read from a file).
    top_score : ndarray (n_probes, K) of float64
        The K best non-mate candidate scores, best first (-inf where fewer than K exist).
    top_identity : ndarray (n_probes, K) of int
        Their identity codes (-1 where fewer than K exist).
    level_best : ndarray (n_probes, LEVELS) of float64 or None
        Best non-mate score among the gallery identities of each nested level (see
        :func:`gallery_levels`); None for candidate lists, which cannot answer it.
    gallery_identity : ndarray of int
        Identity codes of the enrolled identities (sorted).
    gallery_samples : ndarray of int
        Gallery samples of each enrolled identity (same order).
    gallery_level : ndarray of int or None
        Level of each enrolled identity.
    k : int
        Length of the kept candidate lists.
    """

    identity_names: np.ndarray
    groups: object
    probe_identity: np.ndarray
    probe_group: np.ndarray
    mated: np.ndarray
    mate_score: np.ndarray
    top_score: np.ndarray
    top_identity: np.ndarray
    level_best: np.ndarray | None
    gallery_identity: np.ndarray
    gallery_samples: np.ndarray
    gallery_level: np.ndarray | None
    k: int
    route: str = "embeddings"

    @property
    def n_probes(self) -> int:
        return len(self.probe_identity)

    def mate_rank(self) -> np.ndarray:
        """Rank of each mated probe's mate in its candidate list (1 = first): one more than the
        number of non-mate candidates scoring at least as high (ties go against the mate);
        ``k + 1`` where it lies beyond the kept list or was not listed; 0 for non-mated probes."""
        with np.errstate(invalid="ignore"):
            higher = (self.top_score >= self.mate_score[:, None]).sum(axis=1)
        rank = higher + 1
        rank[~np.isfinite(self.mate_score)] = self.k + 1
        rank[~self.mated] = 0
        return rank.astype(np.int64)


def gallery_levels(n_identities: int, seed: int) -> np.ndarray:
    """Level of each of ``n_identities`` enrolled identities: a seeded random order cut so that the
    identities of levels ``<= LEVELS - 1 - j`` are the first ``ceil(n / 2**j)`` of it (nested
    sub-galleries of 1/2, 1/4, ... of the gallery, drawn once, independent of the groups)."""
    order = np.random.default_rng(seed).permutation(n_identities)
    position = np.empty(n_identities, dtype=np.int64)
    position[order] = np.arange(n_identities)
    level = np.full(n_identities, LEVELS - 1, dtype=np.int32)
    for j in range(1, LEVELS):  # halves, then quarters, ...: the smallest sub-gallery is level 0
        level[position < int(np.ceil(n_identities / 2**j))] = LEVELS - 1 - j
    return level


# --------------------------------------------------------------------------
# The compiled tile loop
# --------------------------------------------------------------------------
#: columns per chunk of the tile loop: a chunk is tested with one vectorised max
CHUNK = 64


def _search_tile(scores, col0, chunk_lo, chunk_hi, chunk_run_lo, chunk_run_hi, chunk_level, runs, run_ident,
                 mate, mate_lo, mate_hi, top_s, top_i, mate_best, level_best):
    """Merge one tile of scores (probes x gallery columns ``col0 ..``) into each probe's state: the
    mate's best score, the best non-mate score per level, and the top-K non-mate identities
    (``top_s`` descending, ties by identity code).

    Columns of one identity are contiguous (``runs``, boundaries within the tile), and so are the
    identities of one level; chunks are runs of identities of one level, about :data:`CHUNK`
    columns. A chunk without the probe's mate is first tested in one vectorised pass: only when a
    score reaches the current K-th score or the level's best so far are the chunk's identities
    merged one by one. A chunk holding the mate always is."""
    p = scores.shape[0]
    k = top_s.shape[1]
    n_chunks = len(chunk_lo)
    for i in range(p):
        row = scores[i]
        m = mate[i]
        mlo = mate_lo[i] - col0
        mhi = mate_hi[i] - col0
        kth_s = top_s[i, k - 1]
        kth_i = top_i[i, k - 1]
        for c in range(n_chunks):
            lo = chunk_lo[c]
            hi = chunk_hi[c]
            exact = mlo < hi and mhi > lo
            if not exact:
                # a count, not a max: the compiler vectorises it (it does not vectorise a float max)
                bar = min(kth_s, level_best[i, chunk_level[c]])
                n_above = 0
                for j in range(lo, hi):
                    n_above += row[j] >= bar
                exact = n_above > 0
            if not exact:
                continue
            for r in range(chunk_run_lo[c], chunk_run_hi[c]):
                j0 = runs[r]
                best = row[j0]
                for j in range(j0 + 1, runs[r + 1]):
                    if row[j] > best:
                        best = row[j]
                g = run_ident[r]
                if g == m:
                    if best > mate_best[i]:
                        mate_best[i] = best
                    continue
                lv = chunk_level[c]
                if best > level_best[i, lv]:
                    level_best[i, lv] = best
                if best > kth_s or (best == kth_s and g < kth_i):
                    pos = k - 1
                    while pos > 0 and (top_s[i, pos - 1] < best
                                       or (top_s[i, pos - 1] == best and top_i[i, pos - 1] > g)):
                        top_s[i, pos] = top_s[i, pos - 1]
                        top_i[i, pos] = top_i[i, pos - 1]
                        pos -= 1
                    top_s[i, pos] = best
                    top_i[i, pos] = g
                    kth_s = top_s[i, k - 1]
                    kth_i = top_i[i, k - 1]


def _kernel():
    """The compiled loop (numba, on first use; memoised by :func:`fairaudit.verification.kernels._jit`)."""
    from fairaudit.verification.kernels import _jit

    return _jit(_search_tile)


# --------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _TilePlan:
    """One gallery tile: its columns and how the loop walks them."""

    start: int
    stop: int
    chunk_lo: np.ndarray
    chunk_hi: np.ndarray
    chunk_run_lo: np.ndarray
    chunk_run_hi: np.ndarray
    chunk_level: np.ndarray
    runs: np.ndarray
    run_ident: np.ndarray


@dataclass(frozen=True, eq=False)
class _Plan:
    """What every task needs besides its probes (small and picklable)."""

    n_gallery: int  # gallery rows come first in the sorted rows
    tiles: tuple  # of _TilePlan
    k: int


@dataclass(frozen=True, eq=False)
class _ProbeBlock:
    index: int
    start: int  # rows in the sorted matrix
    stop: int
    mate: np.ndarray  # mate identity code per probe, -1 when not mated
    mate_lo: np.ndarray  # the mate's gallery columns (0, 0 when not mated)
    mate_hi: np.ndarray


def _search_task(rows, block: _ProbeBlock, plan: _Plan, check_threads: bool = True):
    """One block of probes against every gallery tile: ``(index, mate_best, top_s, top_i,
    level_best)`` (float32 scores)."""
    from fairaudit.verification.tiles import _one_blas_thread

    if check_threads:
        _one_blas_thread()
    kernel = _kernel()
    probes = np.ascontiguousarray(rows.rows(block.start, block.stop), dtype=np.float32)
    p = len(probes)
    top_s = np.full((p, plan.k), -np.inf, dtype=np.float32)
    top_i = np.full((p, plan.k), np.iinfo(np.int32).max, dtype=np.int32)
    mate_best = np.full(p, -np.inf, dtype=np.float32)
    level_best = np.full((p, LEVELS), -np.inf, dtype=np.float32)
    mate = np.ascontiguousarray(block.mate, dtype=np.int32)
    buffer = np.empty(0, dtype=np.float32)
    for t in plan.tiles:
        gallery = np.asarray(rows.rows(t.start, t.stop), dtype=np.float32)
        size = p * (t.stop - t.start)
        if buffer.size < size:
            buffer = np.empty(size, dtype=np.float32)
        scores = buffer[:size].reshape(p, t.stop - t.start)
        np.matmul(probes, gallery.T, out=scores)
        kernel(scores, t.start, t.chunk_lo, t.chunk_hi, t.chunk_run_lo, t.chunk_run_hi, t.chunk_level, t.runs,
               t.run_ident, mate, block.mate_lo, block.mate_hi, top_s, top_i, mate_best, level_best)
    top_i[~np.isfinite(top_s)] = -1
    return block.index, mate_best, top_s, top_i, level_best


def _gallery_tiles(ident_sorted: np.ndarray, tile: int) -> list[tuple[int, int]]:
    """Column ranges of at most ``tile`` columns cut at identity boundaries (an identity with more
    samples than ``tile`` gets a tile of its own)."""
    n = len(ident_sorted)
    starts = np.flatnonzero(np.r_[True, ident_sorted[1:] != ident_sorted[:-1]]) if n else np.zeros(0, int)
    out = []
    pos = 0
    while pos < n:
        want = pos + tile
        if want >= n:
            stop = n
        else:
            j = np.searchsorted(starts, want, side="right") - 1
            stop = int(starts[j])
            if stop <= pos:  # one identity longer than a tile
                j = np.searchsorted(starts, pos, side="right")
                stop = int(starts[j]) if j < len(starts) else n
        out.append((pos, stop))
        pos = stop
    return out


def _tile_plan(start: int, stop: int, ident: np.ndarray, level: np.ndarray) -> _TilePlan:
    """Runs and chunks of the gallery columns ``start:stop`` (``ident`` and ``level`` per column)."""
    part = ident[start:stop]
    lv = level[start:stop]
    st = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
    runs = np.r_[st, stop - start].astype(np.int64)
    run_level = lv[st]
    chunk_lo, chunk_run_lo, chunk_level = [], [], []
    base = -1
    for r in range(len(st)):
        if base < 0 or run_level[r] != chunk_level[-1] or runs[r + 1] - base > CHUNK:
            chunk_lo.append(int(runs[r]))
            chunk_run_lo.append(r)
            chunk_level.append(int(run_level[r]))
            base = int(runs[r])
    chunk_hi = chunk_lo[1:] + [stop - start]
    return _TilePlan(start=start, stop=stop, chunk_lo=np.array(chunk_lo, dtype=np.int64),
                     chunk_hi=np.array(chunk_hi, dtype=np.int64),
                     chunk_run_lo=np.array(chunk_run_lo, dtype=np.int64),
                     chunk_run_hi=np.array(chunk_run_lo[1:] + [len(st)], dtype=np.int64),
                     chunk_level=np.array(chunk_level, dtype=np.int32), runs=runs,
                     run_ident=part[st].astype(np.int32))


def embedding_search_stats(
    x,
    ident: np.ndarray,
    identity_names: np.ndarray,
    groups,
    gallery_rows: np.ndarray,
    probe_rows: np.ndarray,
    *,
    k: int = 20,
    level_seed: int = 0,
    gallery_tile: int = DEFAULT_GALLERY_TILE,
    probe_block: int = DEFAULT_PROBE_BLOCK,
    progress: Callable[[int], None] | None = None,
    executor=None,
    scratch_dir: str | None = None,
) -> SearchStats:
    """Search every probe row against the gallery rows of ``x`` (unit rows, or an EmbeddingSet).

    ``gallery_rows`` and ``probe_rows`` are disjoint row indices that together cover ``x``;
    ``ident`` is the identity code of every row and ``groups.codes`` the group of every identity.
    """
    from fairaudit.verification.layout import rows_for_executor
    from fairaudit.verification.tiles import LocalExecutor

    executor = LocalExecutor() if executor is None else executor
    gallery_rows = np.asarray(gallery_rows, dtype=np.int64)
    probe_rows = np.asarray(probe_rows, dtype=np.int64)
    g_ident = ident[gallery_rows]
    enrolled, samples = np.unique(g_ident, return_counts=True)
    levels = gallery_levels(len(enrolled), level_seed)
    level_of = np.full(len(identity_names), -1, dtype=np.int32)
    level_of[enrolled] = levels
    # the gallery sorted by level, then identity: each identity's columns are contiguous, and so
    # are the identities of one level (the tile loop reduces a level's columns in one pass)
    g_order = np.lexsort((g_ident, level_of[g_ident]))
    order = np.r_[gallery_rows[g_order], probe_rows]
    ident_sorted = g_ident[g_order]
    level_sorted = level_of[ident_sorted]
    tiles = tuple(_tile_plan(s, e, ident_sorted, level_sorted)
                  for s, e in _gallery_tiles(ident_sorted, max(1, int(gallery_tile))))
    plan = _Plan(n_gallery=len(gallery_rows), tiles=tiles, k=int(k))
    first_col = np.zeros(len(identity_names), dtype=np.int64)
    last_col = np.zeros(len(identity_names), dtype=np.int64)
    if len(ident_sorted):
        bounds = np.flatnonzero(np.r_[True, ident_sorted[1:] != ident_sorted[:-1], True])
        first_col[ident_sorted[bounds[:-1]]] = bounds[:-1]
        last_col[ident_sorted[bounds[:-1]]] = bounds[1:]
    p_ident = ident[probe_rows]
    is_enrolled = np.zeros(len(identity_names), dtype=bool)
    is_enrolled[enrolled] = True
    mated = is_enrolled[p_ident]
    mate = np.where(mated, p_ident, -1).astype(np.int32)
    rows = rows_for_executor(x, order, executor, scratch_dir, "fairaudit-search")
    n_g = len(gallery_rows)
    mate_lo = np.where(mated, first_col[p_ident], 0).astype(np.int64)
    mate_hi = np.where(mated, last_col[p_ident], 0).astype(np.int64)
    step = max(1, int(probe_block))
    blocks = [
        _ProbeBlock(b, n_g + s, n_g + min(s + step, len(probe_rows)), mate[s:s + step], mate_lo[s:s + step],
                    mate_hi[s:s + step])
        for b, s in enumerate(range(0, len(probe_rows), step))
    ]
    n_p = len(probe_rows)
    top_s = np.full((n_p, k), -np.inf)
    top_i = np.full((n_p, k), -1, dtype=np.int64)
    mate_best = np.full(n_p, np.nan)
    level_best = np.full((n_p, LEVELS), -np.inf)
    if n_g and blocks:
        for index, mb, ts, ti, lb in executor.run(_search_task, rows, blocks, plan):
            s = blocks[index].start - n_g
            e = blocks[index].stop - n_g
            mate_best[s:e] = mb
            top_s[s:e] = ts
            top_i[s:e] = ti
            level_best[s:e] = lb
            if progress is not None:
                progress(e - s)
    mate_best[~mated | ~np.isfinite(mate_best)] = np.nan
    return SearchStats(
        identity_names=identity_names,
        groups=groups,
        probe_identity=p_ident.astype(np.int64),
        probe_group=groups.codes[p_ident].astype(np.int64),
        mated=mated,
        mate_score=mate_best,
        top_score=top_s,
        top_identity=top_i,
        level_best=level_best,
        gallery_identity=enrolled.astype(np.int64),
        gallery_samples=samples.astype(np.int64),
        gallery_level=levels.astype(np.int64),
        k=int(k),
    )
