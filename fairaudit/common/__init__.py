"""What every stage shares: the error type and its message templates, atomic writes and output
checks (``files``), JSON conversion (``serialize``), provenance, BLAS thread limits, ``random_state``
resolution (``seeds``), plain-text tables (``text``), the result mixin (``results``), Dask executors
and lazy package exports.

May import: the standard library, numpy and pandas (and, lazily inside functions, Dask). Nothing
from the rest of fairaudit, except the one lazy call of ``ResultOutput.to_html`` into the report.
"""
