"""The ``compare`` and ``extract`` commands: the image-reading options they share, the comparison
of two photos, and an extraction run with its report of failures per group.

The parser (``fairaudit.cli``) adds the options with :func:`add_image_options` and dispatches to
:func:`cmd_compare` and :func:`cmd_extract`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Iterable

import pandas as pd

from fairaudit import plugins
from fairaudit.common.errors import FairauditInputError
from fairaudit.common.files import check_output, save_or_fallback
from fairaudit.data import EmbeddingSet
from fairaudit.images import DEFAULT_MAX_PIXELS, compare, resolve_extractor
from fairaudit.images import run_extraction

EXTRACT_SOURCE = (
    "fairaudit extract needs exactly one of --dataset NAME (with --root DIR) or --manifest "
    "FILE.csv. Fix: pass one of them."
)
BAD_OUT = "--out {path!r} must end in .npz or .parquet. Fix: e.g. --out population.npz."
DATASET_NEEDS_ROOT = "--dataset {name!r} needs --root DIR, where the dataset lives. Fix: add --root."
BAD_BATCH_SIZE_OPTION = "--batch-size {value!r} must be an integer >= 1. Fix: pass e.g. --batch-size 32."
BAD_MAX_PIXELS_OPTION = (
    "--max-pixels {value!r} must be an integer >= 1, the most pixels (width x height) an image may have. "
    "Fix: pass e.g. --max-pixels 100000000."
)
MANIFEST_NOT_FOUND = "--manifest: file {path!r} does not exist. Fix: check the path of the manifest CSV."


def _max_pixels_option(args: argparse.Namespace) -> int:
    """``--max-pixels`` (the default when the parser has no such option)."""
    value = getattr(args, "max_pixels", None)
    if value is None:
        return DEFAULT_MAX_PIXELS
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise FairauditInputError(BAD_MAX_PIXELS_OPTION.format(value=value))
    return value


def add_image_options(parser: argparse.ArgumentParser) -> None:
    """Add the image-reading options (``--max-pixels``) to the parser of ``compare`` or ``extract``."""
    parser.add_argument("--max-pixels", type=int, metavar="N", default=None,
                        help=f"refuse images of more than N pixels, from their header (default "
                             f"{DEFAULT_MAX_PIXELS}, Pillow's limit)")


def cmd_compare(args: argparse.Namespace) -> int:
    """``fairaudit compare IMG1 IMG2 [--extractor NAME] [--threshold T] [--max-pixels N]``."""
    result = compare(args.image1, args.image2, extractor=args.extractor, threshold=args.threshold,
                     max_pixels=_max_pixels_option(args))
    print(f"score:     {result.score:.4f}  (cosine similarity, {result.extractor})")
    print(f"threshold: {result.threshold:.4f}  (same person when score >= threshold)")
    print(f"decision:  {result.decision}")
    return 0


def _fta_tables(es: EmbeddingSet, max_groups: int = 20) -> Iterable[tuple[str, pd.DataFrame]]:
    for name in es.attribute_names:
        if es.attributes[name].nunique() <= max_groups:
            yield name, es.failure_to_acquire(name)


def _loader_accepts(name: str, option: str) -> bool:
    """Whether the registered dataset loader ``name`` takes the keyword ``option``."""
    import inspect

    try:
        parameters = inspect.signature(plugins.get("dataset", name, argument="--dataset").factory).parameters
    except (TypeError, ValueError):
        return False
    return option in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def cmd_extract(args: argparse.Namespace) -> int:
    """``fairaudit extract (--dataset NAME --root DIR | --manifest CSV) --out FILE [...]``.

    Every argument is checked, and ``--out`` and ``--cache`` are checked to be
    writable, before any image is read; an image the run cannot use is a
    failure row, never the end of the run; if the final write fails all the
    same, the set is saved to a fallback file whose path the error gives.
    """
    from fairaudit.images import load_dataset

    if (args.dataset is None) == (args.manifest is None):
        raise FairauditInputError(EXTRACT_SOURCE)
    if args.dataset is not None and args.root is None:
        raise FairauditInputError(DATASET_NEEDS_ROOT.format(name=args.dataset))
    batch_size = args.batch_size
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise FairauditInputError(BAD_BATCH_SIZE_OPTION.format(value=batch_size))
    max_pixels = _max_pixels_option(args)
    out = Path(args.out)
    if out.suffix.lower() not in (".npz", ".parquet"):
        raise FairauditInputError(BAD_OUT.format(path=str(out)))
    check_output(out, name="--out")
    cache = None if args.cache is None else os.path.expanduser(args.cache)
    if cache is not None:
        check_output(cache, name="--cache", directory=True)
    resolve_extractor(args.extractor, argument="--extractor")  # an unknown name fails before the work
    if args.dataset is not None:
        # images a loader lists that do not exist are failure rows, not the end of the run
        options = {"missing": "report"} if _loader_accepts(args.dataset, "missing") else {}
        manifest = load_dataset(args.dataset, args.root, **options)
        source = f"dataset {args.dataset!r} at {args.root}"
    else:
        if not os.path.exists(args.manifest):
            raise FairauditInputError(MANIFEST_NOT_FOUND.format(path=args.manifest))
        manifest = load_dataset("csv", args.manifest, missing="report")
        source = f"manifest {args.manifest}"
    start = time.perf_counter()
    from fairaudit.common.executors import executor_for

    with executor_for(args.scheduler, args.workers) as executor:
        outcome = run_extraction(manifest, extractor=args.extractor, cache=cache, batch_size=batch_size,
                           progress=None, attributes=None, executor=executor, max_pixels=max_pixels,
                           cache_name="--cache")
    es = outcome.embeddings
    elapsed = time.perf_counter() - start
    n_fail = len(es.failures)
    print(f"{source}: {outcome.n_images} images")
    print(f"extractor {args.extractor}: {len(es)} embedded, {n_fail} failures "
          f"({outcome.n_from_cache} from the cache, {outcome.n_computed} computed in {elapsed:.1f} s)")
    if outcome.cache_dir:
        print(f"cache: {outcome.cache_dir}")
    if n_fail:
        print("failures by reason:")
        for reason, count in es.failures["reason"].value_counts().items():
            print(f"  {count:6d}  {reason}")
    for name, table in _fta_tables(es):
        print(f"\nfailure to acquire by {name}:")
        print(table.to_string(formatters={"fta": "{:.4f}".format}))
    sys.stdout.flush()  # the report is out before a failed write's error
    written = save_or_fallback(es.save, out, name="--out")
    print(f"\n{es!r}\nwritten to {written}")
    return 0
