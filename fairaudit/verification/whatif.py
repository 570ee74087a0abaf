"""Mitigation what-ifs for verification, kept apart from the audit: what per-group thresholds or a per-group
score normalisation *would* do to the per-group FMR and FNMR. Each group's identities are split, seeded,
into development and evaluation identities (comparisons joining the sides are used by neither); the
*before* threshold is the one global threshold meeting the target on the pooled development comparisons;
a method is fitted on development only; both are evaluated on the evaluation identities with the audit's
stratified identity bootstrap, the same replicates before and after. Every threshold is an edge of one
bin grid, so rates at it are exact counts. The result, its text and figure: :mod:`.whatif_plots`.
"""

from __future__ import annotations

import numbers
import time
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.provenance import provenance
from fairaudit.common.seeds import resolve_rng
from fairaudit.data import POOLED, EmbeddingSet, make_groups, normalize_by
from fairaudit.verification import rates
from fairaudit.verification.audit import (SCORES_OUT_OF_RANGE, _check_n_perm, _check_options,
                                          _identity_groups_from_embeddings, _stats_from_data)
from fairaudit.verification.bootstrap import GroupBootstrap, draw_weights, percentile_interval
from fairaudit.verification.engine import score_pair_stats
from fairaudit.verification.grid import _MARGIN, DEFAULT_BIN_WIDTH, DEFAULT_TILE, BinGrid
from fairaudit.verification.identity_pairs import embedding_identity_pair_counts, score_identity_pair_counts
from fairaudit.verification.small_samples import DEFAULT_MIN_IDENTITIES, add_flags, apply_intervals
from fairaudit.verification.whatif_result import WhatIfResult

#: the what-ifs and what each one changes
METHODS = {"group-thresholds": "each group's own threshold, meeting the target on its development comparisons",
           "group-znorm": "every score Z-normalised with the development impostor mean and standard deviation "
                          "of the pair of groups compared, then one global threshold"}
#: normalised scores z are audited as tanh(z / Z_SCALE), an increasing map into (-1, 1)
Z_SCALE = 8.0
#: default bound on the comparisons "group-znorm" lists for an EmbeddingSet (both sides together)
MAX_COMPARISONS = 20_000_000
#: peak bytes per listed comparison (measured: raw and normalised score, identity codes, counting)
BYTES_PER_COMPARISON = 70
_BLOCK = 1 << 22  # product cells per block when the comparisons of an EmbeddingSet are listed

UNKNOWN_METHOD = "method={value!r} is not a mitigation what-if; available: {available}. Fix: pass one of them."
BAD_TARGET = (
    "target={value!r} must name one error rate and its target on the development identities: {{'fmr': 1e-3}} "
    "or {{'fnmr': 0.05}} (or the text 'fmr=1e-3', 'fnmr=0.05'), a number in (0, 1). FAR and FRR are not "
    "accepted: ISO/IEC 19795-1 defines them at system level, with failures to acquire folded in, and a "
    "what-if sets thresholds on comparisons. Fix: pass e.g. target={{'fmr': 1e-3}}.")
BAD_DEV_SHARE = ("dev_share={value!r} must be a number strictly between 0 and 1: the share of every "
                 "group's identities that fit the mitigation (the others evaluate it). Fix: keep the default 0.5.")
BAD_MAX_COMPARISONS = ("max_comparisons={value!r} must be an integer >= 1 (comparisons a normalisation "
                       "what-if may list in memory). Fix: keep the default 20_000_000.")
GROUP_TOO_SMALL = (
    "by={by!r}: group {label!r} has {n} identit{ies}, but a what-if puts each identity on the development or "
    "the evaluation side, and each side needs at least 2 identities of the group (for impostor comparisons "
    "within it): at least 4 in all. Fix: collect more identities of the group, group more coarsely (fewer "
    "attributes in by=), or leave its identities out explicitly (EmbeddingSet.subset, fewer score rows) and "
    "report that you did.")
TOO_MANY_COMPARISONS = (
    "max_comparisons={limit:,}: method={method!r} lists every comparison of the development and of the "
    "evaluation identities, {n:,} here (about {gb:.2g} GB at " + str(BYTES_PER_COMPARISON) + " bytes each), "
    "more than max_comparisons; fairaudit does not sample them silently. Fix: raise max_comparisons if the "
    "machine has the memory, pass a ScoreSet of the comparisons to evaluate, or use "
    "method='group-thresholds', which streams the pairs.")
SIDE_EMPTY = ("the {side} identities have no {kind} comparison among themselves (none of the listed comparisons "
              "joins two {side} identities), so the what-if has nothing to {what}. Fix: list {kind} comparisons "
              "between people of the same group, so that either side of a split has some.")
DEPLOYMENT = (
    "Deployment: {how} needs each person's group ({attrs}), declared or estimated by a classifier, at the "
    "moment of every decision. Deciding with a protected attribute is itself a demographic decision and may "
    "be unlawful disparate treatment where the system runs; a wrong or estimated label applies the wrong "
    "{what}. This what-if changes nothing in the audited system: it estimates, on held-out identities, the "
    "rates such a system would have.")


def _parse_target(target: Any) -> tuple[str, float]:
    if isinstance(target, dict) and len(target) == 1:
        key, value = next(iter(target.items()))
    elif isinstance(target, str) and "=" in target:
        key, value = target.split("=", 1)
    else:
        raise errors.FairauditInputError(BAD_TARGET.format(value=target))
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = float("nan")
    if str(key).strip().lower() not in ("fmr", "fnmr") or isinstance(value, bool) or not 0.0 < number < 1.0:
        raise errors.FairauditInputError(BAD_TARGET.format(value=target))
    return str(key).strip().lower(), number


def _check_arguments(method: Any, dev_share: Any, max_comparisons: Any) -> None:
    if not isinstance(method, str) or method not in METHODS:
        raise errors.FairauditInputError(UNKNOWN_METHOD.format(value=method, available=list(METHODS)))
    if isinstance(dev_share, bool) or not isinstance(dev_share, numbers.Real) or not 0.0 < float(dev_share) < 1.0:
        raise errors.FairauditInputError(BAD_DEV_SHARE.format(value=dev_share))
    if isinstance(max_comparisons, bool) or not isinstance(max_comparisons, numbers.Integral) or max_comparisons < 1:
        raise errors.FairauditInputError(BAD_MAX_COMPARISONS.format(value=max_comparisons))


def _generators(random_state: Any) -> tuple[np.random.Generator, np.random.Generator]:
    """The split's and the bootstrap's generators: the two children of ``SeedSequence(random_state)``
    (a Generator passed in serves both, split first)."""
    if isinstance(random_state, np.random.Generator):
        return random_state, random_state
    resolve_rng(random_state)  # the library's check and message
    a, b = np.random.SeedSequence(None if random_state is None else int(random_state)).spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


# --------------------------------------------------------------------------
# the split
class _Side:
    """The identities of one side (sorted names, groups) with their samples or their comparisons."""

    def __init__(self, names, groups, *, embeddings=None, ident=None, listed=None):
        self.names, self.groups, self.embeddings, self.ident, self._listed = names, groups, embeddings, ident, listed

    def stats(self, by: tuple, grid: BinGrid, progress: Any):
        if self.embeddings is not None:
            return _stats_from_data(self.embeddings, by, grid.origin, grid.width, DEFAULT_TILE, progress)[0]
        return score_pair_stats(*self._listed, self.names, self.groups, grid)

    def comparisons(self) -> tuple[np.ndarray, ...]:
        """``(score, genuine, ident_a, ident_b)``: the listed comparisons, or every pair of samples
        (float64, computed once)."""
        if self._listed is None:
            x = self.embeddings.normalized().astype(np.float64)
            parts, rows = [], max(1, _BLOCK // len(x))
            for s in range(0, len(x) - 1, rows):
                block = x[s:s + rows] @ x[s:].T
                i, j = np.nonzero(np.triu(np.ones(block.shape, dtype=bool), 1))
                parts.append((block[i, j], self.ident[s + i], self.ident[s + j]))
            score, a, b = (np.concatenate([p[k] for p in parts]) for k in range(3))
            self._listed = (score, a == b, a, b)
        return self._listed


def _split(data: Any, by: Any, dev_share: float, rng: np.random.Generator):
    """The development and evaluation sides, stratified by group; the side of every identity; the
    number of comparisons joining the sides."""
    from fairaudit.data import ScoreSet

    if isinstance(data, EmbeddingSet):
        by_t = normalize_by(by, data.attribute_names)
        names, ident, groups = _identity_groups_from_embeddings(data, by_t)
    elif isinstance(data, ScoreSet):
        by_t = data.resolve_by(by)
        if (outside := np.abs(data.scores) > 1.0 + _MARGIN).any():
            raise errors.FairauditInputError(SCORES_OUT_OF_RANGE.format(
                count=int(outside.sum()), lo=float(data.scores.min()), hi=float(data.scores.max())))
        table = data.identity_table()
        names = table.index.to_numpy().astype(str)
        groups = make_groups({name: table[name].to_numpy() for name in by_t}, by_t)
        ia, ib = pd.Index(names).get_indexer(data.identity_a), pd.Index(names).get_indexer(data.identity_b)
    else:
        raise errors.FairauditInputError(errors.BAD_DATA_TYPE.format(type=type(data).__name__))
    dev = np.zeros(len(names), dtype=bool)
    for g, label in enumerate(groups.labels):  # in group order, each group's identities in name order
        m = len(members := np.flatnonzero(groups.codes == g))
        if m < 4:
            raise errors.FairauditInputError(GROUP_TOO_SMALL.format(by=list(by_t), label=label, n=m,
                                                                    ies="y" if m == 1 else "ies"))
        dev[members[rng.permutation(m)[:min(max(int(np.floor(dev_share * m + 0.5)), 2), m - 2)]]] = True
    sides = []
    for on in (dev, ~dev):
        if isinstance(data, EmbeddingSet):
            emb = data.subset(np.flatnonzero(on[ident]))
            sub_names, sub_ident, sub_groups = _identity_groups_from_embeddings(emb, by_t)
            sides.append(_Side(sub_names, sub_groups, embeddings=emb, ident=sub_ident))
            continue
        keep, rows = np.flatnonzero(on), on[ia] & on[ib]
        local = np.full(len(names), -1, dtype=np.int64)
        local[keep] = np.arange(len(keep))
        sub_groups = make_groups({n: groups.values[n].to_numpy()[groups.codes[keep]] for n in by_t}, by_t)
        sides.append(_Side(names[keep], sub_groups, listed=(data.scores[rows].astype(np.float64),
                                                            data.genuine[rows], local[ia[rows]], local[ib[rows]])))
    n_dev = int(dev[ident].sum()) if isinstance(data, EmbeddingSet) else 0
    unused = n_dev * (len(data) - n_dev) if isinstance(data, EmbeddingSet) else int((dev[ia] != dev[ib]).sum())
    assignment = pd.DataFrame({"side": np.where(dev, "development", "evaluation"),
                               "label": np.asarray(groups.labels, dtype=object)[groups.codes]},
                              index=pd.Index(names, name="identity"))
    return by_t, sides, assignment, unused


# --------------------------------------------------------------------------
# fitting on the development side, counting at a threshold
def _k_for_target(imp_hist: np.ndarray, gen: np.ndarray, edges: np.ndarray, metric: str, value: float):
    """The grid edge meeting the target: the lowest whose FMR is at most it (as the audit and NIST FRTE
    choose), or the highest whose FNMR is at most it. None without such comparisons."""
    n = int(imp_hist.sum()) if metric == "fmr" else gen.size
    if n == 0:
        return None
    if metric == "fmr":
        return rates.threshold_index_for_fmr(rates.impostor_ge(imp_hist), n, value)
    return int(np.searchsorted(rates.genuine_lt(np.sort(gen), edges) / n, value, side="right") - 1)


def _rates_at(stats, g: int, k: int) -> tuple[float, float, int, int]:
    """Exact FMR, FNMR, impostor and genuine counts of group ``g`` at grid edge ``k``."""
    hist, gen = stats.impostor_hist(g), stats.gen_score[stats.gen_group == g]
    fmr = float(hist[k:].sum() / hist.sum()) if hist.sum() else np.nan
    return fmr, float((gen < stats.grid.edges()[k]).mean()) if gen.size else np.nan, int(hist.sum()), int(gen.size)


def _fit_group_thresholds(dev, k0: int, metric: str, value: float, notes: list) -> tuple[list[int], pd.DataFrame]:
    edges, ks, rows = dev.grid.edges(), [], []
    for g, label in enumerate(dev.groups.labels):
        k = _k_for_target(dev.impostor_hist(g), dev.gen_score[dev.gen_group == g], edges, metric, value)
        source = "group"
        if k is None:
            notes.append(f"Group {label!r} has no {'impostor' if metric == 'fmr' else 'genuine'} comparison "
                         "among its development identities, so no threshold of its own: it keeps the global one.")
            k, source = k0, "global (no development comparison to fit)"
        n_imp = int(dev.impostor_hist(g).sum())
        if metric == "fmr" and source == "group" and n_imp * value < 1:
            notes.append(f"Group {label!r} has {n_imp:,} development impostor comparisons, fewer than 1 / "
                         f"{value:g}: its threshold is the one with no false match there at all.")
        ks.append(int(k))
        rows.append({"label": label, "threshold": float(edges[k]), "source": source})
    return ks, pd.DataFrame(rows, index=dev.groups.index)


def _fit_znorm(listed, groups, notes: list) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Mean and standard deviation (ddof=0) of the development impostor scores of every pair of groups;
    a pair with fewer than 2 such comparisons, or no spread, takes the pooled development figures."""
    score, genuine, ia, ib = listed
    ga, gb, s = groups.codes[ia[~genuine]], groups.codes[ib[~genuine]], score[~genuine]
    lo, hi, G, labels = np.minimum(ga, gb), np.maximum(ga, gb), groups.n_groups, groups.labels
    mu, sd = np.full((G, G), np.mean(s)), np.full((G, G), np.std(s))
    rows = []
    for a, b in ((a, b) for a in range(G) for b in range(a, G)):
        sel = s[(lo == a) & (hi == b)]
        ok = sel.size >= 2 and np.std(sel) > 0
        if ok:
            mu[a, b], sd[a, b] = mu[b, a], sd[b, a] = np.mean(sel), np.std(sel)
        rows.append({"group_a": labels[a], "group_b": labels[b], "n_impostor_dev": int(sel.size),
                     "mean": float(mu[a, b]), "sd": float(sd[a, b]), "source": "group pair" if ok else "pooled"})
    fell_back = [f"{r['group_a']!r} x {r['group_b']!r}" for r in rows if r["source"] == "pooled"]
    if fell_back:
        notes.append("Group pair(s) " + ", ".join(fell_back) + " have fewer than 2 development impostor "
                     "comparisons (or all alike): their scores are normalised with the pooled development "
                     "impostor mean and standard deviation (source 'pooled' in fitted).")
    return mu, sd, pd.DataFrame(rows)


def _znormed(listed, groups, mu: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, ...]:
    score, genuine, ia, ib = listed
    pair = groups.codes[ia] * groups.n_groups + groups.codes[ib]
    u = score - mu.ravel()[pair]
    u /= sd.ravel()[pair] * Z_SCALE
    return np.tanh(u, out=u), genuine, ia, ib


# --------------------------------------------------------------------------
# evaluation on the held-out identities
def _replicates(stats, ks: list[list[int]], weights, n_boot: int) -> list:
    """Per group, ``{k: (fmr_reps, fnmr_reps, identity pairs)}`` at its thresholds ``ks[g]``."""
    if not n_boot:
        return [None] * stats.n_groups
    uniq = [np.unique(np.asarray(k, dtype=np.int64)) for k in ks]
    count = embedding_identity_pair_counts if stats.route == "embeddings" else score_identity_pair_counts
    out = []
    for g, ipc in enumerate(count(stats, uniq)):
        fmr, fnmr = GroupBootstrap(stats, ipc, g, weights[g]).rates(np.arange(len(uniq[g])))
        m = int(np.count_nonzero(stats.groups.codes == g))
        units = m * (m - 1) / 2 if ipc.totals is None else len(ipc.totals[0])
        out.append({int(k): (fmr[:, p], fnmr[:, p], units) for p, k in enumerate(uniq[g])})
    return out


def _stage(stage: str, stats, ks: list[int], reps: list, dev, dev_ks: list[int], *, scale, ci: float,
           min_identities: int):
    """One stage's per-group table (the audit's columns, its small-sample intervals) and replicates."""
    rows = []
    for g, label in enumerate(stats.groups.labels):
        fmr, fnmr, n_imp, n_gen = _rates_at(stats, g, ks[g])
        dev_fmr, dev_fnmr, dev_imp, dev_gen = _rates_at(dev, g, dev_ks[g])
        row = {"label": label, "threshold": scale(stats.grid.edges()[ks[g]]),
               "n_identities": int(np.sum(stats.groups.codes == g)), "n_genuine": n_gen, "n_impostor": n_imp,
               "fmr": fmr, "fnmr": fnmr}
        for pos, metric in enumerate(("fmr", "fnmr")):
            bounds = (np.nan, np.nan) if reps[g] is None else percentile_interval(reps[g][ks[g]][pos], ci)
            row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = bounds
        rows.append({**row, "n_identities_dev": int(np.sum(dev.groups.codes == g)), "n_genuine_dev": dev_gen,
                     "n_impostor_dev": dev_imp, "dev_fmr": dev_fmr, "dev_fnmr": dev_fnmr})
    frame = pd.DataFrame(rows, index=stats.groups.index)
    notes = [f"{stage.capitalize()}: {n}" for n in add_flags(frame, min_identities)]
    for g in range(len(frame) if reps[0] is not None else 0):
        fr, nr, units = reps[g][ks[g]]
        apply_intervals(frame, g, fmr_reps=fr, fnmr_reps=nr, fmr_units=units, ci=ci, min_identities=min_identities)
    stacked = None if reps[0] is None else tuple(np.column_stack([r[k][p] for r, k in zip(reps, ks)]) for p in (0, 1))
    return frame, stacked, notes


def _pooled(stats, k: int | None, scale) -> dict:
    hist, gen, t = stats.pooled_impostor_hist(), stats.gen_score, np.nan if k is None else stats.grid.edges()[k]
    return {"label": POOLED, "threshold": np.nan if k is None else scale(t), "n_genuine": int(gen.size),
            "n_impostor": int(hist.sum()), "fmr": np.nan if k is None else float(hist[k:].sum() / hist.sum()),
            "fnmr": np.nan if k is None else float((gen < t).mean())}


def _changes(before, after, labels: list[str], ci: float) -> pd.DataFrame:
    """After minus before per group and rate, with intervals from the paired replicates."""
    rows = []
    for (g, label), (p, metric) in ((gl, pm) for gl in enumerate(labels) for pm in enumerate(("fmr", "fnmr"))):
        b, a = float(before[0][metric].iloc[g]), float(after[0][metric].iloc[g])
        reps = None if before[1] is None else after[1][p][:, g] - before[1][p][:, g]
        lo, hi = (np.nan, np.nan) if reps is None else percentile_interval(reps, ci)
        rows.append([label, metric, b, a, a - b, lo, hi])
    return pd.DataFrame(rows, columns=["label", "metric", "before", "after", "difference", "difference_ci_low",
                                       "difference_ci_high"])


# --------------------------------------------------------------------------
def verification_what_if(data: Any, *, by: Any, method: str = "group-thresholds", target: Any = None,
                         dev_share: float = 0.5, alpha: float = 0.5, n_boot: int = 1000, ci: float = 0.95,
                         random_state: int | np.random.Generator | None = 0,
                         min_identities: int = DEFAULT_MIN_IDENTITIES, max_comparisons: int = MAX_COMPARISONS,
                         progress: bool | None = None) -> WhatIfResult:
    """What a mitigation would do to the per-group FMR and FNMR, fitted and evaluated on disjoint identities.

    A what-if, never part of an audit and never applied: the audited system is not changed.

    Parameters
    ----------
    data : EmbeddingSet or ScoreSet
        As for :func:`~fairaudit.verification_audit` (all pairs of samples, or the listed comparisons).
    by : str or sequence of str
        The attribute(s) that define the groups (intersections for several).
    method : {"group-thresholds", "group-znorm"}
        Each group's own threshold meeting ``target`` on its development comparisons; or every score
        Z-normalised, ``(s - mean) / sd`` with the development impostor mean and sd of the pair of groups
        compared, then one global threshold meeting ``target`` on the normalised development scores.
    target : dict or str
        ``{"fmr": 1e-3}`` (default; the lowest threshold with FMR at most the target, as NIST FRTE chooses)
        or ``{"fnmr": 0.05}`` (the highest threshold with FNMR at most it), on development.
    dev_share : float in (0, 1)
        Share of every group's identities on the development side (at least 2, leaving at least 2).
    alpha : float in [0, 1]
        FMR weight of FDR, GARBE and the inequity rate, as for the audit.
    n_boot : int
        Identity bootstrap replicates of the evaluation identities (0: no interval).
    ci : float
        Confidence level of the intervals.
    min_identities : int
        Groups with fewer evaluation identities get the audit's small-sample intervals and flags.
    progress : bool or None
        Progress bars of the all-pairs passes (None: only on a terminal).
    random_state : int, Generator or None
        The split draws from the first child of ``SeedSequence(random_state)``, the bootstrap from the
        second (a Generator serves both, split first).
    max_comparisons : int
        ``"group-znorm"`` on an EmbeddingSet lists every comparison of each side (about 70 bytes each at
        the peak); more is refused, never sampled.

    Returns
    -------
    WhatIfResult
    """
    start = time.perf_counter()
    metric, value = _parse_target({"fmr": 1e-3} if target is None else target)
    _check_arguments(method, dev_share, max_comparisons)
    _check_options(alpha, n_boot, ci, DEFAULT_BIN_WIDTH)
    _check_n_perm(0, min_identities)
    split_rng, boot_rng = _generators(random_state)
    by_t, (dev_side, eval_side), assignment, unused = _split(data, by, float(dev_share), split_rng)
    if method == "group-znorm" and isinstance(data, EmbeddingSet):  # a ScoreSet's comparisons are held already
        n = sum(len(side.embeddings) * (len(side.embeddings) - 1) // 2 for side in (dev_side, eval_side))
    if method == "group-znorm" and isinstance(data, EmbeddingSet) and n > max_comparisons:
        raise errors.FairauditInputError(TOO_MANY_COMPARISONS.format(
            limit=int(max_comparisons), method=method, n=n, gb=n * BYTES_PER_COMPARISON / 1e9))
    grid = BinGrid.around(0.0, DEFAULT_BIN_WIDTH)
    edges, kind = grid.edges(), "impostor" if metric == "fmr" else "genuine"
    dev = dev_side.stats(by_t, grid, progress)
    k0 = _k_for_target(dev.pooled_impostor_hist(), dev.gen_score, edges, metric, value)
    if k0 is None:
        raise errors.FairauditInputError(SIDE_EMPTY.format(side="development", kind=kind, what="fit"))
    ev = eval_side.stats(by_t, grid, progress)
    if ev.imp_hist.sum() == 0 or ev.gen_score.size == 0:
        missing = "impostor" if ev.imp_hist.sum() == 0 else "genuine"
        raise errors.FairauditInputError(SIDE_EMPTY.format(side="evaluation", kind=missing, what="evaluate"))
    G, labels, notes = ev.n_groups, ev.groups.labels, []
    weights = draw_weights(ev, int(n_boot), boot_rng) if n_boot else None
    if method == "group-thresholds":
        ks, fitted = _fit_group_thresholds(dev, k0, metric, value, notes)
        ev_a, dev_a, scale = ev, dev, float
        # the groups are the bootstrap's strata (each resampled on its own), so the replicates of every group
        # at its own threshold are valid, and paired with those at the global one: one pass, both stages
        reps_b = reps_a = _replicates(ev, [[k0, k] for k in ks], weights, int(n_boot))
        notes.append("After: a comparison across two groups has no group threshold of its own, so the what-if "
                     "evaluates the comparisons within each group (those the per-group FMR and FNMR count) and "
                     "reports no pooled FMR or FNMR after.")
        how, what = "a threshold per group", "threshold"
    else:
        mu, sd, fitted = _fit_znorm(dev_side.comparisons(), dev.groups, notes)
        dev_a, ev_a = (score_pair_stats(*_znormed(side.comparisons(), st.groups, mu, sd), side.names, st.groups, grid)
                       for side, st in ((dev_side, dev), (eval_side, ev)))
        ks = [_k_for_target(dev_a.pooled_impostor_hist(), dev_a.gen_score, edges, metric, value)] * G
        scale = lambda u: float(Z_SCALE * np.arctanh(min(u, 1.0)))  # noqa: E731 - an edge in z units
        reps_b, reps_a = (_replicates(st, [[k]] * G, weights, int(n_boot)) for st, k in ((ev, k0), (ev_a, ks[0])))
        how, what = "normalising every score by the groups of the two people compared", "normalisation"
    opts = dict(ci=float(ci), min_identities=int(min_identities))
    before = _stage("before", ev, [k0] * G, reps_b, dev, [k0] * G, scale=float, **opts)
    after = _stage("after", ev_a, ks, reps_a, dev_a, ks, scale=scale, **opts)
    overall = [_pooled(ev, k0, float), _pooled(ev_a, None if ev_a is ev else ks[0], scale)]
    notes.insert(0, DEPLOYMENT.format(how=how, attrs=", ".join(by_t), what=what))
    notes.append(f"{unused:,} comparison(s) join a development and an evaluation identity: the split is "
                 "identity-disjoint, so neither side uses them.")
    for g, label in enumerate(labels):
        for missing, rate, what_ in ((not ev.impostor_hist(g).sum(), "FMR", "impostor"),
                                     (not np.any(ev.gen_group == g), "FNMR", "genuine")):
            if missing:
                notes.append(f"Group {label!r} has no {what_} comparison among its evaluation identities: its "
                             f"{rate} is undefined before and after.")
    notes += before[2] + after[2]
    from fairaudit.verification.fairness import fairness_table

    fairness = pd.concat({stage: fairness_table(
        frame["fmr"].to_numpy(dtype=float), frame["fnmr"].to_numpy(dtype=float), labels=labels, alpha=float(alpha),
        replicates=stacked, ci=float(ci)) for stage, (frame, stacked, _) in (("before", before), ("after", after))},
        names=["stage", "figure"])
    params = {
        "by": list(by_t), "method": method, "method_description": METHODS[method],
        "target": {"metric": metric, "value": value}, "dev_share": float(dev_share),
        "alpha": float(alpha), "n_boot": int(n_boot), "ci": float(ci), "min_identities": int(min_identities),
        "random_state": "Generator" if isinstance(random_state, np.random.Generator) else
                        None if random_state is None else int(random_state),
        "max_comparisons": int(max_comparisons), "bin_width": DEFAULT_BIN_WIDTH,
        "route": "embeddings" if isinstance(data, EmbeddingSet) else "scores", "global_threshold_dev": float(edges[k0]),
        "n_comparisons_unused": int(unused), "score_scale": {"before": "cosine", "after": "cosine" if ev_a is ev
                                                             else f"z-score (audited as tanh(z / {Z_SCALE:g}))"},
        "bootstrap": "evaluation identities resampled within each group; the same replicates before and after",
        "value_labels": {k: v for k, v in (getattr(data, "value_labels", None) or {}).items() if k in by_t},
    }
    return WhatIfResult(
        method=method, target={"metric": metric, "value": value}, by=tuple(by_t),
        by_group=pd.concat({"before": before[0], "after": after[0]}, names=["stage", *by_t]),
        overall=pd.DataFrame(overall, index=pd.Index(["before", "after"], name="stage")), fairness=fairness,
        changes=_changes(before, after, labels, float(ci)), fitted=fitted, assignment=assignment, params=params,
        provenance=provenance(elapsed_s=time.perf_counter() - start), notes=notes)


__all__ = ["verification_what_if", "WhatIfResult", "METHODS"]
