"""``fairaudit report``: the HTML report of result JSON files, or of the report data JSON of an
earlier report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Mapping

from fairaudit.common import errors

# --- message templates (errors.py conventions: argument, expectation, what came, fix)
RESULT_FILE_IS_DIR = "{name}: {path!r} is a directory, not a result file. Fix: pass the JSON file itself."
RESULT_FILE_UNREADABLE = "{name}: file {path!r} cannot be read ({error}). Fix: check its permissions."


def cmd_report(args: argparse.Namespace) -> int:
    """``fairaudit report RESULT.json [RESULT.json ...] --out report.html``.

    The files are result JSON of any kind the report knows (``result.to_json()``,
    ``fairaudit verify --json``, ``fairaudit identify --json``, ``fairaudit compare --json``
    for a comparison of systems, ``fairaudit covariates --json`` for a covariate audit; each read by
    its ``"kind"``) or, alone, the report data JSON of an earlier report
    (``--json``), whose title and tolerances are kept unless given again.
    """
    from fairaudit.common.files import check_output, save_outputs, write_text_atomic
    from fairaudit.common.serialize import dumps
    from fairaudit.reporting import SCHEMA, load_result, resolve_tolerances
    from fairaudit.reporting.document import _assemble  # the report's own steps: entries, data, page
    from fairaudit.reporting.entries import RESULT_FILE_MISSING, RESULT_FILE_NOT_JSON, _entries, _entries_from_data
    from fairaudit.reporting.formatting import _one_line
    from fairaudit.reporting.rendering import _render

    # outputs are checked before anything is read or drawn
    check_output(args.out, name="--out")
    if args.json:
        check_output(args.json, name="--json")
    tolerances = resolve_tolerances(args.tolerances) if args.tolerances else None
    loaded = []
    for name in args.results:
        path = Path(name)
        if not path.exists():
            raise errors.FairauditInputError(RESULT_FILE_MISSING.format(name="RESULT", path=str(name)))
        if path.is_dir():
            raise errors.FairauditInputError(RESULT_FILE_IS_DIR.format(name="RESULT", path=str(name)))
        try:
            loaded.append(json.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise errors.FairauditInputError(RESULT_FILE_UNREADABLE.format(
                name="RESULT", path=str(name), error=exc.strerror or type(exc).__name__)) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.FairauditInputError(
                RESULT_FILE_NOT_JSON.format(name="RESULT", path=str(name), error=_one_line(exc))) from None
    if len(loaded) == 1 and isinstance(loaded[0], Mapping) and loaded[0].get("schema") == SCHEMA:
        stored = loaded[0]
        entries = _entries_from_data(stored)
        data = _assemble(entries, title=args.title if args.title is not None else stored["title"],
                         tolerances=tolerances if tolerances is not None else stored["tolerances"],
                         population=None, fta=stored["data"]["failure_to_acquire"],
                         population_summary=stored["data"].get("population"), created=stored.get("created"))
    else:
        results = [load_result(obj, name=f"RESULT {name!r}") for name, obj in zip(args.results, loaded)]
        entries = _entries(results)
        data = _assemble(entries, title=args.title if args.title is not None else "fairaudit report",
                         tolerances=tolerances, population=None)
    html = _render(data, entries)
    outputs = [("--out", args.out, lambda p: write_text_atomic(p, html, name="--out"))]
    if args.json:
        text = dumps(data)
        outputs.append(("--json", args.json, lambda p: write_text_atomic(p, text, name="--json")))
    out = save_outputs(outputs)[0]
    s = data["summary"]
    print(f"{len(entries)} result(s); marks: {s['pass']} pass, {s['review']} review, {s['fail']} fail, "
          f"{s['undefined']} undefined.")
    if args.json:
        print(f"Report data: {args.json}")
    print(f"Report: {out}")
    return 0
