"""OpenCV and dlib, imported on first use (``import fairaudit`` imports neither), with a message
that names the pip package when one is missing."""

from __future__ import annotations

from typing import Any

from fairaudit.common.errors import FairauditInputError

PACKAGE_MISSING = (
    "{what} needs the Python package {module!r}, which is not installed. Fix: pip install {pip} "
    "(or pip install 'fairaudit[images]')."
)


def _import_cv2(what: str) -> Any:
    try:
        import cv2
    except ImportError:
        raise FairauditInputError(PACKAGE_MISSING.format(
            what=what, module="cv2", pip="'opencv-python-headless<5'")) from None
    return cv2


def _import_dlib(what: str) -> Any:
    try:
        import dlib
    except ImportError:
        raise FairauditInputError(PACKAGE_MISSING.format(what=what, module="dlib", pip="dlib-bin")) from None
    return dlib
