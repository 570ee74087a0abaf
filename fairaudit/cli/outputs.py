"""The ``--json``, ``--plots`` and ``--html`` outputs of a command that writes one result: checked
before the work starts (a long audit is never computed for nothing) and written, each atomically,
at the end (a write that fails still saves the rest; see :func:`fairaudit.common.files.save_outputs`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

OPTIONS = (("--json", "json", False), ("--plots", "plots", True), ("--html", "html", False))


def check_result_outputs(args: argparse.Namespace) -> None:
    """Refuse an output path that cannot be written, before any work."""
    from fairaudit.common.files import check_output

    for option, attr, directory in OPTIONS:
        path = getattr(args, attr, None)
        if path:
            check_output(path, name=option, directory=directory)


def write_result_outputs(result: Any, args: argparse.Namespace, save_plots: Callable[[Any, Any], Any]) -> list[Path]:
    """Write ``result`` to the outputs given (the HTML report last: it is the slowest) and say where."""
    from fairaudit.common.files import save_outputs

    writers = {"json": lambda p: result.to_json(p), "plots": lambda p: save_plots(result, p),
               "html": lambda p: result.to_html(p)}
    outputs = [(option, getattr(args, attr), writers[attr]) for option, attr, _ in OPTIONS if getattr(args, attr, None)]
    written = save_outputs(outputs)
    for (option, _, _), path in zip(outputs, written):
        print(f"{option}: written to {path}")
    return written
