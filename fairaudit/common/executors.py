"""Run the verification engine's tasks on a Dask cluster.

The single-process engine and this one run the same task code
(:func:`fairaudit.verification.tiles._pass1_task` and ``_pass2_task``) on the same tiles,
with one BLAS thread each, and the results are integer counts (plus exact
genuine scores put back in tile order), so the two give identical results, bit
for bit.

What goes over the network: each task carries its tile bounds, the identity
codes of its diagonal tile and the path of the sorted embeddings file (a
``.npy`` every worker reads its blocks from); each result is a few
histograms (only their non-zero span) and, for diagonal tiles, the exact
genuine scores. Impostor scores never leave the worker that computed them.

A task has no dependencies and reads its input from the file, so when a
worker dies Dask reruns its tasks elsewhere; every task's result is added
exactly once, when the client receives it, so nothing is counted twice.

``dask.distributed`` is imported only here, and only when a scheduler is asked
for: ``pip install fairaudit[dask]``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from typing import Any, Callable, Iterator

from fairaudit.common.errors import FairauditInputError
from fairaudit.common.parallel import cpu_count

SCHEDULER_HELP = (
    "Fix: pass a dask.distributed.Client, a scheduler address such as 'tcp://host:8786', 'threads' or "
    "'processes' (a local cluster), or leave scheduler=None for the single-process engine."
)


def _distributed():
    try:
        import distributed
    except ImportError:
        raise FairauditInputError(
            "scheduler=... needs dask.distributed, which is not installed. Fix: pip install 'fairaudit[dask]'."
        ) from None
    return distributed


class DaskExecutor:
    """Runs engine tasks on a ``dask.distributed`` client; results are yielded as they finish."""

    needs_file = True

    def __init__(self, client: Any, *, pairs_per_task: int = 16):
        self.client = client
        self.pairs_per_task = int(pairs_per_task)

    def run(self, fn: Callable, rows: Any, tasks: list, *args: Any) -> Iterator:
        distributed = _distributed()
        if not tasks:
            return
        run_id = uuid.uuid4().hex[:12]
        name = fn.__name__.strip("_")
        futures = [
            self.client.submit(fn, rows, task, *args, key=f"fairaudit-{name}-{run_id}-{k}", pure=False)
            for k, task in enumerate(tasks)
        ]
        try:
            for future in distributed.as_completed(futures):
                result = future.result()
                future.release()
                yield result
        finally:
            for future in futures:
                future.release()

    def check_readable(self, path: str) -> None:
        """Every worker must see the sorted embeddings file; say how to fix it when one cannot."""
        seen = self.client.run(os.path.exists, path)
        blind = sorted(worker for worker, ok in seen.items() if not ok)
        if blind:
            raise FairauditInputError(
                f"scratch_dir: worker(s) {blind[:3]} cannot read {path!r}, the sorted embeddings file the "
                "tasks read their blocks from. Fix: pass scratch_dir= a directory on a filesystem every "
                "worker mounts at the same path."
            )


def _check_workers(workers: Any) -> int | None:
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise FairauditInputError(
            f"workers={workers!r} is not a positive integer. Fix: pass the number of local Dask workers, "
            "e.g. workers=2."
        )
    return workers


@contextlib.contextmanager
def executor_for(scheduler: Any, workers: int | None = None, *,
                 pairs_per_task: int = 16) -> Iterator[DaskExecutor | None]:
    """The executor for ``scheduler`` (and ``workers``), closed on exit if created here.

    ``scheduler`` is None with ``workers`` None (yield None: the single-process
    engine), a ``dask.distributed.Client``, a scheduler address, ``"threads"``
    (one local worker with ``workers`` threads) or ``"processes"`` (``workers``
    local worker processes of one thread each). ``workers`` alone means
    ``"processes"``.
    """
    workers = _check_workers(workers)
    if scheduler is None and workers is None:
        yield None
        return
    if scheduler is None:
        scheduler = "processes"
    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        if isinstance(scheduler, distributed.Client):
            if workers is not None:
                raise FairauditInputError(
                    f"workers={workers} cannot resize an existing Client. Fix: scale your cluster "
                    "yourself, or pass scheduler='processes' with workers=K."
                )
            client = scheduler
        elif scheduler in ("threads", "processes"):
            n = workers or cpu_count()
            if scheduler == "threads":
                from threadpoolctl import threadpool_limits

                # tasks run in this process: one BLAS thread each, as in every engine
                stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
                options = dict(n_workers=1, threads_per_worker=n, processes=False)
            else:
                options = dict(n_workers=n, threads_per_worker=1, processes=True)
            cluster = stack.enter_context(distributed.LocalCluster(dashboard_address=":0", **options))
            client = stack.enter_context(distributed.Client(cluster))
        elif isinstance(scheduler, str) and ("://" in scheduler or ":" in scheduler):
            if workers is not None:
                raise FairauditInputError(
                    f"workers={workers} cannot resize the cluster at {scheduler!r}. Fix: leave workers "
                    "unset with a scheduler address."
                )
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout="20s"))
            except (OSError, TimeoutError) as exc:
                raise FairauditInputError(
                    f"scheduler={scheduler!r}: cannot connect ({exc}). Fix: check the address and that "
                    "the scheduler is running ('dask scheduler' prints its address)."
                ) from None
        else:
            raise FairauditInputError(f"scheduler={scheduler!r} is not understood. {SCHEDULER_HELP}")
        yield DaskExecutor(client, pairs_per_task=pairs_per_task)


@contextlib.contextmanager
def scratch_directory(scratch_dir: str | os.PathLike | None) -> Iterator[str]:
    """A fresh directory for the sorted embeddings file, removed on exit (inside ``scratch_dir`` if given)."""
    if scratch_dir is not None and not os.path.isdir(scratch_dir):
        raise FairauditInputError(
            f"scratch_dir={str(scratch_dir)!r} is not a directory. Fix: create it, or leave scratch_dir unset "
            "to use the system's temporary directory."
        )
    path = tempfile.mkdtemp(prefix="fairaudit-", dir=None if scratch_dir is None else str(scratch_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
