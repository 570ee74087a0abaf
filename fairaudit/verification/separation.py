"""How far apart genuine and impostor scores lie, per group: the decidability index d'.

Daugman's decidability index measures the separation of two score distributions in units of
their common spread::

    d' = |mu_gen - mu_imp| / sqrt((var_gen + var_imp) / 2)

It does not depend on a threshold: a larger d' means genuine and impostor scores overlap less,
so every threshold makes fewer errors. It summarises the distributions by two moments only, so
two groups with the same d' can still have different FMR and FNMR at one threshold (when their
score distributions are shifted together, or skewed); read it next to the rates.

From the audit's :class:`~fairaudit.verification.grid.PairStats`:

* genuine moments are exact: the engine keeps every genuine score;
* impostor moments come from the group's fine impostor histogram, every score taken at its
  bin centre. A score lies in ``[edge_k, edge_k + w)`` (``w`` the bin width,
  :data:`~fairaudit.verification.grid.DEFAULT_BIN_WIDTH` ``= 2**-14``, about 6.1e-5), so it
  moves by at most ``w / 2``: the impostor mean is within ``w / 2`` (about 3.1e-5) of the
  mean of the scores, and so is the impostor standard deviation (the SD of the shifts is at
  most ``w / 2``, and the SD is a norm). Propagated to d', with ``s`` the estimated common
  spread ``sqrt((var_gen + var_imp) / 2)``::

      |d' - d'_exact| <= (w / 2) * (1 + d' / sqrt(2)) / (s - w / (2 * sqrt(2)))

  reported per group as ``d_prime_bound``. The bound is relative to the scores the engine
  binned: from embeddings these are float32 products, within about 2e-6 of the exact cosine.

Both variances are population variances (``ddof = 0``): the moments of the observed scores.
Per group, pairs count as in every per-group rate (both samples in the group); the pooled row
uses every pair, cross-group impostor pairs included.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data import POOLED
from fairaudit.verification.grid import BinGrid, PairStats

#: columns of :func:`separation_by_group`
SEPARATION_COLUMNS = (
    "label", "n_genuine", "n_impostor", "genuine_mean", "genuine_sd", "impostor_mean",
    "impostor_sd", "d_prime", "d_prime_bound",
)

# Message templates (errors.py conventions: argument, expectation, what came, fix).
MOMENTS_SHAPE_MISMATCH = (
    "genuine_mean, genuine_var, impostor_mean and impostor_var must have one shape; got "
    "{shapes}. Fix: pass the four moments of the same groups, in the same order."
)
NOT_PAIR_STATS = (
    "stats must be the PairStats of an audit (fairaudit.verification.grid.PairStats); got "
    "{type}. Fix: pass what embedding_pair_stats or score_pair_stats returned."
)
COUNTS_BINS_MISMATCH = (
    "counts has {got} bins on its last axis but the grid has {n_bins}. Fix: pass histograms "
    "binned on this grid (PairStats.imp_hist and PairStats.grid)."
)
SCORES_NOT_1D = (
    "{name} must be a 1-D array of scores; got an array of shape {shape}. Fix: pass the "
    "scores of one population, e.g. np.ravel(scores)."
)


def decidability(genuine_mean: Any, genuine_var: Any, impostor_mean: Any, impostor_var: Any) -> float | np.ndarray:
    """Daugman's d' from the moments of the two score distributions, elementwise.

    Parameters
    ----------
    genuine_mean, genuine_var, impostor_mean, impostor_var : array_like, same shape
        Means and (population) variances of the genuine and impostor scores.

    Returns
    -------
    float or ndarray
        ``|genuine_mean - impostor_mean| / sqrt((genuine_var + impostor_var) / 2)``; a float
        for scalar input. NaN -- never inf, and without a RuntimeWarning -- where a moment is
        missing or not finite, or both variances are 0 (nothing to measure the gap against).
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in (genuine_mean, genuine_var, impostor_mean, impostor_var)]
    if len({a.shape for a in arrays}) != 1:
        raise errors.FairauditInputError(MOMENTS_SHAPE_MISMATCH.format(shapes=[a.shape for a in arrays]))
    mg, vg, mi, vi = (np.where(np.isfinite(a), a, np.nan) for a in arrays)
    spread2 = (vg + vi) / 2.0
    gap = np.abs(mg - mi)
    out = np.full(gap.shape, np.nan)
    ok = (spread2 > 0) & np.isfinite(gap)
    with np.errstate(over="ignore"):
        np.divide(gap, np.sqrt(np.where(ok, spread2, 1.0)), out=out, where=ok)
    # only a subnormal spread can overflow; such a d' says nothing
    out[np.isinf(out)] = np.nan
    return float(out) if out.ndim == 0 else out


def d_prime(genuine: Any, impostor: Any) -> float:
    """d' of two sets of scores, exactly (population variances).

    Parameters
    ----------
    genuine, impostor : array_like, 1-D
        Scores of genuine and of impostor comparisons.

    Returns
    -------
    float
        NaN when a set is empty or both have zero variance.
    """
    moments = []
    for name, x in (("genuine", genuine), ("impostor", impostor)):
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim != 1:
            raise errors.FairauditInputError(SCORES_NOT_1D.format(name=name, shape=arr.shape))
        moments.append(_score_moments(arr))
    (_, mg, vg), (_, mi, vi) = moments
    return float(decidability(mg, vg, mi, vi))


def _score_moments(scores: np.ndarray) -> tuple[int, float, float]:
    n = int(scores.size)
    if n == 0:
        return 0, math.nan, math.nan
    mean = float(scores.mean())
    dev = scores - mean
    return n, mean, float((dev * dev).mean())  # two passes: no cancellation


def histogram_moments(counts: Any, grid: BinGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and population variance of binned scores, every score at its bin centre.

    Parameters
    ----------
    counts : array_like of int, shape (..., grid.n_bins)
        Histograms on ``grid`` (e.g. :attr:`PairStats.imp_hist`).
    grid : BinGrid

    Returns
    -------
    n, mean, var : ndarrays of shape (...)
        ``mean`` and ``var`` are NaN where a histogram is empty. The mean is within half a bin
        width of the mean of the binned scores, and so is ``sqrt(var)`` of their SD.
    """
    counts = np.asarray(counts)
    if counts.ndim == 0 or counts.shape[-1] != grid.n_bins:
        raise errors.FairauditInputError(COUNTS_BINS_MISMATCH.format(
            got=counts.shape[-1] if counts.ndim else 0, n_bins=grid.n_bins))
    edges = grid.edges()
    centres = (edges[:-1] + edges[1:]) / 2.0
    weights = counts.astype(np.float64)
    n = weights.sum(axis=-1)
    has = n > 0
    safe_n = np.where(has, n, 1.0)
    mean = (weights @ centres) / safe_n
    dev = centres - mean[..., None]
    var = (weights * dev * dev).sum(axis=-1) / safe_n
    nan = np.full(n.shape, np.nan)
    return n, np.where(has, mean, nan), np.where(has, var, nan)


def _bound(half_width: float, d: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Largest |d' - d'_exact| when the impostor mean and SD are each within ``half_width``."""
    floor = spread - half_width / math.sqrt(2.0)
    out = np.full(np.shape(d), np.nan)
    ok = np.isfinite(d) & (floor > 0)
    np.divide(half_width * (1.0 + d / math.sqrt(2.0)), np.where(ok, floor, 1.0), out=out, where=ok)
    return out


def separation_by_group(stats: PairStats) -> pd.DataFrame:
    """d' and the moments behind it for every group of an audit, then for the pooled population.

    Parameters
    ----------
    stats : PairStats
        What the pair engine hands the audit (either route).

    Returns
    -------
    DataFrame
        One row per group, in the order of ``stats.groups.labels``, then the pooled row (label
        ``"all"``); index ``group`` (the labels). Columns (:data:`SEPARATION_COLUMNS`):
        ``label``, ``n_genuine``, ``n_impostor``, ``genuine_mean`` and ``genuine_sd`` (exact),
        ``impostor_mean`` and ``impostor_sd`` (from the histogram, each within half a bin
        width), ``d_prime`` (NaN without genuine or impostor pairs, or with no spread) and
        ``d_prime_bound`` (the largest error of ``d_prime`` the binning allows, see the module
        docstring).
    """
    if not isinstance(stats, PairStats):
        raise errors.FairauditInputError(NOT_PAIR_STATS.format(type=type(stats).__name__))
    n_groups = stats.n_groups
    labels = [str(label) for label in stats.groups.labels]

    # genuine: exact, two passes per group (and pooled)
    gen = stats.gen_score
    code = stats.gen_group
    n_gen = np.bincount(code, minlength=n_groups).astype(np.float64)
    has = n_gen > 0
    mean_gen = np.full(n_groups, np.nan)
    np.divide(np.bincount(code, weights=gen, minlength=n_groups), n_gen, out=mean_gen, where=has)
    dev = gen - np.nan_to_num(mean_gen)[code]
    var_gen = np.full(n_groups, np.nan)
    np.divide(np.bincount(code, weights=dev * dev, minlength=n_groups), n_gen, out=var_gen, where=has)
    _, pooled_mean, pooled_var = _score_moments(gen)
    n_gen = np.r_[n_gen, gen.size]
    mean_gen = np.r_[mean_gen, pooled_mean]
    var_gen = np.r_[var_gen, pooled_var]

    # impostor: each group's own histogram (both samples in the group), then all pairs
    own = stats.imp_hist[stats.pair_index[np.arange(n_groups), np.arange(n_groups)]]
    hists = np.vstack([own, stats.pooled_impostor_hist()[None, :]])
    n_imp, mean_imp, var_imp = histogram_moments(hists, stats.grid)

    d = np.asarray(decidability(mean_gen, var_gen, mean_imp, var_imp), dtype=np.float64)
    spread = np.sqrt((var_gen + var_imp) / 2.0)  # NaN propagates without a warning
    bound = _bound(stats.grid.width / 2.0, d, spread)
    table = pd.DataFrame({
        "label": labels + [POOLED],
        "n_genuine": n_gen.astype(np.int64),
        "n_impostor": n_imp.astype(np.int64),
        "genuine_mean": mean_gen,
        "genuine_sd": np.sqrt(var_gen),
        "impostor_mean": mean_imp,
        "impostor_sd": np.sqrt(var_imp),
        "d_prime": d,
        "d_prime_bound": bound,
    }, index=pd.Index(labels + [POOLED], name="group"), columns=list(SEPARATION_COLUMNS))
    return table


__all__ = ["SEPARATION_COLUMNS", "decidability", "d_prime", "histogram_moments", "separation_by_group"]
