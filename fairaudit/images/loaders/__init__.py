"""The built-in dataset loaders, one module each: ``folder`` (one folder per identity and a table
of attributes), ``manifest_csv`` (a manifest CSV, with an optional CSV of pairs) and ``rfw`` (Racial
Faces in the Wild); ``paths`` and ``tables`` hold what they share. ``fairaudit.plugins.builtin``
registers them; each returns a manifest checked by :func:`fairaudit.images.validate_manifest`.

May import: ``fairaudit.images.validation``, ``fairaudit.data``, ``fairaudit.common``.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "load_folder": "folder",
    "load_csv": "manifest_csv",
    "load_rfw": "rfw",
    "IMAGE_EXTENSIONS": "folder",
    "RFW_RACES": "rfw",
})
