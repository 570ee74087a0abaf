"""The self-contained HTML report of one or more results (``fairaudit.report(...)`` is
:func:`fairaudit.reporting.report`). One module per concern:

* ``entries``: the results of a report, loaded from objects, dicts or JSON files (``load_result``);
* ``tolerances``: the marked figures, their default bands and marks (``resolve_tolerances``, ``mark``);
* ``formatting``: numbers and intervals as the report writes them (``fmt_num``);
* ``findings``: the findings, each a sentence with its mark;
* ``data_section``: failures to acquire, warnings and the population summary;
* ``figures``: the plots of classification results and drawing figures into the page;
* ``identification``, ``systems`` (findings) and ``systems_view`` (tables, figures): the sections of a
  1:N audit and of a comparison of systems;
* ``views``: the cells, tables and figures of every section;
* ``rendering``: the Jinja2 environment and the page (templates in ``templates/``);
* ``document``: the entry points ``report``, ``report_data``, ``render`` and ``to_html``.

May import: every audit package (``verification``, ``systems``, ``identification``,
``classification``, ``diagnostics``), ``data`` and ``common``. Nothing imports the report but the
command line and ``ResultOutput.to_html``.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "report": "document",
    "report_data": "document",
    "render": "document",
    "to_html": "document",
    "load_result": "entries",
    "resolve_tolerances": "tolerances",
    "mark": "tolerances",
    "fmt_num": "formatting",
    "plot_cross": "figures",
    "plot_mixture_sweep": "figures",
    "plot_classification_roc": "figures",
    "plot_confusion": "figures",
    "DEFAULT_TOLERANCES": "tolerances",
    "SCHEMA": "entries",
})
