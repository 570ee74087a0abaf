"""Choosing part of a manifest as the reference study did: :func:`manifest_subset` draws N
identities per group, and images of each, reproducibly from one ``random_state``."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common.errors import FairauditInputError
from fairaudit.data import make_groups, normalize_by
from fairaudit.images.validation import REQUIRED_COLUMNS, validate_manifest

SUBSET_BAD_N = (
    "n_per_group={value!r} must be a positive integer. Fix: pass e.g. n_per_group=750."
)
SUBSET_BAD_IMAGES = (
    "images_per_identity={value!r} must be a positive integer or 'all'. Fix: pass 1 (one "
    "image per identity, as the reference study did) or 'all'."
)
SUBSET_TOO_FEW = (
    "group {group!r} has {available} identities{qualifier}, fewer than n_per_group={asked}. "
    "Fix: pass n_per_group<={smallest} (the smallest group), or leave that group out of "
    "the manifest first."
)
BAD_RANDOM_STATE = (
    "random_state={value!r} must be None, a non-negative int or a numpy.random.Generator; "
    "got {type}. Fix: pass e.g. random_state=0."
)


def _resolve_rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    ok_int = isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool)
    if random_state is None or (ok_int and random_state >= 0):
        return np.random.default_rng(random_state)
    raise FairauditInputError(
        BAD_RANDOM_STATE.format(value=random_state, type=type(random_state).__name__))


def manifest_subset(
    manifest: pd.DataFrame,
    *,
    n_per_group: int,
    by: str | Sequence[str],
    images_per_identity: int | str = 1,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Draw ``n_per_group`` identities from every group, and images of each.

    This reproduces the reference study's choice (750 identities per DiveFace
    group, one image each) for any manifest.

    Parameters
    ----------
    manifest : DataFrame
        A manifest (it is validated first).
    n_per_group : int
        Identities drawn, without replacement, from every group.
    by : str or list of str
        The attribute(s) whose combinations define the groups, e.g.
        ``["gender", "ethnicity"]`` for the six DiveFace groups.
    images_per_identity : int or "all", default 1
        Images kept per drawn identity, chosen at random without replacement;
        ``"all"`` keeps every image. With an integer ``k``, only identities with
        at least ``k`` images can be drawn.
    random_state : int, numpy.random.Generator or None, default 0
        The only source of randomness, resolved once. Every group draws from
        its own generator, seeded from this one and from the group's label, so
        the choice in one group does not change when other groups are added,
        removed or resized.

    Returns
    -------
    DataFrame
        The chosen rows in their original order, with a fresh RangeIndex. Its
        ``attrs`` are those of ``manifest``, except that ``attrs["pairs"]``
        keeps only the pairs whose two images were both chosen.

    Raises
    ------
    FairauditInputError
        For an invalid manifest, an unknown attribute in ``by``, a bad
        ``n_per_group``, ``images_per_identity`` or ``random_state``, or a group
        with fewer (eligible) identities than ``n_per_group``; that message
        gives how many exist and how many were asked.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"path": [f"/d/{i}.jpg" for i in range(8)],
    ...                   "identity": ["a", "a", "b", "b", "c", "c", "d", "d"],
    ...                   "gender": ["H", "H", "H", "H", "M", "M", "M", "M"]})
    >>> sub = manifest_subset(m, n_per_group=1, by="gender", random_state=0)
    >>> sub["gender"].value_counts().to_dict()
    {'H': 1, 'M': 1}
    """
    validate_manifest(manifest)
    ok_n = isinstance(n_per_group, (int, np.integer)) and not isinstance(n_per_group, bool)
    if not ok_n or n_per_group < 1:
        raise FairauditInputError(SUBSET_BAD_N.format(value=n_per_group))
    k = images_per_identity
    ok_k = (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1) or k == "all"
    if not ok_k:
        raise FairauditInputError(SUBSET_BAD_IMAGES.format(value=k))
    attributes = [c for c in manifest.columns if c not in REQUIRED_COLUMNS]
    names = normalize_by(by, attributes)
    rng = _resolve_rng(random_state)
    groups = make_groups({n: manifest[n].to_numpy(dtype=str) for n in names}, names)
    labels = groups.labels
    identity = manifest["identity"].to_numpy(dtype=str)

    # identities and their rows per group, checked before anything is drawn, so
    # that the error can name the smallest group
    plans = []
    for g in range(groups.n_groups):
        rows = np.flatnonzero(groups.codes == g)
        ids, inverse, counts = np.unique(identity[rows], return_inverse=True, return_counts=True)
        eligible = np.arange(ids.size) if k == "all" else np.flatnonzero(counts >= k)
        plans.append((rows, inverse, counts, eligible))
    available = [p[3].size for p in plans]
    for g, n_avail in enumerate(available):
        if n_avail < n_per_group:
            raise FairauditInputError(SUBSET_TOO_FEW.format(
                group=labels[g], available=n_avail, asked=int(n_per_group),
                qualifier="" if k in ("all", 1) else f" with at least {int(k)} images",
                smallest=min(available)))

    base = int(rng.integers(0, 2**63 - 1))
    keep = []
    for g, (rows, inverse, counts, eligible) in enumerate(plans):
        grng = np.random.default_rng([base, *labels[g].encode("utf-8")])
        chosen = np.sort(grng.choice(eligible, size=int(n_per_group), replace=False))
        # rows of identity j are by_identity[starts[j]:starts[j] + counts[j]], in manifest order
        by_identity = rows[np.argsort(inverse, kind="stable")]
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        for j in chosen:
            own = by_identity[starts[j]:starts[j] + counts[j]]
            keep.append(own if k == "all" else grng.choice(own, size=int(k), replace=False))
    keep = np.sort(np.concatenate(keep))

    out = manifest.iloc[keep].reset_index(drop=True)
    out.attrs = dict(manifest.attrs)
    pairs = manifest.attrs.get("pairs")
    if isinstance(pairs, pd.DataFrame):
        chosen_paths = set(out["path"].tolist())
        both = pairs["path_a"].isin(chosen_paths).to_numpy() & pairs["path_b"].isin(chosen_paths).to_numpy()
        out.attrs["pairs"] = pairs.loc[both].reset_index(drop=True)
    return out
