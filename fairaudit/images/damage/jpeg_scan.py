"""Decoding one JPEG scan's Huffman-coded data without reconstructing pixels: the four kinds of
scan (sequential; progressive DC first and refinement, AC first and refinement), each checked for
invalid codes, runs past the end of a block, DC values outside the samples' range and the exact
length of the data."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from fairaudit.images.damage import _corrupt
from fairaudit.images.damage.jpeg_tables import _JpegState


class _ScanDecoder:
    """Decode one scan's Huffman-coded data without reconstructing pixels, checking everything."""

    def __init__(self, data: bytes, start: int, end: int, restarts: list[int], state: _JpegState,
                 scan: dict[str, Any]) -> None:
        frame = state.frame
        assert frame is not None
        self.data, self.start, self.end, self.restarts = data, start, end, restarts
        self.scan, self.state = scan, state
        comps = frame["components"]
        hmax, vmax, width, height = frame["hmax"], frame["vmax"], frame["width"], frame["height"]
        self.blocks: list[int] = []  # the scan-component index of every block of an MCU
        if len(scan["components"]) == 1:
            h, v, _ = comps[scan["components"][0][0]]
            columns = -(-(-(-width * h // hmax)) // 8)
            rows = -(-(-(-height * v // vmax)) // 8)
            self.n_mcu = columns * rows
            self.blocks = [0]
        else:
            self.n_mcu = -(-width // (8 * hmax)) * -(-height // (8 * vmax))
            for i, (cid, _, _) in enumerate(scan["components"]):
                h, v, _ = comps[cid]
                self.blocks += [i] * (h * v)
        # the largest DC coefficient the precision allows: 8 x the largest level-shifted sample
        # (the DC term is the block's sum, exact in every DCT); quantization rounds it by up to
        # half a step, and 8 more are slack
        self.dc_limit = (8 << (frame["precision"] - 1)) + 8 if frame["precision"] else 1 << 30
        self.max_size = 10 if frame["precision"] <= 8 else 14  # largest AC coefficient size

    def tables(self, kind: str) -> list[tuple[list[int], list[int]]]:
        chosen = []
        for cid, td, ta in self.scan["components"]:
            table = (self.state.dc if kind == "dc" else self.state.ac).get(td if kind == "dc" else ta)
            if table is None:
                raise _corrupt(self.start, f"a scan uses an undefined {kind.upper()} Huffman table")
            chosen.append(table)
        return chosen

    def run(self) -> None:
        scan = self.scan
        interval = scan["restart"] or self.n_mcu
        n_intervals = -(-self.n_mcu // interval)
        if len(self.restarts) != n_intervals - 1:
            at = self.restarts[n_intervals - 1] if len(self.restarts) >= n_intervals else self.end
            raise _corrupt(at, f"{len(self.restarts)} restart marker(s) where the image has "
                               f"{n_intervals - 1}")
        for j, at in enumerate(self.restarts):
            if self.data[at + 1] != 0xD0 + j % 8:
                raise _corrupt(at, "restart markers out of order")
        if scan["progressive"]:
            if scan["ss"] == 0:
                decode = self.dc_first if scan["ah"] == 0 else self.dc_refine
            else:
                decode = self.ac_first if scan["ah"] == 0 else self.ac_refine
                cid = scan["components"][0][0]
                if cid not in self.state.masks:
                    self.state.masks[cid] = [0] * self.n_mcu
                self.mask = self.state.masks[cid]
        else:
            decode = self.sequential
        bounds = [self.start] + [r + 2 for r in self.restarts]
        ends = self.restarts + [self.end]
        done = 0
        for j in range(n_intervals):
            raw = self.data[bounds[j]:ends[j]]
            unstuffed = raw.replace(b"\xff\x00", b"\xff")
            n_bits = 8 * len(unstuffed)
            padded = np.frombuffer(unstuffed + bytes(8), dtype=np.uint8).astype(np.int64)
            # window[i]: the 24 bits starting at byte i
            window = ((padded[:-2] << 16) | (padded[1:-1] << 8) | padded[2:]).tolist()
            count = min(interval, self.n_mcu - done)
            try:
                position = decode(window, n_bits, count, done)
            except _BitError as exc:
                raise _corrupt(self.file_offset(bounds[j], raw, exc.byte), exc.problem) from None
            except IndexError:  # read far past the end of the data
                position = n_bits + 64
            if position > n_bits:
                raise _corrupt(ends[j], "the image data ends before its last block")
            if n_bits - position >= 8:
                raise _corrupt(ends[j], f"{(n_bits - position) // 8} byte(s) of image data left over "
                                        "after the last block")
            done += count

    @staticmethod
    def file_offset(base: int, raw: bytes, byte: int) -> int:
        """The offset in the file of byte ``byte`` of the unstuffed data starting at ``base``."""
        offset, stuffed = 0, raw.find(b"\xff\x00")
        while stuffed >= 0 and stuffed - offset < byte:
            offset += 1
            stuffed = raw.find(b"\xff\x00", stuffed + 2)
        return base + byte + offset

    # -- the four kinds of scan; each returns the bit position after its MCUs ------------------
    def sequential(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        dc_tables, ac_tables = self.tables("dc"), self.tables("ac")
        ac_advance, ac_step = [], []
        for length, symbol in ac_tables:
            advance, step = _ac_tables(id(length), length, symbol, self.max_size)
            ac_advance.append(advance)
            ac_step.append(step)
        quant = self.dc_quantizers()
        limit = self.dc_limit
        max_dc = self.max_size + 1
        predictor = [0] * len(self.scan["components"])
        blocks = self.blocks
        p = 0
        for _ in range(count):
            for c in blocks:
                dc_length, dc_size = dc_tables[c]
                advance, step = ac_advance[c], ac_step[c]
                w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                a = dc_length[w]
                if not a:
                    raise _BitError(p, "an invalid Huffman code")
                size = dc_size[w]
                p += a
                if size:
                    if size > max_dc:
                        raise _BitError(p, "an invalid DC difference size")
                    value = (window[p >> 3] >> (24 - (p & 7) - size)) & ((1 << size) - 1)
                    if value < 1 << (size - 1):
                        value -= (1 << size) - 1
                    p += size
                    predictor[c] += value
                    if abs(predictor[c] * quant[c]) > limit + quant[c]:
                        raise _BitError(p, "a DC coefficient outside the range of the samples")
                k = 1
                while k < 64:
                    w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                    a = advance[w]
                    if not a:
                        raise _BitError(p, "an invalid Huffman code")
                    p += a
                    s = step[w]
                    if not s:
                        break
                    k += s
                    if k > 64:
                        raise _BitError(p, "a run of coefficients past the end of a block")
            if p > n_bits:
                return p
        return p

    def dc_quantizers(self) -> list[int]:
        comps = self.state.frame["components"]
        return [self.state.quant.get(comps[cid][2], 1) or 1 for cid, _, _ in self.scan["components"]]

    def dc_first(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        dc_tables = self.tables("dc")
        quant = self.dc_quantizers()
        shift = self.scan["al"]
        limit = self.dc_limit
        predictor = [0] * len(self.scan["components"])
        p = 0
        for _ in range(count):
            for c in self.blocks:
                dc_length, dc_size = dc_tables[c]
                w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                a = dc_length[w]
                if not a:
                    raise _BitError(p, "an invalid Huffman code")
                size = dc_size[w]
                p += a
                if size:
                    if size > self.max_size + 1:
                        raise _BitError(p, "an invalid DC difference size")
                    value = _bits(window, p, size)
                    if value < 1 << (size - 1):
                        value -= (1 << size) - 1
                    p += size
                    predictor[c] += value
                    if abs((predictor[c] << shift) * quant[c]) > limit + (quant[c] << shift):
                        raise _BitError(p, "a DC coefficient outside the range of the samples")
            if p > n_bits:
                return p
        return p

    def dc_refine(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        return count * len(self.blocks)  # one bit per block, any value

    def ac_first(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        (length, symbol), = self.tables("ac")
        ss, se = self.scan["ss"], self.scan["se"]
        mask = self.mask
        max_size = self.max_size
        eob_run = 0
        p = 0
        for b in range(first, first + count):
            if eob_run:
                eob_run -= 1
                continue
            k = ss
            bits = mask[b]
            while k <= se:
                w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                a = length[w]
                if not a:
                    raise _BitError(p, "an invalid Huffman code")
                p += a
                r, s = symbol[w] >> 4, symbol[w] & 15
                if s:
                    if s > max_size:
                        raise _BitError(p, "an invalid AC coefficient size")
                    k += r
                    if k > se:
                        raise _BitError(p, "a run of coefficients past the end of a block")
                    p += s
                    bits |= 1 << k
                    k += 1
                elif r == 15:
                    k += 16
                    if k > se + 1:
                        raise _BitError(p, "a run of coefficients past the end of a block")
                else:
                    eob_run = (1 << r) - 1
                    if r:
                        eob_run += _bits(window, p, r)
                        p += r
                    break
            mask[b] = bits
            if p > n_bits:
                return p
        return p

    def ac_refine(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        (length, symbol), = self.tables("ac")
        ss, se = self.scan["ss"], self.scan["se"]
        mask = self.mask
        eob_run = 0
        p = 0
        for b in range(first, first + count):
            bits = mask[b]
            k = ss
            if not eob_run:
                while k <= se:
                    w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                    a = length[w]
                    if not a:
                        raise _BitError(p, "an invalid Huffman code")
                    p += a
                    r, s = symbol[w] >> 4, symbol[w] & 15
                    if s:
                        if s != 1:
                            raise _BitError(p, "an invalid AC refinement code")
                        p += 1  # the sign of the new coefficient
                    elif r != 15:
                        eob_run = 1 << r
                        if r:
                            eob_run += _bits(window, p, r)
                            p += r
                        break
                    # skip r zero coefficients, reading a correction bit for each nonzero one
                    while k <= se:
                        if bits >> k & 1:
                            p += 1
                        else:
                            if r == 0:
                                break
                            r -= 1
                        k += 1
                    if s:
                        if k > se:
                            raise _BitError(p, "a run of coefficients past the end of a block")
                        bits |= 1 << k
                    k += 1
            if eob_run:
                while k <= se:
                    if bits >> k & 1:
                        p += 1
                    k += 1
                eob_run -= 1
            mask[b] = bits
            if p > n_bits:
                return p
        return p


class _BitError(Exception):
    def __init__(self, bit: int, problem: str) -> None:
        super().__init__(problem)
        self.byte = bit >> 3
        self.problem = problem


def _bits(window: list[int], p: int, n: int) -> int:
    """``n`` (<= 16) bits of the stream at bit position ``p`` (they always fit in the 24-bit window)."""
    return (window[p >> 3] >> (24 - (p & 7) - n)) & ((1 << n) - 1)


_AC_CACHE: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
_AC_CACHE_LOCK = threading.Lock()


def _ac_tables(key: int, length: list[int], symbol: list[int], max_size: int) -> tuple[list[int], list[int]]:
    """For sequential scans: ``advance[w]`` = code length + coefficient bits (0 = invalid code or a
    coefficient size above ``max_size``), ``step[w]`` = how far the coefficient index moves (r + 1,
    16 for ZRL, 0 for EOB)."""
    with _AC_CACHE_LOCK:
        found = _AC_CACHE.get((key, max_size))
        if found is not None and found[2] is length:
            return found[0], found[1]
    lengths = np.asarray(length)
    symbols = np.asarray(symbol)
    run, size = symbols >> 4, symbols & 15
    advance = np.where((lengths > 0) & (size <= max_size), lengths + size, 0)
    step = np.where(size > 0, run + 1, np.where(run == 15, 16, 0))
    result = (advance.tolist(), step.tolist(), length)
    with _AC_CACHE_LOCK:
        if len(_AC_CACHE) > 64:
            _AC_CACHE.clear()
        _AC_CACHE[(key, max_size)] = result
    return result[0], result[1]
