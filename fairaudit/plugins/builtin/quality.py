"""Built-in image quality measures: face size, sharpness, brightness, contrast, detector confidence
and yaw, registered through the same ``register_quality`` hook as any plugin's.

Registering imports nothing heavy: each factory imports :mod:`fairaudit.images.quality` (NumPy
only) when the measure is first built.
"""

from __future__ import annotations

from fairaudit.plugins.hookspecs import hookimpl


def _measure(class_name: str):
    def build(**options):
        from fairaudit.images import quality

        return getattr(quality, class_name)(**options)

    build.__name__ = class_name
    return build


@hookimpl
def register_quality(register):
    register("face_size", _measure("FaceSize"),
             description="face box size in pixels: sqrt(width * height) of the box clipped to the image")
    register("sharpness", _measure("Sharpness"),
             description="variance of the Laplacian of the face's grey level (lower: blurrier)")
    register("brightness", _measure("Brightness"), description="mean grey level of the face, 0-255")
    register("contrast", _measure("Contrast"), description="standard deviation of the face's grey level")
    register("detector_confidence", _measure("DetectorConfidence"),
             description="the face detector's score (dlib HOG; not given by the Haar cascade)")
    register("yaw", _measure("Yaw"),
             description="head yaw in degrees from the 5 landmarks: atan2(2 s, d), positive with the nose "
                         "right of the eyes in the image")
