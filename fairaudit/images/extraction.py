"""From a manifest of images to an EmbeddingSet: the extraction pipeline and its cache.

:func:`extract` reads every image of a manifest, detects and aligns the face,
embeds the faces in batches and returns an :class:`~fairaudit.EmbeddingSet`
in manifest order. Images that cannot be read, or show no face, are not
dropped: they go to the set's ``failures`` table with the reason, so that the
failure-to-acquire rate per group (``EmbeddingSet.failure_to_acquire``) can be
audited like any other error rate.

Pipeline
--------
A background thread reads the images and detects and aligns the faces (file
I/O and face detection) while the calling thread embeds the faces already
aligned; a bounded queue (two batches) keeps the reader at most that far
ahead. The model never waits for a full batch: it embeds whatever is ready, up
to ``batch_size`` faces per call.

Cache
-----
With ``cache=DIR`` finished work is written to ``DIR/<namespace>/`` where the
namespace is derived from ``extractor.cache_key()``, so that two models or two
settings of one model never share embeddings::

    DIR/dlib-resnet-3f9c0e5a1b2d4c6e/meta.json        extractor name, dim, full cache key
    DIR/dlib-resnet-3f9c0e5a1b2d4c6e/shard-000000.npz one batch: keys, embeddings, failures
    DIR/dlib-resnet-3f9c0e5a1b2d4c6e/lock             held while a run uses the namespace

An image's key is the SHA-256 of its absolute path, size and modification
time (ns): editing or replacing a file invalidates its entry. Each shard and
``meta.json`` are written to a temporary file and renamed into place
(:func:`fairaudit.io.atomic_write`), so a run killed at any moment (even by
SIGKILL) leaves complete shards and possibly a stale temporary file, which the
next run ignores and removes. A rerun skips every image of a complete shard.
Shards are plain ``.npz`` files without pickles. "No face found" failures are
cached (detection is what costs); unreadable, damaged and too large files are
retried on every run, since checking them is cheap and the cause (permissions,
a network mount, the ``max_pixels`` limit) may be gone. The namespace also
depends on :data:`fairaudit.extractors.IMAGE_READER_VERSION`, so that
embeddings computed from images read another way are never reused.

A shard that cannot be read, or whose content is impossible (NaN or inf
embeddings, all-zero rows, wrong shapes or types), is damaged: a warning names
it, it is moved to ``DIR/<namespace>/damaged/`` (so that the warning is not
repeated on every run) and its images are recomputed. A shard that cannot be
written (a full disk) is warned about once; the run goes on without the cache
and loses nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import re
import sys
import threading
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from fairaudit import __version__
from fairaudit import plugins
from fairaudit.data import EmbeddingSet
from fairaudit.common.errors import FairauditInputError
from fairaudit.images.extractors import DEFAULT_MAX_PIXELS
from fairaudit.common.files import atomic_write, check_output, save_or_fallback, write_text_atomic

__all__ = ["extract", "cache_info", "image_key", "resolve_extractor", "compare", "CompareResult",
           "cmd_compare", "cmd_extract", "REASON_NO_FACE", "REASON_UNREADABLE", "REASON_DAMAGED",
           "REASON_TOO_LARGE"]

#: reason of a failure row when the extractor finds no face
REASON_NO_FACE = "no face found"
#: reason of a failure row when the file cannot be read (missing, a directory, empty, not an image, ...)
REASON_UNREADABLE = "unreadable image: {why}"
#: reason of a failure row when the file is truncated or holds corrupt data (never decoded, never embedded)
REASON_DAMAGED = "image file is damaged: {why}"
#: reason of a failure row when the image has more pixels than max_pixels (refused from its header)
REASON_TOO_LARGE = "image too large: {why}"
#: version of the shard layout; a change makes old shards unreadable, never wrong
CACHE_FORMAT = 1
_SHARD_RE = re.compile(r"^shard-(\d{6,})\.npz$")
_SHARD_KEYS = ("keys", "embeddings", "failure_keys", "failure_reasons")
#: columns of :func:`cache_info`
CACHE_INFO_COLUMNS = ["namespace", "extractor", "dim", "n_shards", "n_embeddings", "n_failures",
                      "n_bytes", "cache_key"]

# --- message templates (tests match them exactly) ----------------------------------------
NOT_AN_EXTRACTOR = (
    "extractor={value!r} is not an extractor: it lacks {missing}. An extractor has the attributes "
    "'name' (str) and 'dim' (int > 0) and the methods detect_and_align(image) and embed(chips). "
    "Fix: pass a registered name ({available}) or an object with that protocol."
)
NO_CACHE_KEY = (
    "cache={cache!r} needs extractor.cache_key(), which {name!r} lacks; without it fairaudit "
    "cannot tell its embeddings from another model's. Fix: add a cache_key() method returning a "
    "string that changes with the weights and settings, or pass cache=None."
)
BAD_CACHE_KEY = (
    "extractor {name!r}: cache_key() returned {value!r}; expected a non-empty str. Fix: return a "
    "string that changes with the weights and settings."
)
BAD_BATCH_SIZE = "batch_size={value!r} must be an integer >= 1. Fix: pass e.g. batch_size=32."
BAD_PROGRESS = "progress={value!r} must be None (a bar only on a terminal), True or False. Fix: pass one of them."
NOT_A_TABLE = (
    "manifest must be a pandas DataFrame (or the path of a manifest CSV); got {type}. Fix: pass "
    "pd.DataFrame({{'path': [...], 'identity': [...], 'gender': [...]}}) or a CSV file."
)
UNKNOWN_ATTRIBUTES = (
    "attributes={value!r} names column(s) {missing} that the manifest lacks (columns: {columns}). "
    "Fix: pass attribute columns of the manifest, or attributes=None for all of them."
)
BAD_ATTRIBUTES = (
    "attributes={value!r} must be None or a list of column names other than 'path' and "
    "'identity'. Fix: pass e.g. attributes=['gender', 'ethnicity']."
)
BAD_EMBED_OUTPUT = (
    "extractor {name!r}: embed() of {n} chip(s) returned {what}; expected a finite numeric array "
    "of shape ({n}, {dim}) without zero rows (first image of the batch: {path!r}). Fix: correct "
    "the extractor's embed()."
)
TOO_FEW_EMBEDDINGS = (
    "extract got {n_ok} embedding(s) of {n_ids} identity(ies) from {n} image(s) ({n_failed} "
    "failure(s); reasons: {reasons}); an EmbeddingSet needs at least 2 embeddings of 2 "
    "identities. Fix: check the image paths and that the images show frontal faces, or try "
    "another extractor (e.g. extractor='dlib-resnet-haar')."
)
CACHE_NOT_DIR = "cache={path!r} exists and is not a directory. Fix: pass a directory (it is created if missing)."
CACHE_BUSY = (
    "the cache namespace {path!r} is in use by another running extraction. Fix: wait for it to "
    "finish, or pass another cache directory."
)
CACHE_KEY_CLASH = (
    "the cache namespace {path!r} holds embeddings of cache key {found!r}, not {expected!r}. "
    "Fix: delete that folder."
)
CACHE_META_UNREADABLE = (
    "the cache namespace {path!r} has an unreadable meta.json ({error}). Fix: delete that folder; "
    "its embeddings will be recomputed."
)
CACHE_DIR_MISSING = "cache directory {path!r} does not exist. Fix: check the path."
CACHE_SHARD_DAMAGED = (
    "fairaudit: the cache shard {path!r} is damaged ({error}); it was moved to {moved!r} and its "
    "images are recomputed."
)
CACHE_SHARD_DAMAGED_KEPT = (
    "fairaudit: the cache shard {path!r} is damaged ({error}) and could not be moved aside ({why}); its "
    "images are recomputed. Fix: delete that file."
)
CACHE_WRITE_FAILED = (
    "fairaudit: cannot write the cache shard {path!r} ({why}); the run goes on without caching its "
    "results. Fix: free disk space in the cache directory, or pass another --cache."
)
COMPARE_IMAGE = "{argument}: {message}"
NO_FACE_IN_IMAGE = (
    "{argument}: no face found in {path!r} by extractor {name!r}. Fix: use a photo with a frontal "
    "face, or try another extractor (e.g. --extractor dlib-resnet-haar)."
)
NO_DEFAULT_THRESHOLD = (
    "extractor {name!r} has no default threshold. Fix: pass threshold= (on the command line "
    "--threshold T), a cosine score above which two faces are the same person."
)
BAD_THRESHOLD = "threshold={value!r} must be a number in [-1, 1]. Fix: pass e.g. threshold=0.91."
EXTRACT_SOURCE = (
    "fairaudit extract needs exactly one of --dataset NAME (with --root DIR) or --manifest "
    "FILE.csv. Fix: pass one of them."
)
BAD_OUT = "--out {path!r} must end in .npz or .parquet. Fix: e.g. --out population.npz."
DATASET_NEEDS_ROOT = "--dataset {name!r} needs --root DIR, where the dataset lives. Fix: add --root."
BAD_BATCH_SIZE_OPTION = "--batch-size {value!r} must be an integer >= 1. Fix: pass e.g. --batch-size 32."
BAD_MAX_PIXELS_OPTION = (
    "--max-pixels {value!r} must be an integer >= 1, the most pixels (width x height) an image may have. "
    "Fix: pass e.g. --max-pixels 100000000."
)
MANIFEST_NOT_FOUND = "--manifest: file {path!r} does not exist. Fix: check the path of the manifest CSV."


# --- the extractor ----------------------------------------------------------------------------
def resolve_extractor(extractor: Any, *, argument: str = "extractor") -> Any:
    """A registered name (built with default options) or an instance, checked for the protocol.

    Raises
    ------
    FairauditInputError
        For an unknown name (the message lists the registered ones) or an
        object lacking part of the protocol.
    """
    if isinstance(extractor, str):
        extractor = plugins.get("extractor", extractor, argument=argument).build()
    missing = []
    if not isinstance(getattr(extractor, "name", None), str):
        missing.append("'name' (str)")
    dim = getattr(extractor, "dim", None)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
        missing.append("'dim' (int > 0)")
    for method in ("detect_and_align", "embed"):
        if not callable(getattr(extractor, method, None)):
            missing.append(f"{method}()")
    if missing:
        raise FairauditInputError(NOT_AN_EXTRACTOR.format(
            value=extractor, missing=", ".join(missing),
            available=", ".join(plugins.available("extractor")) or "none"))
    return extractor


def _cache_key(extractor: Any, cache: Any) -> str:
    method = getattr(extractor, "cache_key", None)
    if not callable(method):
        raise FairauditInputError(NO_CACHE_KEY.format(cache=os.fspath(cache), name=extractor.name))
    key = method()
    if not isinstance(key, str) or not key:
        raise FairauditInputError(BAD_CACHE_KEY.format(name=extractor.name, value=key))
    return key


def _embed(extractor: Any, chips: list[Any], paths: list[str]) -> np.ndarray:
    """Call ``extractor.embed`` and check what comes back before anything is cached."""
    dim = int(extractor.dim)
    out = extractor.embed(chips)
    try:
        arr = np.asarray(out, dtype=np.float32)
    except (TypeError, ValueError):
        arr = None
    what = None
    if arr is None:
        what = f"a {type(out).__name__} that is not a numeric array"
    elif arr.shape != (len(chips), dim):
        what = f"an array of shape {arr.shape}"
    elif not np.isfinite(arr).all():
        what = "an array with NaN or inf"
    elif (np.abs(arr).max(axis=1) == 0).any():
        what = "an array with an all-zero row"
    if what is not None:
        raise FairauditInputError(BAD_EMBED_OUTPUT.format(
            name=extractor.name, n=len(chips), what=what, dim=dim, path=paths[0]))
    return arr


# --- the manifest -----------------------------------------------------------------------------
def _prepare_manifest(manifest: Any, attributes: Sequence[str] | None
                      ) -> tuple[pd.DataFrame, list[str], pd.DataFrame | None]:
    """Validated manifest restricted to path, identity and the attribute columns.

    Also returns the loader's table of missing images (``attrs["missing"]``), if any.
    """
    from fairaudit.images.datasets import load_dataset, validate_manifest

    if isinstance(manifest, (str, os.PathLike)):
        # images the CSV lists that do not exist become failure rows, like every other bad image
        manifest = load_dataset("csv", manifest, missing="report")
    if not isinstance(manifest, pd.DataFrame):
        raise FairauditInputError(NOT_A_TABLE.format(type=type(manifest).__name__))
    others = [c for c in manifest.columns if c not in ("path", "identity")]
    if attributes is None:
        names = others
    else:
        if isinstance(attributes, str) or not all(isinstance(a, str) for a in attributes):
            raise FairauditInputError(BAD_ATTRIBUTES.format(value=attributes))
        names = list(attributes)
        if any(a in ("path", "identity") for a in names):
            raise FairauditInputError(BAD_ATTRIBUTES.format(value=attributes))
        unknown = [a for a in names if a not in manifest.columns]
        if unknown:
            raise FairauditInputError(UNKNOWN_ATTRIBUTES.format(
                value=attributes, missing=unknown, columns=list(manifest.columns)))
    columns = [c for c in ("path", "identity") if c in manifest.columns] + names
    table = manifest[columns]  # a new frame: the caller's manifest is never modified
    validate_manifest(table)
    table = table.copy()
    # loaders keep tables in attrs, which pandas compares on every concat (and
    # DataFrames cannot be compared that way): the work needs none of them
    table.attrs = {}
    missing = manifest.attrs.get("missing")
    if isinstance(missing, pd.DataFrame) and len(missing) and {"path", "identity"} <= set(missing.columns):
        missing = missing.reindex(columns=["path", "identity", *names]).astype(str)
    else:
        missing = None
    return table.reset_index(drop=True), names, missing


def image_key(path: str | os.PathLike) -> str:
    """Cache key of an image file: SHA-256 of its absolute path, size and mtime (ns).

    A file that does not exist gets a key of its own, so that creating it later
    is noticed.
    """
    absolute = os.path.abspath(os.fspath(path))
    try:
        st = os.stat(absolute)
        signature = f"{st.st_size}:{st.st_mtime_ns}"
    except (OSError, ValueError):  # ValueError: a path with a NUL character
        signature = "missing"
    return hashlib.sha256(f"{absolute}\0{signature}".encode("utf-8", "surrogateescape")).hexdigest()


# --- the cache --------------------------------------------------------------------------------
def _namespace(name: str, key: str) -> str:
    from fairaudit.images.extractors import IMAGE_READER_VERSION

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:40] or "extractor"
    # the reader's version is part of the hash: embeddings of images read (or refused) another way
    # are never reused
    material = f"{key}\0reader={IMAGE_READER_VERSION}"
    return f"{slug}-{hashlib.sha256(material.encode('utf-8')).hexdigest()[:16]}"


#: what reading a shard can raise when the file is damaged
_SHARD_ERRORS = (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError)


def _read_shard(path: Path, dim: int | None = None) -> dict[str, np.ndarray]:
    """The arrays of a shard, checked; ValueError (or another of ``_SHARD_ERRORS``) when damaged.

    Only finite, nonzero embeddings of the namespace's dimension are ever
    written (:func:`_embed` checks them first), so anything else means the file
    was damaged after it was written.
    """
    # the file is opened here: np.load leaks its own handle when the zip is damaged
    with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
        data = {k: z[k] for k in _SHARD_KEYS}
    keys, emb = data["keys"], data["embeddings"]
    if keys.ndim != 1 or keys.dtype.kind != "U":
        raise ValueError(f"its keys are not a list of strings (dtype {keys.dtype}, shape {keys.shape})")
    if emb.ndim != 2 or emb.shape[0] != keys.shape[0]:
        raise ValueError(f"{keys.shape[0]} keys but embeddings of shape {emb.shape}")
    if emb.dtype.kind != "f":
        raise ValueError(f"its embeddings have dtype {emb.dtype}, not float")
    if dim is not None and keys.size and emb.shape[1] != dim:
        raise ValueError(f"its embeddings have {emb.shape[1]} dimensions, not {dim}")
    if keys.size:
        bad = ~np.isfinite(emb).all(axis=1)
        if bad.any():
            raise ValueError(f"{int(bad.sum())} of its {keys.size} embeddings contain NaN or inf")
        if (np.abs(emb).max(axis=1) == 0).any():
            raise ValueError("some of its embeddings are all zero")
    fk, fr = data["failure_keys"], data["failure_reasons"]
    if fk.ndim != 1 or fk.shape != fr.shape or (fk.size and (fk.dtype.kind != "U" or fr.dtype.kind != "U")):
        raise ValueError("its failure_keys and failure_reasons are not two lists of strings of one length")
    return data


class _ShardStore:
    """One cache namespace: reads the finished shards, appends new ones atomically."""

    def __init__(self, root: str | os.PathLike, extractor: Any, part: str | None = None, *,
                 name: str = "cache") -> None:
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise FairauditInputError(CACHE_NOT_DIR.format(path=str(root)))
        self.key = _cache_key(extractor, root)
        self.dim = int(extractor.dim)
        self.dir = root / _namespace(extractor.name, self.key)
        if part is not None:  # one Dask task's own shards: no lock is shared between writers
            self.dir = self.dir / "parts" / part
        check_output(self.dir, name=name, directory=True)  # one line, not a traceback, if unwritable
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_failed = False
        self._lock_file = self._acquire_lock()
        try:
            self._check_meta(extractor)
            self._remove_stale_temporaries()
            self._next = 1 + max((self._number(p) for p in self.dir.glob("shard-*.npz")), default=-1)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _number(path: Path) -> int:
        match = _SHARD_RE.match(path.name)
        return int(match.group(1)) if match else -1

    def _acquire_lock(self) -> Any:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; a second run may redo work, never corrupt it
            return None
        handle = open(self.dir / "lock", "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise FairauditInputError(CACHE_BUSY.format(path=str(self.dir))) from None
        return handle  # the kernel drops the lock when the process dies, even by SIGKILL

    def _check_meta(self, extractor: Any) -> None:
        meta_path = self.dir / "meta.json"
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                found = meta["cache_key"]
            except (ValueError, KeyError, TypeError) as exc:
                raise FairauditInputError(CACHE_META_UNREADABLE.format(path=str(self.dir), error=exc)) from None
            if found != self.key:
                raise FairauditInputError(CACHE_KEY_CLASH.format(
                    path=str(self.dir), found=found, expected=self.key))
            return
        meta = {"format": CACHE_FORMAT, "extractor": extractor.name, "dim": self.dim,
                "cache_key": self.key, "fairaudit_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_text_atomic(meta_path, json.dumps(meta, indent=2) + "\n")

    def _remove_stale_temporaries(self) -> None:
        # atomic_write's temporary files are ".<name>.<random>.tmp"; we hold the lock, so
        # any of them is left over from a killed run
        if self._lock_file is None:
            return
        for tmp in self.dir.glob(".*.tmp"):
            try:
                tmp.unlink()
            except OSError:
                pass

    def load(self, wanted: set[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Embeddings and cached failure reasons of the wanted keys."""
        found: dict[str, np.ndarray] = {}
        failed: dict[str, str] = {}
        shards = sorted(self.dir.glob("shard-*.npz"), key=self._number)
        for part in sorted(self.dir.glob("parts/*")):  # written by tasks of a distributed run
            shards += sorted(part.glob("shard-*.npz"), key=self._number)
        for path in shards:
            try:
                data = _read_shard(path, self.dim)
            except _SHARD_ERRORS as exc:
                self._quarantine(path, exc)
                continue
            for i, key in enumerate(data["keys"].tolist()):
                if key in wanted:
                    found[key] = data["embeddings"][i]
            for key, reason in zip(data["failure_keys"].tolist(), data["failure_reasons"].tolist()):
                if key in wanted:
                    failed[key] = reason
        return found, failed

    def _quarantine(self, path: Path, exc: BaseException) -> None:
        """Move a damaged shard to ``damaged/`` (never read again) and warn once, naming it."""
        error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        target = path.parent / "damaged" / path.name
        k = 1
        while target.exists():
            target = path.parent / "damaged" / f"{path.stem}.{k}{path.suffix}"
            k += 1
        try:
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)
        except OSError as move_error:
            warnings.warn(CACHE_SHARD_DAMAGED_KEPT.format(
                path=str(path), error=error, why=move_error.strerror or type(move_error).__name__),
                RuntimeWarning, stacklevel=4)
            return
        warnings.warn(CACHE_SHARD_DAMAGED.format(path=str(path), error=error, moved=str(target)),
                      RuntimeWarning, stacklevel=4)

    def write(self, keys: list[str], embeddings: np.ndarray, failure_keys: list[str],
              failure_reasons: list[str]) -> None:
        if (not keys and not failure_keys) or self._write_failed:
            return
        arrays = {
            "format": np.array(CACHE_FORMAT),
            "keys": np.array(keys, dtype="U64"),
            "embeddings": np.asarray(embeddings, dtype=np.float32).reshape(len(keys), self.dim),
            "failure_keys": np.array(failure_keys, dtype="U64"),
            "failure_reasons": np.array(failure_reasons, dtype=str) if failure_reasons else np.array([], dtype="U1"),
        }
        target = self.dir / f"shard-{self._next:06d}.npz"
        try:
            with atomic_write(target) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **arrays)
        except OSError as exc:  # a full disk must not cost the results held in memory
            self._write_failed = True
            warnings.warn(CACHE_WRITE_FAILED.format(path=str(target), why=exc.strerror or type(exc).__name__),
                          RuntimeWarning, stacklevel=2)
            return
        self._next += 1

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def cache_info(cache: str | os.PathLike) -> pd.DataFrame:
    """What a cache directory holds, one row per namespace (extractor and settings).

    Parameters
    ----------
    cache : str or path-like
        A directory passed as ``cache=`` to :func:`extract`.

    Returns
    -------
    DataFrame
        Columns ``namespace``, ``extractor``, ``dim``, ``n_shards``,
        ``n_embeddings``, ``n_failures`` (cached "no face found" results),
        ``n_bytes`` and ``cache_key``; no rows for an empty directory. Damaged
        shards are not counted.

    Raises
    ------
    FairauditInputError
        When ``cache`` does not exist.
    """
    root = Path(cache)
    if not root.is_dir():
        raise FairauditInputError(CACHE_DIR_MISSING.format(path=str(root)))
    rows = []
    for ns in sorted(p for p in root.iterdir() if p.is_dir() and (p / "meta.json").exists()):
        try:
            meta = json.loads((ns / "meta.json").read_text(encoding="utf-8"))
        except ValueError:
            meta = {}
        shards = sorted(ns.glob("shard-*.npz"))
        n_emb = n_fail = n_ok = 0
        dim = meta.get("dim") if isinstance(meta.get("dim"), int) else None
        for shard in shards:
            try:
                data = _read_shard(shard, dim)
            except _SHARD_ERRORS:
                continue
            n_ok += 1
            n_emb += int(data["keys"].shape[0])
            n_fail += int(data["failure_keys"].shape[0])
        rows.append({
            "namespace": ns.name, "extractor": meta.get("extractor"), "dim": meta.get("dim"),
            "n_shards": n_ok, "n_embeddings": n_emb, "n_failures": n_fail,
            "n_bytes": sum(f.stat().st_size for f in ns.iterdir() if f.is_file()),
            "cache_key": meta.get("cache_key"),
        })
    return pd.DataFrame(rows, columns=CACHE_INFO_COLUMNS)


# --- the pipeline -----------------------------------------------------------------------------
_DONE = object()


class _ReaderError:
    """An exception raised in the reader thread, handed over to be raised in the caller's."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(q: "queue.Queue[Any]", item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _failure_reason(exc: Any) -> str:
    """The failure-row reason of an :class:`~fairaudit.extractors.ImageReadError`."""
    from fairaudit.images.extractors import ImageDamagedError, ImageTooLargeError

    if isinstance(exc, ImageDamagedError):
        return REASON_DAMAGED.format(why=exc.why)
    if isinstance(exc, ImageTooLargeError):
        return REASON_TOO_LARGE.format(why=exc.why)
    return REASON_UNREADABLE.format(why=exc.why)


def _reader(extractor: Any, paths: list[str], todo: list[int], q: "queue.Queue[Any]",
            stop: threading.Event, max_pixels: int) -> None:
    """Read and detect the images to do, in order; put (row, chip, reason) on the queue.

    The next image is read *before* the current chip is handed over, so that
    the model (which may hold the GIL, as dlib's does) starts on that chip while
    this thread is inside the detector (which releases it, as dlib's and
    OpenCV's do). Reading after the hand-over would let the model take the GIL
    during the short file read and serialise detection and embedding.
    """
    from fairaudit.images.extractors import ImageReadError, read_image

    def load(row: int) -> tuple[Any, str | None]:
        try:
            return read_image(paths[row], max_pixels=max_pixels), None
        except ImageReadError as exc:
            return None, _failure_reason(exc)

    try:
        following = load(todo[0])
        for i, row in enumerate(todo):
            if stop.is_set():
                return
            image, reason = following
            chip = None
            if image is not None:
                chip = extractor.detect_and_align(image)
                reason = None if chip is not None else REASON_NO_FACE
            del image
            if i + 1 < len(todo):
                following = load(todo[i + 1])
            if not _put(q, (row, chip, reason), stop):
                return
        _put(q, _DONE, stop)
    except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
        _put(q, _ReaderError(exc), stop)


def _progress_bar(progress: Any, total: int, initial: int, name: str) -> Any:
    if progress is None:
        progress = sys.stderr.isatty()
    if not isinstance(progress, bool):
        raise FairauditInputError(BAD_PROGRESS.format(value=progress))
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=f"extract ({name})", unit="img", smoothing=0.1)


def _run_pipeline(extractor: Any, paths: list[str], keys: list[str], todo: list[int], *,
                  batch_size: int, bar: Any, on_shard: Callable[..., None],
                  embeddings: dict[int, np.ndarray], failures: dict[int, str],
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Embed the rows ``todo``; fill ``embeddings``/``failures``; call ``on_shard`` per shard.

    The model never waits for a full batch: whatever chips the reader has
    ready (up to ``batch_size``) are embedded at once, so that the first
    embedding starts after one detection, not after ``batch_size`` of them
    (on the CPU, dlib's ResNet costs the same per face in batches of 1 or 32).
    When embedding is the slower stage the queue fills up and batches are
    full. Results are written as a shard whenever ``batch_size`` of them are
    waiting, and at the end.
    """
    if not todo:
        return
    q: queue.Queue[Any] = queue.Queue(maxsize=2 * batch_size)
    stop = threading.Event()
    thread = threading.Thread(target=_reader, args=(extractor, paths, todo, q, stop, max_pixels),
                              name="fairaudit-extract-reader", daemon=True)
    thread.start()
    done_rows: list[int] = []
    done_vectors: list[np.ndarray] = []
    done_failed: list[tuple[int, str]] = []

    def write_shard() -> None:
        cacheable = [(keys[r], reason) for r, reason in done_failed if reason == REASON_NO_FACE]
        vectors = (np.stack(done_vectors) if done_vectors
                   else np.empty((0, int(extractor.dim)), dtype=np.float32))
        on_shard([keys[r] for r in done_rows], vectors, [k for k, _ in cacheable], [r for _, r in cacheable])
        done_rows.clear()
        done_vectors.clear()
        done_failed.clear()

    try:
        finished = False
        while not finished:
            items = [q.get()]
            while len(items) < batch_size:  # take what is ready, without waiting for more
                try:
                    items.append(q.get_nowait())
                except queue.Empty:
                    break
            rows: list[int] = []
            chips: list[Any] = []
            for item in items:
                if item is _DONE:
                    finished = True
                elif isinstance(item, _ReaderError):
                    raise item.exc
                elif item[1] is None:
                    failures[item[0]] = item[2]
                    done_failed.append((item[0], item[2]))
                else:
                    rows.append(item[0])
                    chips.append(item[1])
            if chips:
                vectors = _embed(extractor, chips, [paths[r] for r in rows])
                for row, vector in zip(rows, vectors):
                    embeddings[row] = vector
                done_rows.extend(rows)
                done_vectors.extend(vectors)
            if bar is not None:
                bar.update(len(items) - finished)
            if len(done_rows) + len(done_failed) >= batch_size or (finished and (done_rows or done_failed)):
                write_shard()
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass(frozen=True, eq=False)
class _Outcome:
    embeddings: EmbeddingSet
    n_images: int
    n_from_cache: int
    n_computed: int
    cache_dir: str | None


def _load_cached(store: _ShardStore, keys: list[str], embeddings: dict[int, np.ndarray],
                 failures: dict[int, str]) -> None:
    """Fill ``embeddings``/``failures`` (by position in ``keys``) with what the cache already holds."""
    found, failed = store.load(set(keys))
    for i, key in enumerate(keys):
        if key in found:
            embeddings[i] = found[key]
        elif key in failed:
            failures[i] = failed[key]


def _extract_part(_unused: Any, job: tuple) -> tuple[list[int], np.ndarray, list[int], list[str]]:
    """One Dask task: embed a partition with this worker's own extractor instance and cache shards.

    ``job`` is ``(extractor, rows, paths, keys, batch_size, cache, part,
    max_pixels)``; it carries only its own images. A rerun of the task (its
    worker died) resumes from the shards it wrote. Returns ``(rows, vectors,
    failed rows, reasons)`` in the manifest's row numbers.
    """
    extractor, rows, paths, keys, batch_size, cache, part, max_pixels = job
    ext = resolve_extractor(extractor)
    embeddings: dict[int, np.ndarray] = {}
    failures: dict[int, str] = {}
    store = _ShardStore(cache, ext, part=part) if cache is not None else None
    try:
        if store is not None:
            _load_cached(store, keys, embeddings, failures)
        todo = [i for i in range(len(keys)) if i not in embeddings and i not in failures]
        _run_pipeline(ext, paths, keys, todo, batch_size=batch_size, bar=None,
                      on_shard=store.write if store is not None else (lambda *a: None),
                      embeddings=embeddings, failures=failures, max_pixels=max_pixels)
    finally:
        if store is not None:
            store.close()
    done = sorted(embeddings)
    vectors = (np.stack([embeddings[i] for i in done]).astype(np.float32) if done
               else np.empty((0, int(ext.dim)), dtype=np.float32))
    bad = sorted(failures)
    return [rows[i] for i in done], vectors, [rows[i] for i in bad], [failures[i] for i in bad]


def _run_distributed(executor: Any, extractor: Any, paths: list[str], keys: list[str], todo: list[int], *,
                     batch_size: int, cache: str | None, bar: Any,
                     embeddings: dict[int, np.ndarray], failures: dict[int, str],
                     max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Partition ``todo`` over the cluster's workers; fill ``embeddings``/``failures`` as parts finish."""
    import hashlib

    if not todo:
        return
    if not isinstance(extractor, str):
        import pickle

        try:
            pickle.dumps(extractor)
        except Exception as exc:  # noqa: BLE001 - any pickling failure means the same fix
            raise FairauditInputError(
                f"extractor={extractor!r} cannot be sent to Dask workers ({exc}). Fix: pass its registered "
                "name, so that every worker builds its own instance from an installed plugin."
            ) from None
    n_slots = max(1, sum(executor.client.nthreads().values()))
    size = max(batch_size, -(-len(todo) // (4 * n_slots)))
    jobs = []
    for start in range(0, len(todo), size):
        rows = todo[start:start + size]
        part_keys = [keys[r] for r in rows]
        name = hashlib.sha1("\n".join(part_keys).encode()).hexdigest()[:16]
        jobs.append((extractor, rows, [paths[r] for r in rows], part_keys, batch_size, cache, name, max_pixels))
    for done, vectors, bad, reasons in executor.run(_extract_part, None, jobs):
        for r, v in zip(done, vectors):
            embeddings[r] = v
        for r, reason in zip(bad, reasons):
            failures[r] = reason
        if bar is not None:
            bar.update(len(done) + len(bad))


def _extract(manifest: Any, *, extractor: Any, cache: Any, batch_size: Any, progress: Any,
             attributes: Sequence[str] | None, executor: Any = None,
             max_pixels: Any = DEFAULT_MAX_PIXELS, cache_name: str = "cache") -> _Outcome:
    from fairaudit.images.extractors import _check_max_pixels

    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise FairauditInputError(BAD_BATCH_SIZE.format(value=batch_size))
    if progress is not None and not isinstance(progress, bool):
        raise FairauditInputError(BAD_PROGRESS.format(value=progress))
    max_pixels = _check_max_pixels(max_pixels)
    table, names, missing = _prepare_manifest(manifest, attributes)
    ext = resolve_extractor(extractor)
    paths = table["path"].astype(str).tolist()
    keys = [image_key(p) for p in paths]
    embeddings: dict[int, np.ndarray] = {}
    failures: dict[int, str] = {}
    store = _ShardStore(cache, ext, name=cache_name) if cache is not None else None
    try:
        if store is not None:
            _load_cached(store, keys, embeddings, failures)
        n_cached = len(embeddings) + len(failures)
        todo = [row for row in range(len(paths)) if row not in embeddings and row not in failures]
        bar = _progress_bar(progress, len(paths), n_cached, ext.name)
        try:
            if executor is not None:
                _run_distributed(executor, extractor if isinstance(extractor, str) else ext, paths, keys,
                                 todo, batch_size=int(batch_size), cache=cache, bar=bar,
                                 embeddings=embeddings, failures=failures, max_pixels=max_pixels)
            else:
                _run_pipeline(ext, paths, keys, todo, batch_size=int(batch_size), bar=bar,
                              on_shard=store.write if store is not None else (lambda *a: None),
                              embeddings=embeddings, failures=failures, max_pixels=max_pixels)
        finally:
            if bar is not None:
                bar.close()
    finally:
        if store is not None:
            store.close()
    return _Outcome(_assemble(table, names, embeddings, failures, missing, int(ext.dim)),
                    n_images=len(paths) + (0 if missing is None else len(missing)),
                    n_from_cache=n_cached, n_computed=len(todo),
                    cache_dir=None if store is None else str(store.dir))


def _assemble(table: pd.DataFrame, names: list[str], embeddings: dict[int, np.ndarray],
              failures: dict[int, str], missing: pd.DataFrame | None, dim: int) -> EmbeddingSet:
    ok = np.array(sorted(embeddings), dtype=np.int64)
    bad = np.array(sorted(failures), dtype=np.int64)
    fail_table = table.iloc[bad][["path", "identity", *names]].reset_index(drop=True).astype(str)
    fail_table.insert(2, "reason", [failures[int(r)] for r in bad])
    if missing is not None:
        extra = missing.copy()
        extra.insert(2, "reason", REASON_UNREADABLE.format(why="file does not exist"))
        fail_table = pd.concat([fail_table, extra], ignore_index=True)
    identities = table["identity"].to_numpy()[ok] if ok.size else np.array([])
    if ok.size < 2 or np.unique(identities).size < 2:
        reasons = fail_table["reason"].value_counts().head(3)
        raise FairauditInputError(TOO_FEW_EMBEDDINGS.format(
            n_ok=ok.size, n_ids=np.unique(identities).size, n=len(table) + (0 if missing is None else len(missing)),
            n_failed=len(fail_table),
            reasons=", ".join(f"{r!r} x{c}" for r, c in reasons.items()) or "none"))
    vectors = np.stack([embeddings[int(r)] for r in ok]).astype(np.float32).reshape(ok.size, dim)
    rows = table.iloc[ok].reset_index(drop=True)
    return EmbeddingSet(vectors, identity=rows["identity"].to_numpy(),
                        attributes=rows[names] if names else None,
                        path=rows["path"].to_numpy(), failures=fail_table)


def extract(
    manifest: pd.DataFrame | str | os.PathLike,
    *,
    extractor: Any = "dlib-resnet",
    cache: str | os.PathLike | None = None,
    batch_size: int = 32,
    progress: bool | None = None,
    attributes: Sequence[str] | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> EmbeddingSet:
    """Embed every face of a manifest of images into an EmbeddingSet.

    Parameters
    ----------
    manifest : DataFrame or path of a CSV
        One row per image: ``path``, ``identity`` and the attribute columns,
        all strings (what ``fairaudit.load_dataset`` returns). A CSV path is
        read with the ``csv`` dataset loader (``missing="report"``: images it
        lists that do not exist become failures).
    extractor : str or extractor, default "dlib-resnet"
        A registered name (``fairaudit.plugins.available("extractor")``) or an
        object with the extractor protocol (see :mod:`fairaudit.extractors`).
    cache : str or path-like, optional
        A directory in which finished batches are kept; a rerun, or a run that
        resumes after being killed, skips them. Namespaced by
        ``extractor.cache_key()``.
    batch_size : int, default 32
        Most faces embedded in one call, and the number of results per cache
        shard: a killed run loses at most about this many.
    progress : bool, optional
        Show a progress bar (tqdm). Default: only when stderr is a terminal.
    attributes : list of str, optional
        The attribute columns to keep; default every column other than
        ``path`` and ``identity``.
    scheduler : dask.distributed.Client, str or None
        Partition the images over Dask workers, as for
        :func:`fairaudit.verification_audit`: each task builds its own
        extractor (from its registered name, so the plugin must be installed on
        the workers; an instance is pickled to them instead) and writes its own
        cache shards under ``cache`` (which must then be a directory every
        worker sees). A task whose worker dies is rerun and resumes from its
        shards. Without ``scheduler``, ``workers=K`` starts a local cluster.
    workers : int, optional
        Size of a local cluster (see ``scheduler``).
    max_pixels : int, default :data:`fairaudit.extractors.DEFAULT_MAX_PIXELS`
        The most pixels (width x height) an image may have (Pillow's default
        limit, about 89 megapixels); a larger one is a failure, refused from
        its header before it is decoded.

    Returns
    -------
    EmbeddingSet
        The embeddings of the images with a face, in manifest order, with
        ``path``, ``identity`` and the attributes. Every other image is a row of
        ``failures`` (columns ``path``, ``identity``, ``reason``, attributes)
        with reason ``"no face found"``, ``"unreadable image: <why>"``
        (missing, a directory, empty, not an image, ...), ``"image file is
        damaged: <why>"`` (truncated or corrupt data: such a file is never
        decoded nor embedded) or ``"image too large: <why>"``; images that a
        loader reported missing (``manifest.attrs["missing"]``) are failures
        too. ``failure_to_acquire(by)`` gives the rate per group.

    Raises
    ------
    FairauditInputError
        For a malformed manifest (missing column or value, duplicate path, an
        attribute that changes within an identity), an unknown extractor name,
        an extractor whose ``embed`` returns a wrong shape, NaN or a zero row,
        fewer than two embeddings of two identities, a bad ``max_pixels``, or a
        cache that is in use by another run or cannot be written.

    Examples
    --------
    >>> import fairaudit
    >>> manifest = fairaudit.load_dataset("folder", "photos/")            # doctest: +SKIP
    >>> es = fairaudit.extract(manifest, cache="~/.cache/fairaudit")      # doctest: +SKIP
    >>> es.failure_to_acquire("ethnicity")                                # doctest: +SKIP
    """
    cache = None if cache is None else os.path.expanduser(os.fspath(cache))
    from fairaudit.common.executors import executor_for

    with executor_for(scheduler, workers) as executor:
        return _extract(manifest, extractor=extractor, cache=cache, batch_size=batch_size,
                        progress=progress, attributes=attributes, executor=executor,
                        max_pixels=max_pixels).embeddings


# --- comparing two photos -------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CompareResult:
    """The comparison of two face images.

    Attributes
    ----------
    score : float
        Cosine similarity of the two embeddings.
    threshold : float
        Same person when ``score >= threshold``.
    same : bool
        The decision.
    extractor : str
        Name of the extractor.
    paths : tuple of str
        The two images.
    """

    score: float
    threshold: float
    same: bool
    extractor: str
    paths: tuple[str, str]

    @property
    def decision(self) -> str:
        return "same person" if self.same else "different people"


def compare(image1: str | os.PathLike, image2: str | os.PathLike, *, extractor: Any = "dlib-resnet",
            threshold: float | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> CompareResult:
    """Compare the faces of two image files (the reference study's task 1.0).

    Parameters
    ----------
    image1, image2 : str or path-like
        Image files with one frontal face each (the best one is used).
    extractor : str or extractor, default "dlib-resnet"
        A registered name or an instance.
    threshold : float, optional
        Same person when the cosine score is >= threshold. Default: the
        extractor's ``threshold`` attribute (0.91 for ``dlib-resnet``, the
        equivalent of dlib's "Euclidean distance < 0.6" rule; see
        :data:`fairaudit.extractors.DLIB_RESNET_THRESHOLD`).
    max_pixels : int, default :data:`fairaudit.extractors.DEFAULT_MAX_PIXELS`
        The most pixels an image may have; a larger one is refused from its
        header, before it is decoded.

    Returns
    -------
    CompareResult

    Raises
    ------
    FairauditInputError
        When an image cannot be read, is damaged (truncated, corrupt data), is
        larger than ``max_pixels`` or shows no face, or no threshold is known;
        the message starts with ``IMG1:`` or ``IMG2:``.
    """
    from fairaudit.images.extractors import ImageReadError, _check_max_pixels, read_image

    max_pixels = _check_max_pixels(max_pixels)
    ext = resolve_extractor(extractor)
    if threshold is None:
        threshold = getattr(ext, "threshold", None)
        if threshold is None:
            raise FairauditInputError(NO_DEFAULT_THRESHOLD.format(name=ext.name))
    if (not isinstance(threshold, (int, float, np.floating)) or isinstance(threshold, bool)
            or not -1 <= threshold <= 1):
        raise FairauditInputError(BAD_THRESHOLD.format(value=threshold))
    names = (os.fspath(image1), os.fspath(image2))
    arguments = ("IMG1", "IMG2")
    images = []
    for argument, path in zip(arguments, names):  # both files are checked before any detection
        try:
            images.append(read_image(path, max_pixels=max_pixels))
        except ImageReadError as exc:
            raise FairauditInputError(COMPARE_IMAGE.format(argument=argument, message=exc)) from None
    chips = []
    for argument, path in zip(arguments, names):
        chip = ext.detect_and_align(images.pop(0))
        if chip is None:
            raise FairauditInputError(NO_FACE_IN_IMAGE.format(argument=argument, path=path, name=ext.name))
        chips.append(chip)
    vectors = _embed(ext, chips, list(names)).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    score = float(vectors[0] @ vectors[1])
    return CompareResult(score=score, threshold=float(threshold), same=score >= threshold,
                         extractor=ext.name, paths=names)


# --- command line -----------------------------------------------------------------------------
def _max_pixels_option(args: argparse.Namespace) -> int:
    """``--max-pixels`` (the default when the parser has no such option)."""
    value = getattr(args, "max_pixels", None)
    if value is None:
        return DEFAULT_MAX_PIXELS
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise FairauditInputError(BAD_MAX_PIXELS_OPTION.format(value=value))
    return value


def add_image_options(parser: argparse.ArgumentParser) -> None:
    """Add the image-reading options (``--max-pixels``) to the parser of ``compare`` or ``extract``."""
    parser.add_argument("--max-pixels", type=int, metavar="N", default=None,
                        help=f"refuse images of more than N pixels, from their header (default "
                             f"{DEFAULT_MAX_PIXELS}, Pillow's limit)")


def cmd_compare(args: argparse.Namespace) -> int:
    """``fairaudit compare IMG1 IMG2 [--extractor NAME] [--threshold T] [--max-pixels N]``."""
    result = compare(args.image1, args.image2, extractor=args.extractor, threshold=args.threshold,
                     max_pixels=_max_pixels_option(args))
    print(f"score:     {result.score:.4f}  (cosine similarity, {result.extractor})")
    print(f"threshold: {result.threshold:.4f}  (same person when score >= threshold)")
    print(f"decision:  {result.decision}")
    return 0


def _fta_tables(es: EmbeddingSet, max_groups: int = 20) -> Iterable[tuple[str, pd.DataFrame]]:
    for name in es.attribute_names:
        if es.attributes[name].nunique() <= max_groups:
            yield name, es.failure_to_acquire(name)


def _loader_accepts(name: str, option: str) -> bool:
    """Whether the registered dataset loader ``name`` takes the keyword ``option``."""
    import inspect

    try:
        parameters = inspect.signature(plugins.get("dataset", name, argument="--dataset").factory).parameters
    except (TypeError, ValueError):
        return False
    return option in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def cmd_extract(args: argparse.Namespace) -> int:
    """``fairaudit extract (--dataset NAME --root DIR | --manifest CSV) --out FILE [...]``.

    Every argument is checked, and ``--out`` and ``--cache`` are checked to be
    writable, before any image is read; an image the run cannot use is a
    failure row, never the end of the run; if the final write fails all the
    same, the set is saved to a fallback file whose path the error gives.
    """
    from fairaudit.images.datasets import load_dataset

    if (args.dataset is None) == (args.manifest is None):
        raise FairauditInputError(EXTRACT_SOURCE)
    if args.dataset is not None and args.root is None:
        raise FairauditInputError(DATASET_NEEDS_ROOT.format(name=args.dataset))
    batch_size = args.batch_size
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise FairauditInputError(BAD_BATCH_SIZE_OPTION.format(value=batch_size))
    max_pixels = _max_pixels_option(args)
    out = Path(args.out)
    if out.suffix.lower() not in (".npz", ".parquet"):
        raise FairauditInputError(BAD_OUT.format(path=str(out)))
    check_output(out, name="--out")
    cache = None if args.cache is None else os.path.expanduser(args.cache)
    if cache is not None:
        check_output(cache, name="--cache", directory=True)
    resolve_extractor(args.extractor, argument="--extractor")  # an unknown name fails before the work
    if args.dataset is not None:
        # images a loader lists that do not exist are failure rows, not the end of the run
        options = {"missing": "report"} if _loader_accepts(args.dataset, "missing") else {}
        manifest = load_dataset(args.dataset, args.root, **options)
        source = f"dataset {args.dataset!r} at {args.root}"
    else:
        if not os.path.exists(args.manifest):
            raise FairauditInputError(MANIFEST_NOT_FOUND.format(path=args.manifest))
        manifest = load_dataset("csv", args.manifest, missing="report")
        source = f"manifest {args.manifest}"
    start = time.perf_counter()
    from fairaudit.common.executors import executor_for

    with executor_for(args.scheduler, args.workers) as executor:
        outcome = _extract(manifest, extractor=args.extractor, cache=cache, batch_size=batch_size,
                           progress=None, attributes=None, executor=executor, max_pixels=max_pixels,
                           cache_name="--cache")
    es = outcome.embeddings
    elapsed = time.perf_counter() - start
    n_fail = len(es.failures)
    print(f"{source}: {outcome.n_images} images")
    print(f"extractor {args.extractor}: {len(es)} embedded, {n_fail} failures "
          f"({outcome.n_from_cache} from the cache, {outcome.n_computed} computed in {elapsed:.1f} s)")
    if outcome.cache_dir:
        print(f"cache: {outcome.cache_dir}")
    if n_fail:
        print("failures by reason:")
        for reason, count in es.failures["reason"].value_counts().items():
            print(f"  {count:6d}  {reason}")
    for name, table in _fta_tables(es):
        print(f"\nfailure to acquire by {name}:")
        print(table.to_string(formatters={"fta": "{:.4f}".format}))
    sys.stdout.flush()  # the report is out before a failed write's error
    written = save_or_fallback(es.save, out, name="--out")
    print(f"\n{es!r}\nwritten to {written}")
    return 0
