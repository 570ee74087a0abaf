"""How many threads BLAS and OpenMP may use inside fairaudit's model fitting.

The classification heads, the demographic probe and t-SNE solve many small
problems. On the 2-core machines fairaudit is benchmarked on, multi-threaded
OpenBLAS and libgomp (scikit-learn's OpenMP) lost badly whenever the cores
were shared with anything else: their threads spin at barriers, so a t-SNE of
240 points took 9-30 s with two OpenMP threads and 1.7 s with one, and a
logistic regression on 3,000 x 2,048 embeddings 3 s instead of 0.4 s. One
thread is predictable everywhere, so it is the default.

Set the environment variable ``FAIRAUDIT_NUM_THREADS`` to another number to
allow more threads, or to ``0`` to leave the libraries' own settings alone.
TensorFlow's thread pools are not affected.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

#: environment variable that overrides the thread limit (0 = no limit)
ENV_VAR = "FAIRAUDIT_NUM_THREADS"
BAD_THREADS = "{env}={value!r} must be an integer (0 = no limit). Fix: set e.g. {env}=1."


def thread_limit() -> int | None:
    """The configured limit: an int >= 1, or None for no limit (``FAIRAUDIT_NUM_THREADS=0``)."""
    raw = os.environ.get(ENV_VAR, "1").strip()
    try:
        value = int(raw)
    except ValueError:
        from fairaudit.common import errors

        raise errors.FairauditInputError(BAD_THREADS.format(env=ENV_VAR, value=raw)) from None
    return None if value <= 0 else value


@contextlib.contextmanager
def limited_threads() -> Iterator[None]:
    """Run the body with BLAS and OpenMP limited to :func:`thread_limit` threads."""
    limit = thread_limit()
    if limit is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit):
        yield
