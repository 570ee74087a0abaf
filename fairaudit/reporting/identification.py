"""The identification (1:N) section of a report, from an
:class:`~fairaudit.identification.IdentificationResult`: its findings (which group has the highest
FNIR and FPIR and by how much, whether the group comparisons hold after Holm's adjustment, where the
false positives land, the marked fairness figures), its tables and its figures.

Vocabulary of ISO/IEC 19795-1 and NIST's FRTE 1:N reports: FNIR and FPIR, mated and non-mated
searches, the candidate list; never FAR / FRR (system-level rates of verification transactions)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from fairaudit.data import POOLED
from fairaudit.reporting.entries import _Entry
from fairaudit.reporting.findings import (
    LEVEL,
    _extremes,
    _fairness_findings,
    _finding,
    _group_rate,
    _overlap_clause,
    _tested_clause,
    _where,
)
from fairaudit.reporting.formatting import _ci_text, _float, _fmt_like, _g, fmt_count, fmt_num
from fairaudit.reporting.views import _cell, _fairness_table, _table
from fairaudit.verification import shown
from fairaudit.verification.comparisons import REST
from fairaudit.verification.small_samples import RULE_OF_30

#: identification figures shown among the findings, in order (every one is marked in the section)
IDENTIFICATION_HEADLINE = ("fnir_max_min", "fpir_max_min", "fdr", "garbe", "inequity")
#: the rates compared between groups: (column, word in sentences)
RATES = (("fnir", "FNIR"), ("fpir", "FPIR"))


# --------------------------------------------------------------------------
# findings
def _names(labels: list[str]) -> str:
    names = [shown(x) for x in labels]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _rate_findings(entry: _Entry) -> list[dict[str, Any]]:
    r = entry.result
    level = float(r.params.get("ci", 0.95))
    bg = r.by_group.reset_index(drop=True)
    where = _where(r)
    out = []
    for rate, word in RATES:
        extremes = _extremes(bg, rate)
        if extremes is None:
            continue
        ok, values, hi_row, lo_row = extremes
        hi_v, lo_v = float(hi_row[rate]), float(lo_row[rate])
        hi_l, lo_l = str(hi_row["label"]), str(lo_row["label"])
        a = (_float(hi_row.get(f"{rate}_ci_low")), _float(hi_row.get(f"{rate}_ci_high")))
        b = (_float(lo_row.get(f"{rate}_ci_low")), _float(lo_row.get(f"{rate}_ci_high")))
        what = f"{word} at rank {r.rank}" if rate == "fnir" else word
        defined_as = (f"{what} (the share of mated searches whose mate is not returned)" if rate == "fnir"
                      else f"{what} (the share of non-mated searches that return a candidate)")
        if hi_v == lo_v:
            sentence = f"{where}, every group has the same {what}, {fmt_num(hi_v, digits=3)}."
        else:
            # the pair's ratio comes with its interval and p-value when the comparison was tested
            tested = _tested_clause(r, rate, word, hi_l, lo_l, level) if lo_v > 0 else ""
            if lo_v > 0 and tested:
                tail = f"group {shown(lo_l)} has the lowest, {_group_rate(lo_row, rate, level)}"
            elif lo_v > 0:
                tail = (f"{hi_v / lo_v:.3g}× that of group {shown(lo_l)} "
                        f"({_group_rate(lo_row, rate, level, nested=True)}), the lowest")
            else:
                zero = [str(x) for x in ok.loc[values == 0, "label"]]
                tail = (f"group{'s' if len(zero) > 1 else ''} {_names(zero)} "
                        f"{'have' if len(zero) > 1 else 'has'} none, so no ratio to the lowest is defined")
            sentence = (f"{where}, the {defined_as} of group {shown(hi_l)} is "
                        f"{_group_rate(hi_row, rate, level)}, the highest; {tail}.")
            # without a tested pair (the lowest rate is 0), the highest group against the rest
            tested = tested or _tested_clause(r, rate, word, hi_l, None, level)
            sentence += tested or _overlap_clause(a, b)
        out.append(_finding(
            entry, key=f"{rate}_by_group", kind="comparison", label=f"{word} by group",
            value=(hi_v / lo_v if lo_v > 0 else None), sentence=sentence,
            extra={"rate": rate, "threshold": r.threshold, "rank": int(r.rank),
                   "highest": {"group": hi_l, "value": hi_v, "ci_low": a[0], "ci_high": a[1]},
                   "lowest": {"group": lo_l, "value": lo_v, "ci_low": b[0], "ci_high": b[1]}}))
    return out


def _holm_finding(entry: _Entry) -> list[dict[str, Any]]:
    r = entry.result
    table = r.comparisons
    if int(r.params.get("n_boot", 0) or 0) == 0 or not len(table):
        return [_finding(entry, key="comparisons", kind="comparison", label="Group comparisons", defined=False,
                         reason="the audit ran without bootstrap (n_boot=0)",
                         sentence="No group comparison was tested: the audit ran without bootstrap (n_boot=0).",
                         extra={"n_tests": 0, "n_significant": 0, "significant": []})]
    tested = table[table["p_holm"].notna()]
    sig = tested[tested["p_holm"] < LEVEL]
    parts = []
    for rate, word in RATES:
        n_rate = int((tested["metric"] == rate).sum())
        if not n_rate:
            continue
        mine = sig[sig["metric"] == rate]
        text = f"{len(mine)} of {n_rate} for {word}"
        if 0 < len(mine) <= 3:
            text += " (" + ", ".join(f"{shown(a)} vs {shown(b) if b != REST else 'the rest'}"
                                     for a, b in zip(mine["group_a"], mine["group_b"])) + ")"
        parts.append(text)
    sentence = (f"Of the {len(tested)} group comparisons tested (every pair of groups and, with three groups "
                f"or more, each group against the rest), {len(sig)} show a gap at the 5 % level after Holm's "
                f"adjustment: {'; '.join(parts)}.")
    n_perm = int(tested["n_perm"].max()) if len(tested) else 0
    if n_perm and len(tested) / (n_perm + 1) > LEVEL:
        sentence += (f" With {n_perm:,} permutations no adjusted p-value can fall below "
                     f"{len(tested) / (n_perm + 1):.2g}: raise n_perm.")
    significant = [{"metric": str(m), "group_a": str(a), "group_b": str(b), "p_holm": float(p)}
                   for m, a, b, p in zip(sig["metric"], sig["group_a"], sig["group_b"], sig["p_holm"])]
    return [_finding(entry, key="comparisons", kind="comparison", label="Group comparisons", value=len(sig),
                     sentence=sentence, extra={"n_tests": int(len(tested)), "n_significant": int(len(sig)),
                                               "significant": significant})]


def _landing_finding(entry: _Entry) -> list[dict[str, Any]]:
    r = entry.result
    if not len(r.landing):
        return []
    lift = r.landing_matrix("top_k_lift")
    tops = []
    for probe, row in lift.iterrows():
        row = pd.to_numeric(row, errors="coerce").dropna()
        if len(row):
            tops.append({"probe_group": str(probe), "candidate_group": str(row.idxmax()),
                         "top_k_lift": float(row.max())})
    if not tops:
        return []
    own = sum(t["probe_group"] == t["candidate_group"] for t in tops)
    where = f"Where false positives land: in the top-{int(r.k)} candidate lists of non-mated searches"
    if own == len(tops) and len(tops) > 1:
        low, high = min(tops, key=lambda t: t["top_k_lift"]), max(tops, key=lambda t: t["top_k_lift"])
        sentence = (f"{where}, every probe group's own group is the candidate group most over-represented "
                    f"against its share of the gallery (top-K lift from {low['top_k_lift']:.2f}× for "
                    f"{shown(low['probe_group'])} to {high['top_k_lift']:.2f}× for {shown(high['probe_group'])}): "
                    "the candidates a search returns for someone not enrolled are most often of that person's "
                    "own demographic group.")
    else:
        listing = "; ".join(f"{shown(t['probe_group'])} → {shown(t['candidate_group'])} "
                            f"({t['top_k_lift']:.2f}×)" for t in tops)
        sentence = (f"{where}, the candidate group most over-represented against its share of the gallery "
                    f"(top-K lift) is, by probe group, {listing}.")
        if own:
            sentence += f" For {own} of {len(tops)} probe groups that is their own group."
    fp = r.landing
    total = int(fp["n_false_positives"].sum())
    same = int(fp.loc[fp["probe_group"] == fp["candidate_group"], "n_false_positives"].sum())
    if total:
        sentence += (f" At the threshold, {same:,} of the {total:,} false positives ({100 * same / total:.0f} %) "
                     "return a best candidate of the probe's own group.")
    else:
        sentence += " At the threshold no non-mated search returns a candidate."
    best = max(tops, key=lambda t: t["top_k_lift"])
    return [_finding(entry, key="landing", kind="landing", label="Where false positives land",
                     value=best["top_k_lift"], sentence=sentence,
                     extra={"top_lift": tops, "false_positives": total, "own_group_false_positives": same})]


def _identification_findings(entry: _Entry, tol: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The findings of an identification result (see docs/reference/json-schema.md)."""
    return (_rate_findings(entry) + _holm_finding(entry) + _landing_finding(entry)
            + _fairness_findings(entry, IDENTIFICATION_HEADLINE, tol))


# --------------------------------------------------------------------------
# tables
def _thin(row: Any, flag: str) -> bool:
    """Whether the rate behind ``flag`` rests on fewer than 30 errors (the pooled row has no flag:
    counted here)."""
    value = row.get(flag)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    count = _float(row.get("n_false_negatives" if flag.startswith("fnir") else "n_false_positives"))
    return count is not None and count < RULE_OF_30


def _rate_cell(row: Any, name: str, flag: str | None, flag_title: str) -> dict[str, Any]:
    lo, hi, ref = row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high"), row[name]
    sub = ""
    if _float(lo) is not None and _float(hi) is not None:
        sub = f"[{_fmt_like(lo, ref)}, {_fmt_like(hi, ref)}]"
        if str(row.get(f"{name}_ci_method", "")) == "clopper-pearson":
            sub += " †"
    marked = flag is not None and _thin(row, flag)
    text = (_fmt_like(ref, ref) if _float(ref) else fmt_num(ref)) + (" *" if marked else "") \
        if _float(ref) is not None else "n/a"
    return _cell(ref, text=text, sub=sub, numeric=True, title=flag_title if marked else "")


def _frame(r: Any) -> pd.DataFrame:
    return pd.concat([r.by_group.reset_index(drop=True), pd.DataFrame([r.overall])], ignore_index=True)


def _group_cell(row: Any, few: int) -> dict[str, Any]:
    pooled = str(row["label"]) == POOLED
    small = bool(row.get("below_min_identities", False)) and not pooled
    return _cell(text=shown(row["label"]) + (" (pooled)" if pooled else "") + (" !" if small else ""),
                 numeric=False, title=f"fewer than {few} probe identities" if small else "")


def _by_group_table(r: Any, pct: str) -> dict[str, Any]:
    few = int(r.params.get("min_identities", 30))
    rows = []
    for _, row in _frame(r).iterrows():
        rows.append([
            _group_cell(row, few),
            _cell(text=fmt_count(row["n_identities"]), value=row["n_identities"], numeric=True),
            _cell(text=fmt_count(row["n_mated"]), value=row["n_mated"], numeric=True),
            _cell(text=fmt_count(row["n_nonmated"]), value=row["n_nonmated"], numeric=True),
            _rate_cell(row, "fnir", "fnir_below_rule_of_30", "fewer than 30 false negatives (rule of 30)"),
            _rate_cell(row, "fpir", "fpir_below_rule_of_30", "fewer than 30 false positives (rule of 30)"),
            _rate_cell(row, "rank1", None, ""),
        ])
    cols = ["group", ("probe identities", "identities of the group searched as probes"),
            ("mated searches", "searches whose identity is enrolled"),
            ("non-mated searches", "searches whose identity is not enrolled"),
            (f"FNIR (rank {r.rank})", f"false negative identification rate at the threshold: share of mated "
             f"searches whose mate is not returned at rank ≤ {r.rank}; {pct} CI below"),
            ("FPIR", f"false positive identification rate at the threshold: share of non-mated searches that "
             f"return at least one candidate; {pct} CI below"),
            ("rank-1 rate", f"share of mated searches whose mate is the first candidate, whatever its score; "
             f"{pct} CI below")]
    n_boot = int(r.params.get("n_boot", 0) or 0)
    ci = (f"{pct} confidence intervals over {n_boot:,} probe-identity bootstrap replicates below each value; "
          "† a Clopper–Pearson interval (no error, a small group or a collapsed bootstrap)") if n_boot else \
        "no confidence intervals (the audit ran without bootstrap)"
    return _table(cols, rows, caption=f"Per-group error rates at threshold {r.threshold:.4g} ({ci}). "
                  f"* fewer than 30 errors behind the rate (Doddington's rule of 30); ! fewer than {few} probe "
                  "identities in the group.")


def _comparisons_table(r: Any, pct: str) -> dict[str, Any]:
    names = {"fnir": "FNIR", "fpir": "FPIR", "rank1": "rank-1 rate"}
    rows = []
    for _, row in r.comparisons.iterrows():
        p, ph = _float(row["p_value"]), _float(row["p_holm"])
        gap = "–" if ph is None else ("yes" if ph < LEVEL else "no")
        rows.append([
            _cell(text=names.get(str(row["metric"]), str(row["metric"])), numeric=False),
            _cell(text=shown(row["group_a"]), numeric=False),
            _cell(text="the rest" if row["kind"] == "vs_rest" else shown(row["group_b"]), numeric=False),
            _cell(row["value_a"]), _cell(row["value_b"]),
            _cell(row["difference"], sub=_ci_text(row["difference_ci_low"], row["difference_ci_high"], None,
                                                  ref=row["difference"]).replace("CI ", "")),
            _cell(row["ratio"], sub=_ci_text(row["ratio_ci_low"], row["ratio_ci_high"], None,
                                             ref=row["ratio"]).replace("CI ", "")),
            _cell(p, text="< 0.001" if p is not None and p < 0.001 else None),
            _cell(ph, text="< 0.001" if ph is not None and ph < 0.001 else None),
            _cell(text=gap, numeric=False, cls="gap-yes" if gap == "yes" else ""),
        ])
    return _table(["rate", "group a", "group b", "a", "b", ("a − b", f"difference, {pct} CI below"),
                   ("a / b", f"ratio, {pct} CI below"), ("p", "two-sided probe-identity permutation p-value"),
                   ("p (Holm)", "adjusted by Holm over every tested comparison"),
                   ("gap at 5 %", "Holm-adjusted p < 0.05")], rows,
                  caption=f"Group comparisons: differences and ratios with {pct} paired bootstrap intervals; "
                          "permutation p-values for FNIR and FPIR, Holm-adjusted over the table (the rank-1 rate "
                          "moves with FNIR at rank 1: intervals only).")


def _gallery_table(r: Any) -> dict[str, Any]:
    g = r.gallery
    rows = [[_cell(text=shown(row["label"]), numeric=False),
             _cell(text=fmt_count(row["n_identities"]), value=row["n_identities"], numeric=True),
             _cell(text=fmt_count(row["n_samples"]), value=row["n_samples"], numeric=True),
             _cell(text=f"{100 * float(row['share']):.1f} %", value=row["share"], numeric=True)]
            for _, row in g.iterrows()]
    rows.append([_cell(text=f"{POOLED} (gallery)", numeric=False),
                 _cell(text=fmt_count(g["n_identities"].sum()), value=g["n_identities"].sum(), numeric=True),
                 _cell(text=fmt_count(g["n_samples"].sum()), value=g["n_samples"].sum(), numeric=True),
                 _cell(text="100 %", value=1.0, numeric=True)])
    return _table(["group", "enrolled identities", "gallery samples", "share of the gallery"], rows,
                  caption="The gallery's composition: every enrolled identity is a candidate of every search.")


def _matrix_table(r: Any, value: str, caption: str) -> dict[str, Any]:
    m = r.landing_matrix(value)
    counts = r.landing_matrix("n_false_positives")
    rows = []
    for probe in m.index:
        cells = [_cell(text=shown(probe), numeric=False)]
        for cand in m.columns:
            v = m.at[probe, cand]
            if value == "share":
                n = _float(counts.at[probe, cand])
                cells.append(_cell(v, text=f"{100 * float(v):.0f} %" if _float(v) is not None else "n/a",
                                   sub=f"n = {fmt_count(n)}" if _float(v) is not None else "", numeric=True))
            else:
                cells.append(_cell(v, text=f"{float(v):.2f}×" if _float(v) is not None else "n/a", numeric=True))
        rows.append(cells)
    return _table(["probe group \\ candidate group", *[shown(c) for c in m.columns]], rows, caption=caption)


def _gallery_size_table(r: Any) -> dict[str, Any] | None:
    t = r.gallery_size
    if not len(t):
        return None
    wide = t.pivot(index="group", columns="gallery_identities", values="fpir")
    order = [str(x) for x in r.by_group["label"]] + [POOLED]
    wide = wide.reindex([x for x in order if x in wide.index])
    rows = [[_cell(text=shown(g) + (" (pooled)" if g == POOLED else ""), numeric=False)]
            + [_cell(wide.at[g, c], text=fmt_num(wide.at[g, c], digits=3)) for c in wide.columns]
            for g in wide.index]
    return _table(["group", *[f"{int(c):,} ids" for c in wide.columns]], rows,
                  caption=f"FPIR at threshold {r.threshold:.4g} when the gallery holds only a random share of the "
                          "enrolled identities (nested sub-galleries, the same for every group).")


def identification_groups_table(r: Any) -> dict[str, Any]:
    """The data section's table of an identification result: searches and enrolment per group."""
    gallery = r.gallery.set_index("label")
    rows = []
    for _, row in _frame(r).iterrows():
        label = str(row["label"])
        enrolled = gallery["n_identities"].sum() if label == POOLED else gallery["n_identities"].get(label)
        rows.append([_cell(text=shown(label), numeric=False)]
                    + [_cell(text=fmt_count(row[c]), value=row[c], numeric=True)
                       for c in ("n_identities", "n_mated_identities", "n_nonmated_identities", "n_mated",
                                 "n_nonmated")]
                    + [_cell(text=fmt_count(enrolled), value=enrolled, numeric=True)])
    return _table(["group", "probe identities", "mated identities", "non-mated identities", "mated searches",
                   "non-mated searches", "enrolled identities"], rows,
                  caption="Searches and enrolment per group of the probe (a mated search's identity is enrolled "
                          "in the gallery, a non-mated search's is not).")


def _protocol_text(r: Any) -> str:
    p = r.protocol or {}
    kind = p.get("kind")
    if kind == "split":
        share = float(p.get("nonmated_share", 0.2))
        n = int(p.get("samples", 1))
        return (f"Within every group, {100 * share:g} % of the identities are held out and searched as non-mated "
                f"probes; {n} sample{'s' if n != 1 else ''} of every other identity {'are' if n != 1 else 'is'} "
                "enrolled in the gallery and the rest searched as mated probes (seeded split).")
    if kind == "candidate_lists":
        return f"Candidate lists returned by the system under audit (source: {p.get('source', '?')})."
    if kind in ("roles", "column"):
        where = f" from column {p['column']!r}" if p.get("column") else ""
        return f"Every sample's role (gallery or probe) was given{where}."
    return f"Protocol: {kind}."


# --------------------------------------------------------------------------
# the view
def identification_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any], *,
                        figure: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Everything the identification section of the template shows; ``figure`` is the views'
    ``_figure`` (drawn later, all figures of the report at once)."""
    from fairaudit.identification import plots as plot

    r = entry.result
    pct = f"{100 * float(r.params.get('ci', 0.95)):g} %"
    per_group = len(r.by_group) > 0
    specs = [
        (True, lambda: plot.rates(r), dict(alt=f"Bar chart of FNIR and FPIR per group with {pct} CIs, log scale",
                caption="FNIR (solid) and FPIR (hatched) per group at the threshold with confidence intervals, "
                        "log scale; dashed and dotted: pooled. A rate of 0 has no bar.")),
        (False, lambda: plot.det(r), dict(alt="DET curves of FNIR against FPIR per group",
                caption=f"DET (FNIR at rank {r.rank} against FPIR) per group as the threshold moves; markers: "
                        "the operating point at the audit's threshold.")),
        (False, lambda: plot.cmc(r), dict(alt="CMC curves: rank-k identification rate per group",
                caption=f"CMC: share of mated searches whose mate is among the first k candidates (k = 1 to "
                        f"{r.k}), whatever its score; dashed: pooled.")),
        (True, lambda: plot.landing(r, value="share"), dict(
                alt="Heatmap of where false positives land, probe group by candidate group",
                caption="Where false positives land: for every probe group (row), the share of its false "
                        "positives whose best candidate is of the column's group.")),
        (True, lambda: plot.landing(r, value="top_k_lift"), dict(
                alt="Heatmap of the top-K lift of candidate groups per probe group",
                caption=f"Top-K lift: a candidate group's share of the top-{r.k} candidate lists of non-mated "
                        "searches over its share of the gallery, whatever the scores (1: as often as its "
                        "weight in the gallery; red: more often).")),
        (False, lambda: plot.gallery_size(r), dict(alt="FPIR against the number of enrolled identities per group",
                caption="FPIR at the threshold against gallery size (nested random sub-galleries, log scale): "
                        "FPIR grows with every identity enrolled.")),
        (True, lambda: plot.fairness_panels(r), dict(
                alt="One panel per fairness figure with its confidence interval",
                caption="Fairness figures over FPIR and FNIR, one panel each, with confidence intervals; the black "
                        "line marks a perfectly fair value.", wide=True)),
    ]
    # candidate lists read from a system cannot be searched against sub-galleries: no such figure
    sized = len(r.gallery_size) > 0
    figs = [figure(build, **how) for needs_groups, build, how in specs
            if (per_group or not needs_groups) and (sized or "enrolled identities" not in how["alt"])]
    tested = r.comparisons["p_holm"].notna() if len(r.comparisons) else pd.Series(dtype=bool)
    return {
        "id": entry.id, "name": entry.name, "threshold": r.threshold,
        "policy": (r.policy or {}).get("description", ""), "rank": int(r.rank), "k": int(r.k),
        "protocol": _protocol_text(r),
        "searches": {"n_probes": fmt_count(r.params.get("n_probes")),
                     "n_gallery_identities": fmt_count(r.params.get("n_gallery_identities")),
                     "n_gallery_samples": fmt_count(r.params.get("n_gallery_samples"))},
        "by_group": _by_group_table(r, pct),
        "fairness": _fairness_table(entry, findings, f"Fairness figures over FPIR and FNIR at threshold "
                                    f"{r.threshold:.4g} (α = {_g(r.params.get('alpha', 0.5))}).", pct),
        "comparisons": _comparisons_table(r, pct) if len(r.comparisons) else None,
        "n_comparisons": int(len(r.comparisons)), "n_tested": int(tested.sum()),
        "n_significant": int((r.comparisons.loc[tested, "p_holm"] < LEVEL).sum()) if len(r.comparisons) else 0,
        "gallery": _gallery_table(r),
        "landing": _matrix_table(r, "share", f"Where false positives land at threshold {r.threshold:.4g}: share "
                                 "of each probe group's false positives (rows) whose best candidate is of the "
                                 "column's group; n: false positives; n/a: the probe group has none.")
        if len(r.landing) else None,
        "lift": _matrix_table(r, "top_k_lift", f"Top-K lift (K = {r.k}): share of the candidates in each probe "
                              "group's lists over the candidate group's share of the gallery; above 1 the group "
                              "crowds the lists.") if len(r.landing) else None,
        "gallery_size": _gallery_size_table(r),
        "figures": figs,
        "notes": [str(n) for n in r.notes],
    }
