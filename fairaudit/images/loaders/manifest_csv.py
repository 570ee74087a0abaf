"""The ``csv`` loader: a manifest written as a CSV file, with an optional CSV of fixed pairs."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.loaders.paths import (
    OPTION_FILE_NOT_FOUND,
    ROOT_NOT_FOUND,
    _abspath,
    _check_missing_mode,
    _split_missing,
    _split_pairs,
)
from fairaudit.images.loaders.tables import _read_table, _reject_reserved, _require_columns, _require_filled
from fairaudit.images.validation import PAIR_COLUMNS, REQUIRED_COLUMNS, RESERVED_COLUMNS, validate_manifest

BAD_GENUINE_VALUE = (
    "pairs: {path!r} line {line}: genuine={value!r} is not a boolean. Fix: write true/false, "
    "1/0 or yes/no."
)
BAD_FOLD_VALUE = (
    "pairs: {path!r} line {line}: fold={value!r} is not an integer. Fix: write whole "
    "numbers in the 'fold' column."
)


def load_csv(
    root: str | os.PathLike,
    *,
    pairs: str | os.PathLike | None = None,
    missing: str = "error",
) -> pd.DataFrame:
    """Load a manifest written as a CSV file.

    Parameters
    ----------
    root : str or path-like
        The CSV file, or a folder holding ``manifest.csv``. Columns ``path``,
        ``identity`` and one per attribute; a relative ``path`` is taken from
        the CSV's folder. Cells are read as text; only empty cells count as
        missing.
    pairs : str or path-like, optional
        A CSV of fixed comparison pairs with the columns ``path_a``, ``path_b``,
        ``genuine`` (true/false, 1/0 or yes/no) and optionally ``fold``
        (integer); relative paths are taken from that CSV's folder. It becomes
        ``attrs["pairs"]``, in the order of the file.
    missing : {"error", "report"}, default "error"
        What to do with rows whose image file does not exist: raise, listing
        the first ones, or leave them out of the manifest and list them in
        ``attrs["missing"]`` (same columns as the manifest); pairs that touch a
        missing image then move from ``attrs["pairs"]`` to
        ``attrs["missing_pairs"]``.

    Returns
    -------
    DataFrame
        The manifest, rows in the order of the file.

    Raises
    ------
    FairauditInputError
        When a file does not exist, a required column is absent, a cell is
        empty, ``genuine`` or ``fold`` cannot be read, an image is missing (with
        ``missing="error"``) or the result fails :func:`validate_manifest`.
    """
    missing = _check_missing_mode(missing)
    what = "manifest CSV file, or the folder that holds manifest.csv"
    root_s = _abspath(root)
    if not os.path.exists(root_s):
        raise FairauditInputError(ROOT_NOT_FOUND.format(path=root_s, what=what))
    path = os.path.join(root_s, "manifest.csv") if os.path.isdir(root_s) else root_s
    if not os.path.isfile(path):
        raise FairauditInputError(OPTION_FILE_NOT_FOUND.format(
            name="root", path=path, fix="write the manifest there or pass the CSV file itself."))
    table = _read_table(path, name="root")
    _require_columns(table, REQUIRED_COLUMNS, name="root", path=path)
    _reject_reserved(table, RESERVED_COLUMNS, name="root", path=path)
    _require_filled(table, name="root", path=path)
    base = os.path.dirname(path)
    manifest = table.astype(object)
    manifest["path"] = [_abspath(p, base) for p in manifest["path"]]

    pairs_table = None
    if pairs is not None:
        pairs_table = _read_pairs_csv(pairs)

    manifest, absent = _split_missing(manifest, missing=missing, source=repr(path))
    if missing == "report":
        manifest.attrs["missing"] = absent
    if pairs_table is not None:
        if missing == "report":
            pairs_table, dropped = _split_pairs(pairs_table, absent["path"])
            manifest.attrs["missing_pairs"] = dropped
        manifest.attrs["pairs"] = pairs_table
    return validate_manifest(manifest)


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _read_pairs_csv(pairs: str | os.PathLike) -> pd.DataFrame:
    path = _abspath(pairs)
    if not os.path.isfile(path):
        raise FairauditInputError(OPTION_FILE_NOT_FOUND.format(
            name="pairs", path=path,
            fix="pass a CSV with the columns path_a, path_b, genuine and optionally fold."))
    table = _read_table(path, name="pairs")
    _require_columns(table, PAIR_COLUMNS, name="pairs", path=path)
    _require_filled(table, name="pairs", path=path)
    base = os.path.dirname(path)
    genuine = []
    for i, value in enumerate(table["genuine"].tolist()):
        key = value.strip().lower()
        if key not in _TRUE and key not in _FALSE:
            raise FairauditInputError(BAD_GENUINE_VALUE.format(path=path, line=i + 2, value=value))
        genuine.append(key in _TRUE)
    out = pd.DataFrame({
        "path_a": pd.Series([_abspath(p, base) for p in table["path_a"]], dtype=object),
        "path_b": pd.Series([_abspath(p, base) for p in table["path_b"]], dtype=object),
        "genuine": np.array(genuine, dtype=bool),
    })
    if "fold" in table.columns:
        folds = []
        for i, value in enumerate(table["fold"].tolist()):
            try:
                folds.append(int(value))
            except ValueError:
                raise FairauditInputError(BAD_FOLD_VALUE.format(path=path, line=i + 2, value=value)) from None
        out["fold"] = np.array(folds, dtype=np.int64)
    return out
