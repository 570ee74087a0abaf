"""Integrity checks of image files, run before any pixel is decoded: a PNG's chunks and their CRCs
(``png``), a JPEG's markers and segments (``jpeg_structure``, with the tables and frame they define
in ``jpeg_tables``) and the Huffman-coded data of every scan (``jpeg_scan``).

A check raises :class:`_Damage` with the reason; :func:`fairaudit.images.read_image` turns it into
an :class:`~fairaudit.images.ImageDamagedError`.

May import: ``fairaudit.images.errors`` (the reason templates), numpy.
"""

from __future__ import annotations

from fairaudit.images.errors import WHY_CORRUPT_AT


class _Damage(Exception):
    """Raised by the structure checks; ``why`` is the reason text."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _corrupt(offset: int, problem: str) -> _Damage:
    return _Damage(WHY_CORRUPT_AT.format(offset=offset, problem=problem))
