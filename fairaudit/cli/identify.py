"""``fairaudit identify``: the one-to-many (1:N) identification audit of an EmbeddingSet (split into a
gallery and probes and searched here) or of the candidate lists a black-box system returned."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from fairaudit.common.errors import FairauditInputError

#: the default threshold policy: the threshold where the pooled FPIR is at most 1e-2
DEFAULT_FPIR = 1e-2
#: ``--format`` values of candidate-list files (:func:`fairaudit.identification.read_candidates`)
CANDIDATE_FORMATS = ("nist", "bob4", "bob5")

# --- message templates (errors.py conventions: the option, what was expected, what came, the fix)
NO_INPUT = (
    "identify needs something to audit: an EmbeddingSet file (DATA) or candidate lists (--candidates). "
    "Fix: pass e.g. 'fairaudit identify pop.npz --by ethnicity', or 'fairaudit identify --candidates "
    "lists.txt --format nist --searches searches.csv --gallery gallery.csv --by ethnicity'."
)
TWO_INPUTS = (
    "identify got both DATA {data!r} and --candidates {candidates!r}: the audit searches embeddings itself "
    "or reads the candidate lists a system returned, not both. Fix: drop one of them."
)
WRONG_ROUTE = (
    "{options} {verb} to {route}, and this audit {what}. Fix: drop {them}."
)
NIST_NEEDS_TABLES = (
    "--format nist: a NIST candidate-list file names searches and candidates but not who the probes are "
    "or who is enrolled, and {missing} {verb} missing. Fix: add --searches CSV (search_id, identity = the "
    "probe's true identity, and its attributes) and --gallery CSV (identity of every enrolled person, and "
    "its attributes)."
)
MISSING_FILE = "{option}: file {path!r} does not exist. Fix: check the path."
NOT_A_FILE = "{option}: {path!r} is a directory; expected a file. Fix: pass the file itself."
NOT_EMBEDDINGS = (
    "DATA {path!r} is not an EmbeddingSet (.npz, .parquet) or a .npy of embeddings (with --labels): "
    "identify searches embeddings. Fix: pass an EmbeddingSet file, or, for the candidate lists of a "
    "black-box system, --candidates FILE --format {formats} --searches CSV --gallery CSV."
)
SCORES_NOT_EMBEDDINGS = (
    "DATA {path!r} holds comparison scores, not embeddings: a 1:N audit needs the searches' candidate "
    "lists, which pairwise scores do not give. Fix: pass an EmbeddingSet file (.npz, .parquet), or the "
    "candidate lists with --candidates FILE --format {formats} --searches CSV --gallery CSV."
)
ROLES_AND_SPLIT = (
    "--gallery-column {column!r} takes the gallery/probe roles from a column, and {split} set up the "
    "seeded split instead. Fix: pass one protocol: --gallery-column NAME, or --nonmated-share X and/or "
    "--gallery-samples N."
)
ROLES_WITHOUT_COLUMN = (
    "--roles {path!r} names no column. Fix: add --gallery-column NAME, the column of {path!r} whose "
    "values are 'gallery' or 'probe'."
)
ROLES_NOT_FOUND = (
    "--gallery-column {column!r}: the roles are per sample, so they cannot be an attribute of an "
    "EmbeddingSet file. Fix: pass --roles CSV, a table with one row per sample (in the order of DATA) "
    "and a column {column!r} holding 'gallery' or 'probe'{npy}."
)
ROLES_COLUMN_MISSING = (
    "--gallery-column {column!r} is not a column of {option} {path!r} (columns: {columns}). Fix: name the "
    "column that holds 'gallery' or 'probe'."
)
ROLES_LENGTH = (
    "--roles {path!r} has {got} row(s) and DATA has {n} samples. Fix: give one row per sample, in the "
    "order of DATA."
)
ROLES_IDENTITY = (
    "--roles {path!r}: its identity column disagrees with DATA at {count} row(s) (first: row {row}, "
    "{got!r} where DATA has {want!r}): the rows are not in the order of DATA. Fix: write one row per "
    "sample in the order of DATA (or drop the identity column if you are sure of the order)."
)
THRESHOLD_OUT_OF_RANGE = (
    "--threshold {value:g} is not a score threshold: embeddings are compared by cosine similarity, in "
    "[-1, 1] (a candidate is returned when its score >= threshold). Fix: pass a threshold in [-1, 1], "
    "e.g. --threshold 0.45, or let the audit choose the one where the pooled FPIR is at most a target: "
    "--fpir 1e-2."
)


def _number(low: float | None = None, high: float | None = None, *, open_low: bool = False,
            open_high: bool = False):
    """argparse type of a float option: a finite number in the given range (argparse's error then
    names the option and the value)."""
    if low is None:
        rule = ""
    else:
        rule = f" in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number{rule}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number{rule}")
        if low is not None and ((value <= low if open_low else value < low)
                                or (value >= high if open_high else value > high)):
            raise argparse.ArgumentTypeError(f"{text} is not a number{rule}")
        return value

    return parse


def _at_least_one(text: str) -> int:
    """argparse type of --gallery-samples: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not an integer >= 1")
    return value


def add_identify_parser(sub: argparse._SubParsersAction, seed_type: Any) -> None:
    """Add ``identify`` to the ``fairaudit`` subcommands."""
    p = sub.add_parser(
        "identify", help="1:N identification: per-group FNIR, FPIR, rank-k rates (CMC), where false positives land",
        description="One-to-many (1:N) identification audit, per group of the probe: an EmbeddingSet split into "
                    "a gallery and probes and searched here, or the candidate lists a system returned. Reports "
                    "FNIR(T, R) of mated searches, FPIR(T) of non-mated searches, the rank-k identification rates "
                    "(CMC), where false positives land, FPIR against gallery size, probe-identity intervals, group "
                    "comparisons and fairness figures over FPIR and FNIR.")
    p.add_argument("data", metavar="DATA", nargs="?",
                   help="EmbeddingSet (.npz, .parquet) or embeddings .npy (with --labels); leave out with --candidates")
    p.add_argument("--by", action="append", required=True, metavar="ATTR",
                   help="attribute of the probe defining the groups; repeat for intersections")

    c = p.add_argument_group("candidate lists (instead of DATA)")
    c.add_argument("--candidates", metavar="FILE", help="the candidate lists a 1:N system returned")
    c.add_argument("--format", choices=CANDIDATE_FORMATS,
                   help="layout of --candidates: nist (NIST FRTE 1:N candidate lists, with a header), bob4 or "
                        "bob5 (bob's 4-/5-column score files); default: detected from the first line")
    c.add_argument("--searches", metavar="CSV",
                   help="one row per search: search_id, identity (the probe's true identity) and its attributes "
                        "(required for nist; for bob, an identity table or per-search columns)")
    c.add_argument("--gallery", metavar="CSV",
                   help="one row per enrolled identity: identity and its attributes (required for nist)")
    c.add_argument("--attributes", metavar="CSV",
                   help="identity and attribute columns of every person, probe or enrolled (fills both sides)")

    e = p.add_argument_group("embeddings")
    e.add_argument("--labels", metavar="CSV",
                   help="for a .npy DATA (memory-mapped): identity and attribute columns, one row per embedding")
    e.add_argument("--out-of-core", action="store_true",
                   help="read a .parquet DATA one row group at a time instead of whole")

    g = p.add_argument_group("protocol (embeddings): fixed roles, or the seeded split (default)")
    g.add_argument("--gallery-column", metavar="NAME",
                   help="column whose values are 'gallery' (enrolled) or 'probe' (searched), one per sample: "
                        "of --roles, or of the --labels CSV of a .npy DATA")
    g.add_argument("--roles", metavar="CSV",
                   help="one row per sample of DATA, in its order, holding the --gallery-column (an 'identity' "
                        "column, if present, is checked against DATA)")
    g.add_argument("--nonmated-share", type=_number(0, 1, open_high=True), metavar="X",
                   help="share of each group's identities held out of the gallery as non-mated probes (default 0.2)")
    g.add_argument("--gallery-samples", type=_at_least_one, metavar="N",
                   help="gallery samples per enrolled identity; the others are its mated probes (default 1)")

    t = p.add_argument_group("threshold (one for every group; a candidate is returned when score >= T)")
    thr = t.add_mutually_exclusive_group()
    thr.add_argument("--threshold", type=_number(), metavar="T", help="a fixed threshold")
    thr.add_argument("--fpir", type=_number(0, 1, open_low=True, open_high=True), metavar="X",
                     help=f"the threshold where the pooled FPIR is at most X (default {DEFAULT_FPIR:g})")

    s = p.add_argument_group("figures and statistics")
    s.add_argument("--rank", type=int, default=1, metavar="R",
                   help="R of FNIR(T, R): a mate counts as found at rank <= R (default 1)")
    s.add_argument("--k", type=int, default=20, metavar="K",
                   help="candidates kept per search; the CMC goes up to rank K (default 20)")
    s.add_argument("--alpha", type=_number(0, 1), default=0.5,
                   help="FPIR weight in FDR, GARBE, inequity (default 0.5)")
    s.add_argument("--n-boot", type=int, default=1000, metavar="K",
                   help="probe-identity bootstrap replicates (0 = no interval, no comparison; default 1000)")
    s.add_argument("--n-perm", type=int, default=10000, metavar="K",
                   help="probe-identity permutations per comparison of FNIR and FPIR (0 = no p-value; default 10000)")
    s.add_argument("--ci", type=_number(0, 1, open_low=True, open_high=True), default=0.95, metavar="LEVEL",
                   help="confidence level of the intervals (default 0.95)")
    s.add_argument("--min-identities", type=int, default=30, metavar="N",
                   help="flag groups with fewer probe identities; they get Clopper-Pearson intervals (default 30)")
    s.add_argument("--seed", type=seed_type, default=0,
                   help="random_state of the split, the sub-galleries, the bootstrap and the permutations")

    o = p.add_argument_group("outputs (checked before the audit starts)")
    o.add_argument("--json", metavar="OUT", help="write the full result as JSON")
    o.add_argument("--html", metavar="OUT", help="write the self-contained HTML report")
    o.add_argument("--plots", metavar="DIR", help="write PNG plots to DIR")

    d = p.add_argument_group("scale")
    d.add_argument("--scheduler", metavar="ADDR",
                   help="run the search on Dask: a scheduler address (tcp://host:8786), 'processes' or 'threads'")
    d.add_argument("--workers", type=int, metavar="K", help="run the search on a local Dask cluster of K processes")
    d.add_argument("--scratch-dir", metavar="DIR",
                   help="where the sorted embeddings file goes (Dask workers must all read it; default: tmp)")
    p.set_defaults(func=cmd_identify)


# --------------------------------------------------------------------------
# checks that need no data
# --------------------------------------------------------------------------
def _given(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The options among ``names`` (dest names) that were given, spelled as on the command line."""
    out = []
    for name in names:
        value = getattr(args, name)
        if value not in (None, False):
            out.append("--" + name.replace("_", "-"))
    return out


def _refuse(options: list[str], route: str, what: str) -> None:
    if options:
        one = len(options) == 1
        raise FairauditInputError(WRONG_ROUTE.format(
            options=" and ".join(options), verb="applies" if one else "apply", route=route, what=what,
            them="it" if one else "them"))


def _check_route(args: argparse.Namespace) -> str:
    """``"embeddings"`` or ``"candidates"``, after refusing the options of the other route."""
    if args.data is None and args.candidates is None:
        raise FairauditInputError(NO_INPUT)
    if args.data is not None and args.candidates is not None:
        raise FairauditInputError(TWO_INPUTS.format(data=args.data, candidates=args.candidates))
    if args.candidates is not None:
        _refuse(_given(args, ("labels", "out_of_core", "gallery_column", "roles", "nonmated_share",
                              "gallery_samples")),
                "the embeddings route (DATA)", f"reads the candidate lists of --candidates {args.candidates!r}")
        missing = [o for o, v in (("--searches", args.searches), ("--gallery", args.gallery)) if v is None]
        if args.format == "nist" and missing:
            raise FairauditInputError(NIST_NEEDS_TABLES.format(missing=" and ".join(missing),
                                                               verb="is" if len(missing) == 1 else "are"))
        return "candidates"
    _refuse(_given(args, ("format", "searches", "gallery", "attributes")), "candidate lists (--candidates)",
            f"searches the embeddings of DATA {args.data!r}")
    split = _given(args, ("nonmated_share", "gallery_samples"))
    if args.gallery_column is not None and split:
        raise FairauditInputError(ROLES_AND_SPLIT.format(column=args.gallery_column, split=" and ".join(split)))
    if args.roles is not None and args.gallery_column is None:
        raise FairauditInputError(ROLES_WITHOUT_COLUMN.format(path=args.roles))
    if args.roles is not None:
        _check_file("--roles", args.roles)
    if args.gallery_column is not None and args.roles is None and not _roles_in_labels(args):
        npy = "; for a .npy DATA, the column may also be in its --labels CSV" if args.labels is None else ""
        raise FairauditInputError(ROLES_NOT_FOUND.format(column=args.gallery_column, npy=npy))
    if args.threshold is not None and not -1.0 <= args.threshold <= 1.0:
        raise FairauditInputError(THRESHOLD_OUT_OF_RANGE.format(value=args.threshold))
    return "embeddings"


def _roles_in_labels(args: argparse.Namespace) -> bool:
    """The roles are read from the --labels CSV of a .npy DATA (no --roles given)."""
    return (args.gallery_column is not None and args.roles is None and args.labels is not None
            and Path(args.data).suffix.lower() == ".npy")


def _threshold(args: argparse.Namespace) -> Any:
    if args.threshold is not None:
        return args.threshold
    return {"fpir": DEFAULT_FPIR if args.fpir is None else args.fpir}


def _check_file(option: str, path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FairauditInputError(MISSING_FILE.format(option=option, path=path))
    if p.is_dir():
        raise FairauditInputError(NOT_A_FILE.format(option=option, path=path))
    return p


# --------------------------------------------------------------------------
# the embeddings route
# --------------------------------------------------------------------------
def _load_embeddings(args: argparse.Namespace):
    """The EmbeddingSet of DATA and the ``gallery=`` protocol of the audit."""
    from fairaudit.cli.loading import load_data
    from fairaudit.data import EmbeddingSet

    p = Path(args.data)
    formats = "|".join(CANDIDATE_FORMATS)
    if p.exists() and not p.is_dir() and p.suffix.lower() not in (".npz", ".parquet", ".npy"):
        raise FairauditInputError(NOT_EMBEDDINGS.format(path=args.data, formats=formats))
    from_labels = _roles_in_labels(args)
    data = load_data(args.data, labels=args.labels, out_of_core=args.out_of_core,
                     sample_columns=(args.gallery_column,) if from_labels else ())
    if not isinstance(data, EmbeddingSet):
        raise FairauditInputError(SCORES_NOT_EMBEDDINGS.format(path=args.data, formats=formats))
    if args.gallery_column is not None:
        return data, _roles(args, data)
    split = {}
    if args.nonmated_share is not None:
        split["nonmated_share"] = args.nonmated_share
    if args.gallery_samples is not None:
        split["samples"] = args.gallery_samples
    return data, (split or None)


def _roles(args: argparse.Namespace, data):
    """The role of every sample: column ``--gallery-column`` of ``--roles`` (or of ``--labels``)."""
    import numpy as np

    from fairaudit.cli.loading import _read_labels_csv

    column = args.gallery_column
    option, path = ("--roles", args.roles) if args.roles is not None else ("--labels", args.labels)
    _check_file(option, path)
    table = _read_labels_csv(path, option)
    if column not in table.columns:
        raise FairauditInputError(ROLES_COLUMN_MISSING.format(column=column, option=option, path=path,
                                                              columns=list(table.columns)))
    if len(table) != len(data):
        raise FairauditInputError(ROLES_LENGTH.format(path=path, got=len(table), n=len(data)))
    if option == "--roles" and "identity" in table.columns:
        got = table["identity"].to_numpy().astype(str)
        want = np.asarray(data.identity).astype(str)
        bad = np.flatnonzero(got != want)
        if bad.size:
            raise FairauditInputError(ROLES_IDENTITY.format(path=path, count=bad.size, row=int(bad[0]),
                                                            got=got[bad[0]], want=want[bad[0]]))
    return table[column].to_numpy()


# --------------------------------------------------------------------------
# the candidate-list route
# --------------------------------------------------------------------------
def _load_candidates(args: argparse.Namespace):
    """The CandidateLists of ``--candidates``, with the ``--searches``, ``--gallery`` and
    ``--attributes`` tables (the reader checks the files and names the line of any problem)."""
    from fairaudit.identification import read_candidates

    _check_file("--candidates", args.candidates)
    for option, path in (("--searches", args.searches), ("--gallery", args.gallery),
                         ("--attributes", args.attributes)):
        if path is not None:
            _check_file(option, path)
    return read_candidates(args.candidates, format=args.format, searches=args.searches, gallery=args.gallery,
                           attributes=args.attributes)


# --------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------
def _save_plots(result, folder: Path) -> list[Path]:
    """PNG figures of an IdentificationResult in ``folder`` (:func:`fairaudit.identification.plots.save_all`)."""
    from fairaudit.identification.plots import save_all

    return save_all(result, folder)


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------
def cmd_identify(args: argparse.Namespace) -> int:
    from fairaudit.common.files import check_output, save_outputs
    from fairaudit.identification import identification_audit

    # outputs are checked before the work, so that a long audit is never computed for nothing
    if args.json:
        check_output(args.json, name="--json")
    if args.html:
        check_output(args.html, name="--html")
    if args.plots:
        check_output(args.plots, name="--plots", directory=True)
    route = _check_route(args)
    if route == "candidates":
        data, gallery = _load_candidates(args), None
    else:
        data, gallery = _load_embeddings(args)
    result = identification_audit(
        data, by=args.by, gallery=gallery, threshold=_threshold(args), rank=args.rank, k=args.k,
        alpha=args.alpha, n_boot=args.n_boot, n_perm=args.n_perm, ci=args.ci,
        min_identities=args.min_identities, random_state=args.seed, progress=None,
        scheduler=args.scheduler, workers=args.workers, scratch_dir=args.scratch_dir,
    )
    print(result.summary())
    outputs = []
    if args.json:
        outputs.append(("--json", args.json, lambda p: result.to_json(p)))
    if args.plots:
        outputs.append(("--plots", args.plots, lambda p: _save_plots(result, p)))
    if args.html:  # last: the report is the slowest to build
        outputs.append(("--html", args.html, lambda p: result.to_html(p)))
    written = dict(zip([name for name, _, _ in outputs], save_outputs(outputs)))
    if written:
        print()
    for name, what in (("--json", "JSON"), ("--plots", "Plots"), ("--html", "Report")):
        if name in written:
            print(f"{what} written to {written[name]}")
    return 0
