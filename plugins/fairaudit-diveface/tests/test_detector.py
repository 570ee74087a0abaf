"""The SSD detector: blob, confidence rule, nearest-centre choice, clipping, missing files."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import encode_detections

from fairaudit import FairauditInputError
from fairaudit_diveface import detector as det
from fairaudit_diveface import files

cv2 = pytest.importorskip("cv2")


class RecordingNet:
    """A cv2.dnn_Net stand-in (the documented ``net=`` seam): records the blob, returns fixed detections."""

    def __init__(self, detections):
        self.detections = np.asarray(detections, dtype=np.float32).reshape(1, 1, -1, 7)
        self.blobs = []

    def setInput(self, blob):  # noqa: N802 - the cv2.dnn_Net method name
        self.blobs.append(np.array(blob, copy=True))

    def forward(self):
        return self.detections


def test_blob_is_the_300x300_bgr_image_minus_the_ssd_means():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)  # RGB, not square
    net = RecordingNet(np.zeros((1, 7)))
    det.SSDFaceDetector(net=net).detect(image)
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    resized = cv2.resize(bgr, (300, 300)).astype(np.float32)  # cv2.resize(img, (300, 300)), as the study
    expected = (resized - np.array([104.0, 177.0, 123.0], dtype=np.float32)).transpose(2, 0, 1)[None]
    assert len(net.blobs) == 1
    assert net.blobs[0].shape == (1, 3, 300, 300)
    np.testing.assert_array_equal(net.blobs[0], expected)


def _row(conf, box):
    return [0, 1, conf, *box]


def test_keeps_confidence_above_0_8_and_chooses_the_box_nearest_the_centre():
    image = np.zeros((200, 400, 3), dtype=np.uint8)  # h=200, w=400: centre (200, 100)
    rows = [  # coordinates are binary fractions, so pixel values are exact
        _row(0.99, (0.0, 0.0, 0.25, 0.375)),          # most confident, far from the centre
        _row(0.79, (0.4375, 0.375, 0.5625, 0.625)),   # exactly at the centre but not > 0.8: dropped
        _row(0.81, (0.3125, 0.25, 0.75, 0.875)),      # kept, centre (212, 112): nearest kept box
        _row(0.95, (0.625, 0.375, 0.875, 0.625)),     # kept, centre (300, 100)
    ]
    d = det.SSDFaceDetector(net=RecordingNet(rows))
    boxes = d.boxes(image)
    assert [b.confidence for b in boxes] == pytest.approx([0.99, 0.81, 0.95])
    box = d.detect(image)
    assert (box.x1, box.y1, box.x2, box.y2) == (125, 50, 300, 175)
    assert d.crop(image + 7).shape == (125, 175, 3)
    # a stricter threshold drops the 0.81 box and the next nearest wins
    strict = det.SSDFaceDetector(confidence=0.9, net=RecordingNet(rows)).detect(image)
    assert (strict.x1, strict.y1, strict.x2, strict.y2) == (250, 75, 350, 125)


def test_boxes_are_truncated_then_clipped_and_empty_ones_dropped():
    image = np.arange(100 * 50 * 3, dtype=np.uint32).reshape(100, 50, 3).astype(np.uint8)
    rows = [
        _row(0.9, (-0.2, -0.1, 0.5, 1.3)),   # (-10, -10, 25, 130) -> clipped (0, 0, 25, 100)
        _row(0.9, (1.2, 0.1, 1.5, 0.5)),     # wholly right of the image: empty after clipping
        _row(0.9, (0.123, 0.5, 0.875, 0.987)),  # 6.15 -> 6, 43.75 -> 43, 98.7 -> 98: truncation
    ]
    d = det.SSDFaceDetector(net=RecordingNet(rows))
    boxes = [(b.x1, b.y1, b.x2, b.y2) for b in d.boxes(image)]
    assert boxes == [(0, 0, 25, 100), (6, 50, 43, 98)]
    # centres (12, 50) and (24, 74) vs image centre (25, 50): distances 13 and 24
    np.testing.assert_array_equal(d.crop(image), image[0:100, 0:25])


def test_no_kept_detection_gives_none():
    image = np.zeros((50, 50, 3), dtype=np.uint8)
    d = det.SSDFaceDetector(net=RecordingNet([_row(0.79, (0.1, 0.1, 0.9, 0.9)), _row(0.3, (0, 0, 1, 1))]))
    assert d.detect(image) is None
    assert d.crop(image) is None
    assert det.SSDFaceDetector(net=RecordingNet(np.zeros((0, 7)))).crop(image) is None


def test_wrong_network_output_is_refused():
    d = det.SSDFaceDetector(net=RecordingNet(np.zeros((1, 7))))
    d._net.detections = np.zeros((1, 3, 300, 300), dtype=np.float32)
    with pytest.raises(FairauditInputError) as exc:
        d.detect(np.zeros((10, 10, 3), dtype=np.uint8))
    assert str(exc.value) == det.BAD_DETECTIONS.format(shape=(1, 3, 300, 300))


def test_real_caffe_files_through_opencv(standin_detector_dir):
    """deploy.prototxt + .caffemodel read by cv2.dnn.readNetFromCaffe, detections dictated by the image."""
    rows_bgr = [
        # B: kept (55/64 > 0.8), box centred near the image centre
        [0, 0, 55 / 64, 20 / 64, 20 / 64, 44 / 64, 44 / 64],
        # G: exactly centred but 51/64 < 0.8: dropped
        [0, 0, 51 / 64, 24 / 64, 24 / 64, 40 / 64, 40 / 64],
        # R: most confident, off-centre, partly outside the image (clipped)
        [0, 0, 61 / 64, -4 / 64, 0, 16 / 64, 70 / 64],
    ]
    image = encode_detections(rows_bgr)
    d = det.SSDFaceDetector(standin_detector_dir)
    raw = d.detections(image)
    np.testing.assert_array_equal(raw, np.asarray(rows_bgr, dtype=np.float32))
    boxes = [(b.x1, b.y1, b.x2, b.y2) for b in d.boxes(image)]
    # 20/64 * 600 = 187.5 -> 187; -37.5 -> -37 -> 0; 656.25 -> 656 -> 600
    assert boxes == [(187, 187, 412, 412), (0, 0, 150, 600)]
    np.testing.assert_array_equal(d.crop(image), image[187:412, 187:412])


def test_the_study_s_prototxt_name_is_accepted(tmp_path):
    (tmp_path / "deploy.prototxt.txt").write_text("x")
    (tmp_path / files.CAFFEMODEL_FILE).write_bytes(b"x")
    assert files.find_detector(tmp_path) == (tmp_path / "deploy.prototxt.txt", tmp_path / files.CAFFEMODEL_FILE)


def test_missing_detector_files_name_every_place_looked(no_model_env, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    needed = ("'deploy.prototxt' (or 'deploy.prototxt.txt') and "
              "'res10_300x300_ssd_iter_140000.caffemodel'")
    with pytest.raises(FairauditInputError) as exc:
        det.SSDFaceDetector(empty).detect(np.zeros((5, 5, 3), dtype=np.uint8))
    assert str(exc.value) == files.MISSING_DETECTOR.format(
        needed=needed, env="FAIRAUDIT_DIVEFACE_DETECTOR",
        places=f"detector_dir= '{empty}' (lacks deploy.prototxt or deploy.prototxt.txt and "
               "res10_300x300_ssd_iter_140000.caffemodel)")

    # nothing given: the environment variable, then the default directory
    default = no_model_env / ".fairaudit" / "diveface"
    with pytest.raises(FairauditInputError) as exc:
        files.find_detector()
    assert str(exc.value) == files.MISSING_DETECTOR.format(
        needed=needed, env="FAIRAUDIT_DIVEFACE_DETECTOR",
        places=f"$FAIRAUDIT_DIVEFACE_DETECTOR (not set); the default directory '{default}' "
               "(not a directory)")

    (empty / "deploy.prototxt").write_text("x")
    monkeypatch.setenv("FAIRAUDIT_DIVEFACE_DETECTOR", str(empty))
    with pytest.raises(FairauditInputError) as exc:
        files.find_detector()
    assert str(exc.value) == files.MISSING_DETECTOR.format(
        needed=needed, env="FAIRAUDIT_DIVEFACE_DETECTOR",
        places=f"$FAIRAUDIT_DIVEFACE_DETECTOR '{empty}' (lacks res10_300x300_ssd_iter_140000.caffemodel); "
               f"the default directory '{default}' (not a directory)")


def test_images_are_checked():
    d = det.SSDFaceDetector(net=RecordingNet(np.zeros((1, 7))))
    with pytest.raises(FairauditInputError) as exc:
        d.detect(np.zeros((4, 4, 3), dtype=np.float32))
    assert str(exc.value) == det.BAD_IMAGE.format(what="dtype float32, shape (4, 4, 3)")
    assert d.detect(np.zeros((4, 4), dtype=np.uint8)) is None  # grey is accepted
