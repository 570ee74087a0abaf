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
def _histogram(scores, first_col, row_ident, col_ident, n_bins, counts, keep_from, out_a, out_b, out_bin):
    """Add the bins of a tile of bin coordinates to ``counts`` (length ``n_bins``; bin
    ``min(int(s), n_bins - 1)``): row ``i`` from column ``first_col[i]`` on (a diagonal tile starts
    each row after its identity's last column). Comparisons in bin ``keep_from`` or above are also
    listed, as ``(row identity, column identity, bin)``, while room lasts. Returns ``(counted,
    listed)``; ``listed`` larger than the room means the list is incomplete."""
    top = n_bins - 1
    r, c = scores.shape
    n = 0
    n_kept = 0
    room = len(out_bin)
    keep = keep_from <= top
    for i in range(r):
        row = scores[i]
        j0 = first_col[i]
        n += c - j0
        for c0 in range(j0, c, 64):
            c1 = min(c0 + 64, c)
            q_max = -1
            for j in range(c0, c1):  # the histogram, and the highest bin of these 64 columns
                q = int(row[j])
                if q > top:
                    q = top
                counts[q] += 1
                if q > q_max:
                    q_max = q
            if keep and q_max >= keep_from:  # rare: list the high ones
                for j in range(c0, c1):
                    q = int(row[j])
                    if q >= keep_from:
                        if n_kept < room:
                            out_a[n_kept] = row_ident[i]
                            out_b[n_kept] = col_ident[j]
                            out_bin[n_kept] = q if q < top else top
                        n_kept += 1
    return n, n_kept


def histogram(scores, first_col, row_ident, col_ident, n_bins, counts, keep_from, room):
    """Python face of :func:`_histogram`: returns ``(counted, (a, b, bin) or None)``, None when more
    than ``room`` comparisons lie in bin ``keep_from`` or above."""
    a = np.empty(room, dtype=np.int32)
    b = np.empty(room, dtype=np.int32)
    q = np.empty(room, dtype=np.int32)
    n, kept = _jit(_histogram)(scores, first_col, row_ident, col_ident, n_bins, counts, keep_from, a, b, q)
    if kept > room:
        return n, None
    return n, (a[:kept].copy(), b[:kept].copy(), q[:kept].copy())


# --------------------------------------------------------------------------
# pass 2: per identity pair counts of a tile, by threshold slot
# --------------------------------------------------------------------------
#: de Bruijn sequence and table: the index of the lowest set bit of a 64-bit word in two operations
_DEBRUIJN = 0x03F79D71B4CB0A89
_DEBRUIJN_INDEX = np.zeros(64, dtype=np.int64)
for _k in range(64):
    _DEBRUIJN_INDEX[((_DEBRUIJN << _k) & (2**64 - 1)) >> 58] = _k


def _pair_slots(scores, row_runs, col_runs, row_ids, col_ids, diagonal, slot_of, n_bins, n_slots,
                bit_index, first_kept, col_run_of, hist, masks, out_a, out_b, out_ptr, out_slot, out_count):
    """Per identity pair counts of a tile, in slots: comparison score bin ``q`` (``int(s)``, at
    most ``n_bins``) falls in slot ``slot_of[q]`` (``n_slots``: below every threshold, dropped).
    Identities are runs of rows (``row_runs``, boundaries) and columns (``col_runs``;
    ``col_run_of[j]`` is column ``j``'s run). A diagonal tile pairs run ``a`` with runs after it
    only. Writes the pairs with any count (``out_a``, ``out_b`` identity codes, ``out_ptr`` entry
    offsets) and their non-zero slots in ascending order; returns ``(n_pairs, n_entries)``.

    A row run's rows are read whole, left to right (long loops rather than one short loop per
    identity pair); a coordinate below ``first_kept`` (the first bin of a kept slot: most of
    them) costs one comparison. A kept one is counted in its column run's histogram (``hist``,
    ``width`` cells per column run, left zeroed) and marks its slot in that run's bit mask
    (``masks``, ``n_slots < 64``); the masks, read by a de Bruijn table (``bit_index``), list the
    touched slots in ascending order without scanning every slot."""
    width = n_slots + 1
    n_r = len(row_runs) - 1
    n_c = len(col_runs) - 1
    n_cols = scores.shape[1]
    n_pairs = 0
    n_entries = 0
    out_ptr[0] = 0
    one = np.uint64(1)
    debruijn = np.uint64(0x03F79D71B4CB0A89)
    limit = np.float32(first_kept)
    for ra in range(n_r):
        cb0 = ra + 1 if diagonal else 0
        if cb0 >= n_c:
            continue
        j0 = col_runs[cb0]
        for i in range(row_runs[ra], row_runs[ra + 1]):
            row = scores[i]
            for j in range(j0, n_cols):
                v = row[j]
                if v >= limit:
                    q = int(v)
                    if q > n_bins:
                        q = n_bins
                    s = slot_of[q]
                    cb = col_run_of[j]
                    hist[cb * width + s] += 1
                    masks[cb] |= one << np.uint64(s)
        for cb in range(cb0, n_c):
            mask = masks[cb]
            if mask == 0:
                continue
            masks[cb] = np.uint64(0)
            base = cb * width
            while mask:
                low = mask & (~mask + one)
                s = bit_index[(low * debruijn) >> np.uint64(58)]
                mask ^= low
                out_slot[n_entries] = s
                out_count[n_entries] = hist[base + s]
                hist[base + s] = 0
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
    if n_slots >= 64:
        raise ValueError(f"pair_slots counts at most 63 thresholds, not {n_slots}")
    # slot of every bin: lut[q] - 1, and n_slots (dropped) below every threshold
    slot_of = np.where(lut > 0, lut.astype(np.int64) - 1, n_slots).astype(np.int8)
    kept = np.flatnonzero(slot_of[: n_bins + 1] < n_slots)
    # int(s) >= k <=> s >= k for k >= 1; bin 0 also holds the coordinates in (-1, 0) that int()
    # truncates to it, so a kept bin 0 means no limit
    first_kept = float(n_bins + 2) if not len(kept) else -np.inf if kept[0] == 0 else float(kept[0])
    col_run_of = np.repeat(np.arange(n_c, dtype=np.int32), np.diff(col_runs))
    hist = np.zeros(n_c * (n_slots + 1), dtype=np.int32)
    masks = np.zeros(n_c, dtype=np.uint64)
    n_p, n_e = _jit(_pair_slots)(scores, row_runs, col_runs, row_ids, col_ids, diagonal, slot_of,
                                 n_bins, n_slots, _DEBRUIJN_INDEX, first_kept, col_run_of, hist, masks,
                                 a, b, ptr, slot, count)
    return a[:n_p].copy(), b[:n_p].copy(), ptr[:n_p + 1].copy(), slot[:n_e].copy(), count[:n_e].copy()


# --------------------------------------------------------------------------
# the bootstrap: sum_p w[a_p] w[b_p] count[p, slot] for a block of replicates
# --------------------------------------------------------------------------
#: what an int32 partial sum may reach before it is added to the int64 totals
_INT32_ROOM = 2**31 - 1


def _weighted_pair_sums(pa, pb, ptr, slot, count, slot_map, weights, r0, r1, max_w2, out, part, acc,
                        touched, flags):
    """``out[slot_map[s], :] += count * weights[a, r0:r1] * weights[b, r0:r1]`` over every entry of
    every pair (entries whose ``slot_map`` is negative are dropped). ``weights`` is integer
    ``(identities, replicates)``: one column per replicate; ``max_w2`` the square of its largest
    value.

    Pairs come sorted by their first identity ``a`` (any order gives the same sums, sorted is
    fast): for one ``a``, ``acc[s] += count * w_b`` over
    its pairs, and ``part[s] += w_a * acc[s]`` once at the end of its run (one multiplication by
    ``w_a`` per output row touched, not one per pair); ``touched`` lists those rows, ``flags``
    marks them. Sums run in int32 and move to the int64 ``out`` before they could overflow: every
    pending entry can add at most ``count * max_w2`` to ``part``."""
    n_rep = r1 - r0
    room = 0
    n_touched = 0
    current = -1
    for p in range(len(pa) + 1):
        a = pa[p] if p < len(pa) else -2
        bound = 0
        if p < len(pa):
            e0, e1 = ptr[p], ptr[p + 1]
            if e1 == e0 or slot_map[slot[e1 - 1]] < 0:  # slots ascend: the last is the highest
                continue
            for e in range(e0, e1):
                bound += count[e]
            bound *= max_w2
        overflow = room + bound > _INT32_ROOM
        if (a != current or overflow) and n_touched:  # the run of ``current`` is done (or must be)
            wa = weights[current, r0:r1]
            for k in range(n_touched):
                s = touched[k]
                o = part[s]
                z = acc[s]
                for t in range(n_rep):
                    o[t] += wa[t] * z[t]
                    z[t] = 0
                flags[s] = False
            n_touched = 0
        if overflow:
            for s in range(part.shape[0]):
                for t in range(n_rep):
                    out[s, t] += part[s, t]
                    part[s, t] = 0
            room = 0
        if p == len(pa):
            break
        current = a
        room += bound
        wb = weights[pb[p], r0:r1]
        # slots ascend and slot_map never decreases: entries that land in one output are adjacent,
        # and their counts are summed before the pass over the replicates
        e = e0
        while e < e1:
            s = slot_map[slot[e]]
            c = count[e]
            e += 1
            while e < e1 and slot_map[slot[e]] == s:
                c += count[e]
                e += 1
            if s < 0:
                continue
            if not flags[s]:
                flags[s] = True
                touched[n_touched] = s
                n_touched += 1
            z = acc[s]
            for t in range(n_rep):
                z[t] += c * wb[t]
    for s in range(part.shape[0]):
        for t in range(n_rep):
            out[s, t] += part[s, t]


def weighted_pair_sums(pa, pb, ptr, slot, count, slot_map, weights, n_out: int,
                       columns: tuple[int, int] | None = None, max_w: int | None = None) -> np.ndarray:
    """``(n_out, replicates)`` int64 sums of :func:`_weighted_pair_sums` for integer ``weights`` of
    shape ``(identities, replicates)``, over its columns ``columns`` (default all); ``max_w``, when
    known, is the largest weight there."""
    if not (isinstance(weights, np.ndarray) and weights.dtype in (np.int8, np.int16, np.int32)
            and weights.flags.c_contiguous):
        weights = np.ascontiguousarray(weights, dtype=np.int32)
    r0, r1 = (0, weights.shape[1]) if columns is None else columns
    out = np.zeros((n_out, r1 - r0), dtype=np.int64)
    if weights.size == 0 or r1 <= r0:
        return out
    if max_w is None:
        max_w = int(weights[:, r0:r1].max())
    if max_w * max_w * int(count.max(initial=0)) > _INT32_ROOM:
        raise OverflowError("identity pair counts too large for the bootstrap kernel")
    part = np.zeros((n_out, r1 - r0), dtype=np.int32)
    acc = np.zeros((n_out, r1 - r0), dtype=np.int32)
    touched = np.zeros(n_out, dtype=np.int64)
    flags = np.zeros(n_out, dtype=np.bool_)
    _jit(_weighted_pair_sums)(pa, pb, ptr, slot, count, np.asarray(slot_map, dtype=np.int64), weights,
                              r0, r1, max_w * max_w, out, part, acc, touched, flags)
    return out


# --------------------------------------------------------------------------
# the permutation tests: random subsets and the pair sums within them
# --------------------------------------------------------------------------
def _random_subsets(perm, state_box, picked):
    """``picked[k]``: a uniformly random subset of the units in ``perm`` (a permutation of them,
    kept from call to call), of ``picked.shape[1]`` units, for every row ``k``: a partial
    Fisher-Yates shuffle driven by SplitMix64 (Steele, Lea & Flood 2014) from ``state_box[0]``,
    53 random bits per draw."""
    n_units = len(perm)
    state = state_box[0]
    scale = 1.0 / 9007199254740992.0  # 2**-53
    for k in range(picked.shape[0]):
        for t in range(picked.shape[1]):
            state = state + np.uint64(0x9E3779B97F4A7C15)
            z = state
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            bits = z ^ (z >> np.uint64(31))
            j = t + int(float(bits >> np.uint64(11)) * scale * (n_units - t))
            if j >= n_units:  # pragma: no cover - float rounding at the very top
                j = n_units - 1
            tmp = perm[t]
            perm[t] = perm[j]
            perm[j] = tmp
            picked[k, t] = perm[t]
    state_box[0] = state


class RandomSubsets:
    """Uniformly random ``n_pick``-subsets of ``range(n_units)`` from ``seed``, chunk after chunk
    (the chunks together are the same draws as one call for all)."""

    def __init__(self, n_units: int, n_pick: int, seed: int):
        self.perm = np.arange(n_units, dtype=np.int64)
        self.state = np.array([seed], dtype=np.uint64)
        self.n_pick = int(n_pick)

    def draw(self, n_sets: int) -> np.ndarray:
        picked = np.empty((n_sets, self.n_pick), dtype=np.int64)
        if n_sets and self.n_pick:
            _jit(_random_subsets)(self.perm, self.state, picked)
        return picked


def random_subsets(n_units: int, n_pick: int, n_sets: int, seed: int) -> np.ndarray:
    """``(n_sets, n_pick)`` unit indices: :class:`RandomSubsets` in one chunk."""
    return RandomSubsets(n_units, n_pick, seed).draw(n_sets)


def _within_set_sums(indptr, indices, values, masks, slices):
    """Pair sums within 64 sets at once: bit ``p`` of ``masks[u]`` marks unit ``u`` in set ``p``.
    For every pair ``i < j`` (CSR at the lower unit, integer ``values``) the sets holding both
    (``masks[i] & masks[j]``) gain ``value``, added in binary into bit-sliced counters: bit ``p`` of
    ``slices[k]`` is bit ``k`` of set ``p``'s sum. About two word operations per pair for 64 sets."""
    for i in range(len(indptr) - 1):
        mi = masks[i]
        if mi == 0:
            continue
        for e in range(indptr[i], indptr[i + 1]):
            m = mi & masks[indices[e]]
            if m == 0:
                continue
            v = values[e]
            k = 0
            while v:
                if v & 1:
                    carry = m
                    j = k
                    while carry:
                        t = slices[j] & carry
                        slices[j] ^= carry
                        carry = t
                        j += 1
                v >>= 1
                k += 1


def within_set_sums(indptr, indices, values, picked: np.ndarray, n_units: int) -> np.ndarray:
    """``(n_sets,)``: the sum of ``values`` over the pairs ``i < j`` (CSR at the lower unit, integer
    values) with both units in set ``picked[k]``, 64 sets per pass over the pairs."""
    values = np.asarray(values, dtype=np.int64)
    n_sets = picked.shape[0]
    out = np.zeros(n_sets)
    if n_sets == 0 or len(values) == 0:
        return out
    levels = int(values.sum()).bit_length() + 1
    weights = 2.0 ** np.arange(levels)
    kernel = _jit(_within_set_sums)
    for s in range(0, n_sets, 64):
        block = picked[s:s + 64]
        masks = np.zeros(n_units, dtype=np.uint64)
        for p, row in enumerate(block):
            masks[row] |= np.uint64(1) << np.uint64(p)
        slices = np.zeros(levels, dtype=np.uint64)
        kernel(indptr, indices, values, masks, slices)
        bits = (slices[:, None] >> np.arange(len(block), dtype=np.uint64)[None, :]) & np.uint64(1)
        out[s:s + len(block)] = weights @ bits.astype(np.float64)
    return out


def _identity_slot_sums(pa, pb, ptr, slot, count, out):
    """``out[i, s]``: the counts in slot ``s`` of every pair of identity ``i``."""
    for p in range(len(pa)):
        for e in range(ptr[p], ptr[p + 1]):
            out[pa[p], slot[e]] += count[e]
            out[pb[p], slot[e]] += count[e]


def identity_slot_sums(pa, pb, ptr, slot, count, m: int, n_slots: int) -> np.ndarray:
    out = np.zeros((m, n_slots), dtype=np.int64)
    _jit(_identity_slot_sums)(pa, pb, ptr, slot, count, out)
    return out


# --------------------------------------------------------------------------
# the bootstrap's weights: how often each identity is drawn in each replicate
# --------------------------------------------------------------------------
def _count_draws(draws, out):
    for b in range(draws.shape[0]):
        row = out[b]
        for k in range(draws.shape[1]):
            row[draws[b, k]] += 1.0


def count_draws(draws: np.ndarray, m: int) -> np.ndarray:
    """``(replicates, m)`` float64: how often each of ``m`` units appears in each row of ``draws``
    (integers in ``[0, m)``), as ``np.bincount`` row by row."""
    draws = np.ascontiguousarray(draws, dtype=np.int64)
    out = np.zeros((draws.shape[0], m))
    if draws.size:
        _jit(_count_draws)(draws, out)
    return out
