"""fairaudit: audit face biometrics for demographic bias.

The package follows the pipeline, one sub-package per stage::

    images/ -> data/ -> verification/, classification/, diagnostics/ -> reporting/ -> cli/

with ``common/`` (errors, files, JSON, provenance) below every stage and ``plugins/`` (hooks and the
registry) beside them. The names users need are here, at the top.

``import fairaudit`` stays light: heavy dependencies (TensorFlow, OpenCV, dlib,
Dask) are imported only inside the functions that use them, and submodules
that pull in scikit-learn or matplotlib are loaded on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

from fairaudit.common.errors import FairauditInputError  # noqa: E402
from fairaudit.data import EmbeddingSet  # noqa: E402
from fairaudit.plugins import hookimpl  # noqa: E402

_LAZY = {
    "ScoreSet": ("fairaudit.data.score_set", "ScoreSet"),
    "verification_audit": ("fairaudit.verification.audit", "verification_audit"),
    "VerificationResult": ("fairaudit.verification.result", "VerificationResult"),
    "verification_what_if": ("fairaudit.verification.whatif", "verification_what_if"),
    "WhatIfResult": ("fairaudit.verification.whatif_result", "WhatIfResult"),
    "classification_audit": ("fairaudit.classification.audit", "classification_audit"),
    "identification_audit": ("fairaudit.identification.audit", "identification_audit"),
    "IdentificationResult": ("fairaudit.identification.result", "IdentificationResult"),
    "compare_systems": ("fairaudit.systems.compare", "compare_systems"),
    "SystemComparison": ("fairaudit.systems.result", "SystemComparison"),
    "covariate_audit": ("fairaudit.covariates.audit", "covariate_audit"),
    "CovariateResult": ("fairaudit.covariates.result", "CovariateResult"),
    "ClassificationResult": ("fairaudit.classification.result", "ClassificationResult"),
    "mitigate_classifier": ("fairaudit.classification.mitigation", "mitigate_classifier"),
    "MitigationResult": ("fairaudit.classification.mitigation_result", "MitigationResult"),
    "plan_sample_size": ("fairaudit.planning.plan", "plan_sample_size"),
    "PlanResult": ("fairaudit.planning.result", "PlanResult"),
    "embedding_diagnostics": ("fairaudit.diagnostics.audit", "embedding_diagnostics"),
    "DiagnosticsResult": ("fairaudit.diagnostics.audit", "DiagnosticsResult"),
    "synthetic": ("fairaudit.data.synthetic", None),
    "identification": ("fairaudit.identification", None),
    "plot": ("fairaudit.verification.plots", None),
    "fairness": ("fairaudit.verification.fairness", None),
    "errors": ("fairaudit.common.errors", None),
    "report": ("fairaudit.reporting.document", "report"),
    "extract": ("fairaudit.images.extraction", "extract"),
    "load_dataset": ("fairaudit.images.datasets", "load_dataset"),
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
