"""The study's embedder: ResNet-50 trained on VGGFace2 (keras-vggface layout).

Preprocessing, exactly as the study: the face crop (RGB here; the study
converted its BGR crop to RGB) is resized to 224x224 with ``cv2.resize``
(bilinear) as uint8, converted to float32, its channels reversed to BGR and
the VGGFace2 means ``(91.4953, 103.8827, 131.0912)`` subtracted per BGR channel
(keras-vggface ``preprocess_input(version=2)``). The features are the output
of layer ``avg_pool`` flattened (2048 values for the real network) and
L2-normalised, so that the dot product of two embeddings is their cosine.

The model file is read with ``tf_keras`` (Keras 2): keras-vggface names its
layers with ``/`` (``conv1/7x7_s2``, ``conv1/7x7_s2/bn``), which Keras 3 refuses.
A full saved model (what the study loaded) is read with
``tf_keras.models.load_model(path, compile=False)``; a weights-only file (the
keras-vggface release files) is loaded by layer name into the rebuilt
keras-vggface ResNet-50 graph (:func:`build_vggface_resnet50`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fairaudit import FairauditInputError

from .detector import CONFIDENCE, SSDFaceDetector, as_rgb, import_cv2
from .files import find_weights

NAME = "vggface2-resnet50"
INPUT_SIZE = (224, 224)
#: keras-vggface preprocess_input(version=2): per-channel means in BGR order
MEAN_BGR = (91.4953, 103.8827, 131.0912)
FEATURE_LAYER = "avg_pool"
#: parameters of the keras-vggface ResNet-50 without its classifier (convolutions without bias)
RESNET50_NOTOP_PARAMS = 23_561_152

NO_TF_KERAS = (
    "the 'vggface2-resnet50' extractor needs TensorFlow and tf-keras (Keras 2): Keras 3 "
    "refuses the '/' in keras-vggface layer names such as 'conv1/7x7_s2'. Fix: pip install "
    "'fairaudit-diveface[tensorflow]' (tensorflow-cpu and tf-keras)."
)
NOT_HDF5 = (
    "weights file {path!r} is not an HDF5 (.h5) file ({error}). Fix: pass the Keras "
    "resnet50.h5 of the study (keras-vggface layout)."
)
NO_FEATURE_LAYER = (
    "the model in {path!r} has no layer named 'avg_pool' (its last layers: {layers}); the "
    "study's features are that layer's output. Fix: pass a keras-vggface ResNet-50 model file."
)
WEIGHTS_MISMATCH = (
    "the weights-only file {path!r} lacks {count} layer(s) of the keras-vggface ResNet-50 "
    "(e.g. {missing}); loading it by layer name would leave them random. Fix: pass the full "
    "model file the study used, or a keras-vggface ResNet-50 weights file."
)
BAD_CHIPS = (
    "embed() takes a list of face images (uint8 RGB arrays of shape (h, w, 3)); item {index} "
    "is {what}. Fix: pass the crops returned by detect_and_align()."
)
BAD_BATCH_SIZE = "batch_size={value!r} must be an integer >= 1. Fix: pass e.g. batch_size=32."


def import_tf_keras() -> Any:
    """``tf_keras``, or an error that says how to install it."""
    try:
        import tf_keras
    except ImportError:
        raise FairauditInputError(NO_TF_KERAS) from None
    return tf_keras


def preprocess(chips: Sequence[Any]) -> np.ndarray:
    """The network input for face crops: float32 (n, 224, 224, 3), BGR minus the VGGFace2 means."""
    cv2 = import_cv2()
    out = np.empty((len(chips), *INPUT_SIZE, 3), dtype=np.float32)
    for i, chip in enumerate(chips):
        try:
            rgb = as_rgb(chip)
        except FairauditInputError:
            arr = np.asarray(chip)
            raise FairauditInputError(BAD_CHIPS.format(
                index=i, what=f"an array of dtype {arr.dtype} and shape {arr.shape}")) from None
        resized = cv2.resize(rgb, INPUT_SIZE)  # uint8 in, uint8 out, bilinear, as the study
        out[i] = resized[:, :, ::-1].astype(np.float32) - np.asarray(MEAN_BGR, dtype=np.float32)
    return out


def _h5_info(path: Path) -> tuple[bool, set[str]]:
    """Whether the file holds a full model, and the names of the layers it has weights for."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            full = "model_config" in f.attrs
            group = f["model_weights"] if full and "model_weights" in f else f
            names = group.attrs.get("layer_names", list(group.keys()))
            return full, {n.decode() if isinstance(n, bytes) else str(n) for n in names}
    except OSError as exc:
        raise FairauditInputError(NOT_HDF5.format(path=str(path), error=exc)) from None


#: (stage, filters, blocks, stride of the first block) of the ResNet-50 stages
_STAGES = ((2, (64, 64, 256), 3, 1), (3, (128, 128, 512), 4, 2),
           (4, (256, 256, 1024), 6, 2), (5, (512, 512, 2048), 3, 2))


def resnet50_weight_layers() -> list[str]:
    """Names of the keras-vggface ResNet-50 layers that hold weights, without building it."""
    names = ["conv1/7x7_s2", "conv1/7x7_s2/bn"]
    for stage, _, n_blocks, _ in _STAGES:
        for index in range(1, n_blocks + 1):
            parts = ["1x1_reduce", "3x3", "1x1_increase"] + (["1x1_proj"] if index == 1 else [])
            for part in parts:
                names += [f"conv{stage}_{index}_{part}", f"conv{stage}_{index}_{part}/bn"]
    return names


def build_vggface_resnet50(keras: Any) -> Any:
    """The keras-vggface ResNet-50 graph without its classifier, input 224x224x3.

    Layer names follow keras-vggface (``conv1/7x7_s2``, ``conv2_1_1x1_reduce/bn``,
    ``conv2_1_1x1_proj``, ..., ``avg_pool``) so that a weights file loads by
    name. Convolutions have no bias; batch normalisation uses Keras' default
    epsilon (1e-3), as keras-vggface's ResNet-50 does.
    """
    layers = keras.layers

    def conv_bn(x: Any, filters: int, kernel: int, name: str, strides: int = 1,
                padding: str = "valid", relu: bool = True) -> Any:
        x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
        x = layers.BatchNormalization(axis=3, name=f"{name}/bn")(x)
        return layers.Activation("relu")(x) if relu else x

    def block(x: Any, filters: tuple[int, int, int], stage: int, index: int, strides: int) -> Any:
        f1, f2, f3 = filters
        base = f"conv{stage}_{index}"
        y = conv_bn(x, f1, 1, f"{base}_1x1_reduce", strides=strides)  # the stride sits on the 1x1, as in Caffe
        y = conv_bn(y, f2, 3, f"{base}_3x3", padding="same")
        y = conv_bn(y, f3, 1, f"{base}_1x1_increase", relu=False)
        shortcut = conv_bn(x, f3, 1, f"{base}_1x1_proj", strides=strides, relu=False) if index == 1 else x
        return layers.Activation("relu")(layers.add([y, shortcut]))

    inputs = keras.Input(shape=(*INPUT_SIZE, 3))
    x = conv_bn(inputs, 64, 7, "conv1/7x7_s2", strides=2, padding="same")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    for stage, filters, n_blocks, stride in _STAGES:
        for index in range(1, n_blocks + 1):
            x = block(x, filters, stage, index, stride if index == 1 else 1)
    x = layers.AveragePooling2D((7, 7), name=FEATURE_LAYER)(x)
    return keras.Model(inputs, x, name="vggface_resnet50")


def load_feature_model(path: str | Path) -> Any:
    """A tf_keras model mapping preprocessed (n, 224, 224, 3) input to flattened ``avg_pool`` output."""
    path = Path(path)
    full, names = _h5_info(path)
    keras = import_tf_keras()
    if full:
        model = keras.models.load_model(str(path), compile=False)
    else:
        # Keras loads by name silently skipping absent layers: check first, or they stay random
        missing = [n for n in resnet50_weight_layers() if n not in names]
        if missing:
            raise FairauditInputError(WEIGHTS_MISMATCH.format(
                path=str(path), count=len(missing), missing=missing[:5]))
        model = build_vggface_resnet50(keras)
        model.load_weights(str(path), by_name=True)
    try:
        layer = model.get_layer(FEATURE_LAYER)
    except ValueError:
        tail = [layer.name for layer in model.layers[-5:]]
        raise FairauditInputError(NO_FEATURE_LAYER.format(path=str(path), layers=tail)) from None
    features = keras.layers.Flatten(name="fairaudit_features")(layer.output)
    return keras.Model(model.inputs, features, name="vggface2_resnet50_features")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class VGGFace2ResNet50:
    """The study's extractor: SSD face detection, then ResNet-50 (VGGFace2) features.

    Parameters
    ----------
    weights : path, optional
        The Keras ``resnet50.h5`` (a file, or a directory holding it); default
        ``$FAIRAUDIT_DIVEFACE_WEIGHTS``, then ``~/.fairaudit/diveface``.
    detector_dir : path, optional
        Directory of the SSD detector files (see :class:`SSDFaceDetector`).
    detect : bool, default True
        Detect and crop the face. With False the whole image is the face:
        what the study's code did for the DiveFace images, which are already
        face crops (only the photos of task 1.0 went through the detector).
        No detector files are needed then.
    confidence : float, default 0.8
        Detector confidence threshold.
    batch_size : int, default 32
        Faces per forward pass of the network.
    detector : SSDFaceDetector, optional
        A ready detector (e.g. built around a test network).

    Notes
    -----
    Nothing is loaded at construction: the weights are located and loaded on
    the first call to :meth:`embed` (or :attr:`dim`), the detector on the
    first :meth:`detect_and_align`. TensorFlow is imported only then.
    """

    name = NAME

    def __init__(self, weights: Any = None, detector_dir: Any = None, *, detect: bool = True,
                 confidence: float = CONFIDENCE, batch_size: int = 32,
                 detector: SSDFaceDetector | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise FairauditInputError(BAD_BATCH_SIZE.format(value=batch_size))
        self.weights = weights
        self.detector_dir = detector_dir
        self.detect = bool(detect)
        self.confidence = confidence
        self.batch_size = batch_size
        self.detector = detector if detector is not None else SSDFaceDetector(
            detector_dir, confidence=confidence)
        self._model: Any = None
        self._weights_path: Path | None = None
        self._weights_sha256: str | None = None

    # -- files and model -------------------------------------------------
    @property
    def weights_path(self) -> Path:
        """The located weights file (raises the missing-file error when absent)."""
        if self._weights_path is None:
            self._weights_path = find_weights(self.weights)
        return self._weights_path

    @property
    def model(self) -> Any:
        """The tf_keras feature model (loaded on first use)."""
        if self._model is None:
            self._model = load_feature_model(self.weights_path)
        return self._model

    @property
    def dim(self) -> int:
        """Width of the features: the flattened ``avg_pool`` output (2048 for the real network)."""
        return int(self.model.output_shape[-1])

    def cache_key(self) -> str:
        """Identifies the weights (SHA-256 of the file), the preprocessing and the detection rules."""
        if self._weights_sha256 is None:
            self._weights_sha256 = _sha256(self.weights_path)
        crop = (f"ssd300-mean104,177,123-conf>{self.detector.confidence:g}-nearest-centre"
                if self.detect else "whole-image")
        return f"{NAME}|h5-sha256={self._weights_sha256}|prep=vggface2-v2-bgr-224-bilinear|{crop}|l2"

    def with_detection(self) -> "VGGFace2ResNet50":
        """A copy that detects faces (for task 1.0's photos), sharing the loaded network."""
        twin = VGGFace2ResNet50(self.weights, self.detector_dir, detect=True,
                                confidence=self.confidence, batch_size=self.batch_size,
                                detector=self.detector)
        twin._model, twin._weights_path = self._model, self._weights_path
        twin._weights_sha256 = self._weights_sha256
        return twin

    # -- the extractor protocol -----------------------------------------------
    def detect_and_align(self, image: Any) -> np.ndarray | None:
        """The face crop of an RGB image (uint8 RGB), or None when no face is kept.

        With ``detect=False`` the whole image is returned.
        """
        if not self.detect:
            return as_rgb(image)
        return self.detector.crop(image)

    def embed(self, faces: Sequence[Any]) -> np.ndarray:
        """L2-normalised features of face crops: float32 (n, dim)."""
        faces = list(faces)
        model = self.model
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(faces), self.batch_size):
            x = preprocess(faces[start:start + self.batch_size])
            out = np.asarray(model(x, training=False), dtype=np.float64)
            parts.append(out.reshape(len(x), -1))
        feats = np.vstack(parts)
        norms = np.linalg.norm(feats, axis=1, keepdims=True)
        # a zero vector stays zero (EmbeddingSet then refuses it loudly) instead of becoming NaN
        feats = feats / np.where(norms > 0, norms, 1.0)
        return feats.astype(np.float32)

    def __repr__(self) -> str:
        return (f"VGGFace2ResNet50(weights={self.weights!r}, detector_dir={self.detector_dir!r}, "
                f"detect={self.detect})")


def make_extractor(weights: Any = None, detector_dir: Any = None, **options: Any) -> VGGFace2ResNet50:
    """Factory registered as ``vggface2-resnet50`` (see :class:`VGGFace2ResNet50`)."""
    return VGGFace2ResNet50(weights=weights, detector_dir=detector_dir, **options)
