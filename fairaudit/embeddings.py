"""EmbeddingSet: face embeddings labelled with identity and demographic attributes."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from . import errors
from .io import atomic_write

_RESERVED = ("identity", "path", "embedding")
_FORMAT_VERSION = 1
#: rows per block when an out-of-core set is read (and per Parquet row group written)
BLOCK_ROWS = 65536


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
        if not pa.types.is_fixed_size_list(field.type):
            raise errors.FairauditInputError(
                f"{self.path!r}: column 'embedding' is {field.type}, not a fixed-size list of floats, so it "
                "cannot be read out of core. Fix: write the file with EmbeddingSet.save()."
            )
        self.shape = (int(meta.metadata.num_rows), int(field.type.list_size))
        self.num_row_groups = meta.num_row_groups

    def iter_blocks(self):
        """``(start, float32 array)`` for every row group, in file order."""
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(self.path)
        start = 0
        for rg in range(meta.num_row_groups):
            col = meta.read_row_group(rg, columns=["embedding"]).column("embedding").combine_chunks()
            block = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), self.shape[1])
            yield start, np.asarray(block, dtype=np.float32)
            start += len(col)

    def to_array(self) -> np.ndarray:
        out = np.empty(self.shape, dtype=np.float32)
        for start, block in self.iter_blocks():
            out[start:start + len(block)] = block
        return out


def _array_blocks(array: np.ndarray, rows: int | None = None):
    rows = rows or BLOCK_ROWS
    for start in range(0, array.shape[0], rows):
        yield start, np.asarray(array[start:start + rows], dtype=np.float32)


def _check_rows_streaming(blocks, n: int) -> np.ndarray:
    """Finite values and non-zero norms, one block at a time (so an out-of-core set is never loaded
    whole); returns the float64 norms."""
    norms = np.empty(n, dtype=np.float64)
    bad: list[int] = []
    zero: list[int] = []
    n_bad = n_zero = 0
    for start, block in blocks:
        rows = np.flatnonzero(~np.isfinite(block).all(axis=1))
        n_bad += rows.size
        bad += (rows[:5] + start).tolist()
        nrm = np.linalg.norm(block.astype(np.float64), axis=1)
        norms[start:start + len(block)] = nrm
        z = np.flatnonzero(nrm == 0)
        n_zero += z.size
        zero += (z[:5] + start).tolist()
    if n_bad:
        raise errors.FairauditInputError(errors.NON_FINITE_ROWS.format(count=n_bad, rows=bad[:5]))
    if n_zero:
        raise errors.FairauditInputError(errors.ZERO_NORM_ROWS.format(count=n_zero, rows=zero[:5]))
    return norms


def _first(rows: np.ndarray, k: int = 5) -> list[int]:
    return [int(r) for r in rows[:k]]


def _as_labels(values: Any, *, name: str, n: int) -> np.ndarray:
    """Return ``values`` as a 1-D array of str, refusing missing values."""
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
    return arr.astype(str).to_numpy(dtype=str)


def _read_failures(text: str) -> pd.DataFrame:
    import io

    return pd.read_json(io.StringIO(text), orient="split", dtype=False).astype(str)


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
        On a wrong shape or length, NaN or inf, a zero-norm row, fewer than two
        identities, a missing label, or an identity whose attributes change.

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
            if isinstance(embeddings, np.memmap) and not np.issubdtype(embeddings.dtype, np.floating):
                raise errors.FairauditInputError(errors.EMB_NOT_NUMERIC.format(dtype=embeddings.dtype)
                                                 + " (an out-of-core .npy must hold floats)")
            n = shape[0]
            if n < 2:
                raise errors.FairauditInputError(errors.EMB_TOO_FEW_ROWS.format(n=n))
            emb = embeddings
            blocks = emb.iter_blocks() if isinstance(emb, ParquetEmbeddings) else _array_blocks(emb)
            norms = _check_rows_streaming(blocks, n)
        else:
            try:
                raw = np.asarray(embeddings)
            except (TypeError, ValueError):
                raw = np.asarray(embeddings, dtype=object)
            if raw.ndim != 2:
                raise errors.FairauditInputError(errors.EMB_NOT_2D.format(shape=raw.shape))
            if not (np.issubdtype(raw.dtype, np.number) or raw.dtype == bool):
                raise errors.FairauditInputError(errors.EMB_NOT_NUMERIC.format(dtype=raw.dtype))
            n = raw.shape[0]
            if n < 2:
                raise errors.FairauditInputError(errors.EMB_TOO_FEW_ROWS.format(n=n))
            emb = np.ascontiguousarray(raw, dtype=np.float32)
            norms = _check_rows_streaming(_array_blocks(emb), n)
        ident = _as_labels(identity, name="identity", n=n)
        if np.unique(ident).size < 2:
            raise errors.FairauditInputError(
                errors.TOO_FEW_IDENTITIES.format(n=np.unique(ident).size)
            )

        if attributes is None:
            attrs = pd.DataFrame(index=pd.RangeIndex(n))
        elif isinstance(attributes, pd.DataFrame):
            attrs = attributes.reset_index(drop=True)
        elif isinstance(attributes, Mapping):
            attrs = pd.DataFrame({str(k): list(v) if not isinstance(v, (np.ndarray, pd.Series)) else v
                                  for k, v in attributes.items()})
        else:
            raise errors.FairauditInputError(
                errors.ATTRIBUTES_NOT_TABLE.format(type=type(attributes).__name__)
            )
        if attrs.shape[1] and len(attrs) != n:
            raise errors.FairauditInputError(
                errors.LENGTH_MISMATCH.format(name="attributes", got=len(attrs), n=n)
            )
        clean = {}
        for column in attrs.columns:
            if str(column) in _RESERVED:
                raise errors.FairauditInputError(
                    errors.ATTRIBUTE_RESERVED.format(column=column, reserved=", ".join(_RESERVED))
                )
            clean[str(column)] = _as_labels(attrs[column].to_numpy(), name=f"attribute {column!r}", n=n)
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
        from .groups import normalize_by

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

        Returns the path written.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".npz":
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
        elif suffix == ".parquet":
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
        else:
            raise errors.FairauditInputError(
                errors.FILE_SUFFIX.format(name="path", path=str(path), suffix=suffix,
                                          expected="'.npz', '.parquet'")
            )
        return path

    @classmethod
    def from_npy(cls, file: str | os.PathLike, *, identity: Any, attributes: Any = None, path: Any = None,
                 failures: pd.DataFrame | None = None) -> "EmbeddingSet":
        """An out-of-core set: embeddings memory-mapped from a ``.npy`` file, labels in memory.

        Memory is bounded by the labels (a few bytes per sample) and one block
        of rows, not by the embeddings: the verification engine streams them.
        ``identity``, ``attributes`` and ``path`` are as for the constructor,
        one per row of the file.
        """
        file = Path(file)
        if not file.exists():
            raise errors.FairauditInputError(errors.FILE_NOT_FOUND.format(name="file", path=str(file)))
        if file.suffix.lower() != ".npy":
            raise errors.FairauditInputError(
                errors.FILE_SUFFIX.format(name="file", path=str(file), suffix=file.suffix, expected="'.npy'")
            )
        try:
            mm = np.load(file, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise errors.FairauditInputError(
                f"file {str(file)!r} cannot be memory-mapped ({exc}). Fix: save a plain numeric array "
                "with numpy.save()."
            ) from None
        return cls(mm, identity=identity, attributes=attributes, path=path, failures=failures)

    @classmethod
    def load(cls, path: str | os.PathLike, *, out_of_core: bool = False) -> "EmbeddingSet":
        """Read a set written by :meth:`save` (``.npz`` or ``.parquet``).

        With ``out_of_core=True`` a Parquet file's embeddings stay on disk and
        are read one row group at a time (labels are read whole); an ``.npz``
        cannot be read that way (use :meth:`from_npy`).
        """
        path = Path(path)
        if not path.exists():
            raise errors.FairauditInputError(errors.FILE_NOT_FOUND.format(name="path", path=str(path)))
        suffix = path.suffix.lower()
        if suffix == ".npz" and out_of_core:
            raise errors.FairauditInputError(
                f"out_of_core=True cannot read {str(path)!r}: an .npz is compressed as a whole. Fix: "
                "save the set as .parquet, or the embeddings as .npy and use EmbeddingSet.from_npy()."
            )
        if suffix == ".npz":
            try:
                with np.load(path, allow_pickle=False) as z:
                    data = {k: z[k] for k in z.files}
            except ValueError as exc:  # numpy refuses object arrays without pickle
                if "pickle" in str(exc).lower():
                    raise errors.FairauditInputError(errors.NPZ_NEEDS_PICKLE.format(path=str(path))) from None
                raise
            except (zipfile.BadZipFile, OSError) as exc:
                raise errors.FairauditInputError(
                    f"{str(path)!r} is not a readable .npz file ({exc}). Fix: write it with EmbeddingSet.save()."
                ) from None
            for key in ("embeddings", "identity"):
                if key not in data:
                    raise errors.FairauditInputError(
                        errors.NPZ_MISSING_KEY.format(path=str(path), key=key, keys=sorted(data))
                    )
            names = [str(x) for x in data.get("attribute_names", np.array([], dtype=str))]
            attrs = {name: data[f"attribute_{i}"] for i, name in enumerate(names)}
            failures = _read_failures(str(data["failures_json"])) if "failures_json" in data else None
            return cls(data["embeddings"], identity=data["identity"],
                       attributes=attrs or None, path=data.get("path"), failures=failures)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            for key in ("embedding", "identity"):
                if key not in schema.names:
                    raise errors.FairauditInputError(
                        errors.PARQUET_MISSING_COLUMN.format(path=str(path), key=key, keys=schema.names)
                    )
            labels = pq.read_table(path, columns=[c for c in schema.names if c != "embedding"])
            if out_of_core:
                emb: Any = ParquetEmbeddings(path)
            else:
                col = pq.read_table(path, columns=["embedding"]).column("embedding").combine_chunks()
                emb = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), -1)
            names = [c for c in labels.column_names if c not in _RESERVED]
            attrs = {c: labels.column(c).to_numpy(zero_copy_only=False) for c in names}
            p = labels.column("path").to_numpy(zero_copy_only=False) if "path" in labels.column_names else None
            meta = json.loads((schema.metadata or {}).get(b"fairaudit", b"{}"))
            failures = _read_failures(meta["failures"]) if meta.get("failures") else None
            return cls(emb, identity=labels.column("identity").to_numpy(zero_copy_only=False),
                       attributes=attrs or None, path=p, failures=failures)
        raise errors.FairauditInputError(
            errors.FILE_SUFFIX.format(name="path", path=str(path), suffix=suffix,
                                      expected="'.npz', '.parquet'")
        )
