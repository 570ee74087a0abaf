"""The ``fairaudit`` command line.

Bad input ends with a one-line error that names the problem and the fix, and
exit code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from fairaudit import __version__
from fairaudit.common.errors import FairauditInputError

EXIT_BAD_INPUT = 2

DATA_MISSING = "DATA file {path!r} does not exist. Fix: check the path of the data argument."
DATA_IS_DIR = (
    "DATA {path!r} is a directory; expected a file (an EmbeddingSet .npz/.parquet, a .npy with --labels, "
    "or a score file). Fix: pass the file itself."
)
LABELS_EMPTY_CELLS = (
    "{option}: {path!r} has {count} empty cell(s) in column {column!r} (lines {lines}); an empty label "
    "would become a group named ''. Fix: fill them in, or drop those rows from the data and the labels alike."
)

#: default sizes of the demo's synthetic population (per group)
DEMO_IDENTITIES = 200
DEMO_SAMPLES = 5


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in fairaudit's one-line style."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"fairaudit: error: {message}. Fix: see '{self.prog} --help'.\n")


# --------------------------------------------------------------------------
# loading data
# --------------------------------------------------------------------------
def load_data(path: str, *, fmt: str | None = None, identity_attributes: str | None = None,
              labels: str | None = None, out_of_core: bool = False):
    """An EmbeddingSet (``.npz``/``.parquet`` written by fairaudit, or ``.npy`` with a labels CSV) or a
    ScoreSet (score files)."""
    from fairaudit.data import EmbeddingSet

    p = Path(path)
    if not p.exists():
        raise FairauditInputError(DATA_MISSING.format(path=path))
    if p.is_dir():
        raise FairauditInputError(DATA_IS_DIR.format(path=path))
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return _npy_with_labels(p, labels)
    if labels is not None:
        raise FairauditInputError(
            f"--labels is for a .npy of embeddings; DATA {path!r} carries its own labels. Fix: drop --labels."
        )
    if fmt in (None, "embeddings") and suffix == ".npz":
        return EmbeddingSet.load(p, out_of_core=out_of_core)
    if fmt in (None, "embeddings") and suffix == ".parquet":
        from fairaudit.data import parquet_has_embeddings

        if parquet_has_embeddings(p):
            return EmbeddingSet.load(p, out_of_core=out_of_core)
    from fairaudit.data import ScoreSet

    attrs = None
    if identity_attributes is not None:
        import pandas as pd

        if not Path(identity_attributes).is_file():
            raise FairauditInputError(
                f"--identity-attributes: file {identity_attributes!r} does not exist. Fix: check the path.")
        attrs = _read_labels_csv(identity_attributes, "--identity-attributes")
        if "identity" not in attrs.columns:
            raise FairauditInputError(
                f"--identity-attributes: {identity_attributes!r} has no 'identity' column (columns: "
                f"{list(attrs.columns)}). Fix: add a column named identity."
            )
        attrs = attrs.set_index("identity")
    return ScoreSet.read(p, format=None if fmt in (None, "scores") else fmt, identity_attributes=attrs)


def _npy_with_labels(path: Path, labels: str | None):
    """Embeddings memory-mapped from a .npy; identity and attributes from a CSV, row for row."""
    import pandas as pd

    from fairaudit.data import EmbeddingSet

    if labels is None:
        raise FairauditInputError(
            f"DATA {str(path)!r} is a .npy of embeddings without labels. Fix: add --labels labels.csv, a CSV "
            "with an 'identity' column and one column per attribute, one row per embedding row."
        )
    if not Path(labels).is_file():
        raise FairauditInputError(f"--labels: file {labels!r} does not exist. Fix: check the path.")
    table = _read_labels_csv(labels, "--labels")
    if "identity" not in table.columns:
        raise FairauditInputError(
            f"--labels: {labels!r} has no 'identity' column (columns: {list(table.columns)}). Fix: add a "
            "column named identity."
        )
    attrs = table.drop(columns=[c for c in ("identity", "path") if c in table.columns])
    return EmbeddingSet.from_npy(path, identity=table["identity"].to_numpy(),
                                 attributes=attrs if attrs.shape[1] else None,
                                 path=table["path"].to_numpy() if "path" in table.columns else None)


def _read_labels_csv(path: str, option: str):
    """A labels CSV with every cell as text; an empty cell is refused (never a group named '')."""
    import pandas as pd

    try:
        # keep_default_na=False: "NA" or "None" are labels (e.g. North America), not gaps
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        from fairaudit.data import utf8_error

        raise FairauditInputError(f"{option}: {utf8_error(Path(path))}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FairauditInputError(
            f"{option}: {path!r} is not a readable CSV table ({str(exc).strip().splitlines()[0]}). Fix: write "
            "one header line and one comma-separated row per sample.") from None
    for column in table.columns:
        empty = table[column].str.strip() == ""
        if empty.any():
            lines = (empty.to_numpy().nonzero()[0][:5] + 2).tolist()  # + header line, 1-based
            raise FairauditInputError(LABELS_EMPTY_CELLS.format(
                option=option, path=path, count=int(empty.sum()), column=column, lines=lines))
    return table


def _seed(text: str) -> int:
    """argparse type of --seed: an integer >= 0 (numpy's seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; seeds are integers >= 0")
    return value


def _threshold_from_args(args: argparse.Namespace) -> Any:
    if args.threshold is not None:
        return args.threshold
    if args.fmr is not None:
        return {"fmr": args.fmr}
    return "eer"


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------
def cmd_verify(args: argparse.Namespace) -> int:
    from fairaudit.common.files import check_output, save_outputs
    from fairaudit.verification import verification_audit

    # outputs are checked before the work, so that a long audit is never computed for nothing
    if args.json:
        check_output(args.json, name="--json")
    if args.plots:
        check_output(args.plots, name="--plots", directory=True)
    data = load_data(args.data, fmt=args.format, identity_attributes=args.identity_attributes,
                     labels=args.labels, out_of_core=args.out_of_core)
    pairs = None
    if args.pairs:
        import pandas as pd

        if not Path(args.pairs).exists():
            raise FairauditInputError(f"--pairs: file {args.pairs!r} does not exist. Fix: check the path.")
        pairs = pd.read_csv(args.pairs)
    result = verification_audit(
        data, by=args.by, threshold=_threshold_from_args(args), alpha=args.alpha,
        n_boot=args.n_boot, random_state=args.seed, progress=None, pairs=pairs,
        scheduler=args.scheduler, workers=args.workers, scratch_dir=args.scratch_dir,
    )
    print(result.summary())
    outputs = []
    if args.json:
        outputs.append(("--json", args.json, lambda p: result.to_json(p)))
    if args.plots:
        from fairaudit.verification import plots as plot

        outputs.append(("--plots", args.plots, lambda p: plot.save_all(result, p)))
    written = save_outputs(outputs)
    if args.json:
        print(f"\nJSON written to {written[0]}")
    if args.plots:
        print(f"Plots written to {written[-1]}")
    return 0


def _load_embeddings(path: str):
    """An EmbeddingSet file, refusing score files (classification and diagnostics need embeddings)."""
    from fairaudit.data import EmbeddingSet

    data = load_data(path)
    if not isinstance(data, EmbeddingSet):
        raise FairauditInputError(
            f"DATA: {path!r} holds scores, not embeddings; this command works on embeddings. Fix: pass an "
            "EmbeddingSet file (.npz or .parquet)."
        )
    return data


def cmd_classify(args: argparse.Namespace) -> int:
    from fairaudit.classification import classification_audit

    from fairaudit.common.files import check_output, save_outputs

    if args.json:
        check_output(args.json, name="--json")
    data = _load_embeddings(args.data)
    target = args.target[0] if len(args.target) == 1 else args.target
    result = classification_audit(data, target=target, by=args.by, head=args.head, split=args.split,
                                  size=args.size, n_seeds=args.seeds, test_size=args.test_size,
                                  random_state=args.seed)
    print(result.summary())
    if args.json:
        written = save_outputs([("--json", args.json, lambda p: result.to_json(p))])
        print(f"\nJSON written to {written[0]}")
    return 0


def cmd_diagnose(args: argparse.Namespace) -> int:
    from fairaudit.diagnostics import embedding_diagnostics
    from fairaudit.common.files import check_output, save_outputs

    check_output(args.out, name="--out", directory=True)
    data = _load_embeddings(args.data)
    result = embedding_diagnostics(data, by=args.by, method=args.method, n_samples=args.n_samples,
                                   random_state=args.seed)
    print(result.summary())

    def write(folder: Path) -> None:
        import matplotlib.pyplot as plt

        from fairaudit.common.figures import safe_filename

        folder.mkdir(parents=True, exist_ok=True)
        result.to_json(folder / "diagnostics.json")
        for column in [c for c in result.color_columns if c != "identity"]:
            ax = result.plot(column)
            try:
                ax.figure.savefig(folder / f"embedding_{safe_filename(column)}.png", dpi=120)
            finally:
                plt.close(ax.figure)

    written = save_outputs([("--out", args.out, write)])
    print(f"JSON and plots written to {written[0]}")
    return 0


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


def cmd_plugins(args: argparse.Namespace) -> int:
    import json

    from fairaudit.plugins import plugin_info
    from fairaudit.common.text import table

    info = plugin_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = []
    for p in info:
        registers = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in p["registers"].items()) or "-"
        rows.append([p["name"], p["distribution"] or "-", p["version"] or "-", ", ".join(p["hooks"]), registers])
    print(table(rows, ["plugin", "distribution", "version", "hooks", "registers"]))
    return 0


# --------------------------------------------------------------------------
def build_parser(*, plugin_commands: bool = True) -> argparse.ArgumentParser:
    """The ``fairaudit`` argument parser; ``plugin_commands=False`` leaves out plugins' commands."""
    parser = _Parser(prog="fairaudit", description="Audit face biometrics for demographic bias.")
    parser.add_argument("--version", action="version", version=f"fairaudit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    v = sub.add_parser("verify", help="per-group FMR/FNMR at one threshold, EER, fairness figures",
                       description="Verification audit of an EmbeddingSet (.npz/.parquet) or a score file.")
    v.add_argument("data", metavar="DATA",
                   help="EmbeddingSet (.npz, .parquet), embeddings .npy (with --labels) or score file (bob CSV, "
                        "4/5-column)")
    v.add_argument("--by", action="append", required=True, metavar="ATTR",
                   help="attribute defining the groups; repeat for intersections")
    thr = v.add_mutually_exclusive_group()
    thr.add_argument("--threshold", type=float, metavar="X", help="fixed threshold (accept when score >= X)")
    thr.add_argument("--eer", action="store_true", help="the pooled EER threshold (default)")
    thr.add_argument("--fmr", type=float, metavar="TARGET", help="threshold where the pooled FMR is TARGET, e.g. 1e-3")
    v.add_argument("--alpha", type=float, default=0.5, help="FMR weight in FDR, GARBE, inequity (default 0.5)")
    v.add_argument("--n-boot", type=int, default=1000, metavar="K", help="identity bootstrap replicates (0 = none)")
    v.add_argument("--seed", type=_seed, default=0, help="random_state of the bootstrap")
    v.add_argument("--json", metavar="OUT", help="write the full result as JSON")
    v.add_argument("--plots", metavar="DIR", help="write PNG plots to DIR")
    v.add_argument("--format", choices=["embeddings", "scores", "bob-csv", "bob-4col", "bob-5col"],
                   help="force the input format (default: from the file)")
    v.add_argument("--pairs", metavar="CSV",
                   help="compare only these pairs (columns index_a,index_b or path_a,path_b[,genuine]), e.g. RFW's")
    v.add_argument("--identity-attributes", metavar="CSV",
                   help="CSV with an 'identity' column and one column per attribute (for 4/5-column score files)")
    v.add_argument("--labels", metavar="CSV",
                   help="for a .npy DATA (memory-mapped): identity and attribute columns, one row per embedding")
    v.add_argument("--out-of-core", action="store_true",
                   help="read a .parquet DATA one row group at a time instead of whole")
    v.add_argument("--scheduler", metavar="ADDR",
                   help="run the engine on Dask: a scheduler address (tcp://host:8786), 'processes' or 'threads'")
    v.add_argument("--workers", type=int, metavar="K", help="run the engine on a local Dask cluster of K processes")
    v.add_argument("--scratch-dir", metavar="DIR",
                   help="where the sorted embeddings file goes (Dask workers must all read it; default: tmp)")
    v.set_defaults(func=cmd_verify)

    c = sub.add_parser("classify", help="train attribute heads on demographic splits, score them per group",
                       description="Classification audit: heads trained on demographic splits, all scored on "
                                   "one identity-disjoint held-out test set per seed.")
    c.add_argument("data", metavar="DATA", help="EmbeddingSet (.npz, .parquet)")
    c.add_argument("--target", action="append", required=True, metavar="ATTR",
                   help="attribute to predict; repeat to combine (gender x ethnicity)")
    c.add_argument("--by", required=True, metavar="ATTR", help="group attribute (sensitive feature)")
    c.add_argument("--split", default="per-group", metavar="SPEC",
                   help="per-group | pooled | leave-one-group-out | mixture:B=0.6,A=0.3,N=0.1 (';' joins several)")
    c.add_argument("--size", type=int, metavar="N", help="training size of mixtures")
    c.add_argument("--head", default="logistic", metavar="NAME", help="logistic | mlp | a plugin's head")
    c.add_argument("--seeds", type=int, default=3, metavar="K", help="repetitions over seeds (default 3)")
    c.add_argument("--test-size", type=float, default=0.33, help="held-out fraction of identities (default 0.33)")
    c.add_argument("--seed", type=_seed, default=0, help="random_state")
    c.add_argument("--json", metavar="OUT", help="write the full result as JSON")
    c.set_defaults(func=cmd_classify)

    g = sub.add_parser("diagnose", help="t-SNE/PCA of the embeddings by group and a demographic probe",
                       description="Embedding diagnostics: 2-D map coloured by each attribute and a probe of "
                                   "how well each attribute can be predicted from the embedding.")
    g.add_argument("data", metavar="DATA", help="EmbeddingSet (.npz, .parquet)")
    g.add_argument("--by", action="append", required=True, metavar="ATTR", help="attribute; repeat")
    g.add_argument("--out", required=True, metavar="DIR", help="output directory")
    g.add_argument("--method", default="tsne", choices=["tsne", "pca"])
    g.add_argument("--n-samples", type=int, metavar="N", help="stratified subsample for the map")
    g.add_argument("--seed", type=_seed, default=0, help="random_state")
    g.set_defaults(func=cmd_diagnose)

    s = sub.add_parser("synth", help="write a synthetic population with planted biases",
                       description="Write a seeded synthetic population with planted, documented biases.")
    s.add_argument("--preset", default="diveface", help="preset name (default diveface)")
    s.add_argument("--out", required=True, help="output file (.npz or .parquet)")
    s.add_argument("--n-identities", type=int, default=100, help="identities per group")
    s.add_argument("--samples", type=int, default=5, help="samples per identity")
    s.add_argument("--dim", type=int, default=128, help="embedding dimension")
    s.add_argument("--seed", type=_seed, default=0, help="random_state")
    s.set_defaults(func=cmd_synth)

    d = sub.add_parser("demo", help="run the audits on the built-in synthetic population",
                       description="Run fairaudit end to end on the built-in synthetic 'diveface' population.")
    d.add_argument("--out", default="fairaudit-demo", help="output directory (default ./fairaudit-demo)")
    d.add_argument("--n-identities", type=int, default=DEMO_IDENTITIES, help="identities per group")
    d.add_argument("--dim", type=int, default=128, help="embedding dimension")
    d.add_argument("--n-boot", type=int, default=300, help="identity bootstrap replicates")
    d.add_argument("--seed", type=_seed, default=0, help="random_state")
    d.add_argument("--seeds", type=int, default=3, help="classification repetitions over seeds")
    d.add_argument("--no-classification", action="store_true", help="skip the classification protocol")
    d.set_defaults(func=cmd_demo)

    from fairaudit.reporting import cmd_report

    r = sub.add_parser("report", help="write the HTML fairness report of result JSON files",
                       description="Build one self-contained HTML report from result JSON files (written by "
                                   "result.to_json() or 'fairaudit verify --json'), or from the report data "
                                   "JSON of an earlier report.")
    r.add_argument("results", nargs="+", metavar="RESULT.json", help="result JSON file(s)")
    r.add_argument("--out", required=True, metavar="HTML", help="the report file to write")
    r.add_argument("--title", help="title of the report (default 'fairaudit report')")
    r.add_argument("--tolerances", metavar="FILE.json",
                   help='pass/review bands, e.g. {"fnmr_max_min": {"pass": 1.1, "review": 1.5}}')
    r.add_argument("--json", metavar="OUT", help="also write the report data as JSON")
    r.set_defaults(func=cmd_report)

    from fairaudit.images import extraction

    c = sub.add_parser("compare", help="compare the faces of two photos: cosine score and decision",
                       description="Compare the faces of two image files (the reference study's task 1.0).")
    c.add_argument("image1", metavar="IMG1", help="first image file")
    c.add_argument("image2", metavar="IMG2", help="second image file")
    c.add_argument("--extractor", default="dlib-resnet", metavar="NAME",
                   help="registered extractor (default dlib-resnet; see 'fairaudit plugins')")
    c.add_argument("--threshold", type=float, metavar="T",
                   help="same person when score >= T (default: the extractor's; 0.91 for dlib-resnet)")
    extraction.add_image_options(c)
    c.set_defaults(func=extraction.cmd_compare)

    x = sub.add_parser("extract", help="embed the faces of a dataset into an EmbeddingSet file",
                       description="Detect, align and embed every image of a dataset; failures are kept "
                                   "with their reason and reported per group (failure to acquire).")
    x.add_argument("--dataset", metavar="NAME", help="registered dataset loader (folder, csv, rfw, ...)")
    x.add_argument("--root", metavar="DIR", help="where the dataset lives (with --dataset)")
    x.add_argument("--manifest", metavar="CSV", help="a manifest CSV (path, identity, attributes) instead of --dataset")
    x.add_argument("--extractor", default="dlib-resnet", metavar="NAME", help="registered extractor (default dlib-resnet)")
    x.add_argument("--out", required=True, metavar="FILE", help="output EmbeddingSet (.npz or .parquet)")
    x.add_argument("--cache", metavar="DIR", help="cache directory: reruns and killed runs resume from it")
    x.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per batch and cache shard (default 32)")
    x.add_argument("--scheduler", metavar="ADDR",
                   help="partition the images over Dask workers: a scheduler address, 'processes' or 'threads'")
    x.add_argument("--workers", type=int, metavar="K", help="partition the images over a local Dask cluster of K processes")
    extraction.add_image_options(x)
    x.set_defaults(func=extraction.cmd_extract)

    pl = sub.add_parser("plugins", help="list installed plugins and what each registers",
                        description="List installed plugins, their versions, the hooks they implement and "
                                    "the extractors, heads, splits and datasets they register.")
    pl.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pl.set_defaults(func=cmd_plugins)

    # plugins add their own commands (e.g. 'fairaudit study diveface')
    if plugin_commands:
        from fairaudit.plugins import plugin_manager

        plugin_manager().hook.register_commands(subparsers=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return code
    except FairauditInputError as exc:
        print(f"fairaudit: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("fairaudit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error of ours
        # as the Python docs advise: point stdout at devnull so the flush at exit cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
