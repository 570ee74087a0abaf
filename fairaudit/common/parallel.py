"""Run independent CPU-bound Python work (drawing figures) on several cores by forking.

Matplotlib draws in Python, under the GIL: threads do not help, and its figures, built from
closures over results, do not pickle. A forked child inherits everything instead: it runs its share
of the work and sends back only the (picklable) outputs. Where ``fork`` is missing (Windows) or one
core is all there is, the work runs here, in order; the outputs are the same either way.
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings
from typing import Any, Callable, Sequence

#: most processes :func:`fork_map` uses
MAX_WORKERS = 4


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def forking_allowed() -> bool:
    """Whether :func:`fork_map` may fork: POSIX, not inside a Jupyter kernel (whose threads own
    sockets a child would share) and not turned off with ``FAIRAUDIT_FORK=0``."""
    if not hasattr(os, "fork") or sys.platform == "win32":
        return False
    if os.environ.get("FAIRAUDIT_FORK", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return "ipykernel" not in sys.modules


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def fork_map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int | None = None) -> list[Any]:
    """``[fn(item) for item in items]``, the items dealt round-robin to ``workers`` processes (this
    one and forked children; default: the cores, at most :data:`MAX_WORKERS`).

    ``fn`` should catch its own errors (an exception in a child is raised here as a RuntimeError
    naming it); outputs must pickle. Children never return: they leave with ``os._exit``.
    """
    items = list(items)
    n = min(len(items), cpu_count() if workers is None else max(1, int(workers)), MAX_WORKERS)
    if n <= 1 or not forking_allowed():
        return [fn(item) for item in items]
    out: list[Any] = [None] * len(items)
    children = []
    for w in range(1, n):
        read, write = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12+ warns on fork in a process with threads (BLAS keeps some idle): the child
            # only draws figures and writes to its pipe
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: its share, then leave without running any cleanup of the parent
            code = 0
            try:
                os.close(read)
                done = []
                for k in range(w, len(items), n):
                    try:
                        done.append((k, True, fn(items[k])))
                    except BaseException as exc:  # noqa: BLE001 - reported to the parent
                        done.append((k, False, f"{type(exc).__name__}: {exc}"))
                payload = pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(payload)
                while view:
                    view = view[os.write(write, view):]
                os.close(write)
            except BaseException:  # noqa: BLE001
                code = 1
            finally:
                os._exit(code)
        os.close(write)
        children.append((pid, read))
    for k in range(0, len(items), n):
        out[k] = fn(items[k])
    failures = []
    for w, (pid, read) in enumerate(children, start=1):
        payload = _read_all(read)
        os.close(read)
        os.waitpid(pid, 0)
        if not payload:  # the child died (killed, out of memory): its share is done here instead
            for k in range(w, len(items), n):
                out[k] = fn(items[k])
            continue
        # our own child's bytes through a pipe, never a file's
        for k, ok, value in pickle.loads(payload):
            if ok:
                out[k] = value
            else:
                failures.append(value)
    if failures:
        raise RuntimeError("; ".join(failures))
    return out
