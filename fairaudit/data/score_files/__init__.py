"""The score files a ScoreSet is read from and written to, one module per format family:
``text`` (what any text score file must be: UTF-8, no NUL, not empty), ``csv_tables``
(fairaudit's and Bob's CSV), ``bob_text`` (Bob's 4- and 5-column text), ``parquet``
(fairaudit's Parquet), and ``formats`` (detecting the format, reading, writing).

May import: ``fairaudit.common`` and, in ``fairaudit.data``, ``input_files``, ``covariates``,
``score_columns``, ``score_covariates`` and ``score_tables``; never the ScoreSet class (readers build
the class they are given). Covariates travel in the fairaudit formats as the columns
``covariate:NAME_a``/``covariate:NAME_b`` (Parquet records their kinds); Bob's formats have none.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "FORMATS": "formats",
    "read": "formats",
    "read_bob_csv": "formats",
    "read_bob_text": "formats",
    "save": "formats",
    "utf8_error": "text",
})
