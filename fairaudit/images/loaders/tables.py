"""The CSV tables the loaders read: every cell as text (only empty cells are missing), a column
name twice or a malformed row refused, and the required, filled and reserved columns checked."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.validation import _N_LISTED

CSV_MISSING_COLUMN = (
    "{name}: {path!r} lacks the column {column!r} (has: {columns}). Fix: add it{extra}."
)
CSV_MISSING_VALUES = (
    "{name}: {path!r} has {count} empty cell(s) in column {column!r} (first lines: "
    "{lines}). Fix: fill them; fairaudit never drops rows silently."
)
CSV_UNREADABLE = (
    "{name}: {path!r} is not a readable CSV table ({problem}). Fix: write it as UTF-8 text with one "
    "header line and one comma-separated row per line."
)
CSV_DUPLICATE_COLUMNS = (
    "{name}: {path!r} has the column(s) {columns} more than once. Fix: rename or drop the duplicates; "
    "fairaudit never picks one of them silently."
)
CSV_RESERVED_COLUMN = (
    "{name}: {path!r} has a column {column!r}, a name fairaudit reserves ({reserved}). "
    "Fix: rename it."
)


def _read_table(path: str, *, name: str) -> pd.DataFrame:
    """Read a CSV with every cell as str; only empty cells count as missing.

    ``keep_default_na=False`` keeps labels such as ``NA`` or ``None`` as text: they
    are legitimate attribute values, not gaps. A file that is not UTF-8 text, not
    a table, empty, unreadable, or has a column name twice (which pandas would
    rename silently to ``name.1``) raises a FairauditInputError naming ``name``.
    """
    import csv

    def fail(problem: str) -> FairauditInputError:
        return FairauditInputError(CSV_UNREADABLE.format(name=name, path=path, problem=problem))

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            for row in reader:
                # pandas would silently take the extra leading fields of such a row as its index
                if len(row) > len(header):
                    raise fail(f"line {reader.line_num} has {len(row)} fields, the header {len(header)}")
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8",
                            index_col=False)
    except UnicodeDecodeError as exc:
        raise fail(f"it is not UTF-8 text: byte {exc.start} is {exc.object[exc.start:exc.start + 1]!r}") from None
    except pd.errors.EmptyDataError:
        raise fail("the file is empty") from None
    except (pd.errors.ParserError, csv.Error) as exc:
        raise fail(str(exc).strip().splitlines()[0]) from None
    except OSError as exc:
        raise fail((exc.strerror or type(exc).__name__).lower()) from None
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise FairauditInputError(CSV_DUPLICATE_COLUMNS.format(name=name, path=path, columns=dup))
    return table


def _require_columns(table: pd.DataFrame, columns: Sequence[str], *, name: str, path: str,
                     extra: str = "") -> None:
    for column in columns:
        if column not in table.columns:
            raise FairauditInputError(CSV_MISSING_COLUMN.format(
                name=name, path=path, column=column, columns=list(table.columns), extra=extra))


def _require_filled(table: pd.DataFrame, *, name: str, path: str) -> None:
    for column in table.columns:
        empty = np.flatnonzero(table[column].isna().to_numpy())
        if empty.size:
            # line 1 is the header, so data row i sits on line i + 2
            raise FairauditInputError(CSV_MISSING_VALUES.format(
                name=name, path=path, count=empty.size, column=column,
                lines=[int(i) + 2 for i in empty[:_N_LISTED]]))


def _reject_reserved(table: pd.DataFrame, reserved: Sequence[str], *, name: str, path: str) -> None:
    for column in table.columns:
        if column in reserved:
            raise FairauditInputError(CSV_RESERVED_COLUMN.format(
                name=name, path=path, column=column, reserved=", ".join(reserved)))
