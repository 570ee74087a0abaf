"""``fairaudit covariates``: FNMR and FMR by sample-level covariate (quality, age at capture, device,
...) within each group, FMR heatmaps over the two samples' bins, and whether a demographic gap
survives the covariates (regressions with identity-clustered errors)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fairaudit.common.errors import FairauditInputError

CSV_ROWS = ("--covariates-csv: {path!r} has {got} rows but DATA has {n} samples, and no 'path' column to match "
            "them by. Fix: one row per sample in DATA's order, or a 'path' column naming each sample's image.")
CSV_PATHS = ("--covariates-csv: {count} sample(s) of DATA have no row in {path!r} (e.g. {example!r}). Fix: give "
             "every sample a row (fairaudit drops no sample silently), or subset the data first.")
CSV_DUPLICATES = ("--covariates-csv: {path!r} lists the path {example!r} more than once. Fix: one row per sample.")
CSV_MIXED = ("--covariates-csv: column {column!r} of {path!r} holds numbers but {count} cell(s) are not "
             "numbers (e.g. {value!r} on line {line}). Fix: correct or fill those cells (fairaudit drops no "
             "sample), or declare the column --categorical {column}.")
BAD_BINS = ("--bins {value!r} must be NAME=EDGE,EDGE,... with increasing numbers. Fix: e.g. --bins "
            "age=0,18,30,50,70,120.")
BAD_KIND = "--categorical {value!r}: not a covariate of the data or the CSV ({available}). Fix: pick one of those."


def add_covariates_parser(sub: argparse._SubParsersAction, seed_type: Any) -> None:
    """Add ``covariates`` to the ``fairaudit`` subcommands."""
    p = sub.add_parser(
        "covariates", help="FNMR/FMR by covariate (quality, age, device) within groups; does a gap survive?",
        description="Audit verification errors by sample-level covariate within each group at one threshold: "
                    "rates per covariate bin with identity-bootstrap intervals, FNMR against each numeric "
                    "covariate, FMR heatmaps over the two samples' bins, and regressions of false non-matches "
                    "and false matches on the groups and the covariates (the gap before and after adjustment).")
    p.add_argument("data", metavar="DATA", help="an EmbeddingSet file (.npz/.parquet) with covariates (or any, "
                                                "with --covariates-csv), or a fairaudit score file (.csv/.parquet) "
                                                "with covariate:NAME_a/_b columns")
    p.add_argument("--by", action="append", required=True, metavar="ATTR",
                   help="attribute defining the groups; repeat for intersections")
    p.add_argument("--covariate", action="append", metavar="NAME",
                   help="covariate to audit by; repeat (default: every covariate)")
    p.add_argument("--covariates-csv", metavar="CSV",
                   help="per-sample covariates: one row per sample (in DATA's order, or matched by a 'path' column)")
    p.add_argument("--categorical", action="append", metavar="NAME",
                   help="treat this covariate of the CSV as categorical even if it holds numbers (e.g. device 1, 2, 3)")
    thr = p.add_mutually_exclusive_group()
    thr.add_argument("--fmr", type=float, metavar="TARGET", help="threshold where the pooled FMR is TARGET")
    thr.add_argument("--eer", action="store_true", help="the pooled EER threshold (the default)")
    thr.add_argument("--threshold", type=float, metavar="X", help="a fixed threshold")
    thr.add_argument("--threshold-from", metavar="JSON", help="the threshold of a previous verify --json result")
    p.add_argument("--n-bins", type=int, default=4, metavar="K", help="quantile bins per numeric covariate (default 4)")
    p.add_argument("--bins", action="append", metavar="NAME=EDGES",
                   help="edges for one numeric covariate, e.g. age=0,18,30,50,70,120; repeat")
    p.add_argument("--n-boot", type=int, default=1000, metavar="K", help="identity bootstrap replicates (0 = none)")
    p.add_argument("--seed", type=seed_type, default=0, help="random_state of the bootstrap")
    p.add_argument("--min-identities", type=int, default=30, metavar="K",
                   help="bins with fewer identities get Clopper-Pearson intervals (default 30)")
    p.add_argument("--no-regression", action="store_true", help="skip the regressions")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="run the passes over the pairs on Dask: a scheduler address, 'processes' or 'threads'")
    p.add_argument("--workers", type=int, metavar="K", help="run them on a local Dask cluster of K processes")
    p.add_argument("--scratch-dir", metavar="DIR",
                   help="where the sorted embeddings file goes (Dask workers must all read it; default: tmp)")
    p.add_argument("--json", metavar="OUT", help="write the result as JSON")
    p.add_argument("--plots", metavar="DIR", help="write the PNG figures to DIR")
    p.add_argument("--html", metavar="OUT", help="write a self-contained HTML report of the result")
    p.set_defaults(func=cmd_covariates)


def _bins(values: list[str] | None) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for value in values or []:
        name, sep, edges = value.partition("=")
        try:
            numbers = [float(x) for x in edges.split(",")]
        except ValueError:
            numbers = []
        if not sep or not name.strip() or len(numbers) < 2:
            raise FairauditInputError(BAD_BINS.format(value=value))
        out[name.strip()] = numbers
    return out


def _threshold(args: argparse.Namespace) -> Any:
    if args.threshold is not None:
        return args.threshold
    if args.fmr is not None:
        return {"fmr": args.fmr}
    if args.threshold_from:
        return Path(args.threshold_from)
    return "eer"


def read_covariates_csv(data: Any, path: str, categorical: list[str] | None):
    """``data`` with the covariates of the CSV at ``path`` added (see the ``--covariates-csv`` help)."""
    import pandas as pd

    from fairaudit.cli.loading import _read_labels_csv

    if not Path(path).is_file():
        raise FairauditInputError(f"--covariates-csv: file {path!r} does not exist. Fix: check the path.")
    table = _read_labels_csv(path, "--covariates-csv")
    if "path" in table.columns and data.path is not None:
        if table["path"].duplicated().any():
            raise FairauditInputError(CSV_DUPLICATES.format(path=path, example=table["path"][table["path"].duplicated()].iloc[0]))
        indexed = table.set_index("path")
        missing = ~pd.Index(data.path).isin(indexed.index)
        if missing.any():
            raise FairauditInputError(CSV_PATHS.format(count=int(missing.sum()), path=path,
                                                       example=str(data.path[missing.argmax()])))
        table = indexed.loc[data.path].reset_index(drop=True)
    elif len(table) != len(data):
        raise FairauditInputError(CSV_ROWS.format(path=path, got=len(table), n=len(data)))
    table = table.drop(columns=[c for c in ("path", "identity") if c in table.columns])
    kinds = {}
    for column in table.columns:
        if column in (categorical or []):
            kinds[column] = "categorical"
            continue
        converted = pd.to_numeric(table[column], errors="coerce")
        if converted.notna().all():
            table[column] = converted
        elif converted.notna().any():  # mostly numbers: a gap or a typo, not a categorical covariate
            bad = converted.isna().to_numpy().nonzero()[0]
            raise FairauditInputError(CSV_MIXED.format(path=path, column=column, count=bad.size,
                                                       value=table[column].iloc[bad[0]], line=int(bad[0]) + 2))
    for name in categorical or []:
        if name not in table.columns and name not in data.covariate_names:
            raise FairauditInputError(BAD_KIND.format(value=name, available=list(table.columns) + data.covariate_names))
    return data.with_covariates(table, kinds=kinds)


def cmd_covariates(args: argparse.Namespace) -> int:
    from fairaudit.cli.loading import load_data
    from fairaudit.cli.outputs import check_result_outputs, write_result_outputs
    from fairaudit.covariates import covariate_audit, plots
    from fairaudit.data import EmbeddingSet

    check_result_outputs(args)
    bins = _bins(args.bins)
    data = load_data(args.data)
    if args.covariates_csv and not isinstance(data, EmbeddingSet):
        raise FairauditInputError(
            f"--covariates-csv adds per-sample covariates to an EmbeddingSet; DATA {args.data!r} holds scores, "
            "whose covariates are per side. Fix: put them in the score file as covariate:NAME_a and "
            "covariate:NAME_b columns (ScoreSet.with_covariates(a=..., b=...).save(...)).")
    if args.covariates_csv:
        data = read_covariates_csv(data, args.covariates_csv, args.categorical)
    elif args.categorical:
        raise FairauditInputError("--categorical applies to the columns of --covariates-csv; the data's own "
                                  "covariates keep the kinds they were saved with. Fix: drop --categorical.")
    result = covariate_audit(data, by=args.by, covariates=args.covariate, threshold=_threshold(args),
                             n_bins=args.n_bins, bins=bins or None, n_boot=args.n_boot, random_state=args.seed,
                             min_identities=args.min_identities, regression=not args.no_regression,
                             scheduler=args.scheduler, workers=args.workers, scratch_dir=args.scratch_dir)
    print(result.summary())
    write_result_outputs(result, args, plots.save_all)
    return 0
