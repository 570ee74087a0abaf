"""Listed pairs (``pairs=``): the cosine scores of exactly the listed pairs of an EmbeddingSet, as
a ScoreSet, and the messages that refuse a bad list."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data import EmbeddingSet


PAIRS_NEED_EMBEDDINGS = (
    "pairs= lists comparisons of an EmbeddingSet's samples, but data is a {type}. Fix: pass the "
    "EmbeddingSet the pairs refer to (a ScoreSet already lists its comparisons)."
)
PAIRS_COLUMNS = (
    "pairs must be a DataFrame with columns index_a and index_b (rows of data) or path_a and path_b "
    "(values of data.path); got columns {columns}. Fix: rename the columns."
)
PAIRS_UNKNOWN = (
    "pairs refers to {count} sample(s) that are not in data (first: {first}). Fix: extract every image "
    "the protocol lists, or drop those pairs explicitly before the audit."
)
PAIRS_GENUINE = (
    "pairs has {count} row(s) whose 'genuine' flag disagrees with the identities of the two samples "
    "(first rows: {rows}). Fix: correct the labels or the pairs."
)


def listed_pairs(data: Any, pairs: pd.DataFrame) -> Any:
    """A ScoreSet holding the cosine scores of exactly the listed pairs of an EmbeddingSet."""
    from fairaudit.data import ScoreSet

    if not isinstance(data, EmbeddingSet):
        raise errors.FairauditInputError(PAIRS_NEED_EMBEDDINGS.format(type=type(data).__name__))
    if not isinstance(pairs, pd.DataFrame):
        raise errors.FairauditInputError(PAIRS_COLUMNS.format(columns=type(pairs).__name__))
    if {"index_a", "index_b"} <= set(pairs.columns):
        ia = pairs["index_a"].to_numpy()
        ib = pairs["index_b"].to_numpy()
        bad = [v.item() if isinstance(v, np.generic) else v for v in np.r_[ia, ib]
               if not (isinstance(v, (int, np.integer)) and 0 <= v < len(data))]
        if bad:
            raise errors.FairauditInputError(PAIRS_UNKNOWN.format(count=len(bad), first=bad[:5]))
        ia, ib = ia.astype(np.int64), ib.astype(np.int64)
    elif {"path_a", "path_b"} <= set(pairs.columns) and data.path is not None:
        lookup = pd.Index(data.path)
        ia = lookup.get_indexer(pairs["path_a"].astype(str))
        ib = lookup.get_indexer(pairs["path_b"].astype(str))
        missing = pd.unique(np.r_[pairs["path_a"].to_numpy()[ia < 0], pairs["path_b"].to_numpy()[ib < 0]])
        if len(missing):
            raise errors.FairauditInputError(PAIRS_UNKNOWN.format(count=len(missing), first=list(missing[:5])))
    else:
        raise errors.FairauditInputError(PAIRS_COLUMNS.format(columns=list(pairs.columns)))
    x = data.normalized().astype(np.float64)
    score = np.einsum("ij,ij->i", x[ia], x[ib])
    identity = data.identity
    genuine = identity[ia] == identity[ib]
    if "genuine" in pairs.columns:
        wrong = np.flatnonzero(pairs["genuine"].to_numpy(dtype=bool) != genuine)
        if wrong.size:
            raise errors.FairauditInputError(PAIRS_GENUINE.format(count=wrong.size, rows=wrong[:5].tolist()))
    attrs = data.attributes
    return ScoreSet.from_arrays(
        score, identity_a=identity[ia], identity_b=identity[ib], genuine=genuine,
        attributes_a=attrs.iloc[ia].reset_index(drop=True), attributes_b=attrs.iloc[ib].reset_index(drop=True),
    )
