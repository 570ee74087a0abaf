"""The randomness of a classification audit: ``random_state`` resolved once to a root seed, the
per-seed child seeds spawned from it, and the independent generators of one seed (test split,
training draws, head seeds). Audits with the same ``random_state`` share their seeds and therefore,
for equivalent strata, their test sets."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from fairaudit.common import errors

BAD_RANDOM_STATE = (
    "random_state={value!r} must be None, an integer >= 0 or a numpy.random.Generator. "
    "Fix: pass e.g. random_state=0."
)


def _resolve_seed(random_state: Any) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    raise errors.FairauditInputError(BAD_RANDOM_STATE.format(value=random_state))


def derive_seeds(random_state: Any, n_seeds: int) -> tuple[int, list[int]]:
    """The resolved root seed and ``n_seeds`` child seeds (``numpy.random.SeedSequence.spawn``).

    Seed ``k`` of an audit depends only on ``random_state`` and ``k``, so
    audits run with the same ``random_state`` share their seeds (and, for
    equivalent strata, their test sets).
    """
    root = _resolve_seed(random_state)
    children = np.random.SeedSequence(root).spawn(int(n_seeds))
    return root, [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


def _seed_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators of one seed: test split, training draws, head seeds."""
    test_ss, train_ss, head_ss = np.random.SeedSequence(seed).spawn(3)
    return (np.random.default_rng(test_ss), np.random.default_rng(train_ss),
            np.random.default_rng(head_ss))
