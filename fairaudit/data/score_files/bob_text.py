"""Bob's text score files: four columns (``claimed_id real_id test_label score``) or five
(``claimed_id model_label real_id test_label score``), whitespace-separated; a bad line is
reported with its number, its content and, when it fits the other layout, that format.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.score_files.text import (_clip, _first_content_line, _number_problem, _parse_score,
                                             _require_content, utf8_error)

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
_TEXT_LAYOUT = {
    4: "claimed_id real_id test_label score",
    5: "claimed_id model_label real_id test_label score",
}


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


def _text_pairs(path: Path, ncols: int, *, detected: bool = False) -> pd.DataFrame:
    """The comparisons of a Bob 4- or 5-column text file: score, identity_a, identity_b."""
    labels, scores = _read_text_scores(path, ncols, detected=detected)
    claimed, real = labels[0], labels[1 if ncols == 4 else 2]
    def column(values: Any) -> Any:
        return values if isinstance(values, pd.Series) else np.asarray(values, dtype=object)

    pairs = pd.DataFrame({"score": scores, "identity_a": column(claimed),
                          "identity_b": column(real)})
    return pairs
