"""The data an audit starts from: :class:`EmbeddingSet` (embeddings labelled with identity and
attributes), :class:`ScoreSet` (comparison scores of a black-box matcher) and the readers of their
files, demographic groups (``groups``) and synthetic populations with planted biases (``synthetic``).

Modules: ``embedding_set`` (the EmbeddingSet class), ``embedding_files`` (its ``.npz``, ``.parquet``
and ``.npy`` files), ``labels`` (its label checks), ``covariates`` (sample-level covariates checked), ``input_files`` (checks of any input file before
it is parsed), ``score_set`` (the ScoreSet class), ``score_tables`` (tables and arrays turned into
its columns), ``score_columns`` (those columns checked and encoded), ``score_covariates`` (its covariates per side), ``score_files`` (a sub-package:
score files, one module per format family), ``groups``, ``synthetic`` (drawing a population, or several
systems of one), ``synthetic_model`` (its argument checks and the drawing itself),
``synthetic_presets`` (what a population plants) and ``synthetic_covariates`` (planted covariate effects).

May import: ``fairaudit.common``. Nothing above it (no audit, image pipeline or report).
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "EmbeddingSet": "embedding_set",
    "ScoreSet": "score_set",
    "Groups": "groups",
    "make_groups": "groups",
    "normalize_by": "groups",
    "POOLED": "groups",
    "LABEL_SEP": "groups",
    "labels_of": "groups",
    "render_labels": "groups",
    "check_identity_constant": "labels",
    "check_label_text": "labels",
    "ParquetEmbeddings": "embedding_files",
    "check_input_file": "input_files",
    "parquet_metadata": "input_files",
    "parquet_has_embeddings": "input_files",
    "utf8_error": "score_files.text",
})
