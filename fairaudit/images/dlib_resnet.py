"""The built-in extractor: dlib's face recognition ResNet (:class:`DlibResnetExtractor`, registered
as ``dlib-resnet`` and ``dlib-resnet-haar``) and its default threshold
:data:`DLIB_RESNET_THRESHOLD`."""

from __future__ import annotations

import os
import threading
from typing import Any, Sequence

import numpy as np

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.dependencies import _import_dlib
from fairaudit.images.detectors import HaarDetector, _check_int
from fairaudit.images.models import RESNET_FILE, SHAPE_PREDICTOR_FILE, _file_digest, model_path
from fairaudit.images.quality import Detection
from fairaudit.images.reading import _as_rgb

#: size and padding of the aligned chip dlib's ResNet was trained on
CHIP_SIZE = 150
CHIP_PADDING = 0.25

#: Default "same person" cosine threshold of ``dlib-resnet``.
#:
#: dlib documents its descriptors with the rule "same person if the Euclidean
#: distance is below 0.6". The descriptors are not unit vectors; their norms
#: cluster around r = 1.4 (1.37-1.46 on the real photos of the tests, flipped
#: and rescaled copies included). For two vectors of norm r,
#: ``d**2 = 2 r**2 (1 - cos)``, so ``d < 0.6`` is ``cos > 1 - 0.18 / r**2``:
#: 0.904 at r = 1.41, 0.916 at r = 1.46. Measured with this package on
#: matplotlib's ``grace_hopper.jpg`` and scikit-image's ``astronaut.png``: a
#: photo and its flipped or rescaled copy score 0.989-0.999 (distance
#: 0.07-0.20); the two women score 0.875-0.892 (distance 0.66-0.71). 0.91 is
#: the equivalent of dlib's rule and separates both with a margin.
DLIB_RESNET_THRESHOLD = 0.91
BAD_CHIP = (
    "chip {index} must be a {size}x{size}x3 uint8 RGB array aligned by detect_and_align(); got "
    "{what}. Fix: pass the chips that DlibResnetExtractor.detect_and_align() returns."
)
BAD_DETECTOR = "detector={value!r} is not a detector of {cls}; expected one of {choices}. Fix: pass one of them."


class DlibResnetExtractor:
    """dlib's face recognition ResNet: 128-d descriptors of 150x150 aligned faces.

    Pipeline per image: a face detector (dlib's HOG detector, or OpenCV's
    Haar cascade as a fallback), dlib's 5-point landmark model on the
    detected box, ``dlib.get_face_chip`` (150x150, padding 0.25: eyes and
    nose at fixed places), then the ResNet. When several faces are found the
    one the HOG detector scores highest (Haar: the largest) is kept.

    The model files come from the pip package ``face-recognition-models``
    (or ``model_dir``) and are loaded on first use, not when the extractor
    is built or registered.

    Parameters
    ----------
    upsample : int, default 1
        Times the HOG detector doubles the image before searching; 1 finds
        faces down to about 40 pixels, at about 4x the cost of 0. Ignored by
        the Haar detector.
    jitter : int, default 0
        When > 0, each chip is randomly jittered this many times and the
        descriptors averaged (slightly more accurate, ``jitter`` times slower).
        dlib draws the jitter from its own generator, which fairaudit cannot
        seed: embeddings with jitter > 0 are not reproducible bit for bit.
    detector : {"hog", "haar"}, default "hog"
        The face detector.
    model_dir : str or path-like, optional
        A folder holding ``shape_predictor_5_face_landmarks.dat`` and
        ``dlib_face_recognition_resnet_model_v1.dat``; default: the installed
        ``face_recognition_models`` package.

    Attributes
    ----------
    name : str
        ``"dlib-resnet"`` (HOG detector) or ``"dlib-resnet-haar"``.
    dim : int
        128.
    threshold : float
        Default cosine threshold of ``fairaudit compare``:
        :data:`DLIB_RESNET_THRESHOLD` (0.91), the equivalent of dlib's
        "Euclidean distance < 0.6" rule.
    detection_provides : tuple of str
        What :meth:`detect_and_align_with_detection` gives the quality
        measures: the box, the 5 landmarks and (HOG only) the detector's score.

    Notes
    -----
    :meth:`detect_and_align` and :meth:`embed` may run in different threads
    (``fairaudit.extract`` detects the next batch while the current one is
    embedded); they use separate models, each loaded under a lock.

    Examples
    --------
    >>> from fairaudit.images import DlibResnetExtractor, read_image
    >>> ex = DlibResnetExtractor()
    >>> chip = ex.detect_and_align(read_image("photo.jpg"))   # doctest: +SKIP
    >>> ex.embed([chip]).shape                                # doctest: +SKIP
    (1, 128)
    """

    dim = 128
    threshold = DLIB_RESNET_THRESHOLD
    DETECTORS = ("hog", "haar")

    def __init__(self, upsample: int = 1, jitter: int = 0, detector: str = "hog", *,
                 model_dir: str | os.PathLike | None = None) -> None:
        _check_int("upsample", upsample, 0, 1)
        _check_int("jitter", jitter, 0, 0)
        if detector not in self.DETECTORS:
            raise FairauditInputError(BAD_DETECTOR.format(
                value=detector, cls=type(self).__name__, choices=list(self.DETECTORS)))
        self.upsample = int(upsample)
        self.jitter = int(jitter)
        self.detector = detector
        self.model_dir = None if model_dir is None else os.fspath(model_dir)
        self.name = "dlib-resnet" if detector == "hog" else "dlib-resnet-haar"
        self.detection_provides = (("box", "confidence", "landmarks") if detector == "hog"
                                   else ("box", "landmarks"))
        self._haar = HaarDetector() if detector == "haar" else None
        self._detection: tuple[Any, Any] | None = None
        self._recognition: Any = None
        self._detection_lock = threading.Lock()
        self._recognition_lock = threading.Lock()
        self._key: str | None = None

    def __repr__(self) -> str:
        extra = "" if self.model_dir is None else f", model_dir={self.model_dir!r}"
        return (f"DlibResnetExtractor(upsample={self.upsample}, jitter={self.jitter}, "
                f"detector={self.detector!r}{extra})")

    # loaded models are not pickled: a copy in another process loads its own
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_detection"] = None
        state["_recognition"] = None
        del state["_detection_lock"], state["_recognition_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._detection_lock = threading.Lock()
        self._recognition_lock = threading.Lock()

    # -- lazily loaded models ------------------------------------------------------------
    def _detection_models(self) -> tuple[Any, Any]:
        with self._detection_lock:
            if self._detection is None:
                dlib = _import_dlib(type(self).__name__)
                predictor = dlib.shape_predictor(model_path(SHAPE_PREDICTOR_FILE, self.model_dir))
                hog = dlib.get_frontal_face_detector() if self.detector == "hog" else None
                self._detection = (hog, predictor)
            return self._detection

    def _recognition_model(self) -> Any:
        with self._recognition_lock:
            if self._recognition is None:
                dlib = _import_dlib(type(self).__name__)
                self._recognition = dlib.face_recognition_model_v1(model_path(RESNET_FILE, self.model_dir))
            return self._recognition

    # -- the protocol ---------------------------------------------------------------------
    def detect(self, image: np.ndarray) -> list[tuple[tuple[int, int, int, int], float]]:
        """Every face the detector finds: ``((left, top, right, bottom), score)``, best first.

        HOG scores are the detector's confidence; Haar boxes get the score
        ``nan`` and are sorted by area.
        """
        rgb = _as_rgb(image)
        if self._haar is not None:
            return [(box, float("nan")) for box in self._haar.detect(rgb)]
        hog, _ = self._detection_models()
        rects, scores, _ = hog.run(rgb, self.upsample, 0.0)
        found = [((r.left(), r.top(), r.right(), r.bottom()), float(s)) for r, s in zip(rects, scores)]
        return sorted(found, key=lambda f: f[1], reverse=True)

    def detect_and_align(self, image: np.ndarray) -> np.ndarray | None:
        """The aligned 150x150x3 uint8 RGB chip of the best face in ``image``, or None.

        Parameters
        ----------
        image : ndarray of shape (height, width, 3) uint8 RGB, or (height, width)

        Returns
        -------
        ndarray of shape (150, 150, 3), dtype uint8, or None when no face is found
        """
        return self.detect_and_align_with_detection(image)[0]

    def detect_and_align_with_detection(self, image: np.ndarray) -> tuple[np.ndarray | None, Detection | None]:
        """:meth:`detect_and_align`, and the detection the chip was aligned from.

        Returns
        -------
        (chip, Detection) or (None, None)
            The detection holds the box ``(left, top, right, bottom)``, the
            HOG score (None with the Haar detector) and the 5 landmark points
            as a (5, 2) float64 array of (x, y) pixels.
        """
        rgb = _as_rgb(image)
        found = self.detect(rgb)
        if not found:
            return None, None
        dlib = _import_dlib(type(self).__name__)
        _, predictor = self._detection_models()
        (left, top, right, bottom), score = found[0]
        shape = predictor(rgb, dlib.rectangle(left, top, right, bottom))
        chip = dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        points = np.array([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)], dtype=np.float64)
        detection = Detection(box=(int(left), int(top), int(right), int(bottom)),
                              confidence=None if self._haar is not None else float(score),
                              landmarks=points if points.shape == (5, 2) else None)
        return np.ascontiguousarray(chip, dtype=np.uint8), detection

    def embed(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """128-d descriptors of aligned chips, in one batched call of the ResNet.

        Parameters
        ----------
        chips : sequence of ndarray of shape (150, 150, 3), dtype uint8
            Chips returned by :meth:`detect_and_align`.

        Returns
        -------
        ndarray of shape (len(chips), 128), dtype float32
            Not unit vectors (norms are about 1.4); fairaudit scores are cosines.
        """
        batch = []
        for i, chip in enumerate(chips):
            if (not isinstance(chip, np.ndarray) or chip.dtype != np.uint8
                    or chip.shape != (CHIP_SIZE, CHIP_SIZE, 3)):
                what = (f"an array of shape {chip.shape} and dtype {chip.dtype}"
                        if isinstance(chip, np.ndarray) else type(chip).__name__)
                raise FairauditInputError(BAD_CHIP.format(index=i, size=CHIP_SIZE, what=what))
            batch.append(np.ascontiguousarray(chip))
        if not batch:
            return np.empty((0, self.dim), dtype=np.float32)
        model = self._recognition_model()
        try:
            vectors = model.compute_face_descriptor(batch, self.jitter)
        except TypeError:  # dlib builds older than 19.13 have no batched overload
            vectors = [model.compute_face_descriptor(chip, self.jitter) for chip in batch]
        return np.asarray([np.asarray(v) for v in vectors], dtype=np.float32).reshape(len(batch), self.dim)

    def cache_key(self) -> str:
        """Name, dlib version, size and SHA-256 of both model files, and every setting.

        Equal across runs and machines for the same files and settings; any
        change of weights, dlib version, detector or option changes it.
        """
        if self._key is None:
            dlib = _import_dlib(type(self).__name__)
            detector = (f"hog(upsample={self.upsample})" if self._haar is None
                        else self._haar.settings())
            parts = [
                self.name,
                f"dlib={dlib.__version__}",
                f"detector={detector}",
                f"jitter={self.jitter}",
                f"chip={CHIP_SIZE}/{CHIP_PADDING}",
                f"{SHAPE_PREDICTOR_FILE}={_file_digest(model_path(SHAPE_PREDICTOR_FILE, self.model_dir))}",
                f"{RESNET_FILE}={_file_digest(model_path(RESNET_FILE, self.model_dir))}",
            ]
            self._key = "|".join(parts)
        return self._key
