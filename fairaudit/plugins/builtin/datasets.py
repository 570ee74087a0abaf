"""Built-in dataset loaders: ``folder``, ``csv`` and ``rfw``.

They register through the same ``register_datasets`` hook as any plugin; the
loaders themselves live in :mod:`fairaudit.images.loaders`.
"""

from __future__ import annotations

from fairaudit.plugins.hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    from fairaudit.images import datasets

    register("folder", datasets.load_folder,
             description="root/<identity>/<images> plus a CSV of attributes per identity")
    register("csv", datasets.load_csv,
             description="a manifest CSV (path, identity, attributes), optional pairs CSV")
    register("rfw", datasets.load_rfw,
             description="Racial Faces in the Wild test set with its pairs and folds")
