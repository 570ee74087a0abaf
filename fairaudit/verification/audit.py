"""The verification audit: per-group FMR, FNMR, EER and fairness figures at one threshold."""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.provenance import provenance
from fairaudit.common.seeds import resolve_rng
from fairaudit.data import LABEL_SEP, POOLED, EmbeddingSet, normalize_by  # noqa: F401 - LABEL_SEP public here
from fairaudit.verification import rates
from fairaudit.verification.bootstrap import draw_weights, group_replicates_at, percentile_interval
from fairaudit.verification.comparisons import comparisons_table, empty_comparisons
from fairaudit.verification.curves import (  # noqa: F401 - importable from the audit, where they were
    EER_GRID_POINTS,
    HISTOGRAM_BINS,
    _coarse_histograms,
    _Curves,
)
from fairaudit.verification.grid import DEFAULT_BIN_WIDTH, DEFAULT_TILE
from fairaudit.verification.identity_pairs import (
    all_identity_pair_accepts,
    embedding_identity_pair_counts,
    score_identity_pair_counts,
)
from fairaudit.verification.pairs import (  # noqa: F401 - importable from the audit, where they were
    PAIRS_COLUMNS,
    PAIRS_GENUINE,
    PAIRS_NEED_EMBEDDINGS,
    PAIRS_UNKNOWN,
    listed_pairs,
)
from fairaudit.verification.policy import ThresholdPolicy, parse_threshold, resolve_reference_group
from fairaudit.verification.result import CI_COLUMNS, RATE_COLUMNS, VerificationResult
from fairaudit.verification.small_samples import DEFAULT_MIN_IDENTITIES, add_flags, apply_intervals
from fairaudit.verification.system_rates import add_system_rates


# --------------------------------------------------------------------------
BAD_TILE = "tile={value!r} must be an integer >= 1 (rows per tile of the blocked product). Fix: keep the default 2048."


def _check_options(alpha: Any, n_boot: Any, ci: Any, bin_width: Any, tile: Any = DEFAULT_TILE) -> None:
    if isinstance(tile, bool) or not isinstance(tile, numbers.Integral) or tile < 1:
        raise errors.FairauditInputError(BAD_TILE.format(value=tile))
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= float(alpha) <= 1.0:
        raise errors.FairauditInputError(errors.BAD_ALPHA.format(value=alpha))
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or (n_boot != 0 and n_boot < 20):
        raise errors.FairauditInputError(errors.BAD_N_BOOT.format(value=n_boot))
    if isinstance(ci, bool) or not isinstance(ci, numbers.Real) or not 0.0 < float(ci) < 1.0:
        raise errors.FairauditInputError(errors.BAD_CI.format(value=ci))
    if isinstance(bin_width, bool) or not isinstance(bin_width, numbers.Real) or not 1e-6 <= float(bin_width) <= 0.01:
        raise errors.FairauditInputError(errors.BAD_BIN_WIDTH.format(value=bin_width))


BAD_N_PERM = ("n_perm={value!r} must be an integer >= 0 (permutations per comparison; 0 = no p-value). "
              "Fix: keep the default 1000.")


BAD_MIN_IDENTITIES = ("min_identities={value!r} must be an integer >= 1 (identities per group below which "
                      "a group is flagged as small). Fix: keep the default 30.")


def _check_n_perm(n_perm: Any, min_identities: Any = DEFAULT_MIN_IDENTITIES) -> None:
    if isinstance(n_perm, bool) or not isinstance(n_perm, numbers.Integral) or n_perm < 0:
        raise errors.FairauditInputError(BAD_N_PERM.format(value=n_perm))
    if isinstance(min_identities, bool) or not isinstance(min_identities, numbers.Integral) or min_identities < 1:
        raise errors.FairauditInputError(BAD_MIN_IDENTITIES.format(value=min_identities))


from fairaudit.verification.audit_inputs import (  # noqa: E402,F401 - importable from the audit, where they were
    REPLICATE_SINK, SCORES_OUT_OF_RANGE, _identity_groups_from_embeddings, _progress_bar, _replicates_for_sink,
    _stats_from_data)


#: the first pass keeps the comparisons above the score a pilot puts at this multiple of an FMR target
KEEP_MARGIN = 1.5


def _high_scores_to_keep(policy: ThresholdPolicy, n_boot: int) -> dict | None:
    """What the first pass keeps for the group comparisons (accepts of every identity pair at the
    threshold): comparisons at or above a fixed threshold, or above the pilot's score at twice an
    FMR target. None for the EER policy (the threshold accepts too much to keep) or no bootstrap:
    the comparisons then take a pass of their own."""
    if not n_boot:
        return None
    if policy.kind == "fixed":
        return {"keep_from_score": float(policy.value)}
    if policy.kind == "fmr" and policy.group is None:
        return {"keep_fmr": min(1.0, KEEP_MARGIN * float(policy.value))}
    # a reference group's FMR target says little about the pooled share above the threshold:
    # the group comparisons' accepts then take a pass of their own
    return None


def _data_types() -> tuple[type, ...]:
    from fairaudit.data import ScoreSet

    return (EmbeddingSet, ScoreSet)


def verification_audit(
    data: Any,
    *,
    by: str | Sequence[str] | None,
    threshold: Any = "eer",
    alpha: float = 0.5,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state: int | np.random.Generator | None = 0,
    bin_width: float = DEFAULT_BIN_WIDTH,
    tile: int = DEFAULT_TILE,
    progress: bool | None = None,
    pairs: pd.DataFrame | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    scratch_dir: str | None = None,
    n_perm: int = 1000,
    min_identities: int = DEFAULT_MIN_IDENTITIES,
) -> VerificationResult:
    """Audit verification errors per demographic group at one global threshold.

    Parameters
    ----------
    data : EmbeddingSet or ScoreSet
        Embeddings (every unordered pair of samples is compared once: genuine
        when both show one identity, impostor otherwise) or a table of scores
        from a black-box system (the listed comparisons are used as they are).
    by : str, sequence of str or None
        The attribute(s) that define the groups; several give intersections
        (``by=["gender", "ethnicity"]``). A pair counts toward group g when both
        of its samples are in g; pairs across groups feed ``cross_fmr``. None: a
        pooled-only audit (``overall``, the pooled curves; ``by_group``,
        ``cross_fmr``, ``fairness`` and ``comparisons`` keep their columns, no row).
    threshold : float, "eer", {"fmr": target} or "fmr=1e-3"
        The threshold policy: a fixed score; the pooled EER threshold; or the
        lowest threshold at which the pooled FMR is at most the target (as
        NIST FRTE does). The same threshold applies to every group.
    alpha : float in [0, 1]
        Weight of FMR against FNMR in FDR, GARBE and the inequity rate.
    n_boot : int
        Bootstrap replicates over identities for confidence intervals (0 = none).
    ci : float
        Confidence level of the percentile intervals.
    random_state : int, Generator or None
        Seeds the bootstrap and then the permutations (drawn after it, so the bootstrap does not
        depend on ``n_perm``); the same value gives the same numbers.
    bin_width : float
        Width of the impostor score bins. Counts at the threshold are exact;
        curves, EER and AUC are accurate to one bin.
    tile : int
        Rows per tile of the blocked product (memory per tile is about
        ``8 * tile**2`` bytes).
    progress : bool or None
        Show a progress bar (None: only on a terminal).
    pairs : DataFrame, optional
        With an EmbeddingSet: compare exactly these pairs instead of all pairs,
        as protocols with fixed pairs require (RFW). Columns ``index_a`` and
        ``index_b`` (rows of ``data``) or ``path_a`` and ``path_b`` (values of
        ``data.path``), e.g. ``manifest.attrs["pairs"]`` of the ``rfw``
        loader; an optional ``genuine`` column must agree with the identities.
        Pairs are used as listed: none is added, dropped or merged.
    scheduler : dask.distributed.Client, str or None
        Run the all-pairs engine on Dask: a ``Client``, a scheduler address
        (``"tcp://host:8786"``), ``"processes"`` or ``"threads"`` (a local
        cluster). Results are identical to the single-process engine (None),
        bit for bit. Needs ``pip install fairaudit[dask]``. Applies to an
        EmbeddingSet; a ScoreSet is counted in one pass here.
    workers : int, optional
        Without ``scheduler``: run on a local cluster of this many worker
        processes. With ``"threads"``/``"processes"``: its size.
    scratch_dir : str, optional
        Where the engine writes the embeddings sorted by group and identity
        (``4 * n_samples * n_features`` bytes) when it needs a file: on a Dask
        cluster, whose workers read their blocks from it (so it must be on a
        filesystem every worker mounts), or for an out-of-core EmbeddingSet.
        Default: the system's temporary directory. Removed afterwards.
    n_perm : int
        Identity-level permutations per row of ``comparisons`` for the FMR and FNMR p-values
        (0 = no p-value, the EER rows' bootstrap ones included). The comparisons need the
        bootstrap (``n_boot > 0``); on the EmbeddingSet route they add one pass over all pairs.
    min_identities : int
        Groups with fewer identities are flagged (``below_min_identities``, notes) and get
        Clopper-Pearson FMR/FNMR/EER intervals on an effective sample size instead of percentile
        ones, and their comparisons combined (Newcombe) intervals (see ``docs/concepts/statistics.md``).

    Returns
    -------
    VerificationResult
    """
    if by is None:  # a pooled-only audit: the pooled figures, no group
        options = {name: value for name, value in locals().items() if name not in ("data", "by")}
        from fairaudit.verification.pooled import pooled_only_audit

        return pooled_only_audit(data, audit=verification_audit, **options)
    from fairaudit.common.executors import executor_for, scratch_directory

    # bad options fail here, before a Dask cluster starts or any pair is scored
    parse_threshold(threshold)
    _check_options(alpha, n_boot, ci, bin_width, tile)
    _check_n_perm(n_perm, min_identities)
    resolve_rng(random_state)
    if isinstance(data, EmbeddingSet):
        normalize_by(by, data.attribute_names)
    elif isinstance(data, _data_types()):
        data.resolve_by(by)
    else:
        raise errors.FairauditInputError(errors.BAD_DATA_TYPE.format(type=type(data).__name__))
    with contextlib.ExitStack() as stack:
        executor = stack.enter_context(executor_for(scheduler, workers))
        # a sorted embeddings file is written only for other processes or an out-of-core set
        needs_file = executor is not None or getattr(data, "out_of_core", False)
        scratch = stack.enter_context(scratch_directory(scratch_dir)) if needs_file else None
        return _verification_audit(
            data, by=by, threshold=threshold, alpha=alpha, n_boot=n_boot, ci=ci, random_state=random_state,
            bin_width=bin_width, tile=tile, progress=progress, pairs=pairs, executor=executor,
            scratch=scratch, n_perm=n_perm, min_identities=min_identities,
        )


def _verification_audit(data: Any, *, by: Any, threshold: Any, alpha: float, n_boot: int, ci: float,
                        random_state: Any, bin_width: float, tile: int, progress: bool | None,
                        pairs: pd.DataFrame | None, executor: Any, scratch: str | None,
                        n_perm: int = 1000,
                        min_identities: int = DEFAULT_MIN_IDENTITIES) -> VerificationResult:
    start = time.perf_counter()
    policy = parse_threshold(threshold)
    _check_options(alpha, n_boot, ci, bin_width, tile)
    rng = resolve_rng(random_state)
    origin = policy.value if policy.kind == "fixed" else 0.0
    unpaired: list[str] = []
    source = data  # what the user passed: its codebook is recorded in params
    if pairs is not None:
        embeddings = data
        data = listed_pairs(data, pairs)
        by_all = normalize_by(by, embeddings.attribute_names)
        _, _, all_groups = _identity_groups_from_embeddings(embeddings, by_all)
    stats, by_t = _stats_from_data(data, by, origin, float(bin_width), int(tile), progress, executor, scratch,
                                   keep=_high_scores_to_keep(policy, n_boot))
    if pairs is not None:
        unpaired = [label for label in all_groups.labels if label not in set(stats.groups.labels)]
    if stats.gen_score.size == 0:
        raise errors.FairauditInputError(errors.NO_GENUINE_PAIRS)
    grid = stats.grid
    edges = grid.edges()
    groups = stats.groups
    labels = groups.labels
    gen_group = stats.gen_group

    curves: dict[str, _Curves] = {POOLED: _Curves(stats.pooled_impostor_hist(), np.sort(stats.gen_score), edges)}
    for g, label in enumerate(labels):
        curves[label] = _Curves(stats.impostor_hist(g), np.sort(stats.gen_score[gen_group == g]), edges)
    pooled = curves[POOLED]
    notes: list[str] = []
    if unpaired:
        notes.append(f"Group(s) {', '.join(repr(u) for u in unpaired)} have samples in the data but no listed "
                     "pair, so they have no row in the results.")
    if executor is not None and stats.route == "scores":
        notes.append("The listed comparisons were counted in this process: scheduler and workers apply to "
                     "the all-pairs engine of an EmbeddingSet.")

    if policy.kind == "fixed":
        k_op = grid.k0
    elif policy.kind == "eer":
        _, k_op = rates.eer(pooled.fmr, pooled.fnmr, n_impostor=pooled.n_imp, n_genuine=pooled.n_gen)
    else:
        reference, where = pooled, "all impostor pairs"
        if policy.group is not None:
            g_ref = resolve_reference_group(policy.group, list(labels), groups.keys)
            policy = ThresholdPolicy("fmr", policy.value, group=labels[g_ref])
            reference, where = curves[labels[g_ref]], f"the impostor pairs of reference group {labels[g_ref]!r}"
            if reference.n_imp == 0:
                raise errors.FairauditInputError(
                    f"threshold group={labels[g_ref]!r} has no impostor comparison, so no threshold can "
                    f"meet an FMR target on it. Fix: choose a reference group with at least two identities.")
            notes.append(f"The threshold meets FMR <= {policy.value:g} on reference group {labels[g_ref]!r}; "
                         "every group, that one included, is judged at it.")
        k_op = rates.threshold_index_for_fmr(reference.fmr * reference.n_imp, reference.n_imp, policy.value)
        if reference.n_imp * policy.value < 1:
            notes.append(
                f"The FMR target {policy.value:g} is below 1/{reference.n_imp:,} (one false match among "
                f"{where}): the threshold is the one with no false match at all."
            )
    if policy.source:
        notes.append(f"The threshold {policy.value:.6g} was chosen by a previous audit "
                     f"({policy.source.get('policy') or 'policy not recorded'}"
                     + (f"; {policy.source['path']}" if policy.source.get("path") else "")
                     + ") and is applied here as it is.")
    thr = float(edges[k_op])

    from fairaudit.verification.fairness import ALL_FIGURES, fairness_table, ratios_to_geomean
    from fairaudit.verification.separation import separation_by_group
    d_prime = separation_by_group(stats)["d_prime"].to_numpy()  # groups, then pooled
    ident_per_group = np.bincount(groups.codes, minlength=groups.n_groups)
    rows = []
    for g, label in enumerate(labels):
        fig = curves[label].figures(k_op, grid)
        n_samples = np.nan if stats.n_samples_group is None else int(stats.n_samples_group[g])
        rows.append({"label": label, "n_identities": int(ident_per_group[g]), "n_samples": n_samples, **fig,
                     "d_prime": float(d_prime[g])})
    by_group = pd.DataFrame(rows, index=groups.index, columns=list(RATE_COLUMNS))
    for column in CI_COLUMNS:
        by_group[column] = np.nan
    by_group = by_group.assign(**ratios_to_geomean(by_group["fmr"], by_group["fnmr"]))  # NIST IR 8429
    overall_fig = pooled.figures(k_op, grid)
    overall = pd.Series({
        "label": POOLED, "n_identities": int(len(stats.identity_names)),
        "n_samples": np.nan if stats.n_samples_group is None else int(stats.n_samples_group.sum()),
        **overall_fig, "d_prime": float(d_prime[-1]),
    })[list(RATE_COLUMNS)]
    flag_notes = add_flags(by_group, int(min_identities))
    add_system_rates(by_group, overall, embeddings if pairs is not None else data, by_t)

    for target in rates.FMR_POINTS:
        col = rates.fmr_point_label(target)
        missing = by_group.loc[by_group[col].isna(), "label"].tolist()
        if missing:
            notes.append(
                f"{col} is not reported for {', '.join(repr(m) for m in missing)}: fewer than "
                f"{int(math.ceil(rates.MIN_FALSE_MATCHES / target)):,} impostor pairs "
                f"({rates.MIN_FALSE_MATCHES} expected false matches) support it."
            )
    for label, c in curves.items():
        if label == POOLED:
            continue
        if c.n_imp == 0:
            notes.append(f"Group {label!r} has no impostor pairs (one identity): its FMR is undefined.")
        if c.n_gen == 0:
            notes.append(f"Group {label!r} has no genuine pairs (one sample per identity): its FNMR is undefined.")
        elif c.n_gen < 100:
            notes.append(f"Group {label!r} has only {c.n_gen} genuine pairs: its FNMR is coarse.")

    # group x group impostor FMR at the threshold
    G = groups.n_groups
    cross = np.full((G, G), np.nan)
    cross_n = np.zeros((G, G), dtype=np.int64)
    for a in range(G):
        for b in range(G):
            h = stats.impostor_hist(a, b)
            n = int(h.sum())
            cross_n[a, b] = n
            if n:
                cross[a, b] = h[k_op:].sum() / n
    cross_fmr = pd.DataFrame(cross, index=pd.Index(labels, name="group"), columns=pd.Index(labels, name="group"))
    cross_impostor = pd.DataFrame(cross_n, index=cross_fmr.index, columns=cross_fmr.columns)

    curve_rows = []
    for label, c in curves.items():
        if not (c.n_imp and c.n_gen):
            continue
        idx = rates.curve_indices(c.fmr, c.fnmr)
        curve_rows.append(pd.DataFrame({"group": label, "threshold": edges[idx],
                                        "fmr": c.fmr[idx], "fnmr": c.fnmr[idx]}))
    curves_df = pd.concat(curve_rows, ignore_index=True)
    hist_df = _coarse_histograms(curves, grid)

    # bootstrap over identities
    fmr_vec = by_group["fmr"].to_numpy(dtype=float)
    fnmr_vec = by_group["fnmr"].to_numpy(dtype=float)
    replicates = None
    if n_boot:
        thresholds_k = []
        for label in labels:
            c = curves[label]
            extra = c.eer_grid() if (c.n_imp and c.n_gen) else np.zeros(0, dtype=np.int64)
            thresholds_k.append(np.unique(np.r_[k_op, extra]).astype(np.int64))
        if stats.route == "embeddings":
            ipc = embedding_identity_pair_counts(stats, thresholds_k)
        else:
            ipc = score_identity_pair_counts(stats, thresholds_k)
        weights = draw_weights(stats, int(n_boot), rng)
        fmr_reps = np.full((n_boot, G), np.nan)
        fnmr_reps = np.full((n_boot, G), np.nan)
        eer_reps = np.full((n_boot, G), np.nan)
        for g, reps in enumerate(group_replicates_at(stats, ipc, weights, thresholds_k, k_op)):
            fmr_reps[:, g], fnmr_reps[:, g], eer_reps[:, g] = reps
        # percentile intervals, column by column, then each group's honest replacement where needed
        for metric, reps in (("fmr", fmr_reps), ("fnmr", fnmr_reps), ("eer", eer_reps)):
            bounds = np.array([percentile_interval(reps[:, g], ci) for g in range(G)]).reshape(G, 2)
            by_group[f"{metric}_ci_low"] = bounds[:, 0]
            by_group[f"{metric}_ci_high"] = bounds[:, 1]
        fmr_units = [int(m_g) * (int(m_g) - 1) / 2 if ipc[g].totals is None else len(ipc[g].totals[0])
                     for g, m_g in enumerate(ident_per_group)]
        for g in range(G):
            apply_intervals(by_group, g, fmr_reps=fmr_reps[:, g], fnmr_reps=fnmr_reps[:, g], ci=float(ci),
                            fmr_units=fmr_units[g], min_identities=int(min_identities), eer_reps=eer_reps[:, g])
        replicates = (fmr_reps, fnmr_reps)
        sink = REPLICATE_SINK.get()
        if sink is not None:  # a caller that pairs several audits' replicates (compare_systems)
            sink.update(_replicates_for_sink(stats, weights, thr, fmr_reps, fnmr_reps, eer_reps))
        comparisons = empty_comparisons() if G < 2 else comparisons_table(  # one group: nothing to compare
            stats, values={m: by_group[m].to_numpy(dtype=float) for m in ("fmr", "fnmr", "eer")},
            replicates={"fmr": fmr_reps, "fnmr": fnmr_reps, "eer": eer_reps}, weights=weights,
            accepts=all_identity_pair_accepts(stats, k_op), threshold=thr, ci=float(ci),
            n_perm=int(n_perm), rng=rng, by_group=by_group, fmr_units=fmr_units, min_identities=int(min_identities))
        if G >= 2:
            notes.append("EER comparisons have bootstrap p-values (p_method), not permutation ones: the "
                         "permutation test covers FMR and FNMR at the threshold." if n_perm else
                         "n_perm=0: the comparisons have no p-value.")
    else:
        comparisons = empty_comparisons()
        notes.append("n_boot=0: no group comparisons (their intervals need bootstrap replicates).")

    fairness = fairness_table(fmr_vec, fnmr_vec, labels=labels, alpha=float(alpha),
                              replicates=replicates, ci=float(ci), figures=ALL_FIGURES,
                              eer=by_group["eer"].to_numpy(dtype=float),
                              eer_replicates=None if replicates is None else eer_reps)

    notes += flag_notes
    params = {
        "by": list(by_t), "threshold": (threshold if isinstance(threshold, (int, float, str))
                                     else dict(threshold) if isinstance(threshold, dict)
                                     else policy.describe()),
        "alpha": float(alpha), "n_boot": int(n_boot), "ci": float(ci),
        "random_state": random_state if isinstance(random_state, (int, type(None))) else "Generator",
        "bin_width": float(bin_width), "tile": int(tile), "route": stats.route,
        "pair_rule": ("every unordered pair of distinct samples, once" if stats.route == "embeddings"
                      else "the comparisons listed in the score file, as given"),
        "bootstrap": "identities resampled with replacement within each group, percentile intervals",
        "n_perm": int(n_perm), "min_identities": int(min_identities),
        "permutation": "group membership permuted among the compared identities, threshold fixed",
        "engine": ("dask" if executor is not None and stats.route == "embeddings" else "single-process"),
        # the codebook of the grouping attributes, for readable labels in tables and the report
        "value_labels": {name: codes for name, codes in
                         (getattr(source, "value_labels", None) or {}).items() if name in by_t},
    }
    return VerificationResult(
        threshold=thr,
        policy=policy.as_dict(),
        by=by_t,
        by_group=by_group,
        overall=overall,
        cross_fmr=cross_fmr,
        cross_impostor=cross_impostor,
        curves=curves_df,
        histograms=hist_df,
        fairness=fairness,
        comparisons=comparisons,
        params=params,
        provenance=provenance(elapsed_s=time.perf_counter() - start),
        notes=notes,
    )


__all__ = ["verification_audit", "VerificationResult", "ThresholdPolicy", "parse_threshold", "LABEL_SEP"]
