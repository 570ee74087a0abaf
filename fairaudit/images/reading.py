"""Reading an image file: checked to be a regular, non-empty file of a sane size, opened by Pillow
(header only), its size checked against ``max_pixels``, a JPEG or PNG checked for damage
(:mod:`fairaudit.images.damage`), then decoded to HxWx3 uint8 RGB as OpenCV decodes it. Also
``_as_rgb``, the check of an image array handed to a detector.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from typing import Any

import numpy as np

from fairaudit.common.errors import FairauditInputError
from fairaudit.images.damage import _Damage
from fairaudit.images.damage.jpeg_structure import _JPEG_SIGNATURE, _check_jpeg
from fairaudit.images.damage.png import _PNG_SIGNATURE, _check_png
from fairaudit.images.errors import (
    FIX_ACCESS,
    FIX_DAMAGED,
    FIX_MEMORY,
    FIX_MISSING,
    FIX_PILLOW_LIMIT,
    FIX_TOO_LARGE,
    FIX_UNDECODABLE,
    WHY_BAD_PATH,
    WHY_CORRUPT,
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
BAD_MAX_PIXELS = (
    "max_pixels={value!r} must be an integer >= 1, the most pixels (width x height) an image may "
    "have. Fix: pass e.g. max_pixels=100_000_000 (--max-pixels 100000000)."
)
BAD_IMAGE = (
    "image must be an HxWx3 uint8 RGB array (or HxW grayscale); got {what}. Fix: read it with "
    "fairaudit.images.read_image(path)."
)


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


def _check_structure(signature: str, data: bytes, name: str, *, header_only: bool = False) -> None:
    try:
        if signature == "JPEG":
            _check_jpeg(data, header_only=header_only)
        else:
            _check_png(data)
    except _Damage as damage:
        raise ImageDamagedError(name, damage.why, FIX_DAMAGED) from None


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
