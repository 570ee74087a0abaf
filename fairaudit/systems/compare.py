"""Several systems audited side by side on the same samples: :func:`compare_systems`.

Each system is audited by :func:`~fairaudit.verification.verification_audit` at its own
threshold from one policy (its own FMR 1e-3 threshold, as NIST FRTE reports), with the same
``random_state``. Two audits of the same identities with the same seed draw the same identities
in every bootstrap replicate (the draws depend on the groups' identities and the seed only; this
module checks that they match), so replicate ``b`` of every system resamples the same people:
differences between systems are paired, and their intervals are the percentile intervals of the
replicates' differences.

The p-value of a difference inverts that interval: the smallest ``1 - ci`` at which the
percentile interval excludes 0, ``2 * min(P*(d <= 0), P*(d >= 0))`` over the replicates (with
one added to both counts, so that no p-value is 0), adjusted by Holm within each family of
differences (one pair of systems and one question: FMR across the groups, FNMR across the
groups, EER across the groups, the pooled FNMR, the fairness figures). The smallest p-value is
``2 / (n_boot + 1)``, so a family of ``k`` differences needs ``n_boot`` of about ``40 k`` before
any can hold at 5 %; a note says when that is not so. It is a bootstrap test, approximate where the replicates are few; an identity-level
permutation test between systems would have to exchange one identity's comparisons between
systems whose thresholds differ, which has no clean null here.
"""

from __future__ import annotations

import math
import numbers
from itertools import combinations
from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.provenance import provenance
# the verification audit's comparisons use it too (``systems`` imports ``verification``, not the reverse)
from fairaudit.verification.comparisons import bootstrap_pvalue  # noqa: F401 - importable here, where it was

#: columns of ``SystemComparison.differences``
DIFFERENCE_COLUMNS = (
    "system_a", "system_b", "scope", "group", "metric", "value_a", "value_b", "difference",
    "ci_low", "ci_high", "p_value", "p_holm", "n_boot", "family",
)
#: columns of ``SystemComparison.by_group`` besides the verification result's own
SYSTEM_COLUMN = "system"
#: the figures the leaderboard can rank fairness by (the verification fairness table's names)
DEFAULT_FIGURE = "fnmr_max_min"

NOT_A_MAPPING = (
    "systems={value!r} must be a dict mapping each system's name to its data (an EmbeddingSet of the "
    "same samples, or a ScoreSet of the same comparisons). Fix: pass e.g. {{'A': es_a, 'B': es_b}}."
)
TOO_FEW = (
    "systems has {n} system(s); a comparison needs at least two. Fix: pass two or more, e.g. "
    "{{'A': es_a, 'B': es_b}}, or audit one system with fairaudit.verification_audit."
)
BAD_NAME = (
    "system name {value!r} must be a non-empty string. Fix: name each system, e.g. 'dlib-resnet'."
)
MIXED_TYPES = (
    "systems {a!r} ({ta}) and {b!r} ({tb}) are of different kinds: compare EmbeddingSets of the same "
    "samples (other extractors) or ScoreSets of the same comparisons (other matchers), not both. "
    "Fix: turn one into the other's kind, or compare them in two calls."
)
NOT_ALIGNED = (
    "systems {a!r} and {b!r} do not cover the same {what}: {detail}. A comparison needs every system "
    "to hold the same {what} in the same order, so that differences are paired. Fix: {fix}"
)
NEEDS_GROUPS = (
    "by={value!r}: a comparison of systems is a comparison of their groups; by= must name at least one "
    "attribute. Fix: pass e.g. by=['gender', 'ethnicity']."
)
BAD_FIGURE = (
    "figure={value!r} is not a fairness figure of the verification audit; expected one of {names}. "
    "Fix: pass one of them, e.g. figure='fnmr_max_min'."
)
BAD_N_BOOT = (
    "n_boot={value!r} must be an integer >= 2 for a comparison of systems: the paired differences and "
    "their p-values come from the shared identity bootstrap. Fix: keep the default 1000."
)


def _check_systems(systems: Any) -> list[tuple[str, Any]]:
    from fairaudit.data import EmbeddingSet, ScoreSet

    if not isinstance(systems, Mapping):
        raise errors.FairauditInputError(NOT_A_MAPPING.format(value=type(systems).__name__))
    items = list(systems.items())
    if len(items) < 2:
        raise errors.FairauditInputError(TOO_FEW.format(n=len(items)))
    for name, data in items:
        if not isinstance(name, str) or not name.strip():
            raise errors.FairauditInputError(BAD_NAME.format(value=name))
        if not isinstance(data, (EmbeddingSet, ScoreSet)):
            raise errors.FairauditInputError(errors.BAD_DATA_TYPE.format(type=type(data).__name__))
    (n0, d0) = items[0]
    for name, data in items[1:]:
        if type(data) is not type(d0):
            raise errors.FairauditInputError(MIXED_TYPES.format(a=n0, ta=type(d0).__name__, b=name,
                                                                tb=type(data).__name__))
        _check_aligned(n0, d0, name, data)
    return items


def _first_difference(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.flatnonzero(a != b)[0])


def _check_aligned(n0: str, d0: Any, name: str, data: Any) -> None:
    """Refuse two systems that do not hold the same samples (or comparisons), naming the first
    difference."""
    from fairaudit.data import EmbeddingSet

    if isinstance(d0, EmbeddingSet):
        what, fix = "samples", ("extract every system from the same manifest (fairaudit extract with several "
                                "--extractor options writes aligned sets), or subset them to the same rows.")
        if len(d0) != len(data):
            raise errors.FairauditInputError(NOT_ALIGNED.format(
                a=n0, b=name, what=what, detail=f"{len(d0):,} against {len(data):,} rows", fix=fix))
        ia, ib = np.asarray(d0.identity).astype(str), np.asarray(data.identity).astype(str)
        if not np.array_equal(ia, ib):
            k = _first_difference(ia, ib)
            raise errors.FairauditInputError(NOT_ALIGNED.format(
                a=n0, b=name, what=what, detail=f"row {k} is identity {ia[k]!r} in {n0!r} and {ib[k]!r} in {name!r}",
                fix=fix))
        pa, pb = d0.path, data.path
        if pa is not None and pb is not None:
            pa, pb = np.asarray(pa).astype(str), np.asarray(pb).astype(str)
            if not np.array_equal(pa, pb):
                k = _first_difference(pa, pb)
                raise errors.FairauditInputError(NOT_ALIGNED.format(
                    a=n0, b=name, what=what, detail=f"row {k} is image {pa[k]!r} in {n0!r} and {pb[k]!r} in {name!r}",
                    fix=fix))
        names_a, names_b = list(d0.attribute_names), list(data.attribute_names)
        for col in sorted(set(names_a) & set(names_b)):
            va, vb = np.asarray(d0.column(col)).astype(str), np.asarray(data.column(col)).astype(str)
            if not np.array_equal(va, vb):
                k = _first_difference(va, vb)
                raise errors.FairauditInputError(NOT_ALIGNED.format(
                    a=n0, b=name, what=what, fix=fix,
                    detail=f"attribute {col!r} of row {k} is {va[k]!r} in {n0!r} and {vb[k]!r} in {name!r}"))
        return
    what, fix = "comparisons", ("score every system on the same list of comparisons (the same protocol file), "
                                "in the same order.")
    if len(d0) != len(data):
        raise errors.FairauditInputError(NOT_ALIGNED.format(
            a=n0, b=name, what=what, detail=f"{len(d0):,} against {len(data):,} rows", fix=fix))
    for label, fa, fb in (("identity_a", d0.identity_a, data.identity_a), ("identity_b", d0.identity_b, data.identity_b),
                          ("genuine", d0.genuine, data.genuine)):
        fa, fb = np.asarray(fa).astype(str), np.asarray(fb).astype(str)
        if not np.array_equal(fa, fb):
            k = _first_difference(fa, fb)
            raise errors.FairauditInputError(NOT_ALIGNED.format(
                a=n0, b=name, what=what, fix=fix,
                detail=f"{label} of row {k} is {fa[k]!r} in {n0!r} and {fb[k]!r} in {name!r}"))
    ta, tb = d0.identity_table(), data.identity_table()
    for col in sorted(set(ta.columns) & set(tb.columns)):
        va, vb = ta[col].astype(str).to_numpy(), tb[col].reindex(ta.index).astype(str).to_numpy()
        if not np.array_equal(va, vb):
            k = _first_difference(va, vb)
            raise errors.FairauditInputError(NOT_ALIGNED.format(
                a=n0, b=name, what=what, fix=fix,
                detail=f"identity {ta.index[k]!r} has {col}={va[k]!r} in {n0!r} and {vb[k]!r} in {name!r}"))


def _interval(diff: np.ndarray, ci: float) -> tuple[float, float]:
    from fairaudit.verification.bootstrap import percentile_interval

    return percentile_interval(diff, ci)


def _figures(fmr: np.ndarray, fnmr: np.ndarray, eer: np.ndarray, alpha: float, names: tuple[str, ...]) -> dict:
    from fairaudit.verification.fairness_kernels import compute_all

    out = compute_all(fmr, fnmr, alpha, eer=eer, figures=list(names))
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def compare_systems(
    systems: Mapping[str, Any],
    *,
    by: Any,
    threshold: Any = "fmr=1e-3",
    figure: str = DEFAULT_FIGURE,
    alpha: float = 0.5,
    n_boot: int = 1000,
    ci: float = 0.95,
    random_state: int | None = 0,
    min_identities: int = 30,
    progress: bool | None = None,
) -> "SystemComparison":
    """Audit several systems of the same samples side by side, each at its own threshold.

    Parameters
    ----------
    systems : dict of str to EmbeddingSet or ScoreSet
        Two or more systems: EmbeddingSets of the same samples (other extractors: same rows, same
        identities and attributes, in the same order) or ScoreSets of the same comparisons (other
        matchers). Systems that differ are refused, with the first difference named.
    by : str or sequence of str
        The attribute(s) defining the groups (the sensitive features).
    threshold : policy, default "fmr=1e-3"
        One policy, applied to each system on its own (see
        :func:`~fairaudit.verification.verification_audit`): ``"fmr=1e-3"`` gives each system its
        own FMR 1e-3 threshold, as NIST FRTE does; ``{"fmr": 1e-3, "group": "M & B"}`` its own
        threshold on a reference group; a number, one fixed threshold for all (only meaningful when
        the systems' scores share a scale).
    figure : str, default "fnmr_max_min"
        The fairness figure the leaderboard and the accuracy-fairness plane use (a name of
        ``fairaudit.fairness.ALL_FIGURES``).
    alpha, ci, min_identities
        As in :func:`~fairaudit.verification.verification_audit`.
    n_boot : int, default 1000
        Replicates of the identity bootstrap shared by all systems (at least 2).
    random_state : int or None, default 0
        The seed of that bootstrap (an integer, so that every system draws the same identities).

    Returns
    -------
    SystemComparison
        ``audits`` (one VerificationResult per system), ``by_group`` (system x group figures),
        ``leaderboard``, ``differences`` (paired differences between systems per group, pooled and
        for the fairness figures, with intervals and Holm-adjusted p-values), ``notes``.
    """
    from fairaudit.systems.result import SystemComparison
    from fairaudit.verification.audit import REPLICATE_SINK, verification_audit
    from fairaudit.verification.fairness_kernels import ALL_FIGURES, DIRECTION

    items = _check_systems(systems)
    if by is None or (not isinstance(by, str) and len(list(by)) == 0):
        raise errors.FairauditInputError(NEEDS_GROUPS.format(value=by))
    if figure not in ALL_FIGURES:
        raise errors.FairauditInputError(BAD_FIGURE.format(value=figure, names=", ".join(ALL_FIGURES)))
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 2:
        raise errors.FairauditInputError(BAD_N_BOOT.format(value=n_boot))
    if random_state is not None and (isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral)):
        raise errors.FairauditInputError(
            f"random_state={random_state!r} must be an integer or None here: every system's bootstrap is "
            "seeded with it, so that replicate b resamples the same identities for all. Fix: pass e.g. 0.")
    seed = int(np.random.SeedSequence().entropy % 2**32) if random_state is None else int(random_state)
    audits: dict[str, Any] = {}
    reps: dict[str, dict] = {}
    for name, data in items:
        sink: dict = {}
        token = REPLICATE_SINK.set(sink)
        try:
            audits[name] = verification_audit(data, by=by, threshold=threshold, alpha=alpha, n_boot=int(n_boot),
                                              n_perm=0, ci=ci, random_state=seed, progress=progress,
                                              min_identities=min_identities)
        finally:
            REPLICATE_SINK.reset(token)
        reps[name] = sink
    first = items[0][0]
    for name in audits:
        same = (np.array_equal(reps[name]["identities"], reps[first]["identities"])
                and np.array_equal(reps[name]["group_codes"], reps[first]["group_codes"]))
        if not same:  # pragma: no cover - the alignment checks make this impossible
            raise RuntimeError("the systems' bootstraps were drawn over different identities")
    labels = reps[first]["labels"]
    names = [n for n, _ in items]
    ci = float(ci)

    # system x group table
    frames = []
    for name in names:
        frame = audits[name].by_group.reset_index()
        frame.insert(0, SYSTEM_COLUMN, name)
        frame.insert(1, "threshold", audits[name].threshold)
        frames.append(frame)
    by_group = pd.concat(frames, ignore_index=True)

    # fairness figures per replicate, per system
    figure_names = tuple(f for f in ALL_FIGURES)
    fig_reps = {n: _figures(reps[n]["fmr"], reps[n]["fnmr"], reps[n]["eer"], alpha, figure_names) for n in names}

    rows = []
    for a, b in combinations(names, 2):
        ra, rb = reps[a], reps[b]
        ga, gb = audits[a].by_group, audits[b].by_group
        for g, label in enumerate(labels):
            for metric in ("fmr", "fnmr", "eer"):
                d = ra[metric][:, g] - rb[metric][:, g]
                lo, hi = _interval(d, ci)
                va, vb = float(ga[metric].iloc[g]), float(gb[metric].iloc[g])
                rows.append((a, b, "group", label, metric, va, vb, va - vb, lo, hi, bootstrap_pvalue(d), np.nan,
                             int(np.isfinite(d).sum())))
        d = ra["pooled_fnmr"] - rb["pooled_fnmr"]
        lo, hi = _interval(d, ci)
        va, vb = float(audits[a].overall["fnmr"]), float(audits[b].overall["fnmr"])
        rows.append((a, b, "pooled", "all", "fnmr", va, vb, va - vb, lo, hi, bootstrap_pvalue(d), np.nan,
                     int(np.isfinite(d).sum())))
        for fig in figure_names:
            d = fig_reps[a][fig] - fig_reps[b][fig]
            va = float(audits[a].fairness["value"].get(fig, np.nan))
            vb = float(audits[b].fairness["value"].get(fig, np.nan))
            lo, hi = _interval(d, ci)
            rows.append((a, b, "fairness", "", fig, va, vb, va - vb, lo, hi, bootstrap_pvalue(d), np.nan,
                         int(np.isfinite(d).sum())))
    differences = pd.DataFrame(rows, columns=[c for c in DIFFERENCE_COLUMNS if c != "family"])
    few = _few_identities(audits[first], int(min_identities))
    if few:
        # the bootstrap of a handful of identities is no test: no interval, no p-value
        small = (differences["scope"] == "group") & differences["group"].isin(few)
        if len(few) == len(labels) or audits[first].overall["n_identities"] < int(min_identities):
            small |= differences["scope"] == "pooled"
        small |= differences["scope"] == "fairness"
        differences.loc[small, ["ci_low", "ci_high", "p_value"]] = np.nan
    differences["family"] = _families(differences)
    differences["p_holm"] = _holm_by_family(differences)
    differences = differences[list(DIFFERENCE_COLUMNS)]

    leaderboard = _leaderboard(names, audits, reps, fig_reps, figure, DIRECTION[figure], ci)
    notes = _notes(names, audits, figure, DIRECTION[figure], int(n_boot))
    if few:
        notes.append(f"Group(s) {', '.join(repr(g) for g in few)} have fewer than {int(min_identities)} identities "
                     "(min_identities): their differences between systems, and the differences of the fairness "
                     "figures (which compare every group), have no interval and no p-value; a bootstrap of so few "
                     "people cannot tell a real difference from the luck of who was drawn.")
    tested = differences[differences["p_value"].notna()]
    largest = int(tested["family"].value_counts().max()) if len(tested) else 0
    floor = 2.0 / (int(n_boot) + 1)
    if largest and floor * largest > 0.05:
        notes.append(f"With n_boot={int(n_boot):,} the smallest bootstrap p-value is {floor:.2g}; after Holm's "
                     f"adjustment over a family of {largest} differences none can fall below 0.05. Raise n_boot "
                     f"to at least {int(math.ceil(40 * largest)):,} for the p-values to be able to show a difference.")
    params = {
        "systems": names, "by": list(audits[first].by), "threshold": audits[first].params.get("threshold"),
        "policy": audits[first].policy.get("description"), "figure": figure, "alpha": float(alpha),
        "n_boot": int(n_boot), "ci": ci, "random_state": seed, "min_identities": int(min_identities),
        "kind": type(items[0][1]).__name__,
        "bootstrap": "one identity bootstrap shared by all systems: replicate b draws the same identities "
                     "for every system (stratified by group)",
        "p_value": "bootstrap: 2 min(P*(d <= 0), P*(d >= 0)) with +1 counts; Holm within each family "
                   "(one pair of systems and one question: a rate across groups, pooled FNMR, the fairness figures)",
    }
    return SystemComparison(systems=tuple(names), by=tuple(audits[first].by), audits=audits, by_group=by_group,
                            leaderboard=leaderboard, differences=differences, params=params,
                            provenance=provenance(), notes=notes)


def _few_identities(audit: Any, min_identities: int) -> list[str]:
    """Groups with fewer than ``min_identities`` identities (the same in every system)."""
    bg = audit.by_group
    return [str(x) for x in bg.loc[bg["n_identities"] < min_identities, "label"]]


def _families(d: pd.DataFrame) -> list[str]:
    """The family each difference is adjusted within: one pair of systems and one question (a
    rate across the groups, the pooled FNMR, the fairness figures)."""
    out = []
    for a, b, scope, metric in zip(d["system_a"], d["system_b"], d["scope"], d["metric"]):
        what = {"group": f"{metric} by group", "pooled": "pooled fnmr", "fairness": "fairness figures"}[scope]
        out.append(f"{a} vs {b}: {what}")
    return out


def _holm_by_family(d: pd.DataFrame) -> np.ndarray:
    from fairaudit.verification.permutation import holm

    p = d["p_value"].to_numpy(dtype=float)
    adjusted = np.full(len(p), np.nan)
    for family in pd.unique(d["family"]):
        rows = np.flatnonzero((d["family"] == family).to_numpy() & np.isfinite(p))
        if len(rows):
            adjusted[rows] = holm(p[rows])
    return adjusted


def _leaderboard(names, audits, reps, fig_reps, figure: str, direction: str, ci: float) -> pd.DataFrame:
    from fairaudit.verification.bootstrap import percentile_interval

    higher_fairer = direction.startswith("higher")
    rows = []
    for name in names:
        r = audits[name]
        lo, hi = percentile_interval(reps[name]["pooled_fnmr"], ci)
        f_lo, f_hi = percentile_interval(fig_reps[name][figure], ci)
        fair = r.fairness["value"].get(figure, np.nan)
        bg = r.by_group
        worst_fnmr = bg["fnmr"].idxmax() if bg["fnmr"].notna().any() else None
        worst_fmr = bg["fmr"].idxmax() if bg["fmr"].notna().any() else None
        rows.append({
            "system": name, "threshold": float(r.threshold), "fmr": float(r.overall["fmr"]),
            "fnmr": float(r.overall["fnmr"]), "fnmr_ci_low": lo, "fnmr_ci_high": hi,
            "eer": float(r.overall["eer"]), figure: float(fair), f"{figure}_ci_low": f_lo,
            f"{figure}_ci_high": f_hi,
            "worst_fnmr_group": None if worst_fnmr is None else str(bg.loc[worst_fnmr, "label"]),
            "worst_fnmr": np.nan if worst_fnmr is None else float(bg.loc[worst_fnmr, "fnmr"]),
            "worst_fmr_group": None if worst_fmr is None else str(bg.loc[worst_fmr, "label"]),
            "worst_fmr": np.nan if worst_fmr is None else float(bg.loc[worst_fmr, "fmr"]),
        })
    board = pd.DataFrame(rows)
    acc = board["fnmr"].to_numpy(dtype=float)
    fair = board[figure].to_numpy(dtype=float)
    key = -fair if higher_fairer else fair  # lower key is fairer
    board["rank_accuracy"] = pd.Series(acc).rank(method="min").astype("Int64")
    board["rank_fairness"] = pd.Series(key).rank(method="min").astype("Int64")
    board["pareto"] = pareto_front(acc, key)
    return board.sort_values(["rank_accuracy", "rank_fairness"], kind="stable").reset_index(drop=True)


def pareto_front(cost_a: np.ndarray, cost_b: np.ndarray) -> np.ndarray:
    """Which points no other point dominates (lower is better on both costs; NaN never on the
    front): ``j`` dominates ``i`` when it is no worse on both and better on one."""
    a, b = np.asarray(cost_a, dtype=float), np.asarray(cost_b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    out = np.zeros(len(a), dtype=bool)
    for i in np.flatnonzero(ok):
        others = ok & (np.arange(len(a)) != i)
        dominated = others & (a <= a[i]) & (b <= b[i]) & ((a < a[i]) | (b < b[i]))
        out[i] = not dominated.any()
    return out


def _notes(names, audits, figure: str, direction: str, n_boot: int) -> list[str]:
    notes = []
    thresholds = {n: audits[n].threshold for n in names}
    policy = audits[names[0]].policy.get("description", "")
    notes.append("Each system is judged at its own threshold from one policy (" + policy + "): "
                 + ", ".join(f"{n} {t:.4g}" for n, t in thresholds.items()) + ".")
    notes.append(f"Differences are paired: one identity bootstrap of {n_boot:,} replicates is shared by all "
                 "systems (replicate b resamples the same identities for every system). Their p-values come "
                 "from the same replicates (a bootstrap test) and are Holm-adjusted within each family (one pair of "
                 "systems and one question).")
    notes.append(f"The leaderboard ranks accuracy by pooled FNMR at each system's threshold and fairness by "
                 f"{figure} ({direction}); 'pareto' marks the systems no other beats on both.")
    return notes
