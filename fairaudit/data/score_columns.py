"""The columns of a ScoreSet checked and encoded: scores as finite floats, ``genuine`` as bool,
labels as integer codes over str categories (one set of categories for both sides), and the
check that an identity has one value of every attribute.

Pure functions of arrays; :class:`~fairaudit.data.ScoreSet` stores what they return.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.labels import check_label_text
from fairaudit.data.score_covariates import PREFIX as _COVARIATE_PREFIX
from fairaudit.data.score_covariates import check_attribute_names

SCORE_NOT_NUMERIC = (
    "score must hold numbers (higher = more similar); got dtype {dtype}{detail}. Fix: "
    "clean those values and convert with pd.to_numeric(table['score'])."
)
SCORE_COMPLEX = (
    "score must hold real numbers; got dtype {dtype}, and casting would silently drop the "
    "imaginary part. Fix: pass the real similarity scores (np.real(score) if every imaginary "
    "part is 0)."
)
SCORE_NON_FINITE = (
    "score has {count} NaN or infinite value(s) (first rows: {rows}). Fix: drop or "
    "recompute these comparisons; fairaudit never drops rows silently."
)
GENUINE_NOT_BOOL = (
    "genuine must hold booleans (True/False or 1/0); it has {count} other value(s) "
    "(first rows: {rows}; values: {values}). Fix: pass a bool column, or drop the column "
    "so that it is derived as identity_a == identity_b."
)
PAIR_ATTRIBUTE_NOT_CONSTANT = (
    "attribute {attribute!r} of identity {identity!r} is not the same everywhere the "
    "identity appears (on side a or b): values seen {values}. An identity belongs to "
    "exactly one group. Fix: correct the labels of that identity, or leave "
    "{attribute!r} out of attributes= if it describes the sample rather than the person "
    "(e.g. age at capture)."
)
GENUINE_MISMATCH = (
    "genuine disagrees with identity_a == identity_b on {count} row(s) (first rows: "
    "{rows}). A comparison is genuine exactly when both sides show the same identity. "
    "Fix: correct the identity labels or the genuine column, or drop genuine so that it "
    "is derived."
)
NO_IMPOSTOR_ROWS = (
    "the table has no impostor comparison (a row with identity_a != identity_b) among "
    "its {n} row(s), so false-match rates are undefined. Fix: include comparisons "
    "between different people."
)

_RESERVED = ("identity", "score", "genuine")

_TRUE = frozenset(("true", "1", "1.0"))
_FALSE = frozenset(("false", "0", "0.0"))


def _first(rows: np.ndarray, k: int = 5) -> list[int]:
    return [int(r) for r in np.asarray(rows)[:k]]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value, so that messages show 'p1', not np.str_('p1')."""
    return value.item() if isinstance(value, np.generic) else value


def _infer_attributes(columns: Sequence[str]) -> list[str]:
    """Every X (not reserved) such that both ``X_a`` and ``X_b`` are columns, in column order;
    covariate columns (``covariate:NAME_a``/``_b``) are not attributes."""
    present = set(columns)
    names = []
    for column in columns:
        if column.endswith("_a") and not column.startswith(_COVARIATE_PREFIX):
            name = column[:-2]
            if name and name not in _RESERVED and f"{name}_b" in present and name not in names:
                names.append(name)
    return names


class _Encoded:
    """A label column already encoded: ``categories[codes]`` are the labels (str)."""

    __slots__ = ("codes", "categories")

    def __init__(self, codes: np.ndarray, categories: np.ndarray) -> None:
        self.codes = codes
        self.categories = categories


def _encode(values: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Encode a label column as (codes, str categories), refusing missing values.

    Labels are compared as str, so ``1`` and ``"1"`` become the same label.
    """
    if isinstance(values, _Encoded):
        return values.codes, values.categories
    if isinstance(values, (pd.Series, pd.Index, pd.Categorical)):
        data = values
    else:
        data = np.asarray(values)
    codes, uniques = pd.factorize(data)
    missing = np.flatnonzero(codes < 0)
    if missing.size:
        raise errors.FairauditInputError(
            errors.MISSING_VALUES.format(name=name, count=missing.size, rows=_first(missing))
        )
    text = np.asarray([str(u) for u in uniques], dtype=object)
    blank = np.flatnonzero([not t.strip() for t in text])
    if blank.size:  # an empty label would be a person or group named ''
        rows = np.flatnonzero(np.isin(codes, blank))
        raise errors.FairauditInputError(
            errors.EMPTY_VALUES.format(name=name, count=rows.size, rows=_first(rows))
        )
    merged_codes, merged = pd.factorize(text)  # distinct raw values with the same text
    if len(merged) != len(text):
        codes = merged_codes[codes]
    return np.asarray(codes, dtype=np.intp), np.asarray(merged, dtype=str)


def _shared(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], *, name: str,
            what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Re-code two encoded columns on one set of categories.

    Labels that differ only by surrounding spaces (``'p1'`` on side a, ``'p1 '``
    on side b) are refused: they would silently make a genuine pair an impostor one.
    """
    (codes_a, cats_a), (codes_b, cats_b) = a, b
    cats = pd.unique(np.concatenate([cats_a.astype(object), cats_b.astype(object)]))
    check_label_text(np.asarray(cats, dtype=object), name=name, what=what)
    index = pd.Index(cats, dtype=object)
    map_a = index.get_indexer(cats_a.astype(object))
    map_b = index.get_indexer(cats_b.astype(object))
    return map_a[codes_a], map_b[codes_b], np.asarray(cats, dtype=str)


def _scores(values: Any) -> np.ndarray:
    """``values`` as finite float64, or an error naming the bad rows."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        out = values.astype(np.float64)
    else:
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        kind = getattr(series.dtype, "kind", "O")
        if kind == "c":
            raise errors.FairauditInputError(SCORE_COMPLEX.format(dtype=series.dtype))
        if pd.api.types.is_bool_dtype(series.dtype) or kind in "mM":
            raise errors.FairauditInputError(SCORE_NOT_NUMERIC.format(dtype=series.dtype, detail=""))
        if pd.api.types.is_numeric_dtype(series.dtype):
            out = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            converted = pd.to_numeric(series, errors="coerce")
            bad = np.flatnonzero((converted.isna() & series.notna()).to_numpy())
            if bad.size:
                shown = [_plain(series.iloc[i]) for i in bad[:5]]
                raise errors.FairauditInputError(
                    SCORE_NOT_NUMERIC.format(
                        dtype=series.dtype,
                        detail=(f" with {bad.size} value(s) that are not numbers (first rows: "
                                f"{_first(bad)}; values: {shown})"),
                    )
                )
            if getattr(converted.dtype, "kind", "") == "c":  # Python complex numbers in an object column
                raise errors.FairauditInputError(SCORE_COMPLEX.format(dtype=f"{series.dtype} (complex values)"))
            out = converted.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise errors.FairauditInputError(SCORE_NON_FINITE.format(count=bad.size, rows=_first(bad)))
    return np.ascontiguousarray(out)


def _genuine(values: Any) -> np.ndarray:
    """``values`` as bool: bools, 0/1, or the strings true/false/1/0 (any case)."""
    if isinstance(values, np.ndarray) and values.dtype == bool:
        return values.copy()
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    missing = np.flatnonzero(series.isna().to_numpy())
    if missing.size:
        raise errors.FairauditInputError(
            errors.MISSING_VALUES.format(name="genuine", count=missing.size, rows=_first(missing))
        )
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        arr = series.to_numpy(dtype=np.float64)
        bad = np.flatnonzero((arr != 0) & (arr != 1))
        out = arr == 1
    else:
        text = series.astype(str).str.strip().str.lower()
        is_true = text.isin(_TRUE).to_numpy()
        bad = np.flatnonzero(~(is_true | text.isin(_FALSE).to_numpy()))
        out = is_true
    if bad.size:
        raise errors.FairauditInputError(
            GENUINE_NOT_BOOL.format(count=bad.size, rows=_first(bad),
                                    values=[_plain(series.iloc[i]) for i in bad[:5]])
        )
    return np.asarray(out, dtype=bool)


def _value_per_identity(ids: np.ndarray, n_ids: int, vals: np.ndarray, n_vals: int,
                        ) -> np.ndarray | None:
    """Value code of every identity, or None if some identity has two values."""
    key = ids.astype(np.int64) * max(n_vals, 1) + vals
    pairs = pd.unique(key)
    owners = pairs // max(n_vals, 1)
    if np.bincount(owners, minlength=n_ids).max(initial=0) > 1:
        return None
    out = np.zeros(n_ids, dtype=np.intp)
    out[owners] = pairs % max(n_vals, 1)
    return out


def _describe_conflict(name: str, ids: np.ndarray, id_cats: np.ndarray, vals: np.ndarray,
                       val_cats: np.ndarray, n: int) -> str:
    """Message for the first identity (in sorted order) with two values of ``name``."""
    n_vals = max(len(val_cats), 1)
    pairs = pd.unique(ids.astype(np.int64) * n_vals + vals)
    counts = np.bincount(pairs // n_vals, minlength=len(id_cats))
    bad = np.flatnonzero(counts > 1)
    ident = int(bad[np.argmin(id_cats[bad])]) if bad.size else 0
    where = np.flatnonzero(ids == ident)
    seen, first = np.unique(vals[where], return_index=True)
    order = np.argsort(first)
    described = ", ".join(
        f"{str(val_cats[seen[i]])!r} (first at row {int(where[first[i]]) % n}, side "
        f"{'a' if where[first[i]] < n else 'b'})"
        for i in order
    )
    return PAIR_ATTRIBUTE_NOT_CONSTANT.format(attribute=name, identity=str(id_cats[ident]),
                                              values=described)


def _check_names(names: Sequence[str]) -> None:
    check_attribute_names(list(names))
    for name in names:
        if name in _RESERVED:
            raise errors.FairauditInputError(
                errors.ATTRIBUTE_RESERVED.format(column=name, reserved=", ".join(_RESERVED))
            )


def encode_columns(score: Any, identity_a: Any, identity_b: Any, genuine: Any,
                   attributes: dict[str, tuple[Any, Any]]) -> tuple:
    """Validate one value per comparison for every column, and encode them.

    Returns ``(score, genuine, (identity codes a, b, categories), {attribute: (codes a, b,
    categories)}, {attribute: value code of every identity})``.
    """
    _check_names(list(attributes))
    scores = _scores(score)
    n = len(scores)
    ida, idb, id_cats = _shared(_encode(identity_a, "identity_a"),
                                _encode(identity_b, "identity_b"),
                                name="identity_a/identity_b", what="identities")
    same = ida == idb
    if genuine is not None:
        flags = _genuine(genuine)
        wrong = np.flatnonzero(flags != same)
        if wrong.size:
            raise errors.FairauditInputError(
                GENUINE_MISMATCH.format(count=wrong.size, rows=_first(wrong))
            )
    if same.all():
        raise errors.FairauditInputError(NO_IMPOSTOR_ROWS.format(n=n))

    ids = np.concatenate([ida, idb])
    attrs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    per_identity_codes: dict[str, np.ndarray] = {}
    for name, (values_a, values_b) in attributes.items():
        va, vb, cats = _shared(_encode(values_a, f"{name}_a"), _encode(values_b, f"{name}_b"),
                               name=f"{name}_a/{name}_b", what="groups")
        vals = np.concatenate([va, vb])
        per_identity = _value_per_identity(ids, len(id_cats), vals, len(cats))
        if per_identity is None:
            raise errors.FairauditInputError(
                _describe_conflict(name, ids, id_cats, vals, cats, n)
            )
        attrs[name] = (va, vb, cats)
        per_identity_codes[name] = per_identity

    return scores, np.ascontiguousarray(same), (ida, idb, id_cats), attrs, per_identity_codes
