"""FMR and FNMR of one population at every grid edge (``_Curves``: the figures at the threshold,
the EER grid of the bootstrap) and the coarse score histograms reported for plots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairaudit.data import POOLED
from fairaudit.verification import rates
from fairaudit.verification.grid import BinGrid

#: bins of the coarse score histograms reported for plots
HISTOGRAM_BINS = 80
#: thresholds per group on which a bootstrap replicate's EER is searched
EER_GRID_POINTS = 41


@dataclass
class _Curves:
    """FMR and FNMR of one population at every grid edge."""

    imp_hist: np.ndarray
    gen_sorted: np.ndarray
    edges: np.ndarray

    def __post_init__(self) -> None:
        self.n_imp = int(self.imp_hist.sum())
        self.n_gen = int(self.gen_sorted.size)
        imp_ge = rates.impostor_ge(self.imp_hist)
        gen_lt = rates.genuine_lt(self.gen_sorted, self.edges)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.fmr = imp_ge / self.n_imp if self.n_imp else np.full(len(self.edges), np.nan)
            self.fnmr = gen_lt / self.n_gen if self.n_gen else np.full(len(self.edges), np.nan)

    def figures(self, k_op: int, grid: BinGrid) -> dict[str, float]:
        out: dict[str, float] = {
            "n_genuine": self.n_gen, "n_impostor": self.n_imp,
            "fmr": float(self.fmr[k_op]), "fnmr": float(self.fnmr[k_op]),
            "eer": np.nan, "eer_threshold": np.nan, "auc": np.nan,
        }
        if self.n_imp and self.n_gen:
            eer, k = rates.eer(self.fmr, self.fnmr, n_impostor=self.n_imp, n_genuine=self.n_gen)
            gen_hist = np.bincount(grid.bin_of(self.gen_sorted), minlength=grid.n_bins)
            out.update(eer=eer, eer_threshold=float(self.edges[k]),
                       auc=rates.auc_binned(self.imp_hist, gen_hist))
        for target in rates.FMR_POINTS:
            value = np.nan
            if self.n_gen and rates.fmr_point_supported(self.n_imp, target):
                k = rates.threshold_index_for_fmr(self.fmr * self.n_imp, self.n_imp, target)
                value = float(self.fnmr[min(k, len(self.fnmr) - 1)])
            out[rates.fmr_point_label(target)] = value
        return out

    def eer_grid(self) -> np.ndarray:
        """Edges around this population's EER on which bootstrap replicates search theirs."""
        eer, _ = rates.eer(self.fmr, self.fnmr, n_impostor=self.n_imp, n_genuine=self.n_gen)
        level = min(1.0, 3.0 * eer + 0.01)
        k_lo = rates.threshold_index_for_fmr(self.fmr * self.n_imp, self.n_imp, level)
        k_hi = int(np.searchsorted(self.fnmr, level, side="left"))
        lo, hi = sorted((k_lo, min(k_hi, len(self.fnmr) - 1)))
        return np.unique(np.linspace(lo, hi, EER_GRID_POINTS).round().astype(np.int64))


def _coarse_histograms(curves: dict[str, _Curves], grid: BinGrid) -> pd.DataFrame:
    pooled = curves[POOLED]
    occupied = np.flatnonzero(pooled.imp_hist)
    lo_s = min(pooled.gen_sorted[0] if pooled.n_gen else 1.0, grid.edge(int(occupied[0])) if occupied.size else 1.0)
    hi_s = max(pooled.gen_sorted[-1] if pooled.n_gen else -1.0,
               grid.edge(int(occupied[-1]) + 1) if occupied.size else -1.0)
    k_lo = max(int(np.floor((lo_s - grid.lo) / grid.width)), 0)
    k_hi = min(int(np.ceil((hi_s - grid.lo) / grid.width)) + 1, grid.n_bins)
    step = max(1, int(np.ceil((k_hi - k_lo) / HISTOGRAM_BINS)))
    starts = np.arange(k_lo, k_hi, step)
    rows = []
    for label, c in curves.items():
        imp = np.add.reduceat(c.imp_hist, starts) if starts.size else np.zeros(0)
        gen_bins = np.bincount(grid.bin_of(c.gen_sorted), minlength=grid.n_bins)
        gen = np.add.reduceat(gen_bins, starts) if starts.size else np.zeros(0)
        imp[0] += c.imp_hist[:k_lo].sum()
        gen[0] += gen_bins[:k_lo].sum()
        for kind, counts in (("genuine", gen), ("impostor", imp)):
            for s, cnt in zip(starts, counts):
                rows.append((label, kind, grid.edge(int(s)), grid.edge(int(min(s + step, grid.n_bins))), int(cnt)))
    return pd.DataFrame(rows, columns=["group", "kind", "bin_left", "bin_right", "count"])
