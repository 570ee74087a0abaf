"""Where the user-supplied model files are looked for.

fairaudit never downloads weights. The study's two models are found, in this
order, at the path given explicitly (``weights=`` / ``detector_dir=``, CLI
``--weights`` / ``--detector``), else at the path in an environment variable,
else in the default directory ``~/.fairaudit/diveface``. A path given
explicitly is the only place looked at: a typo there must not silently fall
back to another copy of the files.

The error raised when a file is missing says which file is needed and lists
every place it was looked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fairaudit import FairauditInputError

WEIGHTS_ENV = "FAIRAUDIT_DIVEFACE_WEIGHTS"
DETECTOR_ENV = "FAIRAUDIT_DIVEFACE_DETECTOR"
WEIGHTS_FILE = "resnet50.h5"
#: the study's copy was named ``deploy.prototxt.txt``; OpenCV's samples call it ``deploy.prototxt``
PROTOTXT_FILES = ("deploy.prototxt", "deploy.prototxt.txt")
CAFFEMODEL_FILE = "res10_300x300_ssd_iter_140000.caffemodel"

MISSING_WEIGHTS = (
    "the 'vggface2-resnet50' extractor needs the Keras ResNet-50 VGGFace2 model file "
    "{file!r} (keras-vggface layout: layers 'conv1/7x7_s2' ... 'avg_pool'), but it is not "
    "at any of the places looked at: {places}. Fix: pass weights=PATH (CLI: --weights PATH) "
    "or set {env}=PATH to your copy of {file}; fairaudit never downloads weights."
)
MISSING_DETECTOR = (
    "the OpenCV SSD face detector needs the files {needed} together in one directory, but "
    "no directory looked at holds them: {places}. Fix: pass detector_dir=DIR (CLI: "
    "--detector DIR) or set {env}=DIR to the directory holding your copies of these files; "
    "fairaudit never downloads them."
)


def default_dir() -> Path:
    """The default directory of the model files: ``~/.fairaudit/diveface``."""
    return Path.home() / ".fairaudit" / "diveface"


def _candidates(explicit: Any, env: str, argument: str) -> list[tuple[str, Path]]:
    """``(where, path)`` pairs to look at, in order (see the module docstring)."""
    if explicit is not None:
        return [(f"{argument}=", Path(os.fspath(explicit)).expanduser())]
    out = []
    value = os.environ.get(env)
    if value:
        out.append((f"${env}", Path(value).expanduser()))
    else:
        out.append((f"${env} (not set)", None))
    out.append(("the default directory", default_dir()))
    return out


def find_weights(weights: Any = None) -> Path:
    """The path of ``resnet50.h5``.

    ``weights`` (or ``$FAIRAUDIT_DIVEFACE_WEIGHTS``) may name the file itself
    (any file name) or a directory that holds ``resnet50.h5``.

    Raises
    ------
    FairauditInputError
        :data:`MISSING_WEIGHTS`, listing every place looked at.
    """
    looked = []
    for where, path in _candidates(weights, WEIGHTS_ENV, "weights"):
        if path is None:
            looked.append(where)
            continue
        target = path / WEIGHTS_FILE if path.is_dir() or where == "the default directory" else path
        if target.is_file():
            return target
        looked.append(f"{where} {str(target)!r}")
    raise FairauditInputError(MISSING_WEIGHTS.format(
        file=WEIGHTS_FILE, places="; ".join(looked), env=WEIGHTS_ENV))


def _detector_files(directory: Path) -> tuple[Path | None, Path | None]:
    prototxt = next((directory / n for n in PROTOTXT_FILES if (directory / n).is_file()), None)
    model = directory / CAFFEMODEL_FILE
    return prototxt, (model if model.is_file() else None)


def find_detector(detector_dir: Any = None) -> tuple[Path, Path]:
    """The paths of the SSD detector's ``deploy.prototxt`` and ``.caffemodel``.

    Raises
    ------
    FairauditInputError
        :data:`MISSING_DETECTOR`, listing every directory looked at and what
        each one lacks.
    """
    looked = []
    for where, path in _candidates(detector_dir, DETECTOR_ENV, "detector_dir"):
        if path is None:
            looked.append(where)
            continue
        if not path.is_dir():
            looked.append(f"{where} {str(path)!r} (not a directory)")
            continue
        prototxt, model = _detector_files(path)
        if prototxt is not None and model is not None:
            return prototxt, model
        lacks = ([f"{' or '.join(PROTOTXT_FILES)}"] if prototxt is None else []) + (
            [CAFFEMODEL_FILE] if model is None else [])
        looked.append(f"{where} {str(path)!r} (lacks {' and '.join(lacks)})")
    needed = f"{PROTOTXT_FILES[0]!r} (or {PROTOTXT_FILES[1]!r}) and {CAFFEMODEL_FILE!r}"
    raise FairauditInputError(MISSING_DETECTOR.format(
        needed=needed, places="; ".join(looked), env=DETECTOR_ENV))
