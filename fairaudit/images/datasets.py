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
"""

from __future__ import annotations

import inspect
import os
import warnings
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from fairaudit import plugins
from fairaudit.data import check_identity_constant
from fairaudit.common.errors import FairauditInputError
from fairaudit.data import make_groups, normalize_by

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

#: image file suffixes the ``folder`` loader picks up (compared case-insensitively)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
#: the four race folders of the RFW test set
RFW_RACES = ("African", "Asian", "Caucasian", "Indian")
#: pair lines per RFW fold (300 genuine then 300 impostor pairs)
RFW_FOLD_SIZE = 600
#: columns every manifest has
REQUIRED_COLUMNS = ("path", "identity")
#: columns every pairs table has (``fold`` is optional)
PAIR_COLUMNS = ("path_a", "path_b", "genuine")
#: names an attribute column may not take (they have a meaning downstream)
RESERVED_COLUMNS = ("embedding",)
#: values of the ``missing`` option of the loaders that read lists of files
MISSING_MODES = ("error", "report")
#: how many offending values an error message lists
_N_LISTED = 5

# --- message templates (tests match them exactly) ------------------------------
NOT_A_MANIFEST = (
    "the dataset loader {loader!r} returned {type}, not a manifest. Expected a pandas "
    "DataFrame with the columns 'path', 'identity' and one column per attribute. Fix: "
    "return such a DataFrame from the loader."
)
BAD_LOADER_OPTIONS = (
    "dataset {dataset!r} does not accept these options ({error}); it takes root and the "
    "options {accepted}. Fix: pass only those options."
)
MANIFEST_EMPTY = (
    "manifest has no rows. Fix: check the dataset root and options; a dataset without "
    "images cannot be audited."
)
MANIFEST_BAD_COLUMN_NAMES = (
    "manifest column names must be unique, non-empty strings; got {columns}. Fix: "
    "rename the columns."
)
MANIFEST_MISSING_COLUMN = (
    "manifest lacks the required column {column!r} (has: {columns}). Fix: add it; a "
    "manifest needs 'path', 'identity' and one column per attribute."
)
MANIFEST_RESERVED_COLUMN = (
    "manifest column {column!r} clashes with a reserved name ({reserved}). Fix: rename "
    "the column."
)
MANIFEST_MISSING_VALUES = (
    "manifest column {column!r} has {count} missing value(s) (first rows: {rows}). Fix: "
    "fill them or drop those rows before auditing; fairaudit never drops rows silently."
)
MANIFEST_NOT_STRINGS = (
    "manifest column {column!r} must hold strings; got dtype {dtype} (row {row} holds "
    "{value!r}). Fix: convert it, e.g. manifest[{column!r}] = manifest[{column!r}].astype(str)."
)
MANIFEST_DUPLICATE_PATHS = (
    "manifest lists {count} path(s) more than once (first: {paths}); each image must "
    "appear in exactly one row. Fix: drop the duplicate rows."
)
PAIRS_NOT_TABLE = (
    "manifest.attrs['pairs'] must be a DataFrame with the columns 'path_a', 'path_b', "
    "'genuine' (bool) and optionally 'fold' (int); got {type}. Fix: build it with "
    "pd.DataFrame({{'path_a': ..., 'path_b': ..., 'genuine': ...}})."
)
PAIRS_MISSING_COLUMN = (
    "manifest.attrs['pairs'] lacks the column {column!r} (has: {columns}). Fix: add it; "
    "a pairs table needs 'path_a', 'path_b', 'genuine' and optionally 'fold'."
)
PAIRS_MISSING_VALUES = (
    "manifest.attrs['pairs'] column {column!r} has {count} missing value(s) (first rows: "
    "{rows}). Fix: complete or remove those pairs."
)
PAIRS_BAD_DTYPE = (
    "manifest.attrs['pairs'] column {column!r} must be {expected}; got dtype {dtype}. "
    "Fix: convert it, e.g. pairs[{column!r}] = pairs[{column!r}].astype({cast})."
)
PAIRS_UNKNOWN_PATH = (
    "manifest.attrs['pairs'] refers to {count} path(s) that are not in the manifest "
    "(first: {paths}). Fix: add those images to the manifest or remove those pairs."
)
PAIRS_SELF = (
    "manifest.attrs['pairs'] compares an image with itself in {count} row(s) (first rows: "
    "{rows}). Fix: remove those pairs; a comparison needs two images."
)
PAIRS_LABEL_MISMATCH = (
    "manifest.attrs['pairs'] row {row}: genuine={genuine} but the images show the "
    "identities {a!r} and {b!r}. A pair is genuine exactly when both images show the same "
    "identity. Fix: correct the label or the identities."
)
ROOT_NOT_FOUND = (
    "root={path!r} does not exist. Fix: pass the {what}."
)
ROOT_NOT_A_DIRECTORY = (
    "root={path!r} is not a directory. Fix: pass the {what}."
)
OPTION_FILE_NOT_FOUND = (
    "{name}={path!r}: the file does not exist. Fix: {fix}"
)
CSV_MISSING_COLUMN = (
    "{name}: {path!r} lacks the column {column!r} (has: {columns}). Fix: add it{extra}."
)
CSV_MISSING_VALUES = (
    "{name}: {path!r} has {count} empty cell(s) in column {column!r} (first lines: "
    "{lines}). Fix: fill them; fairaudit never drops rows silently."
)
CSV_UNREADABLE = (
    "{name}: {path!r} is not a readable CSV table ({problem}). Fix: write it as UTF-8 text with one "
    "header line and one comma-separated row per line."
)
CSV_DUPLICATE_COLUMNS = (
    "{name}: {path!r} has the column(s) {columns} more than once. Fix: rename or drop the duplicates; "
    "fairaudit never picks one of them silently."
)
CSV_RESERVED_COLUMN = (
    "{name}: {path!r} has a column {column!r}, a name fairaudit reserves ({reserved}). "
    "Fix: rename it."
)
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
BAD_GENUINE_VALUE = (
    "pairs: {path!r} line {line}: genuine={value!r} is not a boolean. Fix: write true/false, "
    "1/0 or yes/no."
)
BAD_FOLD_VALUE = (
    "pairs: {path!r} line {line}: fold={value!r} is not an integer. Fix: write whole "
    "numbers in the 'fold' column."
)
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
SUBSET_BAD_N = (
    "n_per_group={value!r} must be a positive integer. Fix: pass e.g. n_per_group=750."
)
SUBSET_BAD_IMAGES = (
    "images_per_identity={value!r} must be a positive integer or 'all'. Fix: pass 1 (one "
    "image per identity, as the reference study did) or 'all'."
)
SUBSET_TOO_FEW = (
    "group {group!r} has {available} identities{qualifier}, fewer than n_per_group={asked}. "
    "Fix: pass n_per_group<={smallest} (the smallest group), or leave that group out of "
    "the manifest first."
)
BAD_RANDOM_STATE = (
    "random_state={value!r} must be None, a non-negative int or a numpy.random.Generator; "
    "got {type}. Fix: pass e.g. random_state=0."
)

# problems an RFW pair line can have (filled into RFW_BAD_LINE)
_RFW_FIELDS = "it has {n} field(s), not 3 or 4"
_RFW_INDEX = "image number {value!r} is not a non-negative integer"
_RFW_SAME_IMAGE = "a genuine line compares image {index} with itself"
_RFW_SAME_NAME = "an impostor line names the identity {name!r} twice"


# --- small helpers ------------------------------------------------------------------
def _first(values: Sequence[Any], k: int = _N_LISTED) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in list(values)[:k]]


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


def _resolve_rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    ok_int = isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool)
    if random_state is None or (ok_int and random_state >= 0):
        return np.random.default_rng(random_state)
    raise FairauditInputError(
        BAD_RANDOM_STATE.format(value=random_state, type=type(random_state).__name__))


def _read_table(path: str, *, name: str) -> pd.DataFrame:
    """Read a CSV with every cell as str; only empty cells count as missing.

    ``keep_default_na=False`` keeps labels such as ``NA`` or ``None`` as text: they
    are legitimate attribute values, not gaps. A file that is not UTF-8 text, not
    a table, empty, unreadable, or has a column name twice (which pandas would
    rename silently to ``name.1``) raises a FairauditInputError naming ``name``.
    """
    import csv

    def fail(problem: str) -> FairauditInputError:
        return FairauditInputError(CSV_UNREADABLE.format(name=name, path=path, problem=problem))

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            for row in reader:
                # pandas would silently take the extra leading fields of such a row as its index
                if len(row) > len(header):
                    raise fail(f"line {reader.line_num} has {len(row)} fields, the header {len(header)}")
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8",
                            index_col=False)
    except UnicodeDecodeError as exc:
        raise fail(f"it is not UTF-8 text: byte {exc.start} is {exc.object[exc.start:exc.start + 1]!r}") from None
    except pd.errors.EmptyDataError:
        raise fail("the file is empty") from None
    except (pd.errors.ParserError, csv.Error) as exc:
        raise fail(str(exc).strip().splitlines()[0]) from None
    except OSError as exc:
        raise fail((exc.strerror or type(exc).__name__).lower()) from None
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise FairauditInputError(CSV_DUPLICATE_COLUMNS.format(name=name, path=path, columns=dup))
    return table


def _require_columns(table: pd.DataFrame, columns: Sequence[str], *, name: str, path: str,
                     extra: str = "") -> None:
    for column in columns:
        if column not in table.columns:
            raise FairauditInputError(CSV_MISSING_COLUMN.format(
                name=name, path=path, column=column, columns=list(table.columns), extra=extra))


def _require_filled(table: pd.DataFrame, *, name: str, path: str) -> None:
    for column in table.columns:
        empty = np.flatnonzero(table[column].isna().to_numpy())
        if empty.size:
            # line 1 is the header, so data row i sits on line i + 2
            raise FairauditInputError(CSV_MISSING_VALUES.format(
                name=name, path=path, count=empty.size, column=column,
                lines=[int(i) + 2 for i in empty[:_N_LISTED]]))


def _reject_reserved(table: pd.DataFrame, reserved: Sequence[str], *, name: str, path: str) -> None:
    for column in table.columns:
        if column in reserved:
            raise FairauditInputError(CSV_RESERVED_COLUMN.format(
                name=name, path=path, column=column, reserved=", ".join(reserved)))


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


def _is_string_column(column: pd.Series) -> tuple[bool, int | None]:
    """Whether every value of ``column`` is a str; else the first offending row."""
    if isinstance(column.dtype, pd.StringDtype):
        return True, None
    if column.dtype != object:
        return False, 0
    bad = np.flatnonzero([not isinstance(v, str) for v in column.to_numpy()])
    return (False, int(bad[0])) if bad.size else (True, None)


# --- validation -----------------------------------------------------------------------
def validate_manifest(manifest: Any) -> pd.DataFrame:
    """Check that ``manifest`` is a well-formed manifest and return it unchanged.

    Every manifest that :func:`load_dataset` returns went through this check,
    whichever plugin built it.

    Parameters
    ----------
    manifest : DataFrame
        One row per image with the columns ``path``, ``identity`` and one column
        per attribute, all holding strings (object dtype of ``str`` or a pandas
        string dtype). ``manifest.attrs["pairs"]``, when present, is a pairs
        table (columns ``path_a``, ``path_b``, ``genuine`` of dtype bool and
        optionally ``fold`` of an integer dtype).

    Returns
    -------
    DataFrame
        ``manifest`` itself, so that calls can be chained.

    Raises
    ------
    FairauditInputError
        When ``manifest`` is not a DataFrame, has no rows, lacks ``path`` or
        ``identity``, has a column name that is not a unique non-empty str or is
        reserved, holds a missing or non-string value, lists a path twice, has an
        attribute that changes between the images of one identity, or has a
        pairs table that is malformed, refers to a path the manifest lacks,
        pairs an image with itself, or labels a pair genuine when the identities
        differ (or the reverse).
    """
    if not isinstance(manifest, pd.DataFrame):
        raise FairauditInputError(NOT_A_MANIFEST.format(
            loader="validate_manifest", type=type(manifest).__name__))
    columns = list(manifest.columns)
    if (len(set(columns)) != len(columns)
            or not all(isinstance(c, str) and c for c in columns)):
        raise FairauditInputError(MANIFEST_BAD_COLUMN_NAMES.format(columns=columns))
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            raise FairauditInputError(MANIFEST_MISSING_COLUMN.format(column=column, columns=columns))
    for column in columns:
        if column in RESERVED_COLUMNS:
            raise FairauditInputError(MANIFEST_RESERVED_COLUMN.format(
                column=column, reserved=", ".join(RESERVED_COLUMNS)))
    if len(manifest) == 0:
        raise FairauditInputError(MANIFEST_EMPTY)
    for column in columns:
        values = manifest[column]
        gaps = np.flatnonzero(values.isna().to_numpy())
        if gaps.size:
            raise FairauditInputError(MANIFEST_MISSING_VALUES.format(
                column=column, count=gaps.size, rows=_first(gaps)))
        ok, row = _is_string_column(values)
        if not ok:
            raise FairauditInputError(MANIFEST_NOT_STRINGS.format(
                column=column, dtype=values.dtype, row=row, value=_first([values.iloc[row]])[0]))
    paths = manifest["path"]
    dup = paths[paths.duplicated()].unique()
    if len(dup):
        raise FairauditInputError(MANIFEST_DUPLICATE_PATHS.format(count=len(dup), paths=_first(dup)))
    attributes = manifest[[c for c in columns if c not in REQUIRED_COLUMNS]].reset_index(drop=True)
    check_identity_constant(manifest["identity"].to_numpy(dtype=str), attributes)
    if "pairs" in manifest.attrs:
        _validate_pairs(manifest.attrs["pairs"], manifest)
    return manifest


def _validate_pairs(pairs: Any, manifest: pd.DataFrame) -> None:
    if not isinstance(pairs, pd.DataFrame):
        raise FairauditInputError(PAIRS_NOT_TABLE.format(type=type(pairs).__name__))
    for column in PAIR_COLUMNS:
        if column not in pairs.columns:
            raise FairauditInputError(PAIRS_MISSING_COLUMN.format(
                column=column, columns=list(pairs.columns)))
    checked = list(PAIR_COLUMNS) + (["fold"] if "fold" in pairs.columns else [])
    for column in checked:
        gaps = np.flatnonzero(pairs[column].isna().to_numpy())
        if gaps.size:
            raise FairauditInputError(PAIRS_MISSING_VALUES.format(
                column=column, count=gaps.size, rows=_first(gaps)))
    for column in ("path_a", "path_b"):
        ok, _ = _is_string_column(pairs[column])
        if not ok:
            raise FairauditInputError(PAIRS_BAD_DTYPE.format(
                column=column, expected="strings", dtype=pairs[column].dtype, cast="str"))
    if not pd.api.types.is_bool_dtype(pairs["genuine"]):
        raise FairauditInputError(PAIRS_BAD_DTYPE.format(
            column="genuine", expected="boolean", dtype=pairs["genuine"].dtype, cast="bool"))
    if "fold" in pairs.columns and not pd.api.types.is_integer_dtype(pairs["fold"]):
        raise FairauditInputError(PAIRS_BAD_DTYPE.format(
            column="fold", expected="integer", dtype=pairs["fold"].dtype, cast="int"))
    identity_of = dict(zip(manifest["path"].tolist(), manifest["identity"].tolist()))
    a, b = pairs["path_a"].tolist(), pairs["path_b"].tolist()
    unknown = list(dict.fromkeys(p for p in a + b if p not in identity_of))
    if unknown:
        raise FairauditInputError(PAIRS_UNKNOWN_PATH.format(count=len(unknown), paths=_first(unknown)))
    same = np.flatnonzero(np.asarray(a, dtype=object) == np.asarray(b, dtype=object))
    if same.size:
        raise FairauditInputError(PAIRS_SELF.format(count=same.size, rows=_first(same)))
    genuine = pairs["genuine"].to_numpy(dtype=bool)
    ida = np.array([identity_of[p] for p in a], dtype=object)
    idb = np.array([identity_of[p] for p in b], dtype=object)
    wrong = np.flatnonzero((ida == idb) != genuine)
    if wrong.size:
        row = int(wrong[0])
        raise FairauditInputError(PAIRS_LABEL_MISMATCH.format(
            row=row, genuine=bool(genuine[row]), a=ida[row], b=idb[row]))


# --- the generic entry point ---------------------------------------------------------------
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


# --- choosing a subset like the reference study -------------------------------------------------
def manifest_subset(
    manifest: pd.DataFrame,
    *,
    n_per_group: int,
    by: str | Sequence[str],
    images_per_identity: int | str = 1,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Draw ``n_per_group`` identities from every group, and images of each.

    This reproduces the reference study's choice (750 identities per DiveFace
    group, one image each) for any manifest.

    Parameters
    ----------
    manifest : DataFrame
        A manifest (it is validated first).
    n_per_group : int
        Identities drawn, without replacement, from every group.
    by : str or list of str
        The attribute(s) whose combinations define the groups, e.g.
        ``["gender", "ethnicity"]`` for the six DiveFace groups.
    images_per_identity : int or "all", default 1
        Images kept per drawn identity, chosen at random without replacement;
        ``"all"`` keeps every image. With an integer ``k``, only identities with
        at least ``k`` images can be drawn.
    random_state : int, numpy.random.Generator or None, default 0
        The only source of randomness, resolved once. Every group draws from
        its own generator, seeded from this one and from the group's label, so
        the choice in one group does not change when other groups are added,
        removed or resized.

    Returns
    -------
    DataFrame
        The chosen rows in their original order, with a fresh RangeIndex. Its
        ``attrs`` are those of ``manifest``, except that ``attrs["pairs"]``
        keeps only the pairs whose two images were both chosen.

    Raises
    ------
    FairauditInputError
        For an invalid manifest, an unknown attribute in ``by``, a bad
        ``n_per_group``, ``images_per_identity`` or ``random_state``, or a group
        with fewer (eligible) identities than ``n_per_group``; that message
        gives how many exist and how many were asked.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"path": [f"/d/{i}.jpg" for i in range(8)],
    ...                   "identity": ["a", "a", "b", "b", "c", "c", "d", "d"],
    ...                   "gender": ["H", "H", "H", "H", "M", "M", "M", "M"]})
    >>> sub = manifest_subset(m, n_per_group=1, by="gender", random_state=0)
    >>> sub["gender"].value_counts().to_dict()
    {'H': 1, 'M': 1}
    """
    validate_manifest(manifest)
    ok_n = isinstance(n_per_group, (int, np.integer)) and not isinstance(n_per_group, bool)
    if not ok_n or n_per_group < 1:
        raise FairauditInputError(SUBSET_BAD_N.format(value=n_per_group))
    k = images_per_identity
    ok_k = (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1) or k == "all"
    if not ok_k:
        raise FairauditInputError(SUBSET_BAD_IMAGES.format(value=k))
    attributes = [c for c in manifest.columns if c not in REQUIRED_COLUMNS]
    names = normalize_by(by, attributes)
    rng = _resolve_rng(random_state)
    groups = make_groups({n: manifest[n].to_numpy(dtype=str) for n in names}, names)
    labels = groups.labels
    identity = manifest["identity"].to_numpy(dtype=str)

    # identities and their rows per group, checked before anything is drawn, so
    # that the error can name the smallest group
    plans = []
    for g in range(groups.n_groups):
        rows = np.flatnonzero(groups.codes == g)
        ids, inverse, counts = np.unique(identity[rows], return_inverse=True, return_counts=True)
        eligible = np.arange(ids.size) if k == "all" else np.flatnonzero(counts >= k)
        plans.append((rows, inverse, counts, eligible))
    available = [p[3].size for p in plans]
    for g, n_avail in enumerate(available):
        if n_avail < n_per_group:
            raise FairauditInputError(SUBSET_TOO_FEW.format(
                group=labels[g], available=n_avail, asked=int(n_per_group),
                qualifier="" if k in ("all", 1) else f" with at least {int(k)} images",
                smallest=min(available)))

    base = int(rng.integers(0, 2**63 - 1))
    keep = []
    for g, (rows, inverse, counts, eligible) in enumerate(plans):
        grng = np.random.default_rng([base, *labels[g].encode("utf-8")])
        chosen = np.sort(grng.choice(eligible, size=int(n_per_group), replace=False))
        # rows of identity j are by_identity[starts[j]:starts[j] + counts[j]], in manifest order
        by_identity = rows[np.argsort(inverse, kind="stable")]
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for j in chosen:
            own = by_identity[starts[j]:starts[j] + counts[j]]
            keep.append(own if k == "all" else grng.choice(own, size=int(k), replace=False))
    keep = np.sort(np.concatenate(keep))

    out = manifest.iloc[keep].reset_index(drop=True)
    out.attrs = dict(manifest.attrs)
    pairs = manifest.attrs.get("pairs")
    if isinstance(pairs, pd.DataFrame):
        chosen_paths = set(out["path"].tolist())
        both = pairs["path_a"].isin(chosen_paths).to_numpy() & pairs["path_b"].isin(chosen_paths).to_numpy()
        out.attrs["pairs"] = pairs.loc[both].reset_index(drop=True)
    return out


# --- folder ------------------------------------------------------------------------------------
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


# --- csv ---------------------------------------------------------------------------------------
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


# --- RFW ---------------------------------------------------------------------------------------
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
