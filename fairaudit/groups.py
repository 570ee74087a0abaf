"""Turning ``by=`` (one attribute or several) into integer group codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from . import errors

#: label of the pooled population in tidy tables
POOLED = "all"
#: separator of attribute values in the label of an intersectional group
LABEL_SEP = " & "


def normalize_by(by: str | Sequence[str] | None, available: Sequence[str]) -> tuple[str, ...]:
    """Validate ``by`` against the available attribute names and return it as a tuple."""
    if by is None or (not isinstance(by, str) and len(by) == 0):
        raise errors.FairauditInputError(errors.EMPTY_BY.format(value=by))
    names = (by,) if isinstance(by, str) else tuple(by)
    for name in names:
        if not isinstance(name, str) or name not in available:
            raise errors.FairauditInputError(
                errors.UNKNOWN_ATTRIBUTE.format(name="by", value=name, available=list(available))
            )
    return names


@dataclass(frozen=True, eq=False)
class Groups:
    """Group membership of a set of samples (or identities).

    Attributes
    ----------
    by : tuple of str
        The attribute names that define the groups.
    codes : ndarray of int
        Group code of every row, in ``0 .. n_groups - 1``.
    values : DataFrame
        One row per group code, one column per attribute in ``by``.
    """

    by: tuple[str, ...]
    codes: np.ndarray
    values: pd.DataFrame

    @property
    def n_groups(self) -> int:
        return len(self.values)

    @property
    def labels(self) -> list[str]:
        """Readable label of every group (``'A'``, or ``'H & A'`` for intersections)."""
        return [LABEL_SEP.join(str(v) for v in row) for row in self.values.itertuples(index=False)]

    @property
    def index(self) -> pd.Index:
        """Index of per-group tables: an Index for one attribute, a MultiIndex for several."""
        if len(self.by) == 1:
            return pd.Index(self.values[self.by[0]].to_numpy(), name=self.by[0])
        return pd.MultiIndex.from_frame(self.values)


def make_groups(columns: dict[str, np.ndarray], by: tuple[str, ...]) -> Groups:
    """Encode the combination of the ``by`` columns as sorted integer group codes."""
    frame = pd.DataFrame({name: np.asarray(columns[name]).astype(str) for name in by})
    # ngroup numbers the groups in sorted key order, the same order as `values`
    codes = frame.groupby(list(by), sort=True).ngroup().to_numpy(dtype=np.int64)
    values = frame.drop_duplicates().sort_values(list(by)).reset_index(drop=True)
    return Groups(by=by, codes=codes, values=values)
