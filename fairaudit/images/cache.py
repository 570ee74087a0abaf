"""The extraction cache: one namespace per extractor cache key and image reader version, shards
written atomically and read back checked, damaged shards quarantined, one lock per namespace, and
:func:`cache_info`. The layout on disk is described in :mod:`fairaudit.images.extraction`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit import __version__
from fairaudit.common.errors import FairauditInputError
from fairaudit.common.files import atomic_write, check_output, write_text_atomic

#: version of the shard layout; a change makes old shards unreadable, never wrong
CACHE_FORMAT = 1
_SHARD_RE = re.compile(r"^shard-(\d{6,})\.npz$")
_SHARD_KEYS = ("keys", "embeddings", "failure_keys", "failure_reasons")
#: the quality values of a shard's embedded images (optional: older shards have none): per column
#: the measure's cache id (``name@version``) and the covariate's name, and a (keys, columns) float64 array
_QUALITY_KEYS = ("quality_ids", "quality_names", "quality")
#: columns of :func:`cache_info`
CACHE_INFO_COLUMNS = ["namespace", "extractor", "dim", "n_shards", "n_embeddings", "n_failures",
                      "n_bytes", "cache_key"]
NO_CACHE_KEY = (
    "cache={cache!r} needs extractor.cache_key(), which {name!r} lacks; without it fairaudit "
    "cannot tell its embeddings from another model's. Fix: add a cache_key() method returning a "
    "string that changes with the weights and settings, or pass cache=None."
)
BAD_CACHE_KEY = (
    "extractor {name!r}: cache_key() returned {value!r}; expected a non-empty str. Fix: return a "
    "string that changes with the weights and settings."
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
CACHE_QUALITY_MISSING = (
    "fairaudit: {n} cached image(s) of {path!r} have no values of the quality measure(s) {missing} (their "
    "shards were written by an older fairaudit, with quality=False or with other measures); they are "
    "computed again, with their quality, and the cache keeps both."
)
CACHE_WRITE_FAILED = (
    "fairaudit: cannot write the cache shard {path!r} ({why}); the run goes on without caching its "
    "results. Fix: free disk space in the cache directory, or pass another --cache."
)


def _cache_key(extractor: Any, cache: Any) -> str:
    method = getattr(extractor, "cache_key", None)
    if not callable(method):
        raise FairauditInputError(NO_CACHE_KEY.format(cache=os.fspath(cache), name=extractor.name))
    key = method()
    if not isinstance(key, str) or not key:
        raise FairauditInputError(BAD_CACHE_KEY.format(name=extractor.name, value=key))
    return key


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


def _namespace(name: str, key: str) -> str:
    from fairaudit.images.reading import IMAGE_READER_VERSION

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
        # shards written before the quality measures, or by a run without them, have none
        quality = {k: z[k] for k in _QUALITY_KEYS} if all(k in z.files for k in _QUALITY_KEYS) else {}
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
    data.update(quality)
    if quality:
        ids, names, values = quality["quality_ids"], quality["quality_names"], quality["quality"]
        if ids.ndim != 1 or ids.shape != names.shape or (ids.size and (ids.dtype.kind != "U" or names.dtype.kind != "U")):
            raise ValueError("its quality_ids and quality_names are not two lists of strings of one length")
        if values.dtype.kind != "f" or values.shape != (keys.shape[0], ids.shape[0]):
            raise ValueError(f"{keys.shape[0]} keys and {ids.shape[0]} quality measures but quality values of "
                             f"shape {values.shape} and dtype {values.dtype}")
        if not np.isfinite(values).all():
            raise ValueError("its quality values contain NaN or inf")
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

    def load(self, wanted: set[str]) -> tuple[dict[str, np.ndarray], dict[str, str],
                                              dict[str, dict[tuple[str, str], float]]]:
        """Embeddings, cached failure reasons and quality values (``{(measure id, name): value}``) of
        the wanted keys; a key in several shards has the quality values of all of them."""
        found: dict[str, np.ndarray] = {}
        failed: dict[str, str] = {}
        quality: dict[str, dict[tuple[str, str], float]] = {}
        shards = sorted(self.dir.glob("shard-*.npz"), key=self._number)
        for part in sorted(self.dir.glob("parts/*")):  # written by tasks of a distributed run
            shards += sorted(part.glob("shard-*.npz"), key=self._number)
        for path in shards:
            try:
                data = _read_shard(path, self.dim)
            except _SHARD_ERRORS as exc:
                self._quarantine(path, exc)
                continue
            columns = list(zip(data["quality_ids"].tolist(), data["quality_names"].tolist())) if "quality" in data else []
            for i, key in enumerate(data["keys"].tolist()):
                if key in wanted:
                    found[key] = data["embeddings"][i]
                    if columns:
                        quality.setdefault(key, {}).update(zip(columns, data["quality"][i].tolist()))
            for key, reason in zip(data["failure_keys"].tolist(), data["failure_reasons"].tolist()):
                if key in wanted:
                    failed[key] = reason
        return found, failed, quality

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
              failure_reasons: list[str], quality: tuple[list[tuple[str, str]], np.ndarray] | None = None) -> None:
        """Append one shard; ``quality`` is ``(columns, values)``: the ``(measure id, name)`` of each
        column and the (len(keys), columns) values of the embedded images, or None."""
        if (not keys and not failure_keys) or self._write_failed:
            return
        arrays = {
            "format": np.array(CACHE_FORMAT),
            "keys": np.array(keys, dtype="U64"),
            "embeddings": np.asarray(embeddings, dtype=np.float32).reshape(len(keys), self.dim),
            "failure_keys": np.array(failure_keys, dtype="U64"),
            "failure_reasons": np.array(failure_reasons, dtype=str) if failure_reasons else np.array([], dtype="U1"),
        }
        if quality is not None and quality[0]:
            columns, values = quality
            arrays["quality_ids"] = np.array([mid for mid, _ in columns], dtype=str)
            arrays["quality_names"] = np.array([name for _, name in columns], dtype=str)
            arrays["quality"] = np.asarray(values, dtype=np.float64).reshape(len(keys), len(columns))
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


def _load_cached(store: _ShardStore, keys: list[str], embeddings: dict[int, np.ndarray],
                 failures: dict[int, str], quality: dict[int, dict[tuple[str, str], float]] | None = None,
                 wanted: list[str] | tuple[str, ...] = ()) -> int:
    """Fill ``embeddings``/``failures`` (by position in ``keys``) with what the cache already holds.

    With ``wanted`` quality measure ids, an embedded image counts as cached only when the cache
    also holds its values of every one of them (put in ``quality``); the others are left out, to be
    computed again, and a warning says how many (see :data:`CACHE_QUALITY_MISSING`). Returns that number.
    """
    found, failed, values = store.load(set(keys))
    stale = 0
    missing: set[str] = set()
    for i, key in enumerate(keys):
        if key in found:
            if wanted:
                have = values.get(key, {})
                ids = {mid for mid, _ in have}
                lacking = [mid for mid in wanted if mid not in ids]
                if lacking:
                    stale += 1
                    missing.update(lacking)
                    continue
                if quality is not None:
                    quality[i] = {col: v for col, v in have.items() if col[0] in wanted}
            embeddings[i] = found[key]
        elif key in failed:
            failures[i] = failed[key]
    if stale:
        warnings.warn(CACHE_QUALITY_MISSING.format(
            n=stale, path=str(store.dir), missing=", ".join(repr(m) for m in sorted(missing))),
            RuntimeWarning, stacklevel=3)
    return stale
