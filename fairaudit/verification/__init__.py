"""The verification (1:1) audit: the pair engine and its bin grid (``engine``), error rates
(``rates``), the identity bootstrap (``bootstrap``), fairness figures (``fairness``), the audit and
its result (``audit``) and the figures that draw a result (``plots``, public as ``fairaudit.plot``).

May import: ``fairaudit.data`` and ``fairaudit.common``.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "verification_audit": "audit",
    "VerificationResult": "audit",
    "ThresholdPolicy": "audit",
    "parse_threshold": "audit",
    "group_colors": "plots",
})
