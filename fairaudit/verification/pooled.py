"""The pooled-only verification audit (``by=None``): the pooled figures, and no group.

The audit runs on the data with one constant group (every identity in it), and the result keeps only
what describes the pooled population: ``overall``, the pooled curves and histograms, the threshold.
The per-group tables keep their columns and have no row, so code that reads them (the report, JSON)
works unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
import pandas as pd

from fairaudit.data import POOLED, EmbeddingSet

#: the constant attribute of the one internal group (never visible in a result)
_ATTRIBUTE = "__fairaudit_pooled__"


def _with_constant_attribute(data: Any) -> Any:
    from fairaudit.data import ScoreSet

    if isinstance(data, EmbeddingSet):
        attributes = data.attributes.copy()
        attributes[_ATTRIBUTE] = _ATTRIBUTE
        return EmbeddingSet(data.embeddings, identity=data.identity, attributes=attributes, path=data.path,
                            failures=data.failures, value_labels=data.value_labels, metadata=data.metadata)
    if isinstance(data, ScoreSet):
        table = data.table.copy()
        table[f"{_ATTRIBUTE}_a"] = _ATTRIBUTE
        table[f"{_ATTRIBUTE}_b"] = _ATTRIBUTE
        return ScoreSet(table, attributes=[*data.attribute_names, _ATTRIBUTE])
    return data  # the audit rejects it with its own message


def _empty_matrix() -> pd.DataFrame:
    index = pd.Index([], name="group", dtype=object)
    return pd.DataFrame(np.zeros((0, 0)), index=index, columns=index.copy())


def pooled_only_audit(data: Any, *, audit: Callable[..., Any], **options: Any) -> Any:
    """Run ``audit`` (the verification audit) with no group: see the module docstring."""
    result = audit(_with_constant_attribute(data), by=_ATTRIBUTE, **options)
    changes: dict[str, Any] = {
        "by": (),
        "by_group": result.by_group.iloc[:0].rename_axis(index=None),
        "cross_fmr": _empty_matrix(),
        "cross_impostor": _empty_matrix().astype(np.int64),
        "curves": result.curves[result.curves["group"] == POOLED].reset_index(drop=True),
        "histograms": result.histograms[result.histograms["group"] == POOLED].reset_index(drop=True),
        "fairness": result.fairness.iloc[:0],
        "params": {**result.params, "by": []},
        # notes on groups and group comparisons do not apply
        "notes": [note for note in result.notes
                  if _ATTRIBUTE not in note and "permutation" not in note and "group comparisons" not in note]
        + ["by=None: a pooled-only audit; no group is compared."],
    }
    if getattr(result, "comparisons", None) is not None:
        changes["comparisons"] = result.comparisons.iloc[:0]
    return dataclasses.replace(result, **changes)
