"""Image quality measures: computed by ``extract`` from each image and its face detection, cached
with the embeddings, and returned as the numeric covariates of the EmbeddingSet.

The measure contract
--------------------
A quality measure is registered by name through the ``register_quality`` hook; the factory builds
an object (a small class, or any callable) that fairaudit calls once per acquired image::

    measure(image, *, box, confidence, landmarks) -> {"name": float, ...}

``image``
    The decoded image as fairaudit read it: an (H, W, 3) uint8 RGB array.
``box``
    The detected face, ``(left, top, right, bottom)`` in pixels (right and bottom exclusive, as
    the detectors return them; it may reach outside the image), or None when the extractor
    reports no detection.
``confidence``
    The detector's score of that face (dlib's HOG detector gives one; OpenCV's Haar cascade does
    not), or None.
``landmarks``
    dlib's 5 landmark points as a (5, 2) float64 array of (x, y) pixels: two corners of each eye
    and the base of the nose (``shape_predictor_5_face_landmarks.dat``), or None.

It returns a dict from covariate names to finite numbers: the same names for every image.
The optional attribute ``requires`` (a tuple among ``"box"``, ``"confidence"`` and
``"landmarks"``) lists the inputs it cannot do without, and the optional method
``applies(extractor)`` returns None or the reason why it cannot be computed with that extractor.
A measure whose inputs the extractor does not give, or whose ``applies`` gives a reason, is left
out of the whole run with a note (``metadata["quality"]["notes"]``): a covariate is never NaN for
some samples. ``version`` (optional str, default ``"1"``) is part of the cache key of its
values: change it whenever the values would change.

An extractor gives the detection by having a method ``detect_and_align_with_detection(image)``
returning ``(chip or None, Detection or None)`` and an attribute ``detection_provides`` naming
what its :class:`Detection` holds (``"box"``, ``"confidence"``, ``"landmarks"``); an extractor
without them gives none, and only measures that need nothing but the image apply.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from fairaudit import plugins
from fairaudit.common.errors import FairauditInputError

#: the inputs a measure may require, beyond the image
INPUTS = ("box", "confidence", "landmarks")
#: names of the built-in measures, in the order of their covariates
BUILTIN_MEASURES = ("face_size", "sharpness", "brightness", "contrast", "detector_confidence", "yaw")
#: luma weights (ITU-R BT.601, as OpenCV's and Pillow's RGB -> grey) of the grey level
GREY_WEIGHTS = (0.299, 0.587, 0.114)

BAD_QUALITY = (
    "quality={value!r} must be True (every registered measure that applies), False (none) or a list of "
    "registered measure names. Fix: pass e.g. quality=['sharpness', 'yaw'] (see "
    "fairaudit.plugins.available('quality'))."
)
QUALITY_MEASURE_FAILED = (
    "quality measure {name!r} failed on the image {path!r} ({error}). Fix: correct the measure, or leave it "
    "out with quality=[...] (CLI: --quality NAME for the others, --no-quality for none); images already "
    "embedded are kept in the cache (--cache) and are not embedded again."
)
QUALITY_TWICE = "quality={value!r} names the measure {name!r} twice. Fix: list each measure once."
BAD_REQUIRES = (
    "quality measure {name!r}: requires={value!r} must be a tuple among {inputs}. Fix: correct the "
    "measure's 'requires' attribute."
)
BAD_QUALITY_OUTPUT = (
    "quality measure {name!r} returned {what} for the image {path!r}; expected a dict from covariate "
    "names to finite numbers, the same names for every image. Fix: correct the measure (a measure that "
    "cannot give a value for every image must not apply to the run: see its 'requires' and 'applies')."
)
QUALITY_COLUMN_CLASH = (
    "quality measures {first!r} and {second!r} both return the covariate {column!r}. Fix: run only one of "
    "them (quality=[...]) or rename the covariate in one of the plugins."
)
BAD_DETECTION = (
    "extractor {name!r}: detect_and_align_with_detection() returned {what} for the image {path!r}; it "
    "declares detection_provides={provides!r}. Fix: return (chip, Detection(box=..., confidence=..., "
    "landmarks=...)) holding what it declares, or (None, None) when no face is found."
)
QUALITY_CACHE_MIXED = (
    "quality measure {mid!r} gave the covariates {found} for some images and {expected} for others (cached "
    "by another version of the measure under the same version string). Fix: give the measure a new "
    "'version', or delete the cache directory."
)
LEFT_OUT = "quality measure {name!r} is left out of this run: {why}"


@dataclass(frozen=True)
class Detection:
    """One detected face, as an extractor gives it to the quality measures.

    ``box`` is ``(left, top, right, bottom)`` pixels, ``confidence`` the detector's score or None,
    ``landmarks`` a (5, 2) array of (x, y) pixels (dlib's 5-point order) or None.
    """

    box: tuple[int, int, int, int] | None = None
    confidence: float | None = None
    landmarks: np.ndarray | None = None


# --- the built-in measures ------------------------------------------------------------------------
def grey(image: np.ndarray) -> np.ndarray:
    """Grey level (float64, 0-255) of an RGB image: ``0.299 R + 0.587 G + 0.114 B``, unrounded."""
    rgb = np.asarray(image, dtype=np.float64)
    if rgb.ndim == 2:
        return rgb
    return rgb[..., 0] * GREY_WEIGHTS[0] + rgb[..., 1] * GREY_WEIGHTS[1] + rgb[..., 2] * GREY_WEIGHTS[2]


def clip_box(box: Sequence[float], shape: Sequence[int]) -> tuple[int, int, int, int]:
    """``box`` clipped to an image of ``shape`` (height, width, ...), at least one pixel wide and high."""
    height, width = int(shape[0]), int(shape[1])
    left = min(max(int(math.floor(box[0])), 0), width - 1)
    top = min(max(int(math.floor(box[1])), 0), height - 1)
    right = max(min(int(math.ceil(box[2])), width), left + 1)
    bottom = max(min(int(math.ceil(box[3])), height), top + 1)
    return left, top, right, bottom


def face_crop(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The grey level (float64) of the face box, clipped to the image."""
    left, top, right, bottom = clip_box(box, np.shape(image))
    return grey(np.asarray(image)[top:bottom, left:right])


def laplacian(values: np.ndarray) -> np.ndarray:
    """The 5-point Laplacian of a 2-D array, edges mirrored (``scipy.ndimage.laplace``, mode "reflect")."""
    p = np.pad(np.asarray(values, dtype=np.float64), 1, mode="symmetric")
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * p[1:-1, 1:-1]


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(eye at the image's left, eye at the image's right, nose)`` of dlib's 5 points.

    dlib's 5-point model gives the two corners of one eye (points 0, 1), of the other (2, 3) and
    the base of the nose (4); each eye's centre is the mean of its corners.
    """
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    a, b = pts[0:2].mean(axis=0), pts[2:4].mean(axis=0)
    left, right = (a, b) if a[0] <= b[0] else (b, a)
    return left, right, pts[4]


def yaw_degrees(landmarks: np.ndarray) -> float:
    """Yaw (degrees) from dlib's 5 points: ``atan2(2 s, d)``.

    ``d`` is the distance between the eye centres and ``s`` the offset of the nose point from
    their midpoint along the line from the image-left eye to the image-right eye (so an in-plane
    rotation of the head changes nothing). With the nose point half the inter-ocular distance in
    front of the eyes, an orthographic view of a head turned by ``theta`` gives ``d = w cos
    theta`` and ``s = (w / 2) sin theta``, hence exactly ``theta``. Positive: the nose is right of
    the eyes in the image (the person turns to their left); 0 for a frontal face; within -90..90.
    """
    left, right, nose = eye_centres(landmarks)
    axis = right - left
    d = float(np.hypot(axis[0], axis[1]))
    if d == 0.0:
        return 0.0
    s = float((nose - (left + right) / 2) @ (axis / d))
    return math.degrees(math.atan2(2.0 * s, d))


class FaceSize:
    """Face size: the geometric-mean side ``sqrt(width * height)`` of the box clipped to the image, pixels."""

    requires = ("box",)

    def __call__(self, image, *, box, confidence=None, landmarks=None):
        left, top, right, bottom = clip_box(box, np.shape(image))
        return {"face_size": math.sqrt((right - left) * (bottom - top))}


#: side (pixels) of the square the face's grey level is resampled to before its Laplacian
SHARPNESS_SIDE = 112


def canonical_face(grey_crop: np.ndarray, side: int = SHARPNESS_SIDE) -> np.ndarray:
    """The grey face resampled to ``side`` x ``side`` (Pillow, bilinear with antialiasing), so that a
    measure of detail compares faces of every size: a face photographed small is then less sharp,
    as it carries less detail, rather than sharper per pixel."""
    from PIL import Image

    im = Image.fromarray(np.asarray(grey_crop, dtype=np.float32), mode="F")
    return np.asarray(im.resize((side, side), Image.BILINEAR), dtype=np.float64)


class Sharpness:
    """Sharpness: variance of the Laplacian of the face's grey level, resampled to 112 x 112 pixels
    first (:func:`canonical_face`), so that blur and a low resolution both lower it."""

    requires = ("box",)
    version = "2"  # 1: on the crop at its own size

    def __call__(self, image, *, box, confidence=None, landmarks=None):
        return {"sharpness": float(np.var(laplacian(canonical_face(face_crop(image, box)))))}


class Brightness:
    """Brightness: the mean grey level of the face, 0-255."""

    requires = ("box",)

    def __call__(self, image, *, box, confidence=None, landmarks=None):
        return {"brightness": float(np.mean(face_crop(image, box)))}


class Contrast:
    """Contrast: the standard deviation (population) of the face's grey level."""

    requires = ("box",)

    def __call__(self, image, *, box, confidence=None, landmarks=None):
        return {"contrast": float(np.std(face_crop(image, box)))}


class DetectorConfidence:
    """The detector's score of the face (dlib HOG: its SVM score); only with detectors that give one."""

    requires = ("confidence",)

    def __call__(self, image, *, box=None, confidence, landmarks=None):
        return {"detector_confidence": float(confidence)}


class Yaw:
    """Head yaw in degrees from the 5 landmark points (:func:`yaw_degrees`: sign and formula)."""

    requires = ("landmarks",)

    def __call__(self, image, *, box=None, confidence=None, landmarks):
        return {"yaw": yaw_degrees(landmarks)}


# --- a run's measures -----------------------------------------------------------------------------
def extractor_provides(extractor: Any) -> tuple[str, ...]:
    """What the detections of ``extractor`` hold (``()`` without ``detect_and_align_with_detection``)."""
    if not callable(getattr(extractor, "detect_and_align_with_detection", None)):
        return ()
    provides = getattr(extractor, "detection_provides", ())
    if isinstance(provides, str):
        provides = (provides,)
    return tuple(p for p in INPUTS if p in tuple(provides or ()))


def _requires(name: str, measure: Any) -> tuple[str, ...]:
    value = getattr(measure, "requires", ())
    value = (value,) if isinstance(value, str) else value
    try:
        out = tuple(value or ())
    except TypeError:
        out = None
    if out is None or any(r not in INPUTS for r in out):
        raise FairauditInputError(BAD_REQUIRES.format(name=name, value=value, inputs=list(INPUTS)))
    return out


class QualityPlan:
    """The quality measures of one run with one extractor, and the notes on those left out.

    ``measures`` is a list of ``(name, measure, cache id)``; :meth:`compute` gives one image's
    values in the order of :attr:`columns` (fixed by the first image).
    """

    def __init__(self, measures: list[tuple[str, Any, str]], notes: list[str], extractor_name: str) -> None:
        self.measures = measures
        self.notes = notes
        self.extractor_name = extractor_name
        self._outputs: dict[str, tuple[str, ...]] = {}

    def __bool__(self) -> bool:
        return bool(self.measures)

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.measures]

    @property
    def ids(self) -> list[str]:
        """Cache ids of the measures: ``name@version``."""
        return [mid for _, _, mid in self.measures]

    @property
    def columns(self) -> list[tuple[str, str]]:
        """``(measure id, covariate name)`` of every value :meth:`compute` returns, once known."""
        return [(mid, col) for _, _, mid in self.measures for col in self._outputs.get(mid, ())]

    def compute(self, image: np.ndarray, detection: Detection | None, path: str) -> np.ndarray:
        """The values of every measure for one image, float64, in the order of :attr:`columns`."""
        det = detection if detection is not None else Detection()
        out: list[float] = []
        for name, measure, mid in self.measures:
            try:
                got = measure(image, box=det.box, confidence=det.confidence, landmarks=det.landmarks)
            except Exception as exc:  # a plugin's bug: say which measure and which image, in one line
                raise FairauditInputError(QUALITY_MEASURE_FAILED.format(
                    name=name, path=path, error=f"{type(exc).__name__}: {exc}"[:200])) from exc
            values = _check_output(name, got, path)
            known = self._outputs.setdefault(mid, tuple(values))
            if tuple(values) != known:
                raise FairauditInputError(BAD_QUALITY_OUTPUT.format(
                    name=name, what=f"the names {sorted(values)} (another image gave {list(known)})", path=path))
            out.extend(values.values())
        return np.array(out, dtype=np.float64)

    def learn(self, columns: Sequence[tuple[str, str]]) -> None:
        """Take the covariate names of each measure from cached values (in their cached order)."""
        for mid, col in columns:
            if mid in self.ids and col not in self._outputs.get(mid, ()):
                self._outputs[mid] = self._outputs.get(mid, ()) + (col,)


def _check_output(name: str, got: Any, path: str) -> dict[str, float]:
    if not isinstance(got, Mapping) or not got:
        raise FairauditInputError(BAD_QUALITY_OUTPUT.format(name=name, what=f"{type(got).__name__} {got!r}"[:120],
                                                            path=path))
    values: dict[str, float] = {}
    for key, value in got.items():
        if not isinstance(key, str) or not key:
            raise FairauditInputError(BAD_QUALITY_OUTPUT.format(name=name, what=f"the key {key!r}", path=path))
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if isinstance(value, bool) or number is None or not math.isfinite(number):
            raise FairauditInputError(BAD_QUALITY_OUTPUT.format(name=name, what=f"{key!r}: {value!r}", path=path))
        values[key] = number
    return values


def _wanted(quality: Any) -> tuple[list[str], bool]:
    """The measure names asked for, and whether they were named explicitly."""
    if quality is True or quality is None:
        return plugins.available("quality"), False
    if quality is False:
        return [], True
    if isinstance(quality, str):
        quality = [quality]
    if not isinstance(quality, (list, tuple)) or not all(isinstance(q, str) for q in quality):
        raise FairauditInputError(BAD_QUALITY.format(value=quality))
    for i, name in enumerate(quality):
        if name in quality[:i]:
            raise FairauditInputError(QUALITY_TWICE.format(value=quality, name=name))
    return list(quality), True


def plan_quality(quality: Any, extractor: Any, *, argument: str = "quality", warn: bool = True) -> QualityPlan:
    """The measures of a run: every registered one (``True``), none (``False``) or those named.

    A measure that cannot be computed with ``extractor`` is left out with a note (a warning too
    when it was named explicitly). Unknown names raise an error listing the registered ones.
    """
    names, explicit = _wanted(quality)
    if not explicit:
        # the built-ins first, in their documented order, then the plugins' in name order
        names = [n for n in BUILTIN_MEASURES if n in names] + [n for n in names if n not in BUILTIN_MEASURES]
    provides = extractor_provides(extractor)
    ext_name = str(getattr(extractor, "name", extractor))
    measures: list[tuple[str, Any, str]] = []
    notes: list[str] = []
    for name in names:
        measure = plugins.get("quality", name, argument=argument).build()
        if not callable(measure):
            raise FairauditInputError(BAD_QUALITY_OUTPUT.format(
                name=name, what=f"(its factory built {measure!r}, which is not callable)", path="-"))
        missing = [r for r in _requires(name, measure) if r not in provides]
        why = None
        if missing:
            why = (f"it needs the detection's {' and '.join(missing)}, which extractor {ext_name!r} does not give "
                   f"(it gives: {', '.join(provides) or 'no detection'})")
        elif callable(getattr(measure, "applies", None)):
            why = measure.applies(extractor)
        if why:
            notes.append(LEFT_OUT.format(name=name, why=why))
            continue
        measures.append((name, measure, f"{name}@{getattr(measure, 'version', '1')}"))
    if explicit and warn:
        for note in notes:
            warnings.warn(f"fairaudit: {note}", RuntimeWarning, stacklevel=3)
    return QualityPlan(measures, notes, ext_name)


def plan_from_names(names: Sequence[str], extractor: Any) -> QualityPlan:
    """The plan of a Dask task: the measures the caller's plan kept, rebuilt from their names."""
    return plan_quality(list(names), extractor, warn=False) if names else QualityPlan([], [], str(extractor.name))


def detect(extractor: Any, image: np.ndarray, plan: QualityPlan | None, path: str) -> tuple[Any, Detection | None]:
    """``(chip or None, detection or None)``: with the detection only when the plan needs one and the
    extractor gives one; checked to hold what the extractor declares."""
    provides = extractor_provides(extractor)
    if not plan or not provides:
        return extractor.detect_and_align(image), None
    got = extractor.detect_and_align_with_detection(image)
    what = None
    if not isinstance(got, tuple) or len(got) != 2:
        what = f"{type(got).__name__} (not a pair)"
    else:
        chip, det = got
        if chip is None:
            return None, None
        if not isinstance(det, Detection):
            what = f"a detection of type {type(det).__name__}"
        elif "box" in provides and (det.box is None or len(det.box) != 4):
            what = f"the box {det.box!r}"
        elif "confidence" in provides and (det.confidence is None or not math.isfinite(float(det.confidence))):
            what = f"the confidence {det.confidence!r}"
        elif "landmarks" in provides and (det.landmarks is None or np.shape(det.landmarks) != (5, 2)
                                          or not np.isfinite(det.landmarks).all()):
            what = f"landmarks of shape {np.shape(det.landmarks)}"
        if what is None:
            return chip, det
    raise FairauditInputError(BAD_DETECTION.format(name=extractor.name, what=what, path=path,
                                                   provides=provides))


def covariate_table(plan: QualityPlan, rows: Sequence[int], values: Mapping[int, Mapping[tuple[str, str], float]]
                    ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The covariates (name -> float64 values, in ``rows`` order) and their kinds, of the acquired rows."""
    for row in rows[:1]:
        plan.learn(list(values[row]))
    columns = plan.columns
    names: dict[str, str] = {}
    for mid, col in columns:
        if col in names:
            raise FairauditInputError(QUALITY_COLUMN_CLASH.format(first=names[col], second=mid, column=col))
        names[col] = mid
    wanted = set(columns)
    for row in rows:
        if set(values[row]) != wanted:
            odd = sorted(set(values[row]) ^ wanted)
            raise FairauditInputError(QUALITY_CACHE_MIXED.format(
                mid=odd[0][0], found=sorted(c for m, c in values[row] if m == odd[0][0]),
                expected=[c for m, c in columns if m == odd[0][0]]))
    table = {col: np.array([values[r][(mid, col)] for r in rows], dtype=np.float64) for mid, col in columns}
    return table, {col: "numeric" for col in table}
