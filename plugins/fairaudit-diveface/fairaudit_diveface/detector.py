"""The study's face detector: OpenCV's DNN SSD (ResNet-10, 300x300, Caffe).

The rules, as the study applied them:

1. the whole image (BGR) is resized to 300x300 and turned into a blob with
   ``cv2.dnn.blobFromImage(resized, 1.0, (300, 300), (104, 177, 123))``;
2. the network returns detections of shape ``(1, 1, N, 7)``: ``[image, label,
   confidence, x1, y1, x2, y2]`` with coordinates relative to the image size;
3. detections with confidence > 0.8 (strictly; the network's float32 value
   compared in float64, as numpy 1.x did in the study) are kept; each box is
   scaled to pixels and truncated to integers, then clipped to the image;
4. among them, the box whose centre is nearest the image centre is chosen
   (integer centres, Euclidean distance; ties go to the earlier detection, which
   SSD sorts by confidence);
5. the face is the crop ``image[y1:y2, x1:x2]``.

Two small departures from the study's code, both for robustness: the study
reset a left/top coordinate beyond the right/bottom edge to 0, where this
clips it to the edge; and a box that is empty after clipping is dropped, where
the study would have returned an empty crop and failed later.

Testing seam: ``SSDFaceDetector(net=obj)`` uses any object with
``setInput(blob)`` and ``forward()`` (like ``cv2.dnn_Net``) instead of loading
the Caffe files, so the pre- and post-processing can be checked without the
model files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fairaudit import FairauditInputError

from .files import find_detector

INPUT_SIZE = (300, 300)
#: BGR means subtracted by blobFromImage (the values the detector was trained with)
MEAN_BGR = (104.0, 177.0, 123.0)
CONFIDENCE = 0.8

BAD_IMAGE = (
    "image must be an RGB picture: a uint8 array of shape (height, width, 3) (grey (h, w) "
    "and RGBA (h, w, 4) are converted); got {what}. Fix: read it with "
    "fairaudit.images.read_image(path)."
)
BAD_DETECTIONS = (
    "the face detector network returned an array of shape {shape}; an SSD detector returns "
    "(1, 1, N, 7) rows [image, label, confidence, x1, y1, x2, y2]. Fix: use OpenCV's "
    "deploy.prototxt / res10_300x300_ssd_iter_140000.caffemodel pair."
)
NO_CV2 = (
    "the DiveFace plugin needs OpenCV 4 (cv2) for face detection and resizing, which is "
    "not installed. Fix: pip install 'opencv-python-headless<5' (OpenCV 5 cannot read the "
    "Caffe detector)."
)
BAD_CONFIDENCE = "confidence={value!r} must be a number in [0, 1). Fix: keep the study's 0.8."


def import_cv2() -> Any:
    """``cv2``, or an error that says how to install it."""
    try:
        import cv2
    except ImportError:
        raise FairauditInputError(NO_CV2) from None
    return cv2


def as_rgb(image: Any) -> np.ndarray:
    """``image`` as a contiguous uint8 (h, w, 3) array; grey is stacked, alpha dropped."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise FairauditInputError(BAD_IMAGE.format(what=f"dtype {arr.dtype}, shape {arr.shape}"))
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 4:
        arr = arr[:, :, :3]
    elif arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] != 3:
        raise FairauditInputError(BAD_IMAGE.format(what=f"dtype {arr.dtype}, shape {arr.shape}"))
    return np.ascontiguousarray(arr)


@dataclass(frozen=True)
class Box:
    """A face box in pixels (after clipping), with its detector confidence."""

    x1: int
    y1: int
    x2: int
    y2: int
    confidence: float

    @property
    def centre(self) -> tuple[int, int]:
        # integer centre, as the study computed it
        return int((self.x2 + self.x1) / 2), int((self.y2 + self.y1) / 2)


class SSDFaceDetector:
    """OpenCV DNN SSD face detector with the study's selection rules.

    Parameters
    ----------
    detector_dir : path, optional
        Directory with ``deploy.prototxt`` (or ``deploy.prototxt.txt``) and
        ``res10_300x300_ssd_iter_140000.caffemodel``; default
        ``$FAIRAUDIT_DIVEFACE_DETECTOR``, then ``~/.fairaudit/diveface``.
    confidence : float, default 0.8
        Detections with confidence strictly above this are kept.
    net : object, optional
        A ready network with ``setInput(blob)`` and ``forward()`` (a
        ``cv2.dnn_Net`` or a test double); the files are then not needed.

    Notes
    -----
    The files are located and loaded on first use, not at construction.
    """

    def __init__(self, detector_dir: Any = None, *, confidence: float = CONFIDENCE,
                 net: Any = None) -> None:
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) \
                or not 0.0 <= float(confidence) < 1.0:
            raise FairauditInputError(BAD_CONFIDENCE.format(value=confidence))
        self.detector_dir = detector_dir
        self.confidence = float(confidence)
        self._net = net
        self._files: tuple[Path, Path] | None = None

    def files(self) -> tuple[Path, Path]:
        """``(prototxt, caffemodel)``; raises the missing-file error when they are absent."""
        if self._files is None:
            self._files = find_detector(self.detector_dir)
        return self._files

    @property
    def net(self) -> Any:
        if self._net is None:
            cv2 = import_cv2()
            prototxt, model = self.files()
            self._net = cv2.dnn.readNetFromCaffe(str(prototxt), str(model))
        return self._net

    def blob(self, image: Any) -> np.ndarray:
        """The network input for an RGB image: float32 (1, 3, 300, 300), BGR minus the means."""
        cv2 = import_cv2()
        bgr = np.ascontiguousarray(as_rgb(image)[:, :, ::-1])
        resized = cv2.resize(bgr, INPUT_SIZE)
        return cv2.dnn.blobFromImage(resized, 1.0, INPUT_SIZE, MEAN_BGR)

    def detections(self, image: Any) -> np.ndarray:
        """Raw detections for an RGB image: float array (N, 7)."""
        net = self.net
        net.setInput(self.blob(image))
        out = np.asarray(net.forward())
        if out.ndim != 4 or out.shape[-1] != 7 or out.shape[0] != 1 or out.shape[1] != 1:
            raise FairauditInputError(BAD_DETECTIONS.format(shape=out.shape))
        return out.reshape(-1, 7)

    def boxes(self, image: Any) -> list[Box]:
        """Every box kept by the confidence rule, in pixels, clipped, in detection order."""
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        out = []
        for row in self.detections(rgb):
            confidence = float(row[2])
            if not confidence > self.confidence:
                continue
            # truncation toward zero, as numpy's astype(int) did in the study
            x1, y1, x2, y2 = (np.asarray(row[3:7], dtype=np.float64) * [w, h, w, h]).astype(int)
            x1, x2 = (int(min(max(v, 0), w)) for v in (x1, x2))
            y1, y2 = (int(min(max(v, 0), h)) for v in (y1, y2))
            if x2 <= x1 or y2 <= y1:
                continue
            out.append(Box(x1, y1, x2, y2, confidence))
        return out

    def detect(self, image: Any) -> Box | None:
        """The kept box whose centre is nearest the image centre, or None."""
        rgb = as_rgb(image)
        h, w = rgb.shape[:2]
        centre = np.array([int(w / 2), int(h / 2)], dtype=np.float64)
        best, best_d = None, np.inf
        for box in self.boxes(rgb):
            d = float(np.hypot(*(np.array(box.centre, dtype=np.float64) - centre)))
            if d < best_d:  # strict: ties keep the earlier (more confident) detection
                best, best_d = box, d
        return best

    def crop(self, image: Any) -> np.ndarray | None:
        """The face crop of an RGB image (uint8 RGB), or None when no face is kept."""
        rgb = as_rgb(image)
        box = self.detect(rgb)
        if box is None:
            return None
        return np.ascontiguousarray(rgb[box.y1:box.y2, box.x1:box.x2])

    def __repr__(self) -> str:
        return f"SSDFaceDetector(detector_dir={self.detector_dir!r}, confidence={self.confidence})"
