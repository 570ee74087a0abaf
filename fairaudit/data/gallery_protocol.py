"""The gallery/probe protocol of a 1:N audit: which samples are enrolled and which are searched.

Two ways to get one from an :class:`~fairaudit.EmbeddingSet`:

* **roles** (``gallery=roles``, an array with one entry per sample): ``"gallery"`` or ``"probe"``
  (or True for gallery, False for probe); a probe whose identity has a gallery sample is *mated*,
  any other probe is *non-mated*. Roles vary between the samples of one identity, so they are
  not an attribute of the EmbeddingSet (attributes are constant per identity);
  :func:`fairaudit.synthetic.search_roles` draws them for a population;
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
    "enrolled), pass a dict such as gallery={{'nonmated_share': 0.3, 'samples': 2}} or a "
    "fairaudit.identification.GallerySplit, or pass the role of every sample as an array "
    "(gallery=roles, values 'gallery' or 'probe')."
)
GALLERY_NAME = (
    "gallery={value!r}: a name cannot give the roles, because roles change between the samples of one "
    "identity and an EmbeddingSet's attributes are constant per identity. Fix: pass the role of every "
    "sample as an array, gallery=roles (values 'gallery' or 'probe', one per row; "
    "fairaudit.synthetic.search_roles(es) draws them), or leave gallery out for the seeded split."
)
BAD_ROLE_LENGTH = (
    "gallery: {got} roles for {n} samples. Fix: pass one role per row of the EmbeddingSet, in its order."
)
BAD_ROLE_VALUES = (
    "gallery: the roles hold {bad} where every value must be 'gallery' or 'probe' (or True/False) "
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


@dataclass(frozen=True, eq=False)
class Roles:
    """The gallery/probe role of every sample (validated: ``is_gallery`` is a bool array)."""

    is_gallery: np.ndarray

    def describe(self) -> dict:
        return {"kind": "roles", "n_gallery_samples": int(self.is_gallery.sum()),
                "n_probe_samples": int((~self.is_gallery).sum())}

    def rows(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.is_gallery) != n:
            raise errors.FairauditInputError(BAD_ROLE_LENGTH.format(got=len(self.is_gallery), n=n))
        return np.flatnonzero(self.is_gallery), np.flatnonzero(~self.is_gallery)


def parse_roles(roles: Any) -> Roles:
    """Roles from an array of ``'gallery'``/``'probe'`` (case-insensitive) or of bools."""
    arr = np.asarray(roles.to_numpy() if hasattr(roles, "to_numpy") else roles)
    if arr.ndim != 1:
        raise errors.FairauditInputError(BAD_GALLERY.format(value=f"an array of shape {arr.shape}"))
    if arr.dtype == bool:
        return Roles(arr.copy())
    text = np.char.lower(np.char.strip(arr.astype(str)))
    is_gallery = text == GALLERY_ROLE
    bad = ~(is_gallery | (text == PROBE_ROLE))
    if bad.any():
        values = sorted(set(arr[bad].astype(str).tolist()))
        raise errors.FairauditInputError(BAD_ROLE_VALUES.format(
            bad=values[:5], count=int(bad.sum()), row=int(np.flatnonzero(bad)[0])))
    return Roles(is_gallery)


def parse_gallery(gallery: Any) -> GallerySplit | Roles:
    """Turn the ``gallery=`` argument into a protocol (validated, before any work)."""
    if gallery is None:
        return GallerySplit()
    if isinstance(gallery, (GallerySplit, Roles)):
        return gallery
    if isinstance(gallery, str):
        raise errors.FairauditInputError(GALLERY_NAME.format(value=gallery))
    if isinstance(gallery, dict):
        unknown = sorted(set(gallery) - {"nonmated_share", "samples"})
        if unknown:
            raise errors.FairauditInputError(UNKNOWN_SPLIT_OPTION.format(names=unknown))
        return GallerySplit(**gallery)
    if isinstance(gallery, (list, tuple, np.ndarray)) or hasattr(gallery, "to_numpy"):
        return parse_roles(gallery)
    raise errors.FairauditInputError(BAD_GALLERY.format(value=gallery))


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
