"""EmbeddingSet: face embeddings labelled with identity and demographic attributes.

The class checks and holds the data; its files are read and written by
:mod:`fairaudit.data.embedding_files`, its labels checked by :mod:`fairaudit.data.labels`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data import embedding_files as _files
from fairaudit.data.embedding_files import ParquetEmbeddings, _check_npy_dtype
from fairaudit.data.covariates import check_covariates
from fairaudit.data.labels import (_RESERVED, _as_labels, _check_unique_names, _label_values,
                                   check_identity_constant)
# the codebook and metadata checks moved to labels.py; importable from here as before
from fairaudit.data.labels import (METADATA_NOT_JSON, VALUE_LABEL_NOT_TEXT,  # noqa: F401
                                   VALUE_LABELS_NOT_MAPPING, VALUE_LABELS_UNKNOWN_ATTRIBUTE,
                                   check_metadata, check_value_labels)

# names this module defined before its files and labels moved out, importable from here as before
from fairaudit.data.input_files import check_input_file, parquet_has_embeddings, parquet_metadata  # noqa: F401
from fairaudit.data.labels import check_label_text  # noqa: F401

#: rows per block when an out-of-core set is read (and per Parquet row group written)
BLOCK_ROWS = 65536

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
    value_labels : mapping, optional
        A codebook per attribute, ``{attribute: {value: readable name}}``,
        e.g. DiveFace's ``{"gender": {"H": "man", "M": "woman"}}``. Reports
        show ``"woman (M)"``. Kept by :meth:`subset` and saved with the set.
    metadata : mapping, optional
        JSON-safe facts saved with the set (synthetic populations store
        ``"planted"``, the biases they were generated with).
    covariates : DataFrame or mapping, optional
        What varies per sample (age at capture, a quality score, pose,
        illumination, capture device, a skin-tone scale), one row per sample:
        numbers are numeric covariates, text and bool categorical ones. Unlike
        attributes they may change between the samples of one identity.
        Missing values are refused (see :mod:`fairaudit.data.covariates`).
    covariate_kinds : mapping, optional
        ``{name: "numeric" | "categorical"}`` where the values mislead, e.g. a
        device coded 1, 2, 3 is categorical.

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
        value_labels: Mapping[str, Mapping[Any, str]] | None = None,
        metadata: Mapping[str, Any] | None = None,
        covariates: pd.DataFrame | Mapping[str, Any] | None = None,
        covariate_kinds: Mapping[str, str] | None = None,
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
        self._value_labels = check_value_labels(value_labels, list(attrs.columns))
        self._metadata = check_metadata(metadata)
        self._covariates, self._covariate_kinds = check_covariates(
            covariates, n, taken=list(attrs.columns), kinds=covariate_kinds)

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
    def value_labels(self) -> dict[str, dict[str, str]]:
        """The codebook: ``{attribute: {value: readable name}}`` (a copy; empty when none was given)."""
        return {k: dict(v) for k, v in self._value_labels.items()}

    @property
    def metadata(self) -> dict[str, Any]:
        """JSON-safe facts about the set saved with it (e.g. ``"planted"``: the biases a synthetic
        population was generated with); a copy."""
        import copy

        return copy.deepcopy(self._metadata)

    @property
    def covariates(self) -> pd.DataFrame:
        """A copy of the covariate table, one row per sample (numeric columns float64, categorical
        ones str); no columns when the set has none."""
        return self._covariates.copy()

    @property
    def covariate_kinds(self) -> dict[str, str]:
        """``{name: "numeric" | "categorical"}`` for every covariate, in column order."""
        return dict(self._covariate_kinds)

    @property
    def covariate_names(self) -> list[str]:
        return list(self._covariates.columns)

    def with_covariates(self, covariates: Any, *, kinds: Mapping[str, str] | None = None,
                        replace: bool = False) -> "EmbeddingSet":
        """A new set with ``covariates`` added to this set's (or instead of them, with
        ``replace=True``); the embeddings are shared, not copied."""
        new, new_kinds = check_covariates(covariates, len(self), taken=self.attribute_names, kinds=kinds)
        if replace:
            table, all_kinds = new, new_kinds
        else:
            clash = sorted(set(new.columns) & set(self._covariates.columns))
            if clash:
                raise errors.FairauditInputError(
                    f"covariates {clash} are already in this set. Fix: pass replace=True to swap "
                    "the whole covariate table, or rename the new columns.")
            table = pd.concat([self._covariates, new], axis=1)
            all_kinds = {**self._covariate_kinds, **new_kinds}
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out._covariates, out._covariate_kinds = table, all_kinds
        return out

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
        covs = f", covariates=[{', '.join(self.covariate_names)}]" if self.covariate_names else ""
        return (
            f"EmbeddingSet(n_samples={len(self)}, n_identities={self.n_identities}, "
            f"n_features={self.n_features}, attributes=[{attrs}]{covs})"
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
            value_labels=self._value_labels,
            metadata=self._metadata,
            covariates=self._covariates.iloc[idx].reset_index(drop=True) if self.covariate_names else None,
            covariate_kinds=self._covariate_kinds or None,
        )

    # -- files -----------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the set to ``.npz`` (no pickles) or ``.parquet``, atomically.

        Returns the path written. A path that cannot be written (a directory,
        a path under a regular file, no permission) raises
        :class:`~fairaudit.common.files.OutputPathError`.
        """
        return _files.save(self, path, row_group_size=BLOCK_ROWS)

    @classmethod
    def from_npy(cls, file: str | os.PathLike, *, identity: Any, attributes: Any = None, path: Any = None,
                 failures: pd.DataFrame | None = None, **labels: Any) -> "EmbeddingSet":
        """An out-of-core set: embeddings memory-mapped from a ``.npy`` file, labels in memory.

        Memory is bounded by the labels (a few bytes per sample) and one block
        of rows, not by the embeddings: the verification engine streams them.
        ``identity``, ``attributes``, ``path`` (and ``covariates``, ``value_labels``, ...) are as
        for the constructor, one per row of the file. The file must hold floats (float16, float32
        or float64); an error about the embeddings or labels names the file.
        """
        return _files.from_npy(cls, file, identity=identity, attributes=attributes, path=path,
                               failures=failures, **labels)

    @classmethod
    def load(cls, path: str | os.PathLike, *, out_of_core: bool = False) -> "EmbeddingSet":
        """Read a set written by :meth:`save` (``.npz`` or ``.parquet``).

        With ``out_of_core=True`` a Parquet file's embeddings stay on disk and
        are read one row group at a time (labels are read whole); an ``.npz``
        cannot be read that way (use :meth:`from_npy`).

        A damaged or hand-edited file (empty, of another format, with a missing
        or misshapen array, arrays of different lengths, invalid stored JSON)
        raises :class:`~fairaudit.FairauditInputError` naming the file
        and what is wrong; so does any problem with its content (NaN, a missing
        label, ...).
        """
        return _files.load(cls, path, out_of_core=out_of_core)
