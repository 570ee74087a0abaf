"""What the loaders share about the files they list: paths made absolute (relative ones from a
base folder), the messages of a root or file that is not there, and the images that do not exist
split off (``missing="error"`` raises, ``"report"`` lists them)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.validation import _first

#: values of the ``missing`` option of the loaders that read lists of files
MISSING_MODES = ("error", "report")

ROOT_NOT_FOUND = (
    "root={path!r} does not exist. Fix: pass the {what}."
)
ROOT_NOT_A_DIRECTORY = (
    "root={path!r} is not a directory. Fix: pass the {what}."
)
OPTION_FILE_NOT_FOUND = (
    "{name}={path!r}: the file does not exist. Fix: {fix}"
)
BAD_MISSING = (
    "missing={value!r} must be one of {modes}. Fix: pass missing='error' (stop at the "
    "first missing image) or missing='report' (load the others and list the missing "
    "ones in manifest.attrs['missing'])."
)
MISSING_FILES = (
    "{count} image(s) listed by {source} do not exist (first: {paths}). Fix: restore "
    "them, correct the list, or pass missing='report' to load the others and list the "
    "missing ones in manifest.attrs['missing']."
)


def _abspath(path: str | os.PathLike, base: str | os.PathLike | None = None) -> str:
    """``path`` as an absolute, normalised str; relative paths are taken from ``base``."""
    path = os.fspath(path)
    if base is not None and not os.path.isabs(path):
        path = os.path.join(os.fspath(base), path)
    return os.path.abspath(path)


def _check_missing_mode(missing: Any) -> str:
    if not isinstance(missing, str) or missing not in MISSING_MODES:
        raise FairauditInputError(BAD_MISSING.format(value=missing, modes=list(MISSING_MODES)))
    return missing


def _split_missing(manifest: pd.DataFrame, *, missing: str, source: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``manifest`` into the rows whose file exists and those whose file does not.

    With ``missing='error'`` a missing file raises, listing the first ones.
    """
    # exists, not isfile: a directory or a pipe listed as an image is not "missing"; reading it
    # says what it is
    exists = np.fromiter((os.path.exists(p) for p in manifest["path"]), dtype=bool,
                         count=len(manifest))
    absent = manifest.loc[~exists]
    if len(absent) and missing == "error":
        raise FairauditInputError(MISSING_FILES.format(
            count=len(absent), source=source, paths=_first(absent["path"].tolist())))
    return (manifest.loc[exists].reset_index(drop=True), absent.reset_index(drop=True))


def _split_pairs(pairs: pd.DataFrame, gone: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``pairs`` into those whose two images exist and those that touch a missing one."""
    gone_set = set(gone.tolist())
    touches = pairs["path_a"].isin(gone_set).to_numpy() | pairs["path_b"].isin(gone_set).to_numpy()
    return (pairs.loc[~touches].reset_index(drop=True), pairs.loc[touches].reset_index(drop=True))
