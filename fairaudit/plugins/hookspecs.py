"""Plugin hooks of fairaudit (pluggy, project name ``fairaudit``).

Every hook is collect-all: fairaudit calls the hook of every plugin with a
``register`` callback, and the plugin calls it once per thing it provides::

    from fairaudit import hookimpl

    @hookimpl
    def register_extractors(register):
        register("my-model", MyExtractor, description="My face model, 512-d")

``register(name, factory, *, description="")`` takes a unique name and a
factory: a class or function that builds the object when it is first used, so
that registering never imports heavy libraries or loads weights. A name that
two plugins register is an error naming both.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("fairaudit")
hookimpl = pluggy.HookimplMarker("fairaudit")


@hookspec
def register_extractors(register):
    """Register image -> embedding extractors.

    The factory builds an object with ``embed(faces)`` (a list of aligned face
    images as HxWx3 uint8 RGB arrays -> float array (n, d)), a
    ``detect_and_align(image)`` method that returns the aligned face or None
    when no face is found, ``cache_key()`` (a string that changes whenever the
    embeddings would; the extraction cache is namespaced by it), and the
    attributes ``name`` and ``dim``.
    """


@hookspec
def register_heads(register):
    """Register classifier heads: factories of unfitted scikit-learn style estimators.

    The factory is called with keyword options (e.g. ``random_state``) and
    returns an estimator with ``fit``, ``predict_proba`` and ``classes_`` that
    scikit-learn's ``clone`` accepts.
    """


@hookspec
def register_splits(register):
    """Register demographic split strategies.

    The factory builds a strategy object with a ``name`` and a method
    ``train_sets(pool, *, groups, target, identity, rng)`` that yields
    ``(model_name, train_indices)`` for every model the strategy defines (see
    ``fairaudit.classification.splits``). The classification audit draws the one
    identity-disjoint test set itself, so a strategy only ever sees the
    training pool.
    """


@hookspec
def register_datasets(register):
    """Register dataset loaders that return a manifest.

    The factory is called as ``factory(root, **options)`` and returns a
    manifest: a DataFrame with columns ``path``, ``identity`` and one column
    per attribute. Protocols with fixed pairs add ``manifest.attrs["pairs"]``,
    a DataFrame with ``path_a``, ``path_b`` and ``genuine``.
    """


@hookspec
def register_quality(register):
    """Register image quality measures, computed by ``extract`` and returned as numeric covariates.

    The factory builds a measure: a callable ``measure(image, *, box, confidence, landmarks)``
    that gets the decoded image (HxWx3 uint8 RGB), the face box ``(left, top, right, bottom)``,
    the detector's confidence and dlib's 5 landmark points as a (5, 2) array of (x, y) (each None
    when the extractor does not give it) and returns a dict from covariate names to finite
    floats, the same names for every image. Its optional attribute ``requires`` (a tuple among
    ``"box"``, ``"confidence"``, ``"landmarks"``) and method ``applies(extractor)`` (None, or the
    reason why it cannot be computed) declare when it cannot be computed: it is then left out of
    the whole run with a note, never NaN for some images. ``version`` (str, optional) is part of
    the cache key of its values. See ``fairaudit.images.quality``; the built-ins are
    ``face_size``, ``sharpness``, ``brightness``, ``contrast``, ``detector_confidence`` and ``yaw``.
    """


@hookspec
def register_commands(subparsers):
    """Add sub-commands to the ``fairaudit`` command line.

    ``subparsers`` is the argparse sub-parser collection of the ``fairaudit``
    command: call ``subparsers.add_parser(name, help=...)`` and
    ``parser.set_defaults(func=callable)``; ``func(args)`` returns the exit
    code. Raise ``fairaudit.FairauditInputError`` for bad input: the CLI prints
    it as one line and exits with code 2. The reference plugin adds
    ``fairaudit study diveface`` this way.
    """
