"""Several extractors over one manifest in one pass, into aligned EmbeddingSets.

:func:`run_extractions` is ``extract(manifest, extractor=[...])``: every image is read and checked
once, and each extractor that lacks it in its own cache namespace detects, aligns and embeds its
face (the extractor protocol joins detection and alignment in ``detect_and_align``, and chips are
model-specific, so a face found by one extractor cannot be handed to another). An image that any
extractor could not use is a failure row of every set, so that every set holds the same samples in
the same order; :func:`failure_to_acquire` tells each extractor's own failures from the run's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common.errors import FairauditInputError
from fairaudit.data import EmbeddingSet
from fairaudit.images.cache import _cache_key, _load_cached, _namespace, _ShardStore, image_key
from fairaudit.images.extraction import BAD_BATCH_SIZE, _assemble, _prepare_manifest, quality_metadata
from fairaudit.images.pipeline import (BAD_PROGRESS, REASON_OTHER_EXTRACTOR, _progress_bar, _run_distributed_many,
                                       _run_pipelines)
from fairaudit.images.protocol import resolve_extractor
from fairaudit.images.reading import DEFAULT_MAX_PIXELS

__all__ = ["run_extractions", "failure_to_acquire", "REASON_OTHER_EXTRACTOR", "OTHER_EXTRACTOR_PREFIX"]

#: how the reason of a failure row starts when another extractor of the run failed, not this one
OTHER_EXTRACTOR_PREFIX = REASON_OTHER_EXTRACTOR.split("{")[0]

NO_EXTRACTORS = (
    "extractor={value!r} is an empty {type}; several extractors are given as a non-empty list of "
    "registered names or instances, or a dict from a label to one. Fix: pass e.g. "
    "extractor=['dlib-resnet', 'pixels'], or one extractor."
)
BAD_EXTRACTOR_LABEL = (
    "extractor: the dict key {value!r} ({type}) is not a label; a label is a non-empty str naming the "
    "extractor's EmbeddingSet. Fix: key the dict by strings, e.g. {{'hog': ..., 'haar': ...}}."
)
DUPLICATE_EXTRACTOR = (
    "extractor={value!r} names the extractor {label!r} twice; every extractor of a run gives one "
    "EmbeddingSet, keyed by its name. Fix: list each extractor once, or pass a dict from distinct labels "
    "to extractors, e.g. {{'hog': DlibResnetExtractor(), 'haar': DlibResnetExtractor(detector='haar')}}."
)
SAME_CACHE_NAMESPACE = (
    "extractor: {first!r} and {second!r} are the same extractor with the same settings (cache namespace "
    "{namespace!r}), so they would compute the same embeddings twice and share one cache. Fix: pass it once."
)
NOT_AN_EXTRACTION = (
    "sets must be a non-empty dict from an extractor's name to the EmbeddingSet that "
    "extract(manifest, extractor=[...]) returned; got {value!r}. Fix: pass what extract returned."
)


def _resolve_extractors(extractors: Any) -> list[tuple[str, Any, Any]]:
    """``(label, what to send to Dask workers, instance)`` of every extractor of a run, in order.

    A list gives each entry's label: the registered name for a str, ``extractor.name`` for an
    instance; a dict gives its keys. Labels must be distinct."""
    if isinstance(extractors, Mapping):
        entries = []
        for label, spec in extractors.items():
            if not isinstance(label, str) or not label:
                raise FairauditInputError(BAD_EXTRACTOR_LABEL.format(value=label, type=type(label).__name__))
            entries.append((label, spec))
    else:
        entries = [(None, spec) for spec in extractors]
    if not entries:
        raise FairauditInputError(NO_EXTRACTORS.format(value=extractors, type=type(extractors).__name__))
    out: list[tuple[str, Any, Any]] = []
    for label, spec in entries:
        ext = resolve_extractor(spec)
        label = label if label is not None else (spec if isinstance(spec, str) else str(ext.name))
        if any(label == seen for seen, _, _ in out):
            raise FairauditInputError(DUPLICATE_EXTRACTOR.format(value=extractors, label=label))
        out.append((label, spec if isinstance(spec, str) else ext, ext))
    return out


@dataclass(frozen=True, eq=False)
class _MultiOutcome:
    sets: dict[str, EmbeddingSet]
    n_images: int
    n_from_cache: dict[str, int]
    n_computed: dict[str, int]
    n_own_failures: dict[str, int]
    n_failed_any: int
    cache_dirs: dict[str, str | None]
    #: per label, the quality plan of the run (its measures and the notes on those left out)
    quality: dict[str, Any] | None = None


def run_extractions(manifest: Any, *, extractors: Any, cache: Any, batch_size: Any, progress: Any,
                    attributes: Sequence[str] | None, executor: Any = None,
                    max_pixels: Any = DEFAULT_MAX_PIXELS, cache_name: str = "cache", quality: Any = True,
                    quality_argument: str = "quality") -> _MultiOutcome:
    """``fairaudit.extract`` with several extractors: one pass over the images, aligned sets.

    Every image is read and checked once; each extractor that lacks it in its cache detects,
    aligns and embeds its face. Each extractor keeps its own cache namespace, so a run resumes
    per extractor. An image that fails for any extractor is a failure row of every set (see
    ``fairaudit.extract``), so that every set holds the same samples in the same order. Each
    extractor has its own quality measures (those its detections allow), computed from its own
    detection of each face.
    """
    from fairaudit.images.quality import plan_quality
    from fairaudit.images.reading import _check_max_pixels

    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise FairauditInputError(BAD_BATCH_SIZE.format(value=batch_size))
    if progress is not None and not isinstance(progress, bool):
        raise FairauditInputError(BAD_PROGRESS.format(value=progress))
    max_pixels = _check_max_pixels(max_pixels)
    table, names, missing = _prepare_manifest(manifest, attributes)
    resolved = _resolve_extractors(extractors)
    labels = [label for label, _, _ in resolved]
    exts = [ext for _, _, ext in resolved]
    plans = [plan_quality(quality, ext, argument=quality_argument) for ext in exts]
    if cache is not None:  # two entries of one namespace would compute everything twice, and lock each other out
        seen: dict[str, str] = {}
        for label, ext in zip(labels, exts):
            namespace = _namespace(ext.name, _cache_key(ext, cache))
            if namespace in seen:
                raise FairauditInputError(SAME_CACHE_NAMESPACE.format(
                    first=seen[namespace], second=label, namespace=namespace))
            seen[namespace] = label
    paths = table["path"].astype(str).tolist()
    keys = [image_key(p) for p in paths]
    embeddings: list[dict[int, np.ndarray]] = [{} for _ in exts]
    failures: list[dict[int, str]] = [{} for _ in exts]
    values: list[dict[int, dict[tuple[str, str], float]]] = [{} for _ in exts]
    stale = [0 for _ in exts]
    stores: list[_ShardStore | None] = []
    try:
        for ext in exts:
            stores.append(_ShardStore(cache, ext, name=cache_name) if cache is not None else None)
        for k, store in enumerate(stores):
            if store is not None:
                stale[k] = _load_cached(store, keys, embeddings[k], failures[k], values[k], plans[k].ids)
        n_cached = [len(e) + len(f) for e, f in zip(embeddings, failures)]
        need = [{r for r in range(len(paths)) if r not in e and r not in f} for e, f in zip(embeddings, failures)]
        todo = sorted(set().union(*need))
        bar = _progress_bar(progress, len(paths), len(paths) - len(todo), "+".join(labels))
        try:
            if executor is not None:
                _run_distributed_many(executor, [spec for _, spec, _ in resolved], paths, keys, todo, need,
                                      batch_size=int(batch_size), cache=cache, bar=bar, embeddings=embeddings,
                                      failures=failures, max_pixels=max_pixels, plans=plans, quality=values)
            else:
                _run_pipelines(exts, paths, keys, todo, need, batch_size=int(batch_size), bar=bar,
                               on_shard=[store.write if store is not None else (lambda *a: None)
                                         for store in stores],
                               embeddings=embeddings, failures=failures, max_pixels=max_pixels,
                               plans=plans, quality=values)
        finally:
            if bar is not None:
                bar.close()
    finally:
        for store in stores:
            if store is not None:
                store.close()
    failed_any = set().union(*failures)
    n_images = len(paths) + (0 if missing is None else len(missing))
    sets: dict[str, EmbeddingSet] = {}
    own_counts: dict[str, int] = {}
    for k, (label, ext) in enumerate(zip(labels, exts)):
        reasons: dict[int, str] = {}
        for row in failed_any:
            if row in failures[k]:
                reasons[row] = failures[k][row]
            else:
                reasons[row] = REASON_OTHER_EXTRACTOR.format(failed="; ".join(
                    f"{labels[j]!r}: {failures[j][row]}" for j in range(len(exts)) if row in failures[j]))
        kept = {row: v for row, v in embeddings[k].items() if row not in failed_any}
        own_counts[label] = len(failures[k]) + (0 if missing is None else len(missing))
        metadata = {"extraction": {"extractor": label, "extractors": labels, "n_images": n_images,
                                   "n_own_failures": own_counts[label],
                                   "n_excluded": len(failed_any) - len(failures[k])}}
        sets[label] = _assemble(table, names, kept, reasons, missing, int(ext.dim),
                                quality_metadata(plans[k], stale[k], metadata), plan=plans[k], quality=values[k])
    return _MultiOutcome(sets, n_images=n_images, n_from_cache=dict(zip(labels, n_cached)),
                         n_computed={label: len(rows) for label, rows in zip(labels, need)},
                         n_own_failures=own_counts,
                         n_failed_any=len(failed_any) + (0 if missing is None else len(missing)),
                         cache_dirs={label: None if store is None else str(store.dir)
                                     for label, store in zip(labels, stores)},
                         quality=dict(zip(labels, plans)))


def failure_to_acquire(sets: Mapping[str, EmbeddingSet], by: str | list[str]) -> pd.DataFrame:
    """Failure-to-acquire rate per extractor and group, of the aligned sets of one extraction.

    Every set of ``extract(manifest, extractor=[...])`` lists as failures the images that any
    extractor could not use, so its own ``failure_to_acquire(by)`` is the rate of the run as a
    whole. This table separates them: ``n_failures`` and ``fta`` count the images the extractor
    itself could not use (rows whose reason does not start with :data:`OTHER_EXTRACTOR_PREFIX`),
    ``n_failures_any`` and ``fta_any`` those that any extractor could not use (what every set
    holds as failures). ``n_attempts`` is every image of the group.

    Parameters
    ----------
    sets : dict of str to EmbeddingSet
        What ``extract(manifest, extractor=[...])`` returned (any one set works too, as ``{name: set}``).
    by : str or list of str
        Attribute(s) defining the groups.

    Returns
    -------
    DataFrame
        Indexed by ``extractor`` and the group, with columns ``n_attempts``, ``n_failures``,
        ``fta``, ``n_failures_any`` and ``fta_any``.
    """
    if not isinstance(sets, Mapping) or not sets or not all(isinstance(es, EmbeddingSet) for es in sets.values()):
        raise FairauditInputError(NOT_AN_EXTRACTION.format(value=sets))
    frames = []
    for name, es in sets.items():
        table = es.failure_to_acquire(by)
        groups = list(table.index.names)
        fails = es.failures
        own = fails[~fails["reason"].astype(str).str.startswith(OTHER_EXTRACTOR_PREFIX)]
        if len(own):
            counts = own.groupby(groups).size()
            if len(groups) == 1:
                counts.index = pd.Index(counts.index, name=groups[0])
            counts = counts.reindex(table.index, fill_value=0)
        else:
            counts = pd.Series(0, index=table.index)
        frames.append(pd.DataFrame({
            "n_attempts": table["n_attempts"], "n_failures": counts.astype(np.int64),
            "fta": counts / table["n_attempts"], "n_failures_any": table["n_failures"], "fta_any": table["fta"]}))
    out = pd.concat(frames, keys=list(sets), names=["extractor"])
    return out
