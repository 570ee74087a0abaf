"""EmbeddingSet: face embeddings labelled with identity and demographic attributes."""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.files import OUTPUT_NOT_WRITABLE, OutputPathError, atomic_write, check_output

_RESERVED = ("identity", "path", "embedding")
_FORMAT_VERSION = 1
#: rows per block when an out-of-core set is read (and per Parquet row group written)
BLOCK_ROWS = 65536
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

    Raises :class:`~fairaudit.errors.FairauditInputError` for a missing path, a
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


def _parquet_rows(column: Any) -> tuple[np.ndarray, int]:
    """The list column ``embedding`` (one chunk) as a 2-D array in its stored dtype, and its width.

    Refuses missing rows and rows of different lengths instead of letting a
    flatten-and-reshape misalign the samples.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(column)
    if column.null_count:
        raise _NullRows(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False)))
    if pa.types.is_fixed_size_list(column.type):
        width = int(column.type.list_size)
    else:
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        width = int(lengths[0]) if n else 0
        if n and (lengths != width).any():
            raise _RaggedRows(lengths)
    values = column.flatten().to_numpy(zero_copy_only=False)
    return values.reshape(n, width), width


class _NullRows(Exception):
    """Internal: rows of the Parquet column ``embedding`` are null (reported with the file)."""

    def __init__(self, rows: np.ndarray) -> None:
        super().__init__()
        self.rows = rows


class _RaggedRows(Exception):
    """Internal: rows of the Parquet column ``embedding`` differ in length (reported with the file)."""

    def __init__(self, lengths: np.ndarray) -> None:
        super().__init__()
        self.lengths = lengths


def _embedding_column_error(path: str, exc: Exception, start: int = 0) -> errors.FairauditInputError:
    if isinstance(exc, _NullRows):
        return errors.FairauditInputError(errors.PARQUET_EMBEDDING_NULL.format(
            path=path, count=exc.rows.size, rows=_first(exc.rows + start)))
    assert isinstance(exc, _RaggedRows)
    distinct = sorted({int(v) for v in np.unique(exc.lengths)})
    shown = ", ".join(str(v) for v in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
    odd = np.flatnonzero(exc.lengths != exc.lengths[0])
    return errors.FairauditInputError(errors.PARQUET_EMBEDDING_RAGGED.format(
        path=path, lengths=f"lengths seen: {shown}", rows=_first(odd + start)))


def _numeric_list_type(field_type: Any) -> bool:
    import pyarrow as pa

    if not (pa.types.is_fixed_size_list(field_type) or pa.types.is_list(field_type)
            or pa.types.is_large_list(field_type)):
        return False
    value = field_type.value_type
    return pa.types.is_floating(value) or pa.types.is_integer(value)


class ParquetEmbeddings:
    """The ``embedding`` column of a Parquet file, read one row group at a time.

    What an out-of-core :class:`EmbeddingSet` loaded with
    ``EmbeddingSet.load(path, out_of_core=True)`` holds instead of an array:
    memory is bounded by the largest row group, not by the file.
    """

    def __init__(self, path: str | os.PathLike):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = str(path)
        meta = pq.ParquetFile(self.path)
        field = meta.schema_arrow.field("embedding")
        if not (pa.types.is_fixed_size_list(field.type) and _numeric_list_type(field.type)):
            raise errors.FairauditInputError(
                errors.PARQUET_NOT_FIXED_SIZE.format(path=self.path, type=field.type))
        self.shape = (int(meta.metadata.num_rows), int(field.type.list_size))
        self.dtype = np.dtype(field.type.value_type.to_pandas_dtype())
        self.num_row_groups = meta.num_row_groups

    def iter_blocks(self, *, raw: bool = False):
        """``(start, float32 array)`` for every row group, in file order (``raw=True``: as stored)."""
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(self.path)
        start = 0
        for rg in range(meta.num_row_groups):
            col = meta.read_row_group(rg, columns=["embedding"]).column("embedding").combine_chunks()
            try:
                block, _ = _parquet_rows(col)
            except (_NullRows, _RaggedRows) as exc:
                raise _embedding_column_error(self.path, exc, start) from None
            yield start, (block if raw else np.asarray(block, dtype=np.float32))
            start += len(col)

    def to_array(self) -> np.ndarray:
        out = np.empty(self.shape, dtype=np.float32)
        for start, block in self.iter_blocks():
            out[start:start + len(block)] = block
        return out


def _array_blocks(array: np.ndarray, rows: int | None = None, *, raw: bool = False):
    rows = rows or BLOCK_ROWS
    for start in range(0, array.shape[0], rows):
        block = array[start:start + rows]
        yield start, (np.asarray(block) if raw else np.asarray(block, dtype=np.float32))


#: the largest finite float32
_F32_MAX = float(np.finfo(np.float32).max)


def _check_rows_streaming(blocks, n: int) -> np.ndarray:
    """Finite values inside float32's range and non-zero norms, one block at a time (so an
    out-of-core set is never loaded whole); ``blocks`` yield the values as stored. Returns the
    float64 norms of the float32 rows."""
    norms = np.empty(n, dtype=np.float64)
    found: dict[str, list[int]] = {"bad": [], "big": [], "tiny": [], "zero": []}
    counts = dict.fromkeys(found, 0)

    def note(kind: str, rows: np.ndarray, start: int) -> None:
        counts[kind] += rows.size
        found[kind] += (rows[:5] + start).tolist()

    for start, raw in blocks:
        with np.errstate(over="ignore", under="ignore"):
            block = np.asarray(raw, dtype=np.float32)
        rows = np.flatnonzero(~np.isfinite(block).all(axis=1))
        if rows.size:
            # finite as stored but not in float32: beyond float32's range, not NaN or inf
            big = np.isfinite(raw[rows]).all(axis=1)
            note("big", rows[big], start)
            note("bad", rows[~big], start)
        nrm = np.linalg.norm(block.astype(np.float64), axis=1)
        norms[start:start + len(block)] = nrm
        z = np.flatnonzero(nrm == 0)
        if z.size:
            tiny = np.any(np.asarray(raw[z]) != 0, axis=1)
            note("tiny", z[tiny], start)
            note("zero", z[~tiny], start)
    if counts["bad"]:
        raise errors.FairauditInputError(errors.NON_FINITE_ROWS.format(count=counts["bad"], rows=found["bad"][:5]))
    if counts["big"]:
        raise errors.FairauditInputError(errors.EMB_OUT_OF_FLOAT32.format(
            count=counts["big"], rows=found["big"][:5], problem="exceed", becomes="inf"))
    if counts["tiny"]:
        raise errors.FairauditInputError(errors.EMB_OUT_OF_FLOAT32.format(
            count=counts["tiny"], rows=found["tiny"][:5], problem="all fall below",
            becomes="zeros"))
    if counts["zero"]:
        raise errors.FairauditInputError(errors.ZERO_NORM_ROWS.format(count=counts["zero"], rows=found["zero"][:5]))
    return norms


def _first(rows: np.ndarray, k: int = 5) -> list[int]:
    return [int(r) for r in rows[:k]]


def _label_values(values: Any, *, name: str, n: int, per: str = "embedding row") -> Any:
    """``values`` if it can be one label per row (1-D, not a bare string or scalar), else an error."""
    if isinstance(values, (str, bytes)) or not (hasattr(values, "__len__") or hasattr(values, "__iter__")):
        shown = repr(values) if len(repr(values)) <= 40 else repr(values)[:37] + "..."
        raise errors.FairauditInputError(errors.LABEL_NOT_SEQUENCE.format(
            name=name, per=per, type=type(values).__name__, value=shown))
    if isinstance(values, (np.ndarray, pd.Series, pd.DataFrame)) and values.ndim != 1:
        raise errors.FairauditInputError(errors.LABEL_NOT_SEQUENCE.format(
            name=name, per=per, type=type(values).__name__,
            value=f"a {values.ndim}-D table of shape {tuple(values.shape)}"))
    return values


def check_label_text(labels: np.ndarray, *, name: str, what: str) -> None:
    """Refuse empty or blank labels, and labels that differ only by surrounding spaces.

    ``labels`` is an array of str; ``what`` names what the labels make
    ("identities", "groups") for the message. The check runs on the distinct
    values, so it costs little even for millions of rows.
    """
    uniques = np.asarray(pd.unique(np.asarray(labels, dtype=object)), dtype=object)
    stripped = np.array([u.strip() for u in uniques], dtype=object)
    blank = uniques[stripped == ""]
    if blank.size:
        rows = np.flatnonzero(np.isin(np.asarray(labels, dtype=object), blank))
        raise errors.FairauditInputError(errors.EMPTY_VALUES.format(
            name=name, count=rows.size, rows=_first(rows)))
    clash = pd.Series(stripped).duplicated(keep=False).to_numpy()
    if clash.any():
        examples = [" and ".join(repr(str(v)) for v in sorted(uniques[stripped == key]))
                    for key in pd.unique(stripped[clash])[:3]]
        raise errors.FairauditInputError(errors.LABELS_DIFFER_BY_SPACE.format(
            name=name, examples="; ".join(examples), what=what))


def _as_labels(values: Any, *, name: str, n: int, what: str | None = None) -> np.ndarray:
    """Return ``values`` as a 1-D array of str, refusing missing values (and, when ``what``
    names what the labels define, empty ones and near-duplicates)."""
    values = _label_values(values, name=name, n=n)
    arr = pd.Series(list(values) if not isinstance(values, (pd.Series, np.ndarray)) else values)
    if len(arr) != n:
        raise errors.FairauditInputError(
            errors.LENGTH_MISMATCH.format(name=name, got=len(arr), n=n)
        )
    missing = np.flatnonzero(arr.isna().to_numpy())
    if missing.size:
        raise errors.FairauditInputError(
            errors.MISSING_VALUES.format(name=name, count=missing.size, rows=_first(missing))
        )
    labels = arr.astype(str).to_numpy(dtype=str)
    if what is not None:
        check_label_text(labels, name=name, what=what)
    return labels


def _read_failures(text: str) -> pd.DataFrame:
    import io

    frame = pd.read_json(io.StringIO(text), orient="split", dtype=False)
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("not a table")
    return frame.astype(str)


def _check_unique_names(names: list[str]) -> None:
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise errors.FairauditInputError(errors.ATTRIBUTE_NAMES_CLASH.format(names=repeated))


def check_identity_constant(identity: np.ndarray, attributes: pd.DataFrame) -> None:
    """Raise if any attribute value changes between the samples of one identity."""
    if attributes.shape[1] == 0:
        return
    frame = attributes.copy()
    frame["__identity__"] = identity
    counts = frame.groupby("__identity__", sort=True).nunique()
    for column in attributes.columns:
        bad = counts.index[counts[column].to_numpy() > 1]
        if len(bad):
            ident = bad[0]
            values = sorted(set(attributes.loc[identity == ident, column]))
            raise errors.FairauditInputError(
                errors.ATTRIBUTE_NOT_CONSTANT.format(column=column, identity=ident, values=values)
            )


class EmbeddingSet:
    """Face embeddings with one identity label and demographic attributes per sample.

    This is the hinge of fairaudit: a user with embeddings starts here; a user
    with images gets here through an extractor.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
        One embedding per face image. Stored as float32. Scores between two
        samples are cosine similarities: rows are L2-normalised internally, so
        scaling a row changes nothing.
    identity : array-like of shape (n_samples,)
        Who each sample shows. Stored as strings.
    attributes : DataFrame or mapping, optional
        Demographic attributes (e.g. ``gender``, ``ethnicity``), one row per
        sample. Values are stored as strings. An identity must have the same
        value of every attribute on all its samples.
    path : array-like of shape (n_samples,), optional
        The image each embedding came from.
    failures : DataFrame, optional
        Samples that could not be acquired (unreadable image, no face found):
        columns ``path``, ``identity``, ``reason`` and the attribute columns.
        They are not embeddings, but they are not dropped either: the
        failure-to-acquire rate per group is itself a fairness figure
        (ISO/IEC 19795-10).

    Raises
    ------
    FairauditInputError
        On a wrong shape or length, a dtype that is not real numbers (complex,
        text, dates; bool is accepted as 0/1), NaN or inf, values beyond
        float32's range, a zero-norm row, fewer than two identities, a missing,
        empty or blank label, labels that differ only by surrounding spaces, or
        an identity whose attributes change.

    Examples
    --------
    >>> import numpy as np, fairaudit
    >>> es = fairaudit.EmbeddingSet(np.eye(4, 8) + 0.1, identity=["a", "a", "b", "b"],
    ...                             attributes={"gender": ["F", "F", "M", "M"]})
    >>> len(es), es.n_identities
    (4, 2)
    """

    def __init__(
        self,
        embeddings: Any,
        *,
        identity: Any,
        attributes: pd.DataFrame | Mapping[str, Any] | None = None,
        path: Any = None,
        failures: pd.DataFrame | None = None,
    ) -> None:
        if isinstance(embeddings, (np.memmap, ParquetEmbeddings)):
            # out of core: checked block by block, never loaded whole
            shape = tuple(embeddings.shape)
            if len(shape) != 2:
                raise errors.FairauditInputError(errors.EMB_NOT_2D.format(shape=shape))
            if isinstance(embeddings, np.memmap):
                _check_npy_dtype(embeddings.dtype, embeddings.filename)
            n = shape[0]
            if n < 2:
                raise errors.FairauditInputError(errors.EMB_TOO_FEW_ROWS.format(n=n))
            emb = embeddings
            blocks = (emb.iter_blocks(raw=True) if isinstance(emb, ParquetEmbeddings)
                      else _array_blocks(emb, raw=True))
            norms = _check_rows_streaming(blocks, n)
        else:
            try:
                raw = np.asarray(embeddings)
            except (TypeError, ValueError):
                raw = np.asarray(embeddings, dtype=object)
            if raw.ndim != 2:
                raise errors.FairauditInputError(errors.EMB_NOT_2D.format(shape=raw.shape))
            if raw.dtype.kind == "c":
                raise errors.FairauditInputError(errors.EMB_COMPLEX.format(dtype=raw.dtype))
            # bool is accepted: binary codes are vectors of 0/1, whose cosine is well defined
            if raw.dtype.kind not in "biuf":
                raise errors.FairauditInputError(errors.EMB_NOT_NUMERIC.format(dtype=raw.dtype))
            n = raw.shape[0]
            if n < 2:
                raise errors.FairauditInputError(errors.EMB_TOO_FEW_ROWS.format(n=n))
            norms = _check_rows_streaming(_array_blocks(raw, raw=True), n)
            emb = np.ascontiguousarray(raw, dtype=np.float32)
        ident = _as_labels(identity, name="identity", n=n, what="identities")
        if np.unique(ident).size < 2:
            raise errors.FairauditInputError(
                errors.TOO_FEW_IDENTITIES.format(n=np.unique(ident).size)
            )

        if attributes is None:
            attrs = pd.DataFrame(index=pd.RangeIndex(n))
        elif isinstance(attributes, pd.DataFrame):
            attrs = attributes.reset_index(drop=True)
        elif isinstance(attributes, Mapping):
            _check_unique_names([str(k) for k in attributes])
            columns = {}
            for key, values in attributes.items():
                name = f"attribute {str(key)!r}"
                values = _label_values(values, name=name, n=n)
                values = values if isinstance(values, (np.ndarray, pd.Series)) else list(values)
                if len(values) != n:  # named here: a DataFrame would only say "not the same length"
                    raise errors.FairauditInputError(
                        errors.LENGTH_MISMATCH.format(name=name, got=len(values), n=n))
                columns[str(key)] = np.asarray(values) if isinstance(values, pd.Series) else values
            attrs = pd.DataFrame(columns, index=pd.RangeIndex(n))
        else:
            raise errors.FairauditInputError(
                errors.ATTRIBUTES_NOT_TABLE.format(type=type(attributes).__name__)
            )
        if attrs.shape[1] and len(attrs) != n:
            raise errors.FairauditInputError(
                errors.LENGTH_MISMATCH.format(name="attributes", got=len(attrs), n=n)
            )
        _check_unique_names([str(c) for c in attrs.columns])
        clean = {}
        for i, column in enumerate(attrs.columns):
            if str(column) in _RESERVED:
                raise errors.FairauditInputError(
                    errors.ATTRIBUTE_RESERVED.format(column=column, reserved=", ".join(_RESERVED))
                )
            clean[str(column)] = _as_labels(attrs.iloc[:, i].to_numpy(), name=f"attribute {str(column)!r}",
                                            n=n, what="groups")
        attrs = pd.DataFrame(clean, index=pd.RangeIndex(n))
        check_identity_constant(ident, attrs)

        self._embeddings = emb
        if isinstance(emb, np.ndarray) and emb.flags.writeable:
            emb.flags.writeable = False
        self._norms = norms
        self._identity = ident
        self._identity.flags.writeable = False
        self._attributes = attrs
        self._path = None if path is None else _as_labels(path, name="path", n=n)
        if failures is not None and not isinstance(failures, pd.DataFrame):
            raise errors.FairauditInputError(
                f"failures must be a DataFrame or None; got {type(failures).__name__}. Fix: pass "
                "pd.DataFrame({'path': ..., 'identity': ..., 'reason': ...})."
            )
        self._failures = (pd.DataFrame(columns=["path", "identity", "reason"]) if failures is None
                          else failures.reset_index(drop=True).astype(str))

    # -- read-only views -------------------------------------------------
    @property
    def embeddings(self) -> np.ndarray:
        """The embeddings as given, float32, shape (n_samples, n_features) (read-only).

        For an out-of-core set this is the memory map of its ``.npy`` file (any
        float dtype), or, for a Parquet file opened out of core, the whole
        column read into memory: prefer :meth:`iter_blocks` for large sets.
        """
        if isinstance(self._embeddings, ParquetEmbeddings):
            return self._embeddings.to_array()
        return self._embeddings

    @property
    def out_of_core(self) -> bool:
        """True when the embeddings stay on disk (a memory-mapped ``.npy`` or Parquet row groups)."""
        return isinstance(self._embeddings, (np.memmap, ParquetEmbeddings))

    def iter_blocks(self, *, normalized: bool = True, rows: int | None = None):
        """Yield ``(start, block)``: consecutive rows as float32, L2-normalised unless told not to.

        The verification engine reads embeddings this way, so an out-of-core
        set is never held in memory whole. Normalised blocks equal the
        matching rows of :meth:`normalized`, bit for bit. ``rows`` (default
        ``BLOCK_ROWS``) sets the block size of in-memory and ``.npy`` sets; a
        Parquet file is read one row group at a time.
        """
        source = self._embeddings
        blocks = source.iter_blocks() if isinstance(source, ParquetEmbeddings) else _array_blocks(source, rows)
        for start, block in blocks:
            if normalized:
                block = (block / self._norms[start:start + len(block), None]).astype(np.float32)
            yield start, block

    @property
    def identity(self) -> np.ndarray:
        """Identity label of each sample, as strings (read-only)."""
        return self._identity

    @property
    def attributes(self) -> pd.DataFrame:
        """A copy of the attribute table, one row per sample, string values."""
        return self._attributes.copy()

    @property
    def path(self) -> np.ndarray | None:
        """Image path of each sample, or None."""
        return None if self._path is None else self._path.copy()

    @property
    def failures(self) -> pd.DataFrame:
        """Samples that could not be acquired, with the reason (empty when none)."""
        return self._failures.copy()

    def failure_to_acquire(self, by: str | list[str]) -> pd.DataFrame:
        """Failure-to-acquire rate per group: failures / (failures + acquired samples).

        Returns a DataFrame indexed by group with columns ``n_attempts``,
        ``n_failures`` and ``fta`` (ISO/IEC 19795-10).
        """
        from fairaudit.data.groups import normalize_by

        names = list(normalize_by(by, self.attribute_names))
        ok = self._attributes[names].value_counts().rename("n_acquired")
        missing = [c for c in names if c not in self._failures.columns]
        if missing and len(self._failures):
            raise errors.FairauditInputError(
                f"failures lack the attribute column(s) {missing}, so the failure-to-acquire rate per "
                "group cannot be computed. Fix: record every attribute with each failure."
            )
        bad = (self._failures[names].value_counts().rename("n_failures") if len(self._failures)
               else pd.Series(dtype=np.int64, name="n_failures"))
        table = pd.concat([ok, bad], axis=1).fillna(0).astype(np.int64).sort_index()
        table["n_attempts"] = table["n_acquired"] + table["n_failures"]
        table["fta"] = table["n_failures"] / table["n_attempts"]
        if len(names) == 1:  # one attribute: a plain index, like verification results
            table.index = pd.Index(table.index.get_level_values(0), name=names[0])
        return table[["n_attempts", "n_failures", "fta"]]

    @property
    def attribute_names(self) -> list[str]:
        return list(self._attributes.columns)

    @property
    def n_identities(self) -> int:
        return int(np.unique(self._identity).size)

    @property
    def n_features(self) -> int:
        return int(self._embeddings.shape[1])

    def __len__(self) -> int:
        return int(self._embeddings.shape[0])

    def __repr__(self) -> str:
        attrs = ", ".join(self.attribute_names) or "none"
        return (
            f"EmbeddingSet(n_samples={len(self)}, n_identities={self.n_identities}, "
            f"n_features={self.n_features}, attributes=[{attrs}])"
        )

    def normalized(self) -> np.ndarray:
        """L2-normalised embeddings (float32), so that dot products are cosine scores."""
        emb = self.embeddings
        return (np.asarray(emb, dtype=np.float32) / self._norms[:, None]).astype(np.float32)

    def column(self, name: str) -> np.ndarray:
        """One attribute column as an array of str, or ``identity``."""
        if name == "identity":
            return self._identity
        if name not in self._attributes.columns:
            raise errors.FairauditInputError(
                errors.UNKNOWN_ATTRIBUTE.format(
                    name="attribute", value=name, available=self.attribute_names
                )
            )
        return self._attributes[name].to_numpy()

    def subset(self, index: Any) -> "EmbeddingSet":
        """A new EmbeddingSet with the rows selected by ``index`` (indices or a boolean mask)."""
        idx = np.arange(len(self))[np.asarray(index)]
        return EmbeddingSet(
            np.asarray(self.embeddings[idx], dtype=np.float32),
            identity=self._identity[idx],
            attributes=self._attributes.iloc[idx].reset_index(drop=True),
            path=None if self._path is None else self._path[idx],
            failures=self._failures,
        )

    # -- files -----------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the set to ``.npz`` (no pickles) or ``.parquet``, atomically.

        Returns the path written. A path that cannot be written (a directory,
        a path under a regular file, no permission) raises
        :class:`~fairaudit.io.OutputPathError`.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".npz", ".parquet"):
            raise errors.FairauditInputError(
                errors.FILE_SUFFIX.format(name="path", path=str(path), suffix=suffix,
                                          expected="'.npz', '.parquet'")
            )
        check_output(path, name="path")
        try:
            if suffix == ".npz":
                self._save_npz(path)
            else:
                self._save_parquet(path)
        except OSError as exc:  # e.g. the disk filled up, or the directory went away meanwhile
            raise OutputPathError(OUTPUT_NOT_WRITABLE.format(
                name="path", path=str(path), why=exc.strerror or type(exc).__name__,
                what="file")) from None
        return path

    def _save_npz(self, path: Path) -> None:
        arrays = {
            "embeddings": np.asarray(self.embeddings, dtype=np.float32),
            "identity": self._identity.astype(str),
            "attribute_names": np.array(self.attribute_names, dtype=str),
            "format_version": np.array(_FORMAT_VERSION),
        }
        for i, column in enumerate(self.attribute_names):
            arrays[f"attribute_{i}"] = self._attributes[column].to_numpy(dtype=str)
        if self._path is not None:
            arrays["path"] = self._path.astype(str)
        if len(self._failures):
            arrays["failures_json"] = np.array(self._failures.to_json(orient="split"))
        with atomic_write(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

    def _save_parquet(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = {
            "identity": pa.array(self._identity.astype(str)),
            "embedding": pa.FixedSizeListArray.from_arrays(
                pa.array(np.asarray(self.embeddings, dtype=np.float32).ravel()), self.n_features
            ),
        }
        for column in self.attribute_names:
            cols[column] = pa.array(self._attributes[column].to_numpy(dtype=str))
        if self._path is not None:
            cols["path"] = pa.array(self._path.astype(str))
        meta = {b"fairaudit": json.dumps({
            "format_version": _FORMAT_VERSION, "attributes": self.attribute_names,
            "failures": self._failures.to_json(orient="split") if len(self._failures) else None,
        }).encode()}
        table = pa.table(cols).replace_schema_metadata(meta)
        with atomic_write(path) as tmp:
            pq.write_table(table, tmp, row_group_size=BLOCK_ROWS)

    @classmethod
    def from_npy(cls, file: str | os.PathLike, *, identity: Any, attributes: Any = None, path: Any = None,
                 failures: pd.DataFrame | None = None) -> "EmbeddingSet":
        """An out-of-core set: embeddings memory-mapped from a ``.npy`` file, labels in memory.

        Memory is bounded by the labels (a few bytes per sample) and one block
        of rows, not by the embeddings: the verification engine streams them.
        ``identity``, ``attributes`` and ``path`` are as for the constructor,
        one per row of the file. The file must hold floats (float16, float32
        or float64); an error about the embeddings or labels names the file.
        """
        file = Path(file)
        if not file.exists():
            raise errors.FairauditInputError(errors.FILE_NOT_FOUND.format(name="file", path=str(file)))
        if file.suffix.lower() != ".npy" and not file.is_dir():
            raise errors.FairauditInputError(
                errors.FILE_SUFFIX.format(name="file", path=str(file), suffix=file.suffix, expected="'.npy'")
            )
        check_input_file(file, name="file", kind="a .npy", magic=_NPY_MAGIC, suffix=".npy",
                         writer="numpy.save()")
        shape, dtype, offset = _npy_header(file)
        _check_npy_dtype(dtype, str(file))
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        have = file.stat().st_size - offset
        if have < need:
            raise errors.FairauditInputError(errors.NPY_TRUNCATED.format(
                path=str(file), shape=shape, dtype=dtype, need=need, have=have))
        try:
            mm = np.load(file, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise errors.FairauditInputError(
                errors.NPY_UNREADABLE.format(path=str(file), detail=str(exc).strip())) from None
        if not isinstance(mm, np.memmap):  # a 0-byte payload cannot be mapped; numpy returns an array
            mm = np.asarray(mm)
        return _in_file(file, lambda: cls(mm, identity=identity, attributes=attributes, path=path,
                                          failures=failures))

    @classmethod
    def load(cls, path: str | os.PathLike, *, out_of_core: bool = False) -> "EmbeddingSet":
        """Read a set written by :meth:`save` (``.npz`` or ``.parquet``).

        With ``out_of_core=True`` a Parquet file's embeddings stay on disk and
        are read one row group at a time (labels are read whole); an ``.npz``
        cannot be read that way (use :meth:`from_npy`).

        A damaged or hand-edited file (empty, of another format, with a missing
        or misshapen array, arrays of different lengths, invalid stored JSON)
        raises :class:`~fairaudit.errors.FairauditInputError` naming the file
        and what is wrong; so does any problem with its content (NaN, a missing
        label, ...).
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".npz", ".parquet"):
            if not path.exists():
                raise errors.FairauditInputError(errors.FILE_NOT_FOUND.format(name="path", path=str(path)))
            raise errors.FairauditInputError(
                errors.FILE_SUFFIX.format(name="path", path=str(path), suffix=suffix,
                                          expected="'.npz', '.parquet'")
            )
        if suffix == ".npz":
            check_input_file(path, name="path", kind="an .npz", magic=_ZIP_MAGIC, suffix=".npz",
                             writer="EmbeddingSet.save()")
            if out_of_core:
                raise errors.FairauditInputError(
                    f"out_of_core=True cannot read {str(path)!r}: an .npz is compressed as a whole. Fix: "
                    "save the set as .parquet, or the embeddings as .npy and use EmbeddingSet.from_npy()."
                )
            kwargs = _read_npz(path)
        else:
            check_input_file(path, name="path", kind="a Parquet", magic=_PARQUET_MAGIC,
                             suffix=".parquet", writer="EmbeddingSet.save()")
            kwargs = _read_parquet(path, out_of_core=out_of_core)
        return _in_file(path, lambda: cls(**kwargs))


def _in_file(path: Path, build: Any) -> "EmbeddingSet":
    """Run ``build``; prefix an input error about the content with the file it came from."""
    try:
        return build()
    except errors.FairauditInputError as exc:
        if str(path) in str(exc):  # already names the file
            raise
        raise errors.FairauditInputError(errors.IN_FILE.format(path=str(path), message=str(exc))) from None


def _npy_header(file: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` file, read from its header only."""
    fmt = np.lib.format
    try:
        with open(file, "rb") as fh:
            version = fmt.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(fh)
            else:  # numpy writes 3.0 only for non-latin-1 field names; read_array handles it
                shape, _, dtype = fmt._read_array_header(fh, version)
            offset = fh.tell()
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise errors.FairauditInputError(
            errors.NPY_UNREADABLE.format(path=str(file), detail=str(exc).strip() or type(exc).__name__)
        ) from None
    return tuple(int(x) for x in shape), np.dtype(dtype), offset


def _check_npy_dtype(dtype: np.dtype, path: str) -> None:
    """A memory-mapped array must hold real floats: other dtypes cannot be read block by block
    as they are, and complex values would lose their imaginary part."""
    if dtype.kind == "c":
        raise errors.FairauditInputError(
            errors.IN_FILE.format(path=path, message=errors.EMB_COMPLEX.format(dtype=dtype)))
    if dtype.kind != "f" or dtype.hasobject:
        shown = "object (Python objects, readable only with pickle)" if dtype.hasobject else str(dtype)
        raise errors.FairauditInputError(errors.NPY_NOT_FLOAT.format(path=path, dtype=shown))


def _npz_array(path: Path, data: dict[str, Any], key: str, *, ndim: int, expected: str,
               text: bool = False) -> np.ndarray:
    value = data[key]
    if not isinstance(value, np.ndarray):
        raise errors.FairauditInputError(errors.NPZ_UNREADABLE.format(
            path=str(path), detail=f"the member {key!r} is not a numpy array"))
    if value.ndim != ndim:
        raise errors.FairauditInputError(errors.NPZ_ARRAY_SHAPE.format(
            path=str(path), key=key, shape=value.shape, expected=expected))
    if text and value.dtype.kind not in "US":
        raise errors.FairauditInputError(errors.NPZ_ARRAY_DTYPE.format(
            path=str(path), key=key, dtype=value.dtype, expected="text (str)"))
    return value


def _check_format_version(path: Path, version: Any) -> None:
    if version is None:
        return
    if isinstance(version, np.ndarray):
        version = version.item() if version.size == 1 else version.tolist()
    if isinstance(version, (bool, np.bool_)) or not isinstance(version, (int, np.integer)) or version < 1:
        raise errors.FairauditInputError(errors.STORED_JSON_INVALID.format(
            path=str(path), what="format_version", detail=f"{version!r} is not a version number",
            writer="EmbeddingSet.save()"))
    if version > _FORMAT_VERSION:
        raise errors.FairauditInputError(errors.FORMAT_VERSION_NEWER.format(
            path=str(path), version=int(version), supported=_FORMAT_VERSION))


def _failures_from(path: Path, text: Any, where: str) -> pd.DataFrame:
    try:
        if not isinstance(text, str):
            raise TypeError(f"expected a JSON string, got {type(text).__name__}")
        return _read_failures(text)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise errors.FairauditInputError(errors.STORED_JSON_INVALID.format(
            path=str(path), what=where, detail=detail, writer="EmbeddingSet.save()")) from None


def _read_npz(path: Path) -> dict[str, Any]:
    """The constructor arguments stored in an ``.npz``, checked for shape and consistency."""
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:  # own handle: always closed
            data = {k: z[k] for k in z.files}
    except ValueError as exc:  # numpy refuses object arrays without pickle
        if "pickle" in str(exc).lower():
            raise errors.FairauditInputError(errors.NPZ_NEEDS_PICKLE.format(path=str(path))) from None
        raise errors.FairauditInputError(errors.NPZ_UNREADABLE.format(
            path=str(path), detail=str(exc).strip())) from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, RuntimeError) as exc:
        raise errors.FairauditInputError(errors.NPZ_UNREADABLE.format(
            path=str(path), detail=str(exc).strip() or type(exc).__name__)) from None
    for key in ("embeddings", "identity"):
        if key not in data:
            raise errors.FairauditInputError(
                errors.NPZ_MISSING_KEY.format(path=str(path), key=key, keys=sorted(data))
            )
    _check_format_version(path, data.get("format_version"))
    emb = _npz_array(path, data, "embeddings", ndim=2, expected="(n_samples, n_features)")
    lengths = {"embeddings": emb.shape[0]}
    per_sample = {"identity": _npz_array(path, data, "identity", ndim=1, expected="(n_samples,)")}
    names: list[str] = []
    if "attribute_names" in data:
        names = [str(x) for x in _npz_array(path, data, "attribute_names", ndim=1,
                                            expected="(n_attributes,)", text=True)]
        repeated = sorted({x for x in names if names.count(x) > 1})
        if repeated:
            raise errors.FairauditInputError(
                errors.NPZ_ATTRIBUTE_NAMES_REPEATED.format(path=str(path), names=repeated))
    for i, name in enumerate(names):
        key = f"attribute_{i}"
        if key not in data:
            raise errors.FairauditInputError(errors.NPZ_ATTRIBUTE_ARRAY_MISSING.format(
                path=str(path), attribute=name, key=key, keys=sorted(data)))
        per_sample[key] = _npz_array(path, data, key, ndim=1, expected="(n_samples,)")
    if "path" in data:
        per_sample["path"] = _npz_array(path, data, "path", ndim=1, expected="(n_samples,)")
    lengths.update({key: len(value) for key, value in per_sample.items()})
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{key} {n}" for key, n in lengths.items())
        raise errors.FairauditInputError(errors.NPZ_LENGTHS_DIFFER.format(path=str(path), lengths=shown))
    failures = None
    if "failures_json" in data:
        stored = _npz_array(path, data, "failures_json", ndim=0, expected="() (one JSON text)",
                            text=True)
        failures = _failures_from(path, str(stored), "failures_json")
    attrs = {name: per_sample[f"attribute_{i}"] for i, name in enumerate(names)}
    return dict(embeddings=emb, identity=per_sample["identity"], attributes=attrs or None,
                path=per_sample.get("path"), failures=failures)


def _read_parquet(path: Path, *, out_of_core: bool) -> dict[str, Any]:
    """The constructor arguments stored in a Parquet file, checked for types and consistency."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def unreadable(exc: Exception) -> errors.FairauditInputError:
        return errors.FairauditInputError(errors.PARQUET_FILE_UNREADABLE.format(
            path=str(path), detail=str(exc).strip() or type(exc).__name__, writer="EmbeddingSet.save()"))

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(exc) from None
    names = list(schema.names)
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise errors.FairauditInputError(
            errors.PARQUET_DUPLICATE_COLUMNS.format(path=str(path), columns=repeated))
    for key in ("embedding", "identity"):
        if key not in names:
            raise errors.FairauditInputError(
                errors.PARQUET_MISSING_COLUMN.format(path=str(path), key=key, keys=names)
            )
    meta = parquet_metadata(path, schema, writer="EmbeddingSet.save()")
    _check_format_version(path, meta.get("format_version"))
    failures = None
    if meta.get("failures") is not None:
        failures = _failures_from(path, meta["failures"], "failures in the Parquet metadata 'fairaudit'")
    field = schema.field("embedding")
    if not _numeric_list_type(field.type):
        raise errors.FairauditInputError(errors.PARQUET_EMBEDDING_TYPE.format(path=str(path), type=field.type))
    for column in names:
        if column != "embedding" and pa.types.is_nested(schema.field(column).type):
            raise errors.FairauditInputError(errors.PARQUET_LABEL_TYPE.format(
                path=str(path), column=column, type=schema.field(column).type,
                writer="EmbeddingSet.save()"))
    try:
        labels = pq.read_table(path, columns=[c for c in names if c != "embedding"])
        if out_of_core:
            emb: Any = ParquetEmbeddings(path)
        else:
            col = pq.read_table(path, columns=["embedding"]).column("embedding").combine_chunks()
            try:
                emb, _ = _parquet_rows(col)
            except (_NullRows, _RaggedRows) as exc:
                raise _embedding_column_error(str(path), exc) from None
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(exc) from None
    attrs = {c: labels.column(c).to_numpy(zero_copy_only=False) for c in labels.column_names
             if c not in _RESERVED}
    p = labels.column("path").to_numpy(zero_copy_only=False) if "path" in labels.column_names else None
    return dict(embeddings=emb, identity=labels.column("identity").to_numpy(zero_copy_only=False),
                attributes=attrs or None, path=p, failures=failures)


def parquet_metadata(path: str | os.PathLike, schema: Any, *, writer: str) -> dict[str, Any]:
    """The JSON object fairaudit stores under the schema metadata key ``fairaudit`` ({} if none).

    Invalid JSON, or JSON that is not an object, raises
    :class:`~fairaudit.errors.FairauditInputError` naming the file; ``writer``
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
    truncated copy) raises :class:`~fairaudit.errors.FairauditInputError`
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
