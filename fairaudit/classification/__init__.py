"""Attribute classifiers on embeddings: heads (``heads``), demographic split strategies and the
identity-disjoint test sets (``splits``), the audit, its result and the study protocol (``audit``).

May import: ``fairaudit.data``, ``fairaudit.diagnostics`` (the study protocol runs the embedding
diagnostics), ``fairaudit.plugins`` (heads and splits are resolved by registered name) and
``fairaudit.common``.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "classification_audit": "audit",
    "ClassificationResult": "audit",
    "run_study_protocol": "audit",
    "resolve_head": "heads",
    "resolve_split": "splits",
    "choose_test_set": "splits",
    "HEADS": "heads",
    "SPLITS": "splits",
})
