"""The self-contained HTML report of one or more results: findings and marks against tolerances,
number formatting, page views, report figures and rendering with Jinja2 templates (``report``).
``fairaudit.report(...)`` is :func:`fairaudit.reporting.report`.

May import: every audit package (``verification``, ``classification``, ``diagnostics``), ``data``
and ``common``. Nothing imports the report but the command line and ``ResultOutput.to_html``.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "report": "document",
    "report_data": "document",
    "render": "document",
    "to_html": "document",
    "load_result": "document",
    "resolve_tolerances": "document",
    "mark": "document",
    "fmt_num": "document",
    "plot_cross": "document",
    "plot_mixture_sweep": "document",
    "plot_classification_roc": "document",
    "plot_confusion": "document",
    "DEFAULT_TOLERANCES": "document",
    "SCHEMA": "document",
    "cmd_report": "document",
})
