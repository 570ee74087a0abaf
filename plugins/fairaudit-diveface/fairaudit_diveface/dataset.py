"""The DiveFace loader: folders of face images in six demographic groups.

Layout (Morales et al., "SensitiveNets", arXiv 1902.00334)::

    <root>/<GROUP>/<identity>/<image>.jpg

with the six groups ``HA4K_120``, ``HB4K_120``, ``HN4K_120``, ``MA4K_120``,
``MB4K_120`` and ``MN4K_120``. The first letter is the gender (H = man,
hombre; M = woman, mujer), the second the ethnicity (A = Asian, B = White,
blanco; N = Black, negro): the attributes ``gender`` and ``ethnicity`` take
these letters as values, the vocabulary of ``fairaudit.synthetic``'s
``"diveface"`` population.

Identity labels are ``"<gender><ethnicity>/<folder>"`` (e.g. ``"HA/2312469191"``)
so that two groups can never share a label.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np
import pandas as pd

from fairaudit import FairauditInputError
from fairaudit.images.datasets import manifest_subset, validate_manifest

GROUPS = ("HA4K_120", "HB4K_120", "HN4K_120", "MA4K_120", "MB4K_120", "MN4K_120")
GENDERS = {"H": "man (hombre)", "M": "woman (mujer)"}
ETHNICITIES = {"A": "Asian", "B": "White (blanco)", "N": "Black (negro)"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
#: identities per group in the reference study
STUDY_N_PER_GROUP = 750
COLUMNS = ("path", "identity", "gender", "ethnicity")
#: value -> readable name of each attribute (``EmbeddingSet.value_labels``): H = man (hombre), M = woman
#: (mujer), A = Asian, B = White (blanco), N = Black (negro)
VALUE_LABELS = {"gender": {"H": "man", "M": "woman"}, "ethnicity": {"A": "Asian", "B": "White", "N": "Black"}}

ROOT_MISSING = "root={root!r} is not a directory. Fix: pass the DiveFace folder that holds {groups}."
GROUPS_MISSING = (
    "the DiveFace root {root!r} lacks the group folder(s) {missing} (found: {found}). The "
    "layout is <root>/<GROUP>/<identity>/<image>.jpg with the groups {groups}. Fix: pass the "
    "folder that holds all six (in the DiveFace archive: DiveFace4K_120/4K_120)."
)
GROUP_EMPTY = (
    "the DiveFace group folder {path!r} holds no identity folder with images ({suffixes}). "
    "Fix: check the copy of DiveFace."
)
BAD_N_PER_GROUP = (
    "n_per_group={value!r} must be a positive integer or None (every identity). Fix: pass "
    "e.g. n_per_group=750 (the study)."
)
BAD_IMAGES_PER_IDENTITY = (
    "images_per_identity={value!r} must be a positive integer (the first images of every "
    "identity, in sorted file-name order) or 'all'. Fix: pass 1 (the study) or 'all'."
)
BAD_RANDOM_STATE = (
    "random_state={value!r} must be None or an integer >= 0. Fix: pass e.g. random_state=0."
)


def _images(folder: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(folder)
                  if e.is_file() and e.name.lower().endswith(IMAGE_SUFFIXES))


def _identities(group_dir: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(group_dir) if e.is_dir())


def load_diveface(
    root: str | os.PathLike,
    *,
    n_per_group: int | None = None,
    images_per_identity: int | str = 1,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Read a DiveFace folder into a manifest.

    Parameters
    ----------
    root : path
        The folder that holds the six group folders.
    n_per_group : int or None, default None
        Identities drawn at random (without replacement) from each group with
        :func:`fairaudit.images.manifest_subset`; None keeps every identity.
        The study drew 750.
    images_per_identity : int or "all", default 1
        Images kept per identity (the study took one), or every image. With
        ``n_per_group`` they are drawn at random by ``manifest_subset`` (only
        identities with that many images can be drawn); without it, the first
        ones in sorted file-name order are kept.
    random_state : int or None, default 0
        Seeds the draws; the same value gives the same manifest.

    Returns
    -------
    DataFrame
        One row per image, columns ``path`` (absolute), ``identity``,
        ``gender`` (H/M) and ``ethnicity`` (A/B/N), sorted by group folder,
        identity and file name.

    Raises
    ------
    FairauditInputError
        On a missing root or group folder (naming them), an empty group, a
        group with fewer than ``n_per_group`` identities (message of
        ``manifest_subset``), or bad options.
    """
    if n_per_group is not None and (isinstance(n_per_group, bool) or not isinstance(n_per_group, numbers.Integral)
                                    or n_per_group < 1):
        raise FairauditInputError(BAD_N_PER_GROUP.format(value=n_per_group))
    if images_per_identity != "all" and (isinstance(images_per_identity, bool)
                                         or not isinstance(images_per_identity, numbers.Integral)
                                         or images_per_identity < 1):
        raise FairauditInputError(BAD_IMAGES_PER_IDENTITY.format(value=images_per_identity))
    if random_state is not None and (isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral)
                                     or random_state < 0):
        raise FairauditInputError(BAD_RANDOM_STATE.format(value=random_state))
    base = Path(os.fspath(root)).expanduser()
    if not base.is_dir():
        raise FairauditInputError(ROOT_MISSING.format(root=str(root), groups=", ".join(GROUPS)))
    missing = [g for g in GROUPS if not (base / g).is_dir()]
    if missing:
        found = sorted(e.name for e in os.scandir(base) if e.is_dir())
        raise FairauditInputError(GROUPS_MISSING.format(
            root=str(base), missing=", ".join(missing), found=", ".join(found) or "no folders",
            groups=", ".join(GROUPS)))

    rows = []
    for group in GROUPS:
        group_dir = base / group
        people = [(name, _images(group_dir / name)) for name in _identities(group_dir)]
        people = [(name, imgs) for name, imgs in people if imgs]
        if not people:
            raise FairauditInputError(GROUP_EMPTY.format(path=str(group_dir),
                                                         suffixes=", ".join(IMAGE_SUFFIXES)))
        for name, imgs in people:
            keep = imgs if n_per_group is not None or images_per_identity == "all" \
                else imgs[:int(images_per_identity)]
            for img in keep:
                rows.append((str((group_dir / name / img).resolve()), f"{group[:2]}/{name}",
                             group[0], group[1]))
    manifest = pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)
    if n_per_group is None:
        out = validate_manifest(manifest)
    else:
        # fairaudit's own draw: n identities per group, each group from its own generator
        out = manifest_subset(manifest, n_per_group=int(n_per_group), by=["gender", "ethnicity"],
                              images_per_identity=images_per_identity, random_state=random_state)
    # the codebook of DiveFace's Spanish initials; extract() carries it into the EmbeddingSet
    out.attrs["value_labels"] = {a: dict(book) for a, book in VALUE_LABELS.items()}
    return out


def ten_people(root: str | os.PathLike, *, n_identities: int = 10, n_images: int = 5,
               random_state: int | None = 0) -> pd.DataFrame:
    """The manifest of task 1.1: ``n_identities`` people with ``n_images`` images each.

    ``root`` is either a DiveFace root (people are drawn at random among those
    with at least ``n_images`` images, spread over the six groups in turn) or a
    folder ``<root>/<identity>/<image>`` like the study's ``bbdd_10_personas``
    (attributes are then unknown and set to ``"?"``).
    """
    base = Path(os.fspath(root)).expanduser()
    if not base.is_dir():
        raise FairauditInputError(ROOT_MISSING.format(root=str(root), groups=", ".join(GROUPS)))
    rng = np.random.default_rng(random_state)
    if all((base / g).is_dir() for g in GROUPS):
        full = load_diveface(base, images_per_identity="all", random_state=random_state)
        counts = full.groupby("identity")["path"].size()
        eligible = full[full["identity"].map(counts) >= n_images]
        group = eligible["gender"] + eligible["ethnicity"]
        pools = {g: list(rng.permutation(sorted(part["identity"].unique())))
                 for g, part in eligible.groupby(group, sort=True)}
        chosen: list[str] = []
        while len(chosen) < n_identities and any(pools.values()):
            for g in sorted(pools):
                if pools[g] and len(chosen) < n_identities:
                    chosen.append(pools[g].pop())
        part = eligible[eligible["identity"].isin(chosen)]
        return (part.groupby("identity", sort=True, group_keys=False).head(n_images)
                .reset_index(drop=True))
    rows = []
    for name in _identities(base):
        imgs = _images(base / name)
        if len(imgs) >= n_images:
            rows.extend((str((base / name / i).resolve()), name, "?", "?") for i in imgs[:n_images])
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    people = sorted(frame["identity"].unique())
    if len(people) > n_identities:
        keep = set(rng.choice(people, n_identities, replace=False))
        frame = frame[frame["identity"].isin(keep)].reset_index(drop=True)
    return frame
