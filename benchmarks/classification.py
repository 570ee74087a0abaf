"""Benchmark: the reference study's classification protocol on 4,500 x 2,048-d embeddings.

The population is synthetic (``fairaudit.synthetic``, preset ``diveface``):
6 groups (gender H/M x ethnicity A/B/N) of 750 identities with one embedding
each, as in the study. The protocol (:func:`fairaudit.classification.run_study_protocol`)
runs, over 3 seeds that share one identity-disjoint test set per seed:

* per-ethnicity gender heads, cross-evaluated on every ethnicity (tasks 2.1-2.2);
* one pooled gender head, balanced over ethnicities (2.3-2.4);
* the six-class gender x ethnicity head (2.5);
* the biased mixtures 60/30/10 (B/A/N) and 80/20/0 (N/A/B) (2.6);
* t-SNE and the demographic probe on 350 samples per group (1.2-1.3).

Usage::

    python benchmarks/classification.py                      # logistic head
    python benchmarks/classification.py --heads logistic,mlp # also the study's Keras MLP

The target is under 2 minutes with the logistic head on a 2-core machine.
The ``mlp`` head needs ``pip install 'fairaudit[tensorflow]'``; it is skipped
with a message when TensorFlow is missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heads", default="logistic",
                        help="comma-separated heads to time: logistic, mlp (default: logistic)")
    parser.add_argument("--n-seeds", type=int, default=3)
    parser.add_argument("--per-group", type=int, default=750, help="identities per group (default 750)")
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--no-diagnostics", action="store_true", help="skip t-SNE and the probe")
    parser.add_argument("--json", metavar="PATH", help="also write the timings and tables as JSON")
    parser.add_argument("--quiet", action="store_true", help="print timings only, not the tables")
    parser.add_argument("--progress", action="store_true", help="show progress bars even when not on a terminal")
    parser.add_argument("--mlp-epochs", type=int, default=20, help="epochs of the mlp head (study: 20)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    heads = [h.strip() for h in args.heads.split(",") if h.strip()]
    unknown = sorted(set(heads) - {"logistic", "mlp"})
    if unknown:
        print(f"unknown head(s) {unknown}; use logistic and/or mlp", file=sys.stderr)
        return 2

    from fairaudit import synthetic
    from fairaudit.classification.audit import run_study_protocol
    from fairaudit.common.provenance import blas_info

    t0 = time.perf_counter()
    data = synthetic.population("diveface", n_identities=args.per_group, samples_per_identity=1,
                                dim=args.dim, random_state=args.random_state)
    t_data = time.perf_counter() - t0
    print(f"data: {data!r} generated in {t_data:.1f} s")
    print(f"python {platform.python_version()}, BLAS {[b.get('internal_api') for b in blas_info()]}")

    report: dict[str, object] = {"data_s": round(t_data, 2), "heads": {}}
    for head in heads:
        if head == "mlp" and importlib.util.find_spec("tensorflow") is None:
            print("\nhead mlp: skipped (TensorFlow not installed: pip install 'fairaudit[tensorflow]')")
            continue
        print(f"\n=== head {head} ===", flush=True)
        start = time.perf_counter()
        estimator = head
        if head == "mlp":
            from fairaudit.classification.heads import KerasMLPClassifier

            estimator = KerasMLPClassifier(epochs=args.mlp_epochs)
        out = run_study_protocol(data, head=estimator, n_seeds=args.n_seeds, random_state=args.random_state,
                                 diagnostics=not args.no_diagnostics, progress=True if args.progress else None)
        total = time.perf_counter() - start
        timings = out["timings"]
        for part, seconds in timings.items():
            print(f"  {part:<12} {seconds:8.1f} s")
        print(f"  {'total':<12} {total:8.1f} s  (mixture size {out['mixture_size']})", flush=True)
        entry: dict[str, object] = {"total_s": round(total, 2), "timings": timings,
                                    "epochs": args.mlp_epochs if head == "mlp" else None,
                                    "mixture_size": out["mixture_size"], "tables": {}}
        for part in ("per_group", "pooled", "six_class", "mixtures"):
            table = out[part].cross_table()
            entry["tables"][part] = json.loads(table.to_json(orient="split"))
            if not args.quiet:
                print(f"\n  {part}: accuracy, model x test group (mean of {args.n_seeds} seeds)")
                print("  " + table.round(4).to_string().replace("\n", "\n  "))
        if out.get("diagnostics") is not None and not args.quiet:
            print("\n  " + out["diagnostics"].summary().replace("\n", "\n  "))
        report["heads"][head] = entry
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
