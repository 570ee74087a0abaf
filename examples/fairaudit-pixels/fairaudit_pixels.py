"""A complete fairaudit plugin: a toy extractor (Haar face detection, 16x16 grey pixels as the
embedding) and a toy quality measure (the share of saturated pixels of the face)."""

import numpy as np

from fairaudit import hookimpl


class PixelExtractor:
    name = "pixels"
    dim = 256
    # what its detections give the quality measures: a box (Haar gives no score, no landmarks)
    detection_provides = ("box",)

    def detect_and_align_with_detection(self, image):
        import cv2
        from fairaudit.images.extractors import Detection, HaarDetector

        boxes = HaarDetector().detect(image)  # largest face first
        if not boxes:
            return None, None  # fairaudit records "no face found" for this image
        left, top, right, bottom = boxes[0]
        face = cv2.cvtColor(image[top:bottom, left:right], cv2.COLOR_RGB2GRAY)
        chip = cv2.resize(face, (16, 16), interpolation=cv2.INTER_AREA)
        return chip, Detection(box=(left, top, right, bottom))

    def detect_and_align(self, image):
        return self.detect_and_align_with_detection(image)[0]

    def embed(self, chips):
        return np.stack([chip.astype(np.float32).ravel() + 1.0 for chip in chips])

    def cache_key(self):
        return "pixels-v1"


class SaturatedShare:
    """Share of the face's pixels (of the whole image without a box) clipped at 0 or 255 in any channel."""

    requires = ()  # needs nothing but the image: applies with every extractor
    version = "1"  # part of the cache key of its values: change it when the values would change

    def __call__(self, image, *, box, confidence, landmarks):
        if box is not None:
            left, top, right, bottom = (max(int(v), 0) for v in box)
            image = image[top:bottom, left:right]
        if image.size == 0:
            return {"saturated_share": 0.0}
        clipped = ((image == 0) | (image == 255)).any(axis=-1)
        return {"saturated_share": float(clipped.mean())}


@hookimpl
def register_extractors(register):
    register("pixels", PixelExtractor, description="toy example: 16x16 grey pixels of the Haar face")


@hookimpl
def register_quality(register):
    register("saturated_share", SaturatedShare,
             description="toy example: share of the face's pixels clipped at 0 or 255")
