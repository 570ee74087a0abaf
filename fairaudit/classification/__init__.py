"""Attribute classifiers on embeddings.

Modules: ``heads`` (classifier heads), ``strategies`` (demographic split strategies),
``test_sets`` (the identity-disjoint test set and the leakage checks), ``splits`` (the
``split=`` argument parsed into a strategy; re-exports ``strategies`` and ``test_sets``),
``labels`` (per-sample target and group labels), ``seeds`` (the audit's seeds), ``metrics``
(intervals over seeds and the result's tables), ``result`` (``ClassificationResult``), ``audit``
(``classification_audit``) and ``protocol`` (the reference study's protocol).

May import: ``fairaudit.data``, ``fairaudit.diagnostics`` (the study protocol runs the embedding
diagnostics), ``fairaudit.plugins`` (heads and splits are resolved by registered name) and
``fairaudit.common``.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "classification_audit": "audit",
    "ClassificationResult": "result",
    "run_study_protocol": "protocol",
    "STUDY_MIXTURES": "protocol",
    "derive_seeds": "seeds",
    "seed_interval": "metrics",
    "macro_recall": "metrics",
    "resolve_head": "heads",
    "HEADS": "heads",
    "resolve_split": "splits",
    "parse_split": "splits",
    "describe_split": "splits",
    "SPLITS": "splits",
    "SplitStrategy": "strategies",
    "PerGroup": "strategies",
    "Pooled": "strategies",
    "LeaveOneGroupOut": "strategies",
    "Mixture": "strategies",
    "Combined": "strategies",
    "MixtureSweep": "strategies",
    "CustomSplit": "strategies",
    "choose_test_set": "test_sets",
    "check_test_size": "test_sets",
    "check_identity_disjoint": "test_sets",
})
