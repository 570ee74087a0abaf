"""Compiled loops of the pair engine, the identity bootstrap and the permutation tests (numba).

Each kernel is plain Python over numpy arrays, compiled on first use (``numba.njit`` with
``nogil``, so the engine's threads run them in parallel, and ``cache``, so a compiled kernel is
reused by later processes). Every kernel sums integers, or integer-valued float64 far below
2**53, so no order of work changes a result: the engines stay identical bit for bit.

``import fairaudit`` never imports numba; the first audit that needs a kernel does.
"""

from __future__ import annotations

import numpy as np

_COMPILED: dict = {}


def _jit(fn):
    """``fn`` compiled by numba (memoised); numba is imported here, on first use."""
    out = _COMPILED.get(fn.__name__)
    if out is None:
        import numba

        out = _COMPILED[fn.__name__] = numba.njit(cache=True, nogil=True)(fn)
    return out


# --------------------------------------------------------------------------
# pass 1: one tile of bin coordinates into a histogram, keeping the highest scores
# --------------------------------------------------------------------------
def _histogram(scores, row_runs, col_runs, row_ids, col_ids, diagonal, n_bins, counts, keep_from,
               out_a, out_b, out_bin):
    """Add the bins of a tile of bin coordinates to ``counts`` (length ``n_bins``; bin
    ``min(int(s), n_bins - 1)``), identity run against identity run (a diagonal tile: run ``a``
    against the runs after it only). Comparisons in bin ``keep_from`` or above are also listed, as
    ``(row identity, column identity, bin)``, while room lasts. Returns ``(counted, listed)``;
    ``listed`` larger than the room means the list is incomplete."""
    top = n_bins - 1
    n = 0
    n_kept = 0
    room = len(out_bin)
    n_r = len(row_runs) - 1
    n_c = len(col_runs) - 1
    for ra in range(n_r):
        cb0 = ra + 1 if diagonal else 0
        ida = row_ids[ra]
        for i in range(row_runs[ra], row_runs[ra + 1]):
            row = scores[i]
            for cb in range(cb0, n_c):
                for j in range(col_runs[cb], col_runs[cb + 1]):
                    q = int(row[j])
                    if q > top:
                        q = top
                    counts[q] += 1
                    if q >= keep_from:
                        if n_kept < room:
                            out_a[n_kept] = ida
                            out_b[n_kept] = col_ids[cb]
                            out_bin[n_kept] = q
                        n_kept += 1
            n += col_runs[n_c] - col_runs[cb0]
    return n, n_kept


def histogram(scores, row_runs, col_runs, row_ids, col_ids, diagonal, n_bins, counts, keep_from, room):
    """Python face of :func:`_histogram`: returns ``(counted, (a, b, bin) or None)``, None when more
    than ``room`` comparisons lie in bin ``keep_from`` or above."""
    a = np.empty(room, dtype=np.int32)
    b = np.empty(room, dtype=np.int32)
    q = np.empty(room, dtype=np.int32)
    n, kept = _jit(_histogram)(scores, row_runs, col_runs, row_ids, col_ids, diagonal, n_bins, counts,
                               keep_from, a, b, q)
    if kept > room:
        return n, None
    return n, (a[:kept].copy(), b[:kept].copy(), q[:kept].copy())


# --------------------------------------------------------------------------
# pass 2: per identity pair counts of a tile, by threshold slot
# --------------------------------------------------------------------------
def _pair_slots(scores, row_runs, col_runs, row_ids, col_ids, diagonal, lut, n_bins, n_slots,
                out_a, out_b, out_ptr, out_slot, out_count):
    """Per identity pair counts of a tile, in slots: comparison score bin ``q`` (``int(s)``, at
    most ``n_bins``) falls in slot ``lut[q] - 1`` (``lut[q] == 0``: below every threshold,
    dropped). Identities are runs of rows (``row_runs``, boundaries) and columns. A diagonal tile
    pairs run ``a`` with runs after it only. Writes the pairs with any count (``out_a``, ``out_b``
    identity codes, ``out_ptr`` entry offsets) and their non-zero slots in ascending order; returns
    ``(n_pairs, n_entries)``."""
    hist = np.zeros(n_slots, dtype=np.int64)
    n_r = len(row_runs) - 1
    n_c = len(col_runs) - 1
    n_pairs = 0
    n_entries = 0
    out_ptr[0] = 0
    for ra in range(n_r):
        cb0 = ra + 1 if diagonal else 0
        for cb in range(cb0, n_c):
            hist[:] = 0
            anything = False
            for i in range(row_runs[ra], row_runs[ra + 1]):
                row = scores[i]
                for j in range(col_runs[cb], col_runs[cb + 1]):
                    q = int(row[j])
                    if q > n_bins:
                        q = n_bins
                    s = lut[q]
                    if s > 0:
                        hist[s - 1] += 1
                        anything = True
            if not anything:
                continue
            for s in range(n_slots):
                if hist[s]:
                    out_slot[n_entries] = s
                    out_count[n_entries] = hist[s]
                    n_entries += 1
            out_a[n_pairs] = row_ids[ra]
            out_b[n_pairs] = col_ids[cb]
            n_pairs += 1
            out_ptr[n_pairs] = n_entries
    return n_pairs, n_entries


def pair_slots(scores, row_runs, col_runs, row_ids, col_ids, diagonal, lut, n_bins, n_slots):
    """Python face of :func:`_pair_slots`: returns ``(a, b, ptr, slot, count)`` arrays."""
    n_r, n_c = len(row_runs) - 1, len(col_runs) - 1
    max_pairs = n_r * n_c
    max_entries = min(scores.shape[0] * scores.shape[1], max_pairs * n_slots)
    a = np.empty(max_pairs, dtype=np.int32)
    b = np.empty(max_pairs, dtype=np.int32)
    ptr = np.empty(max_pairs + 1, dtype=np.int64)
    slot = np.empty(max_entries, dtype=np.int16)
    count = np.empty(max_entries, dtype=np.int32)
    n_p, n_e = _jit(_pair_slots)(scores, row_runs, col_runs, row_ids, col_ids, diagonal, lut,
                                 n_bins, n_slots, a, b, ptr, slot, count)
    return a[:n_p].copy(), b[:n_p].copy(), ptr[:n_p + 1].copy(), slot[:n_e].copy(), count[:n_e].copy()


# --------------------------------------------------------------------------
# the bootstrap: sum_p w[a_p] w[b_p] count[p, slot] for a block of replicates
# --------------------------------------------------------------------------
#: what an int32 partial sum may reach before it is added to the int64 totals
_INT32_ROOM = 2**31 - 1


def _weighted_pair_sums(pa, pb, ptr, slot, count, slot_map, weights, max_w2, out, part, tmp):
    """``out[slot_map[s], :] += count * weights[a] * weights[b]`` over every entry of every pair
    (entries whose ``slot_map`` is negative are dropped). ``weights`` is int32 ``(identities,
    block)``: one column per replicate of the block, ``max_w2`` the square of its largest value.
    Sums run in int32 (``part``) and move to the int64 ``out`` before they could overflow."""
    n_rep = weights.shape[1]
    room = 0
    for p in range(len(pa)):
        e0, e1 = ptr[p], ptr[p + 1]
        if e1 == e0 or slot_map[slot[e1 - 1]] < 0:  # slots ascend: the last is the highest
            continue
        bound = 0
        for e in range(e0, e1):
            bound += count[e]
        bound *= max_w2
        if room + bound > _INT32_ROOM:
            for s in range(part.shape[0]):
                for t in range(n_rep):
                    out[s, t] += part[s, t]
                    part[s, t] = 0
            room = 0
        room += bound
        wa = weights[pa[p]]
        wb = weights[pb[p]]
        for t in range(n_rep):
            tmp[t] = wa[t] * wb[t]
        for e in range(e0, e1):
            s = slot_map[slot[e]]
            if s < 0:
                continue
            c = count[e]
            o = part[s]
            for t in range(n_rep):
                o[t] += c * tmp[t]
    for s in range(part.shape[0]):
        for t in range(n_rep):
            out[s, t] += part[s, t]


def weighted_pair_sums(pa, pb, ptr, slot, count, slot_map, weights, n_out: int) -> np.ndarray:
    """``(n_out, replicates)`` int64 sums of :func:`_weighted_pair_sums` for integer ``weights`` of
    shape ``(identities, replicates)``."""
    weights = np.ascontiguousarray(weights, dtype=np.int32)
    n_rep = weights.shape[1]
    out = np.zeros((n_out, n_rep), dtype=np.int64)
    if weights.size == 0:
        return out
    max_w = int(weights.max())
    if max_w * max_w * int(count.max(initial=0)) > _INT32_ROOM:
        raise OverflowError("identity pair counts too large for the bootstrap kernel")
    part = np.zeros((n_out, n_rep), dtype=np.int32)
    tmp = np.empty(n_rep, dtype=np.int32)
    _jit(_weighted_pair_sums)(pa, pb, ptr, slot, count,
                              np.asarray(slot_map, dtype=np.int64), weights, max_w * max_w, out, part, tmp)
    return out


# --------------------------------------------------------------------------
# the permutation tests: sum over pairs of one set of a value, for many sets
# --------------------------------------------------------------------------
def _within_set_sums(indptr, indices, values, members, sets, out):
    """For every set ``k`` (``members[k]``: its units, ``sets[k, u]``: 1 if unit ``u`` is in it),
    ``out[k] = sum of values[i, j]`` over the set's pairs ``i < j``, with the pairs of a unit in
    CSR form (``indptr``, ``indices``, ``values``; each pair listed once, at its lower unit)."""
    for k in range(members.shape[0]):
        mark = sets[k]
        total = 0.0
        for t in range(members.shape[1]):
            i = members[k, t]
            for e in range(indptr[i], indptr[i + 1]):
                if mark[indices[e]]:
                    total += values[e]
        out[k] = total


def within_set_sums(indptr, indices, values, members, sets) -> np.ndarray:
    out = np.zeros(members.shape[0])
    _jit(_within_set_sums)(indptr, indices, values, members, sets, out)
    return out
