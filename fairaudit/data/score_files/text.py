"""What a text score file must be before it is parsed: an existing file, UTF-8 (else a message
locating the first bad byte, with an ``iconv`` fix), free of NUL bytes, not empty; and how
messages show its lines and why a field is not a number.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from fairaudit.common import errors

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
#: hints appended to "is not a number" for a score that almost is one
DECIMAL_COMMA_HINT = " (it has a decimal comma; fairaudit reads a decimal point, e.g. {fixed!r})"
UNDERSCORE_HINT = " (digits grouped with '_' are ambiguous; write the plain number)"


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


def _first_content_line(path: Path) -> str | None:
    """The first non-blank line of a text file (without its line end), or None."""
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        for line in fh:
            if line.strip():
                return line.rstrip("\r\n")
    return None
