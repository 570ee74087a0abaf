"""Per-sample labels of an :class:`~fairaudit.data.EmbeddingSet` for a classification audit: the
target attribute(s) checked and combined into one class label per sample, and the group label of
every sample."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from fairaudit.common import errors
from fairaudit.data import EmbeddingSet
from fairaudit.data import make_groups

EMPTY_TARGET = (
    "target must name at least one attribute; got {value!r}. Fix: pass e.g. "
    "target='gender' or target=['gender', 'ethnicity']."
)


def _labels(data: EmbeddingSet, names: tuple[str, ...], *, classes: bool = False) -> np.ndarray:
    """Label of every sample: its group's (or, ``classes=True``, its target class's) unique label."""
    groups = make_groups({n: data.column(n) for n in names}, names)
    labels = groups.class_labels() if classes else groups.labels
    return np.asarray(labels, dtype=object)[groups.codes].astype(str)


def _normalize_target(target: Any, available: Sequence[str]) -> tuple[str, ...]:
    if target is None or (not isinstance(target, str) and len(target) == 0):
        raise errors.FairauditInputError(EMPTY_TARGET.format(value=target))
    names = (target,) if isinstance(target, str) else tuple(target)
    for name in names:
        if not isinstance(name, str) or name not in available:
            raise errors.FairauditInputError(
                errors.UNKNOWN_ATTRIBUTE.format(name="target", value=name, available=list(available)))
    return names
