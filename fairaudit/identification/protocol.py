"""The gallery/probe protocol of a 1:N audit: which samples are enrolled and which are searched.

Two ways to get one from an :class:`~fairaudit.EmbeddingSet`:

* a **role column** (``gallery="role"``): every sample says ``"gallery"`` or ``"probe"``; a probe
  whose identity has a gallery sample is *mated*, any other probe is *non-mated*;
* a **seeded split** (the default, or :class:`GallerySplit`): within every group, a share of the
  identities (``nonmated_share``, at least one per group of two or more identities) is held out and
  all their samples become non-mated probes; every other identity enrolls ``samples`` of its
  samples (drawn at random) and its remaining samples are its mated probes. An identity with no
  sample left over is enrolled without a mated probe (it still stands in the gallery).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fairaudit.common import errors

GALLERY_ROLE = "gallery"
PROBE_ROLE = "probe"

BAD_GALLERY = (
    "gallery={value!r} is not a gallery/probe protocol. Fix: leave it out for the seeded split "
    "(a share of each group's identities held out as non-mated probes, one sample per other identity "
    "enrolled), pass the name of a column whose values are 'gallery' or 'probe' (gallery='role'), a "
    "dict such as gallery={{'nonmated_share': 0.3, 'samples': 2}}, or a fairaudit.identification.GallerySplit."
)
BAD_ROLE_VALUES = (
    "gallery={column!r}: the column holds {bad} where every value must be 'gallery' or 'probe' "
    "({count} such rows, e.g. row {row}). Fix: set each sample's role to 'gallery' (enrolled) or "
    "'probe' (searched), or drop the other rows before the audit."
)
BAD_SPLIT_OPTION = (
    "gallery: {name}={value!r} is out of range: it must be {rule}. Fix: pass e.g. "
    "gallery={{'nonmated_share': 0.2, 'samples': 1}}."
)
UNKNOWN_SPLIT_OPTION = (
    "gallery: unknown option(s) {names}. Fix: use 'nonmated_share' and/or 'samples', e.g. "
    "gallery={{'nonmated_share': 0.2, 'samples': 1}}."
)
EMPTY_PROTOCOL = (
    "gallery={value!r} leaves {what}: a 1:N audit needs enrolled identities and probes to search. "
    "Fix: {fix}"
)


@dataclass(frozen=True)
class GallerySplit:
    """A seeded gallery/probe split (see the module docstring).

    Parameters
    ----------
    nonmated_share : float in [0, 1), default 0.2
        Share of each group's identities held out of the gallery: their samples are the non-mated
        probes (FPIR). 0 gives mated probes only (no FPIR).
    samples : int >= 1, default 1
        Gallery samples of each enrolled identity; its other samples are mated probes (FNIR, CMC).
    """

    nonmated_share: float = 0.2
    samples: int = 1

    def __post_init__(self):
        share = self.nonmated_share
        if isinstance(share, bool) or not isinstance(share, (int, float, np.integer, np.floating)) \
                or not 0.0 <= float(share) < 1.0:
            raise errors.FairauditInputError(BAD_SPLIT_OPTION.format(
                name="nonmated_share", value=share, rule="a number in [0, 1)"))
        n = self.samples
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 1:
            raise errors.FairauditInputError(BAD_SPLIT_OPTION.format(
                name="samples", value=n, rule="an integer >= 1"))

    def describe(self) -> dict:
        return {"kind": "split", "nonmated_share": float(self.nonmated_share), "samples": int(self.samples)}


@dataclass(frozen=True)
class RoleColumn:
    """The gallery/probe role of every sample, read from a column."""

    column: str

    def describe(self) -> dict:
        return {"kind": "column", "column": self.column}


def parse_gallery(gallery: Any, attribute_names) -> GallerySplit | RoleColumn:
    """Turn the ``gallery=`` argument into a protocol (validated, before any work)."""
    if gallery is None:
        return GallerySplit()
    if isinstance(gallery, (GallerySplit, RoleColumn)):
        return gallery
    if isinstance(gallery, str):
        if gallery not in attribute_names:
            raise errors.FairauditInputError(errors.UNKNOWN_ATTRIBUTE.format(
                name="gallery", value=gallery, available=list(attribute_names)))
        return RoleColumn(gallery)
    if isinstance(gallery, dict):
        unknown = sorted(set(gallery) - {"nonmated_share", "samples"})
        if unknown:
            raise errors.FairauditInputError(UNKNOWN_SPLIT_OPTION.format(names=unknown))
        return GallerySplit(**gallery)
    raise errors.FairauditInputError(BAD_GALLERY.format(value=gallery))


def role_rows(roles: np.ndarray, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Gallery and probe row indices from a role column (values compared case-insensitively)."""
    text = np.char.lower(np.char.strip(np.asarray(roles).astype(str)))
    is_gallery = text == GALLERY_ROLE
    is_probe = text == PROBE_ROLE
    bad = ~(is_gallery | is_probe)
    if bad.any():
        values = sorted(set(np.asarray(roles)[bad].astype(str).tolist()))
        raise errors.FairauditInputError(BAD_ROLE_VALUES.format(
            column=column, bad=values[:5], count=int(bad.sum()), row=int(np.flatnonzero(bad)[0])))
    return np.flatnonzero(is_gallery), np.flatnonzero(is_probe)


def split_rows(ident: np.ndarray, identity_group: np.ndarray, split: GallerySplit,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Gallery and probe row indices of the seeded split; ``ident`` is the identity code of every
    row, ``identity_group`` the group code of every identity."""
    n_ids = len(identity_group)
    held_out = np.zeros(n_ids, dtype=bool)
    for g in np.unique(identity_group):
        members = np.flatnonzero(identity_group == g)
        members = members[np.isin(members, ident)]  # identities with samples
        n_out = int(round(float(split.nonmated_share) * len(members)))
        if split.nonmated_share > 0 and len(members) >= 2:
            n_out = max(1, min(n_out, len(members) - 1))
        held_out[rng.permutation(members)[:n_out]] = True
    # a random position of every sample among its identity's samples: the first ones enroll
    key = rng.random(len(ident))
    order = np.lexsort((key, ident))
    first = np.r_[True, ident[order][1:] != ident[order][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    within = np.empty(len(ident), dtype=np.int64)
    within[order] = np.arange(len(order)) - start
    enrolls = ~held_out[ident] & (within < int(split.samples))
    return np.flatnonzero(enrolls), np.flatnonzero(~enrolls)
