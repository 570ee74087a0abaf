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
BAD_PROGRESS = "progress={value!r} must be None (a bar only on a terminal), True or False. Fix: pass one of them."


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
    """The failure-row reason of an :class:`~fairaudit.images.ImageReadError`."""
    from fairaudit.images.errors import ImageDamagedError, ImageTooLargeError

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
