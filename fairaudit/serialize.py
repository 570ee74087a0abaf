"""JSON-safe conversion of result tables: NaN becomes null, numpy scalars become Python."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd


def to_jsonable(value: Any) -> Any:
    """Recursively convert numpy/pandas values to plain JSON types (NaN/inf -> None)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return frame_to_dict(value)
    if isinstance(value, pd.Series):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is pd.NA or value is None:
        return None
    return value


def frame_to_dict(frame: pd.DataFrame) -> dict[str, Any]:
    """A DataFrame as ``{"index": [names], "columns": [...], "data": [[...], ...]}``.

    Index levels become leading columns so that a MultiIndex survives the
    round trip through :func:`frame_from_dict`.
    """
    names = [n for n in frame.index.names if n is not None]
    flat = frame.reset_index() if names else frame.reset_index(drop=True)
    return {
        "index": names,
        "columns": [str(c) for c in flat.columns],
        "data": [[to_jsonable(v) for v in row] for row in flat.itertuples(index=False)],
    }


def frame_from_dict(data: dict[str, Any]) -> pd.DataFrame:
    """Inverse of :func:`frame_to_dict` (None becomes NaN in numeric columns)."""
    frame = pd.DataFrame(data["data"], columns=data["columns"])
    for column in frame.columns:
        present = [v for v in frame[column] if v is not None]
        # a column of numbers with some nulls arrives as objects: make it float again
        if frame[column].dtype == object and present and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in present
        ):
            frame[column] = pd.to_numeric(frame[column])
    if data.get("index"):
        frame = frame.set_index(data["index"])
    return frame


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(to_jsonable(value), allow_nan=False, **kwargs)
