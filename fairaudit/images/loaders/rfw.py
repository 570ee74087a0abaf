"""The ``rfw`` loader: the test set of Racial Faces in the Wild (RFW), with its pairs and folds."""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.loaders.paths import (
    ROOT_NOT_FOUND,
    _abspath,
    _check_missing_mode,
    _split_missing,
    _split_pairs,
)
from fairaudit.images.validation import validate_manifest

#: the four race folders of the RFW test set
RFW_RACES = ("African", "Asian", "Caucasian", "Indian")
#: pair lines per RFW fold (300 genuine then 300 impostor pairs)
RFW_FOLD_SIZE = 600

RFW_NO_TEST_SET = (
    "root={path!r} does not look like the RFW test set: {what} {looked!r} is not a "
    "directory. Fix: pass the folder that holds 'test/' (or the 'test/' folder itself, "
    "holding 'data/' and 'txts/'), or give data_dir=... and pairs_dir=..."
)
RFW_BAD_RACES = (
    "races={value!r} must be a race folder name or a non-empty list of distinct names such "
    "as {default}. Fix: pass e.g. races=['African', 'Caucasian']."
)
RFW_NO_PAIRS_FILE = (
    "no RFW pairs file for race {race!r}: looked for {candidates}. Fix: pass "
    "pairs_dir=... (the folder holding '<Race>/<Race>_pairs.txt' or '<Race>_pairs.txt'), "
    "or races=[...] to load fewer races."
)
RFW_BAD_LINE = (
    "{path}, line {line}: {content!r} is not an RFW pair line: {problem}. Expected "
    "'name idx1 idx2' (a genuine pair) or 'name1 idx1 name2 idx2' (an impostor pair), "
    "fields separated by tabs or spaces, idx a non-negative integer. Fix: correct or "
    "delete that line."
)
RFW_NO_PAIR_LINES = (
    "{path} holds no pair line. Fix: check that it is an RFW '<Race>_pairs.txt' file."
)
BAD_FOLD_SIZE = (
    "fold_size={value!r} must be a positive integer. Fix: keep the RFW default 600."
)
BAD_EXTENSION = (
    "extension={value!r} must be a file suffix such as '.jpg'. Fix: pass extension='.jpg'."
)

# problems an RFW pair line can have (filled into RFW_BAD_LINE)
_RFW_FIELDS = "it has {n} field(s), not 3 or 4"
_RFW_INDEX = "image number {value!r} is not a non-negative integer"
_RFW_SAME_IMAGE = "a genuine line compares image {index} with itself"
_RFW_SAME_NAME = "an impostor line names the identity {name!r} twice"


def load_rfw(
    root: str | os.PathLike,
    *,
    races: str | Sequence[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    pairs_dir: str | os.PathLike | None = None,
    fold_size: int = RFW_FOLD_SIZE,
    extension: str = ".jpg",
    missing: str = "error",
) -> pd.DataFrame:
    """Load the test set of Racial Faces in the Wild (RFW) with its pairs.

    The layout of RFW's ``test.tar.gz``::

        test/data/<Race>/<name>/<name>_<idx:04d>.jpg
        test/txts/<Race>/<Race>_pairs.txt

    Each line of ``<Race>_pairs.txt`` is ``name idx1 idx2`` (a genuine pair:
    images ``idx1`` and ``idx2`` of ``name``) or ``name1 idx1 name2 idx2`` (an
    impostor pair), fields separated by tabs or spaces. The lines come in folds
    of 600 (300 genuine, then 300 impostor pairs). Blank lines are skipped.

    Parameters
    ----------
    root : str or path-like
        The folder that holds ``test/``, or the ``test/`` folder itself.
    races : str or list of str, optional
        The race folders to load, in this order; default all four,
        :data:`RFW_RACES`. Each needs a pairs file.
    data_dir : str or path-like, optional
        The folder holding ``<Race>/<name>/<image>``, default ``<test>/data``
        (e.g. ``test_aligned/data`` for an aligned copy).
    pairs_dir : str or path-like, optional
        The folder holding ``<Race>/<Race>_pairs.txt`` or ``<Race>_pairs.txt``
        (looked for in that order), default ``<test>/txts``.
    fold_size : int, default 600
        Pair lines per fold; ``fold`` numbers them from 1 within each race file.
    extension : str, default ".jpg"
        Suffix of the image files.
    missing : {"error", "report"}, default "error"
        What to do with referenced images that do not exist: raise, listing the
        first ones, or leave them out and list them in ``attrs["missing"]``;
        the pairs that touch them then move to ``attrs["missing_pairs"]``.

    Returns
    -------
    DataFrame
        The manifest: every image referenced by a pair, once, with the columns
        ``path``, ``identity`` (the ``name`` of the pairs file) and
        ``ethnicity`` (the race folder); sorted by race in the order of
        ``races``, then by path. ``attrs["pairs"]`` holds the pairs exactly as
        listed, race after race (no deduplication, no symmetrisation), with the
        columns ``path_a``, ``path_b``, ``genuine`` and ``fold``.

    Raises
    ------
    FairauditInputError
        When a folder or pairs file is not found, a pair line is malformed (the
        message gives the file, the line number and its content), or an image
        is missing (with ``missing="error"``).
    """
    missing = _check_missing_mode(missing)
    ok_fold = isinstance(fold_size, (int, np.integer)) and not isinstance(fold_size, bool)
    if not ok_fold or fold_size < 1:
        raise FairauditInputError(BAD_FOLD_SIZE.format(value=fold_size))
    if not isinstance(extension, str) or not extension.strip(".") or "/" in extension:
        raise FairauditInputError(BAD_EXTENSION.format(value=extension))
    suffix = extension if extension.startswith(".") else "." + extension
    race_list = _check_races(races)

    root_s = _abspath(root)
    if not os.path.exists(root_s):
        raise FairauditInputError(ROOT_NOT_FOUND.format(
            path=root_s, what="RFW folder that holds 'test/' (or the 'test/' folder itself)"))
    test = os.path.join(root_s, "test") if os.path.isdir(os.path.join(root_s, "test")) else root_s
    data = _abspath(data_dir) if data_dir is not None else os.path.join(test, "data")
    txts = _abspath(pairs_dir) if pairs_dir is not None else os.path.join(test, "txts")
    for label, folder in (("data_dir", data), ("pairs_dir", txts)):
        if not os.path.isdir(folder):
            raise FairauditInputError(RFW_NO_TEST_SET.format(path=root_s, what=label, looked=folder))

    manifest_parts = []
    pair_parts = []
    for race in race_list:
        candidates = [os.path.join(txts, race, f"{race}_pairs.txt"), os.path.join(txts, f"{race}_pairs.txt")]
        found = next((c for c in candidates if os.path.isfile(c)), None)
        if found is None:
            raise FairauditInputError(RFW_NO_PAIRS_FILE.format(race=race, candidates=candidates))
        pairs, images = _read_rfw_pairs(found, os.path.join(data, race), suffix=suffix, fold_size=fold_size)
        pair_parts.append(pairs)
        paths = sorted(images)
        manifest_parts.append(pd.DataFrame({
            "path": pd.Series(paths, dtype=object),
            "identity": pd.Series([images[p] for p in paths], dtype=object),
            "ethnicity": pd.Series([race] * len(paths), dtype=object),
        }))
    manifest = pd.concat(manifest_parts, ignore_index=True)
    pairs = pd.concat(pair_parts, ignore_index=True)

    manifest, absent = _split_missing(manifest, missing=missing, source=f"the RFW pairs files under {txts!r}")
    if missing == "report":
        manifest.attrs["missing"] = absent
        pairs, dropped = _split_pairs(pairs, absent["path"])
        manifest.attrs["missing_pairs"] = dropped
    manifest.attrs["pairs"] = pairs
    return validate_manifest(manifest)


def _check_races(races: Any) -> list[str]:
    if races is None:
        return list(RFW_RACES)
    value = [races] if isinstance(races, str) else races
    try:
        names = list(value)
    except TypeError:
        names = None
    if (not names or not all(isinstance(r, str) and r and os.sep not in r for r in names)
            or len(set(names)) != len(names)):
        raise FairauditInputError(RFW_BAD_RACES.format(value=races, default=list(RFW_RACES)))
    return names


def _read_rfw_pairs(path: str, race_dir: str, *, suffix: str, fold_size: int
                    ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Parse one ``<Race>_pairs.txt``: the pairs table and ``{image path: identity}``."""
    def image(name: str, index: int) -> str:
        return os.path.join(race_dir, name, f"{name}_{index:04d}{suffix}")

    def number(text: str, line_no: int, raw: str) -> int:
        if not text.isdigit() or not text.isascii():
            raise FairauditInputError(RFW_BAD_LINE.format(
                path=path, line=line_no, content=raw, problem=_RFW_INDEX.format(value=text)))
        return int(text)

    path_a, path_b, genuine = [], [], []
    images: dict[str, str] = {}
    with open(path, encoding="utf-8-sig") as fh:  # tolerate a byte-order mark
        for line_no, raw in enumerate(fh, start=1):
            content = raw.rstrip("\r\n")
            fields = content.split()
            if not fields:
                continue
            if len(fields) == 3:
                name, i, j = fields[0], number(fields[1], line_no, content), number(fields[2], line_no, content)
                if i == j:
                    raise FairauditInputError(RFW_BAD_LINE.format(
                        path=path, line=line_no, content=content, problem=_RFW_SAME_IMAGE.format(index=i)))
                a, b, same, ida, idb = image(name, i), image(name, j), True, name, name
            elif len(fields) == 4:
                ida, idb = fields[0], fields[2]
                i, j = number(fields[1], line_no, content), number(fields[3], line_no, content)
                if ida == idb:
                    raise FairauditInputError(RFW_BAD_LINE.format(
                        path=path, line=line_no, content=content, problem=_RFW_SAME_NAME.format(name=ida)))
                a, b, same = image(ida, i), image(idb, j), False
            else:
                raise FairauditInputError(RFW_BAD_LINE.format(
                    path=path, line=line_no, content=content, problem=_RFW_FIELDS.format(n=len(fields))))
            path_a.append(a)
            path_b.append(b)
            genuine.append(same)
            images[a], images[b] = ida, idb
    if not path_a:
        raise FairauditInputError(RFW_NO_PAIR_LINES.format(path=path))
    pairs = pd.DataFrame({
        "path_a": pd.Series(path_a, dtype=object),
        "path_b": pd.Series(path_b, dtype=object),
        "genuine": np.array(genuine, dtype=bool),
        "fold": np.arange(len(path_a), dtype=np.int64) // fold_size + 1,
    })
    return pairs, images
