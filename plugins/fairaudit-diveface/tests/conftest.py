"""Fixtures: small files in the layouts the plugin reads, built at test time.

Nothing is downloaded: the model file is a tiny tf_keras network with
keras-vggface layer names, the detector a tiny Caffe network written here,
and the DiveFace folder holds augmented copies of two photos that installed
packages ship (matplotlib's Grace Hopper, scikit-image's astronaut).
"""

from __future__ import annotations

import os
from pathlib import Path

import sys

import numpy as np
import pytest

# the test modules import helpers from this file (`from conftest import ...`); under pytest's
# importlib import mode, which the fairaudit repository uses, this folder is not on sys.path
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

#: width of the tiny model's avg_pool layer
TINY_DIM = 16
#: the six DiveFace groups
GROUPS = ("HA4K_120", "HB4K_120", "HN4K_120", "MA4K_120", "MB4K_120", "MN4K_120")


def build_tiny_vggface(keras, seed: int = 0):
    """A small functional model with keras-vggface style names ('/' included) and an avg_pool layer."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input(shape=(224, 224, 3))
    x = layers.Conv2D(8, 7, strides=4, padding="same", use_bias=False, name="conv1/7x7_s2")(inputs)
    x = layers.BatchNormalization(name="conv1/7x7_s2/bn")(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(TINY_DIM, 3, strides=4, use_bias=False, name="conv2_1_1x1_reduce")(x)
    x = layers.BatchNormalization(name="conv2_1_1x1_reduce/bn")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    out = layers.Dense(5, activation="softmax", name="classifier")(x)
    model = keras.Model(inputs, out, name="tiny_vggface")
    # non-trivial batch-norm statistics, so that a wrong preprocessing shows
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            rng = np.random.default_rng(seed)
            layer.set_weights([gamma * 1.5, beta + 0.1, mean + rng.normal(0, 5, mean.shape),
                               var * 20 + 1])
    return model


@pytest.fixture(scope="session")
def tf_keras():
    return pytest.importorskip("tf_keras", reason="pip install tensorflow-cpu tf-keras")


@pytest.fixture(scope="session")
def tiny_h5(tf_keras, tmp_path_factory) -> Path:
    """A full saved model (config + weights), like the study's resnet50.h5, but tiny."""
    path = tmp_path_factory.mktemp("weights") / "resnet50.h5"
    build_tiny_vggface(tf_keras).save(path)
    return path


# --- the SSD detector stand-in ------------------------------------------------------
#: A Caffe network with the SSD detector's I/O: image blob (1, 3, 300, 300) in,
#: detections (1, 1, 3, 7) out. It reads the detections off the blob: row 0,
#: columns 0-6 of channel c (B, G, R after the mean subtraction) scaled by 1/64
#: become detection c. A test image can therefore dictate the detections exactly.
STANDIN_PROTOTXT = """name: "ssd_io_standin"
input: "data"
input_shape { dim: 1 dim: 3 dim: 300 dim: 300 }
layer { name: "row0" type: "Slice" bottom: "data" top: "row0" top: "other_rows"
        slice_param { axis: 2 slice_point: 1 } }
layer { name: "cols" type: "Slice" bottom: "row0" top: "fields" top: "other_cols"
        slice_param { axis: 3 slice_point: 7 } }
layer { name: "scale" type: "Power" bottom: "fields" top: "scaled"
        power_param { power: 1 scale: 0.015625 shift: 0 } }
layer { name: "detection_out" type: "Reshape" bottom: "scaled" top: "detection_out"
        reshape_param { shape { dim: 1 dim: 1 dim: 3 dim: 7 } } }
"""
#: a serialized caffe.NetParameter holding only the name (the layers have no weights)
STANDIN_CAFFEMODEL = b"\x0a\x0essd_io_standin"
MEAN_BGR = (104, 177, 123)


@pytest.fixture(scope="session")
def standin_detector_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("detector")
    (folder / "deploy.prototxt").write_text(STANDIN_PROTOTXT)
    (folder / "res10_300x300_ssd_iter_140000.caffemodel").write_bytes(STANDIN_CAFFEMODEL)
    return folder


def encode_detections(rows_bgr, size: int = 600, fill: int = 90) -> np.ndarray:
    """An RGB image (size x size) whose blob makes the stand-in return ``rows_bgr``.

    ``rows_bgr`` holds 3 detections (one per B, G, R channel) of 7 values, each
    a multiple of 1/64. Every value v becomes pixel ``mean + 64 v`` in a 2x2
    block, which the 2x bilinear resize to 300x300 keeps exactly.
    """
    assert size == 600  # exact 2x downscale to 300
    bgr = np.full((size, size, 3), fill, dtype=np.uint8)
    for c, row in enumerate(rows_bgr):
        for j, v in enumerate(row):
            p = MEAN_BGR[c] + 64 * v
            assert float(p).is_integer() and 0 <= p <= 255, (c, j, v, p)
            bgr[0:2, 2 * j:2 * j + 2, c] = int(p)
    return np.ascontiguousarray(bgr[:, :, ::-1])


# --- the DiveFace folder -------------------------------------------------------------
def source_photos() -> list[np.ndarray]:
    """The two real photos installed packages ship, as RGB uint8."""
    import matplotlib
    from skimage import data

    cv2 = pytest.importorskip("cv2")
    hopper = cv2.imread(os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg"))
    return [np.ascontiguousarray(hopper[:, :, ::-1]), data.astronaut()]


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A flipped / cropped / brightened copy, resized to 120x120 like DiveFace's 4K_120 images."""
    import cv2

    out = image[:, ::-1] if rng.random() < 0.5 else image
    h, w = out.shape[:2]
    dy, dx = rng.integers(0, h // 8), rng.integers(0, w // 8)
    out = out[dy:h - rng.integers(0, h // 8), dx:w - rng.integers(0, w // 8)]
    out = np.clip(out.astype(np.float32) * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)
    return cv2.resize(np.ascontiguousarray(out), (120, 120))


def make_diveface(root: Path, *, identities: int = 4, images: int = 3, seed: int = 0,
                  groups=GROUPS) -> Path:
    """``root/<GROUP>/<identity>/<image>.jpg`` made of augmented copies of the two photos."""
    import cv2

    rng = np.random.default_rng(seed)
    photos = source_photos()
    for g, group in enumerate(groups):
        for i in range(identities):
            folder = root / group / f"{1000 * (g + 1) + i}"
            folder.mkdir(parents=True)
            base = photos[(g + i) % 2]
            for k in range(images):
                rgb = augment(base, rng)
                cv2.imwrite(str(folder / f"{folder.name}_{k}.jpg"), np.ascontiguousarray(rgb[:, :, ::-1]))
    return root


@pytest.fixture(scope="session")
def diveface_root(tmp_path_factory) -> Path:
    return make_diveface(tmp_path_factory.mktemp("diveface") / "4K_120")


@pytest.fixture
def no_model_env(monkeypatch, tmp_path):
    """No environment variable set and an empty home, so no copy of the files can be found."""
    monkeypatch.delenv("FAIRAUDIT_DIVEFACE_WEIGHTS", raising=False)
    monkeypatch.delenv("FAIRAUDIT_DIVEFACE_DETECTOR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"
