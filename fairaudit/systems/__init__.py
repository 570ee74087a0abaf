"""Several systems side by side: :func:`compare_systems` audits each at its own threshold from one
policy, pairs their replicates through one shared identity bootstrap, and ranks them on accuracy and
fairness (:class:`SystemComparison`); :mod:`.plots` draws DET curves per group with the systems
overlaid and the accuracy-fairness plane.

May import: ``verification`` (each system's audit, its replicates, the fairness kernels, plot
helpers), ``data``, ``common``. Imported by the package root, ``reporting`` and ``cli``."""

from fairaudit.systems.compare import DIFFERENCE_COLUMNS, bootstrap_pvalue, compare_systems, pareto_front
from fairaudit.systems.result import SystemComparison

__all__ = ["compare_systems", "SystemComparison", "DIFFERENCE_COLUMNS", "bootstrap_pvalue", "pareto_front"]
