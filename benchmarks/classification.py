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

With the ``mlp`` head the benchmark also times a **bare Keras baseline** in the
same run: for every model the protocol fitted (same rows, features and classes,
in the same order) a plain ``keras.Sequential`` of the same shapes is built,
compiled with ``Adam`` and fitted with ``model.fit`` for the same epochs and
batch size, and it prints ``ratio protocol / bare Keras`` (target <= 2.0). The
protocol side is the four classification audits (fitting, predicting the test
sets, metrics); the baseline only fits. ``--no-baseline`` skips it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import time

import numpy as np


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
    parser.add_argument("--no-baseline", action="store_true",
                        help="mlp head: skip the bare Keras baseline (model.fit of the same shapes)")
    return parser.parse_args(argv)


#: the classification audits of the protocol (the diagnostics train no head)
AUDITS = ("per_group", "pooled", "six_class", "mixtures")


def _fitted_shapes(out: dict, n_features: int) -> list[tuple[int, int, int]]:
    """(training rows, features, classes) of every model the protocol fitted, in fit order."""
    shapes = []
    for part in AUDITS:
        training = out[part].training
        for _, frame in training.groupby(["seed", "model"], sort=False):
            n_classes = frame.loc[frame.n_train > 0, "target"].nunique()
            shapes.append((int(frame.n_train.sum()), n_features, int(n_classes)))
    return shapes


def _warm_up_tensorflow() -> None:
    """Import TensorFlow and run one op, so neither timing pays the import and start-up."""
    import tensorflow as tf

    from fairaudit.classification.heads import _keras

    _keras()
    float(tf.reduce_sum(tf.ones((2, 2))))


def _bare_keras(shapes: list[tuple[int, int, int]], X: np.ndarray, *, hidden: int, epochs: int,
                batch_size: int, learning_rate: float, seed: int) -> float:
    """Seconds to build, compile and ``model.fit`` a fresh Sequential per shape, as a plain script would."""
    from fairaudit.classification.heads import _keras

    keras = _keras()
    rng = np.random.default_rng(seed)
    labels = [np.eye(k, dtype=np.float32)[rng.integers(0, k, n)] for n, _, k in shapes]
    start = time.perf_counter()
    for (n, d, k), onehot in zip(shapes, labels):
        model = keras.Sequential([
            keras.Input(shape=(d,)),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(k, activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                      loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit(X[:n], onehot, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    return time.perf_counter() - start


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
        estimator = head
        if head == "mlp":
            from fairaudit.classification.heads import KerasMLPClassifier

            _warm_up_tensorflow()
            estimator = KerasMLPClassifier(epochs=args.mlp_epochs)
        start = time.perf_counter()
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
        if head == "mlp" and not args.no_baseline:
            protocol_s = sum(timings[part] for part in AUDITS)
            shapes = _fitted_shapes(out, data.n_features)
            X = np.ascontiguousarray(data.embeddings, dtype=np.float32)
            bare_s = _bare_keras(shapes, X, hidden=estimator.hidden_units, epochs=estimator.epochs,
                                 batch_size=estimator.batch_size, learning_rate=estimator.learning_rate,
                                 seed=args.random_state)
            ratio = protocol_s / bare_s
            print(f"  bare Keras   {bare_s:8.1f} s  ({len(shapes)} fits: fresh keras.Sequential, "
                  f"Adam, model.fit, {estimator.epochs} epochs, batch {estimator.batch_size})")
            print(f"  protocol     {protocol_s:8.1f} s  ({' + '.join(AUDITS)})")
            print(f"  ratio protocol / bare Keras = {ratio:.2f} (target <= 2.0)", flush=True)
            entry["baseline"] = {"bare_keras_s": round(bare_s, 2), "protocol_s": round(protocol_s, 2),
                                 "ratio": round(ratio, 3), "fits": [list(s) for s in shapes]}
        for part in AUDITS:
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
