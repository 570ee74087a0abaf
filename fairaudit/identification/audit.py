"""``identification_audit``: a 1:N audit of a gallery searched by probes, per group of the probe."""

from __future__ import annotations

import contextlib
import numbers
import time
from typing import Any, Sequence

import numpy as np

from fairaudit.common import errors
from fairaudit.common.seeds import resolve_rng
from fairaudit.data import EmbeddingSet
from fairaudit.data.groups import normalize_by
from fairaudit.identification import rates
from fairaudit.data.gallery_protocol import EMPTY_PROTOCOL, GallerySplit, parse_gallery, split_rows
from fairaudit.identification.result import IdentificationResult
from fairaudit.identification.search import DEFAULT_GALLERY_TILE, DEFAULT_PROBE_BLOCK, embedding_search_stats
from fairaudit.verification.comparisons import empty_comparisons
from fairaudit.verification.small_samples import DEFAULT_MIN_IDENTITIES, RULE_OF_30, small_sample_notes

BAD_RANK = ("rank={value!r} must be an integer in [1, k] (k={k}): a mate counts as found at rank <= rank. "
            "Fix: pass rank=1 (NIST's FNIR at rank 1), or raise k to keep longer candidate lists.")
BAD_K = ("k={value!r} must be an integer in [1, 1000]: the length of the candidate list kept per search. "
         "Fix: keep the default 20.")
BAD_N_PERM = ("n_perm={value!r} must be an integer >= 0 (permutations per comparison of FNIR and FPIR; "
              "0 = no p-value). Fix: keep the default 10000.")
BAD_TILES = ("{name}={value!r} must be a positive integer. Fix: keep the default {default}.")
THRESHOLD_OUT_OF_RANGE = (
    "threshold={value!r} is not a score threshold: the scores of an EmbeddingSet are cosine similarities "
    "in [-1, 1], so a fixed threshold must lie in [-1, 1] (a candidate is returned when its score >= "
    "threshold). Fix: pass a threshold in [-1, 1] (threshold=0.4), or the threshold where the pooled "
    "FPIR is at most a target (threshold='fpir=1e-3')."
)
EMPTY_LISTS = ("data: the candidate lists have {what}: a 1:N audit needs enrolled identities and searches. "
               "Fix: {fix}")
BAD_DATA = ("data is a {type}: identification_audit takes an EmbeddingSet (searched here) or candidate "
            "lists (fairaudit.identification.read_candidates). Fix: pass one of those.")


def _check_int(name: str, value: Any, lo: int, hi: int | None = None) -> bool:
    return not (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < lo
                or (hi is not None and value > hi))


def _check(rank, k, n_boot, ci, alpha, n_perm, min_identities, gallery_tile, probe_block) -> None:
    from fairaudit.verification.audit import BAD_MIN_IDENTITIES, _check_options

    _check_options(alpha, n_boot, ci, 2.0**-14)
    if isinstance(n_perm, bool) or not isinstance(n_perm, numbers.Integral) or n_perm < 0:
        raise errors.FairauditInputError(BAD_N_PERM.format(value=n_perm))
    if not _check_int("min_identities", min_identities, 1):
        raise errors.FairauditInputError(BAD_MIN_IDENTITIES.format(value=min_identities))
    if not _check_int("k", k, 1, 1000):
        raise errors.FairauditInputError(BAD_K.format(value=k))
    if not _check_int("rank", rank, 1, int(k)):
        raise errors.FairauditInputError(BAD_RANK.format(value=rank, k=k))
    for name, value, default in (("gallery_tile", gallery_tile, DEFAULT_GALLERY_TILE),
                                 ("probe_block", probe_block, DEFAULT_PROBE_BLOCK)):
        if not _check_int(name, value, 1):
            raise errors.FairauditInputError(BAD_TILES.format(name=name, value=value, default=default))


def identification_audit(
    data: Any,
    *,
    by: str | Sequence[str],
    gallery: Any = None,
    threshold: Any = "fpir=1e-2",
    rank: int = 1,
    k: int = 20,
    alpha: float = 0.5,
    n_boot: int = 1000,
    n_perm: int = 10000,
    ci: float = 0.95,
    min_identities: int = DEFAULT_MIN_IDENTITIES,
    random_state: int | np.random.Generator | None = 0,
    progress: bool | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    scratch_dir: str | None = None,
    gallery_tile: int = DEFAULT_GALLERY_TILE,
    probe_block: int = DEFAULT_PROBE_BLOCK,
) -> IdentificationResult:
    """Audit one-to-many identification errors per demographic group of the probe.

    Parameters
    ----------
    data : EmbeddingSet or CandidateLists
        Embeddings, split into a gallery and probes by ``gallery`` and searched here (every probe
        against every enrolled identity, cosine scores; several gallery samples of one identity
        count as one candidate, its best score), or the candidate lists a system returned
        (:func:`fairaudit.identification.read_candidates`).
    by : str or sequence of str
        The attribute(s) that define the groups; a search belongs to the group of its probe.
    gallery : None, dict, GallerySplit or array of roles
        The protocol (EmbeddingSet only): None for the seeded split (20 % of each group's identities
        held out as non-mated probes, one sample per other identity enrolled, the rest mated
        probes), a dict or :class:`~fairaudit.identification.GallerySplit` to change those shares, or
        the role of every sample, an array of ``"gallery"``/``"probe"`` (or bools, True = gallery)
        in the set's row order (:func:`fairaudit.synthetic.search_roles` draws one).
    threshold : float, "fpir=x" or {"fpir": x}
        A fixed score, or the lowest threshold at which the pooled FPIR is at most x (as NIST's 1:N
        reports set it). One threshold for every group.
    rank : int
        R of FNIR(T, R) (1..k).
    k : int
        Candidates kept per search (the CMC and every rank up to k are exact).
    alpha : float in [0, 1]
        Weight of FPIR against FNIR in FDR, GARBE and the inequity rate.
    n_boot, n_perm, ci, min_identities
        Probe-identity bootstrap replicates (0 = none), permutations per comparison of FNIR and FPIR
        (the comparisons need the bootstrap), interval level, and the size below which a group is
        flagged (as in :func:`fairaudit.verification_audit`). ``n_perm`` defaults to 10,000, not
        1,000: the smallest p-value is ``1 / (n_perm + 1)`` and Holm's adjustment multiplies it by
        the number of tests (42 with six groups: a floor of 0.042 with 1,000 permutations, above
        0.05 from seven groups on); here permutations cost little.
    random_state : int, Generator or None
        Seeds the split, the sub-galleries, the bootstrap and the permutations.
    progress : bool or None
        Show a progress bar (None: only on a terminal).
    scheduler, workers, scratch_dir
        Run the search on Dask (as :func:`fairaudit.verification_audit`); identical results.
    gallery_tile, probe_block : int
        Gallery columns per product tile and probes per task (memory ``4 * probe_block *
        gallery_tile`` bytes per thread).

    Returns
    -------
    IdentificationResult
    """
    from fairaudit.common.executors import executor_for, scratch_directory
    from fairaudit.identification.candidates import CandidateLists

    policy = rates.parse_search_threshold(threshold)
    _check(rank, k, n_boot, ci, alpha, n_perm, min_identities, gallery_tile, probe_block)
    resolve_rng(random_state)
    if isinstance(data, EmbeddingSet):
        normalize_by(by, data.attribute_names)
        protocol = parse_gallery(gallery)
        if not isinstance(protocol, GallerySplit):
            protocol.rows(len(data))  # the length, before any work
        if policy.kind == "fixed" and not -1.0 <= policy.value <= 1.0:
            raise errors.FairauditInputError(THRESHOLD_OUT_OF_RANGE.format(value=threshold))
    elif isinstance(data, CandidateLists):
        data.resolve_by(by)
        if gallery is not None:
            raise errors.FairauditInputError(
                f"gallery={gallery!r} applies to an EmbeddingSet: candidate lists already say which "
                "searches are mated. Fix: leave gallery out.")
        protocol = None
    else:
        raise errors.FairauditInputError(BAD_DATA.format(type=type(data).__name__))
    with contextlib.ExitStack() as stack:
        executor = stack.enter_context(executor_for(scheduler, workers))
        needs_file = executor is not None or getattr(data, "out_of_core", False)
        scratch = stack.enter_context(scratch_directory(scratch_dir)) if needs_file else None
        return _audit(data, by=by, protocol=protocol, policy=policy, threshold_arg=threshold, rank=int(rank),
                      k=int(k), alpha=float(alpha), n_boot=int(n_boot), n_perm=int(n_perm), ci=float(ci),
                      min_identities=int(min_identities), random_state=random_state, progress=progress,
                      executor=executor, scratch=scratch, gallery_tile=int(gallery_tile),
                      probe_block=int(probe_block))


def _search(data: EmbeddingSet, by_t, protocol, rng_split, level_seed, k, progress, executor, scratch,
            gallery_tile, probe_block):
    from fairaudit.verification.audit import _identity_groups_from_embeddings, _progress_bar

    names, ident, groups = _identity_groups_from_embeddings(data, by_t)
    if isinstance(protocol, GallerySplit):
        gallery_rows, probe_rows = split_rows(ident, groups.codes, protocol, rng_split)
        fix = "use a larger population or a smaller nonmated_share."
    else:
        gallery_rows, probe_rows = protocol.rows(len(data))
        fix = "mark some samples 'gallery' and some 'probe'."
    if len(gallery_rows) == 0 or len(probe_rows) == 0:
        what = "an empty gallery" if len(gallery_rows) == 0 else "no probe"
        raise errors.FairauditInputError(EMPTY_PROTOCOL.format(value=protocol.describe(), what=what, fix=fix))
    bar = _progress_bar(len(probe_rows), progress, "searches", unit="search")
    try:
        return embedding_search_stats(
            data, ident, names, groups, gallery_rows, probe_rows, k=k, level_seed=level_seed,
            gallery_tile=gallery_tile, probe_block=probe_block,
            progress=None if bar is None else bar.update, executor=executor, scratch_dir=scratch)
    finally:
        if bar is not None:
            bar.close()


def _audit(data, *, by, protocol, policy, threshold_arg, rank, k, alpha, n_boot, n_perm, ci, min_identities,
           random_state, progress, executor, scratch, gallery_tile, probe_block) -> IdentificationResult:
    from fairaudit.common.provenance import provenance
    from fairaudit.identification import uncertainty

    start = time.perf_counter()
    rng = resolve_rng(random_state)
    seeds = rng.integers(0, 2**63, size=4, dtype=np.int64)  # split, sub-galleries, bootstrap, permutations
    if isinstance(data, EmbeddingSet):
        by_t = normalize_by(by, data.attribute_names)
        stats = _search(data, by_t, protocol, np.random.default_rng(int(seeds[0])), int(seeds[1] % 2**32), k,
                        progress, executor, scratch, gallery_tile, probe_block)
        protocol_d = protocol.describe()
        if isinstance(protocol, GallerySplit):
            protocol_d["seed"] = int(seeds[0])
    else:
        by_t = data.resolve_by(by)
        stats = data.search_stats(by_t, k=k)
        if len(stats.gallery_identity) == 0:
            raise errors.FairauditInputError(EMPTY_LISTS.format(
                what="an empty gallery table", fix="list every enrolled identity in the gallery table."))
        if stats.n_probes == 0:
            raise errors.FairauditInputError(EMPTY_LISTS.format(
                what="no search", fix="give the searches table one row per search (search_id, identity)."))
        protocol_d = {"kind": "candidate_lists", "source": data.source}
    notes: list[str] = [] if isinstance(data, EmbeddingSet) else list(getattr(data, "notes", ()))
    if executor is not None and stats.route != "embeddings":
        notes.append("The candidate lists were read in this process: scheduler and workers apply to the "
                     "search of an EmbeddingSet.")
    if not stats.mated.any():
        notes.append("No search is mated (no probe's identity is enrolled): FNIR, the rank-1 rate and the "
                     "CMC are undefined.")
    top1 = stats.top_score[:, 0]
    nonmated_top = top1[~stats.mated]
    if policy.kind == "fixed":
        thr = float(policy.value)
    else:
        if nonmated_top.size == 0:
            raise errors.FairauditInputError(rates.NO_NONMATED_FOR_TARGET.format(value=threshold_arg))
        listed = np.r_[stats.mate_score, stats.top_score.ravel()]
        listed = listed[np.isfinite(listed)]
        thr = rates.threshold_for_fpir(nonmated_top, policy.value,
                                       lowest=float(listed.min()) if listed.size else None)
        if nonmated_top.size * policy.value < 1:
            notes.append(f"The FPIR target {policy.value:g} is below 1/{nonmated_top.size:,} (one false positive "
                         "among all non-mated searches): the threshold is the one with no false positive.")
    out = rates.outcomes(stats, thr, rank)
    by_group, overall = rates.group_rows(stats, out)
    labels = stats.groups.labels
    values = {m: by_group[m].to_numpy(dtype=float) for m in ("fnir", "fpir", "rank1")}
    units = uncertainty.UnitCounts(stats, out)
    reps = None
    if n_boot:
        reps = uncertainty.bootstrap(units, stats.groups.n_groups, n_boot, np.random.default_rng(int(seeds[2])))
    uncertainty.interval_columns(by_group, overall, reps, units, ci=ci, min_identities=min_identities)
    # a flag on a rate that exists: a group without mated (non-mated) searches has no FNIR (FPIR)
    by_group["fnir_below_rule_of_30"] = (by_group["n_false_negatives"] < RULE_OF_30) & (by_group["n_mated"] > 0)
    by_group["fpir_below_rule_of_30"] = (by_group["n_false_positives"] < RULE_OF_30) & (by_group["n_nonmated"] > 0)
    by_group["below_min_identities"] = by_group["n_identities"] < min_identities
    fairness = uncertainty.fairness(values, reps, labels, alpha=alpha, ci=ci)
    comparisons = uncertainty.comparisons_table(units, values, reps, labels, ci=ci,
                                                n_perm=n_perm if n_boot else 0,
                                                rng=np.random.default_rng(int(seeds[3])))
    if not n_boot:
        comparisons = empty_comparisons()  # the verification audit's empty table: it survives JSON as it is
    notes += _notes(by_group, stats, min_identities, rank, n_boot)
    result = IdentificationResult(
        threshold=thr,
        policy={"kind": policy.kind, "value": policy.value, "description": policy.describe()},
        rank=rank, k=k, by=by_t, protocol=protocol_d,
        by_group=by_group, overall=overall,
        cmc=rates.cmc_table(stats, out, thr),
        curves=rates.curves_table(stats, out, thr, rank),
        gallery=rates.gallery_table(stats),
        landing=rates.landing_table(stats, out),
        gallery_size=rates.gallery_size_table(stats, out, thr),
        fairness=fairness,
        comparisons=comparisons,
        params={"by": list(by_t), "threshold": threshold_arg if not isinstance(threshold_arg, float) else float(threshold_arg),
                "rank": rank, "k": k, "alpha": alpha, "n_boot": n_boot, "n_perm": n_perm, "ci": ci,
                "min_identities": min_identities,
                "random_state": random_state if isinstance(random_state, (int, type(None))) else "Generator",
                "n_probes": int(stats.n_probes), "n_gallery_identities": int(len(stats.gallery_identity)),
                "n_gallery_samples": int(stats.gallery_samples.sum()), "route": stats.route},
        provenance=provenance(elapsed_s=time.perf_counter() - start),
        notes=notes,
    )
    return result


def _notes(by_group, stats, min_identities: int, rank: int, n_boot: int) -> list[str]:
    notes = []
    for _, row in by_group.iterrows():
        label = row["label"]
        if row["n_nonmated"] == 0:
            notes.append(f"Group {label!r} has no non-mated search: its FPIR is undefined.")
        if row["n_mated"] == 0:
            notes.append(f"Group {label!r} has no mated search: its FNIR and rank-1 rate are undefined.")
    notes += small_sample_notes(
        by_group, min_identities, units="probe identities",
        intervals=", and their intervals are Clopper-Pearson intervals on an effective sample size" if n_boot else "",
        rates=(("FNIR", "fnir_below_rule_of_30", "false negatives"),
               ("FPIR", "fpir_below_rule_of_30", "false positives")))
    enrolled_only = np.setdiff1d(stats.gallery_identity, stats.probe_identity[stats.mated])
    if enrolled_only.size:
        notes.append(f"{enrolled_only.size:,} enrolled identities have no mated search (all their samples are "
                     "in the gallery): they still stand in the gallery as candidates.")
    return notes
