"""Checks the readers of both sets apply to an input file before parsing it.

Whether a path is a non-empty file of the expected kind (judged by its first bytes, naming
what it looks like instead), the JSON object fairaudit stores in Parquet metadata, and
whether a Parquet file holds an EmbeddingSet or scores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fairaudit.common import errors

#: how a file of each kind starts
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_NPY_MAGIC = (b"\x93NUMPY",)
_PARQUET_MAGIC = (b"PAR1",)


def _looks_like(head: bytes) -> str:
    """What the first bytes of a file suggest it is, for messages (``''`` when unknown)."""
    if head.startswith(_ZIP_MAGIC):
        return ", the start of a zip archive such as an .npz"
    if head.startswith(_NPY_MAGIC):
        return ", the start of a .npy array"
    if head.startswith(_PARQUET_MAGIC):
        return ", the start of a Parquet file"
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return ", a text byte-order mark"
    if head[:1] == b"\x80":
        return ", the start of a Python pickle"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:  # also a multi-byte character cut at byte 16: unknown, say nothing
        return ""
    return ", which looks like text" if all(c.isprintable() or c.isspace() for c in text) else ""


def check_input_file(path: str | os.PathLike, *, name: str, kind: str, magic: tuple[bytes, ...],
                     suffix: str, writer: str) -> Path:
    """Check that ``path`` is a non-empty file that starts like ``kind``; return it as a Path.

    Raises :class:`~fairaudit.FairauditInputError` for a missing path, a
    directory, a zero-byte file, or a file that starts with other bytes (naming
    what it looks like instead). ``name`` is the argument the path came from,
    ``writer`` the function that writes such files (for the fix).
    """
    path = Path(path)
    if path.is_dir():
        try:
            inside = sorted(str(p) for p in path.iterdir() if p.suffix.lower() == suffix and p.is_file())
        except OSError:
            inside = []
        hint = f", e.g. {inside[0]!r} (one of {len(inside)} in that directory)" if inside else ""
        raise errors.FairauditInputError(errors.PATH_IS_DIRECTORY.format(
            name=name, path=str(path), kind=suffix, inside=hint))
    if not path.exists():
        raise errors.FairauditInputError(errors.FILE_NOT_FOUND.format(name=name, path=str(path)))
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise errors.FairauditInputError(errors.FILE_NOT_READABLE.format(
            name=name, path=str(path), why=exc.strerror or type(exc).__name__)) from None
    if size == 0:
        raise errors.FairauditInputError(errors.FILE_EMPTY.format(
            name=name, path=str(path), kind=kind, fix=f"write it again with {writer}."))
    if not head.startswith(magic):
        what = _looks_like(head)
        fix = f"pass {kind} file written by {writer}"
        if head.startswith(_NPY_MAGIC) and magic != _NPY_MAGIC:
            fix = ("a .npy holds embeddings only: rename it to .npy and use "
                   "EmbeddingSet.from_npy(path, identity=...) (CLI: DATA.npy --labels labels.csv)")
        elif head.startswith(_PARQUET_MAGIC) and magic != _PARQUET_MAGIC:
            fix = "rename it to .parquet"
        elif head.startswith(_ZIP_MAGIC) and magic != _ZIP_MAGIC:
            fix = "if it was written by EmbeddingSet.save(), rename it to .npz"
        raise errors.FairauditInputError(errors.FILE_NOT_FORMAT.format(
            name=name, path=str(path), kind=kind, head=head, what=what, fix=fix + "."))
    return path


def parquet_metadata(path: str | os.PathLike, schema: Any, *, writer: str) -> dict[str, Any]:
    """The JSON object fairaudit stores under the schema metadata key ``fairaudit`` ({} if none).

    Invalid JSON, or JSON that is not an object, raises
    :class:`~fairaudit.FairauditInputError` naming the file; ``writer``
    is the function that writes such files (for the fix).
    """
    raw = (schema.metadata or {}).get(b"fairaudit")
    if raw is None:
        return {}
    try:
        meta = json.loads(raw.decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError(f"expected a JSON object, got {type(meta).__name__}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.FairauditInputError(errors.STORED_JSON_INVALID.format(
            path=str(path), what="Parquet metadata 'fairaudit'", detail=str(exc).strip(),
            writer=writer)) from None
    return meta


def parquet_has_embeddings(path: str | os.PathLike) -> bool:
    """Whether the Parquet file ``path`` holds an EmbeddingSet (a column ``embedding``) rather than scores.

    For callers that accept either kind (the command line's DATA). A path
    that is not a readable Parquet file (a directory, 0 bytes, text, a
    truncated copy) raises :class:`~fairaudit.FairauditInputError`
    instead of pyarrow's error.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = check_input_file(path, name="path", kind="a Parquet", magic=_PARQUET_MAGIC, suffix=".parquet",
                            writer="EmbeddingSet.save() or ScoreSet.save()")
    try:
        return "embedding" in pq.read_schema(path).names
    except (pa.ArrowException, OSError) as exc:
        raise errors.FairauditInputError(errors.PARQUET_FILE_UNREADABLE.format(
            path=str(path), detail=str(exc).strip() or type(exc).__name__,
            writer="EmbeddingSet.save() or ScoreSet.save()")) from None
