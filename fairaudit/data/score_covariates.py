"""Covariates of a ScoreSet: per-sample values (age at capture, a quality score, device, ...) given
**per side** of every comparison, since a listed comparison does not say which sample of an
identity it used.

A ScoreSet's covariates have one value per comparison and side: ``covariates("a")`` and
``covariates("b")`` are two tables with the same columns. Each covariate is numeric (float64) or
categorical (str labels), its kind read from both sides together (numeric only when both are
numbers) unless ``covariate_kinds`` says otherwise, and checked by
:func:`fairaudit.data.covariates.check_covariates` on each side (missing values are refused; the
names must not be attribute names). In tables and files a covariate ``NAME`` is the pair of columns
``covariate:NAME_a`` and ``covariate:NAME_b``, which attribute inference skips.

:class:`CovariateMethods` gives :class:`~fairaudit.data.ScoreSet` its covariate methods; the
functions here read the columns from a table and check what users pass.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.covariates import COVARIATE_KIND_NAME_UNKNOWN, _kind_of, check_covariates
from fairaudit.data.labels import _check_unique_names, _label_values, check_label_text

#: the prefix of a covariate's columns in a ScoreSet table or file: ``covariate:NAME_a``/``_b``
PREFIX = "covariate:"

COVARIATE_SIDE_MISSING = (
    "{given} was given but {missing} was not; a covariate of a ScoreSet needs a value for both sides "
    "of every comparison. Fix: pass both (same names), or neither."
)
COVARIATE_SIDE_NOT_TABLE = (
    "{name} must be a DataFrame or a mapping of covariate name -> one value per comparison; got "
    "{type}. Fix: pass e.g. {name}={{'quality': values}} with one value per comparison."
)
COVARIATE_SIDE_LENGTH = (
    "{name} has {got} entries but score has {n}. Fix: give exactly one value per comparison, in the "
    "order of the comparisons."
)
COVARIATE_SIDES_DIFFER = (
    "{name_a} and {name_b} must name the same covariates; only in {name_a}: {only_a}; only in "
    "{name_b}: {only_b}. Fix: give every covariate for both sides of the comparisons."
)
COVARIATE_SIDE_VALUES_MISSING = (
    "{name} has {count} missing or non-finite value(s) (first rows: {rows}); fairaudit does not drop "
    "comparisons silently. Fix: fill them in, or drop those comparisons before building the ScoreSet."
)
COVARIATE_COLUMN_UNPAIRED = (
    "{name} has the column {column!r} but not {partner!r}; a covariate needs a value for both sides "
    "of every comparison. Fix: add {partner!r}, or drop {column!r}."
)
COVARIATE_COLUMN_NO_SIDE = (
    "{name} has the column {column!r}, which starts with {prefix!r} (a covariate column) but does not "
    "end in '_a' or '_b'. Fix: name it '{column}_a' (side a) or '{column}_b' (side b), or rename it."
)
COVARIATE_ALREADY = (
    "covariates {names} are already in this ScoreSet. Fix: pass replace=True to swap the whole "
    "covariate table, or rename the new covariates."
)
COVARIATE_ATTRIBUTE_PREFIX = (
    "attribute {name!r} starts with {prefix!r}, which marks the columns of a covariate. Fix: rename "
    "the attribute."
)
BAD_SIDE = (
    "side={value!r} must be 'a' or 'b'. Fix: pass side='a' (first side, the reference) "
    "or side='b' (second side, the probe)."
)


def column_names(name: str) -> tuple[str, str]:
    """The columns of covariate ``name`` in a table: ``covariate:NAME_a``, ``covariate:NAME_b``."""
    return f"{PREFIX}{name}_a", f"{PREFIX}{name}_b"


def covariate_names_of(columns: list[str], *, name: str = "table") -> list[str]:
    """The covariates of a table's ``columns`` (str), in column order; a covariate column without
    its other side is refused (``name`` names the table in the message)."""
    present = set(columns)
    out: list[str] = []
    for column in columns:
        if not column.startswith(PREFIX):
            continue
        if not column.endswith(("_a", "_b")) or len(column) <= len(PREFIX) + 2:
            raise errors.FairauditInputError(COVARIATE_COLUMN_NO_SIDE.format(
                name=name, column=column, prefix=PREFIX))
        partner = column[:-1] + ("b" if column.endswith("_a") else "a")
        if partner not in present:
            raise errors.FairauditInputError(COVARIATE_COLUMN_UNPAIRED.format(
                name=name, column=column, partner=partner))
        covariate = column[len(PREFIX):-2]
        if covariate not in out:
            out.append(covariate)
    return out


#: how messages name the covariate columns of a table (see :func:`check_side_covariates`)
TABLE_SIDES = (f"column '{PREFIX}{{key}}_a'", f"column '{PREFIX}{{key}}_b'")


def sides_of_table(table: pd.DataFrame, *, name: str = "table") -> tuple[dict, dict] | None:
    """The covariate columns of ``table`` as ``({name: side a values}, {name: side b values})``,
    or None when it has none (pass ``names=TABLE_SIDES`` to :func:`check_side_covariates`)."""
    columns = [str(c) for c in table.columns]
    names = covariate_names_of(columns, name=name)
    if not names:
        return None
    position = {c: i for i, c in enumerate(columns)}
    side_a, side_b = {}, {}
    for covariate in names:
        col_a, col_b = column_names(covariate)
        side_a[covariate] = table.iloc[:, position[col_a]].reset_index(drop=True)
        side_b[covariate] = table.iloc[:, position[col_b]].reset_index(drop=True)
    return side_a, side_b


def _label(name: str, key: Any) -> str:
    """How messages name one covariate of one side: ``name`` with ``{key}`` filled in (a table's
    column), or ``name[key]`` (an argument)."""
    return name.format(key=key) if "{key}" in name else f"{name}[{str(key)!r}]"


def _side_columns(values: Any, name: str, n: int) -> dict[str, pd.Series]:
    """One side's covariates as ``{name: Series of n values}``, each checked for length and for
    missing values."""
    if isinstance(values, pd.DataFrame):
        names = [str(c) for c in values.columns]
        _check_unique_names(names)
        if names and len(values) != n:
            raise errors.FairauditInputError(COVARIATE_SIDE_LENGTH.format(name=name, got=len(values), n=n))
        columns = {str(c): values.iloc[:, i].reset_index(drop=True) for i, c in enumerate(values.columns)}
    elif isinstance(values, Mapping):
        _check_unique_names([str(k) for k in values])
        columns = {}
        for key, column in values.items():
            label = _label(name, key)
            column = _label_values(column, name=label, n=n, per="comparison")
            series = (column.reset_index(drop=True) if isinstance(column, pd.Series) else
                      pd.Series(column if isinstance(column, np.ndarray) else list(column)))
            if len(series) != n:
                raise errors.FairauditInputError(COVARIATE_SIDE_LENGTH.format(name=label, got=len(series), n=n))
            columns[str(key)] = series
    else:
        raise errors.FairauditInputError(COVARIATE_SIDE_NOT_TABLE.format(name=name, type=type(values).__name__))
    for key, series in columns.items():
        bad = series.isna().to_numpy()
        if _kind_of(series) == "numeric":
            bad = bad | ~np.isfinite(series.to_numpy(dtype=np.float64, na_value=np.nan))
        rows = np.flatnonzero(bad)
        if rows.size:
            raise errors.FairauditInputError(COVARIATE_SIDE_VALUES_MISSING.format(
                name=_label(name, key), count=rows.size, rows=[int(r) for r in rows[:5]]))
    return columns


def check_side_covariates(a: Any, b: Any, n: int, *, taken: list[str], kinds: Mapping[str, str] | None = None,
                          names: tuple[str, str] = ("covariates_a", "covariates_b"),
                          ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """The covariates of both sides checked: two tables of ``n`` rows with the same columns (in
    side a's order) and the kind of every covariate, read from both sides together.

    ``taken`` are the attribute names; ``kinds`` overrides the kinds read from the values;
    ``names`` name the two arguments in messages (with ``{key}``: templates of one covariate's
    name, e.g. a table's columns).
    """
    name_a, name_b = names
    if a is None and b is None:
        if kinds:
            raise errors.FairauditInputError(COVARIATE_KIND_NAME_UNKNOWN.format(name=next(iter(kinds)),
                                                                                available=[]))
        empty = pd.DataFrame(index=pd.RangeIndex(n))
        return empty, empty.copy(), {}
    if a is None or b is None:
        given, missing = (name_a, name_b) if b is None else (name_b, name_a)
        raise errors.FairauditInputError(COVARIATE_SIDE_MISSING.format(given=given, missing=missing))
    cols_a, cols_b = _side_columns(a, name_a, n), _side_columns(b, name_b, n)
    only_a = [c for c in cols_a if c not in cols_b]
    only_b = [c for c in cols_b if c not in cols_a]
    if only_a or only_b:
        raise errors.FairauditInputError(COVARIATE_SIDES_DIFFER.format(
            name_a=name_a, name_b=name_b, only_a=only_a, only_b=only_b))
    given = dict(kinds or {})
    unknown = [k for k in given if k not in cols_a]
    if unknown:
        raise errors.FairauditInputError(COVARIATE_KIND_NAME_UNKNOWN.format(name=unknown[0], available=list(cols_a)))
    joint = {c: given.get(c) or ("numeric" if _kind_of(cols_a[c]) == _kind_of(cols_b[c]) == "numeric"
                                 else "categorical") for c in cols_a}
    frames = []
    for side, cols in ((name_a, cols_a), (name_b, {c: cols_b[c] for c in cols_a})):
        try:
            frame, out_kinds = check_covariates(pd.DataFrame(cols, index=pd.RangeIndex(n)), n, taken=taken,
                                                kinds=joint)
        except errors.FairauditInputError as exc:
            raise errors.FairauditInputError(f"{side.format(key='*')}: {exc}") from None
        frames.append(frame)
    for c, kind in out_kinds.items():
        if kind == "categorical":  # 'p' on side a and 'p ' on side b would be two levels
            both = np.concatenate([frames[0][c].to_numpy(dtype=str), frames[1][c].to_numpy(dtype=str)])
            try:
                check_label_text(both, name=f"covariate {c!r}", what="levels")
            except errors.FairauditInputError as exc:
                raise errors.FairauditInputError(f"{_label(name_a, c)}/{_label(name_b, c)}: {exc}") from None
    return frames[0], frames[1], out_kinds


def check_attribute_names(names: list[str]) -> None:
    """Refuse attribute names that would read as covariate columns."""
    for name in names:
        if str(name).startswith(PREFIX):
            raise errors.FairauditInputError(COVARIATE_ATTRIBUTE_PREFIX.format(name=name, prefix=PREFIX))


def numeric_text_columns(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """``frame`` (text cells, as a CSV is read) with the covariates whose cells, on both sides, all
    parse as finite numbers converted to float64; the others stay text (categorical)."""
    out = frame
    for covariate in names:
        cols = column_names(covariate)
        parsed = [pd.to_numeric(frame[c].astype(str).str.strip(), errors="coerce") for c in cols]
        values = [p.to_numpy(dtype=np.float64, na_value=np.nan) for p in parsed]
        if all(np.isfinite(v).all() for v in values) and len(frame):
            out = out.assign(**{c: v for c, v in zip(cols, values)})
    return out


class CovariateMethods:
    """The covariate methods of :class:`~fairaudit.data.ScoreSet` (see :mod:`.score_covariates`)."""

    _cov_a: pd.DataFrame
    _cov_b: pd.DataFrame
    _cov_kinds: dict[str, str]

    def _set_covariates(self, a: Any, b: Any, kinds: Mapping[str, str] | None,
                        names: tuple[str, str] = ("covariates_a", "covariates_b")) -> None:
        self._cov_a, self._cov_b, self._cov_kinds = check_side_covariates(
            a, b, len(self), taken=self.attribute_names, kinds=kinds, names=names)

    @property
    def covariate_names(self) -> list[str]:
        """Names of the covariates (per-sample values given for both sides), in column order."""
        return list(self._cov_kinds)

    @property
    def covariate_kinds(self) -> dict[str, str]:
        """``{name: "numeric" | "categorical"}`` for every covariate, in column order."""
        return dict(self._cov_kinds)

    def covariates(self, side: str) -> pd.DataFrame:
        """A copy of the covariates of side ``'a'`` or ``'b'``: one row per comparison, one column
        per covariate (numeric ones float64, categorical ones str); no columns when there is none."""
        if side not in ("a", "b"):
            raise errors.FairauditInputError(BAD_SIDE.format(value=side))
        return (self._cov_a if side == "a" else self._cov_b).copy()

    def with_covariates(self, a: Any, b: Any, *, kinds: Mapping[str, str] | None = None,
                        replace: bool = False) -> Any:
        """A new set with covariates added (or instead of this set's, with ``replace=True``).

        Parameters
        ----------
        a, b : DataFrame or mapping
            The covariates of side a and side b, one value per comparison each, with the same names
            on both sides (e.g. ``a={"quality": qa}, b={"quality": qb}``). Names must not be
            attribute names.
        kinds : mapping, optional
            ``{name: "numeric" | "categorical"}``; by default a covariate is numeric when both
            sides hold numbers, categorical otherwise (e.g. declare a device coded 1, 2, 3).
        replace : bool
            Drop this set's covariates instead of keeping them.
        """
        import copy

        new_a, new_b, new_kinds = check_side_covariates(a, b, len(self), taken=self.attribute_names,
                                                        kinds=kinds, names=("a", "b"))
        out = copy.copy(self)
        if replace:
            out._cov_a, out._cov_b, out._cov_kinds = new_a, new_b, new_kinds
            return out
        clash = [c for c in new_kinds if c in self._cov_kinds]
        if clash:
            raise errors.FairauditInputError(COVARIATE_ALREADY.format(names=clash))
        out._cov_a = pd.concat([self._cov_a, new_a], axis=1)
        out._cov_b = pd.concat([self._cov_b, new_b], axis=1)
        out._cov_kinds = {**self._cov_kinds, **new_kinds}
        return out

    def _covariate_columns(self) -> dict[str, np.ndarray]:
        """The covariate columns of :attr:`table` and the files: ``covariate:NAME_a``, ``_b``."""
        out: dict[str, np.ndarray] = {}
        for name in self._cov_kinds:
            col_a, col_b = column_names(name)
            out[col_a] = self._cov_a[name].to_numpy(copy=True)
            out[col_b] = self._cov_b[name].to_numpy(copy=True)
        return out
