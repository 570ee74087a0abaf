"""Error rates on a bin grid: FMR, FNMR, EER, AUC and FNMR at a target FMR.

Conventions (ISO/IEC 19795-1): a comparison is accepted when ``score >=
threshold``. FMR(t) is the fraction of impostor comparisons accepted, FNMR(t)
the fraction of genuine comparisons rejected. FAR and FRR are not aliases:
ISO/IEC 19795-1 defines them at system level, with failures to acquire folded in
(:mod:`fairaudit.verification.system_rates`).

All functions here take counts on the edges of a :class:`~fairaudit.verification.grid.BinGrid`:
``imp_ge[k]`` = impostor scores ``>= edges[k]`` (exact), ``gen_lt[k]`` = genuine
scores ``< edges[k]`` (exact), for ``k = 0 .. n_bins``.
"""

from __future__ import annotations

import numpy as np

#: FMR operating points at which FNMR is reported (as NIST FRTE does)
FMR_POINTS = (1e-2, 1e-3, 1e-4)
#: an FNMR at FMR = x is reported only with at least this many expected false matches
MIN_FALSE_MATCHES = 10


def impostor_ge(hist: np.ndarray) -> np.ndarray:
    """Impostor counts at or above every edge (length ``n_bins + 1``)."""
    out = np.zeros(len(hist) + 1, dtype=np.int64)
    out[:-1] = np.cumsum(hist[::-1])[::-1]
    return out


def genuine_lt(gen_sorted: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Genuine counts strictly below every edge (``gen_sorted`` ascending)."""
    return np.searchsorted(gen_sorted, edges, side="left").astype(np.int64)


def eer_index(fmr: np.ndarray, fnmr: np.ndarray, *, n_impostor: int | None = None,
              n_genuine: int | None = None) -> int:
    """Edge of the EER operating point, by bob.measure's rule (``bob.measure.eer_threshold``).

    Among the thresholds at which neither side is exhausted (FMR > 0 and FNMR < 1), take the
    operating point that minimises |FMR - FNMR|, the highest one on ties; the first threshold at
    which one side is exhausted (FMR = 0 or FNMR = 1) replaces it only when strictly closer. The
    edge returned is the lowest edge giving that operating point. With ``n_impostor`` and
    ``n_genuine`` the differences are compared exactly, on integer counts (bob.measure compares
    running sums of ``1/n`` in floating point, which can break an exact tie either way).
    """
    fmr = np.asarray(fmr, dtype=np.float64)
    fnmr = np.asarray(fnmr, dtype=np.float64)
    if n_impostor and n_genuine:
        fa = np.rint(fmr * n_impostor).astype(np.int64)
        fr = np.rint(fnmr * n_genuine).astype(np.int64)
        diff = np.abs(fa * int(n_genuine) - fr * int(n_impostor)).astype(np.float64)
        exhausted = (fa == 0) | (fr == n_genuine)
    else:
        fa, fr = fmr, fnmr
        diff = np.abs(fmr - fnmr)
        exhausted = (fmr <= 0) | (fnmr >= 1)
    diff = np.where(np.isnan(diff), np.inf, diff)
    live = ~exhausted
    if not live.any():
        return int(np.argmin(diff))
    best = diff[live].min()
    k = int(np.flatnonzero(live & (diff == best))[-1])
    # the lowest edge of that operating point's plateau (FMR and FNMR are monotone in k)
    k = int(np.flatnonzero((fa == fa[k]) & (fr == fr[k]))[0])
    first_exhausted = np.flatnonzero(exhausted)
    if first_exhausted.size and first_exhausted[0] > k and diff[first_exhausted[0]] < best:
        return int(first_exhausted[0])
    return k


def eer(fmr: np.ndarray, fnmr: np.ndarray, *, n_impostor: int | None = None,
        n_genuine: int | None = None) -> tuple[float, int]:
    """Equal error rate as bob.measure defines it (``bob.measure.eer``): the mean of FMR and FNMR
    at the threshold chosen by :func:`eer_index`. Returns (eer, edge index)."""
    k = eer_index(fmr, fnmr, n_impostor=n_impostor, n_genuine=n_genuine)
    return float((fmr[k] + fnmr[k]) / 2.0), k


def auc_binned(imp_hist: np.ndarray, gen_hist: np.ndarray) -> float:
    """Area under the ROC: P(genuine > impostor) + P(same bin) / 2.

    Equal to scikit-learn's ``roc_auc_score`` up to the ordering of pairs that
    share a bin (at most ``sum_k g_k i_k / (2 n_g n_i)``).
    """
    n_imp = imp_hist.sum()
    n_gen = gen_hist.sum()
    if n_imp == 0 or n_gen == 0:
        return float("nan")
    imp_below = np.cumsum(imp_hist) - imp_hist  # impostors in strictly lower bins
    wins = np.dot(gen_hist.astype(np.float64), imp_below.astype(np.float64))
    ties = np.dot(gen_hist.astype(np.float64), imp_hist.astype(np.float64))
    return float((wins + 0.5 * ties) / (float(n_gen) * float(n_imp)))


def threshold_index_for_fmr(imp_ge: np.ndarray, n_imp: int, target: float) -> int:
    """Lowest edge whose FMR does not exceed ``target`` (FMR is non-increasing in k).

    As NIST FRTE chooses it; ``bob.measure.far_threshold`` instead returns the lowest impostor score
    meeting the target (the same FMR, an FNMR never lower): docs/concepts/verification.md lists it."""
    fmr = imp_ge / n_imp
    return int(np.searchsorted(-fmr, -target, side="left"))


def fmr_point_supported(n_imp: int, target: float) -> bool:
    """True when ``n_imp`` impostor pairs can support an FMR of ``target``."""
    return n_imp * target >= MIN_FALSE_MATCHES


def fmr_point_label(target: float) -> str:
    return f"fnmr_at_fmr_{target:.0e}"


def curve_indices(fmr: np.ndarray, fnmr: np.ndarray, n_linear: int = 400, n_log: int = 200) -> np.ndarray:
    """Edges kept for a plotted curve: evenly spaced where scores exist, plus
    log-spaced FMR levels so that DET plots keep their tail."""
    active = np.flatnonzero((fmr > 0) & (fmr < 1) | (fnmr > 0) & (fnmr < 1))
    if active.size == 0:
        active = np.arange(len(fmr))
    lo = max(int(active[0]) - 1, 0)
    hi = min(int(active[-1]) + 1, len(fmr) - 1)
    lin = np.linspace(lo, hi, n_linear).round().astype(np.int64)
    positive = fmr[fmr > 0]
    logs = np.zeros(0, dtype=np.int64)
    if positive.size:
        levels = np.logspace(np.log10(positive.min()), 0, n_log)
        logs = np.searchsorted(-fmr, -levels, side="left")
        logs = np.clip(logs, 0, len(fmr) - 1)
    return np.unique(np.r_[lin, logs])
