"""The ``fairaudit`` argument parser: usage errors in fairaudit's one-line style (``_Parser``),
argument types (``_seed``) and ``build_parser`` with every built-in command and the commands of
plugins (the ``register_commands`` hook)."""

from __future__ import annotations

import argparse

from fairaudit import __version__
from fairaudit.cli.classify import cmd_classify, cmd_diagnose
from fairaudit.cli.demo import DEMO_IDENTITIES, cmd_demo, cmd_synth
from fairaudit.cli.compare import add_compare_parser
from fairaudit.cli.identify import add_identify_parser
from fairaudit.cli.plugins import cmd_plugins
from fairaudit.cli.report import cmd_report
from fairaudit.cli.verify import cmd_verify

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in fairaudit's one-line style."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"fairaudit: error: {message}. Fix: see '{self.prog} --help'.\n")


def _seed(text: str) -> int:
    """argparse type of --seed: an integer >= 0 (numpy's seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; seeds are integers >= 0")
    return value


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
    v.add_argument("--by", action="append", metavar="ATTR",
                   help="attribute defining the groups; repeat for intersections; without it, a pooled-only "
                        "audit (no group)")
    thr = v.add_mutually_exclusive_group()
    thr.add_argument("--threshold", type=float, metavar="X", help="fixed threshold (accept when score >= X)")
    thr.add_argument("--eer", action="store_true", help="the pooled EER threshold (default)")
    thr.add_argument("--fmr", type=float, metavar="TARGET", help="threshold where the pooled FMR is TARGET, e.g. 1e-3")
    thr.add_argument("--threshold-from", metavar="JSON",
                     help="apply the threshold of a previous audit (its --json file, e.g. of a development set)")
    v.add_argument("--reference-group", metavar="GROUP",
                   help="with --fmr: meet the FMR target on this group (e.g. 'M & B'), judge every group at it")
    v.add_argument("--alpha", type=float, default=0.5, help="FMR weight in FDR, GARBE, inequity (default 0.5)")
    v.add_argument("--n-boot", type=int, default=1000, metavar="K", help="identity bootstrap replicates (0 = none)")
    v.add_argument("--n-perm", type=int, default=1000, metavar="K",
                   help="identity permutations per group comparison for its p-value (0 = none)")
    v.add_argument("--min-identities", type=int, default=30, metavar="N",
                   help="flag groups with fewer identities; they get Clopper-Pearson intervals (default 30)")
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

    add_identify_parser(sub, _seed)
    add_compare_parser(sub, _seed)

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

    from fairaudit.cli.images import add_image_options, add_quality_options, cmd_compare, cmd_extract

    c = sub.add_parser("compare", help="compare the faces of two photos: cosine score and decision",
                       description="Compare the faces of two image files (the reference study's task 1.0).")
    c.add_argument("image1", metavar="IMG1", help="first image file")
    c.add_argument("image2", metavar="IMG2", help="second image file")
    c.add_argument("--extractor", default="dlib-resnet", metavar="NAME",
                   help="registered extractor (default dlib-resnet; see 'fairaudit plugins')")
    c.add_argument("--threshold", type=float, metavar="T",
                   help="same person when score >= T (default: the extractor's; 0.91 for dlib-resnet)")
    add_image_options(c)
    c.set_defaults(func=cmd_compare)

    x = sub.add_parser("extract", help="embed the faces of a dataset into an EmbeddingSet file",
                       description="Detect, align and embed every image of a dataset; failures are kept "
                                   "with their reason and reported per group (failure to acquire).")
    x.add_argument("--dataset", metavar="NAME", help="registered dataset loader (folder, csv, rfw, ...)")
    x.add_argument("--root", metavar="DIR", help="where the dataset lives (with --dataset)")
    x.add_argument("--manifest", metavar="CSV", help="a manifest CSV (path, identity, attributes) instead of --dataset")
    x.add_argument("--extractor", action="append", metavar="NAME",
                   help="registered extractor (default dlib-resnet); repeat to run several in one pass over the "
                        "images into aligned sets, one file each")
    x.add_argument("--out", required=True, metavar="FILE",
                   help="output EmbeddingSet (.npz or .parquet); with several extractors, one file per extractor "
                        "next to it: pop.npz -> pop.NAME.npz")
    x.add_argument("--cache", metavar="DIR", help="cache directory: reruns and killed runs resume from it")
    x.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per batch and cache shard (default 32)")
    x.add_argument("--scheduler", metavar="ADDR",
                   help="partition the images over Dask workers: a scheduler address, 'processes' or 'threads'")
    x.add_argument("--workers", type=int, metavar="K", help="partition the images over a local Dask cluster of K processes")
    add_image_options(x)
    add_quality_options(x)
    x.set_defaults(func=cmd_extract)

    pl = sub.add_parser("plugins", help="list installed plugins and what each registers",
                        description="List installed plugins, their versions, the hooks they implement and "
                                    "the extractors, heads, splits and datasets they register.")
    pl.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pl.set_defaults(func=cmd_plugins)

    from fairaudit.cli.plan import add_plan_parser

    add_plan_parser(sub, _seed)

    from fairaudit.cli.covariates import add_covariates_parser

    add_covariates_parser(sub, _seed)

    # plugins add their own commands (e.g. 'fairaudit study diveface')
    if plugin_commands:
        from fairaudit.plugins import plugin_manager

        plugin_manager().hook.register_commands(subparsers=sub)
    return parser
