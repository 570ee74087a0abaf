"""Bins of a covariate: quantile bins of a numeric one (or the user's edges), the levels of a
categorical one; and the bin of a pair of samples.

Pairs are binned two ways. **lower**: a numeric covariate's pair bin is the bin of the lower of
the two values (the worse image, for a quality score; the younger face, for age), which is the
lower of the two samples' bins since bins are ordered. A categorical covariate's pair bin is the
level both samples share, or "mixed". **gap** (numeric, genuine pairs only): the absolute
difference of the two values (an age gap), in quantile bins of the genuine pairs' gaps.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from fairaudit.common import errors

#: the display label of a categorical pair whose samples have different levels
MIXED = "mixed"
#: the display label of the rows of everyone (every pair, of every group)
EVERYONE = "everyone"


def everyone_label(groups) -> str:
    """How the rows of everyone are shown next to ``groups``: "everyone", or "(everyone)" and so on
    when a group is called that (the tables themselves keep those rows apart: ``group`` None)."""
    label = EVERYONE
    while label in {str(g) for g in groups}:
        label = f"({label})"
    return label

BAD_N_BINS = ("n_bins={value!r} must be an integer from 2 to 20 (quantile bins per numeric covariate). "
              "Fix: keep the default 4, or pass bins={{name: edges}} for your own.")
BAD_EDGES = ("bins[{name!r}]={value!r} must be at least two increasing finite numbers (bin edges). "
             "Fix: e.g. bins={{{name!r}: [0, 18, 30, 50, 70, 120]}}.")
EDGES_MISS = ("bins[{name!r}] = {edges} leaves {count} sample(s) outside (values from {lo:g} to {hi:g}). "
              "Fix: widen the first or last edge; every sample must fall in a bin.")


def _fmt(x: float) -> str:
    return f"{x:.3g}"


@dataclass(frozen=True)
class CovariateBins:
    """One covariate cut into bins: the bin code of every sample and the bins' labels."""

    name: str
    kind: str
    codes: np.ndarray  # bin code of every sample
    labels: tuple[str, ...]
    values: np.ndarray  # the raw values (float64 for numeric, str for categorical)
    edges: tuple[float, ...] = field(default=())

    @property
    def n_bins(self) -> int:
        return len(self.labels)

    def pair_labels(self) -> tuple[str, ...]:
        """Labels of the "lower" pair bins: the bins, then "mixed" for a categorical covariate."""
        if self.kind == "numeric":
            return self.labels
        mixed = MIXED
        while mixed in self.labels:  # a level literally called "mixed" stays told apart
            mixed = f"({mixed})"
        return self.labels + (mixed,)

    def pair_codes(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The "lower" pair bin of samples ``a`` and ``b`` (rows)."""
        ca, cb = self.codes[a], self.codes[b]
        if self.kind == "numeric":
            return np.minimum(ca, cb)
        return np.where(ca == cb, ca, self.n_bins)

    def cell_to_pair(self) -> np.ndarray:
        """The "lower" pair bin of every unordered cell ``(i, j)``, ``i <= j``, in
        :func:`cell_index` order."""
        i, j = np.triu_indices(self.n_bins)
        if self.kind == "numeric":
            return np.minimum(i, j)
        return np.where(i == j, i, self.n_bins)


def cell_index(n_bins: int) -> np.ndarray:
    """``(n_bins, n_bins)`` index of the unordered cell ``{i, j}`` (row-major upper triangle)."""
    out = np.zeros((n_bins, n_bins), dtype=np.int64)
    i, j = np.triu_indices(n_bins)
    out[i, j] = out[j, i] = np.arange(len(i))
    return out


def quantile_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Edges of up to ``n_bins`` quantile bins of ``values`` (ties merge bins), first edge the
    minimum, last the maximum."""
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size < 2:
        edges = np.array([edges[0], edges[0]])
    return edges


def digitize(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of every value: ``[e0, e1), [e1, e2), ..., [e_{k-1}, e_k]`` (the last bin is closed)."""
    k = len(edges) - 1
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(k - 1, 0)).astype(np.int64)


def interval_labels(edges: np.ndarray) -> tuple[str, ...]:
    k = len(edges) - 1
    return tuple(f"[{_fmt(edges[i])}, {_fmt(edges[i + 1])}{']' if i == k - 1 else ')'}" for i in range(k))


def check_n_bins(n_bins: Any) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral) or not 2 <= n_bins <= 20:
        raise errors.FairauditInputError(BAD_N_BINS.format(value=n_bins))
    return int(n_bins)


def make_bins(name: str, kind: str, values: np.ndarray, *, n_bins: int,
              edges: Sequence[float] | None = None) -> CovariateBins:
    """Bins of one covariate over all samples."""
    if kind == "categorical":
        levels, codes = np.unique(np.asarray(values, dtype=str), return_inverse=True)
        return CovariateBins(name, kind, codes.astype(np.int64), tuple(str(v) for v in levels),
                             np.asarray(values, dtype=str))
    values = np.asarray(values, dtype=np.float64)
    if edges is None:
        cut = quantile_edges(values, n_bins)
    else:
        try:
            cut = np.asarray(edges, dtype=np.float64)
        except (TypeError, ValueError):
            raise errors.FairauditInputError(BAD_EDGES.format(name=name, value=edges)) from None
        if cut.ndim != 1 or cut.size < 2 or not np.isfinite(cut).all() or np.any(np.diff(cut) <= 0):
            raise errors.FairauditInputError(BAD_EDGES.format(name=name, value=edges))
        outside = (values < cut[0]) | (values > cut[-1])
        if outside.any():
            raise errors.FairauditInputError(EDGES_MISS.format(
                name=name, edges=cut.tolist(), count=int(outside.sum()), lo=values.min(), hi=values.max()))
    return CovariateBins(name, kind, digitize(values, cut), interval_labels(cut), values,
                         tuple(float(e) for e in cut))


def all_bins(covariates: Mapping[str, tuple[str, np.ndarray]], *, n_bins: int,
             bins: Mapping[str, Sequence[float]] | None) -> dict[str, CovariateBins]:
    """:func:`make_bins` for every covariate ``{name: (kind, values)}``; ``bins`` gives edges."""
    bins = dict(bins or {})
    unknown = [k for k in bins if k not in covariates]
    if unknown:
        raise errors.FairauditInputError(
            f"bins names {unknown[0]!r}, which is not an audited covariate ({list(covariates)}). Fix: "
            "give edges only for audited numeric covariates.")
    out = {}
    for name, (kind, values) in covariates.items():
        if name in bins and kind != "numeric":
            raise errors.FairauditInputError(
                f"bins[{name!r}] gives edges for a categorical covariate, whose bins are its levels. Fix: "
                "drop it from bins, or declare the covariate numeric.")
        out[name] = make_bins(name, kind, values, n_bins=n_bins, edges=bins.get(name))
    return out
