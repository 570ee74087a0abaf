"""The covariate audit: FNMR and FMR per covariate bin within each group at the verification
audit's threshold, FNMR against a numeric covariate per group, FMR heatmaps over the two samples'
bins, and regressions that say whether a demographic gap survives the covariates."""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.seeds import resolve_rng
from fairaudit.covariates import tables
from fairaudit.covariates.assembly import IdentityIndex, genuine_tables, make_result
from fairaudit.covariates.bins import all_bins, cell_index, check_n_bins
from fairaudit.covariates.pairs import false_matches, genuine_pairs, unit_rows_of
from fairaudit.covariates.result import CovariateResult
from fairaudit.data import EmbeddingSet, normalize_by
from fairaudit.verification.grid import DEFAULT_BIN_WIDTH, DEFAULT_TILE, BinGrid
from fairaudit.verification.small_samples import DEFAULT_MIN_IDENTITIES

#: the most false matches listed for the impostor tables (16 bytes each)
MAX_FALSE_MATCHES = 20_000_000
#: the most joint covariate bins of the impostor regression's cells
MAX_JOINT_BINS = 64

NOT_EMBEDDINGS = ("data is a {type}; the covariate audit needs an EmbeddingSet with covariates (per-sample "
                  "values travel with the embeddings) or a ScoreSet with covariates per side. Fix: build one "
                  "with EmbeddingSet(..., covariates=...) or EmbeddingSet.with_covariates(table) (extract gives "
                  "quality covariates), or ScoreSet.with_covariates(a=..., b=...).")
NO_COVARIATES = ("the EmbeddingSet has no covariates, so there is nothing to audit by. Fix: add some with "
                 "es.with_covariates({'age': ages, 'quality': scores}), or run extract, which measures "
                 "image quality.")
UNKNOWN_COVARIATE = ("covariates={value!r}: {name!r} is not a covariate of this set; covariates: {available}. "
                     "Fix: pick from those.")


def _check_covariates(data: EmbeddingSet, covariates: Any) -> list[str]:
    from fairaudit.covariates.assembly import check_covariate_names

    return check_covariate_names(data, covariates, NO_COVARIATES, UNKNOWN_COVARIATE)


def covariate_audit(
    data: Any,
    *,
    by: str | Sequence[str],
    covariates: str | Sequence[str] | None = None,
    threshold: Any = "eer",
    n_bins: int = 4,
    bins: Mapping[str, Sequence[float]] | None = None,
    curve_bins: int = 10,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
    bin_width: float = DEFAULT_BIN_WIDTH,
    tile: int = DEFAULT_TILE,
    progress: bool | None = None,
    min_identities: int = DEFAULT_MIN_IDENTITIES,
    regression: bool = True,
    scheduler: Any = None,
    workers: int | None = None,
    scratch_dir: str | None = None,
) -> CovariateResult:
    """Audit verification errors by sample-level covariate within each demographic group.

    Parameters
    ----------
    data : EmbeddingSet or ScoreSet
        With covariates (``EmbeddingSet(..., covariates=...)``, or the quality measures of
        ``extract``; for a ScoreSet, covariates per side: ``ss.with_covariates(a=..., b=...)``,
        audited over the listed comparisons, see :mod:`fairaudit.covariates.listed`).
    by : str or sequence of str
        The grouping attribute(s), as for :func:`~fairaudit.verification_audit`.
    covariates : str, sequence of str or None
        The covariates to audit by (default: all of the set's).
    threshold : as for :func:`~fairaudit.verification_audit`
        One threshold for everything: chosen by the same policy on the same data, so the rates
        here add up to the verification audit's (a previous result may be passed).
    n_bins : int
        Quantile bins per numeric covariate (ties merge bins).
    bins : mapping, optional
        ``{name: edges}`` for numeric covariates binned at given edges (e.g. age groups).
    curve_bins : int
        Quantile bins of the FNMR-against-covariate curves.
    n_boot, ci, random_state, min_identities
        The identity bootstrap, as for the verification audit (``n_boot=0``: no intervals).
    bin_width, tile, progress
        As for the verification audit.
    scheduler, workers, scratch_dir
        Run both passes over the pairs on Dask, as for the verification audit (an EmbeddingSet;
        the listed comparisons of a ScoreSet are counted in this process). The tables are the same.
    regression : bool
        Fit the regressions of false non-matches and false matches on the groups and the
        covariates (:mod:`fairaudit.covariates.regression`; needs statsmodels).

    Returns
    -------
    CovariateResult
    """
    from fairaudit.verification.audit import _check_options
    from fairaudit.verification.policy import parse_threshold

    start = time.perf_counter()
    if not isinstance(data, EmbeddingSet):
        from fairaudit.data import ScoreSet

        if isinstance(data, ScoreSet):
            from fairaudit.covariates.listed import listed_covariate_audit

            result = listed_covariate_audit(
                data, by=by, covariates=covariates, threshold=threshold, n_bins=n_bins, bins=bins,
                curve_bins=curve_bins, n_boot=n_boot, ci=ci, random_state=random_state, bin_width=bin_width,
                tile=tile, progress=progress, min_identities=min_identities, regression=regression)
            if scheduler is not None or workers is not None:
                result.notes.append("The listed comparisons were counted in this process: scheduler and workers "
                                    "apply to the all-pairs passes of an EmbeddingSet.")
            return result
        raise errors.FairauditInputError(NOT_EMBEDDINGS.format(type=type(data).__name__))
    names_cov = _check_covariates(data, covariates)
    by_t = normalize_by(by, data.attribute_names)
    n_bins = check_n_bins(n_bins)
    curve_bins = check_n_bins(curve_bins)
    _check_options(0.5, n_boot, ci, bin_width, tile)
    policy = parse_threshold(threshold)
    rng = resolve_rng(random_state)
    kinds = data.covariate_kinds
    table = data.covariates
    cov_bins = all_bins({c: (kinds[c], table[c].to_numpy()) for c in names_cov}, n_bins=n_bins, bins=bins)

    from fairaudit.common.executors import executor_for

    with executor_for(scheduler, workers) as executor:
        return _embedding_audit(data, by_t=by_t, threshold=threshold, policy=policy, rng=rng, kinds=kinds,
                                cov_bins=cov_bins, n_bins=n_bins, curve_bins=curve_bins, n_boot=n_boot, ci=ci,
                                random_state=random_state, bin_width=bin_width, tile=tile, progress=progress,
                                min_identities=min_identities, regression=regression, start=start,
                                executor=executor, scratch_dir=scratch_dir)


def _embedding_audit(data: EmbeddingSet, *, by_t, threshold, policy, rng, kinds, cov_bins, n_bins, curve_bins,
                     n_boot, ci, random_state, bin_width, tile, progress, min_identities, regression, start,
                     executor, scratch_dir) -> CovariateResult:
    """The EmbeddingSet route of :func:`covariate_audit`, its options checked."""
    import contextlib

    from fairaudit.common.executors import scratch_directory
    from fairaudit.verification.audit import verification_audit
    from fairaudit.verification.audit_inputs import _identity_groups_from_embeddings, _progress_bar

    verification = verification_audit(data, by=by_t, threshold=threshold, n_boot=0, n_perm=0,
                                      bin_width=bin_width, tile=tile, progress=progress,
                                      min_identities=min_identities, scratch_dir=scratch_dir,
                                      scheduler=None if executor is None else executor.client)
    thr = float(verification.threshold)
    origin = policy.value if policy.kind == "fixed" else 0.0
    grid = BinGrid.around(origin, float(bin_width))
    edges = grid.edges()
    k_op = int(np.argmin(np.abs(edges - thr)))
    names, ident, groups = _identity_groups_from_embeddings(data, by_t)
    labels = groups.labels
    G = groups.n_groups
    ident_group = groups.codes
    index = IdentityIndex.build(ident_group, G, n_boot, rng)
    notes: list[str] = []

    gen = genuine_pairs(unit_rows_of(data), ident)  # a memory-mapped set stays on disk
    fnm = gen.score < thr
    gen_group = ident_group[gen.identity]

    n_fm_expected = int(round(float(verification.overall["fmr"]) * float(verification.overall["n_impostor"])))
    fm_a = fm_b = None
    if n_fm_expected > MAX_FALSE_MATCHES:
        notes.append(f"The threshold accepts {n_fm_expected:,} impostor comparisons, more than the "
                     f"{MAX_FALSE_MATCHES:,} the FMR tables list: no FMR by covariate. Use a stricter threshold "
                     "(an FMR target) for them.")
    else:
        n = len(data)
        bar = _progress_bar(n * (n + 1) // 2, progress, "impostor pairs (covariates)")
        try:
            # the sorted rows go to a scratch file for other processes or an out-of-core set, as in the
            # verification audit
            needs_file = executor is not None or data.out_of_core
            with (scratch_directory(scratch_dir) if needs_file else contextlib.nullcontext()) as scratch:
                fm_a, fm_b = false_matches(data, ident, ident_group, grid, k_op, tile=int(tile), scratch_dir=scratch,
                                           executor=executor, progress=None if bar is None else bar.update)
        finally:
            if bar is not None:
                bar.close()
        if fm_a.size != n_fm_expected:  # the same tiles and decisions: this cannot differ
            raise RuntimeError(f"covariate pass found {fm_a.size} false matches, the audit {n_fm_expected}")

    ci_f, min_ids = float(ci), int(min_identities)
    fnmr_rows, curve_rows = genuine_tables(gen, fnm, gen_group, labels, cov_bins, index, n_bins=n_bins,
                                           curve_bins=curve_bins, ci=ci_f, min_identities=min_ids)
    fmr_rows: list[dict] = []
    cell_frames: list[pd.DataFrame] = []
    ia, ib = (ident[fm_a], ident[fm_b]) if fm_a is not None else (None, None)
    for name, cb in cov_bins.items() if fm_a is not None else ():
        cell_of = cell_index(cb.n_bins)[cb.codes[fm_a], cb.codes[fm_b]]
        for g in list(range(G)) + [None]:
            to_col, m, w = index.scope(g)
            # samples per identity and bin (of the group, or of everyone)
            mine = np.ones(len(ident), dtype=bool) if g is None else ident_group[ident] == g
            keep = slice(None) if g is None else (ident_group[ia] == g) & (ident_group[ib] == g)
            counts = np.zeros((m, cb.n_bins))
            np.add.at(counts, (to_col[ident[mine]], cb.codes[mine]), 1.0)
            a_, b_, cells = to_col[ia[keep]], to_col[ib[keep]], cell_of[keep]
            rows, cells_df = tables.impostor_rates(
                counts > 0, lambda w_, c=counts, a=a_, b=b_, k=cells: tables.impostor_cells(w_, c, a, b, k), cb, w,
                group=None if g is None else labels[g], ci=ci_f, min_identities=min_ids)
            fmr_rows += rows
            cell_frames.append(cells_df)

    models = None
    if regression:
        from fairaudit.covariates.models import all_pairs_counter, fit_models

        models, model_notes = fit_models(
            gen=gen, fnm=fnm, gen_group=gen_group, labels=labels, cov_bins=cov_bins,
            count=None if fm_a is None else all_pairs_counter(ident, ident_group, fm_a, fm_b),
            max_joint_bins=MAX_JOINT_BINS, ci=ci_f)
        notes += model_notes
    options = dict(n_bins=n_bins, curve_bins=curve_bins, n_boot=n_boot, ci=ci_f, min_identities=min_ids,
                   random_state=random_state, bin_width=bin_width, tile=tile)
    return make_result(verification=verification, by=by_t, labels=labels, cov_bins=cov_bins, kinds=kinds,
                       options=options, value_labels=data.value_labels, fnmr_rows=fnmr_rows, fmr_rows=fmr_rows,
                       cell_frames=cell_frames, curve_rows=curve_rows, models=models, notes=notes, start=start)
