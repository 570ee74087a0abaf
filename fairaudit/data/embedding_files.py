"""The files of an EmbeddingSet: ``.npz`` and ``.parquet`` read and written, a ``.npy``
memory-mapped, and a Parquet ``embedding`` column read one row group at a time
(:class:`ParquetEmbeddings`, what an out-of-core set holds instead of an array).

Every reader checks what it reads and raises a one-line
:class:`~fairaudit.FairauditInputError` naming the file; :class:`EmbeddingSet` then
checks the content.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.files import OUTPUT_NOT_WRITABLE, OutputPathError, atomic_write, check_output
from fairaudit.data.input_files import (_NPY_MAGIC, _PARQUET_MAGIC, _ZIP_MAGIC, check_input_file,
                                        parquet_metadata)
from fairaudit.data.covariates import covariates_to_json, kinds_from_json
from fairaudit.data.labels import _RESERVED, _first

if TYPE_CHECKING:
    from fairaudit.data.embedding_set import EmbeddingSet

_FORMAT_VERSION = 1


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


def save(es: "EmbeddingSet", path: str | os.PathLike, *, row_group_size: int) -> Path:
    """Write ``es`` to ``.npz`` or ``.parquet`` (row groups of ``row_group_size`` rows), atomically."""
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
            _save_npz(es, path)
        else:
            _save_parquet(es, path, row_group_size)
    except OSError as exc:  # e.g. the disk filled up, or the directory went away meanwhile
        raise OutputPathError(OUTPUT_NOT_WRITABLE.format(
            name="path", path=str(path), why=exc.strerror or type(exc).__name__,
            what="file")) from None
    return path


def _save_npz(es: "EmbeddingSet", path: Path) -> None:
    arrays = {
        "embeddings": np.asarray(es.embeddings, dtype=np.float32),
        "identity": es._identity.astype(str),
        "attribute_names": np.array(es.attribute_names, dtype=str),
        "format_version": np.array(_FORMAT_VERSION),
    }
    for i, column in enumerate(es.attribute_names):
        arrays[f"attribute_{i}"] = es._attributes[column].to_numpy(dtype=str)
    if es._path is not None:
        arrays["path"] = es._path.astype(str)
    if len(es._failures):
        arrays["failures_json"] = np.array(es._failures.to_json(orient="split"))
    if es._value_labels:
        arrays["value_labels_json"] = np.array(json.dumps(es._value_labels, ensure_ascii=False))
    if es._metadata:
        arrays["metadata_json"] = np.array(json.dumps(es._metadata, ensure_ascii=False))
    if es._covariate_kinds:
        arrays["covariates_json"] = np.array(json.dumps(covariates_to_json(es._covariate_kinds)))
        for i, (name, kind) in enumerate(es._covariate_kinds.items()):
            arrays[f"covariate_{i}"] = es._covariates[name].to_numpy(
                dtype=np.float64 if kind == "numeric" else str)
    with atomic_write(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _save_parquet(es: "EmbeddingSet", path: Path, row_group_size: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {
        "identity": pa.array(es._identity.astype(str)),
        "embedding": pa.FixedSizeListArray.from_arrays(
            pa.array(np.asarray(es.embeddings, dtype=np.float32).ravel()), es.n_features
        ),
    }
    for column in es.attribute_names:
        cols[column] = pa.array(es._attributes[column].to_numpy(dtype=str))
    if es._path is not None:
        cols["path"] = pa.array(es._path.astype(str))
    for name, kind in es._covariate_kinds.items():
        cols[name] = pa.array(es._covariates[name].to_numpy(dtype=np.float64 if kind == "numeric" else str))
    meta = {b"fairaudit": json.dumps({
        "covariates": covariates_to_json(es._covariate_kinds) or None,
        "format_version": _FORMAT_VERSION, "attributes": es.attribute_names,
        "failures": es._failures.to_json(orient="split") if len(es._failures) else None,
        "value_labels": es._value_labels or None, "metadata": es._metadata or None,
    }).encode()}
    table = pa.table(cols).replace_schema_metadata(meta)
    with atomic_write(path) as tmp:
        pq.write_table(table, tmp, row_group_size=row_group_size)


def from_npy(cls: "type[EmbeddingSet]", file: str | os.PathLike, *, identity: Any, attributes: Any,
             path: Any, failures: pd.DataFrame | None, **labels: Any) -> "EmbeddingSet":
    """:meth:`EmbeddingSet.from_npy`: ``cls`` built on the memory map of ``file``."""
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
                                      failures=failures, **labels))


def load(cls: "type[EmbeddingSet]", path: str | os.PathLike, *, out_of_core: bool) -> "EmbeddingSet":
    """:meth:`EmbeddingSet.load`: ``cls`` built from the ``.npz`` or ``.parquet`` file ``path``."""
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


def _read_failures(text: str) -> pd.DataFrame:
    import io

    frame = pd.read_json(io.StringIO(text), orient="split", dtype=False)
    if not isinstance(frame, pd.DataFrame):
        raise ValueError("not a table")
    return frame.astype(str)


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
    kinds: dict[str, str] = {}
    if "covariates_json" in data:
        kinds = kinds_from_json(_stored_json(path, str(_npz_array(
            path, data, "covariates_json", ndim=0, expected="() (one JSON text)", text=True)),
            "covariates_json"), where=str(path))
    for i, name in enumerate(kinds):
        key = f"covariate_{i}"
        if key not in data:
            raise errors.FairauditInputError(errors.NPZ_ATTRIBUTE_ARRAY_MISSING.format(
                path=str(path), attribute=name, key=key, keys=sorted(data)))
        per_sample[key] = _npz_array(path, data, key, ndim=1, expected="(n_samples,)")
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
    extra = {key: _stored_json(path, str(_npz_array(path, data, f"{key}_json", ndim=0,
                                                     expected="() (one JSON text)", text=True)), f"{key}_json")
             for key in ("value_labels", "metadata") if f"{key}_json" in data}
    covs = {name: per_sample[f"covariate_{i}"] for i, name in enumerate(kinds)}
    return dict(embeddings=emb, identity=per_sample["identity"], attributes=attrs or None,
                path=per_sample.get("path"), failures=failures, covariates=covs or None,
                covariate_kinds=kinds or None, **extra)


def _stored_json(path: Path, text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise errors.FairauditInputError(errors.STORED_JSON_INVALID.format(
            path=str(path), what=where, detail=str(exc), writer="EmbeddingSet.save()")) from None


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
    kinds = (kinds_from_json(meta["covariates"], where=str(path)) if meta.get("covariates") is not None
             else {})
    missing = [c for c in kinds if c not in labels.column_names]
    if missing:
        raise errors.FairauditInputError(errors.PARQUET_MISSING_COLUMN.format(
            path=str(path), key=missing[0], keys=names))
    covs = {c: labels.column(c).to_numpy(zero_copy_only=False) for c in kinds}
    attrs = {c: labels.column(c).to_numpy(zero_copy_only=False) for c in labels.column_names
             if c not in _RESERVED and c not in kinds}
    p = labels.column("path").to_numpy(zero_copy_only=False) if "path" in labels.column_names else None
    return dict(embeddings=emb, identity=labels.column("identity").to_numpy(zero_copy_only=False),
                attributes=attrs or None, path=p, failures=failures,
                value_labels=meta.get("value_labels"), metadata=meta.get("metadata"),
                covariates=covs or None, covariate_kinds=kinds or None)
