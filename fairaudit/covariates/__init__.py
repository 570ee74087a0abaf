"""Covariates: verification errors by sample-level covariate (image quality, age at capture, pose,
device, ...) within each demographic group, and whether a demographic gap survives them.

:func:`covariate_audit` bins the covariates, lists the genuine pairs and the false matches in the
pair engine's tiles (:mod:`.pairs`), computes FNMR and FMR per bin with identity-bootstrap
intervals (:mod:`.tables`) and fits the regressions (:mod:`.regression`, :mod:`.models`);
:class:`CovariateResult` holds the tables, :mod:`.plots` draws them.

May import: ``verification`` (the audit's threshold, its tiles, bootstrap and small-sample rules,
plot helpers), ``data``, ``common``. Imported by the package root, ``reporting`` and ``cli``."""

from fairaudit.covariates.audit import covariate_audit
from fairaudit.covariates.result import CovariateResult

__all__ = ["covariate_audit", "CovariateResult"]
