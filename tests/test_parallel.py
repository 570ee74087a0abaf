"""fork_map: the same outputs as a loop, whatever the processes do."""

from __future__ import annotations

import os
import signal

import pytest

from fairaudit.common import parallel


def test_fork_map_equals_a_loop_in_order():
    items = list(range(23))
    assert parallel.fork_map(lambda x: (x, x * x, "s" * x), items, workers=3) == [(x, x * x, "s" * x) for x in items]
    assert parallel.fork_map(lambda x: x, [], workers=3) == []
    assert parallel.fork_map(lambda x: -x, [5], workers=3) == [-5]


def test_fork_map_runs_in_other_processes():
    pids = set(parallel.fork_map(lambda _: os.getpid(), range(8), workers=2))
    if parallel.cpu_count() >= 2 and hasattr(os, "fork"):
        assert len(pids) == 2 and os.getpid() in pids


def test_a_dead_child_s_share_is_done_here():
    me = os.getpid()

    def work(x):
        if x % 2 == 1 and os.getpid() != me:
            os.kill(os.getpid(), signal.SIGKILL)  # dies like the OOM killer would kill it
        return x + 100

    assert parallel.fork_map(work, range(6), workers=2) == [x + 100 for x in range(6)]


def test_an_error_in_a_child_is_raised_with_its_message():
    def work(x):
        if x == 3:
            raise ValueError("bad item 3")
        return x

    with pytest.raises((RuntimeError, ValueError), match="bad item 3"):
        parallel.fork_map(work, range(6), workers=2)
