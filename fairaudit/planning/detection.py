"""The detection test of a simulated study: does the compared group's error rate differ from the reference's?

Every detection test of :func:`fairaudit.plan_sample_size` (``test=``) has one signature::

    test(errors, trials, in_compared, *, rng, pairs=None, samples=None) -> p_value

``errors`` and ``trials`` are per-identity counts (false non-matches and genuine pairs, or false matches
and impostor pairs within the identity's group), ``in_compared`` says which identities belong to the
compared group. For FMR, ``pairs`` holds the impostor accepts of every identity pair of the study,
``(id_a, id_b, count)``, across the groups too, and ``samples`` the samples of every identity.

:func:`audit_permutation_test`, the default, is the test the verification audit reports in
``VerificationResult.comparisons`` (:func:`fairaudit.verification.permutation_pvalue`), so a plan
predicts what the audit will find. :func:`identity_permutation_test` is a self-contained FNMR version on
per-identity counts, kept as an independent check of it.
"""

from __future__ import annotations

import numpy as np

from fairaudit.common.errors import FairauditInputError

FNMR_ONLY = ("identity_permutation_test tests FNMR only: for FMR, impostor pairs are shared by two identities "
             "of a group, so permuting per-identity counts halves the variance and the test rejects too often. "
             "Fix: use audit_permutation_test (the default of plan_sample_size).")

#: permutations of one test unless the caller says otherwise
N_PERMUTATIONS = 199


def rate_difference(errors: np.ndarray, trials: np.ndarray, in_compared: np.ndarray) -> np.ndarray:
    """Compared minus reference rate (pooled over identities) for each row of a boolean ``in_compared``."""
    member = np.atleast_2d(in_compared).astype(float)
    e_c, t_c = member @ errors, member @ trials
    e_r, t_r = errors.sum() - e_c, trials.sum() - t_c
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(e_c / t_c) - np.nan_to_num(e_r / t_r)


def audit_permutation_test(errors: np.ndarray, trials: np.ndarray, in_compared: np.ndarray, *,
                           rng: np.random.Generator, pairs: tuple | None = None, samples: np.ndarray | None = None,
                           n_permutations: int = N_PERMUTATIONS) -> float:
    """The audit's identity-level permutation p-value (two-sided, threshold fixed) of one simulated study.

    FNMR (``pairs`` None) from the per-identity genuine rejects; FMR exactly, from the accepts of every
    identity pair, so that a permutation that moves an identity to the other group moves its pairs too.
    """
    from fairaudit.verification import PermutationData, permutation_pvalue

    n = len(errors)
    units = np.arange(n)
    if pairs is None:
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        data, metric = PermutationData(units, trials, errors, None, empty, None), "fnmr"
    else:
        data, metric = PermutationData(units, np.zeros(n), np.zeros(n), samples, pairs, None), "fmr"
    return permutation_pvalue(data, np.asarray(in_compared, dtype=float), metric, n_permutations, rng)


def identity_permutation_test(errors: np.ndarray, trials: np.ndarray, in_compared: np.ndarray, *,
                              rng: np.random.Generator, pairs: tuple | None = None,
                              samples: np.ndarray | None = None, n_permutations: int = N_PERMUTATIONS) -> float:
    """Two-sided p-value of an identity-level permutation test of equal error rates.

    The statistic is the difference of the two groups' rates (errors over trials, pooled within a group).
    Group membership is permuted among identities, never among comparisons, so the errors of one identity
    stay together (they are correlated: one hard identity fails many genuine pairs), and the threshold is
    not recomputed. ``p = (1 + #{|T*| >= |T|}) / (1 + n_permutations)`` (Phipson and Smyth, 2010), which
    keeps the test's size at most ``alpha``. FNMR only (``pairs`` must be None): see :data:`FNMR_ONLY`.
    """
    if pairs is not None:
        raise FairauditInputError(FNMR_ONLY)
    observed = abs(float(rate_difference(errors, trials, in_compared)[0]))
    perms = rng.permuted(np.tile(np.asarray(in_compared, dtype=bool), (n_permutations, 1)), axis=1)
    null = np.abs(rate_difference(errors, trials, perms))
    # a relative tolerance: permuted differences equal to the observed one up to rounding count as ties
    ties = null >= observed - 1e-12 * max(observed, 1e-300)
    return float((1 + ties.sum()) / (1 + n_permutations))
