"""The JPEG check: the stream parsed marker by marker up to EOI, every segment checked, the extent
and restart markers of every scan found and its data decoded by :mod:`.jpeg_scan`."""

from __future__ import annotations

import struct
from typing import Any

from fairaudit.images.damage import _Damage, _corrupt
from fairaudit.images.damage.jpeg_scan import _ScanDecoder
from fairaudit.images.damage.jpeg_tables import _JpegState
from fairaudit.images.errors import WHY_TRUNCATED

_JPEG_SIGNATURE = b"\xff\xd8\xff"

# JPEG markers
_SOF_HUFFMAN = (0xC0, 0xC1, 0xC2)  # baseline, extended sequential, progressive: entropy-checked
_SOF_OTHER = (0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)  # structure only
_SEGMENT_NAMES = {0xC4: "DHT", 0xDB: "DQT", 0xDA: "SOS", 0xDD: "DRI"}


def _check_jpeg(data: bytes, *, header_only: bool = False) -> None:
    """Parse a JPEG stream up to its EOI marker; decode the entropy-coded data of every scan.

    Raises :class:`_Damage` for a stream that ends early (truncated) or that no
    encoder writes: a misplaced or unknown marker, a malformed segment, an
    invalid Huffman code, a run of coefficients past the end of a block, a DC
    coefficient outside the range of the sample precision, restart markers
    missing or out of order, or a scan whose data ends before its last block or
    goes on after it (the conditions under which libjpeg warns "Corrupt JPEG
    data", and more). With ``header_only`` it stops at the first scan.
    """
    n = len(data)
    pos = 2
    state = _JpegState()
    while True:
        if pos >= n:
            raise _Damage(WHY_TRUNCATED)
        if data[pos] != 0xFF:
            raise _corrupt(pos, "a JPEG marker was expected")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            raise _Damage(WHY_TRUNCATED)
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI; anything after it (thumbnails, MPO frames, junk) is not ours
            if state.frame is None or not state.n_scans:
                raise _corrupt(pos - 2, "the image ends before its first scan")
            return
        if marker == 0x01:  # TEM, no length
            continue
        if marker == 0x00 or 0xD0 <= marker <= 0xD8:
            raise _corrupt(pos - 2, f"an unexpected marker 0xFF{marker:02X}")
        if pos + 2 > n:
            raise _Damage(WHY_TRUNCATED)
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2:
            raise _corrupt(pos, f"a segment 0xFF{marker:02X} of length {length}")
        if pos + length > n:
            raise _Damage(WHY_TRUNCATED)
        segment = data[pos + 2:pos + length]
        start = pos - 2
        pos += length
        try:
            if marker == 0xDB:
                state.define_quantization(segment)
            elif marker == 0xC4:
                state.define_huffman(segment)
            elif marker == 0xDD:
                state.restart = (segment[0] << 8) | segment[1]
            elif marker in _SOF_HUFFMAN or marker in _SOF_OTHER:
                state.start_frame(marker, segment)
            elif marker == 0xDA:
                scan = state.start_scan(segment)
                if header_only:
                    return
                pos = _check_scan(data, pos, state, scan)
        except (IndexError, KeyError, ValueError, struct.error):
            name = _SEGMENT_NAMES.get(marker, "SOF" if marker in _SOF_HUFFMAN + _SOF_OTHER else "")
            raise _corrupt(start, f"a malformed {name or f'0xFF{marker:02X}'} segment") from None


def _check_scan(data: bytes, pos: int, state: _JpegState, scan: dict[str, Any]) -> int:
    """Check the entropy-coded data starting at ``pos``; return the offset of the marker after it."""
    n = len(data)
    restarts = []
    end = pos
    while True:  # the data ends at the first marker other than RSTn (0xFF00 is a stuffed 0xFF)
        end = data.find(b"\xff", end)
        if end < 0 or end + 1 >= n:
            raise _Damage(WHY_TRUNCATED)
        following = data[end + 1]
        if following == 0:
            end += 2
        elif 0xD0 <= following <= 0xD7:
            restarts.append(end)
            end += 2
        else:
            break
    frame = state.frame
    if frame["marker"] not in _SOF_HUFFMAN or frame["height"] == 0:
        return end  # arithmetic, lossless or DNL-sized: the structure is checked, not the data
    _ScanDecoder(data, pos, end, restarts, state, scan).run()
    return end
