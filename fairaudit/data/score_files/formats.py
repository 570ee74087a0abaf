"""Reading and writing score files: the format of a file (given, or detected from its suffix,
first bytes and first line), the reader of each format, and the set built from what it read,
with any error prefixed by the file and the format (``READ_CONTEXT``).

The readers build the class they are given (``cls``, :class:`~fairaudit.data.ScoreSet` or a
subclass), so this module does not import the class.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.files import OUTPUT_NOT_WRITABLE, OutputPathError, atomic_write, check_output
from fairaudit.data.covariates import covariates_to_json
from fairaudit.data.score_files.bob_text import _text_pairs
from fairaudit.data.score_files.csv_tables import (_bob_csv_pairs, _bob_identity_columns, _csv_header,
                                                   _fairaudit_csv_pairs, _header_of)
from fairaudit.data.score_files.parquet import _parquet_pairs
from fairaudit.data.score_files.text import _check_text_head, _existing, _first_content_line, _require_content
from fairaudit.data.score_covariates import PREFIX as COVARIATE_PREFIX
from fairaudit.data.score_tables import _attribute_names

if TYPE_CHECKING:
    from fairaudit.data.score_set import ScoreSet

FORMAT_UNKNOWN = (
    "format={value!r} is not a score file format; expected one of {expected}. Fix: pass "
    "one of them, or format=None to detect it from the file."
)
FORMAT_UNDETECTED = (
    "cannot tell the format of {path!r}: {reason}. Expected one of {expected}. Fix: "
    "pass format=... to ScoreSet.read."
)
SCORE_FILE_NO_ROWS = (
    "{path!r} has {what} but no comparison row, so there is nothing to audit. Fix: check that "
    "the program that wrote it finished, and pass the file it wrote."
)
READ_CONTEXT = "{path!r} (read as {format}): {message}"
BOB_NO_COVARIATES = (
    "covariate_kinds={value!r}: {path!r} is read as {format}, and Bob's score formats carry no "
    "covariates. Fix: drop covariate_kinds=, or write the comparisons as a fairaudit CSV or Parquet file "
    "with columns covariate:NAME_a and covariate:NAME_b (ScoreSet.with_covariates(...).save(...))."
)

_FORMAT_VERSION = 1
FORMATS = ("fairaudit-csv", "fairaudit-parquet", "bob-csv", "bob-4col", "bob-5col")
_FORMAT_ALIASES = {"parquet": "fairaudit-parquet"}
_SUFFIXES = ("'.csv'", "'.parquet'")


def read(cls: "type[ScoreSet]", path: str | os.PathLike, *, format: str | None,
         identity_attributes: pd.DataFrame | None, attributes: Sequence[str] | None,
         covariate_kinds: Mapping[str, str] | None = None) -> "ScoreSet":
    """:meth:`ScoreSet.read`: the file ``path`` read as a ``cls``."""
    path = _existing(path)
    if format is None:
        fmt = _detect_format(path)
    else:
        fmt = _FORMAT_ALIASES.get(format, format) if isinstance(format, str) else format
        if fmt not in FORMATS:
            raise errors.FairauditInputError(
                FORMAT_UNKNOWN.format(value=format, expected=list(FORMATS))
            )
    if covariate_kinds is not None and fmt.startswith("bob-"):
        raise errors.FairauditInputError(BOB_NO_COVARIATES.format(value=covariate_kinds, path=str(path), format=fmt))
    if fmt in ("bob-4col", "bob-5col"):
        table = identity_attributes
        if attributes is not None:
            table = _select_identity_columns(table, attributes)
        return _read_text(cls, path, 4 if fmt == "bob-4col" else 5, table, detected=format is None)
    if fmt == "bob-csv":
        pairs = _bob_csv_pairs(path, attributes)
    elif fmt == "fairaudit-csv":
        pairs = _fairaudit_csv_pairs(path, attributes, covariate_kinds)
    else:
        pairs, stored, stored_kinds = _parquet_pairs(path)
        if attributes is None:
            attributes = stored
        if stored_kinds:
            covariate_kinds = {**stored_kinds, **(covariate_kinds or {})}
    return _build(cls, path, fmt, pairs, attributes, identity_attributes, covariate_kinds)


def read_bob_csv(cls: "type[ScoreSet]", path: str | os.PathLike, *,
                 attributes: Sequence[str] | None) -> "ScoreSet":
    """:meth:`ScoreSet.read_bob_csv`: the Bob CSV file ``path`` read as a ``cls``."""
    path = _existing(path)
    pairs = _bob_csv_pairs(path, attributes)
    return _build(cls, path, "bob-csv", pairs, None, None)


def read_bob_text(cls: "type[ScoreSet]", path: str | os.PathLike, ncols: int,
                  identity_attributes: pd.DataFrame | None) -> "ScoreSet":
    """:meth:`ScoreSet.read_bob_4col` (``ncols=4``) and :meth:`ScoreSet.read_bob_5col` (5)."""
    return _read_text(cls, _existing(path), ncols, identity_attributes)


def save(ss: "ScoreSet", path: str | os.PathLike) -> Path:
    """:meth:`ScoreSet.save`: ``ss`` written to ``.csv`` or ``.parquet``, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise errors.FairauditInputError(
            errors.FILE_SUFFIX.format(name="path", path=str(path), suffix=suffix,
                                      expected=", ".join(_SUFFIXES))
        )
    check_output(path, name="path")
    arrow = _arrow(ss)
    try:
        if suffix == ".csv":
            import pyarrow.csv as pcsv

            with atomic_write(path) as tmp:
                pcsv.write_csv(arrow, tmp)
        else:
            import pyarrow.parquet as pq

            stored: dict[str, Any] = {"kind": "ScoreSet", "format_version": _FORMAT_VERSION,
                                      "attributes": ss._names}
            if ss.covariate_kinds:
                stored["covariates"] = covariates_to_json(ss.covariate_kinds)
            meta = {b"fairaudit": json.dumps(stored).encode()}
            with atomic_write(path) as tmp:
                pq.write_table(arrow.replace_schema_metadata(meta), tmp)
    except OSError as exc:  # e.g. the disk filled up, or the directory went away meanwhile
        raise OutputPathError(OUTPUT_NOT_WRITABLE.format(
            name="path", path=str(path), why=exc.strerror or type(exc).__name__,
            what="file")) from None
    return path


def _arrow(ss: "ScoreSet") -> Any:
    """``ss`` as an Arrow table, with the columns of :attr:`ScoreSet.table`."""
    import pyarrow as pa

    def text(codes: np.ndarray, cats: np.ndarray) -> Any:
        return pa.array(cats.tolist(), type=pa.string()).take(pa.array(codes))

    ida, idb, id_cats = ss._ids
    columns = {
        "score": pa.array(ss._score, type=pa.float64()),
        "genuine": pa.array(ss._genuine, type=pa.bool_()),
        "identity_a": text(ida, id_cats),
        "identity_b": text(idb, id_cats),
    }
    for name in ss._names:
        va, vb, cats = ss._attrs[name]
        columns[f"{name}_a"] = text(va, cats)
        columns[f"{name}_b"] = text(vb, cats)
    for column, values in ss._covariate_columns().items():
        numeric = values.dtype.kind == "f"
        columns[column] = pa.array(values if numeric else values.astype(str).tolist(),
                                   type=pa.float64() if numeric else pa.string())
    return pa.table(columns)


def _in_file(path: Path, fmt: str, build: Callable[[], "ScoreSet"]) -> "ScoreSet":
    """Run ``build``; prefix any input error with the file and format it came from, and record
    them on the set (:attr:`ScoreSet.source`)."""
    try:
        built = build()
    except errors.FairauditInputError as exc:
        raise errors.FairauditInputError(
            READ_CONTEXT.format(path=str(path), format=fmt, message=str(exc))
        ) from None
    built._source = (str(path), fmt)
    return built


def _select_identity_columns(table: Any, attributes: Sequence[str]) -> Any:
    names = [attributes] if isinstance(attributes, str) else list(attributes)
    if table is not None and not isinstance(table, pd.DataFrame):
        return table  # from_identity_table reports the wrong type
    available = [] if table is None else [str(c) for c in table.columns if str(c) != "identity"]
    for name in names:
        if name not in available:
            raise errors.FairauditInputError(
                errors.UNKNOWN_ATTRIBUTE.format(name="attributes", value=name, available=available)
            )
    if table is None:
        return None
    keep = [c for c in table.columns if str(c) in names or str(c) == "identity"]
    return table[keep]


def _build(cls: "type[ScoreSet]", path: Path, fmt: str, pairs: pd.DataFrame, attributes: Sequence[str] | None,
           identity_attributes: pd.DataFrame | None, covariate_kinds: Mapping[str, str] | None = None) -> "ScoreSet":
    def build() -> "ScoreSet":
        if identity_attributes is None:
            return cls(pairs, attributes=attributes, covariate_kinds=covariate_kinds)
        names = _attribute_names(list(pairs.columns), attributes)
        keep = ["score", "identity_a", "identity_b"]
        keep += ["genuine"] if "genuine" in pairs.columns else []
        keep += [f"{name}_{side}" for name in names for side in ("a", "b")]
        keep += [c for c in pairs.columns if str(c).startswith(COVARIATE_PREFIX)]
        return cls.from_identity_table(pairs[keep], identity_attributes, covariate_kinds=covariate_kinds)

    if len(pairs) == 0:
        what = (f"the columns {list(pairs.columns)}" if fmt == "fairaudit-parquet"
                else f"a header ({', '.join(map(str, _header_of(path, pairs)))})")
        raise errors.FairauditInputError(SCORE_FILE_NO_ROWS.format(path=str(path), what=what))
    return _in_file(path, fmt, build)


def _detect_format(path: Path) -> str:
    if path.suffix.lower() == ".parquet":
        return "fairaudit-parquet"
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
        full = not fh.read(1)
    if head[:4] == b"PAR1":
        return "fairaudit-parquet"
    _require_content(path)
    _check_text_head(path, head, full)
    first = _first_content_line(path) or ""
    header = _csv_header(first)
    if {"score", "identity_a", "identity_b"} <= set(header):
        return "fairaudit-csv"
    if "score" in header and _bob_identity_columns(header) is not None:
        return "bob-csv"
    if path.suffix.lower() == ".csv":
        raise errors.FairauditInputError(
            FORMAT_UNDETECTED.format(
                path=str(path), expected=list(FORMATS),
                reason=(f"its header {header} has neither score/identity_a/identity_b "
                        "nor score with bio_ref_subject_id/probe_subject_id"),
            )
        )
    n = len(first.split())
    if n == 4:
        return "bob-4col"
    if n == 5:
        return "bob-5col"
    raise errors.FairauditInputError(
        FORMAT_UNDETECTED.format(
            path=str(path), expected=list(FORMATS),
            reason=(f"its first line {first!r} is not a known CSV header and has {n} "
                    "whitespace-separated fields, not 4 or 5"),
        )
    )


def _read_text(cls: "type[ScoreSet]", path: Path, ncols: int, identity_attributes: pd.DataFrame | None, *,
               detected: bool = False) -> "ScoreSet":
    pairs = _text_pairs(path, ncols, detected=detected)
    fmt = f"bob-{ncols}col"
    if identity_attributes is None:
        return _in_file(path, fmt, lambda: cls(pairs))
    return _in_file(path, fmt, lambda: cls.from_identity_table(pairs, identity_attributes))
