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

import math
import os
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from fairaudit.data import Groups

#: default bin width of the impostor histograms (about 6.1e-5 in cosine score)
DEFAULT_BIN_WIDTH = 2.0**-14
#: scores are cosines; the grid covers [-1 - margin, 1 + margin]
_MARGIN = 1e-3
#: rows per tile of the blocked product (tiles are cut at identity boundaries)
DEFAULT_TILE = 2048


@dataclass(frozen=True)
class BinGrid:
    """A regular grid of score bins with one chosen value exactly on an edge."""

    width: float
    origin: float
    k0: int
    n_bins: int

    @classmethod
    def around(cls, origin: float = 0.0, width: float = DEFAULT_BIN_WIDTH) -> "BinGrid":
        k0 = int(math.ceil((origin + 1.0 + _MARGIN) / width))
        k_top = int(math.ceil((1.0 + _MARGIN - origin) / width))
        return cls(width=float(width), origin=float(origin), k0=k0, n_bins=k0 + k_top)

    @property
    def lo(self) -> float:
        return self.origin - self.k0 * self.width

    def edges(self) -> np.ndarray:
        """All ``n_bins + 1`` edges; ``edges()[k0] == origin`` exactly."""
        return self.origin + (np.arange(self.n_bins + 1, dtype=np.float64) - self.k0) * self.width

    def edge(self, k: int) -> float:
        return self.origin + (k - self.k0) * self.width

    def bin_of(self, scores: np.ndarray) -> np.ndarray:
        """Bin index of each score, consistent with ``score >= edges[k]``."""
        edges = self.edges()
        idx = np.searchsorted(edges, np.asarray(scores, dtype=np.float64), side="right") - 1
        return np.clip(idx, 0, self.n_bins - 1)


@dataclass(eq=False)
class PairStats:
    """Everything the verification audit needs, from either route.

    Attributes
    ----------
    groups : Groups
        Group of every identity (``groups.codes`` is indexed by identity code).
    identity_names : ndarray of str
        Name of every identity code.
    identity_samples : ndarray of int or None
        Samples per identity (EmbeddingSet route); None for a ScoreSet.
    grid : BinGrid
    imp_hist : ndarray of int64, shape (n_group_pairs, n_bins)
        Impostor score histogram of every unordered group pair ``a <= b``.
    pair_index : ndarray of int, shape (G, G)
        Row of ``imp_hist`` for groups ``(a, b)`` (symmetric).
    gen_score : ndarray of float64
        Every genuine score, exactly.
    gen_identity : ndarray of int
        Identity code of every genuine score.
    n_samples_group : ndarray of int or None
        Samples per group (None for a ScoreSet).
    """

    groups: Groups
    identity_names: np.ndarray
    identity_samples: np.ndarray | None
    grid: BinGrid
    imp_hist: np.ndarray
    pair_index: np.ndarray
    gen_score: np.ndarray
    gen_identity: np.ndarray
    n_samples_group: np.ndarray | None
    route: str = "embeddings"
    # route-specific inputs kept for the bootstrap's second look at the data
    _source: object = field(default=None, repr=False)

    @property
    def n_groups(self) -> int:
        return self.groups.n_groups

    @property
    def gen_group(self) -> np.ndarray:
        return self.groups.codes[self.gen_identity]

    def impostor_hist(self, a: int, b: int | None = None) -> np.ndarray:
        return self.imp_hist[self.pair_index[a, a if b is None else b]]

    def pooled_impostor_hist(self) -> np.ndarray:
        return self.imp_hist.sum(axis=0)


def _pair_index(n_groups: int) -> tuple[np.ndarray, int]:
    index = np.full((n_groups, n_groups), -1, dtype=np.int64)
    p = 0
    for a in range(n_groups):
        for b in range(a, n_groups):
            index[a, b] = index[b, a] = p
            p += 1
    return index, p


# --------------------------------------------------------------------------
# EmbeddingSet route
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Layout:
    """Samples sorted by group then identity, and tiles cut at identity boundaries."""

    order: np.ndarray  # sorted position -> original row
    ident: np.ndarray  # identity code per sorted position
    group: np.ndarray  # group code per sorted position
    tiles: list[tuple[int, int, int]]  # (start, stop, group)


def _layout(ident: np.ndarray, ident_group: np.ndarray, tile: int) -> _Layout:
    group = ident_group[ident]
    order = np.lexsort((ident, group))
    ident_s = ident[order]
    group_s = group[order]
    n = len(order)
    # positions where a new identity starts (identities are contiguous after sorting)
    starts = np.flatnonzero(np.r_[True, ident_s[1:] != ident_s[:-1]])
    group_starts = np.flatnonzero(np.r_[True, group_s[1:] != group_s[:-1]])
    tiles: list[tuple[int, int, int]] = []
    bounds = list(group_starts) + [n]
    for gi in range(len(group_starts)):
        s, e = bounds[gi], bounds[gi + 1]
        id_starts = starts[(starts >= s) & (starts < e)]
        pos = s
        while pos < e:
            want = pos + tile
            if want >= e:
                stop = e
            else:
                j = np.searchsorted(id_starts, want, side="left")
                stop = int(id_starts[j]) if j < len(id_starts) else e
                if stop <= pos:
                    stop = e
            tiles.append((pos, stop, int(group_s[pos])))
            pos = stop
    return _Layout(order=order, ident=ident_s, group=group_s, tiles=tiles)


def _genuine_scores(x: np.ndarray, ident: np.ndarray, n_ids: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact (float64) scores of every unordered pair of samples of one identity."""
    order = np.argsort(ident, kind="stable")
    counts = np.bincount(ident, minlength=n_ids)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    scores, owners = [], []
    for k in np.unique(counts[counts >= 2]):
        ids = np.flatnonzero(counts == k)
        rows = order[starts[ids][:, None] + np.arange(k)[None, :]]
        block = x[rows]  # (m, k, d)
        gram = np.einsum("mid,mjd->mij", block, block, dtype=np.float64, casting="safe")
        iu, ju = np.triu_indices(k, 1)
        scores.append(gram[:, iu, ju].ravel())
        owners.append(np.repeat(ids, len(iu)))
    if not scores:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.concatenate(scores), np.concatenate(owners).astype(np.int64)


def _tile_pairs(layout: _Layout, within_only: bool = False):
    tiles = layout.tiles
    for i, (s1, e1, g1) in enumerate(tiles):
        for j in range(i, len(tiles)):
            s2, e2, g2 = tiles[j]
            if within_only and g2 != g1:
                break  # tiles are sorted by group: no more tiles of group g1
            yield i, j, (s1, e1, g1), (s2, e2, g2)


def _diag_mask(ids: np.ndarray) -> np.ndarray:
    """Entries of a diagonal tile that are not impostor pairs (lower triangle, same identity)."""
    lower = np.tri(len(ids), dtype=bool)  # includes the diagonal
    return lower | (ids[:, None] == ids[None, :])


# --------------------------------------------------------------------------
# The sorted matrix the tiles read, in memory or in a file every worker reads
# --------------------------------------------------------------------------
class ArrayRows:
    """Rows of an in-memory array (the single-process engine)."""

    def __init__(self, array: np.ndarray):
        self.array = array
        self.shape = array.shape

    def rows(self, start: int, stop: int) -> np.ndarray:
        return self.array[start:stop]


class NpyRows:
    """Rows of a ``.npy`` file, memory-mapped on first use in each process that reads it.

    Small when pickled (a path and a shape): this is what a Dask task carries,
    and what a worker re-reads when a task is recomputed.
    """

    def __init__(self, path: str, shape: tuple[int, int]):
        self.path = str(path)
        self.shape = tuple(shape)
        self._mm = None

    def __getstate__(self):
        return {"path": self.path, "shape": self.shape}

    def __setstate__(self, state):
        self.path, self.shape, self._mm = state["path"], tuple(state["shape"]), None

    def rows(self, start: int, stop: int) -> np.ndarray:
        if self._mm is None:
            self._mm = np.load(self.path, mmap_mode="r")
            if self._mm.shape != self.shape:
                raise RuntimeError(f"{self.path} holds {self._mm.shape}, expected {self.shape}: it changed "
                                   "during the audit")
        return self._mm[start:stop]  # a view: pages are read where the rows are used


def _normalized_blocks(x) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, unit rows as float32)`` blocks of an array of unit rows or of an EmbeddingSet."""
    if isinstance(x, np.ndarray):
        yield 0, x
    else:
        yield from x.iter_blocks(normalized=True)


def sorted_rows(x, order: np.ndarray, path: str | None = None) -> ArrayRows | NpyRows:
    """The unit rows in tile order, in memory or (``path``) written to a ``.npy`` file block by block.

    ``x`` is an (n, d) array of unit rows or an EmbeddingSet (then read block by
    block and normalised on the way, so an out-of-core set is never loaded
    whole). The file is written under a temporary name and renamed when
    complete.
    """
    n = len(order)
    d = int(x.shape[1]) if isinstance(x, np.ndarray) else int(x.n_features)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    if path is None:
        out = np.empty((n, d), dtype=np.float32)
    else:
        tmp = f"{path}.partial.npy"
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, d))
    for start, block in _normalized_blocks(x):
        out[position[start:start + len(block)]] = block
    if path is None:
        return ArrayRows(out)
    out.flush()
    del out
    os.replace(tmp, path)
    return NpyRows(path, (n, d))


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


def _bins(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Bin index of every score of a tile: the bin arithmetic ``s / width - lo / width`` is folded into
    the product through the extra column; truncation is floor as every value is positive.
    The result lives in the thread's workspace until the next call."""
    shape = (left.shape[0], right.shape[0])
    scores = _WORK.get("scores", shape, np.float32)
    np.matmul(left, right.T, out=scores)
    q = _WORK.get("bins", shape, np.intp)
    np.copyto(q, scores, casting="unsafe")
    return q


def _batch_bins(rows, batch: _Batch, spec: _Spec):
    """The first tile's rows, and a generator of ``(k, (s2, e2, g2), q, diagonal)``: the bin indices
    ``q`` of the first tile against the batch's ``k``-th tile (``q`` is reused by the next one)."""
    s1, e1, _ = batch.i
    x1 = rows.rows(s1, e1)
    left = _left(x1, spec)

    def tiles():
        for k, (s2, e2, g2) in enumerate(batch.js):
            yield k, (s2, e2, g2), _bins(left, _right(x1 if s2 == s1 else rows.rows(s2, e2))), s2 == s1

    return x1, tiles()


def _pass1_task(rows, batch: _Batch, spec: _Spec, check_threads: bool = True):
    """Impostor histograms of every group pair the batch touches, and the exact genuine scores of
    the diagonal tile. Returns ``(index, [(row, first_bin, counts)], n_entries, genuine or None)``."""
    if check_threads:
        _one_blas_thread()
    g1 = batch.i[2]
    n_bins = spec.n_bins
    sentinel = n_bins  # masked entries land here and are dropped
    totals: dict[int, np.ndarray] = {}
    size = 0
    genuine = None
    x1, tiles = _batch_bins(rows, batch, spec)
    for _, (_, _, g2), q, diagonal in tiles:
        if diagonal:
            q[_diag_mask(batch.ident_i)] = sentinel
        counts = np.bincount(q.ravel(), minlength=n_bins + 1)
        top = counts[n_bins + 1:].sum()  # float rounding above 1 + margin: top bin
        counts = counts[:n_bins]
        counts[-1] += top
        row = int(spec.pair_index[g1, g2])
        if row in totals:
            totals[row] += counts
        else:
            totals[row] = counts
        size += q.size
    if batch.ident_i is not None:
        codes, local = np.unique(batch.ident_i, return_inverse=True)
        score, owner = _genuine_scores(np.asarray(x1), local.astype(np.int64), len(codes))
        genuine = (score, codes[owner])
    packed = []
    for row, counts in totals.items():
        nz = np.flatnonzero(counts)
        lo, hi = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 0)
        packed.append((row, lo, counts[lo:hi].copy()))
    return batch.index, packed, size, genuine


def _pass2_task(rows, job: tuple, spec: _Spec, check_threads: bool = True):
    """Per identity pair accepts at a group's thresholds: ``(group, codes, counts)`` with ``code =
    (id_a * m + id_b) * n_k + k`` over the batch's within-group tiles. ``job`` is ``(batch, group,
    lut, n_k, m)``: ``lut[q]`` is the number of the group's thresholds at or below bin ``q``."""
    if check_threads:
        _one_blas_thread()
    batch, group, lut, n_k, m = job
    local_i = batch.local[0]
    out = []
    _, tiles = _batch_bins(rows, batch, spec)
    for k, _, q, diagonal in tiles:
        local_j = batch.local[1 + k]
        np.minimum(q, spec.n_bins, out=q)
        kidx = lut[q]
        if diagonal:
            kidx[_diag_mask(batch.ident_i)] = 0
        r, c = np.nonzero(kidx)
        pair = local_i[r].astype(np.int64) * m + local_j[c]
        out.append(pair * n_k + (kidx[r, c].astype(np.int64) - 1))
    if not out:
        return group, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    codes, counts = np.unique(np.concatenate(out), return_counts=True)
    return group, codes, counts


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
        executor (``fairaudit.dask_engine``) runs them on a cluster
    scratch_dir : directory of the sorted matrix file, when one is needed (an
        executor on other processes, or an out-of-core set)
    """
    executor = LocalExecutor(workers) if executor is None else executor
    n_ids = len(identity_names)
    layout = _layout(ident, groups.codes, tile)
    in_file = executor.needs_file or not isinstance(x, np.ndarray) and getattr(x, "out_of_core", False)
    path = None
    if in_file:
        import uuid

        if scratch_dir is None:
            raise ValueError("a scratch_dir is needed to write the sorted embeddings file")
        path = os.path.join(str(scratch_dir), f"fairaudit-sorted-{uuid.uuid4().hex}.npy")
    rows = sorted_rows(x, layout.order, path)
    if path is not None and hasattr(executor, "check_readable"):
        executor.check_readable(path)
    pair_index, n_pairs = _pair_index(groups.n_groups)
    n_bins = grid.n_bins
    spec = _Spec(scale=np.float32(1.0 / grid.width), offset=np.float32(-grid.lo / grid.width),
                 n_bins=n_bins, pair_index=pair_index)
    hist = np.zeros((n_pairs, n_bins), dtype=np.int64)
    batches = _batches(layout, executor.pairs_per_task)
    genuine: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    # integer sums: the order in which tasks finish cannot change the result
    for index, packed, size, gen in executor.run(_pass1_task, rows, batches, spec):
        for row, lo, counts in packed:
            hist[row, lo:lo + len(counts)] += counts
        if gen is not None:
            genuine[index] = gen
        if progress is not None:
            progress(size)
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
    )


# --------------------------------------------------------------------------
# Per-identity-pair counts for the bootstrap
# --------------------------------------------------------------------------
@dataclass(eq=False)
class IdentityPairCounts:
    """Impostor accepts of every identity pair of one group at K thresholds.

    ``counts[p, k]`` is the number of impostor comparisons between identities
    ``id_a[p] < id_b[p]`` (local codes within the group) with score ``>=
    thresholds[k]``. Pairs with no accept at any threshold are omitted.
    ``totals`` (ScoreSet route only) holds the number of impostor comparisons
    of every identity pair that has any, as ``(tot_a, tot_b, tot_n)``.
    """

    thresholds_k: np.ndarray
    id_a: np.ndarray
    id_b: np.ndarray
    counts: np.ndarray
    totals: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _aggregate(codes: list[np.ndarray], n_k: int, m: int,
               weights: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn per-entry codes ``pair * n_k + k`` (each ``weights`` times) into per-pair cumulative counts."""
    if not codes:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros((0, n_k), dtype=np.int64)
    allc = np.concatenate(codes)
    if weights is None:
        uniq, cnt = np.unique(allc, return_counts=True)
    else:
        uniq, inv = np.unique(allc, return_inverse=True)
        cnt = np.bincount(inv.ravel(), weights=np.concatenate(weights), minlength=len(uniq)).astype(np.int64)
    pair = uniq // n_k
    k = uniq % n_k
    pairs, inv = np.unique(pair, return_inverse=True)
    dense = np.zeros((len(pairs), n_k), dtype=np.int64)
    np.add.at(dense, (inv, k), cnt)
    # entry in bin-range k counts for every threshold <= its score: cumulative from the top
    cum = np.cumsum(dense[:, ::-1], axis=1)[:, ::-1]
    return pairs // m, pairs % m, cum


def embedding_identity_pair_counts(stats: PairStats, thresholds_k: Sequence[np.ndarray]) -> list[IdentityPairCounts]:
    """Second, within-group-only pass: per identity pair accepts at each group's thresholds.

    ``thresholds_k[g]`` are grid edge indices (ascending) for group ``g``. Uses
    the same rows, tiles and task code as the first pass, on the same executor,
    so decisions agree with it.
    """
    layout, rows, spec, executor = stats._source  # type: ignore[misc]
    n_bins = stats.grid.n_bins
    local = _local_identity_codes(stats)
    m_of = np.bincount(stats.groups.codes, minlength=stats.n_groups)
    batches = _batches(layout, executor.pairs_per_task, within_only=True, local=local)
    codes: list[list[np.ndarray]] = [[] for _ in range(stats.n_groups)]
    weights: list[list[np.ndarray]] = [[] for _ in range(stats.n_groups)]
    kss, luts = [], []
    for g in range(stats.n_groups):
        ks = np.asarray(thresholds_k[g], dtype=np.int64)
        kss.append(ks)
        # lut[q] = number of thresholds at or below bin q (0 = below all of them)
        lut = np.zeros(n_bins + 2, dtype=np.int16)
        lut[: n_bins] = np.searchsorted(ks, np.arange(n_bins), side="right")
        luts.append(lut)
    jobs = [(b, b.i[2], luts[b.i[2]], len(kss[b.i[2]]), int(m_of[b.i[2]])) for b in batches]
    for g, code, count in executor.run(_pass2_task, rows, jobs, spec):
        if code.size:
            codes[g].append(code)
            weights[g].append(count)
    out = []
    for g in range(stats.n_groups):
        a, b, c = _aggregate(codes[g], len(kss[g]), int(m_of[g]), weights[g])
        out.append(IdentityPairCounts(thresholds_k=kss[g], id_a=a, id_b=b, counts=c))
    return out


def _local_identity_codes(stats: PairStats) -> np.ndarray:
    """Code of every identity within its own group (0 .. m_g - 1), in identity order."""
    local = np.zeros(len(stats.identity_names), dtype=np.int64)
    for g in range(stats.n_groups):
        members = np.flatnonzero(stats.groups.codes == g)
        local[members] = np.arange(len(members))
    return local


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


def score_identity_pair_counts(stats: PairStats, thresholds_k: Sequence[np.ndarray]) -> list[IdentityPairCounts]:
    """Per identity pair accepts (and comparison totals) within each group, from listed scores."""
    score, genuine, ident_a, ident_b = stats._source  # type: ignore[misc]
    local = _local_identity_codes(stats)
    codes_g = stats.groups.codes
    imp = ~genuine & (codes_g[ident_a] == codes_g[ident_b])
    s = score[imp]
    a = ident_a[imp]
    b = ident_b[imp]
    g_of = codes_g[a]
    lo = np.minimum(local[a], local[b])
    hi = np.maximum(local[a], local[b])
    bins = stats.grid.bin_of(s)
    out = []
    m_of = np.bincount(codes_g, minlength=stats.n_groups)
    for g in range(stats.n_groups):
        sel = g_of == g
        m = int(m_of[g])
        ks = np.asarray(thresholds_k[g], dtype=np.int64)
        kidx = np.searchsorted(ks, bins[sel], side="right")
        pair = lo[sel] * m + hi[sel]
        keep = kidx > 0
        ia, ib, c = _aggregate([pair[keep] * len(ks) + kidx[keep] - 1], len(ks), m)
        tp, tn = np.unique(pair, return_counts=True)
        out.append(IdentityPairCounts(thresholds_k=ks, id_a=ia, id_b=ib, counts=c,
                                      totals=(tp // m, tp % m, tn)))
    return out
