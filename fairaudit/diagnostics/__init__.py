"""Embedding diagnostics: a 2-D map (t-SNE or PCA) coloured by each attribute and a probe of how
well each attribute can be predicted from the embedding (``audit``).

May import: ``fairaudit.data`` and ``fairaudit.common``.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "embedding_diagnostics": "audit",
    "DiagnosticsResult": "audit",
    "plot_embedding": "audit",
})
