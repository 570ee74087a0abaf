"""``fairaudit synth`` and ``fairaudit demo``: a synthetic population with planted biases, and
every audit and the HTML report run on one."""

from __future__ import annotations

import argparse
import time
from typing import Any

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
        result = verification_audit(es, by=["ethnicity", "gender"], threshold=policy, n_boot=args.n_boot,
                                    random_state=args.seed)
        text = result.summary()
        print(text, end="\n\n")
        lines += [text, ""]
        result.to_json(out / f"verification_{name}.json")
        plot.save_all(result, out / "plots", prefix=f"verification_{name}")
        by_eth = verification_audit(es, by="ethnicity", threshold=policy, n_boot=args.n_boot,
                                    random_state=args.seed)
        by_eth.to_json(out / f"verification_{name}_ethnicity.json")
        plot.save_all(by_eth, out / "plots", prefix=f"verification_{name}_ethnicity")
        where = "at FMR 1e-3" if name == "fmr1e-3" else "at the pooled EER threshold"
        report_results[f"Verification by ethnicity {where}"] = by_eth
        report_results[f"Verification by ethnicity × gender {where}"] = result
    if not args.no_classification:
        from fairaudit.classification import run_study_protocol

        print("The reference study's classification protocol (tasks 1.3, 2.1-2.6), leakage-free:")
        study = run_study_protocol(es, head="logistic", n_seeds=args.seeds, random_state=args.seed)
        titles = {"per_group": "Classification: a gender head per ethnicity, cross-evaluated (2.1-2.2)",
                  "pooled": "Classification: one pooled gender head (2.3-2.4)",
                  "six_class": "Classification: six-class gender x ethnicity head (2.5)",
                  "mixtures": "Classification: gender heads on biased mixtures (2.6)",
                  "diagnostics": "Diagnostics: t-SNE and demographic probe (1.3)"}
        for key, title in titles.items():
            part = study.get(key)
            if part is None:
                continue
            text = part.summary()
            print(f"{title}\n{text}\n")
            lines += [title, text, ""]
            part.to_json(out / f"{key}.json")
            report_results[title] = part
    write_text_atomic(out / "summary.txt", "\n".join(lines))
    from fairaudit.reporting import report

    html = report(report_results, out / "report.html", title="fairaudit demo: synthetic 'diveface' population",
                  population=es, json_path=out / "report.json")
    print(f"Done in {time.perf_counter() - start:.1f} s.")
    print(f"JSON, text summary and plots written to {out}")
    print(f"Summary: {out / 'summary.txt'}")
    print(f"Report: {html}")
    return 0
