"""``random_state``: checked and resolved once, at the public boundary (scikit-learn's convention)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from fairaudit.common.errors import FairauditInputError

BAD_RANDOM_STATE = (
    "random_state={value!r} must be None, an integer >= 0 or a numpy.random.Generator. "
    "Fix: pass e.g. random_state=0."
)


def resolve_rng(random_state: Any, *, name: str = "random_state") -> np.random.Generator:
    """A Generator from None, a non-negative int or a Generator (returned as it is); anything else
    raises :class:`FairauditInputError` naming the value."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    ok_int = isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_))
    if random_state is None or (ok_int and int(random_state) >= 0):
        return np.random.default_rng(None if random_state is None else int(random_state))
    message = BAD_RANDOM_STATE.format(value=random_state)
    if name != "random_state":
        message = message.replace("random_state=", f"{name}=", 1)
    raise FairauditInputError(message)
