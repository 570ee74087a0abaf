"""From images to an :class:`~fairaudit.EmbeddingSet`: dataset loaders that return manifests
(``datasets``), image reading, face detectors and extractors (``extractors``), and the resumable,
cached extraction pipeline with its ``compare`` of two photos (``extraction``).

May import: ``fairaudit.data``, ``fairaudit.plugins`` (extractors and loaders are resolved by
registered name) and ``fairaudit.common``. OpenCV, dlib and TensorFlow only inside functions.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "extract": "extraction",
    "compare": "extraction",
    "cache_info": "extraction",
    "load_dataset": "datasets",
    "validate_manifest": "datasets",
    "manifest_subset": "datasets",
    "read_image": "extractors",
    "HaarDetector": "extractors",
    "DlibResnetExtractor": "extractors",
    "ImageReadError": "extractors",
    "ImageDamagedError": "extractors",
    "ImageTooLargeError": "extractors",
    "DEFAULT_MAX_PIXELS": "extractors",
    "DLIB_RESNET_THRESHOLD": "extractors",
    "IMAGE_READER_VERSION": "extractors",
    "model_path": "extractors",
})
