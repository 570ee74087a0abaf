"""Covariates: verification errors by sample-level covariate (image quality, age at capture, pose,
device, ...) within each demographic group, and whether a demographic gap survives them.

:func:`covariate_audit` bins the covariates (:mod:`.bins`), lists the genuine pairs and the false
matches in the pair engine's tiles (:mod:`.pairs`), computes FNMR and FMR per bin with
identity-bootstrap intervals (:mod:`.tables`) and fits the regressions (:mod:`.regression`,
:mod:`.models`); a ScoreSet's listed comparisons take :mod:`.listed`, and both routes share
:mod:`.assembly`. :class:`CovariateResult` holds the tables, :mod:`.summary` prints them and
:mod:`.plots` draws them.

May import: ``verification`` (the audit's threshold, its tiles, bootstrap and small-sample rules,
plot helpers), ``data``, ``common``. Imported by the package root, ``reporting`` and ``cli``."""

from fairaudit.covariates.audit import covariate_audit
from fairaudit.covariates.result import CovariateResult

__all__ = ["covariate_audit", "CovariateResult"]
