"""A complete fairaudit extractor plugin: Haar face detection, 16x16 grey pixels as the embedding."""

import numpy as np

from fairaudit import hookimpl


class PixelExtractor:
    name = "pixels"
    dim = 256

    def detect_and_align(self, image):
        import cv2
        from fairaudit.images.extractors import HaarDetector

        boxes = HaarDetector().detect(image)  # largest face first
        if not boxes:
            return None  # fairaudit records "no face found" for this image
        left, top, right, bottom = boxes[0]
        face = cv2.cvtColor(image[top:bottom, left:right], cv2.COLOR_RGB2GRAY)
        return cv2.resize(face, (16, 16), interpolation=cv2.INTER_AREA)

    def embed(self, chips):
        return np.stack([chip.astype(np.float32).ravel() + 1.0 for chip in chips])

    def cache_key(self):
        return "pixels-v1"


@hookimpl
def register_extractors(register):
    register("pixels", PixelExtractor, description="toy example: 16x16 grey pixels of the Haar face")
