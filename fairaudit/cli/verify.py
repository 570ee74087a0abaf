"""``fairaudit verify``: the verification audit of an EmbeddingSet or a score file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fairaudit.cli.loading import load_data
from fairaudit.common.errors import FairauditInputError


def _threshold_from_args(args: argparse.Namespace) -> Any:
    group = getattr(args, "reference_group", None)
    if group is not None and args.fmr is None:
        raise FairauditInputError(
            f"--reference-group {group!r} needs an FMR target: the threshold meets it on that group. "
            "Fix: add --fmr TARGET (e.g. --fmr 1e-3 --reference-group 'M & B').")
    if args.threshold is not None:
        return args.threshold
    if getattr(args, "threshold_from", None):
        return Path(args.threshold_from)
    if args.fmr is not None:
        return {"fmr": args.fmr} if group is None else {"fmr": args.fmr, "group": group}
    return "eer"


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
        n_perm=args.n_perm, min_identities=args.min_identities, scheduler=args.scheduler, workers=args.workers, scratch_dir=args.scratch_dir,
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
