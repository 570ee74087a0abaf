"""``fairaudit study diveface``: rerun the reference study from DiveFace images (or saved embeddings)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from fairaudit import FairauditInputError

from .dataset import STUDY_N_PER_GROUP

NEEDS_INPUT = (
    "fairaudit study diveface needs --root DIR (the DiveFace folder, with --weights) or "
    "--embeddings FILE (an EmbeddingSet saved by an earlier run). Fix: pass one of them."
)
BOTH_INPUTS = (
    "--root and --embeddings exclude each other: --embeddings reuses saved embeddings, "
    "--root extracts them from images. Fix: pass only one."
)
NO_EXTRACTION = (
    "extracting embeddings needs fairaudit.images.extract, which this fairaudit ({version}) "
    "lacks. Fix: upgrade fairaudit, or pass --embeddings FILE."
)
NO_FACE = "task 1.0: no face kept by the detector in {path!r}; the photo is left out."


def _study_subparsers(subparsers: Any) -> Any:
    """The sub-parsers of ``fairaudit study``, created by the first plugin that needs them."""
    study = subparsers.choices.get("study")
    if study is None:
        study = subparsers.add_parser(
            "study", help="rerun a published study (installed by plugins)",
            description="Rerun a published study. Each study is provided by a plugin.")
        study.set_defaults(func=lambda args: (study.print_help(), 2)[1])
    for action in study._actions:  # argparse keeps sub-parser collections only here
        if isinstance(action, argparse._SubParsersAction):
            return action
    return study.add_subparsers(dest="study", metavar="STUDY", parser_class=type(study))


def add_study_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``study diveface`` to the ``fairaudit`` command line."""
    p = _study_subparsers(subparsers).add_parser(
        "diveface", help="the DiveFace / ResNet-50 study: tasks 1.0-2.6, original vs corrected",
        description=(
            "Rerun the reference study (DiveFace, SSD detector, ResNet-50 VGGFace2 embeddings) "
            "under its original protocol, flagged as LEAKY, and under the corrected one (one "
            "identity-disjoint test set for every model). Writes study.json, comparison.csv, "
            "summary.txt, the audits' JSON and plots to --out."))
    src = p.add_argument_group("input")
    src.add_argument("--root", metavar="DIR", help="DiveFace folder holding HA4K_120 ... MN4K_120")
    src.add_argument("--embeddings", metavar="FILE",
                     help="reuse an EmbeddingSet (.npz/.parquet) written by an earlier run instead of images")
    src.add_argument("--weights", metavar="FILE",
                     help="the Keras resnet50.h5 (keras-vggface layout); default $FAIRAUDIT_DIVEFACE_WEIGHTS")
    src.add_argument("--detector", metavar="DIR",
                     help="directory with deploy.prototxt and res10_300x300_ssd_iter_140000.caffemodel; "
                          "default $FAIRAUDIT_DIVEFACE_DETECTOR")
    src.add_argument("--photos", nargs="+", metavar="FILE",
                     help="task 1.0: photos to compare pairwise (faces found by the detector)")
    src.add_argument("--ten-people", metavar="DIR|FILE",
                     help="task 1.1: folder <DIR>/<identity>/<image> of 10 people x 5 images, or the "
                          "embeddings_ten_people.npz of an earlier run (default: 10 DiveFace "
                          "identities with >= 5 images)")
    src.add_argument("--detect-dataset", action="store_true",
                     help="run the face detector on the DiveFace images too (the study's code did "
                          "not: DiveFace images are face crops already)")
    src.add_argument("--cache", metavar="DIR", help="embedding cache directory")
    src.add_argument("--batch-size", type=int, default=32, help="faces per network pass (default 32)")
    run = p.add_argument_group("protocol")
    run.add_argument("--out", required=True, metavar="DIR", help="output directory")
    run.add_argument("--n-per-group", type=int, default=STUDY_N_PER_GROUP,
                     help=f"identities drawn per group, one image each (default {STUDY_N_PER_GROUP}, the study)")
    run.add_argument("--seeds", type=int, default=3, help="repetitions of both protocols (default 3)")
    run.add_argument("--head", choices=["logistic", "mlp"], default="logistic",
                     help="classifier head (the study's was mlp; default logistic, fast)")
    run.add_argument("--random-state", type=int, default=0, help="root seed (default 0)")
    run.add_argument("--subset-per-group", type=int, default=350,
                     help="task 1.2/1.3: samples per group mapped by t-SNE (default 350)")
    run.add_argument("--no-tsne", action="store_true", help="skip task 1.3 (t-SNE is the slowest step)")
    run.add_argument("--no-plots", action="store_true", help="write no PNG figures")
    p.set_defaults(func=cmd_study_diveface)
    return p


def _extract(manifest: Any, extractor: Any, cache: Any, batch_size: int) -> Any:
    try:
        from fairaudit.images.extraction import extract
    except ImportError:
        import fairaudit

        raise FairauditInputError(NO_EXTRACTION.format(version=fairaudit.__version__)) from None
    return extract(manifest, extractor=extractor, cache=cache, batch_size=batch_size)


def _photo_embeddings(paths: list[str], extractor: Any) -> tuple[dict[str, Any], list[str]]:
    from fairaudit.images.extractors import read_image

    out, notes = {}, []
    for path in paths:
        face = extractor.detect_and_align(read_image(path))
        if face is None:
            notes.append(NO_FACE.format(path=path))
            continue
        out[Path(path).name] = extractor.embed([face])[0]
    return out, notes


def cmd_study_diveface(args: argparse.Namespace) -> int:
    """Run the study from the parsed arguments; returns the exit code."""
    from fairaudit import EmbeddingSet

    from .dataset import load_diveface, ten_people
    from .embedder import VGGFace2ResNet50
    from .study import run_study

    if args.root is None and args.embeddings is None:
        raise FairauditInputError(NEEDS_INPUT)
    if args.root is not None and args.embeddings is not None:
        raise FairauditInputError(BOTH_INPUTS)
    from fairaudit.common.files import check_output

    start = time.perf_counter()
    # the study takes minutes to hours: its output directory is checked before anything runs
    out = check_output(args.out, name="--out", directory=True)
    extractor = None
    if args.root is not None or args.photos:
        extractor = VGGFace2ResNet50(args.weights, args.detector, detect=args.detect_dataset,
                                     batch_size=args.batch_size)
        extractor.weights_path  # fail now, before scanning folders, when the weights are missing
        if args.photos or args.detect_dataset:
            extractor.detector.files()  # likewise for the detector
    verification_data = None
    if args.ten_people and Path(args.ten_people).is_file():
        verification_data = EmbeddingSet.load(args.ten_people)
    if args.embeddings is not None:
        data = EmbeddingSet.load(args.embeddings)
        if args.ten_people and verification_data is None:
            if extractor is None:
                extractor = VGGFace2ResNet50(args.weights, args.detector, detect=False,
                                             batch_size=args.batch_size)
            verification_data = _extract(ten_people(args.ten_people, random_state=args.random_state),
                                         extractor, args.cache, args.batch_size)
    else:
        manifest = load_diveface(args.root, n_per_group=args.n_per_group, images_per_identity=1,
                                 random_state=args.random_state)
        print(f"DiveFace: {len(manifest)} images of {manifest['identity'].nunique()} identities")
        data = _extract(manifest, extractor, args.cache, args.batch_size)
        out.mkdir(parents=True, exist_ok=True)
        data.save(out / "embeddings.npz")
        if verification_data is None:
            people = ten_people(args.ten_people or args.root, random_state=args.random_state)
            if people["identity"].nunique() >= 2:
                verification_data = _extract(people, extractor, args.cache, args.batch_size)
                verification_data.save(out / "embeddings_ten_people.npz")
    photos, photo_notes = (None, [])
    if args.photos:
        photos, photo_notes = _photo_embeddings(args.photos, extractor.with_detection())
    result = run_study(
        data, out=out, head=args.head, n_seeds=args.seeds, random_state=args.random_state,
        verification_data=verification_data, photos=photos,
        subset_per_group=args.subset_per_group, tsne=not args.no_tsne, plots=not args.no_plots,
    )
    print(result.summary())
    for note in photo_notes:
        print(f"note: {note}")
    print(f"\nDone in {time.perf_counter() - start:.1f} s. Written to {out}: "
          "study.json, comparison.csv, summary.txt" + ("" if args.no_plots else ", plots/") + ".")
    return 0
