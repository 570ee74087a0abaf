"""One-to-many identification (1:N): a gallery searched by probes, audited per group of the probe.

``identification_audit`` runs a gallery/probe protocol (:class:`GallerySplit`, or the role of every sample) on
an :class:`~fairaudit.EmbeddingSet`, or reads the :class:`CandidateLists` a system returned, and
reports FNIR(T, R), FPIR(T), the rank-k identification rates (CMC), where false positives land,
FPIR against gallery size, intervals, group comparisons and fairness figures
(:class:`IdentificationResult`). Definitions: ``docs/concepts/identification.md``.

May import: ``fairaudit.verification`` (executors, interval and permutation helpers, fairness
figures), ``fairaudit.data`` and ``fairaudit.common``.
"""

from fairaudit.identification.audit import identification_audit
from fairaudit.identification.candidate_files import read_candidates
from fairaudit.identification.candidates import CandidateLists
from fairaudit.data.gallery_protocol import GallerySplit
from fairaudit.identification.result import IdentificationResult

__all__ = ["identification_audit", "IdentificationResult", "GallerySplit", "CandidateLists", "read_candidates"]
