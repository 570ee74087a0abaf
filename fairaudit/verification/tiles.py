"""The tasks of the pair engine: one tile against a run of tiles, binned in a per-thread workspace
(pass 1: impostor histograms and exact genuine scores; pass 2: per identity pair accepts), the
batches of tile pairs they run on, and the executor that runs them on threads of this process."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from fairaudit.verification.layout import _Layout, _tile_pairs


def genuine_blocks(read, ident: np.ndarray, n_ids: int, max_entries: int | None = None):
    """Every unordered pair of samples of one identity, in blocks of identities with the same number
    ``k`` of samples: yields ``(rows, owners, scores)``, ``rows`` ``(m, k)`` the positions of the
    identities' samples (in row order within each), ``owners`` their identity codes and ``scores``
    ``(m, k (k - 1) / 2)`` the exact (float64) scores of their pairs in ``np.triu_indices(k, 1)`` order.
    ``read(rows)`` gives the unit rows; ``max_entries`` bounds ``m k^2`` (None: one block per ``k``).
    The engine and the covariate audit score genuine pairs here, so their decisions agree."""
    order = np.argsort(ident, kind="stable")
    counts = np.bincount(ident, minlength=n_ids)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    for k in np.unique(counts[counts >= 2]):
        ids = np.flatnonzero(counts == k)
        iu, ju = np.triu_indices(k, 1)
        step = len(ids) if max_entries is None else max(1, max_entries // (k * k))
        for s in range(0, len(ids), step):
            chunk = ids[s:s + step]
            rows = order[starts[chunk][:, None] + np.arange(k)[None, :]]
            block = read(rows)  # (m, k, d)
            gram = np.einsum("mid,mjd->mij", block, block, dtype=np.float64, casting="safe")
            yield rows, chunk, gram[:, iu, ju]


def _genuine_scores(x: np.ndarray, ident: np.ndarray, n_ids: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact (float64) scores of every unordered pair of samples of one identity, and their owners."""
    scores, owners = [], []
    for _, chunk, pair_scores in genuine_blocks(lambda rows: x[rows], ident, n_ids):
        scores.append(pair_scores.ravel())
        owners.append(np.repeat(chunk, pair_scores.shape[1]))
    if not scores:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.concatenate(scores), np.concatenate(owners).astype(np.int64)


def _diag_mask(ids: np.ndarray) -> np.ndarray:
    """Entries of a diagonal tile that are not impostor pairs (lower triangle, same identity)."""
    lower = np.tri(len(ids), dtype=bool)  # includes the diagonal
    return lower | (ids[:, None] == ids[None, :])


# --------------------------------------------------------------------------
# Tasks: one row of tiles against a run of tiles; the same code in every engine
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    """What every task needs besides its tiles (small and picklable)."""

    scale: np.float32
    offset: np.float32
    n_bins: int
    pair_index: np.ndarray
    #: pass 1 also lists every comparison in this bin or above (``n_bins``: none)...
    keep_from: int = -1
    #: ...while a tile has fewer such comparisons than this share of its entries
    keep_share: float = 0.0


@dataclass(frozen=True)
class _Batch:
    """Tile ``i`` against tiles ``js`` (all after it); ``ident_i`` when the diagonal tile is included."""

    index: int
    i: tuple[int, int, int]
    js: tuple[tuple[int, int, int], ...]
    ident_i: np.ndarray | None = None
    local: tuple[np.ndarray, ...] | None = None  # pass 2: local identity codes of tile i, then each j


def _one_blas_thread() -> None:
    """Every engine computes a tile with one BLAS thread: OpenBLAS's float32 sums differ with the
    number of threads, and the same number in every engine keeps results identical bit for bit."""
    if _blas_threads() != 1:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")  # this process is a worker: keep it


class _Workspace(threading.local):
    """Buffers each thread reuses from tile to tile.

    A tile pair needs some 50 MB of temporaries. Allocating them afresh for
    every pair costs page faults wherever freed memory goes straight back to
    the operating system, which Dask workers ask glibc to do
    (``MALLOC_TRIM_THRESHOLD_``): measured here, tasks ran about 20 % slower
    in Dask workers until they reused their buffers.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, int], dtype) -> np.ndarray:
        size = shape[0] * shape[1]
        buf = self.buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != np.dtype(dtype):
            buf = np.empty(size, dtype=dtype)
            self.buffers[name] = buf
        return buf[:size].reshape(shape)


_WORK = _Workspace()


def _left(x: np.ndarray, spec: _Spec) -> np.ndarray:
    out = _WORK.get("left", (x.shape[0], x.shape[1] + 1), np.float32)
    np.multiply(x, spec.scale, out=out[:, :-1])
    out[:, -1] = spec.offset
    return out


def _right(x: np.ndarray) -> np.ndarray:
    out = _WORK.get("right", (x.shape[0], x.shape[1] + 1), np.float32)
    out[:, :-1] = x
    out[:, -1] = 1.0
    return out


def _coordinates(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Bin coordinate of every score of a tile: the bin arithmetic ``s / width - lo / width`` is
    folded into the product through the extra column. Lives in the thread's workspace until the
    next call."""
    scores = _WORK.get("scores", (left.shape[0], right.shape[0]), np.float32)
    np.matmul(left, right.T, out=scores)
    return scores


def _bins(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Bin index of every score of a tile: truncation of :func:`_coordinates` (floor, as every
    value is positive). The result lives in the thread's workspace until the next call."""
    scores = _coordinates(left, right)
    q = _WORK.get("bins", scores.shape, np.intp)
    np.copyto(q, scores, casting="unsafe")
    return q


def _batch_bins(rows, batch: _Batch, spec: _Spec, as_bins: bool = True):
    """The first tile's rows, and a generator of ``(k, (s2, e2, g2), q, diagonal)``: the bin indices
    ``q`` of the first tile against the batch's ``k``-th tile (``q`` is reused by the next one), or
    with ``as_bins=False`` the float32 bin coordinates they truncate (``int(s)`` is the bin)."""
    s1, e1, _ = batch.i
    x1 = rows.rows(s1, e1)
    left = _left(x1, spec)
    product = _bins if as_bins else _coordinates

    def tiles():
        for k, (s2, e2, g2) in enumerate(batch.js):
            yield k, (s2, e2, g2), product(left, _right(x1 if s2 == s1 else rows.rows(s2, e2))), s2 == s1

    return x1, tiles()


def _pass1_task(rows, batch: _Batch, spec: _Spec, check_threads: bool = True):
    """Impostor histograms of every group pair the batch touches, the exact genuine scores of the
    diagonal tile and the comparisons at or above ``spec.keep_from``. Returns ``(index, [(row,
    first_bin, counts)], n_entries, genuine or None, kept)``: ``kept`` is ``(identity a, identity
    b, bin)`` arrays, or None when a tile had more such comparisons than ``spec.keep_share`` of
    its entries (the list would be incomplete)."""
    from fairaudit.verification import kernels

    if check_threads:
        _one_blas_thread()
    g1 = batch.i[2]
    n_bins = spec.n_bins
    keep_from = spec.keep_from if spec.keep_from >= 0 else n_bins
    totals: dict[int, np.ndarray] = {}
    size = 0
    genuine = None
    kept: list | None = []
    row_ident = np.ascontiguousarray(batch.local[0], dtype=np.int32)
    runs, _ = _runs(row_ident)
    # a diagonal tile: row i starts after the last sample of its identity
    after_own = np.repeat(runs[1:], np.diff(runs)).astype(np.int64)
    x1, tiles = _batch_bins(rows, batch, spec, as_bins=False)
    for k, (_, _, g2), scores, diagonal in tiles:
        col_ident = row_ident if diagonal else np.ascontiguousarray(batch.local[1 + k], dtype=np.int32)
        first_col = after_own if diagonal else np.zeros(len(row_ident), dtype=np.int64)
        row = int(spec.pair_index[g1, g2])
        counts = totals.get(row)
        if counts is None:
            counts = totals[row] = np.zeros(n_bins, dtype=np.int64)
        room = int(spec.keep_share * scores.size) + 1024 if keep_from < n_bins else 0
        n, listed = kernels.histogram(scores, first_col, row_ident, col_ident, n_bins, counts, keep_from, room)
        size += scores.size
        if listed is None:
            kept = None
        elif kept is not None and len(listed[0]):
            kept.append(listed)
    if batch.ident_i is not None:
        codes, local = np.unique(batch.ident_i, return_inverse=True)
        score, owner = _genuine_scores(np.asarray(x1), local.astype(np.int64), len(codes))
        genuine = (score, codes[owner])
    packed = []
    for row, counts in totals.items():
        nz = np.flatnonzero(counts)
        lo, hi = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)
        packed.append((row, lo, counts[lo:hi].copy()))
    if kept is not None:
        kept = tuple(np.concatenate([p[i] for p in kept]) if kept else np.zeros(0, dtype=np.int32)
                     for i in range(3))
    return batch.index, packed, size, genuine, kept


def _runs(local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries of the identity runs of a tile's rows (identities are contiguous), and their codes."""
    starts = np.flatnonzero(np.r_[True, local[1:] != local[:-1]]) if len(local) else np.zeros(0, dtype=np.int64)
    return np.r_[starts, len(local)].astype(np.int64), np.asarray(local)[starts].astype(np.int32)


def _pass2_task(rows, job: tuple, spec: _Spec, check_threads: bool = True):
    """Per identity pair counts by threshold slot over the batch's within-group tiles: ``(batch
    index, group, pieces)``, one ``(a, b, ptr, slot, count)`` piece per tile: the pairs ``a < b``
    (local codes) with a comparison at or above the group's lowest threshold and, for each, its
    entries (see :class:`IdentityPairCounts`). ``job``
    is ``(batch, group, lut, n_k, m)``: ``lut[q]`` is the number of the group's thresholds at or
    below bin ``q``. Every identity pair lies in exactly one tile pair: no two tasks share one."""
    from fairaudit.verification import kernels

    if check_threads:
        _one_blas_thread()
    batch, group, lut, n_k, _ = job
    row_runs, row_ids = _runs(batch.local[0])
    parts = []
    _, tiles = _batch_bins(rows, batch, spec, as_bins=False)
    for k, _, scores, diagonal in tiles:
        col_runs, col_ids = (row_runs, row_ids) if diagonal else _runs(batch.local[1 + k])
        parts.append(kernels.pair_slots(scores, row_runs, col_runs, row_ids, col_ids, diagonal, lut,
                                        spec.n_bins, n_k))
    return batch.index, group, parts


def _concat_pair_slots(parts: list) -> tuple[np.ndarray, ...]:
    """One ``(a, b, ptr, slot, count)`` of several, in order."""
    if not parts:
        return (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64),
                np.zeros(0, dtype=np.int16), np.zeros(0, dtype=np.int32))
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [p[2][-1] for p in parts[:-1]])
    ptr = np.concatenate([parts[0][2][:1]] + [p[2][1:] + o for p, o in zip(parts, offsets)])
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), ptr,
            np.concatenate([p[3] for p in parts]), np.concatenate([p[4] for p in parts]))


def _batches(layout: _Layout, pairs_per_task: int, within_only: bool = False,
             local: np.ndarray | None = None) -> list[_Batch]:
    """Runs of consecutive tile pairs that share their first tile."""
    out: list[_Batch] = []
    current: list = []

    def flush():
        if not current:
            return
        i, ti = current[0][0], current[0][2]
        js = tuple(c[3] for c in current)
        diagonal = current[0][1] == i
        ident_i = layout.ident[ti[0]:ti[1]] if diagonal else None
        loc = None
        if local is not None:
            loc = (local[layout.ident[ti[0]:ti[1]]],) + tuple(local[layout.ident[s:e]] for s, e, _ in js)
        out.append(_Batch(len(out), ti, js, ident_i, loc))
        current.clear()

    for i, j, ti, tj in _tile_pairs(layout, within_only):
        if current and (current[0][0] != i or len(current) >= pairs_per_task):
            flush()
        current.append((i, j, ti, tj))
    flush()
    return out


# --------------------------------------------------------------------------
# Executors: run tasks in this process (threads) or on a Dask cluster
# --------------------------------------------------------------------------
class LocalExecutor:
    """Tasks on threads of this process, one BLAS thread each.

    A tile's product runs in BLAS without the GIL while another tile is binned,
    so ``workers`` threads with one BLAS thread each beat one product using all
    cores (measured here: about 25 % faster on 2 cores). Only a bounded number
    of tasks is in flight, so memory stays O(workers * tile**2).
    """

    needs_file = False
    pairs_per_task = 4

    def __init__(self, workers: int | None = None):
        self.workers = max(1, _blas_threads() if workers is None else int(workers))

    def run(self, fn: Callable, rows, tasks: list, *args) -> Iterator:
        """Yield ``fn(rows, task, *args)`` for every task (in order here; any order elsewhere)."""
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(self.workers) as pool:
            pending: deque = deque()
            for task in tasks:
                pending.append(pool.submit(fn, rows, task, *args, check_threads=False))
                if len(pending) >= 2 * self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


def _blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return 1
    counts = [int(i.get("num_threads") or 1) for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else 1
