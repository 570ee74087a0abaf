"""fairaudit: audit face biometrics for demographic bias.

``import fairaudit`` stays light: heavy dependencies (TensorFlow, OpenCV, dlib,
Dask) are imported only inside the functions that use them, and submodules
that pull in scikit-learn or matplotlib are loaded on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from .embeddings import EmbeddingSet
from .errors import FairauditInputError
from .hookspecs import hookimpl

_LAZY = {
    "ScoreSet": ("fairaudit.scores", "ScoreSet"),
    "verification_audit": ("fairaudit.verification", "verification_audit"),
    "VerificationResult": ("fairaudit.verification", "VerificationResult"),
    "classification_audit": ("fairaudit.classification", "classification_audit"),
    "ClassificationResult": ("fairaudit.classification", "ClassificationResult"),
    "embedding_diagnostics": ("fairaudit.diagnostics", "embedding_diagnostics"),
    "DiagnosticsResult": ("fairaudit.diagnostics", "DiagnosticsResult"),
    "synthetic": ("fairaudit.synthetic", None),
    "plot": ("fairaudit.plot", None),
    "fairness": ("fairaudit.fairness", None),
    "report": ("fairaudit.report", None),
    "extract": ("fairaudit.extraction", "extract"),
    "load_dataset": ("fairaudit.datasets", "load_dataset"),
}

__all__ = ["EmbeddingSet", "FairauditInputError", "hookimpl", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'fairaudit' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
