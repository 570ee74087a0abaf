"""The comparisons a covariate audit needs, by sample: every genuine pair with its score, and every
impostor comparison at or above the threshold (a false match), found in the pair engine's tiles.

Impostor comparisons are never listed in full: the tiles are the engine's (same layout, same
float32 products, same bin arithmetic), so a comparison is a false match here exactly when the
verification audit counted it as one, and only those (a small share of all pairs at any
operating point an audit uses) are kept. How many impostor comparisons fall in a covariate cell
is counted from the samples per identity and cell, not from a list (see :mod:`.bootstrap`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from fairaudit.verification.grid import BinGrid
from fairaudit.verification.layout import _layout, rows_for_executor
from fairaudit.verification.tiles import LocalExecutor, _batch_bins, _batches, _diag_mask, _one_blas_thread


@dataclass(frozen=True)
class GenuinePairs:
    """Every unordered pair of samples of one identity: rows ``a < b`` of the EmbeddingSet, the
    identity code and the score (float64, computed as the verification engine computes it)."""

    a: np.ndarray
    b: np.ndarray
    identity: np.ndarray
    score: np.ndarray


def unit_rows_of(data) -> "np.ndarray | Callable[[np.ndarray], np.ndarray]":
    """The L2-normalised float32 rows of an EmbeddingSet: the whole array for an in-memory set, or
    a function reading the rows asked for (a memory-mapped ``.npy`` stays on disk), equal bit for bit
    to :meth:`EmbeddingSet.normalized`."""
    if not getattr(data, "out_of_core", False) or not isinstance(data.embeddings, np.memmap):
        return data.normalized()
    emb, norms = data.embeddings, data._norms

    def rows(index: np.ndarray) -> np.ndarray:
        flat = index.ravel()
        order = np.argsort(flat, kind="stable")  # read the file in order, then put the rows back
        ordered = flat[order]
        block = (np.asarray(emb[ordered], dtype=np.float32) / norms[ordered, None]).astype(np.float32)
        back = np.empty_like(block)
        back[order] = block
        return back.reshape(index.shape + (emb.shape[1],))

    return rows


def genuine_pairs(unit_rows, ident: np.ndarray) -> GenuinePairs:
    """All genuine pairs of ``unit_rows`` (L2-normalised float32 rows, or a function returning the
    rows of an index array, see :func:`unit_rows_of`) with identity codes ``ident``.

    The scores come from the engine's own routine (:func:`fairaudit.verification.tiles.genuine_blocks`),
    so a pair is a false non-match here exactly when it is one in the verification audit.
    """
    from fairaudit.verification.tiles import genuine_blocks

    read = unit_rows if callable(unit_rows) else (lambda index: unit_rows[index])
    n_ids = int(ident.max()) + 1 if len(ident) else 0
    parts: list[tuple[np.ndarray, ...]] = []
    # identities of k samples, a block at a time (memory ~ 8 * 2,000,000 bytes per block)
    for rows, chunk, scores in genuine_blocks(read, ident, n_ids, max_entries=2_000_000):
        iu, ju = np.triu_indices(rows.shape[1], 1)
        parts.append((rows[:, iu].ravel(), rows[:, ju].ravel(), np.repeat(chunk, len(iu)), scores.ravel()))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return GenuinePairs(empty, empty, empty, np.zeros(0))
    a, b, owner, score = (np.concatenate([p[i] for p in parts]) for i in range(4))
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return GenuinePairs(lo.astype(np.int64), hi.astype(np.int64), owner.astype(np.int64), score)


def _false_match_task(rows, batch, spec, k_op: int, check_threads: bool = True):
    """The impostor comparisons of one batch whose bin coordinate is at least ``k_op`` (the
    threshold's bin): ``(index, positions a, positions b)`` in tile order."""
    if check_threads:
        _one_blas_thread()
    s1 = batch.i[0]
    found_a, found_b = [], []
    row_ident = batch.ident_i
    _, tiles = _batch_bins(rows, batch, spec, as_bins=False)
    for _, (s2, _, _), coords, diagonal in tiles:
        accept = coords >= np.float32(k_op)
        if diagonal:
            accept &= ~_diag_mask(row_ident)
        r, c = np.nonzero(accept)
        if r.size:
            found_a.append((r + s1).astype(np.int64))
            found_b.append((c + s2).astype(np.int64))
    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))
    return batch.index, cat(found_a), cat(found_b)


def false_matches(x, ident: np.ndarray, ident_group: np.ndarray, grid: BinGrid, k_op: int, *,
                  tile: int, executor=None, scratch_dir: str | None = None,
                  progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``(a, b)`` of every impostor comparison at or above ``grid.edges()[k_op]``.

    ``x`` is an EmbeddingSet (read block by block) or an array of unit rows; ``ident`` the identity
    code of every row and ``ident_group`` the group code of every identity, as the verification
    audit builds them, and ``grid``/``tile`` the audit's: the tiles, products and decisions are
    then the audit's own.
    """
    from fairaudit.verification.grid import _pair_index
    from fairaudit.verification.tiles import _Spec

    executor = LocalExecutor() if executor is None else executor
    layout = _layout(ident, ident_group, tile)
    rows = rows_for_executor(x, layout.order, executor, scratch_dir, "fairaudit-covariates")
    pair_index, _ = _pair_index(int(ident_group.max()) + 1)
    spec = _Spec(scale=np.float32(1.0 / grid.width), offset=np.float32(-grid.lo / grid.width),
                 n_bins=grid.n_bins, pair_index=pair_index)
    batches = _batches(layout, executor.pairs_per_task)
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for index, a, b in executor.run(_false_match_task, rows, batches, spec, int(k_op)):
        found[index] = (a, b)
        if progress is not None:
            batch = batches[index]
            progress(sum((batch.i[1] - batch.i[0]) * (e - s) for s, e, _ in batch.js))
    parts = [found[k] for k in sorted(found)]
    a = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    b = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    return layout.order[a].astype(np.int64), layout.order[b].astype(np.int64)
