"""The ``folder`` loader: ``root/<identity>/<image>``, with a table of attributes per identity."""

from __future__ import annotations

import os
import warnings

import pandas as pd

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.loaders.paths import OPTION_FILE_NOT_FOUND, ROOT_NOT_A_DIRECTORY, ROOT_NOT_FOUND, _abspath
from fairaudit.images.loaders.tables import _read_table, _reject_reserved, _require_columns, _require_filled
from fairaudit.images.validation import _first, validate_manifest

#: image file suffixes the ``folder`` loader picks up (compared case-insensitively)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

CSV_DUPLICATE_IDENTITY = (
    "attributes: {path!r} has more than one row for {count} identity/identities (first: "
    "{identities}). Fix: keep one row per identity."
)
FOLDER_UNLABELLED = (
    "{count} identity folder(s) under {root!r} have no row in the attribute table "
    "{path!r} (first: {identities}). Fix: add one row per identity (columns: {columns}), "
    "or move those folders out of root."
)
FOLDER_UNUSED_WARNING = (
    "{n_unused} identity/identities of the attribute table {path!r} have no folder under "
    "{root!r} and {n_empty} identity folder(s) hold no image ({extensions}); see "
    "manifest.attrs['unused_identities'] and manifest.attrs['empty_identities']."
)


def load_folder(
    root: str | os.PathLike,
    *,
    attributes: str | os.PathLike | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Load ``root/<identity>/<image>`` with a table of attributes per identity.

    Parameters
    ----------
    root : str or path-like
        A folder with one sub-folder per identity; the sub-folder's name is the
        identity. Images are the files directly inside an identity folder whose
        suffix is one of :data:`IMAGE_EXTENSIONS` (case-insensitive); other
        files, nested folders and names starting with ``.`` are not images.
    attributes : str, path-like or DataFrame, optional
        The attribute table: a CSV (default ``root/attributes.csv``; a relative
        path is taken from the working directory) or a DataFrame with a column
        ``identity`` and one column per attribute. CSV cells are read as text;
        only empty cells count as missing, so ``NA`` is a label like any other.

    Returns
    -------
    DataFrame
        The manifest, identities in sorted order, the images of each in sorted
        order of file name. ``attrs["unused_identities"]`` lists the rows of the
        attribute table without a folder, ``attrs["empty_identities"]`` the
        identity folders without an image (both possibly empty); when either is
        not empty a ``UserWarning`` says so.

    Raises
    ------
    FairauditInputError
        When ``root`` or the attribute table does not exist, the table lacks
        ``identity``, has an empty cell, a reserved column or two rows for one
        identity, or an identity folder has no row in the table (the message
        lists them).
    """
    what = "folder that holds one sub-folder per identity"
    root_s = _abspath(root)
    if not os.path.exists(root_s):
        raise FairauditInputError(ROOT_NOT_FOUND.format(path=root_s, what=what))
    if not os.path.isdir(root_s):
        raise FairauditInputError(ROOT_NOT_A_DIRECTORY.format(path=root_s, what=what))

    if isinstance(attributes, pd.DataFrame):
        table, table_name = attributes.copy(), "<DataFrame>"
    else:
        table_name = _abspath(attributes) if attributes is not None else os.path.join(root_s, "attributes.csv")
        if not os.path.isfile(table_name):
            raise FairauditInputError(OPTION_FILE_NOT_FOUND.format(
                name="attributes", path=table_name,
                fix="write a CSV with a column 'identity' and one column per attribute there, "
                    "or pass attributes=PATH."))
        table = _read_table(table_name, name="attributes")
    _require_columns(table, ["identity"], name="attributes", path=table_name,
                     extra=" (one row per identity, named like its folder)")
    _reject_reserved(table, ("path", "embedding"), name="attributes", path=table_name)
    _require_filled(table, name="attributes", path=table_name)
    table = table.astype(str)
    dup = table["identity"][table["identity"].duplicated()].unique()
    if len(dup):
        raise FairauditInputError(CSV_DUPLICATE_IDENTITY.format(
            path=table_name, count=len(dup), identities=_first(dup)))
    attribute_names = [c for c in table.columns if c != "identity"]
    labels = table.set_index("identity")

    with os.scandir(root_s) as it:
        folders = sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
    unlabelled = [f for f in folders if f not in labels.index]
    if unlabelled:
        raise FairauditInputError(FOLDER_UNLABELLED.format(
            count=len(unlabelled), root=root_s, path=table_name, identities=_first(unlabelled),
            columns=["identity", *attribute_names]))

    records: list[tuple[str, str]] = []
    empty = []
    for ident in folders:
        folder = os.path.join(root_s, ident)
        with os.scandir(folder) as it:
            images = sorted(e.name for e in it
                            if not e.name.startswith(".") and e.is_file()
                            and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS)
        if not images:
            empty.append(ident)
        records.extend((os.path.join(folder, f), ident) for f in images)

    manifest = pd.DataFrame(records, columns=["path", "identity"], dtype=object)
    for column in attribute_names:
        manifest[column] = labels[column].reindex(manifest["identity"]).to_numpy(dtype=object)
    unused = table.loc[~table["identity"].isin(folders)].reset_index(drop=True)
    empty_table = table.loc[table["identity"].isin(empty)].reset_index(drop=True)
    manifest.attrs["unused_identities"] = unused
    manifest.attrs["empty_identities"] = empty_table
    if len(unused) or len(empty_table):
        warnings.warn(FOLDER_UNUSED_WARNING.format(
            n_unused=len(unused), path=table_name, root=root_s, n_empty=len(empty_table),
            extensions=", ".join(IMAGE_EXTENSIONS)), UserWarning, stacklevel=2)
    return validate_manifest(manifest)
