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
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .groups import Groups

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


def _diag_mask(layout: _Layout, s: int, e: int) -> np.ndarray:
    """Entries of a diagonal tile that are not impostor pairs (lower triangle, same identity)."""
    ids = layout.ident[s:e]
    m = e - s
    lower = np.tri(m, dtype=bool)  # includes the diagonal
    return lower | (ids[:, None] == ids[None, :])


class _TileProducts:
    """Tile score products with the bin arithmetic folded in: ``q = s / width - lo / width``."""

    def __init__(self, x_sorted: np.ndarray, grid: BinGrid):
        n = x_sorted.shape[0]
        scale = np.float32(1.0 / grid.width)
        offset = np.float32(-grid.lo / grid.width)
        self.left = np.empty((n, x_sorted.shape[1] + 1), dtype=np.float32)
        self.left[:, :-1] = x_sorted * scale
        self.left[:, -1] = offset
        self.right = np.empty_like(self.left)
        self.right[:, :-1] = x_sorted
        self.right[:, -1] = 1.0

    def __call__(self, s1: int, e1: int, s2: int, e2: int) -> np.ndarray:
        # distinct arrays on both sides: numpy then uses gemm, not syrk (see DESIGN.md)
        q = self.left[s1:e1] @ self.right[s2:e2].T
        # truncation == floor, all values are positive; intp because bincount wants it
        return q.astype(np.intp)


def _blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return 1
    counts = [int(i.get("num_threads") or 1) for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else 1


def _map_tiles(fn: Callable, items: list, workers: int | None = None):
    """Yield ``fn(item)`` for every item, in order, computing up to ``workers`` at once.

    A tile's product runs in BLAS without the GIL while another tile is binned,
    so the workers run with one BLAS thread each instead of one product using
    all cores (measured here: about 25 % faster on 2 cores). Only a bounded
    number of tiles is in flight, so memory stays O(workers * tile**2).
    """
    workers = _blas_threads() if workers is None else workers
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def embedding_pair_stats(
    x: np.ndarray,
    ident: np.ndarray,
    identity_names: np.ndarray,
    groups: Groups,
    grid: BinGrid,
    *,
    tile: int = DEFAULT_TILE,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> PairStats:
    """Blocked all-pairs pass over L2-normalised embeddings.

    Parameters
    ----------
    x : ndarray (n, d) float32, rows of unit norm
    ident : ndarray (n,) of identity codes
    identity_names : ndarray of str, name of each identity code
    groups : Groups indexed by identity code
    grid : BinGrid
    tile : rows per tile
    progress : called with the number of pairs finished after every tile pair
    workers : tiles computed at once (default: the number of BLAS threads)
    """
    n_ids = len(identity_names)
    layout = _layout(ident, groups.codes, tile)
    xs = np.ascontiguousarray(x[layout.order], dtype=np.float32)
    products = _TileProducts(xs, grid)
    pair_index, n_pairs = _pair_index(groups.n_groups)
    n_bins = grid.n_bins
    hist = np.zeros((n_pairs, n_bins), dtype=np.int64)
    sentinel = n_bins  # masked entries land here and are dropped

    def count(job):
        (s1, e1, g1), (s2, e2, g2) = job
        q = products(s1, e1, s2, e2)
        if s1 == s2:
            q[_diag_mask(layout, s1, e1)] = sentinel
        return pair_index[g1, g2], np.bincount(q.ravel(), minlength=n_bins + 1), q.size

    jobs = [(t1, t2) for _, _, t1, t2 in _tile_pairs(layout)]
    from concurrent.futures import ThreadPoolExecutor

    # the exact genuine scores are computed beside the tiles (numpy releases the GIL)
    with ThreadPoolExecutor(1) as side:
        genuine = side.submit(_genuine_scores, x, ident, n_ids)
        # integer sums: the order in which tiles finish cannot change the result
        for row_index, counts, size in _map_tiles(count, jobs, workers):
            row = hist[row_index]
            row += counts[:n_bins]
            if len(counts) > n_bins + 1:  # float rounding above 1 + margin: top bin
                row[-1] += counts[n_bins + 1:].sum()
            if progress is not None:
                progress(size)
        gen_score, gen_identity = genuine.result()
    return PairStats(
        groups=groups,
        identity_names=identity_names,
        identity_samples=np.bincount(ident, minlength=n_ids),
        grid=grid,
        imp_hist=hist,
        pair_index=pair_index,
        gen_score=gen_score,
        gen_identity=gen_identity,
        n_samples_group=np.bincount(groups.codes[ident], minlength=groups.n_groups),
        route="embeddings",
        _source=(layout, products),
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


def _aggregate(codes: list[np.ndarray], n_k: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn per-entry codes ``pair * n_k + k`` into per-pair cumulative counts."""
    if not codes:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros((0, n_k), dtype=np.int64)
    allc = np.concatenate(codes)
    uniq, cnt = np.unique(allc, return_counts=True)
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
    the same tiles and products as the first pass, so decisions agree with it.
    """
    layout, products = stats._source  # type: ignore[misc]
    n_bins = stats.grid.n_bins
    local = _local_identity_codes(stats)
    codes: list[list[np.ndarray]] = [[] for _ in range(stats.n_groups)]
    luts = []
    for g in range(stats.n_groups):
        ks = np.asarray(thresholds_k[g], dtype=np.int64)
        lut = np.zeros(n_bins + 2, dtype=np.int16)
        # lut[q] = number of thresholds at or below bin q (0 = below all of them)
        lut[: n_bins] = np.searchsorted(ks, np.arange(n_bins), side="right")
        luts.append((ks, lut))
    m_of = np.bincount(stats.groups.codes, minlength=stats.n_groups)

    def accepts(job):
        (s1, e1, g1), (s2, e2, _g2) = job
        ks, lut = luts[g1]
        q = products(s1, e1, s2, e2)
        np.minimum(q, n_bins, out=q)
        kidx = lut[q]
        if s1 == s2:
            kidx[_diag_mask(layout, s1, e1)] = 0
        rows, cols = np.nonzero(kidx)
        ida = local[layout.ident[s1 + rows]]
        idb = local[layout.ident[s2 + cols]]
        pair = ida.astype(np.int64) * m_of[g1] + idb
        return g1, pair * len(ks) + (kidx[rows, cols].astype(np.int64) - 1)

    jobs = [(t1, t2) for _, _, t1, t2 in _tile_pairs(layout, within_only=True)]
    for g1, code in _map_tiles(accepts, jobs):
        if code.size:
            codes[g1].append(code)
    out = []
    for g in range(stats.n_groups):
        ks, _ = luts[g]
        a, b, c = _aggregate(codes[g], len(ks), int(m_of[g]))
        out.append(IdentityPairCounts(thresholds_k=ks, id_a=a, id_b=b, counts=c))
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
