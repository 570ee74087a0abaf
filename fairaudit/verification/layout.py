"""Samples sorted by group then identity, the tiles cut from them at identity boundaries
(``_layout``), and the sorted matrix the tiles read, in memory or in a ``.npy`` file every worker
reads (:func:`sorted_rows`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np


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


def _tile_pairs(layout: _Layout, within_only: bool = False):
    tiles = layout.tiles
    for i, (s1, e1, g1) in enumerate(tiles):
        for j in range(i, len(tiles)):
            s2, e2, g2 = tiles[j]
            if within_only and g2 != g1:
                break  # tiles are sorted by group: no more tiles of group g1
            yield i, j, (s1, e1, g1), (s2, e2, g2)


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


def rows_for_executor(x, order: np.ndarray, executor, scratch_dir: str | None, stem: str) -> ArrayRows | NpyRows:
    """:func:`sorted_rows` where ``executor`` can read them: in memory, or in a ``.npy`` file under
    ``scratch_dir`` (named ``{stem}-<uuid>.npy``) when the executor runs in other processes or ``x``
    is an out-of-core set; every worker is checked to see the file."""
    in_file = executor.needs_file or not isinstance(x, np.ndarray) and getattr(x, "out_of_core", False)
    path = None
    if in_file:
        import uuid

        if scratch_dir is None:
            raise ValueError("a scratch_dir is needed to write the sorted embeddings file")
        path = os.path.join(str(scratch_dir), f"{stem}-{uuid.uuid4().hex}.npy")
    rows = sorted_rows(x, order, path)
    if path is not None and hasattr(executor, "check_readable"):
        executor.check_readable(path)
    return rows
