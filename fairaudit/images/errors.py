"""The errors of reading an image file (:class:`ImageReadError` and its two kinds, damaged and too
large) and the templates of their messages and reasons, which the integrity checks of
:mod:`fairaudit.images.damage` fill in too.
"""

from __future__ import annotations

from fairaudit.common.errors import FairauditInputError


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
