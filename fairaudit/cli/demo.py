"""``fairaudit synth`` and ``fairaudit demo``: a synthetic population with planted biases, and
every audit and the HTML report run on one."""

from __future__ import annotations

import argparse
import time
from typing import Any

#: the report's name of each verification result of the demo, by threshold policy: (by ethnicity, by
#: gender x ethnicity)
VERIFICATION_TITLES = {
    "fmr1e-3": ("Verification by ethnicity at FMR 1e-3", "Verification by gender × ethnicity at FMR 1e-3"),
    "eer": ("Verification by ethnicity at the pooled EER threshold",
            "Verification by gender × ethnicity at the pooled EER threshold"),
}
#: the report's name of the demo's 1:N identification audit (its default threshold: pooled FPIR 1e-2)
IDENTIFICATION_TITLE = "Identification (1:N) by gender × ethnicity at FPIR 1e-2"
COMPARE_TITLE = "Two systems side by side by gender × ethnicity, each at its own FMR 1e-3 threshold"
COVARIATES_TITLE = "Covariates: image quality, age and device by ethnicity, at FMR 1e-3"
#: the report's name of each part of the study protocol the demo runs
STUDY_TITLES = {"per_group": "Classification: a gender head per ethnicity, cross-evaluated (2.1-2.2)",
                "pooled": "Classification: one pooled gender head (2.3-2.4)",
                "six_class": "Classification: six-class gender x ethnicity head (2.5)",
                "mixtures": "Classification: gender heads on biased mixtures (2.6)",
                "diagnostics": "Diagnostics: t-SNE and demographic probe (1.3)"}
#: title of the demo's report
REPORT_TITLE = "fairaudit demo: synthetic 'diveface' population"

#: default sizes of the demo's synthetic population (per group)
DEMO_IDENTITIES = 200
DEMO_SAMPLES = 5


def cmd_synth(args: argparse.Namespace) -> int:
    from fairaudit.data import synthetic
    from fairaudit.common.files import check_output, save_outputs

    check_output(args.out, name="--out")
    es = synthetic.population(
        args.preset, n_identities=args.n_identities, samples_per_identity=args.samples,
        dim=args.dim, random_state=args.seed,
    )
    written = save_outputs([("--out", args.out, lambda p: es.save(p))])
    print(f"{es!r}\nwritten to {written[0]}")
    print(synthetic.describe(args.preset))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fairaudit.verification import plots as plot
    from fairaudit.data import synthetic
    from fairaudit.common.files import write_text_atomic
    from fairaudit.identification import identification_audit
    from fairaudit.identification import plots as identification_plots
    from fairaudit.verification import verification_audit

    from fairaudit.common.files import check_output

    out = check_output(args.out, name="--out", directory=True)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    n_ids = args.n_identities
    es = synthetic.population("diveface", n_identities=n_ids, samples_per_identity=DEMO_SAMPLES,
                              dim=args.dim, random_state=args.seed)
    es.save(out / "population.npz")
    print(f"Synthetic 'diveface' population: {es!r}")
    print(synthetic.describe("diveface"))
    print()
    lines: list[str] = []
    # every result the demo computes, by display name, in the order the HTML report shows them;
    # add classification / diagnostics results here to get their sections in report.html
    report_results: dict[str, Any] = {}
    policies = [("fmr1e-3", {"fmr": 1e-3}), ("eer", "eer")]
    for name, policy in policies:
        # gender x ethnicity, the order the study protocol's six-class head and diagnostics use, so one
        # group reads "M & N" in every section of the report
        result = verification_audit(es, by=["gender", "ethnicity"], threshold=policy, n_boot=args.n_boot,
                                    random_state=args.seed)
        text = result.summary()
        print(text, end="\n\n")
        lines += [text, ""]
        result.to_json(out / f"verification_{name}.json")
        plot.save_all(result, out / "plots", prefix=f"verification_{name}")
        by_eth = verification_audit(es, by="ethnicity", threshold=policy, n_boot=args.n_boot,
                                    random_state=args.seed)
        text = by_eth.summary()
        print(text, end="\n\n")
        lines += [text, ""]
        by_eth.to_json(out / f"verification_{name}_ethnicity.json")
        plot.save_all(by_eth, out / "plots", prefix=f"verification_{name}_ethnicity")
        report_results[VERIFICATION_TITLES[name][0]] = by_eth
        report_results[VERIFICATION_TITLES[name][1]] = result
    # 1:N: a seeded gallery/probe split of the same population, one threshold at a pooled FPIR of 1e-2
    ident = identification_audit(es, by=["gender", "ethnicity"], n_boot=args.n_boot, random_state=args.seed)
    text = ident.summary()
    print(text, end="\n\n")
    lines += [text, ""]
    ident.to_json(out / "identification.json")
    identification_plots.save_all(ident, out / "plots", prefix="identification")
    report_results[IDENTIFICATION_TITLE] = ident
    # two systems of the same people (planted: one more accurate but less fair), each at its own FMR 1e-3
    # threshold, with one identity bootstrap shared by both
    from fairaudit.systems import compare_systems
    from fairaudit.systems import plots as systems_plots

    systems = synthetic.systems("diveface", n_identities=n_ids, samples_per_identity=DEMO_SAMPLES, dim=args.dim,
                                random_state=args.seed)
    cmp = compare_systems(systems, by=["gender", "ethnicity"], threshold={"fmr": 1e-3}, n_boot=max(args.n_boot, 2),
                          random_state=args.seed)
    text = cmp.summary()
    print(text, end="\n\n")
    lines += [text, ""]
    cmp.to_json(out / "compare_systems.json")
    systems_plots.save_all(cmp, out / "plots", prefix="compare_systems")
    report_results[COMPARE_TITLE] = cmp
    # covariates: people photographed with a quality, an age and a device per image (planted: N's lower
    # image quality carries part of its FNMR gap, and a direct group effect the rest)
    from fairaudit.covariates import covariate_audit
    from fairaudit.covariates import plots as covariate_plots

    cov_pop = synthetic.population("covariates_direct", n_identities=n_ids, samples_per_identity=DEMO_SAMPLES,
                                   dim=args.dim, random_state=args.seed)
    cov = covariate_audit(cov_pop, by="ethnicity", threshold={"fmr": 1e-3}, n_boot=args.n_boot,
                          random_state=args.seed)
    text = cov.summary()
    print(text, end="\n\n")
    lines += [text, ""]
    cov.to_json(out / "covariates.json")
    covariate_plots.save_all(cov, out / "plots", prefix="covariates")
    report_results[COVARIATES_TITLE] = cov
    if not args.no_classification:
        from fairaudit.classification import run_study_protocol

        print("The reference study's classification protocol (tasks 1.3, 2.1-2.6), leakage-free:")
        study = run_study_protocol(es, head="logistic", n_seeds=args.seeds, random_state=args.seed)
        for key, title in STUDY_TITLES.items():
            part = study.get(key)
            if part is None:
                continue
            text = part.summary()
            if hasattr(part, "cross") and "ci_low" in getattr(part, "cross", {}):
                text += "\n\n" + _accuracy_intervals(part)
            print(f"{title}\n{text}\n")
            lines += [title, text, ""]
            part.to_json(out / f"{key}.json")
            report_results[title] = part
    from fairaudit.reporting import report

    html = report(report_results, out / "report.html", title=REPORT_TITLE,
                  population=es, json_path=out / "report.json")
    text = _report_marks(out / "report.json")
    print(text, end="\n\n")
    lines += [text, ""]
    write_text_atomic(out / "summary.txt", "\n".join(lines))
    print(f"Done in {time.perf_counter() - start:.1f} s.")
    print(f"JSON, text summary and plots written to {out}")
    print(f"Summary: {out / 'summary.txt'}")
    print(f"Report: {html}")
    return 0


def _accuracy_intervals(result: Any) -> str:
    """The accuracy table with the intervals the classification notes describe (over seeds)."""
    from fairaudit.common.text import table

    level = float(result.params.get("ci", 0.95)) if isinstance(result.params, dict) else 0.95
    rows = []
    for _, row in result.cross.iterrows():
        ci = (f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
              if row["ci_low"] == row["ci_low"] and row["ci_high"] == row["ci_high"] else "n/a")
        rows.append([str(row["model"]), str(row["test_group"]), f"{row['accuracy_mean']:.4f}", ci,
                     str(int(row["n_seeds"]))])
    return (f"Accuracy with {100 * level:g} % intervals over seeds (the intervals the note describes):\n"
            + table(rows, ["model", "test group", "accuracy", f"{100 * level:g} % CI", "seeds"]))


def _report_marks(path: Any) -> str:
    """The verdicts and marks that open the HTML report, as text (read from its JSON)."""
    import json

    from fairaudit.common.text import table

    data = json.loads(path.read_text(encoding="utf-8"))
    s = data["summary"]
    rows = []
    for r in data["results"]:
        counts = {"pass": 0, "review": 0, "fail": 0, "undefined": 0}
        for f in data["findings"]:
            if f["result"] == r["id"] and f["kind"] == "figure" and f.get("headline", True):
                key = "undefined" if not f["defined"] else f["mark"]
                if key in counts:
                    counts[key] += 1
        if r["kind"] == "diagnostics":
            verdict = "not marked"
        else:
            verdict = next((k for k in ("fail", "review", "pass") if counts[k]), "no verdict")
        rows.append([r["name"], verdict, *(str(counts[k]) for k in ("pass", "review", "fail", "undefined"))])
    total = s["pass"] + s["review"] + s["fail"] + s["undefined"] + s.get("unmarked", 0)
    head = (f"Report marks ({total} headline fairness figures): {s['pass']} pass, {s['review']} review, "
            f"{s['fail']} fail, {s['undefined']} undefined")
    return head + "\n" + table(rows, ["result", "verdict", "pass", "review", "fail", "undefined"])
