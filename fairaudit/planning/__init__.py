"""Sample-size planning: how many identities per group an audit needs to detect a given FNMR or FMR ratio.

Modules: ``simulation`` (the two-group population drawn with ``fairaudit.data.synthetic``, its calibrated
threshold and per-identity error counts), ``detection`` (the detection test of one simulated study),
``pilot`` (the reference group's parameters calibrated on a pilot EmbeddingSet or VerificationResult),
``plan`` (``plan_sample_size``: the search over designs) and ``result`` (``PlanResult``).

May import: ``fairaudit.data``, ``fairaudit.verification`` (a pilot result and the audit's permutation test)
and ``fairaudit.common``.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "plan_sample_size": "plan",
    "simulate_power": "plan",
    "clopper_pearson": "plan",
    "PlanResult": "result",
    "identity_permutation_test": "detection",
    "audit_permutation_test": "detection",
    "calibrate": "simulation",
    "Scenario": "simulation",
})
