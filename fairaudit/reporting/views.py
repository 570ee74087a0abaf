"""The views of a report: the cells, tables and figures of every section (findings, data,
verification, comparison of systems, covariates, identification, classification, diagnostics, method), built from
the report data and
the results, as the template shows them. Every view draws its figures through this module's
``_figure`` (the identification view, in :mod:`fairaudit.reporting.identification`, too)."""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import pandas as pd

from fairaudit.common.serialize import frame_from_dict, to_jsonable
from fairaudit.data import POOLED, labels_of
from fairaudit.reporting.codebook import codebook_of, codebook_rows, planted_checks
from fairaudit.reporting.entries import KINDS, _Entry
from fairaudit.verification import shown
from fairaudit.reporting.figures import (
    _confusion_grid,
    _figure,
    plot_classification_roc,
    plot_cross,
    plot_mixture_sweep,
)
from fairaudit.reporting.findings import _classification_reason
from fairaudit.reporting.formatting import _ci_text, _float, _fmt_like, _g, fmt_count, fmt_num
from fairaudit.reporting.tolerances import DEFAULT_TOLERANCES, FIGURE_NAMES, _tolerance_text


def _cell(value: Any = None, *, text: str | None = None, sub: str = "", numeric: bool | None = None,
          cls: str = "", title: str = "", mark_: str | None = None) -> dict[str, Any]:
    v = _float(value)
    is_num = numeric if numeric is not None else (v is not None or (value is None and text is None))
    if text == "undefined":
        cls = (cls + " undefined").strip()
    return {"text": text if text is not None else fmt_num(value), "sub": sub,
            "sort": (repr(v) if v is not None else "") if is_num else None,
            "cls": ("num " if is_num else "") + cls, "title": title, "mark": mark_}


def _table(columns: Sequence[str | tuple[str, str]], rows: list[list[dict[str, Any]]], *,
           caption: str = "", sortable: bool = True) -> dict[str, Any]:
    cols = []
    for c in columns:
        label, tip = (c, "") if isinstance(c, str) else c
        cols.append({"label": label, "title": tip})
    return {"columns": cols, "rows": rows, "caption": caption, "sortable": sortable and len(rows) > 1}


def _rate_cell(row: Any, name: str) -> dict[str, Any]:
    lo, hi = (row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")) if hasattr(row, "get") else (None, None)
    ref = row[name]
    ok = _float(lo) is not None and _float(hi) is not None
    sub = f"[{_fmt_like(lo, ref)}, {_fmt_like(hi, ref)}]" if ok else ""
    return _cell(row[name], sub=sub)


def _verification_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any]) -> dict[str, Any]:
    from fairaudit.verification import plots as plot

    r = entry.result
    level = float(r.params.get("ci", 0.95))
    pct = f"{100 * level:g} %"
    bg = r.by_group.reset_index(drop=True)
    points = [c for c in bg.columns if str(c).startswith("fnmr_at_fmr_")]
    cols: list[Any] = ["group", ("FMR", f"false match rate at the threshold, {pct} CI below"),
                       ("FNMR", f"false non-match rate at the threshold, {pct} CI below"),
                       ("EER", f"equal error rate, {pct} CI below"), "EER threshold", "AUC"]
    cols += [(f"FNMR @ FMR {_g(float(p.rsplit('_', 1)[1]))}", "FNMR where the group's own FMR reaches the target")
             for p in points]
    frame = pd.concat([bg, pd.DataFrame([r.overall])], ignore_index=True)
    # FAR / FRR (ISO/IEC 19795-1, system level with failures to acquire) only where FTA is known
    system = [c for c in ("far", "frr") if c in frame.columns
              and pd.to_numeric(frame[c], errors="coerce").notna().any()]
    cols += [({"far": "FAR", "frr": "FRR"}[c], {"far": "false accept rate: FMR × (1 − FTA)",
                                                "frr": "false reject rate: FTA + FNMR × (1 − FTA)"}[c])
             for c in system]
    rows = []
    for _, row in frame.iterrows():
        pooled = str(row["label"]) == POOLED
        cells = [_cell(text=shown(row["label"]) + (" (pooled)" if pooled else ""), numeric=False),
                 _rate_cell(row, "fmr"), _rate_cell(row, "fnmr"), _rate_cell(row, "eer"),
                 _cell(row["eer_threshold"]), _cell(row["auc"])]
        cells += [_cell(row[p]) for p in points]
        cells += [_cell(row[c]) for c in system]
        rows.append(cells)
    by_group_table = _table(cols, rows, caption=f"Per-group error rates at threshold {r.threshold:.4g} "
                            f"({pct} confidence intervals over {int(r.params.get('n_boot', 0)):,} identity "
                            "bootstrap replicates below each value).")
    fairness_table = _fairness_table(entry, findings, f"Fairness figures at threshold {r.threshold:.4g} "
                                     f"(α = {_g(r.params.get('alpha', 0.5))}).", pct)
    cross = r.cross_fmr
    n_imp = r.cross_impostor
    cross_rows = []
    for i, label in enumerate(cross.index):
        cells = [_cell(text=shown(label), numeric=False)]
        for j in range(cross.shape[1]):
            cells.append(_cell(cross.iat[i, j], sub=f"n = {fmt_count(n_imp.iat[i, j])}"))
        cross_rows.append(cells)
    cross_table = _table(["group", *[shown(c) for c in cross.columns]], cross_rows,
                         caption="Impostor FMR between the groups of every pair (n: impostor pairs).")
    name = entry.name
    # (needs groups, what to draw, how to show it): a pooled-only audit draws only its pooled figures
    specs = [
        (True, lambda: plot.by_group(r, metric="fnmr"), dict(alt=f"Bar chart of FNMR per group with {pct} CIs",
                caption="FNMR per group at the threshold, with confidence intervals; dashed: pooled.")),
        (True, lambda: plot.by_group(r, metric="fmr"), dict(alt=f"Bar chart of FMR per group with {pct} CIs",
                caption="FMR per group at the threshold, with confidence intervals; dashed: pooled.")),
        (True, lambda: plot.fairness_panels(r), dict(alt="One panel per fairness figure with its confidence interval",
                caption="Fairness figures, one panel each, with confidence intervals; the black line marks a "
                        "perfectly fair value. Ratios are on a log axis, FDR and GARBE on [0, 1].", wide=True)),
        (False, lambda: plot.fmr_fnmr(r, log=True), dict(alt="FMR and FNMR against the threshold, per group",
                caption="FMR (solid) and FNMR (dashed) against the threshold, log scale; dotted: the threshold.")),
        (False, lambda: plot.det(r), dict(alt="DET curves per group",
                caption="DET curves (FNMR against FMR) per group; markers: the operating point at the threshold.")),
        (False, lambda: plot.roc(r), dict(alt="ROC curves per group",
                caption="ROC curves (1 − FNMR against FMR, log FMR axis) per group.")),
        (True, lambda: plot.histogram_grid(r), dict(alt="Genuine and impostor score histograms per group",
                caption="Genuine (group colour) and impostor (grey) score distributions per group.", wide=True)),
        (True, lambda: plot.cross_fmr(r), dict(alt="Heatmap of the cross-group impostor FMR, log colour scale",
                caption="Cross-group FMR at the threshold (log colour scale): impostor pairs whose samples "
                        "come from the row and the column group.")),
    ]
    per_group = len(r.by_group) > 0
    figs = [_figure(build, **how) for needs_groups, build, how in specs if per_group or not needs_groups]
    return {"id": entry.id, "name": name, "threshold": r.threshold,
            "policy": (r.policy or {}).get("description", ""), "by_group": by_group_table,
            "fairness": fairness_table, "cross": cross_table, "figures": figs,
            "notes": [str(n) for n in r.notes]}


def _fairness_table(entry: _Entry, findings: list[dict], caption: str, pct: str) -> dict[str, Any]:
    """The fairness figures of a verification or identification result with their marks."""
    r = entry.result
    fair_rows = []
    marks = {f["figure"]: f for f in findings if f["result"] == entry.id and f["kind"] == "figure"}
    for figure, row in r.fairness.iterrows():
        f = marks.get(str(figure))
        defined = bool(row.get("defined", True)) and _float(row["value"]) is not None
        fair_rows.append([
            _cell(text=FIGURE_NAMES.get(str(figure), str(figure)), numeric=False, title=str(figure)),
            _cell(row["value"], text=None if defined else "undefined"),
            _cell(text=_ci_text(row.get("ci_low"), row.get("ci_high"), None, ref=row["value"]).replace("CI ", ""),
                  numeric=False),
            _mark_cell(f, defined),
            _cell(text=_tolerance_text(f["tolerance"]) if f and f["tolerance"] else "not marked", numeric=False),
            _cell(text=str(row.get("direction", "")), numeric=False),
            _cell(text=str(row.get("formula", "")), numeric=False, cls="formula"),
            _cell(text=str(row.get("reason") or ""), numeric=False, cls="reason"),
        ])
    return _table(["figure", "value", f"{pct} CI", "mark", "tolerance", "direction", "formula", "note"],
                  fair_rows, caption=caption)


def _systems_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any]) -> dict[str, Any]:
    from fairaudit.reporting.systems_view import systems_view

    return systems_view(entry, findings, data, figure=_figure)


def _covariates_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any]) -> dict[str, Any]:
    from fairaudit.reporting.covariates_view import covariates_view

    return covariates_view(entry, findings, data, figure=_figure)


def _identification_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any]) -> dict[str, Any]:
    from fairaudit.reporting.identification import identification_view

    return identification_view(entry, findings, data, figure=_figure)


def _mark_cell(f: Mapping[str, Any] | None, defined: bool) -> dict[str, Any]:
    if not defined:
        return _cell(text="undefined", numeric=False, cls="undefined")
    if f is None or f.get("mark") is None:
        return _cell(text="not marked", numeric=False, cls="unmarked")
    spans = f.get("ci_marks") or []
    title = f"the confidence interval spans {spans[0]} to {spans[-1]}" if len(spans) > 1 else ""
    return _cell(text=f["mark"], numeric=False, mark_=f["mark"], title=title,
                 sub=f"CI: {spans[0]}–{spans[-1]}" if len(spans) > 1 else "")


def _classification_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any]) -> dict[str, Any]:
    r = entry.result
    level = float(r.params.get("ci", 0.95))
    pct = f"{100 * level:g} %"
    figs = [_figure(lambda: plot_cross(r), alt="Heatmap of accuracy per model and test group",
                    caption="Accuracy of every model (rows, named after their training groups) on every test "
                            f"group (columns), mean over seeds with the {pct} interval below.")]
    split = r.params.get("split") or {}
    if split.get("kind") == "mixture-sweep":
        figs.append(_figure(lambda: plot_mixture_sweep(r), alt="Accuracy per test group across mixtures",
                            caption=f"Accuracy per test group across the training mixtures ({pct} intervals)."))
    # per-group metrics per model: mean over seeds
    bgm = r.by_group.copy()
    metrics = [m for m in ("accuracy", "recall_macro", "tpr", "fpr", "selection_rate", "roc_auc")
               if m in bgm.columns and pd.to_numeric(bgm[m], errors="coerce").notna().any()]
    for m in metrics + ["n"]:
        bgm[m] = pd.to_numeric(bgm[m], errors="coerce")
    mean = bgm.groupby(["model", "group"], sort=False)[metrics + ["n"]].mean()
    cross = r.cross.set_index(["model", "test_group"])
    names = {"accuracy": "accuracy", "recall_macro": "macro recall", "tpr": "TPR", "fpr": "FPR",
             "selection_rate": "selection rate", "roc_auc": "ROC AUC"}
    rows = []
    for model in r.models:
        for group in [*r.groups, POOLED]:
            if (model, group) not in mean.index:
                continue
            row = mean.loc[(model, group)]
            cells = [_cell(text=str(model), numeric=False), _cell(text=str(group), numeric=False),
                     _cell(text=fmt_count(row["n"]), value=row["n"], numeric=True)]
            for m in metrics:
                sub = ""
                if m == "accuracy" and (model, group) in cross.index:
                    c = cross.loc[(model, group)]
                    if _float(c["ci_low"]) is not None and _float(c["ci_high"]) is not None:
                        sub = f"[{_fmt_like(c['ci_low'], row[m])}, {_fmt_like(c['ci_high'], row[m])}]"
                cells.append(_cell(row[m], sub=sub))
            rows.append(cells)
    metrics_table = _table(["model", "test group", ("n", "test samples per seed"),
                            *[names[m] for m in metrics]], rows,
                           caption=f"Per-group metrics (fairlearn MetricFrame), mean over {len(r.seeds)} seed(s); "
                                   f"{pct} interval of the accuracy below it.")
    fair_rows = []
    fmarks = {(f["model"], f["figure"]): f for f in findings if f["result"] == entry.id and f["kind"] == "figure"}
    for _, row in r.fairness.iterrows():
        f = fmarks.get((row["model"], row["metric"]))
        defined = _float(row["mean"]) is not None
        fair_rows.append([
            _cell(text=str(row["model"]), numeric=False),
            _cell(text=FIGURE_NAMES.get(str(row["metric"]), str(row["metric"])), numeric=False,
                  title=str(row["metric"])),
            _cell(row["mean"], text=None if defined else "undefined"),
            _cell(text=_ci_text(row["ci_low"], row["ci_high"], None, ref=row["mean"]).replace("CI ", ""),
                  numeric=False),
            _mark_cell(f, defined),
            _cell(text=_tolerance_text(f["tolerance"]) if f and f["tolerance"] else "not marked", numeric=False),
            _cell(text="" if defined else _classification_reason(r, str(row["metric"])), numeric=False,
                  cls="reason"),
        ])
    fairness_table = _table(["model", "figure", "mean", f"{pct} CI", "mark", "tolerance", "note"], fair_rows,
                            caption="fairlearn disparity figures between the test groups, per model, over seeds.")
    if r.is_binary and len(r.roc):
        for model in r.models:
            figs.append(_figure(lambda model=model: plot_classification_roc(r, model=model),
                                alt=f"ROC curves of model {model} per test group",
                                caption=f"ROC of model {model!s} per test group (every seed drawn; AUC: mean)."))
    if not r.is_binary:
        for model in r.models:
            figs.append(_figure(lambda model=model: _confusion_grid(r, model),
                                alt=f"Confusion matrices of model {model} per test group",
                                caption=f"Confusion matrices of model {model!s} per test group, summed over "
                                        "seeds, as shares of each true class.", wide=True))
    return {"id": entry.id, "name": entry.name, "figures": figs, "metrics": metrics_table,
            "fairness": fairness_table, "notes": [str(n) for n in r.notes],
            "description": _classification_description(r)}


def _classification_description(r: Any) -> str:
    split = r.params.get("split") or {}
    return (f"Target {' & '.join(r.target)} (classes {', '.join(map(str, r.classes))}), groups by "
            f"{' & '.join(r.by)}; head {r.params.get('head')}, split {split.get('name')}, "
            f"{len(r.seeds)} seed(s), test size {r.params.get('test_size')}.")


def _diagnostics_view(entry: _Entry, findings: list[dict], data: Mapping[str, Any]) -> dict[str, Any]:
    from matplotlib.figure import Figure

    from fairaudit.diagnostics import plot_embedding

    r = entry.result
    method = str(r.params.get("method", "")).upper().replace("TSNE", "t-SNE")
    figs = []
    for column in r.color_columns:
        if column == "identity":
            continue

        def build(column: str = column) -> Any:
            ax = Figure(figsize=(6.0, 5.0), layout="constrained").add_subplot()
            return plot_embedding(r, column, ax=ax)

        figs.append(_figure(build, alt=f"{method} map of the embeddings coloured by {column}",
                            caption=f"{method} of {len(r.coords):,} embeddings coloured by {column}."))
    rows = []
    for _, row in r.probe.iterrows():
        acc, chance = _float(row["accuracy_mean"]), _float(row["chance"])
        rows.append([_cell(text=str(row["attribute"]), numeric=False), _cell(row["accuracy_mean"]),
                     _cell(row["accuracy_std"]), _cell(row["chance"]),
                     _cell(None if acc is None or chance is None else acc - chance),
                     _cell(row["n_classes"]), _cell(row["n_samples"]), _cell(row["n_identities"]),
                     _cell(row["n_splits"])])
    probe = _table(["attribute", "probe accuracy", "sd over folds", "chance (majority class)",
                    "above chance", "classes", "samples", "identities", "folds"], rows,
                   caption="Cross-validated accuracy of a logistic regression predicting each attribute from "
                           "the embedding (folds grouped by identity).")
    return {"id": entry.id, "name": entry.name, "figures": figs, "probe": probe,
            "notes": [str(n) for n in r.notes], "method": method}


def _data_view(entries: list[_Entry], data: Mapping[str, Any]) -> dict[str, Any]:
    groups_tables = []
    for entry in entries:
        r = entry.result
        if entry.kind == "verification":
            rows = []
            bg = r.by_group.reset_index(drop=True)
            for _, row in pd.concat([bg, pd.DataFrame([r.overall])], ignore_index=True).iterrows():
                rows.append([_cell(text=shown(row["label"]), numeric=False), _cell(text=fmt_count(row["n_identities"]),
                             value=row["n_identities"], numeric=True),
                             _cell(text=fmt_count(row["n_samples"]), value=row["n_samples"], numeric=True),
                             _cell(text=fmt_count(row["n_genuine"]), value=row["n_genuine"], numeric=True),
                             _cell(text=fmt_count(row["n_impostor"]), value=row["n_impostor"], numeric=True)])
            groups_tables.append({"id": entry.id, "name": entry.name, "table": _table(
                ["group", "identities", "samples", "genuine pairs", "impostor pairs"], rows,
                caption=f"Samples, identities and pairs per group ({r.params.get('pair_rule', '')}).")})
        elif entry.kind == "systems":
            from fairaudit.reporting.systems_view import systems_groups_table

            groups_tables.append({"id": entry.id, "name": entry.name, "table": systems_groups_table(r)})
        elif entry.kind == "covariates":
            from fairaudit.reporting.covariates_view import covariates_groups_table

            groups_tables.append({"id": entry.id, "name": entry.name, "table": covariates_groups_table(r)})
        elif entry.kind == "identification":
            from fairaudit.reporting.identification import identification_groups_table

            groups_tables.append({"id": entry.id, "name": entry.name, "table": identification_groups_table(r)})
        elif entry.kind == "classification":
            tr = r.training.groupby(["model", "seed", "group"], sort=False)["n_train"].sum().reset_index()
            per = tr.groupby(["model", "group"], sort=False)["n_train"].mean().unstack("group").fillna(0.0)
            groups = [g for g in r.groups if g in per.columns]
            rows = []
            test = r.cross[r.cross["model"] == r.models[0]].set_index("test_group")["n_test"] if len(r.models) else {}
            for model in r.models:
                if model not in per.index:
                    continue
                rows.append([_cell(text=f"train: {shown(model)}", numeric=False)]
                            + [_cell(text=fmt_count(per.loc[model, g]), value=per.loc[model, g], numeric=True)
                               for g in groups])
            rows.append([_cell(text="test (every model)", numeric=False)]
                        + [_cell(text=fmt_count(test.get(g)), value=test.get(g), numeric=True) for g in groups])
            groups_tables.append({"id": entry.id, "name": entry.name, "table": _table(
                ["set", *map(shown, groups)], rows, caption="Training rows per model and test rows, per group "
                "(mean per seed). Test sets are identity-disjoint from every training set.")})
        else:
            counts = r.coords[list(r.by)].astype(str).value_counts().sort_index()
            rows = [[_cell(text=label, numeric=False), _cell(int(v))]
                    for label, v in zip(labels_of(list(counts.index)), counts.to_numpy())]
            groups_tables.append({"id": entry.id, "name": entry.name, "table": _table(
                ["group", "mapped samples"], rows, caption="Samples mapped and probed per group.")})
    fta = []
    items = data["data"]["failure_to_acquire"]
    if items and all(i["status"] in ("not-available", "none-recorded") for i in items) \
            and len({i["message"] for i in items}) == 1:
        # the same sentence for every grouping: say it once
        items = [{**items[0], "by": []}]
    for item in items:
        table = None
        if item.get("table"):
            frame = frame_from_dict(item["table"])
            rows = [[_cell(text=str(row["group"]), numeric=False), _cell(text=fmt_count(row["n_attempts"]),
                     value=row["n_attempts"], numeric=True), _cell(text=fmt_count(row["n_failures"]),
                     value=row["n_failures"], numeric=True), _cell(row["fta"])]
                    for _, row in frame.iterrows()]
            table = _table(["group", "attempts", "failures", "FTA"], rows,
                           caption="Failure-to-acquire rate per group (ISO/IEC 19795-10).")
        fta.append({"by": " × ".join(map(str, item["by"])), "message": item["message"], "table": table,
                    "status": item["status"]})
    names = {e.id: e.name for e in entries}
    warnings_ = [{"result": names.get(w["result"], w["result"]), "text": w["text"]}
                 for w in data["data"]["warnings"]]
    population = data["data"].get("population") or {}
    codebook = codebook_of(data, [e.result for e in entries])
    codebook_table = _table(["attribute", "code", "readable name"], [
        [_cell(text=a, numeric=False), _cell(text=c, numeric=False, cls="code"), _cell(text=n, numeric=False)]
        for a, c, n in codebook_rows(codebook)], caption="Codebook of the group values: tables and figures "
        "write a group as “readable name (code)”, attributes in the order of the audit's by.",
        sortable=False) if codebook else None
    return {"groups": groups_tables, "fta": fta, "warnings": warnings_, "population": data["data"].get("population"),
            "codebook": codebook_table, "planted": _planted_view(population.get("planted"), entries)}


def _planted_view(planted: Any, entries: list[_Entry]) -> dict[str, Any] | None:
    """Planted against observed orderings, for a synthetic population that knows what it planted."""
    if not planted:
        return None
    checks = planted_checks(planted, entries)
    rows = [[_cell(text=c["result"], numeric=False), _cell(text=c["metric"], numeric=False),
             _cell(text=" > ".join(c["planted"]), numeric=False, cls="code"),
             _cell(text=" > ".join(c["observed"]), numeric=False, cls="code"), _cell(c["tau"]),
             _cell(text="yes" if c["recovered"] else "no", numeric=False,
                   cls="recovered" if c["recovered"] else "not-recovered")] for c in checks]
    n_ok = sum(c["recovered"] for c in checks)
    if not checks:
        verdict = ("No audit in this report is over the planted attributes "
                   f"({' × '.join(planted.get('attributes') or [])}) with a planted ordering to compare.")
    elif n_ok == len(checks):
        verdict = f"The audit recovered every planted ordering ({n_ok} of {len(checks)})."
    else:
        verdict = (f"The audit recovered {n_ok} of {len(checks)} planted orderings exactly; Kendall's τ says how "
                   "close the others are (1: the same order, −1: reversed).")
    return {"preset": planted.get("preset"), "verdict": verdict,
            "table": _table(["result", "rate", "planted order (highest first)", "observed order (highest first)",
                             "Kendall's τ", "recovered"], rows, sortable=False,
                            caption="The synthetic population's planted error-rate orderings against the "
                                    "orderings the audit measured at its threshold (groups by their codes, "
                                    "see the codebook).") if rows else None}


def _findings_view(entries: list[_Entry], data: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in entries:
        mine = [f for f in data["findings"] if f["result"] == entry.id]
        rows = []
        for f in mine:
            if f["kind"] != "figure" or not f["headline"]:
                continue
            label = f["label"] + (f" — model {f['model']}" if f.get("model") else "") \
                + (f" — system {f['system']}" if f.get("system") is not None else "")
            rows.append([
                _cell(text=label, numeric=False, title=f["figure"] or ""),
                _cell(f["value"], text=None if f["defined"] else "undefined"),
                _cell(text=_ci_text(f["ci_low"], f["ci_high"], None, ref=f["value"]).replace("CI ", ""),
                      numeric=False),
                _cell(text=_tolerance_text(f["tolerance"]) if f["tolerance"] else "not marked", numeric=False),
                _mark_cell(f, f["defined"]),
            ])
        level = next((f["ci"] for f in mine if f.get("ci")), None)
        pct = f"{100 * level:g} % CI" if level else "CI"
        sentences = [{"text": f["sentence"], "mark": f["mark"], "defined": f["defined"]}
                     for f in mine if f["kind"] != "figure" or f["headline"]]
        out.append({"id": entry.id, "name": entry.name, "kind": entry.kind, "sentences": sentences,
                    "table": _table(["figure", "value", pct, "tolerance", "mark"], rows, sortable=False)
                    if rows else None})
    return out


def _method_view(entries: list[_Entry], data: Mapping[str, Any]) -> dict[str, Any]:
    params = []
    for entry in entries:
        r = entry.result
        items = []
        for key, value in (r.params or {}).items():
            text = value if isinstance(value, str) else json.dumps(to_jsonable(value), ensure_ascii=False)
            items.append({"key": str(key), "value": str(text)})
        if entry.kind in ("verification", "identification", "covariates"):
            items.insert(0, {"key": "threshold policy",
                             "value": f"{(r.policy or {}).get('description', '')}: threshold {r.threshold:.6g}"})
        prov = r.provenance or {}
        elapsed = prov.get("elapsed_s")
        if entry.kind == "systems":
            items.insert(0, {"key": "threshold policy", "value": f"{r.params.get('policy')}, each system at its "
                             "own threshold: " + ", ".join(f"{s} {r.audits[s].threshold:.6g}" for s in r.systems)})
            # the comparison's time is its systems' audits
            times = [_float((a.provenance or {}).get("elapsed_s")) for a in r.audits.values()]
            if elapsed is None and all(t is not None for t in times):
                elapsed = sum(times)
        params.append({"id": entry.id, "name": entry.name, "kind": entry.kind, "rows": items,
                       "elapsed": elapsed, "created": prov.get("created"),
                       "platform": prov.get("platform"), "argv": " ".join(map(str, prov.get("argv") or [])),
                       "blas": [", ".join(f"{k}={v}" for k, v in (b or {}).items()) for b in prov.get("blas") or []]})
    packages: dict[str, dict[str, Any]] = {}
    for entry in entries:
        for pkg, version in ((entry.result.provenance or {}).get("versions") or {}).items():
            packages.setdefault(str(pkg), {})[entry.id] = version
    version_rows = []
    for pkg, by_result in packages.items():
        distinct = set(map(str, by_result.values()))
        text = (next(iter(by_result.values())) or "not installed") if len(distinct) == 1 else \
            "; ".join(f"{rid}: {v or 'not installed'}" for rid, v in by_result.items())
        version_rows.append([_cell(text=pkg, numeric=False), _cell(text=str(text), numeric=False)])
    timing_rows = [[_cell(text=p["name"], numeric=False), _cell(p["elapsed"]),
                    _cell(text=str(p["created"] or ""), numeric=False)] for p in params]
    times = [_float(p["elapsed"]) for p in params]
    total = sum(t for t in times if t is not None) if any(t is not None for t in times) else None
    if len(params) > 1 and total is not None:
        timing_rows.append([_cell(text="total", numeric=False, cls="total"), _cell(total),
                            _cell(text="", numeric=False)])
    tol_rows = []
    for name, t in data["tolerances"].items():
        tol_rows.append([_cell(text=FIGURE_NAMES.get(name, name), numeric=False, title=name),
                         _cell(text=name, numeric=False, cls="code"),
                         _cell(text=f"{DEFAULT_TOLERANCES[name]['better']} is fairer", numeric=False),
                         _cell(text=_tolerance_text(t), numeric=False)])
    return {"params": params, "total_seconds": None if total is None else f"{total:.1f}",
            "versions": _table(["package", "version"], version_rows, sortable=False),
            "timings": _table(["result", "time (s)", "created"], timing_rows, sortable=False),
            "tolerances": _table(["figure", "key", "direction", "bands"], tol_rows, sortable=False),
            "kinds": sorted({e.kind for e in entries}, key=KINDS.index)}
