"""From images to an :class:`~fairaudit.EmbeddingSet`.

- Manifests: ``datasets`` (:func:`load_dataset`, and the public names of the modules it was split
  into), ``validation`` (the manifest contract), ``subset`` (:func:`manifest_subset`) and the
  built-in dataset loaders of the ``loaders`` sub-package (``folder``, ``manifest_csv``, ``rfw``).
- Images and faces: ``reading`` (:func:`read_image`), ``errors`` (what reading an image raises),
  the integrity checks of JPEG and PNG files (the ``damage`` sub-package), ``detectors`` (Haar),
  ``dlib_resnet`` (the built-in extractor), ``models`` (dlib's model files) and ``dependencies``
  (OpenCV and dlib, imported on first use); ``extractors`` gathers their public names for plugins.
- Extraction: ``extraction`` (:func:`extract`), ``aligned`` (several extractors in one pass into
  aligned sets, and their :func:`failure_to_acquire`), ``protocol`` (the extractor protocol),
  ``pipeline`` (reader thread, batches, Dask partitions), ``cache`` (the resumable shard store,
  :func:`cache_info`), ``quality`` (the quality measures, returned as covariates, and the contract
  of the ``register_quality`` hook) and ``comparison`` (:func:`compare` of two photos).

May import: ``fairaudit.data``, ``fairaudit.plugins`` (extractors and loaders are resolved by
registered name) and ``fairaudit.common``. OpenCV, dlib and TensorFlow only inside functions.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "extract": "extraction",
    "compare": "comparison",
    "CompareResult": "comparison",
    "cache_info": "cache",
    "image_key": "cache",
    "resolve_extractor": "protocol",
    "load_dataset": "datasets",
    "validate_manifest": "validation",
    "manifest_subset": "subset",
    "load_folder": "loaders.folder",
    "load_csv": "loaders.manifest_csv",
    "load_rfw": "loaders.rfw",
    "read_image": "reading",
    "HaarDetector": "detectors",
    "DlibResnetExtractor": "dlib_resnet",
    "ImageReadError": "errors",
    "ImageDamagedError": "errors",
    "ImageTooLargeError": "errors",
    "DEFAULT_MAX_PIXELS": "reading",
    "DLIB_RESNET_THRESHOLD": "dlib_resnet",
    "IMAGE_READER_VERSION": "reading",
    "model_path": "models",
    "run_extraction": "extraction",
    "run_extractions": "aligned",
    "failure_to_acquire": "aligned",
    "REASON_OTHER_EXTRACTOR": "pipeline",
    "OTHER_EXTRACTOR_PREFIX": "aligned",
    "Detection": "quality",
    "plan_quality": "quality",
    "BUILTIN_MEASURES": "quality",
})
