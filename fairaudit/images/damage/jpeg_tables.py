"""What a JPEG's segments define while its stream is parsed: quantization and Huffman tables, the
frame and the scans (:class:`_JpegState`), and the Huffman lookup tables of the scan decoder."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


class _JpegState:
    """Tables, frame and progression state while a JPEG stream is parsed."""

    def __init__(self) -> None:
        self.quant: dict[int, int] = {}  # table id -> DC quantizer
        self.dc: dict[int, tuple] = {}
        self.ac: dict[int, tuple] = {}
        self.restart = 0
        self.frame: dict[str, Any] | None = None
        self.n_scans = 0
        self.masks: dict[int, list[int]] = {}  # component -> per-block bitmask of nonzero AC coefficients

    def define_quantization(self, seg: bytes) -> None:
        i = 0
        while i < len(seg):
            precision, table = seg[i] >> 4, seg[i] & 15
            size = 128 if precision else 64
            if precision > 1 or table > 3 or i + 1 + size > len(seg):
                raise ValueError("DQT")
            self.quant[table] = ((seg[i + 1] << 8) | seg[i + 2]) if precision else seg[i + 1]
            i += 1 + size

    def define_huffman(self, seg: bytes) -> None:
        i = 0
        while i < len(seg):
            kind, table = seg[i] >> 4, seg[i] & 15
            counts = bytes(seg[i + 1:i + 17])
            total = sum(counts)
            if kind > 1 or table > 3 or len(counts) != 16 or total > 256 or i + 17 + total > len(seg):
                raise ValueError("DHT")
            values = bytes(seg[i + 17:i + 17 + total])
            (self.ac if kind else self.dc)[table] = _huffman_lookup(counts, values, bool(kind))
            i += 17 + total

    def start_frame(self, marker: int, seg: bytes) -> None:
        if self.frame is not None:
            raise ValueError("second frame")
        precision, height, width, n = seg[0], (seg[1] << 8) | seg[2], (seg[3] << 8) | seg[4], seg[5]
        if not n or width == 0 or len(seg) < 6 + 3 * n:
            raise ValueError("SOF")
        components = {}
        for j in range(n):
            cid, hv, table = seg[6 + 3 * j], seg[7 + 3 * j], seg[8 + 3 * j]
            h, v = hv >> 4, hv & 15
            if not (1 <= h <= 4 and 1 <= v <= 4) or table > 3 or cid in components:
                raise ValueError("SOF")
            components[cid] = (h, v, table)
        self.frame = {"marker": marker, "precision": precision, "height": height, "width": width,
                      "components": components,
                      "hmax": max(c[0] for c in components.values()),
                      "vmax": max(c[1] for c in components.values())}

    def start_scan(self, seg: bytes) -> dict[str, Any]:
        if self.frame is None:
            raise ValueError("SOS before SOF")
        n = seg[0]
        if not 1 <= n <= 4 or len(seg) < 4 + 2 * n:
            raise ValueError("SOS")
        components = []
        for j in range(n):
            cid, tables = seg[1 + 2 * j], seg[2 + 2 * j]
            if cid not in self.frame["components"]:
                raise KeyError(cid)
            components.append((cid, tables >> 4, tables & 15))
        ss, se, ah, al = seg[1 + 2 * n], seg[2 + 2 * n], seg[3 + 2 * n] >> 4, seg[3 + 2 * n] & 15
        progressive = self.frame["marker"] == 0xC2
        if progressive and (se > 63 or ss > se or (ss == 0 and se != 0) or (ss > 0 and n != 1)):
            raise ValueError("SOS")
        self.n_scans += 1
        return {"components": components, "ss": ss, "se": se, "ah": ah, "al": al,
                "progressive": progressive, "restart": self.restart}


@functools.lru_cache(maxsize=64)
def _huffman_lookup(counts: bytes, values: bytes, ac: bool) -> tuple[list[int], list[int]]:
    """Tables indexed by the next 16 bits of the stream.

    ``advance[w]`` is the code length (for AC codes plus the size of the
    coefficient bits that follow), 0 when ``w`` starts with no valid code;
    ``info[w]`` is the symbol (DC: the size of the difference bits; AC: how far
    the coefficient index moves, 16 for ZRL, 0 for end-of-block, -1 for an
    end-of-band run in a progressive scan, whose symbol is ``value``).
    Raises ValueError for a table whose codes do not fit in 16 bits.
    """
    length = np.zeros(1 << 16, dtype=np.int64)
    symbol = np.zeros(1 << 16, dtype=np.int64)
    code = 0
    k = 0
    for bits in range(1, 17):
        for _ in range(counts[bits - 1]):
            if code >= 1 << bits:
                raise ValueError("DHT codes overflow")
            lo, hi = code << (16 - bits), (code + 1) << (16 - bits)
            length[lo:hi] = bits
            symbol[lo:hi] = values[k]
            code += 1
            k += 1
        code <<= 1
    return length.tolist(), symbol.tolist()
