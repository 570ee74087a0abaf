"""The extraction pipeline: a reader thread reads the images and aligns the faces while the
calling thread embeds them in batches and hands each batch to the cache (``_run_pipeline``), or
the images are partitioned over Dask workers (``_run_distributed``); and the failure reasons of
the images it cannot use."""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any, Callable

import numpy as np

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.cache import _load_cached, _ShardStore
from fairaudit.images.protocol import _embed, resolve_extractor
from fairaudit.images.reading import DEFAULT_MAX_PIXELS

#: reason of a failure row when the extractor finds no face
REASON_NO_FACE = "no face found"
#: reason of a failure row when the file cannot be read (missing, a directory, empty, not an image, ...)
REASON_UNREADABLE = "unreadable image: {why}"
#: reason of a failure row when the file is truncated or holds corrupt data (never decoded, never embedded)
REASON_DAMAGED = "image file is damaged: {why}"
#: reason of a failure row when the image has more pixels than max_pixels (refused from its header)
REASON_TOO_LARGE = "image too large: {why}"
#: reason of a failure row, in the set of one extractor, for an image that extractor embedded but another
#: of the same run could not use (``extract(extractor=[...])``: every set holds the same samples)
REASON_OTHER_EXTRACTOR = "failed for another extractor: {failed}"
BAD_PROGRESS = "progress={value!r} must be None (a bar only on a terminal), True or False. Fix: pass one of them."


_DONE = object()
#: what the reader hands an extractor for a row it does not need (already cached)
_SKIP = object()


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
    """The failure-row reason of an :class:`~fairaudit.images.ImageReadError`."""
    from fairaudit.images.errors import ImageDamagedError, ImageTooLargeError

    if isinstance(exc, ImageDamagedError):
        return REASON_DAMAGED.format(why=exc.why)
    if isinstance(exc, ImageTooLargeError):
        return REASON_TOO_LARGE.format(why=exc.why)
    return REASON_UNREADABLE.format(why=exc.why)


def _reader(extractors: list[Any], paths: list[str], todo: list[int], need: list[set[int] | None],
            q: "queue.Queue[Any]", stop: threading.Event, max_pixels: int, plans: list[Any]) -> None:
    """Read and detect the images to do, in order; put (row, chips, reasons, quality) on the queue.

    Every image is read and checked once; each extractor that needs the row (``need[k]`` is None
    for every row, or the set of rows extractor ``k`` lacks) detects and aligns the face on that
    one decoded image, and gets a chip or ``None`` with a reason; an extractor that does not need
    the row gets ``_SKIP``. With a quality plan (``plans[k]``), the measures of an image whose face
    extractor ``k`` found are computed here too, from the decoded image and the detection.

    The next image is read *before* the current chips are handed over, so that
    the model (which may hold the GIL, as dlib's does) starts on them while
    this thread is inside the detector (which releases it, as dlib's and
    OpenCV's do). Reading after the hand-over would let the model take the GIL
    during the short file read and serialise detection and embedding.
    """
    from fairaudit.images.quality import detect
    from fairaudit.images.reading import ImageReadError, read_image

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
            chips: list[Any] = []
            reasons: list[str | None] = []
            quality: list[Any] = []
            for extractor, rows, plan in zip(extractors, need, plans):
                values = None
                if rows is not None and row not in rows:
                    chips.append(_SKIP)
                    reasons.append(None)
                elif image is None:
                    chips.append(None)
                    reasons.append(reason)
                else:
                    chip, detection = detect(extractor, image, plan, paths[row])
                    chips.append(chip)
                    reasons.append(None if chip is not None else REASON_NO_FACE)
                    if chip is not None and plan:
                        values = plan.compute(image, detection, paths[row])
                quality.append(values)
            del image
            if i + 1 < len(todo):
                following = load(todo[i + 1])
            if not _put(q, (row, chips, reasons, quality), stop):
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
                  max_pixels: int = DEFAULT_MAX_PIXELS, plan: Any = None,
                  quality: dict[int, dict[tuple[str, str], float]] | None = None) -> None:
    """Embed the rows ``todo`` with one extractor; fill ``embeddings``/``failures`` (and ``quality``
    with the values of ``plan``'s measures); call ``on_shard`` per shard (:func:`_run_pipelines`
    with one extractor)."""
    _run_pipelines([extractor], paths, keys, todo, [None], batch_size=batch_size, bar=bar,
                   on_shard=[on_shard], embeddings=[embeddings], failures=[failures], max_pixels=max_pixels,
                   plans=[plan], quality=[quality if quality is not None else {}])


def _run_pipelines(extractors: list[Any], paths: list[str], keys: list[str], todo: list[int],
                   need: list[set[int] | None], *, batch_size: int, bar: Any,
                   on_shard: list[Callable[..., None]], embeddings: list[dict[int, np.ndarray]],
                   failures: list[dict[int, str]], max_pixels: int = DEFAULT_MAX_PIXELS,
                   plans: list[Any] | None = None,
                   quality: list[dict[int, dict[tuple[str, str], float]]] | None = None) -> None:
    """Embed the rows ``todo`` with every extractor that needs them, reading each image once.

    ``need[k]`` is the set of rows extractor ``k`` lacks (None: all of ``todo``); its results go
    to ``embeddings[k]``/``failures[k]`` and its shards to ``on_shard[k]``, so every extractor
    keeps its own cache. The model never waits for a full batch: whatever chips the reader has
    ready (up to ``batch_size`` images) are embedded at once, one call per extractor, so that the
    first embedding starts after one detection, not after ``batch_size`` of them (on the CPU,
    dlib's ResNet costs the same per face in batches of 1 or 32). When embedding is the slower
    stage the queue fills up and batches are full. An extractor's results are written as a shard
    whenever ``batch_size`` of them are waiting, and at the end. ``plans[k]`` (a
    :class:`~fairaudit.images.quality.QualityPlan` or None) gives the quality measures of extractor
    ``k``: their values go to ``quality[k]`` (``{row: {(measure id, name): value}}``) and into its
    shards, next to the embeddings.
    """
    if not todo:
        return
    plans = plans if plans is not None else [None] * len(extractors)
    quality = quality if quality is not None else [{} for _ in extractors]
    q: queue.Queue[Any] = queue.Queue(maxsize=2 * batch_size)
    stop = threading.Event()
    thread = threading.Thread(target=_reader, args=(extractors, paths, todo, need, q, stop, max_pixels, plans),
                              name="fairaudit-extract-reader", daemon=True)
    thread.start()
    pending = [_Pending() for _ in extractors]

    def write_shard(k: int) -> None:
        done = pending[k]
        cacheable = [(keys[r], reason) for r, reason in done.failed if reason == REASON_NO_FACE]
        vectors = (np.stack(done.vectors) if done.vectors
                   else np.empty((0, int(extractors[k].dim)), dtype=np.float32))
        values = None
        if plans[k] and done.rows:
            values = (plans[k].columns, np.stack(done.quality))
        on_shard[k]([keys[r] for r in done.rows], vectors, [key for key, _ in cacheable],
                    [r for _, r in cacheable], values)
        done.clear()

    try:
        finished = False
        while not finished:
            items = [q.get()]
            while len(items) < batch_size:  # take what is ready, without waiting for more
                try:
                    items.append(q.get_nowait())
                except queue.Empty:
                    break
            rows: list[list[int]] = [[] for _ in extractors]
            chips: list[list[Any]] = [[] for _ in extractors]
            for item in items:
                if item is _DONE:
                    finished = True
                    continue
                if isinstance(item, _ReaderError):
                    raise item.exc
                row, item_chips, item_reasons, item_quality = item
                for k, (chip, reason, values) in enumerate(zip(item_chips, item_reasons, item_quality)):
                    if chip is _SKIP:
                        continue
                    if chip is None:
                        failures[k][row] = reason
                        pending[k].failed.append((row, reason))
                    else:
                        rows[k].append(row)
                        chips[k].append(chip)
                        if values is not None:
                            quality[k][row] = dict(zip(plans[k].columns, values.tolist()))
                            pending[k].quality.append(values)
            for k, extractor in enumerate(extractors):
                if chips[k]:
                    vectors = _embed(extractor, chips[k], [paths[r] for r in rows[k]])
                    for row, vector in zip(rows[k], vectors):
                        embeddings[k][row] = vector
                    pending[k].rows.extend(rows[k])
                    pending[k].vectors.extend(vectors)
            if bar is not None:
                bar.update(len(items) - finished)
            for k, done in enumerate(pending):
                if len(done) >= batch_size or (finished and len(done)):
                    write_shard(k)
    finally:
        stop.set()
        thread.join(timeout=5)


class _Pending:
    """One extractor's results not yet written to a shard."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.vectors: list[np.ndarray] = []
        self.quality: list[np.ndarray] = []
        self.failed: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self.rows) + len(self.failed)

    def clear(self) -> None:
        self.rows.clear()
        self.vectors.clear()
        self.quality.clear()
        self.failed.clear()


def _extract_part(_unused: Any, job: tuple) -> list[tuple[list[int], np.ndarray, list[int], list[str], list[Any]]]:
    """One Dask task: embed a partition with this worker's own extractor instances and cache shards.

    ``job`` is ``(extractors, rows, paths, keys, need, batch_size, cache, part, max_pixels,
    measures)``; it carries only its own images, ``need[k]`` the positions in them that extractor
    ``k`` lacks (None: all) and ``measures[k]`` the names of its quality measures (built on the
    worker from the installed plugins). Each image is read once for every extractor. A rerun of
    the task (its worker died) resumes from the shards it wrote. Returns, per extractor, ``(rows,
    vectors, failed rows, reasons, quality values of the rows)`` in the manifest's row numbers.
    """
    from fairaudit.images.quality import plan_from_names

    extractors, rows, paths, keys, need, batch_size, cache, part, max_pixels, measures = job
    exts = [resolve_extractor(extractor) for extractor in extractors]
    plans = [plan_from_names(names, ext) for names, ext in zip(measures, exts)]
    embeddings: list[dict[int, np.ndarray]] = [{} for _ in exts]
    failures: list[dict[int, str]] = [{} for _ in exts]
    quality: list[dict[int, dict[tuple[str, str], float]]] = [{} for _ in exts]
    stores: list[_ShardStore | None] = []
    try:
        for ext in exts:
            stores.append(_ShardStore(cache, ext, part=part) if cache is not None else None)
        wanted: list[set[int] | None] = []
        for k, store in enumerate(stores):
            if store is not None:
                _load_cached(store, keys, embeddings[k], failures[k], quality[k], plans[k].ids)
            mine = range(len(keys)) if need[k] is None else need[k]
            wanted.append({i for i in mine if i not in embeddings[k] and i not in failures[k]})
        todo = [i for i in range(len(keys)) if any(i in w for w in wanted)]
        _run_pipelines(exts, paths, keys, todo, wanted,
                       batch_size=batch_size, bar=None,
                       on_shard=[store.write if store is not None else (lambda *a: None) for store in stores],
                       embeddings=embeddings, failures=failures, max_pixels=max_pixels,
                       plans=plans, quality=quality)
    finally:
        for store in stores:
            if store is not None:
                store.close()
    out = []
    for ext, emb, fail, values in zip(exts, embeddings, failures, quality):
        done = sorted(emb)
        vectors = (np.stack([emb[i] for i in done]).astype(np.float32) if done
                   else np.empty((0, int(ext.dim)), dtype=np.float32))
        bad = sorted(fail)
        out.append(([rows[i] for i in done], vectors, [rows[i] for i in bad], [fail[i] for i in bad],
                    [values.get(i) for i in done]))
    return out


def _run_distributed(executor: Any, extractor: Any, paths: list[str], keys: list[str], todo: list[int], *,
                     batch_size: int, cache: str | None, bar: Any,
                     embeddings: dict[int, np.ndarray], failures: dict[int, str],
                     max_pixels: int = DEFAULT_MAX_PIXELS, plan: Any = None,
                     quality: dict[int, dict[tuple[str, str], float]] | None = None) -> None:
    """Partition ``todo`` over the cluster's workers; fill ``embeddings``/``failures`` (and ``quality``)
    as parts finish."""
    _run_distributed_many(executor, [extractor], paths, keys, todo, [None], batch_size=batch_size, cache=cache,
                          bar=bar, embeddings=[embeddings], failures=[failures], max_pixels=max_pixels,
                          plans=[plan], quality=[quality if quality is not None else {}])


def _run_distributed_many(executor: Any, extractors: list[Any], paths: list[str], keys: list[str],
                          todo: list[int], need: list[set[int] | None], *, batch_size: int, cache: str | None,
                          bar: Any, embeddings: list[dict[int, np.ndarray]], failures: list[dict[int, str]],
                          max_pixels: int = DEFAULT_MAX_PIXELS, plans: list[Any] | None = None,
                          quality: list[dict[int, dict[tuple[str, str], float]]] | None = None) -> None:
    """Partition ``todo`` over the cluster's workers, every task running every extractor that needs
    its images (``need[k]``: the rows extractor ``k`` lacks, None for all); fill each extractor's
    ``embeddings``/``failures`` as parts finish."""
    import hashlib

    if not todo:
        return
    plans = plans if plans is not None else [None] * len(extractors)
    quality = quality if quality is not None else [{} for _ in extractors]
    measures = [plan.names if plan else [] for plan in plans]
    for extractor in extractors:
        if isinstance(extractor, str):
            continue
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
        part_need = [None if rows_k is None else [i for i, r in enumerate(rows) if r in rows_k] for rows_k in need]
        jobs.append((list(extractors), rows, [paths[r] for r in rows], part_keys, part_need, batch_size, cache, name,
                     max_pixels, measures))
    for results in executor.run(_extract_part, None, jobs):
        n_rows = set()
        for k, (done, vectors, bad, reasons, values) in enumerate(results):
            for r, v, q in zip(done, vectors, values):
                embeddings[k][r] = v
                if q is not None:
                    quality[k][r] = q
            for r, reason in zip(bad, reasons):
                failures[k][r] = reason
            n_rows.update(done)
            n_rows.update(bad)
        if bar is not None:
            bar.update(len(n_rows))
