"""ScoreSet: comparison scores from a black-box matcher, labelled with identities and attributes.

Many users cannot extract embeddings: they only have the scores a face matcher
returned for pairs of images. A :class:`ScoreSet` holds those comparisons, one
row per pair, with the identity and the demographic attributes of both sides,
and reads the score files written by Bob (``bob.bio.base``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shlex
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.embedding_set import check_label_text, parquet_metadata
from fairaudit.common.files import OUTPUT_NOT_WRITABLE, OutputPathError, atomic_write, check_output

# --- message templates --------------------------------------------------------
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
PAIR_ATTRIBUTE_NOT_CONSTANT = (
    "attribute {attribute!r} of identity {identity!r} is not the same everywhere the "
    "identity appears (on side a or b): values seen {values}. An identity belongs to "
    "exactly one group. Fix: correct the labels of that identity, or leave "
    "{attribute!r} out of attributes= if it describes the sample rather than the person "
    "(e.g. age at capture)."
)
BAD_SIDE = (
    "side={value!r} must be 'a' or 'b'. Fix: pass side='a' (first side, the reference) "
    "or side='b' (second side, the probe)."
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
FORMAT_UNKNOWN = (
    "format={value!r} is not a score file format; expected one of {expected}. Fix: pass "
    "one of them, or format=None to detect it from the file."
)
FORMAT_UNDETECTED = (
    "cannot tell the format of {path!r}: {reason}. Expected one of {expected}. Fix: "
    "pass format=... to ScoreSet.read."
)
LINE_FIELDS = (
    "{path!r} line {line}: expected {expected} whitespace-separated fields ({layout}), "
    "found {found}: {content!r}. Fix: correct or remove that line; fairaudit never skips "
    "bad lines silently.{hint}"
)
#: hint of LINE_FIELDS when a line has the field count of the other Bob text format
LINE_FIELDS_OTHER_FORMAT = (
    " If every line has {found} fields, the file is {other}: pass format={other!r} (CLI: "
    "--format {other})."
)
#: hint of LINE_FIELDS when the format was detected from the first line
LINE_FIELDS_DETECTED = " (The format {format} was detected from line {first}, which has {expected} fields.)"
LINE_EXTRA_FIELD = (
    "{path!r} line {line}: found 5 whitespace-separated fields, expected 4 (claimed_id real_id "
    "test_label score): the 5th field {value!r} is not a score but the 4th, {fourth!r}, is, so "
    "this looks like a 4-column line with one field too many (the format was detected as "
    "bob-5col from its field count): {content!r}. Fix: remove the extra field; if the file really "
    "is 5-column (claimed_id model_label real_id test_label score), correct that line's score "
    "and pass format='bob-5col' (CLI: --format bob-5col)."
)
LINE_SCORE = (
    "{path!r} line {line}: the score {value!r} {problem}: {content!r}. Fix: correct or "
    "remove that line; fairaudit never skips bad lines silently."
)
CSV_MISSING_COLUMNS = (
    "{path!r} is not a {format} file: it lacks the column(s) {missing} (columns found: "
    "{found}). Fix: {fix}"
)
CSV_BAD_CELL = (
    "{path!r} line {line}: column {column!r} {problem}: {content!r}. Fix: correct or "
    "remove that line; fairaudit never skips bad lines silently."
)
CSV_UNREADABLE = "{path!r} could not be read as CSV: {detail}. Fix: check the file."
#: hints appended to "is not a number" for a score that almost is one
DECIMAL_COMMA_HINT = " (it has a decimal comma; fairaudit reads a decimal point, e.g. {fixed!r})"
UNDERSCORE_HINT = " (digits grouped with '_' are ambiguous; write the plain number)"
TEXT_NOT_UTF8 = (
    "{path!r} is not UTF-8 text: byte {offset} (line {line}) is {bad}, which UTF-8 cannot "
    "decode{guess}. Fix: re-save the file as UTF-8, e.g. iconv -f {source} -t UTF-8 {quoted} > "
    "{converted} ({source} is a guess: use the encoding the file was written in)."
)
TEXT_HAS_NUL = (
    "{path!r} is not plain text: it holds NUL bytes (the first at byte {offset}, line {line}), "
    "as UTF-16 text does. Fix: re-save the file as UTF-8, e.g. iconv -f UTF-16 -t UTF-8 "
    "{quoted} > {converted}."
)
SCORE_FILE_EMPTY = (
    "{path!r} is empty ({detail}): it holds no comparison. A score file has one comparison per "
    "line: Bob's 4-column text (claimed_id real_id test_label score), 5-column text "
    "(claimed_id model_label real_id test_label score), or a CSV with a header (score, "
    "identity_a, identity_b, or Bob's bio_ref_subject_id, probe_subject_id, score). Fix: check "
    "that the program that wrote it finished, and pass the file it wrote."
)
SCORE_FILE_NO_ROWS = (
    "{path!r} has {what} but no comparison row, so there is nothing to audit. Fix: check that "
    "the program that wrote it finished, and pass the file it wrote."
)
NO_ATTRIBUTES_IN_FILE = (
    "by={value!r}: {path!r} (read as {format}) carries no attributes{why}, so there are no "
    "groups to compare. Fix: pass identity_attributes= to ScoreSet.read, a table with one row "
    "per identity and one column per attribute (CLI: --identity-attributes people.csv, a CSV "
    "with an identity column)."
)
NO_ATTRIBUTES = (
    "by={value!r}: this ScoreSet carries no attributes, so there are no groups to compare. Fix: "
    "build it with attributes: X_a and X_b columns, attributes_a=/attributes_b= of from_arrays, "
    "or ScoreSet.from_identity_table(pairs, people)."
)
IDENTITY_TABLE_EMPTY_VALUES = (
    "identity_attributes has {count} empty or blank value(s) in column {column!r} for "
    "identities that the comparisons use (first: {identities}); an empty label would silently "
    "become a group of its own. Fix: fill them, or drop those identities and their "
    "comparisons; fairaudit never drops rows silently."
)
PARQUET_UNREADABLE = (
    "{path!r} could not be read as Parquet: {detail}. Fix: check the file, or write it "
    "with ScoreSet.save()."
)
BOB_ATTRIBUTE_UNKNOWN = (
    "attributes lists {attribute!r}, but {path!r} has no columns 'bio_ref_{attribute}' "
    "and 'probe_{attribute}'; metadata present on both sides: {available}. Fix: pass "
    "some of those."
)
READ_CONTEXT = "{path!r} (read as {format}): {message}"

# --- constants ----------------------------------------------------------------
_RESERVED = ("identity", "score", "genuine")
_FORMAT_VERSION = 1
FORMATS = ("fairaudit-csv", "fairaudit-parquet", "bob-csv", "bob-4col", "bob-5col")
_FORMAT_ALIASES = {"parquet": "fairaudit-parquet"}
_SUFFIXES = ("'.csv'", "'.parquet'")
_TEXT_LAYOUT = {
    4: "claimed_id real_id test_label score",
    5: "claimed_id model_label real_id test_label score",
}
#: Bob CSV columns that name the identity of each side, in order of preference.
_BOB_IDENTITY = ("subject_id", "subject", "reference_id")
#: Bob CSV metadata that describe a sample or template, never the person.
_BOB_NOT_ATTRIBUTES = frozenset(
    ("subject_id", "subject", "reference_id", "template_id", "key", "path",
     "annotations", "references")
)
#: How Bob writes an absent metadata value (``str(None)``, ``str(nan)``).
_BOB_MISSING = ("None", "nan", "NaN")

_TRUE = frozenset(("true", "1", "1.0"))
_FALSE = frozenset(("false", "0", "0.0"))


def _first(rows: np.ndarray, k: int = 5) -> list[int]:
    return [int(r) for r in np.asarray(rows)[:k]]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value, so that messages show 'p1', not np.str_('p1')."""
    return value.item() if isinstance(value, np.generic) else value


def _infer_attributes(columns: Sequence[str]) -> list[str]:
    """Every X (not reserved) such that both ``X_a`` and ``X_b`` are columns, in column order."""
    present = set(columns)
    names = []
    for column in columns:
        if column.endswith("_a"):
            name = column[:-2]
            if name and name not in _RESERVED and f"{name}_b" in present and name not in names:
                names.append(name)
    return names


# --- label columns as integer codes -------------------------------------------
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
    for name in names:
        if name in _RESERVED:
            raise errors.FairauditInputError(
                errors.ATTRIBUTE_RESERVED.format(column=name, reserved=", ".join(_RESERVED))
            )


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        raise errors.FairauditInputError(
            errors.PATH_IS_DIRECTORY.format(name="path", path=str(path), kind="score", inside=""))
    if not path.is_file():
        raise errors.FairauditInputError(errors.FILE_NOT_FOUND.format(name="path", path=str(path)))
    return path


def _clip(text: str, limit: int = 200) -> str:
    """A line as a message shows it: whole when short, else its start and its length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _parse_score(text: str) -> float | None:
    """``text`` as a float, or None. Stricter than float(): '0_5' (which float() reads as 5.0)
    is not a number."""
    if "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _number_problem(raw: str) -> str:
    """Why ``raw`` is not a score, with a hint when it almost is one."""
    text = raw.strip()
    if re.fullmatch(r"[+-]?\d*,\d+", text):
        return "is not a number" + DECIMAL_COMMA_HINT.format(fixed=text.replace(",", "."))
    if "_" in text and _parse_score(text.replace("_", "")) is not None:
        return "is not a number" + UNDERSCORE_HINT
    return "is not a number"


# --- text encoding ----------------------------------------------------------------
def _first_bad_utf8(path: Path, chunk_size: int = 1 << 20) -> tuple[int, int, bytes] | None:
    """Byte offset, line number and bytes of the first invalid UTF-8 sequence in ``path``."""
    base, line, carry = 0, 1, b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(chunk_size)
            data = carry + chunk
            if not data:
                return None
            try:
                data.decode("utf-8")
                good = len(data)
            except UnicodeDecodeError as exc:
                cut = exc.reason == "unexpected end of data" and exc.end == len(data)
                if not (cut and chunk):  # a real error, not a character split by the chunk boundary
                    return base + exc.start, line + data[:exc.start].count(b"\n"), data[exc.start:exc.end]
                good = exc.start
            line += data[:good].count(b"\n")
            base += good
            carry = data[good:]


def utf8_error(path: Path) -> errors.FairauditInputError:
    """The message for a file that is not UTF-8: where the first bad byte is, and the fix."""
    located = _first_bad_utf8(path)
    offset, line, bad = located if located is not None else (0, 1, b"")
    with open(path, "rb") as fh:
        utf16 = fh.read(2) in (b"\xff\xfe", b"\xfe\xff")
    shown = " ".join(f"0x{b:02x}" for b in bad[:4]) or "?"
    if utf16:
        guess, source = " (the file starts with a UTF-16 byte-order mark)", "UTF-16"
    else:
        char = bad[:1].decode("latin-1")
        guess = f" (in Latin-1 it would be {char!r})" if char.isprintable() else ""
        source = "LATIN1"
    return errors.FairauditInputError(TEXT_NOT_UTF8.format(
        path=str(path), offset=offset, line=line, bad=shown, guess=guess, source=source,
        quoted=shlex.quote(str(path)), converted=shlex.quote(_converted_name(path))))


def _converted_name(path: Path) -> str:
    return str(path.with_name(f"{path.stem}-utf8{path.suffix}"))


def _check_text_head(path: Path, head: bytes, full: bool) -> None:
    """Refuse a file whose first bytes are not UTF-8 text (another encoding, or UTF-16)."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if full or not (exc.reason == "unexpected end of data" and exc.end == len(head)):
            raise utf8_error(path) from None
    nul = head.find(b"\x00")
    if nul >= 0:
        raise errors.FairauditInputError(TEXT_HAS_NUL.format(
            path=str(path), offset=nul, line=head[:nul].count(b"\n") + 1,
            quoted=shlex.quote(str(path)), converted=shlex.quote(_converted_name(path))))


def _require_content(path: Path) -> None:
    """Refuse a file that is empty or holds only blank lines: it holds no comparison."""
    size = path.stat().st_size
    if size == 0:
        raise errors.FairauditInputError(SCORE_FILE_EMPTY.format(path=str(path), detail="0 bytes"))
    if _first_content_line(path) is None:
        raise errors.FairauditInputError(
            SCORE_FILE_EMPTY.format(path=str(path), detail=f"{size} bytes, only blank lines"))


def _in_file(path: Path, fmt: str, build: Callable[[], "ScoreSet"]) -> "ScoreSet":
    """Run ``build``; prefix any input error with the file and format it came from, and record
    them on the set (:attr:`ScoreSet.source`)."""
    try:
        built = build()
    except errors.FairauditInputError as exc:
        raise errors.FairauditInputError(
            READ_CONTEXT.format(path=str(path), format=fmt, message=str(exc))
        ) from None
    built._source = (str(path), fmt)
    return built


def _header_of(path: Path, pairs: pd.DataFrame) -> list[str]:
    """The header of a CSV file as written (the columns of ``pairs`` are renamed ones)."""
    first = _first_content_line(path)
    return _csv_header(first) if first is not None else list(pairs.columns)


# --- CSV helpers ----------------------------------------------------------------
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


def _first_content_line(path: Path) -> str | None:
    """The first non-blank line of a text file (without its line end), or None."""
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            if line.strip():
                return line.rstrip("\r\n")
    return None


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


def _read_text_arrow(path: Path, ncols: int) -> tuple[list[Any], np.ndarray] | None:
    """Fast path of :func:`_read_text_scores` for single-space (or single-tab) separated files.

    Returns None when pyarrow cannot read the file exactly (other spacing, a
    bad line, a non-finite score); the careful line-by-line reader then takes
    over and reports the first bad line.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    first = _first_content_line(path) or ""
    delimiter = "\t" if "\t" in first and " " not in first else " "
    names = [f"f{i}" for i in range(ncols)]
    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(column_names=names),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, quote_char=False,
                                            double_quote=False, escape_char=False),
            convert_options=pcsv.ConvertOptions(
                column_types={n: (pa.float64() if i == ncols - 1 else pa.string())
                              for i, n in enumerate(names)},
                strings_can_be_null=False, null_values=[]),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    scores = table.column(names[-1]).to_numpy()
    if table.column(names[-1]).null_count or not np.isfinite(scores).all():
        return None
    labels = [table.column(n).to_pandas() for n in names[:-1]]
    if any((col == "").any() or col.str.contains(r"\s", regex=True).any() for col in labels):
        return None
    return labels, np.asarray(scores, dtype=np.float64)


def _read_text_scores(path: Path, ncols: int, *, detected: bool = False) -> tuple[list[Any], np.ndarray]:
    """Parse a Bob 4- or 5-column text file; return its label columns and scores.

    ``detected`` says that ``ncols`` was guessed from the first non-blank
    line, so that an error can say so.
    """
    _require_content(path)
    fast = _read_text_arrow(path, ncols)
    if fast is not None:
        return fast
    labels: list[list[str]] = [[] for _ in range(ncols - 1)]
    appenders = [store.append for store in labels]
    scores: list[float] = []
    first = 0
    try:
        with open(path, encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, start=1):
                fields = line.split()
                if not fields:
                    continue
                first = first or lineno
                if len(fields) != ncols:
                    raise errors.FairauditInputError(
                        _wrong_field_count(path, lineno, line, ncols, len(fields), detected, first))
                score = _parse_score(fields[-1])
                if score is None and detected and ncols == 5 and lineno == first and (
                        _parse_score(fields[3]) is not None):
                    raise errors.FairauditInputError(LINE_EXTRA_FIELD.format(
                        path=str(path), line=lineno, value=fields[4], fourth=fields[3],
                        content=_clip(line.rstrip("\r\n"))))
                if score is None or not math.isfinite(score):
                    raise errors.FairauditInputError(
                        LINE_SCORE.format(path=str(path), line=lineno, value=_clip(fields[-1], 40),
                                          problem=(_number_problem(fields[-1]) if score is None
                                                   else "is not finite"),
                                          content=_clip(line.rstrip("\r\n")))
                    )
                for append, value in zip(appenders, fields):
                    append(value)
                scores.append(score)
    except UnicodeDecodeError:
        raise utf8_error(path) from None
    return labels, np.asarray(scores, dtype=np.float64)


def _wrong_field_count(path: Path, lineno: int, line: str, ncols: int, found: int, detected: bool,
                       first: int) -> str:
    other = 9 - ncols  # the other Bob text format: 4 <-> 5
    hint = ""
    if detected:
        hint = LINE_FIELDS_DETECTED.format(format=f"bob-{ncols}col", first=first, expected=ncols)
    elif found == other:
        hint = LINE_FIELDS_OTHER_FORMAT.format(found=found, other=f"bob-{other}col")
    return LINE_FIELDS.format(path=str(path), line=lineno, expected=ncols, layout=_TEXT_LAYOUT[ncols],
                              found=found, content=_clip(line.rstrip("\r\n")), hint=hint)


class ScoreSet:
    """Comparison scores from a face matcher, one row per compared pair.

    Each row holds the ``score`` of one comparison (higher = more similar; a
    pair is accepted when ``score >= threshold``), whether it is ``genuine``
    (both sides show the same person), the identities ``identity_a`` and
    ``identity_b`` of its two sides, and for every attribute ``X`` (e.g.
    ``gender``) the values ``X_a`` and ``X_b``. By convention side ``a`` is the
    enrolled reference and side ``b`` the probe.

    Parameters
    ----------
    table : DataFrame
        Columns ``score`` (numeric), ``identity_a``, ``identity_b``, optionally
        ``genuine`` (bool, or 0/1, or the strings ``true``/``false``) and
        ``X_a`` and ``X_b`` for each attribute ``X``. Other columns are ignored.
        Column names are converted to str.
    attributes : sequence of str, optional
        The attribute names to use. ``None`` (the default) infers every ``X``
        such that both ``X_a`` and ``X_b`` are columns (except the reserved
        names ``identity``, ``score`` and ``genuine``).

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

    def __init__(self, table: pd.DataFrame, *, attributes: Sequence[str] | None = None) -> None:
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
        names = self._attribute_names(columns, attributes)
        position = {c: i for i, c in enumerate(columns)}

        def get(column: str) -> pd.Series:
            return table.iloc[:, position[column]]

        self._setup(
            get("score"), get("identity_a"), get("identity_b"),
            get("genuine") if "genuine" in position else None,
            {name: (get(f"{name}_a"), get(f"{name}_b")) for name in names},
        )

    @classmethod
    def _from_columns(cls, score: Any, identity_a: Any, identity_b: Any, genuine: Any,
                      attributes: dict[str, tuple[Any, Any]]) -> "ScoreSet":
        self = cls.__new__(cls)
        self._setup(score, identity_a, identity_b, genuine, attributes)
        return self

    def _setup(self, score: Any, identity_a: Any, identity_b: Any, genuine: Any,
               attributes: dict[str, tuple[Any, Any]]) -> None:
        """Validate one value per comparison for every column, and store them encoded."""
        _check_names(list(attributes))
        self._score = _scores(score)
        n = len(self._score)
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
        self._attrs: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._per_identity: dict[str, np.ndarray] = {}
        for name, (values_a, values_b) in attributes.items():
            va, vb, cats = _shared(_encode(values_a, f"{name}_a"), _encode(values_b, f"{name}_b"),
                                   name=f"{name}_a/{name}_b", what="groups")
            vals = np.concatenate([va, vb])
            per_identity = _value_per_identity(ids, len(id_cats), vals, len(cats))
            if per_identity is None:
                raise errors.FairauditInputError(
                    _describe_conflict(name, ids, id_cats, vals, cats, n)
                )
            self._attrs[name] = (va, vb, cats)
            self._per_identity[name] = per_identity

        self._genuine = np.ascontiguousarray(same)
        self._ids = (ida, idb, id_cats)
        self._names = list(attributes)
        self._source: tuple[str, str] | None = None
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        for arr in (self._score, self._genuine):
            arr.flags.writeable = False

    @staticmethod
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

    # -- constructors ----------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        score: Any,
        *,
        identity_a: Any,
        identity_b: Any,
        genuine: Any = None,
        attributes_a: pd.DataFrame | Mapping[str, Any] | None = None,
        attributes_b: pd.DataFrame | Mapping[str, Any] | None = None,
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

        Returns
        -------
        ScoreSet
        """

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
            side_a = cls._side_frame(attributes_a, "attributes_a", n)
            side_b = cls._side_frame(attributes_b, "attributes_b", n)
            only_a = [c for c in side_a.columns if c not in side_b.columns]
            only_b = [c for c in side_b.columns if c not in side_a.columns]
            if only_a or only_b:
                raise errors.FairauditInputError(SIDES_DIFFER.format(only_a=only_a, only_b=only_b))
            attrs = {name: (side_a[name], side_b[name]) for name in side_a.columns}
        return cls._from_columns(score_arr, columns["identity_a"], columns["identity_b"],
                                 columns.get("genuine"), attrs)

    @staticmethod
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

    @classmethod
    def from_identity_table(cls, pairs: pd.DataFrame, identity_attributes: pd.DataFrame) -> "ScoreSet":
        """Build a set from comparisons and a per-identity attribute table.

        Parameters
        ----------
        pairs : DataFrame
            Columns ``score``, ``identity_a``, ``identity_b`` and optionally
            ``genuine``. Attribute columns ``X_a``/``X_b`` already present are
            kept.
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
        return cls._from_columns(get("score"), _Encoded(ida, id_cats), _Encoded(idb, id_cats),
                                 get("genuine") if "genuine" in position else None, attrs)

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
        """A copy of the comparisons: score, genuine, identity_a, identity_b, then X_a, X_b."""

        def text(codes: np.ndarray, cats: np.ndarray) -> pd.Index:
            return pd.Index(cats.tolist(), dtype=None if len(cats) else object).take(codes)

        ida, idb, id_cats = self._ids
        columns: dict[str, Any] = {
            "score": self._score.copy(),
            "genuine": self._genuine.copy(),
            "identity_a": text(ida, id_cats),
            "identity_b": text(idb, id_cats),
        }
        for name in self._names:
            va, vb, cats = self._attrs[name]
            columns[f"{name}_a"] = text(va, cats)
            columns[f"{name}_b"] = text(vb, cats)
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
        return (
            f"ScoreSet(n_comparisons={len(self)}, n_genuine={self.n_genuine}, "
            f"n_impostor={self.n_impostor}, n_identities={self.n_identities}, "
            f"attributes=[{attrs}])"
        )

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
    def _arrow(self) -> Any:
        import pyarrow as pa

        def text(codes: np.ndarray, cats: np.ndarray) -> Any:
            return pa.array(cats.tolist(), type=pa.string()).take(pa.array(codes))

        ida, idb, id_cats = self._ids
        columns = {
            "score": pa.array(self._score, type=pa.float64()),
            "genuine": pa.array(self._genuine, type=pa.bool_()),
            "identity_a": text(ida, id_cats),
            "identity_b": text(idb, id_cats),
        }
        for name in self._names:
            va, vb, cats = self._attrs[name]
            columns[f"{name}_a"] = text(va, cats)
            columns[f"{name}_b"] = text(vb, cats)
        return pa.table(columns)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the set to ``.csv`` or ``.parquet``, atomically.

        The file has the columns of :attr:`table` (``genuine`` is written as
        ``true``/``false`` in CSV); :meth:`read` reads it back (formats
        ``fairaudit-csv`` and ``fairaudit-parquet``) with identical scores.
        Returns the path written. A path that cannot be written (a directory,
        a path under a regular file, no permission) raises
        :class:`~fairaudit.io.OutputPathError`.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise errors.FairauditInputError(
                errors.FILE_SUFFIX.format(name="path", path=str(path), suffix=suffix,
                                          expected=", ".join(_SUFFIXES))
            )
        check_output(path, name="path")
        arrow = self._arrow()
        try:
            if suffix == ".csv":
                import pyarrow.csv as pcsv

                with atomic_write(path) as tmp:
                    pcsv.write_csv(arrow, tmp)
            else:
                import pyarrow.parquet as pq

                meta = {b"fairaudit": json.dumps({"kind": "ScoreSet",
                                                   "format_version": _FORMAT_VERSION,
                                                   "attributes": self._names}).encode()}
                with atomic_write(path) as tmp:
                    pq.write_table(arrow.replace_schema_metadata(meta), tmp)
        except OSError as exc:  # e.g. the disk filled up, or the directory went away meanwhile
            raise OutputPathError(OUTPUT_NOT_WRITABLE.format(
                name="path", path=str(path), why=exc.strerror or type(exc).__name__,
                what="file")) from None
        return path

    @classmethod
    def read(
        cls,
        path: str | os.PathLike,
        *,
        format: str | None = None,
        identity_attributes: pd.DataFrame | None = None,
        attributes: Sequence[str] | None = None,
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

        Returns
        -------
        ScoreSet
        """
        path = _existing(path)
        if format is None:
            fmt = cls._detect_format(path)
        else:
            fmt = _FORMAT_ALIASES.get(format, format) if isinstance(format, str) else format
            if fmt not in FORMATS:
                raise errors.FairauditInputError(
                    FORMAT_UNKNOWN.format(value=format, expected=list(FORMATS))
                )
        if fmt in ("bob-4col", "bob-5col"):
            table = identity_attributes
            if attributes is not None:
                table = cls._select_identity_columns(table, attributes)
            return cls._read_text(path, 4 if fmt == "bob-4col" else 5, table, detected=format is None)
        if fmt == "bob-csv":
            pairs = cls._bob_csv_pairs(path, attributes)
        elif fmt == "fairaudit-csv":
            pairs = cls._fairaudit_csv_pairs(path, attributes)
        else:
            pairs, stored = cls._parquet_pairs(path)
            if attributes is None:
                attributes = stored
        return cls._build(path, fmt, pairs, attributes, identity_attributes)

    @staticmethod
    def _select_identity_columns(table: Any, attributes: Sequence[str]) -> Any:
        names = [attributes] if isinstance(attributes, str) else list(attributes)
        if table is not None and not isinstance(table, pd.DataFrame):
            return table  # from_identity_table reports the wrong type
        available = [] if table is None else [str(c) for c in table.columns if str(c) != "identity"]
        for name in names:
            if name not in available:
                raise errors.FairauditInputError(
                    errors.UNKNOWN_ATTRIBUTE.format(name="attributes", value=name, available=available)
                )
        if table is None:
            return None
        keep = [c for c in table.columns if str(c) in names or str(c) == "identity"]
        return table[keep]

    @classmethod
    def _build(cls, path: Path, fmt: str, pairs: pd.DataFrame, attributes: Sequence[str] | None,
               identity_attributes: pd.DataFrame | None) -> "ScoreSet":
        def build() -> "ScoreSet":
            if identity_attributes is None:
                return cls(pairs, attributes=attributes)
            names = cls._attribute_names(list(pairs.columns), attributes)
            keep = ["score", "identity_a", "identity_b"]
            keep += ["genuine"] if "genuine" in pairs.columns else []
            keep += [f"{name}_{side}" for name in names for side in ("a", "b")]
            return cls.from_identity_table(pairs[keep], identity_attributes)

        if len(pairs) == 0:
            what = (f"the columns {list(pairs.columns)}" if fmt == "fairaudit-parquet"
                    else f"a header ({', '.join(map(str, _header_of(path, pairs)))})")
            raise errors.FairauditInputError(SCORE_FILE_NO_ROWS.format(path=str(path), what=what))
        return _in_file(path, fmt, build)

    @staticmethod
    def _detect_format(path: Path) -> str:
        if path.suffix.lower() == ".parquet":
            return "fairaudit-parquet"
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
            full = not fh.read(1)
        if head[:4] == b"PAR1":
            return "fairaudit-parquet"
        _require_content(path)
        _check_text_head(path, head, full)
        first = _first_content_line(path) or ""
        header = _csv_header(first)
        if {"score", "identity_a", "identity_b"} <= set(header):
            return "fairaudit-csv"
        if "score" in header and _bob_identity_columns(header) is not None:
            return "bob-csv"
        if path.suffix.lower() == ".csv":
            raise errors.FairauditInputError(
                FORMAT_UNDETECTED.format(
                    path=str(path), expected=list(FORMATS),
                    reason=(f"its header {header} has neither score/identity_a/identity_b "
                            "nor score with bio_ref_subject_id/probe_subject_id"),
                )
            )
        n = len(first.split())
        if n == 4:
            return "bob-4col"
        if n == 5:
            return "bob-5col"
        raise errors.FairauditInputError(
            FORMAT_UNDETECTED.format(
                path=str(path), expected=list(FORMATS),
                reason=(f"its first line {first!r} is not a known CSV header and has {n} "
                        "whitespace-separated fields, not 4 or 5"),
            )
        )

    @classmethod
    def _fairaudit_csv_pairs(cls, path: Path, attributes: Sequence[str] | None) -> pd.DataFrame:
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
        frame["score"] = _csv_cells(path, frame, checked, skipinitialspace=False)
        return frame

    @classmethod
    def _parquet_pairs(cls, path: Path) -> tuple[pd.DataFrame, list[str] | None]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if path.stat().st_size == 0:
            raise errors.FairauditInputError(SCORE_FILE_EMPTY.format(path=str(path), detail="0 bytes"))
        try:
            arrow = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise errors.FairauditInputError(
                PARQUET_UNREADABLE.format(path=str(path), detail=str(exc).strip())
            ) from None
        names = list(arrow.column_names)
        duplicated = sorted({c for c in names if names.count(c) > 1})
        if duplicated:
            raise errors.FairauditInputError(
                errors.PARQUET_DUPLICATE_COLUMNS.format(path=str(path), columns=duplicated))
        missing = [c for c in ("score", "identity_a", "identity_b") if c not in names]
        if missing:
            raise errors.FairauditInputError(
                CSV_MISSING_COLUMNS.format(path=str(path), format="fairaudit-parquet",
                                           missing=missing, found=names,
                                           fix="write it with ScoreSet.save().")
            )
        meta = parquet_metadata(path, arrow.schema, writer="ScoreSet.save()")
        stored = meta.get("attributes")
        if stored is not None and not (isinstance(stored, list) and all(isinstance(n, str) for n in stored)):
            raise errors.FairauditInputError(errors.STORED_JSON_INVALID.format(
                path=str(path), what="attribute list in the Parquet metadata 'fairaudit'",
                detail=f"expected a list of names, got {stored!r}"[:200], writer="ScoreSet.save()"))
        for name in names:
            if name != "score" and pa.types.is_nested(arrow.schema.field(name).type):
                raise errors.FairauditInputError(errors.PARQUET_LABEL_TYPE.format(
                    path=str(path), column=name, type=arrow.schema.field(name).type,
                    writer="ScoreSet.save()"))
        frame = pd.DataFrame({name: arrow.column(name).to_pandas() for name in names})
        return frame, stored

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
        path = _existing(path)
        pairs = cls._bob_csv_pairs(path, attributes)
        return cls._build(path, "bob-csv", pairs, None, None)

    @classmethod
    def _bob_csv_pairs(cls, path: Path, attributes: Sequence[str] | None) -> pd.DataFrame:
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
        return cls._read_text(_existing(path), 4, identity_attributes)

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
        return cls._read_text(_existing(path), 5, identity_attributes)

    @classmethod
    def _read_text(cls, path: Path, ncols: int, identity_attributes: pd.DataFrame | None, *,
                   detected: bool = False) -> "ScoreSet":
        labels, scores = _read_text_scores(path, ncols, detected=detected)
        claimed, real = labels[0], labels[1 if ncols == 4 else 2]
        def column(values: Any) -> Any:
            return values if isinstance(values, pd.Series) else np.asarray(values, dtype=object)

        pairs = pd.DataFrame({"score": scores, "identity_a": column(claimed),
                              "identity_b": column(real)})
        fmt = f"bob-{ncols}col"
        if identity_attributes is None:
            return _in_file(path, fmt, lambda: cls(pairs))
        return _in_file(path, fmt, lambda: cls.from_identity_table(pairs, identity_attributes))
