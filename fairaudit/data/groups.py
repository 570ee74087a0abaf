"""Turning ``by=`` (one attribute or several) into integer group codes and display labels.

A group is keyed by the tuple of its attribute values, never by its label: the
label is only a rendering for tables, plots and reports. Labels are made
unique: normally the values joined by ``" & "`` (``"A"``, ``"H & A"``), but
when two groups would render alike (``("a", "b & c")`` and ``("a & b", "c")``)
or a group would render like the pooled population's label ``"all"``, every
value is quoted instead (``'"a" & "b & c"'``, ``'"all"'``), which no two
distinct groups and not the pooled label can share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors

#: label of the pooled population in tidy tables; no group's label can equal it
POOLED = "all"
#: separator of attribute values in the label of an intersectional group
LABEL_SEP = " & "

BY_NOT_NAMES = (
    "by={value!r} is not an attribute name or a list of attribute names. Fix: pass by='ethnicity' or "
    "by=['gender', 'ethnicity']; available attributes: {available}."
)
BY_DUPLICATE = "by={value!r} names {name!r} twice. Fix: name each attribute once."


def normalize_by(by: Any, available: Sequence[str]) -> tuple[str, ...]:
    """Validate ``by`` against the available attribute names and return it as a tuple."""
    if by is None or (isinstance(by, (list, tuple)) and len(by) == 0) or (isinstance(by, str) and by == ""):
        raise errors.FairauditInputError(errors.EMPTY_BY.format(value=by))
    if isinstance(by, str):
        names: tuple[Any, ...] = (by,)
    elif isinstance(by, (list, tuple, pd.Index, np.ndarray)):
        names = tuple(by)
    else:
        raise errors.FairauditInputError(BY_NOT_NAMES.format(value=by, available=list(available)))
    for name in names:
        if not isinstance(name, str) or name not in available:
            raise errors.FairauditInputError(
                errors.UNKNOWN_ATTRIBUTE.format(name="by", value=name, available=list(available))
            )
    for name in names:
        if names.count(name) > 1:
            raise errors.FairauditInputError(BY_DUPLICATE.format(value=by, name=name))
    return names


def render_labels(rows: Sequence[tuple[str, ...]], *, reserved: Sequence[str] = (POOLED,)) -> list[str]:
    """Unique display labels of groups given by their value tuples (see the module docstring).

    ``reserved`` are labels the results use themselves (the pooled population's);
    class labels of a classification target, which are never pooled, pass ``()``.
    """
    plain = [LABEL_SEP.join(row) for row in rows]
    if len(set(plain)) == len(plain) and not set(reserved) & set(plain):
        return plain
    # json.dumps quotes and escapes, so the quoted rendering is one-to-one and never equals POOLED
    return [LABEL_SEP.join(json.dumps(v, ensure_ascii=False) for v in row) for row in rows]


def labels_of(keys: Sequence[Any]) -> list[str]:
    """Display labels of table index entries (a value, or a tuple of values for intersections)."""
    return render_labels([tuple(str(v) for v in k) if isinstance(k, tuple) else (str(k),) for k in keys])


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
    def keys(self) -> list[tuple[str, ...]]:
        """The value tuple of every group: what identifies a group."""
        return [tuple(str(v) for v in row) for row in self.values.itertuples(index=False)]

    @property
    def labels(self) -> list[str]:
        """Unique readable label of every group (``'A'``, or ``'H & A'`` for intersections)."""
        return render_labels(self.keys)

    def class_labels(self) -> list[str]:
        """Unique labels for the groups used as classes (a classification target): like
        :attr:`labels`, but a value may equal the pooled label, since classes are never pooled."""
        return render_labels(self.keys, reserved=())

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
