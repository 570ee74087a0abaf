"""The verification (1:1) audit, one concern per module:

* the pair engine: its bin grid and result (``grid``), the identity-sorted layout and the sorted
  rows the tiles read (``layout``), the tile tasks and the local executor (``tiles``), both routes
  to :class:`PairStats` (``engine``) and the per identity pair counts of the bootstrap
  (``identity_pairs``);
* error rates (``rates``), FMR/FNMR curves and coarse histograms (``curves``), the identity
  bootstrap (``bootstrap``);
* fairness figures (``fairness_kernels``, public with their explanations and table as
  ``fairness``, i.e. ``fairaudit.fairness``);
* group comparisons with paired bootstrap intervals (``comparisons``) and identity permutation
  tests with Holm's adjustment (``permutation``); intervals and flags for small samples
  (``small_samples``); system-level FAR/FRR with failures to acquire (``system_rates``);
* the audit (``audit``), its threshold policy (``policy``), listed pairs (``pairs``), its result
  (``result``) and the result's text summary (``summary``);
* the figures that draw a result: shared style (``plot_style``), curves (``plot_curves``), score
  histograms (``plot_scores``), group figures (``plot_groups``), all public through ``plots``
  (``fairaudit.plot``), which also saves them.

May import: ``fairaudit.data`` and ``fairaudit.common``.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "verification_audit": "audit",
    "VerificationResult": "result",
    "ThresholdPolicy": "policy",
    "parse_threshold": "policy",
    "group_colors": "plot_style",
    "COMPARISON_COLUMNS": "comparisons",
    "PermutationData": "permutation",
    "permutation_pvalue": "permutation",
    "FLAG_COLUMNS": "small_samples",
    "SYSTEM_COLUMNS": "system_rates",
    "display_labels": "plot_style",
    "shown": "plot_style",
})
