"""What both routes of the covariate audit share (an EmbeddingSet's all pairs, a ScoreSet's listed
comparisons): where every identity sits in the bootstrap's weights, the genuine pairs' tables, and
the result built from the tables."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.provenance import provenance
from fairaudit.covariates import tables
from fairaudit.covariates.bins import CovariateBins, make_bins, quantile_edges
from fairaudit.covariates.result import CovariateResult

BOOTSTRAP = ("identities resampled with replacement within each group, percentile intervals "
             "(Clopper-Pearson on an effective sample size where a bin is small)")


@dataclass(frozen=True)
class IdentityIndex:
    """Identity codes mapped to their group's bootstrap weights: ``local`` (position within the
    group), ``offsets`` (where each group starts in the concatenated weights), ``position`` (there),
    and the weights themselves, per group and concatenated for everyone (None without bootstrap)."""

    local: np.ndarray
    offsets: np.ndarray
    position: np.ndarray
    weights: list | None = None
    everyone: np.ndarray | None = None

    @classmethod
    def build(cls, ident_group: np.ndarray, n_groups: int, n_boot: int, rng: np.random.Generator) -> "IdentityIndex":
        """The index of ``n_groups`` groups, with ``n_boot`` replicates drawn from ``rng`` (the
        verification audit's scheme, :func:`fairaudit.covariates.tables.draw_group_weights`)."""
        local = np.zeros(len(ident_group), dtype=np.int64)
        offsets = np.zeros(n_groups + 1, dtype=np.int64)
        for g in range(n_groups):
            members = np.flatnonzero(ident_group == g)
            local[members] = np.arange(members.size)
            offsets[g + 1] = offsets[g] + members.size
        weights = tables.draw_group_weights(ident_group, n_groups, int(n_boot), rng) if n_boot else None
        return cls(local, offsets, offsets[ident_group] + local, weights,
                   None if weights is None else np.hstack(weights))

    def scope(self, g: int | None) -> tuple[np.ndarray, int, np.ndarray | None]:
        """``(column of every identity, number of columns, weights)`` of group ``g`` (None: everyone)."""
        if g is None:
            return self.position, int(self.offsets[-1]), self.everyone
        return self.local, int(self.offsets[g + 1] - self.offsets[g]), None if self.weights is None else self.weights[g]


def check_covariate_names(data: Any, covariates: Any, no_covariates: str, unknown: str) -> list[str]:
    """The covariates to audit: all of ``data``'s for None, else the names given, each once and each
    one of ``data``'s (``no_covariates``/``unknown``: the messages, naming the kind of data)."""
    available = data.covariate_names
    if not available:
        raise errors.FairauditInputError(no_covariates)
    if covariates is None:
        return available
    names = [covariates] if isinstance(covariates, str) else list(covariates)
    if not names:
        raise errors.FairauditInputError(unknown.format(value=covariates, name="", available=available))
    for name in names:
        if name not in available:
            raise errors.FairauditInputError(unknown.format(value=covariates, name=name, available=available))
    if len(set(names)) != len(names):
        raise errors.FairauditInputError(f"covariates={names!r} names a covariate twice. Fix: name each once.")
    return names


def contrast_notes(cov_bins: Mapping[str, CovariateBins]) -> list[str]:
    """A note for every covariate with a single bin."""
    return [
        (f"Covariate {name!r} falls in a single bin {cb.labels[0]}: its quantiles are tied (or it has one "
         f"value), so nothing is compared within groups. Cut it yourself with bins={{{name!r}: edges}}."
         if cb.kind == "numeric" else
         f"Covariate {name!r} has the single level {cb.labels[0]!r}: nothing is compared within groups.")
        for name, cb in cov_bins.items() if cb.n_bins < 2]


def genuine_tables(gen, fnm: np.ndarray, gen_group: np.ndarray, labels, cov_bins: Mapping[str, CovariateBins],
                   index: IdentityIndex, *, n_bins: int, curve_bins: int, ci: float,
                   min_identities: int) -> tuple[list[dict], list[dict]]:
    """The FNMR rows (pairings "lower" and "gap") and the FNMR-curve rows of every covariate, per
    group and for everyone. ``gen.a``/``gen.b`` index the samples the bins were cut over."""
    scopes = list(range(len(labels))) + [None]

    def scope_rows(pair_bin, n_out, out_labels, covariate, pairing):
        rows: list[dict] = []
        for g in scopes:
            sel = np.ones(len(gen.identity), dtype=bool) if g is None else gen_group == g
            to_col, m, w = index.scope(g)
            rows += tables.genuine_rates(to_col[gen.identity[sel]], pair_bin[sel], fnm[sel], m, n_out, w,
                                         covariate=covariate, pairing=pairing,
                                         group=None if g is None else labels[g], labels=out_labels, ci=ci,
                                         min_identities=min_identities)
        return rows

    fnmr_rows: list[dict] = []
    curve_rows: list[dict] = []
    for name, cb in cov_bins.items():
        pair_labels = cb.pair_labels()
        fnmr_rows += scope_rows(cb.pair_codes(gen.a, gen.b), len(pair_labels), pair_labels, name, "lower")
        if cb.kind != "numeric" or not gen.a.size:
            continue
        gap = np.abs(cb.values[gen.a] - cb.values[gen.b])
        if np.ptp(gap) > 0:
            gb = make_bins(f"{name} gap", "numeric", gap, n_bins=n_bins)
            fnmr_rows += scope_rows(gb.codes, gb.n_bins, gb.labels, name, "gap")
        low = np.minimum(cb.values[gen.a], cb.values[gen.b])
        edges = quantile_edges(low, curve_bins)
        cbins = make_bins(name, "numeric", low, n_bins=curve_bins,
                          edges=edges if edges.size > 1 and np.ptp(edges) > 0 else None)
        rows = scope_rows(cbins.codes, cbins.n_bins, cbins.labels, name, "lower")
        medians = pd.Series(low).groupby(cbins.codes).median()
        for row in rows:
            row["x"] = float(medians.get(row["bin_code"], np.nan))
        curve_rows += rows
    return fnmr_rows, curve_rows


def make_result(*, verification: Any, by: tuple, labels, cov_bins: Mapping[str, CovariateBins],
                kinds: Mapping[str, str], options: Mapping[str, Any], value_labels: Mapping[str, Any],
                fnmr_rows: list, fmr_rows: list, cell_frames: list, curve_rows: list, models: Any,
                notes: list[str], start: float, extra_params: Mapping[str, Any] | None = None) -> CovariateResult:
    """The :class:`CovariateResult` of the tables; ``options`` are the audit's checked arguments
    (``n_bins``, ``curve_bins``, ``n_boot``, ``ci``, ``min_identities``, ``random_state``,
    ``bin_width``, ``tile``)."""
    names = list(cov_bins)

    def frame(rows, extra=()):
        return pd.DataFrame(rows, columns=list(tables.RATE_TABLE_COLUMNS) + list(extra))

    random_state = options["random_state"]
    params = {
        "by": list(by), "covariates": names, "covariate_kinds": {c: kinds[c] for c in names},
        "threshold": verification.params["threshold"], "n_bins": options["n_bins"],
        "curve_bins": options["curve_bins"],
        "bins": {c: list(cov_bins[c].edges) for c in names if cov_bins[c].kind == "numeric"},
        "n_boot": int(options["n_boot"]), "ci": float(options["ci"]),
        "min_identities": int(options["min_identities"]),
        "random_state": random_state if isinstance(random_state, (int, type(None))) else "Generator",
        "bin_width": float(options["bin_width"]), "tile": int(options["tile"]), "bootstrap": BOOTSTRAP,
        "value_labels": {k: v for k, v in value_labels.items() if k in by}, **(extra_params or {}),
    }
    return CovariateResult(
        threshold=float(verification.threshold), policy=verification.policy, by=tuple(by), groups=list(labels),
        fnmr=frame(fnmr_rows), fmr=frame(fmr_rows),
        fmr_cells=(pd.concat(cell_frames, ignore_index=True) if cell_frames else
                   pd.DataFrame(columns=list(tables.CELL_COLUMNS))),
        fnmr_curve=frame(curve_rows, ("x",)), models=models,
        by_group=verification.by_group[["label", "n_identities", "n_genuine", "n_impostor", "fmr", "fnmr"]].copy(),
        params=params, provenance=provenance(elapsed_s=time.perf_counter() - start),
        # the verification audit here only fixes the threshold: its bootstrap notes do not apply
        notes=[n for n in verification.notes if not n.startswith("n_boot=0")] + contrast_notes(cov_bins) + notes,
    )
