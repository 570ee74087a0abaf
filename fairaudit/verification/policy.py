"""The threshold policy of a verification audit: how the one global threshold is chosen
(:class:`ThresholdPolicy`) and the parser of the ``threshold=`` argument (:func:`parse_threshold`)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
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


#: ``far=`` is not an FMR target
FAR_IS_NOT_FMR = (
    "threshold={value!r} names FAR, but the threshold policy targets FMR. In ISO/IEC 19795-1 the FAR "
    "is a system-level rate that folds in failures to acquire (FAR = FMR x (1 - FTA)), not another "
    "name for the FMR of comparisons. Fix: pass threshold='fmr={target}' (on the command line "
    "--fmr {target}); the audit reports FAR beside FMR where the data records failures to acquire."
)
#: a reference group the data does not have
UNKNOWN_REFERENCE_GROUP = (
    "threshold group={value!r} is not a group of this audit; its groups are {labels}. Fix: name one "
    "of them exactly as listed (by=[...] order, values joined by ' & '), or a tuple of its values."
)
#: a key the threshold dict does not know
BAD_THRESHOLD_KEYS = (
    "threshold={value!r} has the key(s) {keys}; a threshold dict is {{'fmr': target}} or {{'fmr': "
    "target, 'group': reference group}}. Fix: pass one of these."
)
#: a previous result that is not a verification result
BAD_PREVIOUS_RESULT = (
    "threshold={value!r} is not a verification result ({what}). A threshold chosen on a development "
    "set is passed as the VerificationResult of that audit, or the path of its JSON file (a .json "
    "file written by result.to_json or `fairaudit verify --json`). Fix: pass one of these."
)


@dataclass(frozen=True)
class ThresholdPolicy:
    """How the one global threshold is chosen: ``fixed``, ``eer`` or ``fmr`` (with a target).

    ``group`` (``fmr`` only): the threshold meets the target on that reference group's impostor
    comparisons, and every group is judged at it. ``source`` (``fixed`` only): where a fixed
    threshold came from when it was chosen by a previous audit (a development set), as recorded
    in the result: ``{"from": "result", "path": ..., "policy": ..., "threshold": ...}``."""

    kind: str
    value: float | None = None
    group: str | None = None
    source: dict | None = field(default=None, compare=False)

    def describe(self) -> str:
        if self.kind == "fixed":
            if self.source:
                where = f" ({self.source['path']})" if self.source.get("path") else ""
                return (f"fixed threshold {self.value:g}, chosen by a previous audit{where}: "
                        f"{self.source.get('policy') or 'its threshold'}")
            return f"fixed threshold {self.value:g}"
        if self.kind == "eer":
            return "pooled EER threshold"
        if self.group is not None:
            return f"threshold where the FMR of reference group {self.group!r} is at most {self.value:g}"
        return f"threshold where the pooled FMR is at most {self.value:g}"

    def as_dict(self) -> dict:
        """The form results record (``result.policy``)."""
        out = {"kind": self.kind, "value": self.value, "description": self.describe()}
        if self.group is not None:
            out["group"] = self.group
        if self.source is not None:
            out["source"] = dict(self.source)
        return out


def short_policy(policy: dict | None, threshold: float) -> str:
    """A short phrase for titles and tables: ``at FMR 1e-3 (threshold 0.512)``, ``at FMR 1e-3 on
    'B & H' (threshold 0.512)``, ``at threshold 0.512 from a previous audit``, ..."""
    policy = policy or {}
    thr = f"{threshold:.4g}"
    kind = policy.get("kind")
    if kind == "fmr":
        on = f" on {policy['group']!r}" if policy.get("group") is not None else ""
        return f"at FMR {policy['value']:g}{on} (threshold {thr})"
    if kind == "eer":
        return f"at the pooled EER threshold ({thr})"
    if kind == "fpir":
        return f"at FPIR {policy['value']:g} (threshold {thr})"
    if policy.get("source"):
        return f"at threshold {thr} from a previous audit"
    return f"at threshold {thr}"


def _from_previous(threshold: Any) -> ThresholdPolicy | None:
    """A fixed policy from a previous verification result (or its JSON path); None when
    ``threshold`` is neither."""
    from pathlib import Path

    path = None
    if isinstance(threshold, Path) or (isinstance(threshold, str) and threshold.lower().endswith(".json")):
        path = Path(threshold)
        if not path.is_file():
            raise errors.FairauditInputError(BAD_PREVIOUS_RESULT.format(value=str(threshold),
                                                                        what="no such file"))
        from fairaudit.verification.result import VerificationResult

        try:
            previous = VerificationResult.from_json(path)
        except (errors.FairauditInputError, ValueError, KeyError, TypeError, OSError) as exc:
            what = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise errors.FairauditInputError(BAD_PREVIOUS_RESULT.format(value=str(threshold), what=what)) from None
    elif getattr(threshold, "kind", None) == "verification" and hasattr(threshold, "threshold"):
        previous = threshold
    elif hasattr(threshold, "threshold") and hasattr(threshold, "kind"):
        raise errors.FairauditInputError(BAD_PREVIOUS_RESULT.format(
            value=type(threshold).__name__, what=f"a {threshold.kind} result"))
    else:
        return None
    value = float(previous.threshold)
    if not math.isfinite(value):
        raise errors.FairauditInputError(BAD_PREVIOUS_RESULT.format(value=str(threshold), what="its threshold is not finite"))
    policy = previous.policy or {}
    source = {"from": "result", "path": None if path is None else str(path),
              "policy": policy.get("description"), "threshold": value,
              "by": list(getattr(previous, "by", ()) or ()),
              "created": (getattr(previous, "provenance", None) or {}).get("created")}
    return ThresholdPolicy("fixed", value, source=source)


def parse_threshold(threshold: Any) -> ThresholdPolicy:
    """Turn the ``threshold=`` argument into a :class:`ThresholdPolicy`: a number, ``"eer"``,
    ``"fmr=1e-3"`` / ``{"fmr": 1e-3}``, ``{"fmr": 1e-3, "group": "B & H"}`` (a reference group),
    or a previous :class:`~fairaudit.verification.result.VerificationResult` (or the path of its
    JSON) whose threshold is applied as it is (a development set's threshold on an evaluation set)."""
    if isinstance(threshold, ThresholdPolicy):
        return threshold
    previous = _from_previous(threshold)
    if previous is not None:
        return previous
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        value = float(threshold)
        if not math.isfinite(value) or not -1.0 <= value <= 1.0:
            raise errors.FairauditInputError(THRESHOLD_OUT_OF_RANGE.format(value=threshold))
        return ThresholdPolicy("fixed", value)
    target: Any = None
    group = None
    if isinstance(threshold, str):
        text = threshold.strip().lower()
        if text == "eer":
            return ThresholdPolicy("eer")
        for prefix in ("fmr=", "fmr:"):
            if text.startswith(prefix):
                target = text[len(prefix):]
                break
        else:
            if text.startswith(("far=", "far:")):
                raise errors.FairauditInputError(FAR_IS_NOT_FMR.format(value=threshold, target=text[4:]))
            raise errors.FairauditInputError(errors.BAD_THRESHOLD.format(value=threshold))
    elif isinstance(threshold, dict) and threshold:
        keys = {str(k).lower(): k for k in threshold}
        if "far" in keys:
            raise errors.FairauditInputError(FAR_IS_NOT_FMR.format(value=threshold, target=threshold[keys["far"]]))
        if "fmr" not in keys or set(keys) - {"fmr", "group"}:
            raise errors.FairauditInputError(BAD_THRESHOLD_KEYS.format(value=threshold, keys=sorted(map(str, threshold))))
        target = threshold[keys["fmr"]]
        if "group" in keys:
            group = threshold[keys["group"]]
            if isinstance(group, (tuple, list)):
                group = tuple(str(v) for v in group)
            elif not isinstance(group, str) or not group:
                raise errors.FairauditInputError(UNKNOWN_REFERENCE_GROUP.format(value=group, labels="(see by_group)"))
    else:
        raise errors.FairauditInputError(errors.BAD_THRESHOLD.format(value=threshold))
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise errors.FairauditInputError(FMR_TARGET_OUT_OF_RANGE.format(value=target)) from None
    if not (0.0 < value < 1.0):
        raise errors.FairauditInputError(FMR_TARGET_OUT_OF_RANGE.format(value=target))
    return ThresholdPolicy("fmr", value, group=group)


def resolve_reference_group(group: str | tuple, labels: list[str], keys: list[tuple[str, ...]]) -> int:
    """Index of the reference group named by its label (``"B & H"``) or its tuple of values."""
    for g, (label, key) in enumerate(zip(labels, keys)):
        if group == label or (isinstance(group, tuple) and tuple(group) == tuple(key)):
            return g
        if isinstance(group, str) and len(key) == 1 and group == key[0]:
            return g
    shown = ", ".join(repr(x) for x in labels) or "(none)"
    raise errors.FairauditInputError(UNKNOWN_REFERENCE_GROUP.format(value=group, labels=shown))
