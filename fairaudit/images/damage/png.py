"""The PNG check: every chunk complete, with a matching CRC, IHDR first, up to IEND."""

from __future__ import annotations

import zlib

from fairaudit.images.damage import _Damage, _corrupt
from fairaudit.images.errors import WHY_TRUNCATED

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _check_png(data: bytes) -> None:
    """Walk the chunks of a PNG: each complete with a matching CRC, IHDR first, up to IEND."""
    view = memoryview(data)
    n = len(data)
    pos = len(_PNG_SIGNATURE)
    first = True
    while True:
        if pos + 8 > n:
            raise _Damage(WHY_TRUNCATED)
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise _corrupt(pos, "a malformed PNG chunk header")
        if first and kind != b"IHDR":
            raise _corrupt(pos, "the first PNG chunk is not IHDR")
        first = False
        end = pos + 8 + length
        if end + 4 > n:
            raise _Damage(WHY_TRUNCATED)
        if zlib.crc32(view[pos + 4:end]) != int.from_bytes(data[end:end + 4], "big"):
            raise _corrupt(pos, f"the checksum of the {kind.decode('ascii')} chunk does not match")
        if kind == b"IEND":
            return
        pos = end + 4
