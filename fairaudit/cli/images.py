"""The ``compare`` and ``extract`` commands: the image-reading options they share, the comparison
of two photos, and an extraction run with its report of failures per group.

The parser (``fairaudit.cli``) adds the options with :func:`add_image_options` and dispatches to
:func:`cmd_compare` and :func:`cmd_extract`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Iterable

import pandas as pd

from fairaudit import plugins
from fairaudit.common.errors import FairauditInputError
from fairaudit.common.files import check_output, save_or_fallback, save_outputs
from fairaudit.data import EmbeddingSet
from fairaudit.images import DEFAULT_MAX_PIXELS, compare, resolve_extractor
from fairaudit.images import run_extraction, run_extractions

#: the extractor of ``fairaudit extract`` without ``--extractor``
DEFAULT_EXTRACTOR = "dlib-resnet"

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
EXTRACTOR_TWICE = (
    "--extractor {name!r} is given twice; with several extractors each writes one file. Fix: give each "
    "extractor once."
)
EXTRACTOR_NOT_A_FILE_NAME = (
    "--extractor {name!r} cannot name an output file (with several extractors, each set is written to "
    "{example!r}); a name of letters, digits, '.', '_', '+' and '-' can. Fix: register the extractor under such "
    "a name, or run it alone."
)
QUALITY_AND_NO_QUALITY = (
    "--quality {names} and --no-quality contradict each other. Fix: pass --quality NAME (repeatable) for those "
    "measures, --no-quality for none, or neither for every registered measure that applies."
)
_FILE_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def extract_outputs(out: str | os.PathLike, extractors: list[str]) -> dict[str, Path]:
    """Where ``fairaudit extract --out OUT`` writes the set of each extractor.

    One extractor: ``OUT`` itself. Several: ``<stem>.<extractor><suffix>`` next to ``OUT``, e.g.
    ``pop.npz`` -> ``pop.dlib-resnet.npz`` and ``pop.pixels.npz`` (the suffix chooses the format,
    as for one set).
    """
    out = Path(out)
    if len(extractors) == 1:
        return {extractors[0]: out}
    return {name: out.with_name(f"{out.stem}.{name}{out.suffix}") for name in extractors}


def _extractor_option(value: object) -> list[str]:
    """``--extractor``, given once or several times (None: the default), checked for repeats and, with
    several, for names that cannot name a file."""
    if value is None:
        names = [DEFAULT_EXTRACTOR]
    elif isinstance(value, str):
        names = [value]
    else:
        names = [str(v) for v in value]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise FairauditInputError(EXTRACTOR_TWICE.format(name=name))
    return names


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


def add_quality_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--quality NAME`` (repeatable) and ``--no-quality`` to the parser of ``extract``."""
    parser.add_argument("--quality", action="append", metavar="NAME",
                        help="image quality measure to compute for every embedded image, saved as a covariate; "
                             "repeat for several (default: every registered measure that applies: face_size, "
                             "sharpness, brightness, contrast, detector_confidence, yaw and the plugins')")
    parser.add_argument("--no-quality", action="store_true", help="compute no image quality measure")


def _quality_option(args: argparse.Namespace) -> bool | list[str]:
    """``--quality``/``--no-quality``: True (every measure that applies), False or the names, checked."""
    names = getattr(args, "quality", None)
    off = bool(getattr(args, "no_quality", False))
    if names and off:
        raise FairauditInputError(QUALITY_AND_NO_QUALITY.format(names=" --quality ".join(names)))
    if off:
        return False
    if not names:
        return True
    for name in names:  # an unknown name fails before the work
        plugins.get("quality", name, argument="--quality")
    return list(names)


def _print_quality(plan: object, n_recomputed: int, label: str = "") -> None:
    """One line naming the quality covariates of a set, and the notes on the measures left out."""
    if plan is None:
        return
    names = getattr(plan, "names", [])
    prefix = f"{label}: " if label else ""
    print(f"{prefix}quality covariates: {', '.join(names) if names else 'none'}")
    for note in getattr(plan, "notes", []):
        print(f"  note: {note}")
    if n_recomputed:
        print(f"  note: {n_recomputed} cached image(s) had no quality values and were computed again")


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
    """``fairaudit extract (--dataset NAME --root DIR | --manifest CSV) --out FILE [--extractor NAME ...]``.

    With ``--extractor`` given several times, one pass over the images writes one aligned set per
    extractor (:func:`extract_outputs` says where). Every argument is checked, and ``--out`` and ``--cache`` are checked to be
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
    quality = _quality_option(args)
    extractors = _extractor_option(args.extractor)
    out = Path(args.out)
    if out.suffix.lower() not in (".npz", ".parquet"):
        raise FairauditInputError(BAD_OUT.format(path=str(out)))
    outputs = extract_outputs(out, extractors)
    if len(extractors) > 1:
        for name, path in outputs.items():
            if not _FILE_SAFE.match(name):
                raise FairauditInputError(EXTRACTOR_NOT_A_FILE_NAME.format(
                    name=name, example=str(out.with_name(f"{out.stem}.NAME{out.suffix}"))))
    for path in outputs.values():
        check_output(path, name="--out")
    cache = None if args.cache is None else os.path.expanduser(args.cache)
    if cache is not None:
        check_output(cache, name="--cache", directory=True)
    for name in extractors:  # an unknown name fails before the work
        resolve_extractor(name, argument="--extractor")
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
    if len(extractors) > 1:
        return _extract_several(args, manifest, source, extractors, outputs, cache=cache, batch_size=batch_size,
                                max_pixels=max_pixels, quality=quality)
    start = time.perf_counter()
    from fairaudit.common.executors import executor_for

    with executor_for(args.scheduler, args.workers) as executor:
        outcome = run_extraction(manifest, extractor=extractors[0], cache=cache, batch_size=batch_size,
                           progress=None, attributes=None, executor=executor, max_pixels=max_pixels,
                           cache_name="--cache", quality=quality, quality_argument="--quality")
    es = outcome.embeddings
    elapsed = time.perf_counter() - start
    n_fail = len(es.failures)
    print(f"{source}: {outcome.n_images} images")
    print(f"extractor {extractors[0]}: {len(es)} embedded, {n_fail} failures "
          f"({outcome.n_from_cache} from the cache, {outcome.n_computed} computed in {elapsed:.1f} s)")
    if outcome.cache_dir:
        print(f"cache: {outcome.cache_dir}")
    _print_quality(outcome.quality, outcome.n_recomputed)
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


def _extract_several(args: argparse.Namespace, manifest: pd.DataFrame, source: str, extractors: list[str],
                     outputs: dict[str, Path], *, cache: str | None, batch_size: int, max_pixels: int,
                     quality: bool | list[str] = True) -> int:
    """``fairaudit extract --extractor A --extractor B ...``: one pass, one aligned set per extractor."""
    from fairaudit.common.executors import executor_for
    from fairaudit.images import failure_to_acquire

    start = time.perf_counter()
    with executor_for(args.scheduler, args.workers) as executor:
        outcome = run_extractions(manifest, extractors=extractors, cache=cache, batch_size=batch_size,
                                  progress=None, attributes=None, executor=executor, max_pixels=max_pixels,
                                  cache_name="--cache", quality=quality, quality_argument="--quality")
    elapsed = time.perf_counter() - start
    sets = outcome.sets
    first = sets[extractors[0]]
    print(f"{source}: {outcome.n_images} images, read once for {len(extractors)} extractors in {elapsed:.1f} s")
    for name in extractors:
        print(f"extractor {name}: {outcome.n_own_failures[name]} failures of its own "
              f"({outcome.n_from_cache[name]} images from the cache, {outcome.n_computed[name]} computed)")
        if outcome.cache_dirs[name]:
            print(f"  cache: {outcome.cache_dirs[name]}")
        recomputed = (sets[name].metadata.get("quality") or {}).get("n_recomputed", 0)
        _print_quality((outcome.quality or {}).get(name), recomputed, label=f"  {name}")
    print(f"aligned: {len(first)} samples in every set, in manifest order; {len(first.failures)} images failed "
          "for at least one extractor and are failure rows of every set")
    for name in extractors:
        failures = sets[name].failures
        if len(failures):
            print(f"failures by reason, in the set of {name}:")
            for reason, count in failures["reason"].value_counts().items():
                print(f"  {count:6d}  {reason}")
    for attribute, _ in _fta_tables(first):
        print(f"\nfailure to acquire by {attribute} (fta: the extractor's own failures; "
              "fta_any: any extractor's, the failure rows of every set):")
        table = failure_to_acquire(sets, attribute)
        print(table.to_string(formatters={"fta": "{:.4f}".format, "fta_any": "{:.4f}".format}))
    sys.stdout.flush()  # the report is out before a failed write's error
    written = save_outputs([("--out", outputs[name], sets[name].save) for name in extractors])
    print(f"\n{first!r} per extractor, written to")
    for path in written:
        print(f"  {path}")
    return 0
