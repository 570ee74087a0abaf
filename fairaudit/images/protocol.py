"""The extractor protocol: a registered name resolved to an instance, an object checked to have
the protocol, and what its ``embed`` returns checked before anything is cached or compared."""

from __future__ import annotations

from typing import Any

import numpy as np

from fairaudit import plugins
from fairaudit.common.errors import FairauditInputError

NOT_AN_EXTRACTOR = (
    "extractor={value!r} is not an extractor: it lacks {missing}. An extractor has the attributes "
    "'name' (str) and 'dim' (int > 0) and the methods detect_and_align(image) and embed(chips). "
    "Fix: pass a registered name ({available}) or an object with that protocol."
)
BAD_EMBED_OUTPUT = (
    "extractor {name!r}: embed() of {n} chip(s) returned {what}; expected a finite numeric array "
    "of shape ({n}, {dim}) without zero rows (first image of the batch: {path!r}). Fix: correct "
    "the extractor's embed()."
)


def resolve_extractor(extractor: Any, *, argument: str = "extractor") -> Any:
    """A registered name (built with default options) or an instance, checked for the protocol.

    Raises
    ------
    FairauditInputError
        For an unknown name (the message lists the registered ones) or an
        object lacking part of the protocol.
    """
    if isinstance(extractor, str):
        extractor = plugins.get("extractor", extractor, argument=argument).build()
    missing = []
    if not isinstance(getattr(extractor, "name", None), str):
        missing.append("'name' (str)")
    dim = getattr(extractor, "dim", None)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim < 1:
        missing.append("'dim' (int > 0)")
    for method in ("detect_and_align", "embed"):
        if not callable(getattr(extractor, method, None)):
            missing.append(f"{method}()")
    if missing:
        raise FairauditInputError(NOT_AN_EXTRACTOR.format(
            value=extractor, missing=", ".join(missing),
            available=", ".join(plugins.available("extractor")) or "none"))
    return extractor


def _embed(extractor: Any, chips: list[Any], paths: list[str]) -> np.ndarray:
    """Call ``extractor.embed`` and check what comes back before anything is cached."""
    dim = int(extractor.dim)
    out = extractor.embed(chips)
    try:
        arr = np.asarray(out, dtype=np.float32)
    except (TypeError, ValueError):
        arr = None
    what = None
    if arr is None:
        what = f"a {type(out).__name__} that is not a numeric array"
    elif arr.shape != (len(chips), dim):
        what = f"an array of shape {arr.shape}"
    elif not np.isfinite(arr).all():
        what = "an array with NaN or inf"
    elif (np.abs(arr).max(axis=1) == 0).any():
        what = "an array with an all-zero row"
    if what is not None:
        raise FairauditInputError(BAD_EMBED_OUTPUT.format(
            name=extractor.name, n=len(chips), what=what, dim=dim, path=paths[0]))
    return arr
