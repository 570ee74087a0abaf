"""The threshold policy of a verification audit: how the one global threshold is chosen
(:class:`ThresholdPolicy`) and the parser of the ``threshold=`` argument (:func:`parse_threshold`)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from fairaudit.common import errors

#: a fixed threshold that is not a cosine (``--threshold 42``)
THRESHOLD_OUT_OF_RANGE = (
    "threshold={value!r} is not a score threshold: scores are cosine similarities in [-1, 1], so a "
    "fixed threshold must lie in [-1, 1] (a comparison is accepted when score >= threshold). Fix: "
    "pass a threshold in [-1, 1] (threshold=0.35; on the command line --threshold 0.35), or let the "
    "audit choose it: the pooled EER threshold (threshold='eer'; --eer) or the threshold where the "
    "pooled FMR is at most a target (threshold='fmr=1e-3'; --fmr 1e-3)."
)
#: an FMR target outside (0, 1) (``--fmr 5``)
FMR_TARGET_OUT_OF_RANGE = (
    "the FMR target {value!r} must be a number in (0, 1): the share of impostor comparisons the "
    "threshold may accept. Fix: pass e.g. threshold='fmr=1e-3' (on the command line --fmr 1e-3)."
)


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
            raise errors.FairauditInputError(THRESHOLD_OUT_OF_RANGE.format(value=threshold))
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
        raise errors.FairauditInputError(FMR_TARGET_OUT_OF_RANGE.format(value=target)) from None
    if not (0.0 < value < 1.0):
        raise errors.FairauditInputError(FMR_TARGET_OUT_OF_RANGE.format(value=target))
    return ThresholdPolicy("fmr", value)
