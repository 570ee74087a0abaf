"""The tables that go with a candidate file (searches, gallery, attributes: DataFrames or CSV paths)
and the text helpers of :mod:`fairaudit.identification.candidate_files`' readers."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.score_files.text import utf8_error

NEEDS_TABLE = (
    "{name}=None: a {format} file does not say {what}. Fix: pass {name}= as a DataFrame or the path of a "
    "CSV file with {columns}."
)
TABLE_TYPE = (
    "{name} is a {type}: expected a pandas DataFrame or the path of a CSV file. Fix: pass "
    "{name}=pd.DataFrame({example}) or {name}='{name}.csv'."
)
TABLE_UNREADABLE = "{name}: cannot read {path!r} as CSV: {detail}. Fix: check the file."
TABLE_COLUMN = (
    "{name}: no column {column!r} (or {aliases}); it has {present}{index}. Fix: {fix}"
)
TABLE_MISSING_VALUES = (
    "{name}: {count} missing value(s) in column {column!r} (first at row {row}, {key}). Fix: fill "
    "them; fairaudit never drops rows silently."
)
TABLE_CONFLICT = (
    "{name}: identity {identity!r} has two different rows ({column}={a!r} and {b!r}). Fix: give each "
    "identity one row."
)
TABLES_DISAGREE = (
    "identity {identity!r} has {column}={a!r} in {first} and {b!r} in {second}. Fix: give each "
    "identity one value of every attribute (or drop the column from one table)."
)
IDENTITIES_MISSING = (
    "{count} identit{plural} of the {where} {verb} not in {tables} (first: {examples}, e.g. line "
    "{line}). Fix: add a row for each of them; fairaudit never drops candidates or searches silently."
)
_SEARCH_ID = ("search_id", "searchId", "probe", "probe_id")
_IDENTITY = ("identity", "subject_id", "subjectId")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _header_fields(line: str) -> list[str]:
    if "," in line:
        return [f.strip() for f in next(csv.reader([line], skipinitialspace=True))]
    return line.split()


def _lines(path: Path):
    """``(line number, text)`` of the non-blank lines of a text file (UTF-8, BOM and CRLF accepted)."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.strip():
                    yield lineno, line.rstrip("\r\n")
    except UnicodeDecodeError:
        raise utf8_error(path) from None


def _table(value: Any, name: str, example: str) -> pd.DataFrame | None:
    """``value`` (DataFrame or CSV path) as a DataFrame with string column names, or None."""
    if value is None:
        return None
    if isinstance(value, pd.DataFrame):
        frame = value.copy()
    elif isinstance(value, (str, os.PathLike)):
        p = Path(value)
        if p.is_dir():
            raise errors.FairauditInputError(errors.PATH_IS_DIRECTORY.format(name=name, path=str(p), kind="CSV",
                                                                             inside=""))
        if not p.is_file():
            raise errors.FairauditInputError(errors.FILE_NOT_FOUND.format(name=name, path=str(p)))
        try:
            frame = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig",
                                skipinitialspace=True)
        except UnicodeDecodeError:
            raise utf8_error(p) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise errors.FairauditInputError(TABLE_UNREADABLE.format(
                name=name, path=str(p), detail=str(exc).strip() or type(exc).__name__)) from None
    else:
        raise errors.FairauditInputError(TABLE_TYPE.format(name=name, type=type(value).__name__, example=example))
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _find(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    keys = {_key(n) for n in names}
    for column in frame.columns:
        if _key(column) in keys:
            return column
    return None


def _keyed(frame: pd.DataFrame, name: str, target: str, names: tuple[str, ...], fix: str,
           *, index_ok: bool) -> pd.DataFrame:
    """``frame`` with its column ``target`` (found under any of ``names``, else in an index of that
    name, else, when ``index_ok``, in any index but a plain row number) as text, and no missing cell."""
    keys = {_key(n) for n in names}
    column = _find(frame, names)
    index_name = frame.index.name
    if column is None and index_name is not None and _key(index_name) in keys:
        frame = frame.reset_index()
        column = str(index_name)
    elif column is None and index_ok and not isinstance(frame.index, pd.RangeIndex):
        frame = frame.rename_axis("__key__").reset_index()
        column = "__key__"
    if column is None:
        index = f" and an index named {index_name!r}" if index_name else ""
        raise errors.FairauditInputError(TABLE_COLUMN.format(
            name=name, column=target, aliases=", ".join(repr(n) for n in names[1:]), present=list(frame.columns),
            index=index, fix=fix))
    frame = frame.rename(columns={column: target}).reset_index(drop=True)
    _no_missing(frame, name, frame.columns, target)
    frame[target] = frame[target].astype(str).str.strip()
    return frame


def _no_missing(frame: pd.DataFrame, name: str, columns, key: str) -> None:
    for column in columns:
        cells = frame[column]
        absent = cells.isna().to_numpy() | (cells.astype(str).str.strip() == "").to_numpy()
        if absent.any():
            row = int(np.flatnonzero(absent)[0])
            where = f"{key} {frame[key].iloc[row]!r}" if column != key else "the key itself"
            raise errors.FairauditInputError(TABLE_MISSING_VALUES.format(
                name=name, count=int(absent.sum()), column=column, row=row, key=where))


def _identity_table(value: Any, name: str) -> pd.DataFrame | None:
    """An identity table: ``identity`` and attribute columns as text, one row per identity."""
    frame = _table(value, name, "{'identity': [...], 'gender': [...]}")
    if frame is None:
        return None
    frame = _keyed(frame, name, "identity", _IDENTITY,
                   "name the column of identities 'identity', or index the table by identity.", index_ok=True)
    frame = frame.astype(str).drop_duplicates()
    dup = frame["identity"].duplicated(keep=False)
    if dup.any():
        first = frame.loc[dup, "identity"].iloc[0]
        rows = frame[frame["identity"] == first]
        for column in frame.columns:
            values = rows[column].unique()
            if len(values) > 1:
                raise errors.FairauditInputError(TABLE_CONFLICT.format(
                    name=name, identity=first, column=column, a=values[0], b=values[1]))
    return frame.reset_index(drop=True)


def _merge_people(tables: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame | None:
    """One identity table from several (outer join on identity); a value two tables give differently
    for one identity is an error."""
    merged: pd.DataFrame | None = None
    origin: dict[str, str] = {}
    for name, table in tables:
        if merged is None:
            merged, origin = table.copy(), {c: name for c in table.columns}
            continue
        shared = [c for c in table.columns if c != "identity" and c in merged.columns]
        both = merged.merge(table[["identity", *shared]], on="identity", how="inner", suffixes=("", "__new"))
        for column in shared:
            bad = both[column] != both[f"{column}__new"]
            if bad.any():
                row = both[bad].iloc[0]
                raise errors.FairauditInputError(TABLES_DISAGREE.format(
                    identity=row["identity"], column=column, a=row[column], first=origin[column],
                    b=row[f"{column}__new"], second=name))
        merged = merged.merge(table, on="identity", how="outer", suffixes=("", "__new"))
        for column in shared:
            merged[column] = merged[column].fillna(merged.pop(f"{column}__new"))
        for column in table.columns:
            origin.setdefault(column, name)
    return merged


def _isin(values, allowed) -> np.ndarray:
    """Membership through a Python set (pandas' Arrow-backed strings test it element by element)."""
    allowed = allowed if isinstance(allowed, (set, frozenset)) else set(np.asarray(allowed, dtype=object).tolist())
    values = np.asarray(values, dtype=object)
    return np.fromiter((v in allowed for v in values), dtype=bool, count=len(values))


def _attach(frame: pd.DataFrame, name: str, people: pd.DataFrame | None, people_name: str,
            where: str) -> pd.DataFrame:
    """``frame`` (with an ``identity`` column) with the attribute columns of ``people`` it lacks;
    columns in both must agree."""
    if people is None:
        return frame
    missing = ~_isin(frame["identity"], people["identity"])
    if missing.any():
        examples = sorted(frame.loc[missing, "identity"].unique())
        raise errors.FairauditInputError(IDENTITIES_MISSING.format(
            count=len(examples), plural="y" if len(examples) == 1 else "ies", where=where,
            verb="is" if len(examples) == 1 else "are", tables=people_name, examples=examples[:5],
            line="?").replace(", e.g. line ?", ""))
    people = people.set_index("identity")
    out = frame.copy()
    for column in people.columns:
        values = out["identity"].map(people[column])
        if column in out.columns:
            differ = values.notna() & (out[column].astype(str) != values.astype(str))
            if differ.any():
                row = out[differ].iloc[0]
                raise errors.FairauditInputError(TABLES_DISAGREE.format(
                    identity=row["identity"], column=column, a=row[column], first=name, b=values[differ].iloc[0],
                    second=people_name))
        else:
            out[column] = values
    return out
