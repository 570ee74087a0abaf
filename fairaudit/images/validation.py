"""The manifest contract: :func:`validate_manifest` checks the columns, values and pairs table
every manifest must have, whichever loader built it; ``_first`` lists offending values in its
messages (and in the loaders')."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.data import check_identity_constant
from fairaudit.common.errors import FairauditInputError

#: columns every manifest has
REQUIRED_COLUMNS = ("path", "identity")
#: columns every pairs table has (``fold`` is optional)
PAIR_COLUMNS = ("path_a", "path_b", "genuine")
#: names an attribute column may not take (they have a meaning downstream)
RESERVED_COLUMNS = ("embedding",)
#: how many offending values an error message lists
_N_LISTED = 5

# --- message templates (tests match them exactly) ------------------------------
NOT_A_MANIFEST = (
    "the dataset loader {loader!r} returned {type}, not a manifest. Expected a pandas "
    "DataFrame with the columns 'path', 'identity' and one column per attribute. Fix: "
    "return such a DataFrame from the loader."
)
MANIFEST_EMPTY = (
    "manifest has no rows. Fix: check the dataset root and options; a dataset without "
    "images cannot be audited."
)
MANIFEST_BAD_COLUMN_NAMES = (
    "manifest column names must be unique, non-empty strings; got {columns}. Fix: "
    "rename the columns."
)
MANIFEST_MISSING_COLUMN = (
    "manifest lacks the required column {column!r} (has: {columns}). Fix: add it; a "
    "manifest needs 'path', 'identity' and one column per attribute."
)
MANIFEST_RESERVED_COLUMN = (
    "manifest column {column!r} clashes with a reserved name ({reserved}). Fix: rename "
    "the column."
)
MANIFEST_MISSING_VALUES = (
    "manifest column {column!r} has {count} missing value(s) (first rows: {rows}). Fix: "
    "fill them or drop those rows before auditing; fairaudit never drops rows silently."
)
MANIFEST_NOT_STRINGS = (
    "manifest column {column!r} must hold strings; got dtype {dtype} (row {row} holds "
    "{value!r}). Fix: convert it, e.g. manifest[{column!r}] = manifest[{column!r}].astype(str)."
)
MANIFEST_DUPLICATE_PATHS = (
    "manifest lists {count} path(s) more than once (first: {paths}); each image must "
    "appear in exactly one row. Fix: drop the duplicate rows."
)
PAIRS_NOT_TABLE = (
    "manifest.attrs['pairs'] must be a DataFrame with the columns 'path_a', 'path_b', "
    "'genuine' (bool) and optionally 'fold' (int); got {type}. Fix: build it with "
    "pd.DataFrame({{'path_a': ..., 'path_b': ..., 'genuine': ...}})."
)
PAIRS_MISSING_COLUMN = (
    "manifest.attrs['pairs'] lacks the column {column!r} (has: {columns}). Fix: add it; "
    "a pairs table needs 'path_a', 'path_b', 'genuine' and optionally 'fold'."
)
PAIRS_MISSING_VALUES = (
    "manifest.attrs['pairs'] column {column!r} has {count} missing value(s) (first rows: "
    "{rows}). Fix: complete or remove those pairs."
)
PAIRS_BAD_DTYPE = (
    "manifest.attrs['pairs'] column {column!r} must be {expected}; got dtype {dtype}. "
    "Fix: convert it, e.g. pairs[{column!r}] = pairs[{column!r}].astype({cast})."
)
PAIRS_UNKNOWN_PATH = (
    "manifest.attrs['pairs'] refers to {count} path(s) that are not in the manifest "
    "(first: {paths}). Fix: add those images to the manifest or remove those pairs."
)
PAIRS_SELF = (
    "manifest.attrs['pairs'] compares an image with itself in {count} row(s) (first rows: "
    "{rows}). Fix: remove those pairs; a comparison needs two images."
)
PAIRS_LABEL_MISMATCH = (
    "manifest.attrs['pairs'] row {row}: genuine={genuine} but the images show the "
    "identities {a!r} and {b!r}. A pair is genuine exactly when both images show the same "
    "identity. Fix: correct the label or the identities."
)


def _first(values: Sequence[Any], k: int = _N_LISTED) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in list(values)[:k]]


def _is_string_column(column: pd.Series) -> tuple[bool, int | None]:
    """Whether every value of ``column`` is a str; else the first offending row."""
    if isinstance(column.dtype, pd.StringDtype):
        return True, None
    if column.dtype != object:
        return False, 0
    bad = np.flatnonzero([not isinstance(v, str) for v in column.to_numpy()])
    return (False, int(bad[0])) if bad.size else (True, None)


def validate_manifest(manifest: Any) -> pd.DataFrame:
    """Check that ``manifest`` is a well-formed manifest and return it unchanged.

    Every manifest that :func:`load_dataset` returns went through this check,
    whichever plugin built it.

    Parameters
    ----------
    manifest : DataFrame
        One row per image with the columns ``path``, ``identity`` and one column
        per attribute, all holding strings (object dtype of ``str`` or a pandas
        string dtype). ``manifest.attrs["pairs"]``, when present, is a pairs
        table (columns ``path_a``, ``path_b``, ``genuine`` of dtype bool and
        optionally ``fold`` of an integer dtype).

    Returns
    -------
    DataFrame
        ``manifest`` itself, so that calls can be chained.

    Raises
    ------
    FairauditInputError
        When ``manifest`` is not a DataFrame, has no rows, lacks ``path`` or
        ``identity``, has a column name that is not a unique non-empty str or is
        reserved, holds a missing or non-string value, lists a path twice, has an
        attribute that changes between the images of one identity, or has a
        pairs table that is malformed, refers to a path the manifest lacks,
        pairs an image with itself, or labels a pair genuine when the identities
        differ (or the reverse).
    """
    if not isinstance(manifest, pd.DataFrame):
        raise FairauditInputError(NOT_A_MANIFEST.format(
            loader="validate_manifest", type=type(manifest).__name__))
    columns = list(manifest.columns)
    if (len(set(columns)) != len(columns)
            or not all(isinstance(c, str) and c for c in columns)):
        raise FairauditInputError(MANIFEST_BAD_COLUMN_NAMES.format(columns=columns))
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            raise FairauditInputError(MANIFEST_MISSING_COLUMN.format(column=column, columns=columns))
    for column in columns:
        if column in RESERVED_COLUMNS:
            raise FairauditInputError(MANIFEST_RESERVED_COLUMN.format(
                column=column, reserved=", ".join(RESERVED_COLUMNS)))
    if len(manifest) == 0:
        raise FairauditInputError(MANIFEST_EMPTY)
    for column in columns:
        values = manifest[column]
        gaps = np.flatnonzero(values.isna().to_numpy())
        if gaps.size:
            raise FairauditInputError(MANIFEST_MISSING_VALUES.format(
                column=column, count=gaps.size, rows=_first(gaps)))
        ok, row = _is_string_column(values)
        if not ok:
            raise FairauditInputError(MANIFEST_NOT_STRINGS.format(
                column=column, dtype=values.dtype, row=row, value=_first([values.iloc[row]])[0]))
    paths = manifest["path"]
    dup = paths[paths.duplicated()].unique()
    if len(dup):
        raise FairauditInputError(MANIFEST_DUPLICATE_PATHS.format(count=len(dup), paths=_first(dup)))
    attributes = manifest[[c for c in columns if c not in REQUIRED_COLUMNS]].reset_index(drop=True)
    check_identity_constant(manifest["identity"].to_numpy(dtype=str), attributes)
    if "pairs" in manifest.attrs:
        _validate_pairs(manifest.attrs["pairs"], manifest)
    return manifest


def _validate_pairs(pairs: Any, manifest: pd.DataFrame) -> None:
    if not isinstance(pairs, pd.DataFrame):
        raise FairauditInputError(PAIRS_NOT_TABLE.format(type=type(pairs).__name__))
    for column in PAIR_COLUMNS:
        if column not in pairs.columns:
            raise FairauditInputError(PAIRS_MISSING_COLUMN.format(
                column=column, columns=list(pairs.columns)))
    checked = list(PAIR_COLUMNS) + (["fold"] if "fold" in pairs.columns else [])
    for column in checked:
        gaps = np.flatnonzero(pairs[column].isna().to_numpy())
        if gaps.size:
            raise FairauditInputError(PAIRS_MISSING_VALUES.format(
                column=column, count=gaps.size, rows=_first(gaps)))
    for column in ("path_a", "path_b"):
        ok, _ = _is_string_column(pairs[column])
        if not ok:
            raise FairauditInputError(PAIRS_BAD_DTYPE.format(
                column=column, expected="strings", dtype=pairs[column].dtype, cast="str"))
    if not pd.api.types.is_bool_dtype(pairs["genuine"]):
        raise FairauditInputError(PAIRS_BAD_DTYPE.format(
            column="genuine", expected="boolean", dtype=pairs["genuine"].dtype, cast="bool"))
    if "fold" in pairs.columns and not pd.api.types.is_integer_dtype(pairs["fold"]):
        raise FairauditInputError(PAIRS_BAD_DTYPE.format(
            column="fold", expected="integer", dtype=pairs["fold"].dtype, cast="int"))
    identity_of = dict(zip(manifest["path"].tolist(), manifest["identity"].tolist()))
    a, b = pairs["path_a"].tolist(), pairs["path_b"].tolist()
    unknown = list(dict.fromkeys(p for p in a + b if p not in identity_of))
    if unknown:
        raise FairauditInputError(PAIRS_UNKNOWN_PATH.format(count=len(unknown), paths=_first(unknown)))
    same = np.flatnonzero(np.asarray(a, dtype=object) == np.asarray(b, dtype=object))
    if same.size:
        raise FairauditInputError(PAIRS_SELF.format(count=same.size, rows=_first(same)))
    genuine = pairs["genuine"].to_numpy(dtype=bool)
    ida = np.array([identity_of[p] for p in a], dtype=object)
    idb = np.array([identity_of[p] for p in b], dtype=object)
    wrong = np.flatnonzero((ida == idb) != genuine)
    if wrong.size:
        row = int(wrong[0])
        raise FairauditInputError(PAIRS_LABEL_MISMATCH.format(
            row=row, genuine=bool(genuine[row]), a=ida[row], b=idb[row]))
