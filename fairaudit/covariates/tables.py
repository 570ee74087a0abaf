"""FNMR and FMR per covariate bin within each group, with identity-bootstrap intervals.

The bootstrap is the verification audit's: identities are drawn with replacement within each
group, and replicate ``b`` of every group together is one replicate of the population. For a set
of identity weights ``w``:

* **FNMR of a pair bin** ``= sum_I w_I e_I / sum_I w_I n_I``, with ``n_I`` and ``e_I`` the genuine
  pairs and false non-matches of identity ``I`` in the bin (genuine pairs belong to one identity).
* **FMR of a cell** ``{i, j}`` (the bins of the two samples): the numerator ``sum w_I w_J`` runs over
  the false matches of the cell (identities ``I != J``); the denominator, the weighted number of
  impostor comparisons in the cell, needs no list of comparisons. With ``C[I, i]`` the samples of
  identity ``I`` in bin ``i``, ``V_i = sum_I w_I C[I, i]`` and ``Q_ij = sum_I w_I^2 C[I, i] C[I, j]``,
  it is ``V_i V_j - Q_ij`` for ``i != j`` and ``(V_i^2 - Q_ii) / 2`` for ``i == j`` (all pairs of
  samples in the two bins, minus those of one identity). With ``w = 1`` these are the plain counts.
* A "lower" pair bin of impostors is a union of cells; its FMR sums their numerators and
  denominators.

Intervals are percentile intervals, replaced by Clopper-Pearson on an effective sample size where
a bin has few identities, no error or a collapsed bootstrap, as the verification audit does
(:func:`fairaudit.verification.small_samples.honest_interval`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairaudit.verification.bootstrap import percentile_interval
from fairaudit.verification.small_samples import RULE_OF_30, honest_interval

#: columns of every rate table
RATE_TABLE_COLUMNS = ("covariate", "pairing", "group", "bin", "bin_code", "n_identities", "n_pairs",
                      "n_errors", "rate", "ci_low", "ci_high", "ci_method", "below_rule_of_30")
#: columns of the FMR heatmap table (one row per unordered cell of the two samples' bins)
CELL_COLUMNS = ("covariate", "group", "bin_a", "bin_b", "n_identities", "n_pairs", "n_errors", "fmr",
                "bin_a_label", "bin_b_label")


def draw_group_weights(group_codes: np.ndarray, n_groups: int, n_boot: int,
                       rng: np.random.Generator) -> list[np.ndarray]:
    """``(n_boot, m_g)`` draw counts per group (identities in code order within the group), the
    verification audit's scheme (:func:`fairaudit.verification.bootstrap.draw_weights`)."""
    from fairaudit.verification import kernels

    out = []
    for g in range(n_groups):
        m = int(np.count_nonzero(group_codes == g))
        out.append(kernels.count_draws(rng.integers(0, m, size=(n_boot, m)), m).astype(np.float64))
    return out


def _interval(errors: float, n: float, units: float, reps: np.ndarray | None, ci: float, n_ids: int,
              min_identities: int) -> tuple[float, float, str]:
    if reps is None:
        return np.nan, np.nan, ""
    with np.errstate(invalid="ignore", divide="ignore"):
        return honest_interval(errors, n, units, reps, percentile_interval(reps, ci), ci,
                               n_ids < min_identities, n_ids)


def _rows(covariate: str, pairing: str, group, labels, n_ids, n_pairs, n_err, reps, ci, min_identities,
          units) -> list[dict]:
    out = []
    for k, label in enumerate(labels):
        n, e = float(n_pairs[k]), float(n_err[k])
        rate = e / n if n > 0 else np.nan
        lo, hi, method = (_interval(e, n, float(units[k]), None if reps is None else reps[:, k], ci,
                                    int(n_ids[k]), min_identities) if n > 0 else (np.nan, np.nan, ""))
        out.append({"covariate": covariate, "pairing": pairing, "group": group, "bin": label, "bin_code": k,
                    "n_identities": int(n_ids[k]), "n_pairs": int(round(n)), "n_errors": int(round(e)),
                    "rate": rate, "ci_low": lo, "ci_high": hi, "ci_method": method,
                    "below_rule_of_30": bool(e < RULE_OF_30)})
    return out


def genuine_rates(identity_local: np.ndarray, pair_bin: np.ndarray, error: np.ndarray, m: int, n_bins: int,
                  weights: np.ndarray | None, *, covariate: str, pairing: str, group, labels, ci: float,
                  min_identities: int) -> list[dict]:
    """FNMR per pair bin of one group's genuine pairs (``identity_local`` in ``0..m-1``)."""
    flat = identity_local * n_bins + pair_bin
    n_i = np.bincount(flat, minlength=m * n_bins).reshape(m, n_bins).astype(np.float64)
    e_i = np.bincount(flat, weights=error.astype(np.float64), minlength=m * n_bins).reshape(m, n_bins)
    reps = None
    if weights is not None and weights.shape[0]:
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = (weights @ e_i) / (weights @ n_i)
    n_ids = (n_i > 0).sum(axis=0)
    return _rows(covariate, pairing, group, labels, n_ids, n_i.sum(axis=0), e_i.sum(axis=0), reps, ci,
                 min_identities, units=n_ids)


def _cell_denominators(w: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Weighted impostor comparisons per unordered cell: ``(R, n_cells)`` for weights ``(R, m)``
    and samples per identity and bin ``counts`` ``(m, B)``."""
    B = counts.shape[1]
    i, j = np.triu_indices(B)
    V = w @ counts  # (R, B)
    Q = (w * w) @ (counts[:, i] * counts[:, j])  # (R, n_cells)
    out = V[:, i] * V[:, j] - Q
    out[:, i == j] *= 0.5
    return out


def _pair_weight_sums(wt, a, b, cell, count, out):
    """``out[cell[k], r] += wt[a[k], r] * wt[b[k], r] * count[k]`` for every entry ``k`` (integers)."""
    R = wt.shape[1]
    for k in range(len(a)):
        wa = wt[a[k]]
        wb = wt[b[k]]
        row = out[cell[k]]
        c = count[k]
        for r in range(R):
            row[r] += wa[r] * wb[r] * c


def _cell_numerators(w: np.ndarray, a: np.ndarray, b: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """``sum w_a w_b`` over the listed comparisons (e.g. the false matches) of every cell:
    ``(R, n_cells)``. The weights are draw counts (integers), so the sums are exact integers, in a
    compiled loop over the transposed weights (one contiguous row per identity)."""
    from fairaudit.verification.kernels import _jit

    R = w.shape[0]
    if a.size == 0:
        return np.zeros((R, n_cells))
    key = (a.astype(np.int64) * w.shape[1] + b) * n_cells + cell
    uniq, count = np.unique(key, return_counts=True)
    cell_u = uniq % n_cells
    ab = uniq // n_cells
    wt = np.ascontiguousarray(w.T, dtype=np.int64)
    out = np.zeros((n_cells, R), dtype=np.int64)
    _jit(_pair_weight_sums)(wt, ab // w.shape[1], ab % w.shape[1], cell_u, count.astype(np.int64), out)
    return out.T.astype(np.float64)


def impostor_cells(w: np.ndarray, counts: np.ndarray, fm_a: np.ndarray, fm_b: np.ndarray,
                   fm_cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerators and denominators per unordered cell for weights ``w`` (``(R, m)``; one row of
    ones gives the counts). ``fm_a``/``fm_b`` are the identities (columns of ``w``) of every false
    match and ``fm_cell`` its cell."""
    n_cells = counts.shape[1] * (counts.shape[1] + 1) // 2
    return _cell_numerators(w, fm_a, fm_b, fm_cell, n_cells), _cell_denominators(w, counts)


def impostor_rates(present: np.ndarray, count, cb, weights: np.ndarray | None, *, group, ci: float,
                   min_identities: int) -> tuple[list[dict], pd.DataFrame]:
    """FMR per "lower" pair bin, and the FMR of every cell (a heatmap), of one set of identities.

    ``present[I, k]``: identity ``I`` has a sample in bin ``k`` of the covariate binned by ``cb``
    (:class:`~fairaudit.covariates.bins.CovariateBins`); ``count(w)`` gives the numerators and the
    denominators per unordered cell for weights ``w`` (``(R, m)``; one row of ones: the counts), e.g.
    :func:`impostor_cells` for all pairs of samples."""
    m, B = present.shape
    cell_to_bin = cb.cell_to_pair()
    labels = cb.pair_labels()
    n_bins = len(labels)
    num1, den1 = count(np.ones((1, m)))
    merge = np.zeros((len(cell_to_bin), n_bins))
    merge[np.arange(len(cell_to_bin)), cell_to_bin] = 1.0
    reps = None
    if weights is not None and weights.shape[0]:
        num, den = count(weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = (num @ merge) / (den @ merge)
    i, j = np.triu_indices(B)
    # identities with a sample on either side of a cell: the clustering units of its comparisons
    ids_cell = np.array([np.count_nonzero(present[:, a] | present[:, b]) for a, b in zip(i, j)])
    ids_bin = np.array([np.count_nonzero((present[:, i[cell_to_bin == k]] | present[:, j[cell_to_bin == k]])
                                         .any(axis=1)) for k in range(n_bins)])
    units = ids_bin * np.maximum(ids_bin - 1, 0) / 2.0
    rows = _rows(cb.name, "lower", group, labels, ids_bin, (den1 @ merge)[0], (num1 @ merge)[0], reps,
                 ci, min_identities, units=units)
    with np.errstate(invalid="ignore", divide="ignore"):
        cell_rate = np.where(den1[0] > 0, num1[0] / den1[0], np.nan)
    cells = pd.DataFrame({"covariate": cb.name, "group": [group] * len(i), "bin_a": i, "bin_b": j,
                          "n_identities": ids_cell, "n_pairs": np.rint(den1[0]).astype(np.int64),
                          "n_errors": np.rint(num1[0]).astype(np.int64), "fmr": cell_rate,
                          "bin_a_label": [cb.labels[k] for k in i], "bin_b_label": [cb.labels[k] for k in j]})
    return rows, cells
