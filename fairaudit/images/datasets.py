"""Dataset loaders: from image folders and protocol files to a manifest.

A **manifest** is a pandas DataFrame with one row per image and the columns

``path``
    the image file, an absolute path (str);
``identity``
    who the image shows (str);
one column per attribute
    e.g. ``gender``, ``ethnicity`` (str), constant over the images of an identity.

Protocols with fixed comparison pairs (RFW, LFW-style lists) put them in
``manifest.attrs["pairs"]``: a DataFrame with the columns ``path_a``,
``path_b``, ``genuine`` (bool) and, when the protocol has folds, ``fold``
(int). Other tables a loader wants to report (images that are missing, labels
that are unused) also live in ``manifest.attrs`` under documented keys.

Loaders are registered through the ``register_datasets`` hook; the built-ins
are ``folder``, ``csv`` and ``rfw`` (see ``fairaudit.plugins.builtin.datasets``).
:func:`load_dataset` resolves a loader by name and validates what it returns
with :func:`validate_manifest`, whichever plugin provides it.
:func:`manifest_subset` draws N identities per group, as the reference study
did, for any manifest.

The code lives in :mod:`~fairaudit.images.validation`, :mod:`~fairaudit.images.subset` and the
loaders of :mod:`fairaudit.images.loaders`; this module keeps :func:`load_dataset` and gathers the
public names of the others.
"""

from __future__ import annotations

import inspect
import os
from typing import Any, Callable

import pandas as pd

from fairaudit import plugins
from fairaudit.common.errors import FairauditInputError

# re-exported: the public names (and message templates) of the modules this one was split into
from fairaudit.images.loaders.folder import (
    CSV_DUPLICATE_IDENTITY,
    FOLDER_UNLABELLED,
    FOLDER_UNUSED_WARNING,
    IMAGE_EXTENSIONS,
    load_folder,
)
from fairaudit.images.loaders.manifest_csv import BAD_FOLD_VALUE, BAD_GENUINE_VALUE, load_csv
from fairaudit.images.loaders.paths import (
    BAD_MISSING,
    MISSING_FILES,
    MISSING_MODES,
    OPTION_FILE_NOT_FOUND,
    ROOT_NOT_A_DIRECTORY,
    ROOT_NOT_FOUND,
    _abspath,
)
from fairaudit.images.loaders.rfw import (
    _RFW_FIELDS,
    _RFW_INDEX,
    _RFW_SAME_IMAGE,
    _RFW_SAME_NAME,
    BAD_EXTENSION,
    BAD_FOLD_SIZE,
    RFW_BAD_LINE,
    RFW_BAD_RACES,
    RFW_FOLD_SIZE,
    RFW_NO_PAIR_LINES,
    RFW_NO_PAIRS_FILE,
    RFW_NO_TEST_SET,
    RFW_RACES,
    load_rfw,
)
from fairaudit.images.loaders.tables import (
    CSV_DUPLICATE_COLUMNS,
    CSV_MISSING_COLUMN,
    CSV_MISSING_VALUES,
    CSV_RESERVED_COLUMN,
    CSV_UNREADABLE,
)
from fairaudit.images.subset import (
    BAD_RANDOM_STATE,
    SUBSET_BAD_IMAGES,
    SUBSET_BAD_N,
    SUBSET_TOO_FEW,
    manifest_subset,
)
from fairaudit.images.validation import (
    MANIFEST_BAD_COLUMN_NAMES,
    MANIFEST_DUPLICATE_PATHS,
    MANIFEST_EMPTY,
    MANIFEST_MISSING_COLUMN,
    MANIFEST_MISSING_VALUES,
    MANIFEST_NOT_STRINGS,
    MANIFEST_RESERVED_COLUMN,
    NOT_A_MANIFEST,
    PAIR_COLUMNS,
    PAIRS_BAD_DTYPE,
    PAIRS_LABEL_MISMATCH,
    PAIRS_MISSING_COLUMN,
    PAIRS_MISSING_VALUES,
    PAIRS_NOT_TABLE,
    PAIRS_SELF,
    PAIRS_UNKNOWN_PATH,
    REQUIRED_COLUMNS,
    RESERVED_COLUMNS,
    validate_manifest,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "RFW_RACES",
    "load_dataset",
    "validate_manifest",
    "manifest_subset",
    "load_folder",
    "load_csv",
    "load_rfw",
]


BAD_LOADER_OPTIONS = (
    "dataset {dataset!r} does not accept these options ({error}); it takes root and the "
    "options {accepted}. Fix: pass only those options."
)


def load_dataset(name: str | Callable[..., pd.DataFrame], root: str | os.PathLike,
                 **options: Any) -> pd.DataFrame:
    """Load a dataset through a registered loader and validate its manifest.

    Parameters
    ----------
    name : str or callable
        A registered dataset name (``fairaudit.plugins.available("dataset")``:
        the built-ins ``folder``, ``csv`` and ``rfw``, plus those of installed
        plugins) or a loader function ``f(root, **options) -> DataFrame``.
    root : str or path-like
        Where the dataset lives; its meaning depends on the loader.
    **options
        Keyword options of the loader (e.g. ``attributes=`` for ``folder``).

    Returns
    -------
    DataFrame
        The validated manifest (see :func:`validate_manifest`). Relative paths a
        loader returns, in the manifest and in ``attrs["pairs"]``, are taken
        relative to ``root`` (its folder when ``root`` is a file) and made
        absolute.

    Raises
    ------
    FairauditInputError
        For an unknown name (the message lists the registered ones), options the
        loader does not take, or a manifest that fails :func:`validate_manifest`.
    """
    if callable(name) and not isinstance(name, str):
        loader, label = name, getattr(name, "__name__", repr(name))
    else:
        loader, label = plugins.get("dataset", name, argument="dataset").factory, name
    try:
        signature = inspect.signature(loader)
    except (TypeError, ValueError):  # some builtins and C callables have none
        signature = None
    if signature is not None:
        try:
            signature.bind(root, **options)
        except TypeError as exc:
            accepted = [p.name for p in list(signature.parameters.values())[1:]
                        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            raise FairauditInputError(BAD_LOADER_OPTIONS.format(
                dataset=label, error=exc, accepted=accepted)) from None
    manifest = loader(root, **options)
    if not isinstance(manifest, pd.DataFrame):
        raise FairauditInputError(NOT_A_MANIFEST.format(loader=label, type=type(manifest).__name__))
    manifest = _absolute_manifest(manifest, root)
    return validate_manifest(manifest)


def _absolute_manifest(manifest: pd.DataFrame, root: str | os.PathLike) -> pd.DataFrame:
    """Make the relative paths of a plugin's manifest (and its pairs) absolute, from ``root``."""
    root = os.fspath(root)
    base = os.path.dirname(os.path.abspath(root)) if os.path.isfile(root) else root

    def fix(values: pd.Series) -> pd.Series | None:
        strings = [v if isinstance(v, str) else None for v in values.tolist()]
        if all(s is None or os.path.isabs(s) for s in strings):
            return None
        return pd.Series([v if s is None else _abspath(s, base) for v, s in zip(values.tolist(), strings)],
                         index=values.index, dtype=object)

    if "path" not in manifest.columns:
        return manifest  # validate_manifest says what is wrong
    fixed = fix(manifest["path"])
    pairs = manifest.attrs.get("pairs")
    fixed_pairs = {}
    if isinstance(pairs, pd.DataFrame):
        for column in ("path_a", "path_b"):
            if column in pairs.columns:
                new = fix(pairs[column])
                if new is not None:
                    fixed_pairs[column] = new
    if fixed is None and not fixed_pairs:
        return manifest
    out = manifest.copy()
    if fixed is not None:
        out["path"] = fixed
    if fixed_pairs:
        out.attrs["pairs"] = pairs.assign(**fixed_pairs)
    return out
