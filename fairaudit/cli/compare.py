"""``fairaudit compare-systems`` (also ``fairaudit compare DATA DATA --by ...``: ``compare`` of two
photos takes no ``--by``, so the two never meet): several systems of the same samples (EmbeddingSet files of other extractors)
or of the same comparisons (score files of other matchers) audited side by side."""

from __future__ import annotations

import argparse
from typing import Any

from fairaudit.common.errors import FairauditInputError

NAMES_MISMATCH = (
    "compare got {n_data} DATA file(s) and {n_names} --name option(s): give one name per file, in the same "
    "order, or none (the names are then the files' stems). Fix: e.g. 'fairaudit compare a.npz b.npz --name "
    "dlib --name pixels --by ethnicity'."
)
DUPLICATE_NAMES = (
    "compare: the system names {names} are not distinct. Fix: name each file with --name NAME."
)


def add_compare_parser(sub: argparse._SubParsersAction, seed_type: Any) -> None:
    """Add ``compare`` to the ``fairaudit`` subcommands."""
    p = sub.add_parser(
        "compare-systems", help="several systems side by side: per-group rates, paired differences, a leaderboard",
        description="Also 'fairaudit compare DATA DATA --by ATTR'. Audit two or more systems of the same samples (EmbeddingSets from other extractors) or "
                    "the same comparisons (score files from other matchers), each at its own threshold from one "
                    "policy, with paired differences from one shared identity bootstrap.")
    p.add_argument("data", nargs="+", metavar="DATA", help="one file per system (.npz, .parquet, score files)")
    p.add_argument("--name", action="append", metavar="NAME", help="the systems' names, one per DATA, in order")
    p.add_argument("--by", action="append", required=True, metavar="ATTR",
                   help="attribute defining the groups; repeat for intersections")
    thr = p.add_mutually_exclusive_group()
    thr.add_argument("--fmr", type=float, metavar="TARGET",
                     help="each system at its own threshold where its pooled FMR is TARGET (default 1e-3)")
    thr.add_argument("--eer", action="store_true", help="each system at its own pooled EER threshold")
    thr.add_argument("--threshold", type=float, metavar="X", help="one fixed threshold for every system")
    p.add_argument("--reference-group", metavar="GROUP", help="with --fmr: meet the target on this group")
    p.add_argument("--figure", default="fnmr_max_min", metavar="NAME",
                   help="fairness figure of the leaderboard and the accuracy-fairness plane (default fnmr_max_min)")
    p.add_argument("--alpha", type=float, default=0.5, help="FMR weight in FDR, GARBE, inequity (default 0.5)")
    p.add_argument("--n-boot", type=int, default=1000, metavar="K", help="shared identity bootstrap replicates")
    p.add_argument("--seed", type=seed_type, default=0, help="random_state of the bootstrap")
    p.add_argument("--json", metavar="OUT", help="write the comparison as JSON")
    p.add_argument("--plots", metavar="DIR", help="write the comparison's PNG plots to DIR")
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML report of the comparison")
    p.add_argument("--format", choices=["embeddings", "scores", "bob-csv", "bob-4col", "bob-5col"],
                   help="force the input format of every DATA (default: from each file)")
    p.add_argument("--identity-attributes", metavar="CSV",
                   help="CSV with an 'identity' column and one column per attribute (for 4/5-column score files)")
    p.set_defaults(func=cmd_compare)


def _threshold(args: argparse.Namespace) -> Any:
    if args.reference_group is not None and args.fmr is None:
        raise FairauditInputError(
            f"--reference-group {args.reference_group!r} needs an FMR target: each system's threshold meets it "
            "on that group. Fix: add --fmr TARGET (e.g. --fmr 1e-3).")
    if args.threshold is not None:
        return args.threshold
    if args.eer:
        return "eer"
    target = 1e-3 if args.fmr is None else args.fmr
    return {"fmr": target} if args.reference_group is None else {"fmr": target, "group": args.reference_group}


def cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fairaudit.cli.loading import load_data
    from fairaudit.cli.outputs import check_result_outputs, write_result_outputs
    from fairaudit.systems import compare_systems, plots

    names = args.name or [Path(d).stem for d in args.data]
    if len(names) != len(args.data):
        raise FairauditInputError(NAMES_MISMATCH.format(n_data=len(args.data), n_names=len(names)))
    if len(set(names)) != len(names):
        raise FairauditInputError(DUPLICATE_NAMES.format(names=names))
    threshold = _threshold(args)
    check_result_outputs(args)
    systems = {name: load_data(path, fmt=args.format, identity_attributes=args.identity_attributes)
               for name, path in zip(names, args.data)}
    result = compare_systems(systems, by=args.by, threshold=threshold, figure=args.figure, alpha=args.alpha,
                             n_boot=args.n_boot, random_state=args.seed)
    print(result.summary())
    write_result_outputs(result, args, plots.save_all)
    return 0
