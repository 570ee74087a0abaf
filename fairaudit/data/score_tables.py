"""What users pass to build a ScoreSet, turned into its columns: a table with ``X_a``/``X_b``
columns, one array per column, or comparisons plus a table of attributes per identity.

Each ``columns_of_*`` function checks its input (types, names, lengths, a per-identity table
that covers every identity once) and returns ``(score, identity_a, identity_b, genuine,
attributes)`` for :class:`~fairaudit.data.ScoreSet` to validate and store.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.score_columns import (_check_names, _encode, _Encoded, _first, _infer_attributes,
                                          _shared)

TABLE_NOT_FRAME = (
    "{name} must be a pandas DataFrame with one row per comparison; got {type}. Fix: "
    "pass pd.DataFrame({{'score': [...], 'identity_a': [...], 'identity_b': [...]}}) or "
    "use ScoreSet.from_arrays(...)."
)
DUPLICATE_COLUMNS = (
    "{name} has duplicated column name(s) {columns} (after converting names to str). "
    "Fix: give every column a unique name."
)
MISSING_COLUMNS = (
    "{name} lacks the required column(s) {missing}; columns found: {found}. Fix: rename "
    "your columns to score, identity_a, identity_b (plus X_a and X_b for every "
    "attribute X, e.g. gender_a and gender_b)."
)
ATTRIBUTES_NOT_NAMES = (
    "attributes={value!r} is not a list of attribute names. Fix: pass e.g. "
    "attributes=['gender', 'ethnicity'], or attributes=None to infer every X that has "
    "both X_a and X_b columns."
)
ATTRIBUTE_COLUMNS_MISSING = (
    "attributes lists {attribute!r}, which needs the columns {col_a!r} and {col_b!r}; "
    "missing: {missing}. Columns found: {found}. Fix: add both columns, or leave "
    "{attribute!r} out of attributes=."
)
ARRAY_NOT_1D = (
    "{name} must be 1-D with one value per comparison; got shape {shape}. Fix: pass a "
    "flat list or array."
)
ARRAY_LENGTH_MISMATCH = (
    "{name} has {got} entries but score has {n}. Fix: give exactly one {name} value per "
    "comparison, in the same order as score."
)
SIDE_NOT_TABLE = (
    "{name} must be a pandas DataFrame or a mapping of attribute name to values; got "
    "{type}. Fix: pass e.g. {name}={{'gender': [...]}}."
)
SIDE_MISSING = (
    "{given} was given but {missing} was not; attributes are needed for both sides of "
    "every comparison. Fix: pass both, or neither."
)
SIDE_NOT_COLUMNS = (
    "{name} could not be read as one value per comparison for each attribute ({detail}). "
    "Fix: give every attribute a list or array with one value per comparison."
)
SIDES_DIFFER = (
    "attributes_a and attributes_b must have the same columns; only in attributes_a: "
    "{only_a}; only in attributes_b: {only_b}. Fix: give every attribute for both sides."
)
IDENTITY_TABLE_NOT_FRAME = (
    "identity_attributes must be a pandas DataFrame indexed by identity (or with an "
    "'identity' column) and one column per attribute; got {type}. Fix: pass "
    "pd.DataFrame({{'gender': [...]}}, index=identities)."
)
IDENTITY_TABLE_CONFLICT = (
    "identity_attributes lists identity {identity!r} {count} times with different "
    "values. Fix: keep exactly one row per identity."
)
IDENTITY_TABLE_MISSING_VALUES = (
    "identity_attributes has {count} missing value(s) in column {column!r} for "
    "identities that the comparisons use (first: {identities}). Fix: fill them, or drop "
    "those identities and their comparisons; fairaudit never drops rows silently."
)
IDENTITIES_NOT_IN_TABLE = (
    "{count} identit{plural} used in the comparisons {verb} missing from "
    "identity_attributes (first: {identities}). Fix: add a row for each of them to "
    "identity_attributes; fairaudit never drops comparisons silently."
)
ATTRIBUTE_CLASH = (
    "attribute {attribute!r} comes from identity_attributes, but the comparison table "
    "already has a column {column!r}. Fix: drop the attribute from one of the two."
)
IDENTITY_TABLE_EMPTY_VALUES = (
    "identity_attributes has {count} empty or blank value(s) in column {column!r} for "
    "identities that the comparisons use (first: {identities}); an empty label would silently "
    "become a group of its own. Fix: fill them, or drop those identities and their "
    "comparisons; fairaudit never drops rows silently."
)


def columns_of_table(table: pd.DataFrame, attributes: Sequence[str] | None) -> tuple:
    """The columns of ``ScoreSet(table, attributes=...)``, as ``ScoreSet._setup`` takes them."""
    if not isinstance(table, pd.DataFrame):
        raise errors.FairauditInputError(
            TABLE_NOT_FRAME.format(name="table", type=type(table).__name__)
        )
    columns = [str(c) for c in table.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise errors.FairauditInputError(DUPLICATE_COLUMNS.format(name="table", columns=duplicated))
    missing = [c for c in ("score", "identity_a", "identity_b") if c not in columns]
    if missing:
        raise errors.FairauditInputError(
            MISSING_COLUMNS.format(name="table", missing=missing, found=columns)
        )
    names = _attribute_names(columns, attributes)
    position = {c: i for i, c in enumerate(columns)}

    def get(column: str) -> pd.Series:
        return table.iloc[:, position[column]]

    return (
        get("score"), get("identity_a"), get("identity_b"),
        get("genuine") if "genuine" in position else None,
        {name: (get(f"{name}_a"), get(f"{name}_b")) for name in names},
    )


def _attribute_names(columns: list[str], attributes: Sequence[str] | None) -> list[str]:
    if attributes is None:
        return _infer_attributes(columns)
    if isinstance(attributes, str):
        attributes = [attributes]
    try:
        requested = list(attributes)
    except TypeError:
        raise errors.FairauditInputError(ATTRIBUTES_NOT_NAMES.format(value=attributes)) from None
    names: list[str] = []
    for name in requested:
        if not isinstance(name, str) or not name:
            raise errors.FairauditInputError(ATTRIBUTES_NOT_NAMES.format(value=attributes))
        _check_names([name])
        lacking = [c for c in (f"{name}_a", f"{name}_b") if c not in columns]
        if lacking:
            raise errors.FairauditInputError(
                ATTRIBUTE_COLUMNS_MISSING.format(attribute=name, col_a=f"{name}_a",
                                                 col_b=f"{name}_b", missing=lacking,
                                                 found=columns)
            )
        if name not in names:
            names.append(name)
    return names


def columns_of_arrays(score: Any, *, identity_a: Any, identity_b: Any, genuine: Any,
                      attributes_a: pd.DataFrame | Mapping[str, Any] | None,
                      attributes_b: pd.DataFrame | Mapping[str, Any] | None) -> tuple:
    """The columns of :meth:`ScoreSet.from_arrays`, as ``ScoreSet._from_columns`` takes them."""
    def vector(values: Any, name: str) -> Any:
        if isinstance(values, (pd.Series, pd.Index)):
            return values.to_numpy() if values.ndim == 1 else values
        try:
            arr = np.asarray(values)
        except ValueError:
            arr = np.asarray(values, dtype=object)
        if arr.ndim != 1:
            raise errors.FairauditInputError(ARRAY_NOT_1D.format(name=name, shape=arr.shape))
        return arr

    score_arr = vector(score, "score")
    n = len(score_arr)
    named = {"identity_a": identity_a, "identity_b": identity_b}
    if genuine is not None:
        named["genuine"] = genuine
    columns: dict[str, Any] = {}
    for name, values in named.items():
        arr = vector(values, name)
        if len(arr) != n:
            raise errors.FairauditInputError(
                ARRAY_LENGTH_MISMATCH.format(name=name, got=len(arr), n=n)
            )
        columns[name] = arr

    if (attributes_a is None) != (attributes_b is None):
        given, absent = (("attributes_a", "attributes_b") if attributes_b is None
                         else ("attributes_b", "attributes_a"))
        raise errors.FairauditInputError(SIDE_MISSING.format(given=given, missing=absent))
    attrs: dict[str, tuple[Any, Any]] = {}
    if attributes_a is not None:
        side_a = _side_frame(attributes_a, "attributes_a", n)
        side_b = _side_frame(attributes_b, "attributes_b", n)
        only_a = [c for c in side_a.columns if c not in side_b.columns]
        only_b = [c for c in side_b.columns if c not in side_a.columns]
        if only_a or only_b:
            raise errors.FairauditInputError(SIDES_DIFFER.format(only_a=only_a, only_b=only_b))
        attrs = {name: (side_a[name], side_b[name]) for name in side_a.columns}
    return (score_arr, columns["identity_a"], columns["identity_b"],
            columns.get("genuine"), attrs)


def _side_frame(values: Any, name: str, n: int) -> pd.DataFrame:
    if isinstance(values, pd.DataFrame):
        frame = values.reset_index(drop=True)
    elif isinstance(values, Mapping):
        for k, v in values.items():  # named here: a DataFrame would only say "not the same length"
            if isinstance(v, (str, bytes)):
                raise errors.FairauditInputError(errors.LABEL_NOT_SEQUENCE.format(
                    name=f"{name}[{str(k)!r}]", per="comparison", type=type(v).__name__,
                    value=repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."))
            sized = isinstance(v, (list, tuple, pd.Series, pd.Index)) or (
                isinstance(v, np.ndarray) and v.ndim == 1)
            if sized and len(v) != n:
                raise errors.FairauditInputError(
                    ARRAY_LENGTH_MISMATCH.format(name=f"{name}[{str(k)!r}]", got=len(v), n=n))
        try:
            frame = pd.DataFrame({
                k: (v.to_numpy() if isinstance(v, pd.Series) else
                    v if isinstance(v, np.ndarray) else list(v))
                for k, v in values.items()
            })
        except (TypeError, ValueError) as exc:
            raise errors.FairauditInputError(
                SIDE_NOT_COLUMNS.format(name=name, detail=str(exc).strip())
            ) from None
    else:
        raise errors.FairauditInputError(SIDE_NOT_TABLE.format(name=name, type=type(values).__name__))
    columns = [str(c) for c in frame.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise errors.FairauditInputError(DUPLICATE_COLUMNS.format(name=name, columns=duplicated))
    frame.columns = columns
    if frame.shape[1] and len(frame) != n:
        raise errors.FairauditInputError(ARRAY_LENGTH_MISMATCH.format(name=name, got=len(frame), n=n))
    return frame


def columns_of_identity_table(pairs: pd.DataFrame, identity_attributes: pd.DataFrame) -> tuple:
    """The columns of :meth:`ScoreSet.from_identity_table`, as ``ScoreSet._from_columns`` takes them."""
    if not isinstance(pairs, pd.DataFrame):
        raise errors.FairauditInputError(TABLE_NOT_FRAME.format(name="pairs", type=type(pairs).__name__))
    if not isinstance(identity_attributes, pd.DataFrame):
        raise errors.FairauditInputError(
            IDENTITY_TABLE_NOT_FRAME.format(type=type(identity_attributes).__name__)
        )
    columns = [str(c) for c in pairs.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise errors.FairauditInputError(DUPLICATE_COLUMNS.format(name="pairs", columns=duplicated))
    missing = [c for c in ("score", "identity_a", "identity_b") if c not in columns]
    if missing:
        raise errors.FairauditInputError(
            MISSING_COLUMNS.format(name="pairs", missing=missing, found=columns)
        )
    position = {c: i for i, c in enumerate(columns)}

    def get(column: str) -> pd.Series:
        return pairs.iloc[:, position[column]]

    ida, idb, id_cats = _shared(_encode(get("identity_a"), "identity_a"),
                                _encode(get("identity_b"), "identity_b"),
                                name="identity_a/identity_b", what="identities")

    table = identity_attributes.copy()
    table.columns = [str(c) for c in table.columns]
    if "identity" in table.columns:
        table = table.set_index("identity")
    index = pd.Series(table.index, dtype=object)
    absent = np.flatnonzero(index.isna().to_numpy())
    if absent.size:
        raise errors.FairauditInputError(
            errors.MISSING_VALUES.format(name="identity_attributes identity", count=absent.size,
                                         rows=_first(absent))
        )
    table.index = pd.Index([str(i) for i in index], dtype=object, name="identity")
    _check_names(list(table.columns))
    for column in table.columns:
        for side in ("a", "b"):
            if f"{column}_{side}" in position:
                raise errors.FairauditInputError(
                    ATTRIBUTE_CLASH.format(attribute=column, column=f"{column}_{side}")
                )

    table = table[table.index.isin(id_cats.astype(object))]
    unknown = sorted(set(id_cats.tolist()) - set(table.index))
    if unknown:
        raise errors.FairauditInputError(
            IDENTITIES_NOT_IN_TABLE.format(count=len(unknown), identities=unknown[:5],
                                           plural="y" if len(unknown) == 1 else "ies",
                                           verb="is" if len(unknown) == 1 else "are")
        )
    for column in table.columns:
        empty = table.index[table[column].isna().to_numpy()]
        if len(empty):
            raise errors.FairauditInputError(
                IDENTITY_TABLE_MISSING_VALUES.format(count=len(empty), column=column,
                                                     identities=sorted(empty)[:5])
            )
    values = table.astype(str)
    for column in values.columns:
        blank = values.index[(values[column].str.strip() == "").to_numpy()]
        if len(blank):
            raise errors.FairauditInputError(
                IDENTITY_TABLE_EMPTY_VALUES.format(count=len(blank), column=column,
                                                   identities=sorted(blank)[:5])
            )
    values = values[~values.reset_index().duplicated().to_numpy()]
    repeated = values.index[values.index.duplicated()]
    if len(repeated):
        ident = sorted(repeated)[0]
        raise errors.FairauditInputError(
            IDENTITY_TABLE_CONFLICT.format(identity=ident,
                                           count=int((values.index == ident).sum()))
        )
    values = values.reindex(id_cats.astype(object))  # one row per identity, in code order

    attrs: dict[str, tuple[Any, Any]] = {
        name: (get(f"{name}_a"), get(f"{name}_b")) for name in _infer_attributes(columns)
    }
    for column in values.columns:
        codes, cats = _encode(values[column].to_numpy(dtype=object), column)
        attrs[column] = (_Encoded(codes[ida], cats), _Encoded(codes[idb], cats))
    return (get("score"), _Encoded(ida, id_cats), _Encoded(idb, id_cats),
            get("genuine") if "genuine" in position else None, attrs)
