"""The threshold policy of a verification audit: how the one global threshold is chosen
(:class:`ThresholdPolicy`) and the parser of the ``threshold=`` argument (:func:`parse_threshold`)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from fairaudit.common import errors


@dataclass(frozen=True)
class ThresholdPolicy:
    """How the one global threshold is chosen: ``fixed``, ``eer`` or ``fmr`` (with a target)."""

    kind: str
    value: float | None = None

    def describe(self) -> str:
        if self.kind == "fixed":
            return f"fixed threshold {self.value:g}"
        if self.kind == "eer":
            return "pooled EER threshold"
        return f"threshold where the pooled FMR is at most {self.value:g}"


def parse_threshold(threshold: Any) -> ThresholdPolicy:
    """Turn the ``threshold=`` argument into a :class:`ThresholdPolicy`."""
    if isinstance(threshold, ThresholdPolicy):
        return threshold
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        value = float(threshold)
        if not math.isfinite(value) or not -1.0 <= value <= 1.0:
            raise errors.FairauditInputError(
                errors.BAD_THRESHOLD.format(value=threshold) + " Cosine thresholds lie in [-1, 1]."
            )
        return ThresholdPolicy("fixed", value)
    target: Any = None
    if isinstance(threshold, str):
        text = threshold.strip().lower()
        if text == "eer":
            return ThresholdPolicy("eer")
        for prefix in ("fmr=", "fmr:", "far=", "far:"):
            if text.startswith(prefix):
                target = text[len(prefix):]
                break
        else:
            raise errors.FairauditInputError(errors.BAD_THRESHOLD.format(value=threshold))
    elif isinstance(threshold, dict) and len(threshold) == 1:
        key, target = next(iter(threshold.items()))
        if str(key).lower() not in ("fmr", "far"):
            raise errors.FairauditInputError(errors.BAD_THRESHOLD.format(value=threshold))
    else:
        raise errors.FairauditInputError(errors.BAD_THRESHOLD.format(value=threshold))
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise errors.FairauditInputError(errors.BAD_FMR_TARGET.format(value=target)) from None
    if not 0.0 < value < 1.0:
        raise errors.FairauditInputError(errors.BAD_FMR_TARGET.format(value=target))
    return ThresholdPolicy("fmr", value)
