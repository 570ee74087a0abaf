"""``fairaudit plan``: identities per group needed to detect an FNMR or FMR ratio (``plan_sample_size``)."""

from __future__ import annotations

import argparse


def add_plan_parser(sub: argparse._SubParsersAction, seed_type: type | object) -> None:
    """Add ``plan`` to the ``fairaudit`` subcommands."""
    p = sub.add_parser("plan", help="how many identities per group to detect an FNMR/FMR ratio (simulation)",
                       description="Sample-size planning by simulation with the synthetic generator: the "
                                   "identities per group an audit needs to detect a ratio of FNMR or FMR "
                                   "between two groups with the requested power.")
    p.add_argument("--ratio", type=float, required=True, help="the ratio to detect, > 1 (e.g. 2)")
    p.add_argument("--metric", choices=["fnmr", "fmr"], default="fnmr", help="the rate compared (default fnmr)")
    p.add_argument("--fmr", type=float, default=1e-3, metavar="TARGET",
                   help="operating point: the reference group's FMR at the threshold (default 1e-3)")
    p.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--pilot", metavar="FILE",
                   help="calibrate on a pilot: a verification result .json or an EmbeddingSet .npz/.parquet")
    p.add_argument("--by", action="append", metavar="ATTR", help="group attribute of an EmbeddingSet pilot")
    p.add_argument("--reference", metavar="GROUP", help="the pilot's reference group (default: the largest)")
    p.add_argument("--samples", type=int, action="append", metavar="K",
                   help="samples per identity (default 5); repeat to compare designs")
    p.add_argument("--n-sim", type=int, default=200, metavar="N", help="simulated studies per design (default 200)")
    p.add_argument("--max-identities", type=int, default=2000, metavar="N",
                   help="largest number of identities per group tried (default 2000)")
    p.add_argument("--dim", type=int, metavar="D",
                   help="embedding dimension of the simulation (default: matched to the pilot's impostor spread, else 128)")
    p.add_argument("--max-calibration-samples", type=int, default=20000, metavar="N",
                   help="largest calibration population placing the threshold (default 20000; smaller FMR targets "
                        "need more)")
    p.add_argument("--seed", type=seed_type, default=0, help="random_state")
    p.add_argument("--json", metavar="OUT", help="write the plan as JSON")
    p.add_argument("--progress", action="store_true", help="print each design's power as it is simulated")
    p.set_defaults(func=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    from fairaudit.common.files import check_output, save_outputs
    from fairaudit.planning import plan_sample_size

    if args.json:
        check_output(args.json, name="--json")
    result = plan_sample_size(
        args.pilot, ratio=args.ratio, metric=args.metric, fmr=args.fmr, power=args.power, alpha=args.alpha,
        samples_per_identity=args.samples or 5, by=args.by, reference=args.reference, n_sim=args.n_sim,
        max_identities=args.max_identities, dim=args.dim,
        max_calibration_samples=args.max_calibration_samples, random_state=args.seed, progress=args.progress,
    )
    print(result.summary())
    if args.json:
        written = save_outputs([("--json", args.json, lambda p: result.to_json(p))])
        print(f"\nJSON written to {written[0]}")
    return 0
