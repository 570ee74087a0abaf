"""CSV score files: fairaudit's (``score``, ``identity_a``, ``identity_b``, ``X_a``/``X_b``,
``covariate:NAME_a``/``covariate:NAME_b``) and
Bob's ``CSVScoreWriter`` output (``bio_ref_*``/``probe_*`` columns), read into a table of
comparisons; a bad cell is reported with its line number and content.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.score_columns import _infer_attributes
from fairaudit.data.score_covariates import column_names, covariate_names_of, numeric_text_columns
from fairaudit.data.score_files.text import (SCORE_FILE_EMPTY, _clip, _first_content_line, _number_problem,
                                             _require_content, utf8_error)

CSV_MISSING_COLUMNS = (
    "{path!r} is not a {format} file: it lacks the column(s) {missing} (columns found: "
    "{found}). Fix: {fix}"
)
CSV_BAD_CELL = (
    "{path!r} line {line}: column {column!r} {problem}: {content!r}. Fix: correct or "
    "remove that line; fairaudit never skips bad lines silently."
)
CSV_UNREADABLE = "{path!r} could not be read as CSV: {detail}. Fix: check the file."
BOB_ATTRIBUTE_UNKNOWN = (
    "attributes lists {attribute!r}, but {path!r} has no columns 'bio_ref_{attribute}' "
    "and 'probe_{attribute}'; metadata present on both sides: {available}. Fix: pass "
    "some of those."
)
#: Bob CSV columns that name the identity of each side, in order of preference.
_BOB_IDENTITY = ("subject_id", "subject", "reference_id")
#: Bob CSV metadata that describe a sample or template, never the person.
_BOB_NOT_ATTRIBUTES = frozenset(
    ("subject_id", "subject", "reference_id", "template_id", "key", "path",
     "annotations", "references")
)
#: How Bob writes an absent metadata value (``str(None)``, ``str(nan)``).
_BOB_MISSING = ("None", "nan", "NaN")


def _header_of(path: Path, pairs: pd.DataFrame) -> list[str]:
    """The header of a CSV file as written (the columns of ``pairs`` are renamed ones)."""
    first = _first_content_line(path)
    return _csv_header(first) if first is not None else list(pairs.columns)


class _LineTracker:
    """Line iterator for :mod:`csv` that remembers where each record starts."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.count = 0
        self.start = 1
        self.lines: list[str] = []

    def mark(self) -> None:
        self.start = self.count + 1
        self.lines = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._fh)
        self.count += 1
        self.lines.append(line)
        return line


def _csv_row_location(path: Path, row: int, skipinitialspace: bool) -> tuple[int, str]:
    """Line number and text of data row ``row`` (0-based; blank lines skipped as pandas does)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        tracker = _LineTracker(fh)
        reader = csv.reader(tracker, skipinitialspace=skipinitialspace)
        header_seen = False
        index = -1
        while True:
            tracker.mark()
            record = next(reader, None)
            if record is None:
                break
            if all(not field.strip() for field in record):
                continue
            if not header_seen:
                header_seen = True
                continue
            index += 1
            if index == row:
                return tracker.start, "".join(tracker.lines).rstrip("\r\n")
    return row + 2, "<line not found>"


def _csv_header(line: str) -> list[str]:
    return [field.strip() for field in next(csv.reader([line], skipinitialspace=True))]


def _read_csv(path: Path, *, skipinitialspace: bool) -> pd.DataFrame:
    """Read a CSV file with a header: ``score`` as float64 if it parses, every other cell as str.

    Empty cells are NaN. If ``score`` does not parse as numbers the file is
    read again with ``score`` as str, so that the bad cell can be reported.
    """
    _require_content(path)
    first = _first_content_line(path) or ""
    header = next(csv.reader([first], skipinitialspace=skipinitialspace))
    frame = _read_csv_arrow(path, header)
    if frame is not None:
        return frame
    options = dict(keep_default_na=False, na_values=[""], encoding="utf-8-sig",
                   skipinitialspace=skipinitialspace, skip_blank_lines=True)
    typed = {c: (np.float64 if c.strip() == "score" else str) for c in header}
    try:
        try:
            frame = pd.read_csv(path, dtype=typed, **options)
        except pd.errors.ParserError:
            raise
        except ValueError:  # a score that is not a number: read it as text to report it
            frame = pd.read_csv(path, dtype=str, **options)
    except pd.errors.EmptyDataError:
        raise errors.FairauditInputError(
            SCORE_FILE_EMPTY.format(path=str(path), detail="only blank lines")
        ) from None
    except UnicodeDecodeError:
        raise utf8_error(path) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise errors.FairauditInputError(
            CSV_UNREADABLE.format(path=str(path), detail=str(exc).strip())
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_csv_arrow(path: Path, header: list[str]) -> pd.DataFrame | None:
    """Fast path of :func:`_read_csv` with pyarrow; None when the file needs the careful path.

    pyarrow is strict (no blank-but-whitespace lines, no space after commas,
    every score a number), so any file it rejects is read again by pandas,
    which reports the exact problem.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if len(set(header)) != len(header) or any(c != c.strip() for c in header):
        return None
    types = {c: (pa.float64() if c == "score" else pa.string()) for c in header}
    try:
        table = pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(column_types=types, null_values=[""],
                                                strings_can_be_null=True,
                                                quoted_strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    if table.column_names != header:
        return None
    frame = table.to_pandas()
    frame.columns = list(header)
    return frame


def _csv_cells(path: Path, frame: pd.DataFrame, columns: Sequence[str], *,
               skipinitialspace: bool, empty: str = "is empty or blank") -> np.ndarray:
    """Check that ``columns`` have no empty or blank cell and that ``score`` is finite; return scores."""

    def fail(row: int, column: str, problem: str) -> None:
        line, content = _csv_row_location(path, row, skipinitialspace)
        raise errors.FairauditInputError(
            CSV_BAD_CELL.format(path=str(path), line=line, column=column, problem=problem,
                                content=_clip(content))
        )

    for column in ("score", *columns):
        cells = frame[column]
        absent = cells.isna().to_numpy()
        if column != "score" and not pd.api.types.is_numeric_dtype(cells.dtype):
            absent = absent | (cells.fillna("-").astype(str).str.strip() == "").to_numpy()
        missing = np.flatnonzero(absent)
        if missing.size:
            fail(int(missing[0]), column, f"{empty} ({missing.size} such row(s) in the file)")
    text = frame["score"]
    if pd.api.types.is_numeric_dtype(text.dtype) and not pd.api.types.is_bool_dtype(text.dtype):
        values = text.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        text = text.astype(str)
        values = pd.to_numeric(text.str.strip(), errors="coerce").to_numpy(dtype=np.float64,
                                                                          na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        first = int(bad[0])
        line, content = _csv_row_location(path, first, skipinitialspace)
        cells = next(csv.reader([content], skipinitialspace=skipinitialspace), [])
        header = list(frame.columns)
        raw = cells[header.index("score")] if len(cells) == len(header) else str(text.iloc[first])
        problem = _number_problem(raw) if math.isnan(values[first]) and raw.strip().lower() not in (
            "nan", "+nan", "-nan") else "is not finite"
        raise errors.FairauditInputError(
            CSV_BAD_CELL.format(path=str(path), line=line, column="score", content=_clip(content),
                                problem=f"holds {raw!r}, which {problem} ({bad.size} such "
                                        "row(s) in the file)")
        )
    return values


def _bob_identity_columns(columns: Sequence[str]) -> str | None:
    present = set(columns)
    for key in _BOB_IDENTITY:
        if f"bio_ref_{key}" in present and f"probe_{key}" in present:
            return key
    return None


def _fairaudit_csv_pairs(path: Path, attributes: Sequence[str] | None,
                         covariate_kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    frame = _read_csv(path, skipinitialspace=False)
    missing = [c for c in ("score", "identity_a", "identity_b") if c not in frame.columns]
    if missing:
        raise errors.FairauditInputError(
            CSV_MISSING_COLUMNS.format(path=str(path), format="fairaudit-csv", missing=missing,
                                       found=list(frame.columns),
                                       fix="write it with ScoreSet.save() or pass format=...")
        )
    names = _infer_attributes(list(frame.columns)) if attributes is None else (
        [attributes] if isinstance(attributes, str) else list(attributes))
    checked = ["identity_a", "identity_b"] + (["genuine"] if "genuine" in frame.columns else [])
    checked += [f"{n}_{side}" for n in names for side in ("a", "b")
                if isinstance(n, str) and f"{n}_{side}" in frame.columns]
    covariates = covariate_names_of(list(frame.columns), name=repr(str(path)))
    checked += [c for name in covariates for c in column_names(name)]
    frame["score"] = _csv_cells(path, frame, checked, skipinitialspace=False)
    # a covariate whose cells all read as numbers is numeric (covariate_kinds= of read says otherwise)
    text = [c for c, kind in (covariate_kinds or {}).items() if kind == "categorical"]
    return numeric_text_columns(frame, [c for c in covariates if c not in text])


def _bob_csv_pairs(path: Path, attributes: Sequence[str] | None) -> pd.DataFrame:
    frame = _read_csv(path, skipinitialspace=True)
    columns = list(frame.columns)
    key = _bob_identity_columns(columns)
    if key is None or "score" not in columns:
        missing = [] if key is not None else ["bio_ref_subject_id", "probe_subject_id"]
        missing += [] if "score" in columns else ["score"]
        raise errors.FairauditInputError(
            CSV_MISSING_COLUMNS.format(path=str(path), format="bob-csv", missing=missing,
                                       found=columns,
                                       fix="pass a file written by bob.bio.base's "
                                           "CSVScoreWriter, or pass format=...")
        )
    present = set(columns)
    available = [
        c[len("bio_ref_"):] for c in columns
        if c.startswith("bio_ref_") and f"probe_{c[len('bio_ref_'):]}" in present
        and c[len("bio_ref_"):] not in _BOB_NOT_ATTRIBUTES
    ]
    if attributes is None:
        names = available
    else:
        names = [attributes] if isinstance(attributes, str) else list(attributes)
        for name in names:
            if name not in available:
                raise errors.FairauditInputError(
                    BOB_ATTRIBUTE_UNKNOWN.format(attribute=name, path=str(path),
                                                 available=available)
                )
    id_a, id_b = f"bio_ref_{key}", f"probe_{key}"
    used = [id_a, id_b] + [f"{side}_{name}" for name in names for side in ("bio_ref", "probe")]
    for column in used:
        cells = frame[column].str.strip()
        frame[column] = cells.mask(cells.isin(_BOB_MISSING) | (cells == ""))
    scores = _csv_cells(path, frame, used, skipinitialspace=True,
                        empty="has no value (empty, or None/nan as Bob writes absent metadata)")
    pairs: dict[str, Any] = {"score": scores, "identity_a": frame[id_a],
                             "identity_b": frame[id_b]}
    for name in names:
        pairs[f"{name}_a"] = frame[f"bio_ref_{name}"]
        pairs[f"{name}_b"] = frame[f"probe_{name}"]
    return pd.DataFrame(pairs)
