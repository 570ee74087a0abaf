"""The ResNet-50 extractor: loading keras-vggface files, the exact preprocessing, missing weights."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import TINY_DIM, build_tiny_vggface

from fairaudit import FairauditInputError
from fairaudit_diveface import embedder, files

cv2 = pytest.importorskip("cv2")
VGGFACE2_MEANS_BGR = np.array([91.4953, 103.8827, 131.0912], dtype=np.float32)


def _manual_features(tf_keras, path, chips):
    """Independent computation: numpy preprocessing + a direct call of the saved model's avg_pool."""
    model = tf_keras.models.load_model(str(path), compile=False)
    sub = tf_keras.Model(model.inputs, model.get_layer("avg_pool").output)
    rows = []
    for chip in chips:
        x = chip if chip.shape[:2] == (224, 224) else cv2.resize(chip, (224, 224))
        x = x[:, :, ::-1].astype(np.float32) - VGGFACE2_MEANS_BGR  # RGB -> BGR, minus the means
        rows.append(np.asarray(sub(x[None], training=False)).reshape(-1))
    feats = np.array(rows, dtype=np.float64)
    return feats / np.linalg.norm(feats, axis=1, keepdims=True)


def test_loads_a_keras_vggface_file_and_applies_the_study_preprocessing(tf_keras, tiny_h5):
    rng = np.random.default_rng(1)
    chips = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8),   # no resize: pure numpy check
             rng.integers(0, 256, (97, 83, 3), dtype=np.uint8),     # resized by cv2, bilinear
             np.full((224, 224, 3), 128, dtype=np.uint8)]
    ex = embedder.VGGFace2ResNet50(weights=tiny_h5, detect=False, batch_size=2)
    assert ex.name == "vggface2-resnet50"
    assert ex.dim == TINY_DIM
    got = ex.embed(chips)
    assert got.dtype == np.float32 and got.shape == (3, TINY_DIM)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(got, _manual_features(tf_keras, tiny_h5, chips), rtol=1e-5, atol=1e-6)


def test_the_preprocessing_is_sensitive_to_channel_order_and_means(tf_keras, tiny_h5):
    rng = np.random.default_rng(2)
    chip = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    x = embedder.preprocess([chip])[0]
    np.testing.assert_array_equal(x, chip[:, :, ::-1].astype(np.float32) - VGGFACE2_MEANS_BGR)
    ex = embedder.VGGFace2ResNet50(weights=tiny_h5, detect=False)
    same, swapped = ex.embed([chip, np.ascontiguousarray(chip[:, :, ::-1])])
    assert not np.allclose(same, swapped, atol=1e-4)  # an RGB/BGR mix-up would show


def test_detect_false_keeps_the_whole_image_and_detect_true_crops(tiny_h5, standin_detector_dir):
    from conftest import encode_detections

    rows = [[0, 0, 55 / 64, 20 / 64, 20 / 64, 44 / 64, 44 / 64], [0] * 7, [0] * 7]
    image = encode_detections(rows)
    whole = embedder.VGGFace2ResNet50(weights=tiny_h5, detect=False).detect_and_align(image)
    np.testing.assert_array_equal(whole, image)
    ex = embedder.VGGFace2ResNet50(weights=tiny_h5, detector_dir=standin_detector_dir)
    np.testing.assert_array_equal(ex.detect_and_align(image), image[187:412, 187:412])
    assert ex.cache_key() != embedder.VGGFace2ResNet50(weights=tiny_h5, detect=False).cache_key()
    assert ex.cache_key().startswith("vggface2-resnet50|h5-sha256=")


def test_weights_only_file_loads_into_the_rebuilt_keras_vggface_resnet50(tf_keras, tmp_path):
    model = embedder.build_vggface_resnet50(tf_keras)
    assert model.count_params() == embedder.RESNET50_NOTOP_PARAMS
    names = [layer.name for layer in model.layers]
    assert sorted(layer.name for layer in model.layers if layer.weights) == sorted(embedder.resnet50_weight_layers())
    for name in ("conv1/7x7_s2", "conv1/7x7_s2/bn", "conv2_1_1x1_reduce", "conv2_1_1x1_proj/bn",
                 "conv5_3_1x1_increase/bn", "avg_pool"):
        assert name in names
    path = tmp_path / "rcmalli_vggface_tf_notop_resnet50.h5"
    model.save_weights(str(path))
    ex = embedder.VGGFace2ResNet50(weights=path, detect=False)
    assert ex.dim == 2048
    chip = np.random.default_rng(3).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    direct = np.asarray(model(embedder.preprocess([chip]), training=False), dtype=np.float64).reshape(1, -1)
    np.testing.assert_allclose(ex.embed([chip]), direct / np.linalg.norm(direct), rtol=1e-4, atol=1e-6)


def test_a_weights_file_of_another_network_is_refused(tf_keras, tmp_path):
    path = tmp_path / "other.h5"
    build_tiny_vggface(tf_keras).save_weights(str(path))
    with pytest.raises(FairauditInputError, match="lacks .* layer\\(s\\) of the keras-vggface ResNet-50"):
        embedder.VGGFace2ResNet50(weights=path).dim


def test_a_model_without_avg_pool_is_refused(tf_keras, tmp_path):
    inputs = tf_keras.Input(shape=(224, 224, 3))
    out = tf_keras.layers.GlobalAveragePooling2D(name="pool")(inputs)
    path = tmp_path / "no_avg_pool.h5"
    tf_keras.Model(inputs, out).save(path)
    with pytest.raises(FairauditInputError, match="has no layer named 'avg_pool'"):
        embedder.VGGFace2ResNet50(weights=path).dim


def test_not_an_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "resnet50.h5"
    path.write_text("not hdf5")
    with pytest.raises(FairauditInputError, match="is not an HDF5"):
        embedder.VGGFace2ResNet50(weights=path).dim


def test_missing_weights_name_the_file_and_every_place_looked(no_model_env, tmp_path, monkeypatch):
    given = tmp_path / "models" / "resnet50.h5"
    with pytest.raises(FairauditInputError) as exc:
        embedder.VGGFace2ResNet50(weights=given).embed([np.zeros((9, 9, 3), np.uint8)])
    assert str(exc.value) == files.MISSING_WEIGHTS.format(
        file="resnet50.h5", env="FAIRAUDIT_DIVEFACE_WEIGHTS", places=f"weights= '{given}'")

    default = no_model_env / ".fairaudit" / "diveface" / "resnet50.h5"
    with pytest.raises(FairauditInputError) as exc:
        embedder.VGGFace2ResNet50().dim
    assert str(exc.value) == files.MISSING_WEIGHTS.format(
        file="resnet50.h5", env="FAIRAUDIT_DIVEFACE_WEIGHTS",
        places=f"$FAIRAUDIT_DIVEFACE_WEIGHTS (not set); the default directory '{default}'")

    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.setenv("FAIRAUDIT_DIVEFACE_WEIGHTS", str(folder))
    with pytest.raises(FairauditInputError) as exc:
        embedder.VGGFace2ResNet50().cache_key()
    assert str(exc.value) == files.MISSING_WEIGHTS.format(
        file="resnet50.h5", env="FAIRAUDIT_DIVEFACE_WEIGHTS",
        places=f"$FAIRAUDIT_DIVEFACE_WEIGHTS '{folder / 'resnet50.h5'}'; the default directory '{default}'")


def test_weights_are_found_through_the_environment_and_the_default_directory(no_model_env, tiny_h5,
                                                                               monkeypatch):
    monkeypatch.setenv("FAIRAUDIT_DIVEFACE_WEIGHTS", str(tiny_h5))
    assert files.find_weights() == tiny_h5
    monkeypatch.delenv("FAIRAUDIT_DIVEFACE_WEIGHTS")
    default = no_model_env / ".fairaudit" / "diveface"
    default.mkdir(parents=True)
    (default / "resnet50.h5").write_bytes(tiny_h5.read_bytes())
    assert files.find_weights() == default / "resnet50.h5"


def test_constructing_and_registering_imports_neither_tensorflow_nor_cv2():
    code = (
        "import sys\n"
        "from fairaudit import plugins\n"
        "reg = plugins.get('extractor', 'vggface2-resnet50')\n"
        "ex = reg.build(weights='/nowhere/resnet50.h5', detector_dir='/nowhere')\n"
        "assert ex.name == 'vggface2-resnet50'\n"
        "assert plugins.get('dataset', 'diveface').plugin == 'diveface'\n"
        "bad = [m for m in ('tensorflow', 'tf_keras', 'keras', 'cv2') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
