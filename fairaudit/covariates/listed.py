"""The covariate audit of a ScoreSet: the listed comparisons, each side with its covariates.

:func:`covariate_audit` hands a :class:`~fairaudit.data.ScoreSet` here. The tables are those of
the EmbeddingSet route (:mod:`.audit`), computed from the listed rows instead of all pairs of
samples:

* every **side of a row is a sample**: index ``i`` is side a of row ``i`` and ``n + i`` side b, so
  the bins of a covariate are cut over the values of all row-sides together, and a row is the pair
  of samples ``(i, n + i)``;
* **genuine rows** give FNMR (identity: ``identity_a``), false non-match when ``score < threshold``;
* **impostor rows** give FMR within each group (both sides' identities in the group) and for
  everyone, false match when ``score >= threshold``. The denominators are the listed impostor
  comparisons, weighted ``w_a * w_b`` in the identity bootstrap like the false matches
  (:func:`fairaudit.covariates.tables._cell_numerators` sums both), not the all-pairs formula;
* the threshold is the verification audit's on the same ScoreSet, so a group's bins add up to its
  FMR and FNMR there.

The regressions are :func:`fairaudit.covariates.models.fit_models`'s, the impostor regression's
cells counting the listed comparisons (:func:`fairaudit.covariates.models.listed_counter`).
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common.seeds import resolve_rng
from fairaudit.covariates import tables
from fairaudit.covariates.assembly import IdentityIndex, genuine_tables, make_result
from fairaudit.covariates.bins import all_bins, cell_index, check_n_bins
from fairaudit.covariates.pairs import GenuinePairs
from fairaudit.covariates.result import CovariateResult
from fairaudit.data import ScoreSet, make_groups

#: the most joint covariate bins of the impostor regression's cells (as for an EmbeddingSet)
MAX_JOINT_BINS = 64

NO_COVARIATES = ("the ScoreSet has no covariates, so there is nothing to audit by. Fix: add some with "
                 "ss.with_covariates(a={'quality': quality_a}, b={'quality': quality_b}) (one value per "
                 "comparison and side), or columns covariate:NAME_a and covariate:NAME_b in the score file.")
UNKNOWN_COVARIATE = ("covariates={value!r}: {name!r} is not a covariate of this ScoreSet; covariates: "
                     "{available}. Fix: pick from those.")


def _check_covariates(data: ScoreSet, covariates: Any) -> list[str]:
    from fairaudit.covariates.assembly import check_covariate_names

    return check_covariate_names(data, covariates, NO_COVARIATES, UNKNOWN_COVARIATE)


def _impostor_cells(a: np.ndarray, b: np.ndarray, cells: np.ndarray, error: np.ndarray, n_cells: int,
                    w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Numerators (false matches) and denominators (all listed impostor comparisons) per cell,
    ``sum w_a w_b`` over the rows, for weights ``w`` ``(R, m)``."""
    return (tables._cell_numerators(w, a[error], b[error], cells[error], n_cells),
            tables._cell_numerators(w, a, b, cells, n_cells))


def listed_covariate_audit(
    data: ScoreSet, *, by: str | Sequence[str], covariates: str | Sequence[str] | None, threshold: Any,
    n_bins: int, bins: Mapping[str, Sequence[float]] | None, curve_bins: int, n_boot: int, ci: float,
    random_state: int | np.random.Generator | None, bin_width: float, tile: int, progress: bool | None,
    min_identities: int, regression: bool,
) -> CovariateResult:
    """:func:`~fairaudit.covariate_audit` of a ScoreSet (same arguments, same result)."""
    from fairaudit.verification.audit import _check_options, verification_audit
    from fairaudit.verification.policy import parse_threshold

    start = time.perf_counter()
    names_cov = _check_covariates(data, covariates)
    by_t = data.resolve_by(by)
    n_bins = check_n_bins(n_bins)
    curve_bins = check_n_bins(curve_bins)
    _check_options(0.5, n_boot, ci, bin_width, tile)
    parse_threshold(threshold)
    rng = resolve_rng(random_state)
    kinds = data.covariate_kinds
    side_a, side_b = data.covariates("a"), data.covariates("b")
    n = len(data)
    # row-side i (side a of row i) and n + i (side b) are the samples the bins are cut over
    cov_bins = all_bins({c: (kinds[c], np.concatenate([side_a[c].to_numpy(), side_b[c].to_numpy()]))
                         for c in names_cov}, n_bins=n_bins, bins=bins)

    verification = verification_audit(data, by=by_t, threshold=threshold, n_boot=0, n_perm=0,
                                      bin_width=bin_width, tile=tile, progress=progress,
                                      min_identities=min_identities)
    thr = float(verification.threshold)
    table = data.identity_table()  # identities and groups as the verification audit's ScoreSet route
    names = table.index.to_numpy().astype(str)
    groups = make_groups({name: table[name].to_numpy() for name in by_t}, by_t)
    lookup = pd.Index(names)
    ident_a, ident_b = lookup.get_indexer(data.identity_a), lookup.get_indexer(data.identity_b)
    sample_ident = np.concatenate([ident_a, ident_b]).astype(np.int64)
    labels = groups.labels
    G = groups.n_groups
    ident_group = groups.codes
    index = IdentityIndex.build(ident_group, G, n_boot, rng)

    scores = data.scores
    rows_gen = np.flatnonzero(data.genuine)
    gen = GenuinePairs(rows_gen.astype(np.int64), (rows_gen + n).astype(np.int64),
                       ident_a[rows_gen].astype(np.int64), scores[rows_gen].astype(np.float64))
    fnm = gen.score < thr
    gen_group = ident_group[gen.identity]
    imp_a = np.flatnonzero(~data.genuine).astype(np.int64)
    imp_b = imp_a + n
    fm = scores[imp_a] >= thr
    ia, ib = sample_ident[imp_a], sample_ident[imp_b]
    group_a, group_b = ident_group[ia], ident_group[ib]
    n_fm_expected = int(round(float(verification.overall["fmr"]) * float(verification.overall["n_impostor"])))
    if int(fm.sum()) != n_fm_expected:  # the same scores and threshold: this cannot differ
        raise RuntimeError(f"covariate audit found {int(fm.sum())} false matches, the audit {n_fm_expected}")

    ci_f, min_ids = float(ci), int(min_identities)
    fnmr_rows, curve_rows = genuine_tables(gen, fnm, gen_group, labels, cov_bins, index, n_bins=n_bins,
                                           curve_bins=curve_bins, ci=ci_f, min_identities=min_ids)
    fmr_rows: list[dict] = []
    cell_frames: list[pd.DataFrame] = []
    for name, cb in cov_bins.items():
        code_a, code_b = cb.codes[imp_a], cb.codes[imp_b]
        cell_of = cell_index(cb.n_bins)[code_a, code_b]
        n_cells = cb.n_bins * (cb.n_bins + 1) // 2
        for g in list(range(G)) + [None]:
            to_col, m, w = index.scope(g)
            keep = slice(None) if g is None else (group_a == g) & (group_b == g)
            a_, b_, cells, err = to_col[ia[keep]], to_col[ib[keep]], cell_of[keep], fm[keep]
            present = np.zeros((m, cb.n_bins), dtype=bool)
            present[a_, code_a[keep]] = True
            present[b_, code_b[keep]] = True
            rows, cells_df = tables.impostor_rates(
                present, lambda w_, a=a_, b=b_, k=cells, e=err: _impostor_cells(a, b, k, e, n_cells, w_), cb, w,
                group=None if g is None else labels[g], ci=ci_f, min_identities=min_ids)
            fmr_rows += rows
            cell_frames.append(cells_df)

    models, notes = None, []
    if regression:
        from fairaudit.covariates.models import fit_models, listed_counter

        models, notes = fit_models(gen=gen, fnm=fnm, gen_group=gen_group, labels=labels, cov_bins=cov_bins,
                                   count=listed_counter(imp_a, imp_b, fm, group_a, group_b),
                                   max_joint_bins=MAX_JOINT_BINS, ci=ci_f)

    options = dict(n_bins=n_bins, curve_bins=curve_bins, n_boot=n_boot, ci=ci_f, min_identities=min_ids,
                   random_state=random_state, bin_width=bin_width, tile=tile)
    return make_result(verification=verification, by=by_t, labels=labels, cov_bins=cov_bins, kinds=kinds,
                       options=options, value_labels=data.value_labels, fnmr_rows=fnmr_rows, fmr_rows=fmr_rows,
                       cell_frames=cell_frames, curve_rows=curve_rows, models=models, notes=notes, start=start,
                       extra_params={"comparisons": "the listed comparisons of a ScoreSet (bins cut over the "
                                                    "values of both sides of every row)"})
