"""Face detectors: OpenCV's Haar cascade (:class:`HaarDetector`), the detector of
``dlib-resnet-haar``, and the integer-option check that the detectors and extractors share."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.dependencies import _import_cv2
from fairaudit.images.models import _file_digest
from fairaudit.images.reading import _as_rgb

#: OpenCV's frontal face Haar cascade, shipped in ``cv2.data.haarcascades``
HAAR_CASCADE_FILE = "haarcascade_frontalface_default.xml"
BAD_INT_OPTION = "{name}={value!r} must be an integer >= {minimum}. Fix: pass e.g. {name}={example}."
BAD_HAAR_OPTION = "{name}={value!r} must be {expected}. Fix: pass e.g. {name}={example}."
HAAR_FILE_MISSING = (
    "OpenCV's Haar cascade {file!r} is missing: looked for {path!r}. It ships with the pip package "
    "'opencv-python-headless'. Fix: pip install --force-reinstall 'opencv-python-headless<5'."
)


class HaarDetector:
    """OpenCV's Viola-Jones frontal face detector (``haarcascade_frontalface_default.xml``).

    Fast, and a fallback for images where dlib's HOG detector finds nothing;
    less accurate (more false positives, looser boxes). The cascade is loaded
    on the first call of :meth:`detect`.

    Parameters
    ----------
    scale_factor : float, default 1.1
        Scale step of the image pyramid (> 1).
    min_neighbors : int, default 5
        Overlapping detections a box needs to be kept; more gives fewer false
        positives.
    min_size : int, default 30
        Smallest face side, in pixels.

    Examples
    --------
    >>> from fairaudit.images import HaarDetector, read_image
    >>> boxes = HaarDetector().detect(read_image("photo.jpg"))  # doctest: +SKIP
    >>> left, top, right, bottom = boxes[0]                       # doctest: +SKIP
    """

    def __init__(self, *, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 30) -> None:
        if not isinstance(scale_factor, (int, float)) or isinstance(scale_factor, bool) or not scale_factor > 1:
            raise FairauditInputError(BAD_HAAR_OPTION.format(
                name="scale_factor", value=scale_factor, expected="a number > 1", example=1.1))
        _check_int("min_neighbors", min_neighbors, 0, 5)
        _check_int("min_size", min_size, 1, 30)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = int(min_size)
        self._cascade: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"HaarDetector(scale_factor={self.scale_factor}, min_neighbors={self.min_neighbors}, "
                f"min_size={self.min_size})")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cascade"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @staticmethod
    def cascade_path() -> str:
        """Path of the cascade file shipped with OpenCV, checked to exist."""
        cv2 = _import_cv2("HaarDetector")
        path = os.path.join(cv2.data.haarcascades, HAAR_CASCADE_FILE)
        if not os.path.isfile(path):
            raise FairauditInputError(HAAR_FILE_MISSING.format(file=HAAR_CASCADE_FILE, path=path))
        return path

    def settings(self) -> str:
        """The settings and the cascade's digest, for cache keys."""
        cv2 = _import_cv2("HaarDetector")
        return (f"haar(cv2={cv2.__version__},cascade={_file_digest(self.cascade_path())},"
                f"scale_factor={self.scale_factor},min_neighbors={self.min_neighbors},"
                f"min_size={self.min_size})")

    def _classifier(self) -> Any:
        with self._lock:
            if self._cascade is None:
                cv2 = _import_cv2("HaarDetector")
                cascade = cv2.CascadeClassifier(self.cascade_path())
                if cascade.empty():
                    raise FairauditInputError(HAAR_FILE_MISSING.format(
                        file=HAAR_CASCADE_FILE, path=self.cascade_path()))
                self._cascade = cascade
            return self._cascade

    def detect(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Faces in ``image``, largest first.

        Parameters
        ----------
        image : ndarray of shape (height, width, 3) uint8 RGB, or (height, width)

        Returns
        -------
        list of (left, top, right, bottom)
            Pixel boxes, sorted by decreasing area; empty when no face is found.
        """
        rgb = _as_rgb(image)
        cv2 = _import_cv2("HaarDetector")
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        found = self._classifier().detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size))
        boxes = [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h in np.reshape(found, (-1, 4))]
        return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


def _check_int(name: str, value: Any, minimum: int, example: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise FairauditInputError(BAD_INT_OPTION.format(
            name=name, value=value, minimum=minimum, example=example))
