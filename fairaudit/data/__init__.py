"""The data an audit starts from: :class:`EmbeddingSet` (embeddings labelled with identity and
attributes), :class:`ScoreSet` (comparison scores of a black-box matcher) and the readers of their
files, demographic groups (``groups``) and synthetic populations with planted biases (``synthetic``).

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
    "check_identity_constant": "embedding_set",
    "parquet_has_embeddings": "embedding_set",
    "utf8_error": "score_set",
})
