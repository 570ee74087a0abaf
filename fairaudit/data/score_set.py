"""ScoreSet: comparison scores from a black-box matcher, labelled with identities and attributes.

Many users cannot extract embeddings: they only have the scores a face matcher
returned for pairs of images. A :class:`ScoreSet` holds those comparisons, one
row per pair, with the identity and the demographic attributes of both sides,
and reads the score files written by Bob (``bob.bio.base``).

The class checks and holds the comparisons; :mod:`fairaudit.data.score_tables` turns what users
pass into its columns, :mod:`fairaudit.data.score_columns` checks and encodes them, and
:mod:`fairaudit.data.score_files` reads and writes the files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.embedding_set import check_value_labels
from fairaudit.data.score_columns import encode_columns
from fairaudit.data.score_covariates import BAD_SIDE, TABLE_SIDES, CovariateMethods, sides_of_table
from fairaudit.data.score_files import formats as _formats
from fairaudit.data.score_tables import columns_of_arrays, columns_of_identity_table, columns_of_table

# every name this module defined before its parts moved out, importable from here as before
from fairaudit.data.score_columns import (  # noqa: F401
    GENUINE_MISMATCH, GENUINE_NOT_BOOL, NO_IMPOSTOR_ROWS, PAIR_ATTRIBUTE_NOT_CONSTANT, SCORE_COMPLEX, SCORE_NON_FINITE,
    SCORE_NOT_NUMERIC)
from fairaudit.data.score_tables import (  # noqa: F401
    ARRAY_LENGTH_MISMATCH, ARRAY_NOT_1D, ATTRIBUTES_NOT_NAMES, ATTRIBUTE_CLASH, ATTRIBUTE_COLUMNS_MISSING,
    DUPLICATE_COLUMNS, IDENTITIES_NOT_IN_TABLE, IDENTITY_TABLE_CONFLICT, IDENTITY_TABLE_EMPTY_VALUES,
    IDENTITY_TABLE_MISSING_VALUES, IDENTITY_TABLE_NOT_FRAME, MISSING_COLUMNS, SIDES_DIFFER, SIDE_MISSING,
    SIDE_NOT_COLUMNS, SIDE_NOT_TABLE, TABLE_NOT_FRAME)
from fairaudit.data.score_files.text import (  # noqa: F401
    DECIMAL_COMMA_HINT, SCORE_FILE_EMPTY, TEXT_HAS_NUL, TEXT_NOT_UTF8, UNDERSCORE_HINT, utf8_error, _first_bad_utf8)
from fairaudit.data.score_files.csv_tables import BOB_ATTRIBUTE_UNKNOWN, CSV_BAD_CELL, CSV_MISSING_COLUMNS, CSV_UNREADABLE  # noqa: F401,E501
from fairaudit.data.score_files.bob_text import (  # noqa: F401
    LINE_EXTRA_FIELD, LINE_FIELDS, LINE_FIELDS_DETECTED, LINE_FIELDS_OTHER_FORMAT, LINE_SCORE)
from fairaudit.data.score_files.parquet import PARQUET_UNREADABLE  # noqa: F401
from fairaudit.data.score_files.formats import (  # noqa: F401
    FORMATS, FORMAT_UNDETECTED, FORMAT_UNKNOWN, READ_CONTEXT, SCORE_FILE_NO_ROWS)

NO_ATTRIBUTES_IN_FILE = (
    "by={value!r}: {path!r} (read as {format}) carries no attributes{why}, so there are no groups to compare. "
    "Fix: pass identity_attributes= to ScoreSet.read, a table with one row per identity and one column per "
    "attribute (CLI: --identity-attributes people.csv, a CSV with an identity column).")
NO_ATTRIBUTES = (
    "by={value!r}: this ScoreSet carries no attributes, so there are no groups to compare. Fix: build it with "
    "attributes: X_a and X_b columns, attributes_a=/attributes_b= of from_arrays, or "
    "ScoreSet.from_identity_table(pairs, people).")


class ScoreSet(CovariateMethods):
    """Comparison scores from a face matcher, one row per compared pair.

    Each row holds the ``score`` of one comparison (higher = more similar; a
    pair is accepted when ``score >= threshold``), whether it is ``genuine``
    (both sides show the same person), the identities ``identity_a`` and
    ``identity_b`` of its two sides, and for every attribute ``X`` (e.g.
    ``gender``) the values ``X_a`` and ``X_b``. By convention side ``a`` is the
    enrolled reference and side ``b`` the probe. Covariates (per-sample values such
    as a quality score) have a value per side too: see :mod:`fairaudit.data.score_covariates`.

    Parameters
    ----------
    table : DataFrame
        Columns ``score`` (numeric), ``identity_a``, ``identity_b``, optionally
        ``genuine`` (bool, or 0/1, or the strings ``true``/``false``) and
        ``X_a`` and ``X_b`` for each attribute ``X``, and ``covariate:NAME_a`` and
        ``covariate:NAME_b`` for each covariate. Other columns are ignored.
        Column names are converted to str.
    attributes : sequence of str, optional
        The attribute names to use. ``None`` (the default) infers every ``X``
        such that both ``X_a`` and ``X_b`` are columns (except the reserved
        names ``identity``, ``score`` and ``genuine``).
    covariate_kinds : mapping, optional
        ``{name: "numeric" | "categorical"}`` for covariates (default: numeric
        when both sides hold numbers).

    Raises
    ------
    FairauditInputError
        If a required column is missing, a score is not a finite number, an
        identity or attribute value is missing, ``genuine`` is not boolean or
        disagrees with ``identity_a == identity_b``, there is no impostor row,
        or an identity shows different values of an attribute in different
        rows (on either side).

    Notes
    -----
    The set keeps a normalised copy: rows numbered 0..n-1 in the given order,
    float64 scores and str labels (so the identities ``1`` and ``"1"`` are the
    same). Rows are never dropped or reordered. Whether two rows compare the
    same pair of samples cannot be known from scores alone and is not checked.

    Examples
    --------
    >>> import fairaudit
    >>> ss = fairaudit.ScoreSet.from_arrays(
    ...     [0.9, 0.2, 0.1], identity_a=["p1", "p1", "p2"], identity_b=["p1", "p2", "p3"],
    ...     attributes_a={"gender": ["F", "F", "M"]}, attributes_b={"gender": ["F", "M", "F"]})
    >>> len(ss), ss.n_genuine, ss.n_impostor, ss.attribute_names
    (3, 1, 2, ['gender'])
    """

    def __init__(self, table: pd.DataFrame, *, attributes: Sequence[str] | None = None,
                 value_labels: Mapping[str, Mapping[Any, str]] | None = None,
                 covariate_kinds: Mapping[str, str] | None = None) -> None:
        self._setup(*columns_of_table(table, attributes))
        self._set_covariates(*(sides_of_table(table) or (None, None)), covariate_kinds, TABLE_SIDES)
        self._value_labels = check_value_labels(value_labels, self._names)

    def with_value_labels(self, value_labels: Mapping[str, Mapping[Any, str]] | None) -> "ScoreSet":
        """The same comparisons with a codebook per attribute (``{attribute: {value: readable name}}``,
        checked as for :class:`EmbeddingSet`); the set itself is not changed."""
        import copy

        out = copy.copy(self)
        out._value_labels = check_value_labels(value_labels, self._names)
        return out

    @property
    def value_labels(self) -> dict[str, dict[str, str]]:
        """The codebook: ``{attribute: {value: readable name}}`` (a copy; empty when none was given)."""
        return {k: dict(v) for k, v in self._value_labels.items()}

    @classmethod
    def _from_columns(cls, score: Any, identity_a: Any, identity_b: Any, genuine: Any,
                      attributes: dict[str, tuple[Any, Any]]) -> "ScoreSet":
        self = cls.__new__(cls)
        self._setup(score, identity_a, identity_b, genuine, attributes)
        return self

    def _setup(self, score: Any, identity_a: Any, identity_b: Any, genuine: Any,
               attributes: dict[str, tuple[Any, Any]]) -> None:
        """Validate one value per comparison for every column, and store them encoded."""
        (self._score, self._genuine, self._ids, self._attrs,
         self._per_identity) = encode_columns(score, identity_a, identity_b, genuine, attributes)
        self._names = list(attributes)
        self._value_labels: dict[str, dict[str, str]] = {}
        self._source: tuple[str, str] | None = None
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        for arr in (self._score, self._genuine):
            arr.flags.writeable = False
        self._set_covariates(None, None, None)

    # -- constructors ----------------------------------------------------------
    @classmethod
    def from_arrays(
        cls, score: Any, *, identity_a: Any, identity_b: Any, genuine: Any = None,
        attributes_a: pd.DataFrame | Mapping[str, Any] | None = None,
        attributes_b: pd.DataFrame | Mapping[str, Any] | None = None,
        covariates_a: pd.DataFrame | Mapping[str, Any] | None = None,
        covariates_b: pd.DataFrame | Mapping[str, Any] | None = None,
        covariate_kinds: Mapping[str, str] | None = None,
    ) -> "ScoreSet":
        """Build a set from one array per column.

        Parameters
        ----------
        score : array-like of shape (n_comparisons,)
            Similarity of each comparison.
        identity_a, identity_b : array-like of shape (n_comparisons,)
            Identity of the first (reference) and second (probe) side.
        genuine : array-like of bool, optional
            Derived as ``identity_a == identity_b`` when omitted; checked
            against it when given.
        attributes_a, attributes_b : DataFrame or mapping, optional
            Attributes of each side, one row per comparison, with the same
            columns on both sides. Give both or neither.
        covariates_a, covariates_b, covariate_kinds
            Covariates of each side, one value per comparison, the same names on
            both sides (see :meth:`with_covariates`).

        Returns
        -------
        ScoreSet
        """
        out = cls._from_columns(*columns_of_arrays(
            score, identity_a=identity_a, identity_b=identity_b, genuine=genuine,
            attributes_a=attributes_a, attributes_b=attributes_b))
        out._set_covariates(covariates_a, covariates_b, covariate_kinds)
        return out

    @classmethod
    def from_identity_table(cls, pairs: pd.DataFrame, identity_attributes: pd.DataFrame, *,
                            covariate_kinds: Mapping[str, str] | None = None) -> "ScoreSet":
        """Build a set from comparisons and a per-identity attribute table.

        Parameters
        ----------
        pairs : DataFrame
            Columns ``score``, ``identity_a``, ``identity_b`` and optionally
            ``genuine``. Attribute columns ``X_a``/``X_b`` already present are
            kept, and so are covariate columns (``covariate_kinds`` as for the class).
        identity_attributes : DataFrame
            One row per identity, indexed by identity (or with an ``identity``
            column) and one column per attribute. Identities are compared as
            str. Rows of identities that no comparison uses are ignored;
            repeated rows with identical values are allowed.

        Returns
        -------
        ScoreSet

        Raises
        ------
        FairauditInputError
            If an identity used by a comparison is missing from the table (the
            message lists the first ones), the table gives one identity two
            different rows, an attribute value of a used identity is missing,
            or an attribute would overwrite a column of ``pairs``.
        """
        out = cls._from_columns(*columns_of_identity_table(pairs, identity_attributes))
        out._set_covariates(*(sides_of_table(pairs, name="pairs") or (None, None)), covariate_kinds, TABLE_SIDES)
        return out

    # -- read-only views -----------------------------------------------------------
    def _labels(self, name: str, side: str) -> np.ndarray:
        """Materialise one label column as a read-only str array (cached)."""
        key = (name, side)
        if key not in self._cache:
            codes_a, codes_b, cats = self._ids if name == "identity" else self._attrs[name]
            arr = cats[codes_a if side == "a" else codes_b]
            arr.flags.writeable = False
            self._cache[key] = arr
        return self._cache[key]

    @property
    def table(self) -> pd.DataFrame:
        """A copy of the comparisons: score, genuine, identity_a, identity_b, then X_a, X_b, then
        covariate:NAME_a, covariate:NAME_b."""

        def text(codes: np.ndarray, cats: np.ndarray) -> pd.Index:
            return pd.Index(cats.tolist(), dtype=None if len(cats) else object).take(codes)

        ida, idb, id_cats = self._ids
        columns: dict[str, Any] = {"score": self._score.copy(), "genuine": self._genuine.copy(),
                                   "identity_a": text(ida, id_cats), "identity_b": text(idb, id_cats)}
        for name in self._names:
            va, vb, cats = self._attrs[name]
            columns[f"{name}_a"] = text(va, cats)
            columns[f"{name}_b"] = text(vb, cats)
        columns.update(self._covariate_columns())
        return pd.DataFrame(columns)

    @property
    def attribute_names(self) -> list[str]:
        """Names of the attributes, in table order."""
        return list(self._names)

    @property
    def source(self) -> tuple[str, str] | None:
        """``(path, format)`` of the file the set was read from, or None for a set built in memory."""
        return self._source

    def resolve_by(self, by: Any) -> tuple[str, ...]:
        """``by`` checked against the attributes, as a tuple of names.

        Like :func:`fairaudit.groups.normalize_by`, except that a set with no
        attribute at all gets a message that says where attributes come from
        (for a Bob text file: ``identity_attributes=``, or
        ``--identity-attributes`` on the command line) instead of "available
        attributes: []".
        """
        from fairaudit.data.groups import normalize_by

        empty_by = by is None or (not isinstance(by, str) and hasattr(by, "__len__") and len(by) == 0)
        if self._names or empty_by:
            return normalize_by(by, self._names)
        if self._source is None:
            raise errors.FairauditInputError(NO_ATTRIBUTES.format(value=by))
        path, fmt = self._source
        why = {"bob-4col": ": Bob's 4-column format has no attribute columns",
               "bob-5col": ": Bob's 5-column format has no attribute columns",
               "bob-csv": ": no metadata column is present as both bio_ref_X and probe_X"}.get(
            fmt, ": no pair of columns X_a and X_b")
        raise errors.FairauditInputError(
            NO_ATTRIBUTES_IN_FILE.format(value=by, path=path, format=fmt, why=why))

    @property
    def scores(self) -> np.ndarray:
        """Score of every comparison, float64 (read-only)."""
        return self._score

    @property
    def genuine(self) -> np.ndarray:
        """Whether each comparison is genuine (same identity on both sides), bool (read-only)."""
        return self._genuine

    @property
    def identity_a(self) -> np.ndarray:
        """Identity of side a (the reference) of every comparison, str (read-only)."""
        return self._labels("identity", "a")

    @property
    def identity_b(self) -> np.ndarray:
        """Identity of side b (the probe) of every comparison, str (read-only)."""
        return self._labels("identity", "b")

    @property
    def n_genuine(self) -> int:
        return int(self._genuine.sum())

    @property
    def n_impostor(self) -> int:
        return int(len(self._genuine) - self._genuine.sum())

    @property
    def n_identities(self) -> int:
        """Number of distinct identities over both sides."""
        return int(len(self._ids[2]))

    def __len__(self) -> int:
        return int(self._score.shape[0])

    def __repr__(self) -> str:
        attrs = ", ".join(self._names) or "none"
        covs = f", covariates=[{', '.join(self.covariate_names)}]" if self._cov_kinds else ""
        return (f"ScoreSet(n_comparisons={len(self)}, n_genuine={self.n_genuine}, n_impostor={self.n_impostor}, "
                f"n_identities={self.n_identities}, attributes=[{attrs}]{covs})")

    def column(self, name: str, side: str) -> np.ndarray:
        """One attribute (or ``identity``) of side ``'a'`` or ``'b'``, as a str array (read-only)."""
        if side not in ("a", "b"):
            raise errors.FairauditInputError(BAD_SIDE.format(value=side))
        if name != "identity" and name not in self._attrs:
            raise errors.FairauditInputError(
                errors.UNKNOWN_ATTRIBUTE.format(name="name", value=name,
                                                available=self.attribute_names)
            )
        return self._labels(name, side)

    def identity_table(self) -> pd.DataFrame:
        """Attributes per identity: indexed by identity (str, sorted), one column per attribute.

        Every identity that appears on either side is listed exactly once.
        """
        id_cats = self._ids[2]
        frame = pd.DataFrame(
            {name: self._attrs[name][2][self._per_identity[name]].tolist() for name in self._names},
            index=pd.Index(id_cats.tolist(), name="identity"),
            columns=list(self._names),
        )
        return frame.sort_index()

    # -- files -------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the set to ``.csv`` or ``.parquet``, atomically.

        The file has the columns of :attr:`table` (``genuine`` is written as
        ``true``/``false`` in CSV; Parquet records the covariates' kinds); :meth:`read` reads it back (formats
        ``fairaudit-csv`` and ``fairaudit-parquet``) with identical scores.
        Returns the path written. A path that cannot be written (a directory,
        a path under a regular file, no permission) raises
        :class:`~fairaudit.common.files.OutputPathError`.
        """
        return _formats.save(self, path)

    @classmethod
    def read(
        cls, path: str | os.PathLike, *, format: str | None = None,
        identity_attributes: pd.DataFrame | None = None, attributes: Sequence[str] | None = None,
        covariate_kinds: Mapping[str, str] | None = None,
    ) -> "ScoreSet":
        """Read a score file.

        Parameters
        ----------
        path : str or path-like
            The file.
        format : str, optional
            One of ``'fairaudit-csv'``, ``'fairaudit-parquet'`` (alias
            ``'parquet'``), ``'bob-csv'``, ``'bob-4col'``, ``'bob-5col'``.
            ``None`` detects it: ``.parquet`` (or Parquet content) is
            fairaudit-parquet; a CSV header with ``score``, ``identity_a`` and
            ``identity_b`` is fairaudit-csv; a CSV header with ``score`` and
            ``bio_ref_*``/``probe_*`` identity columns is bob-csv; otherwise
            the number of whitespace-separated fields of the first non-blank
            line (4 or 5) picks a Bob text format.
        identity_attributes : DataFrame, optional
            Attributes per identity (see :meth:`from_identity_table`). The
            Bob text formats take their attributes only from here; for the
            other formats its columns are added to those in the file.
        attributes : sequence of str, optional
            Which attributes to take from the file (default: all of them). For
            the Bob text formats it selects columns of ``identity_attributes``.
        covariate_kinds : mapping, optional
            Kinds of the covariate columns (``covariate:NAME_a``/``_b``) of the
            fairaudit formats, over what the file says (Parquet records them; in
            CSV a covariate is numeric when every cell is a number). Bob's formats
            carry no covariates.

        Returns
        -------
        ScoreSet
        """
        return _formats.read(cls, path, format=format, identity_attributes=identity_attributes,
                             attributes=attributes, covariate_kinds=covariate_kinds)

    @classmethod
    def read_bob_csv(cls, path: str | os.PathLike, *,
                     attributes: Sequence[str] | None = None) -> "ScoreSet":
        """Read a CSV score file written by Bob's ``CSVScoreWriter`` (``bob.bio.base``).

        The file has a header row; each row is one comparison of a probe with a
        biometric reference. Columns used:

        * ``bio_ref_subject_id`` -> ``identity_a`` and ``probe_subject_id`` ->
          ``identity_b``. The variants ``bio_ref_subject``/``probe_subject``
          (Bob documentation example) and, in files of old Bob versions with no
          subject column, ``bio_ref_reference_id``/``probe_reference_id`` are
          accepted, in that order of preference.
        * ``score``.
        * every metadata pair ``bio_ref_X``/``probe_X`` -> attribute ``X``.
          Sample and template fields (``key``, ``template_id``,
          ``reference_id``, ``subject_id``, ``subject``, ``path``,
          ``annotations``, ``references``) are never attributes, and metadata
          present on one side only is ignored.

        Comparisons are genuine when the two identities are equal. Blank lines
        are skipped; fields may be followed by spaces after the comma. An empty
        cell, or the text ``None``/``nan`` that Bob writes for absent metadata,
        is a missing value and raises an error naming the line.

        Parameters
        ----------
        path : str or path-like
            The CSV file.
        attributes : sequence of str, optional
            Which metadata to use as attributes (default: every ``X`` with both
            ``bio_ref_X`` and ``probe_X``). Leave out metadata that describe
            the sample rather than the person, such as age at capture.

        Returns
        -------
        ScoreSet
        """
        return _formats.read_bob_csv(cls, path, attributes=attributes)

    @classmethod
    def read_bob_4col(cls, path: str | os.PathLike, *,
                      identity_attributes: pd.DataFrame | None) -> "ScoreSet":
        """Read a Bob four-column score file.

        Each line is ``claimed_id real_id test_label score``, separated by
        whitespace: the identity of the reference (model) -> ``identity_a``,
        the identity of the probe -> ``identity_b``, a probe label (ignored)
        and the score. A comparison is genuine when ``claimed_id == real_id``.
        Blank lines are skipped; Bob score files have no comment syntax, so any
        other line must have exactly four fields and a finite numeric score,
        otherwise an error names the file, the line number and its content.

        Parameters
        ----------
        path : str or path-like
            The score file.
        identity_attributes : DataFrame or None
            Attributes per identity (see :meth:`from_identity_table`). ``None``
            reads the scores without attributes.

        Returns
        -------
        ScoreSet
        """
        return _formats.read_bob_text(cls, path, 4, identity_attributes)

    @classmethod
    def read_bob_5col(cls, path: str | os.PathLike, *,
                      identity_attributes: pd.DataFrame | None) -> "ScoreSet":
        """Read a Bob five-column score file.

        Each line is ``claimed_id model_label real_id test_label score``,
        separated by whitespace: ``claimed_id`` -> ``identity_a``, ``real_id``
        -> ``identity_b``; the two labels are ignored. A comparison is genuine
        when ``claimed_id == real_id``. Blank lines are skipped; Bob score files
        have no comment syntax, so any other line must have exactly five
        fields and a finite numeric score, otherwise an error names the file,
        the line number and its content.

        Parameters
        ----------
        path : str or path-like
            The score file.
        identity_attributes : DataFrame or None
            Attributes per identity (see :meth:`from_identity_table`). ``None``
            reads the scores without attributes.

        Returns
        -------
        ScoreSet
        """
        return _formats.read_bob_text(cls, path, 5, identity_attributes)
