"""Reading the candidate lists a 1:N system wrote to a file, as :class:`CandidateLists`.

``read_candidates(path, format=None, searches=None, gallery=None, attributes=None)`` reads three
layouts (``format=``; ``None`` detects it from the first non-blank line):

``"nist"``
    NIST FRTE 1:N candidate lists: text with a header line, comma-separated when the header has a
    comma, else whitespace-separated; one row per candidate. Columns (names compared ignoring case,
    ``_`` and ``-``): the search, ``search_id`` (or ``searchId``, ``probe``, ``probe_id``); the
    candidate's gallery identity, ``candidate`` (or ``candidate_id``, ``subjectId``,
    ``templateId``, in that order of preference); ``score`` (or ``similarity``,
    ``similarityScore``; higher = more similar); ``rank`` (or ``candidateRank``; any base);
    optionally ``isAssigned`` (rows with 0 are NIST's placeholders for unfilled candidate slots: not
    candidates) and ``searchRetCode`` (non-zero: the search failed). Other columns (``decision``)
    are ignored. Without a score column, ``score = -rank`` (noted in ``CandidateLists.notes``).
    The file says nothing of the probes: ``searches=`` (``search_id``, ``identity`` = the probe's
    true identity, and its attributes) and ``gallery=`` (every enrolled identity, and its attributes)
    are required. A search of ``searches`` with no row in the file returned no candidate.
``"bob4"`` / ``"bob5"`` (aliases ``"bob-4col"``, ``"bob-5col"``)
    bob's score files, whitespace-separated, no header: ``claimed_id real_id probe_label score``
    or ``claimed_id model_label real_id probe_label score``. Each ``probe_label`` is one search, of
    the probe whose identity is ``real_id``; ``claimed_id`` is the gallery identity scored (the
    candidate: several models of one identity are several rows of one candidate, which counts once,
    its best score; ``model_label`` only counts the identity's gallery samples, one per model). The
    gallery is the set of ``claimed_id`` values; a search is mated when its ``real_id`` is one of
    them, whether or not the file scores it against that identity (a missing mate row is a mate not
    returned, and is noted). The attributes come from tables keyed by
    identity: ``attributes=``, or ``searches=`` / ``gallery=`` keyed by ``identity`` (any one of them
    serves both the probes and the gallery; a person's value must agree across the tables given). A
    ``searches=`` table with a ``search_id`` column adds per-search columns by ``probe_label``.

Tables are DataFrames or paths of CSV files; an identity table has an ``identity`` column or is
indexed by identity. Every message of a bad file names the file, the format, the line and what to
fix; rows are never dropped silently (what is set aside, such as NIST's placeholder rows, is counted
in ``CandidateLists.notes``, which the audit copies into its result).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fairaudit.common import errors
from fairaudit.data.score_files.text import _check_text_head, _clip, _existing, _first_content_line
from fairaudit.identification.candidate_layouts import _BOB_LAYOUT, _NIST_ROLES, _read_bob, _read_nist
from fairaudit.identification.candidate_tables import _header_fields, _key
from fairaudit.identification.candidates import CandidateLists

FORMATS = ("nist", "bob4", "bob5")
_ALIASES = {"bob-4col": "bob4", "bob-5col": "bob5"}
FORMAT_UNKNOWN = (
    "format={value!r} is not a candidate-list format; expected one of {expected} (or None to detect "
    "it). Fix: pass format='nist' for NIST FRTE 1:N candidate lists with a header, 'bob4' or 'bob5' for "
    "bob's 4- or 5-column score files."
)
FORMAT_UNDETECTED = (
    "cannot tell the format of {path!r}: its first line {first!r} {reason}. Expected one of {expected}: "
    "'nist' (a header naming search_id, candidate and score or rank), 'bob4' (4 fields: {bob4}) or "
    "'bob5' (5 fields: {bob5}). Fix: pass format=..."
)
READ_CONTEXT = "{path!r} (read as {format}): {message}"
FILE_EMPTY = (
    "{path!r} is empty ({detail}): it holds no candidate. Fix: check that the program that wrote it "
    "finished, and pass the file it wrote."
)
def read_candidates(path: str | os.PathLike, *, format: str | None = None, searches: Any = None,
                    gallery: Any = None, attributes: Any = None) -> CandidateLists:
    """Read the candidate lists of a 1:N system from ``path`` (layouts: the module docstring).

    Parameters
    ----------
    path : str or PathLike
        The file.
    format : {"nist", "bob4", "bob5"} or None
        Its layout; None detects it from the first non-blank line (a NIST header, else 4 or 5
        fields), and says so in ``notes``.
    searches : DataFrame, CSV path or None
        ``nist``: one row per search, ``search_id``, ``identity`` (the probe's true identity) and its
        attributes (required). ``bob4``/``bob5``: an identity table (``identity`` and attributes), or
        per-search columns keyed by ``search_id`` (= ``probe_label``).
    gallery : DataFrame, CSV path or None
        ``nist``: one row per enrolled identity, ``identity`` and its attributes (required: it says
        which searches are mated). ``bob4``/``bob5``: an identity table (the enrolled identities are
        the file's ``claimed_id`` values).
    attributes : DataFrame, CSV path or None
        A table keyed by identity with the attributes of every person, probe or enrolled: a shortcut
        that fills the attribute columns of both sides.

    Returns
    -------
    CandidateLists
        For :func:`fairaudit.identification_audit`; ``source`` records the file and format, ``notes``
        what the reader set aside or derived.
    """
    path = _existing(path)
    if format is None:
        fmt, why = _detect(path)
        detected = [f"The file's format was detected as {fmt!r} ({why}); pass format= to be explicit."]
    else:
        fmt = _ALIASES.get(format, format) if isinstance(format, str) else format
        if fmt not in FORMATS:
            raise errors.FairauditInputError(FORMAT_UNKNOWN.format(value=format, expected=list(FORMATS)))
        _check_text(path)
        detected = []
    try:
        if fmt == "nist":
            lists = _read_nist(path, searches, gallery, attributes)
        else:
            lists = _read_bob(path, 4 if fmt == "bob4" else 5, searches, gallery, attributes)
    except errors.FairauditInputError as exc:
        raise errors.FairauditInputError(READ_CONTEXT.format(path=str(path), format=fmt, message=str(exc))) from None
    lists.notes[:0] = detected
    return lists


def _check_text(path: Path) -> None:
    """Refuse a file that is not UTF-8 text, or is empty."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
        full = not fh.read(1)
    size = path.stat().st_size
    if size == 0:
        raise errors.FairauditInputError(FILE_EMPTY.format(path=str(path), detail="0 bytes"))
    _check_text_head(path, head, full)
    if _first_content_line(path) is None:
        raise errors.FairauditInputError(FILE_EMPTY.format(path=str(path), detail=f"{size} bytes, only blank lines"))


def _detect(path: Path) -> tuple[str, str]:
    _check_text(path)
    first = (_first_content_line(path) or "").lstrip("\ufeff")
    fields = _header_fields(first)
    roles = {_key(f) for f in fields}
    if any(k in roles for k in _NIST_ROLES["search_id"]) and any(k in roles for k in _NIST_ROLES["candidate"]):
        return "nist", "its first line is a NIST candidate-list header"
    n = len(first.split())
    if n in (4, 5) and "," not in first:
        return f"bob{n}", f"its first line has {n} whitespace-separated fields"
    reason = (f"has {n} whitespace-separated field(s), not 4 or 5, and is not a header naming search_id and "
              "candidate" if "," not in first else "is comma-separated but does not name search_id and candidate")
    raise errors.FairauditInputError(FORMAT_UNDETECTED.format(
        path=str(path), first=_clip(first), reason=reason, expected=list(FORMATS),
        bob4=_BOB_LAYOUT[4], bob5=_BOB_LAYOUT[5]))
