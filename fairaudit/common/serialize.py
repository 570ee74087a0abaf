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
        out = []
        for v in value:  # plain values inline: tables reach here as long lists of rows
            t = type(v)
            if t is str or t is int or t is bool or v is None:
                out.append(v)
            elif t is float:
                out.append(v if math.isfinite(v) else None)
            else:
                out.append(to_jsonable(v))
        return out
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
    # column by column (vectorised), then row by row: the same values as to_jsonable of each cell
    columns = [_column_values(flat.iloc[:, k]) for k in range(flat.shape[1])]
    return {
        "index": names,
        "columns": [str(c) for c in flat.columns],
        "columns_name": frame.columns.name,
        "dtypes": {str(c): str(t) for c, t in flat.dtypes.items()},
        "data": [list(row) for row in zip(*columns)] if columns else [[] for _ in range(len(flat))],
    }


def _column_values(column: pd.Series) -> list[Any]:
    """The JSON values of one column: numbers as Python numbers, NaN and infinities as None."""
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else ""
    if kind == "f":
        values = column.to_numpy()
        out = values.tolist()
        bad = np.flatnonzero(~np.isfinite(values))
        for k in bad.tolist():
            out[k] = None
        return out
    if kind and kind in "iub":
        return column.to_numpy().tolist()
    values = column.tolist()
    if all(type(v) is str for v in values):  # labels: nothing to convert
        return values
    return [to_jsonable(v) for v in values]


def frame_from_dict(data: dict[str, Any]) -> pd.DataFrame:
    """Inverse of :func:`frame_to_dict` (None becomes NaN in numeric columns)."""
    frame = pd.DataFrame(data["data"], columns=data["columns"])
    dtypes = data.get("dtypes", {})
    for column in frame.columns:
        kind = dtypes.get(column, "")
        # JSON has no NaN: numeric columns come back with None where NaN was
        if kind.startswith(("float", "int", "uint")):
            values = pd.to_numeric(frame[column].astype(object).where(frame[column].notna(), np.nan))
            if kind.startswith("float") or values.isna().any():
                frame[column] = values.astype(np.float64)
            else:
                frame[column] = values.astype(kind)
        elif kind == "bool":
            frame[column] = frame[column].astype(bool)
    if data.get("index"):
        frame = frame.set_index(data["index"])
    frame.columns.name = data.get("columns_name")
    return frame


def dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(to_jsonable(value), allow_nan=False, **kwargs)
