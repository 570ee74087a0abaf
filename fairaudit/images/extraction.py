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
    DIR/dlib-resnet-3f9c0e5a1b2d4c6e/shard-000000.npz one batch: keys, embeddings, failures,
                                                      quality values (measure ids, names, values)
    DIR/dlib-resnet-3f9c0e5a1b2d4c6e/lock             held while a run uses the namespace

An image's key is the SHA-256 of its absolute path, size and modification
time (ns): editing or replacing a file invalidates its entry. Each shard and
``meta.json`` are written to a temporary file and renamed into place
(:func:`fairaudit.common.files.atomic_write`), so a run killed at any moment (even by
SIGKILL) leaves complete shards and possibly a stale temporary file, which the
next run ignores and removes. A rerun skips every image of a complete shard.
Shards are plain ``.npz`` files without pickles. "No face found" failures are
cached (detection is what costs); unreadable, damaged and too large files are
retried on every run, since checking them is cheap and the cause (permissions,
a network mount, the ``max_pixels`` limit) may be gone. The namespace also
depends on :data:`fairaudit.images.IMAGE_READER_VERSION`, so that
embeddings computed from images read another way are never reused.

A shard that cannot be read, or whose content is impossible (NaN or inf
embeddings, all-zero rows, wrong shapes or types), is damaged: a warning names
it, it is moved to ``DIR/<namespace>/damaged/`` (so that the warning is not
repeated on every run) and its images are recomputed. A shard that cannot be
written (a full disk) is warned about once; the run goes on without the cache
and loses nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.data import EmbeddingSet
from fairaudit.common.errors import FairauditInputError

# the parts of the extraction, re-exported: their public names are importable from here
from fairaudit.images.cache import (
    BAD_CACHE_KEY,
    CACHE_BUSY,
    CACHE_DIR_MISSING,
    CACHE_FORMAT,
    CACHE_INFO_COLUMNS,
    CACHE_KEY_CLASH,
    CACHE_META_UNREADABLE,
    CACHE_NOT_DIR,
    CACHE_SHARD_DAMAGED,
    CACHE_SHARD_DAMAGED_KEPT,
    CACHE_WRITE_FAILED,
    NO_CACHE_KEY,
    _load_cached,
    _ShardStore,
    cache_info,
    image_key,
)
from fairaudit.images.comparison import (
    BAD_THRESHOLD,
    COMPARE_IMAGE,
    NO_DEFAULT_THRESHOLD,
    NO_FACE_IN_IMAGE,
    CompareResult,
    compare,
)
from fairaudit.images.pipeline import (
    BAD_PROGRESS,
    REASON_DAMAGED,
    REASON_NO_FACE,
    REASON_OTHER_EXTRACTOR,
    REASON_TOO_LARGE,
    REASON_UNREADABLE,
    _progress_bar,
    _run_distributed,
    _run_pipeline,
)
from fairaudit.images.protocol import BAD_EMBED_OUTPUT, NOT_AN_EXTRACTOR, resolve_extractor
from fairaudit.images.reading import DEFAULT_MAX_PIXELS

__all__ = ["extract", "cache_info", "image_key", "resolve_extractor", "compare", "CompareResult",
           "REASON_NO_FACE", "REASON_UNREADABLE", "REASON_DAMAGED", "REASON_TOO_LARGE", "REASON_OTHER_EXTRACTOR"]


BAD_BATCH_SIZE = "batch_size={value!r} must be an integer >= 1. Fix: pass e.g. batch_size=32."
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
TOO_FEW_EMBEDDINGS = (
    "extract got {n_ok} embedding(s) of {n_ids} identity(ies) from {n} image(s) ({n_failed} "
    "failure(s); reasons: {reasons}); an EmbeddingSet needs at least 2 embeddings of 2 "
    "identities. Fix: check the image paths and that the images show frontal faces, or try "
    "another extractor (e.g. extractor='dlib-resnet-haar')."
)

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
    # DataFrames cannot be compared that way): the work needs none of them but the codebook (plain dicts)
    codebook = manifest.attrs.get("value_labels")
    table.attrs = {"value_labels": codebook} if isinstance(codebook, dict) else {}
    missing = manifest.attrs.get("missing")
    if isinstance(missing, pd.DataFrame) and len(missing) and {"path", "identity"} <= set(missing.columns):
        missing = missing.reindex(columns=["path", "identity", *names]).astype(str)
    else:
        missing = None
    return table.reset_index(drop=True), names, missing


@dataclass(frozen=True, eq=False)
class _Outcome:
    embeddings: EmbeddingSet
    n_images: int
    n_from_cache: int
    n_computed: int
    cache_dir: str | None
    #: the quality measures of the run and the notes on those left out (an empty plan with quality=False)
    quality: Any = None
    #: cached images computed again because their shards lacked quality values
    n_recomputed: int = 0


def run_extraction(manifest: Any, *, extractor: Any, cache: Any, batch_size: Any, progress: Any,
             attributes: Sequence[str] | None, executor: Any = None,
             max_pixels: Any = DEFAULT_MAX_PIXELS, cache_name: str = "cache", quality: Any = True,
             quality_argument: str = "quality") -> _Outcome:
    """:func:`extract`'s work, returning the run's outcome (the set, and how many images came from
    the cache and how many were embedded now), which the ``extract`` command prints."""
    from fairaudit.images.quality import plan_quality
    from fairaudit.images.reading import _check_max_pixels

    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise FairauditInputError(BAD_BATCH_SIZE.format(value=batch_size))
    if progress is not None and not isinstance(progress, bool):
        raise FairauditInputError(BAD_PROGRESS.format(value=progress))
    max_pixels = _check_max_pixels(max_pixels)
    table, names, missing = _prepare_manifest(manifest, attributes)
    ext = resolve_extractor(extractor)
    plan = plan_quality(quality, ext, argument=quality_argument)
    paths = table["path"].astype(str).tolist()
    keys = [image_key(p) for p in paths]
    embeddings: dict[int, np.ndarray] = {}
    failures: dict[int, str] = {}
    values: dict[int, dict[tuple[str, str], float]] = {}
    stale = 0
    store = _ShardStore(cache, ext, name=cache_name) if cache is not None else None
    try:
        if store is not None:
            stale = _load_cached(store, keys, embeddings, failures, values, plan.ids)
        n_cached = len(embeddings) + len(failures)
        todo = [row for row in range(len(paths)) if row not in embeddings and row not in failures]
        bar = _progress_bar(progress, len(paths), n_cached, ext.name)
        try:
            if executor is not None:
                _run_distributed(executor, extractor if isinstance(extractor, str) else ext, paths, keys,
                                 todo, batch_size=int(batch_size), cache=cache, bar=bar,
                                 embeddings=embeddings, failures=failures, max_pixels=max_pixels,
                                 plan=plan, quality=values)
            else:
                _run_pipeline(ext, paths, keys, todo, batch_size=int(batch_size), bar=bar,
                              on_shard=store.write if store is not None else (lambda *a: None),
                              embeddings=embeddings, failures=failures, max_pixels=max_pixels,
                              plan=plan, quality=values)
        finally:
            if bar is not None:
                bar.close()
    finally:
        if store is not None:
            store.close()
    es = _assemble(table, names, embeddings, failures, missing, int(ext.dim),
                   quality_metadata(plan, stale), plan=plan, quality=values)
    return _Outcome(es, n_images=len(paths) + (0 if missing is None else len(missing)),
                    n_from_cache=n_cached, n_computed=len(todo),
                    cache_dir=None if store is None else str(store.dir), quality=plan, n_recomputed=stale)


def quality_metadata(plan: Any, n_recomputed: int, metadata: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """``metadata`` plus ``"quality"``: the measures of the run, the notes on those left out and how many
    cached images were computed again for their quality (nothing with quality=False)."""
    if not plan and not plan.notes:
        return metadata
    out = dict(metadata or {})
    out["quality"] = {"measures": plan.names, "notes": list(plan.notes), "n_recomputed": int(n_recomputed)}
    return out


def _assemble(table: pd.DataFrame, names: list[str], embeddings: dict[int, np.ndarray],
              failures: dict[int, str], missing: pd.DataFrame | None, dim: int,
              metadata: dict[str, Any] | None = None, *, plan: Any = None,
              quality: dict[int, dict[tuple[str, str], float]] | None = None) -> EmbeddingSet:
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
    # a loader's codebook (manifest.attrs["value_labels"], e.g. DiveFace's H = man) travels with the set
    codebook = {k: v for k, v in dict(table.attrs.get("value_labels") or {}).items() if k in names}
    covariates, kinds = None, None
    if plan:  # the quality measures of every embedded image: numeric covariates
        from fairaudit.images.quality import covariate_table

        covariates, kinds = covariate_table(plan, [int(r) for r in ok], quality or {})
    return EmbeddingSet(vectors, identity=rows["identity"].to_numpy(),
                        attributes=rows[names] if names else None,
                        path=rows["path"].to_numpy(), failures=fail_table, value_labels=codebook or None,
                        metadata=metadata, covariates=covariates or None, covariate_kinds=kinds or None)


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
    quality: bool | Sequence[str] = True,
) -> EmbeddingSet | dict[str, EmbeddingSet]:
    """Embed every face of a manifest of images into an EmbeddingSet, or one per extractor.

    Parameters
    ----------
    manifest : DataFrame or path of a CSV
        One row per image: ``path``, ``identity`` and the attribute columns,
        all strings (what ``fairaudit.load_dataset`` returns). A CSV path is
        read with the ``csv`` dataset loader (``missing="report"``: images it
        lists that do not exist become failures).
    extractor : str, extractor, list or dict, default "dlib-resnet"
        A registered name (``fairaudit.plugins.available("extractor")``) or an
        object with the extractor protocol (see :mod:`fairaudit.images`). Or
        several: a list of them (each labelled by its registered name, or its
        ``name`` for an instance) or a dict from a label to one, run in one pass
        over the images (each image read and checked once) into aligned sets.
    cache : str or path-like, optional
        A directory in which finished batches are kept; a rerun, or a run that
        resumes after being killed, skips them. Namespaced by
        ``extractor.cache_key()``: with several extractors, each has its own
        namespace and resumes on its own.
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
    max_pixels : int, default :data:`fairaudit.images.DEFAULT_MAX_PIXELS`
        The most pixels (width x height) an image may have (Pillow's default
        limit, about 89 megapixels); a larger one is a failure, refused from
        its header before it is decoded.
    quality : bool or list of str, default True
        The image quality measures computed for every embedded image and returned as the set's
        numeric ``covariates`` (:mod:`fairaudit.images.quality`): True for every registered
        measure (``fairaudit.plugins.available("quality")``: the built-ins ``face_size``,
        ``sharpness``, ``brightness``, ``contrast``, ``detector_confidence`` and ``yaw``, and the
        plugins'), a list of names for those, False for none. A measure that cannot be computed
        with the extractor (e.g. ``detector_confidence`` with the Haar detector) is left out of the
        run, with a note in ``metadata["quality"]["notes"]``. The values are cached with the
        embeddings; cached images without them are computed again (a warning says how many).

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
        too. ``failure_to_acquire(by)`` gives the rate per group. The quality measures of the
        embedded images are its numeric ``covariates`` (see ``quality``).
    dict of str to EmbeddingSet
        With several extractors: one set per label, in their order, all with
        the same samples in the same order. An image that any extractor could
        not use is a failure row of every set: with that extractor's reason in
        its own set, and ``"failed for another extractor: '<label>': <reason>"``
        (:data:`REASON_OTHER_EXTRACTOR`) in the sets of the extractors that did
        embed it. :func:`fairaudit.images.failure_to_acquire` separates each extractor's own
        failures from the run's; ``metadata["extraction"]`` records the labels
        and the counts.

    Raises
    ------
    FairauditInputError
        For a malformed manifest (missing column or value, duplicate path, an
        attribute that changes within an identity), an unknown extractor name,
        an extractor whose ``embed`` returns a wrong shape, NaN or a zero row,
        fewer than two embeddings of two identities, a bad ``max_pixels``, or a
        cache that is in use by another run or cannot be written; with several
        extractors also for an empty list or dict, a label given twice or not a
        string, and one extractor with the same settings twice under a cache.
        An exception raised by an extractor's own code ends the run, as with
        one extractor: it is a bug to fix, not a property of the image (the
        finished shards of every extractor stay in the cache).

    Examples
    --------
    >>> import fairaudit
    >>> manifest = fairaudit.load_dataset("folder", "photos/")            # doctest: +SKIP
    >>> es = fairaudit.extract(manifest, cache="~/.cache/fairaudit")      # doctest: +SKIP
    >>> es.failure_to_acquire("ethnicity")                                # doctest: +SKIP
    >>> sets = fairaudit.extract(manifest, extractor=["dlib-resnet", "pixels"])   # doctest: +SKIP
    >>> sets["pixels"].failures                                           # doctest: +SKIP
    """
    cache = None if cache is None else os.path.expanduser(os.fspath(cache))
    from fairaudit.common.executors import executor_for

    several = isinstance(extractor, (list, tuple, Mapping))
    with executor_for(scheduler, workers) as executor:
        if several:
            from fairaudit.images.aligned import run_extractions

            return run_extractions(manifest, extractors=extractor, cache=cache, batch_size=batch_size,
                                   progress=progress, attributes=attributes, executor=executor,
                                   max_pixels=max_pixels, quality=quality).sets
        return run_extraction(manifest, extractor=extractor, cache=cache, batch_size=batch_size,
                        progress=progress, attributes=attributes, executor=executor,
                        max_pixels=max_pixels, quality=quality).embeddings
