"""The hook implementations fairaudit finds through the entry point ``diveface``.

Registration is cheap: it names factories; nothing here imports TensorFlow or
OpenCV, reads a model file or scans a folder.
"""

from __future__ import annotations

from fairaudit import hookimpl


@hookimpl
def register_datasets(register):
    from .dataset import load_diveface

    register("diveface", load_diveface,
             description="DiveFace folders <root>/<GROUP>/<identity>/<image>.jpg, six groups "
                         "HA4K_120..MN4K_120; attributes gender (H/M) and ethnicity (A/B/N); "
                         "options n_per_group (study: 750), images_per_identity (1 or 'all'), "
                         "random_state")


@hookimpl
def register_extractors(register):
    from .embedder import make_extractor

    register("vggface2-resnet50", make_extractor,
             description="the reference study's extractor: OpenCV SSD face detector + Keras "
                         "ResNet-50 VGGFace2 (keras-vggface resnet50.h5), avg_pool, 2048-d, "
                         "L2-normalised; options weights=, detector_dir=, detect=")


@hookimpl
def register_commands(subparsers):
    from .cli import add_study_command

    add_study_command(subparsers)
