"""Built-in extractors: dlib's face recognition ResNet with a HOG or a Haar face detector.

Registering imports neither dlib nor OpenCV and loads no weights: the
factories import :mod:`fairaudit.images` when an extractor is first built,
and the extractor loads its models when first used.
"""

from __future__ import annotations

from typing import Any

from fairaudit.plugins.hookspecs import hookimpl


def dlib_resnet(**options: Any) -> Any:
    """``DlibResnetExtractor`` with dlib's HOG face detector."""
    from fairaudit.images import DlibResnetExtractor

    return DlibResnetExtractor(detector="hog", **options)


def dlib_resnet_haar(**options: Any) -> Any:
    """``DlibResnetExtractor`` with OpenCV's Haar cascade as the face detector."""
    from fairaudit.images import DlibResnetExtractor

    return DlibResnetExtractor(detector="haar", **options)


@hookimpl
def register_extractors(register):
    register("dlib-resnet", dlib_resnet,
             description="dlib HOG detector, 5-point alignment, dlib ResNet; 128-d "
                         "(weights from the pip package face-recognition-models)")
    register("dlib-resnet-haar", dlib_resnet_haar,
             description="as dlib-resnet, with OpenCV's Haar cascade as the face detector")
