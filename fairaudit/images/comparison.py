"""Comparing the faces of two image files: :func:`compare` and its :class:`CompareResult`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.protocol import _embed, resolve_extractor
from fairaudit.images.reading import DEFAULT_MAX_PIXELS

COMPARE_IMAGE = "{argument}: {message}"
NO_FACE_IN_IMAGE = (
    "{argument}: no face found in {path!r} by extractor {name!r}. Fix: use a photo with a frontal "
    "face, or try another extractor (e.g. --extractor dlib-resnet-haar)."
)
NO_DEFAULT_THRESHOLD = (
    "extractor {name!r} has no default threshold. Fix: pass threshold= (on the command line "
    "--threshold T), a cosine score above which two faces are the same person."
)
BAD_THRESHOLD = "threshold={value!r} must be a number in [-1, 1]. Fix: pass e.g. threshold=0.91."


@dataclass(frozen=True, eq=False)
class CompareResult:
    """The comparison of two face images.

    Attributes
    ----------
    score : float
        Cosine similarity of the two embeddings.
    threshold : float
        Same person when ``score >= threshold``.
    same : bool
        The decision.
    extractor : str
        Name of the extractor.
    paths : tuple of str
        The two images.
    """

    score: float
    threshold: float
    same: bool
    extractor: str
    paths: tuple[str, str]

    @property
    def decision(self) -> str:
        return "same person" if self.same else "different people"


def compare(image1: str | os.PathLike, image2: str | os.PathLike, *, extractor: Any = "dlib-resnet",
            threshold: float | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> CompareResult:
    """Compare the faces of two image files (the reference study's task 1.0).

    Parameters
    ----------
    image1, image2 : str or path-like
        Image files with one frontal face each (the best one is used).
    extractor : str or extractor, default "dlib-resnet"
        A registered name or an instance.
    threshold : float, optional
        Same person when the cosine score is >= threshold. Default: the
        extractor's ``threshold`` attribute (0.91 for ``dlib-resnet``, the
        equivalent of dlib's "Euclidean distance < 0.6" rule; see
        :data:`fairaudit.images.DLIB_RESNET_THRESHOLD`).
    max_pixels : int, default :data:`fairaudit.images.DEFAULT_MAX_PIXELS`
        The most pixels an image may have; a larger one is refused from its
        header, before it is decoded.

    Returns
    -------
    CompareResult

    Raises
    ------
    FairauditInputError
        When an image cannot be read, is damaged (truncated, corrupt data), is
        larger than ``max_pixels`` or shows no face, or no threshold is known;
        the message starts with ``IMG1:`` or ``IMG2:``.
    """
    from fairaudit.images.reading import ImageReadError, _check_max_pixels, read_image

    max_pixels = _check_max_pixels(max_pixels)
    ext = resolve_extractor(extractor)
    if threshold is None:
        threshold = getattr(ext, "threshold", None)
        if threshold is None:
            raise FairauditInputError(NO_DEFAULT_THRESHOLD.format(name=ext.name))
    if (not isinstance(threshold, (int, float, np.floating)) or isinstance(threshold, bool)
            or not -1 <= threshold <= 1):
        raise FairauditInputError(BAD_THRESHOLD.format(value=threshold))
    names = (os.fspath(image1), os.fspath(image2))
    arguments = ("IMG1", "IMG2")
    images = []
    for argument, path in zip(arguments, names):  # both files are checked before any detection
        try:
            images.append(read_image(path, max_pixels=max_pixels))
        except ImageReadError as exc:
            raise FairauditInputError(COMPARE_IMAGE.format(argument=argument, message=exc)) from None
    chips = []
    for argument, path in zip(arguments, names):
        chip = ext.detect_and_align(images.pop(0))
        if chip is None:
            raise FairauditInputError(NO_FACE_IN_IMAGE.format(argument=argument, path=path, name=ext.name))
        chips.append(chip)
    vectors = _embed(ext, chips, list(names)).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    score = float(vectors[0] @ vectors[1])
    return CompareResult(score=score, threshold=float(threshold), same=score >= threshold,
                         extractor=ext.name, paths=names)
