"""The ``fairaudit`` command line: ``main`` parses the arguments and runs the command.

Bad input ends with a one-line error that names the problem and the fix, and
exit code 2; never a traceback.

The parser is in ``parser``, data loading in ``loading`` and the commands in one module per
family (``verify``, ``identify``, ``classify``, ``demo``, ``report``, ``plugins``, ``images``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

# the loading messages and load_data stay importable from here (tests match the messages)
from fairaudit.cli.loading import DATA_IS_DIR, DATA_MISSING, LABELS_EMPTY_CELLS, load_data  # noqa: F401
from fairaudit.cli.parser import EXIT_BAD_INPUT, build_parser
from fairaudit.common.errors import FairauditInputError


#: options only a comparison of systems takes: ``fairaudit compare a.npz b.npz --by ...`` is one
_SYSTEMS_OPTIONS = ("--by", "--name", "--figure", "--n-boot", "--fmr", "--eer", "--reference-group", "--html")


def _route(argv: list[str]) -> list[str]:
    """``compare`` compares two photos, or, given options only a comparison of systems has (``--by``
    above all: the photo comparison has no groups), several systems: ``compare-systems``."""
    if argv and argv[0] == "compare" and any(a.split("=")[0] in _SYSTEMS_OPTIONS for a in argv[1:]):
        return ["compare-systems", *argv[1:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_route(list(sys.argv[1:] if argv is None else argv)))
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return code
    except FairauditInputError as exc:
        print(f"fairaudit: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("fairaudit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error of ours
        # as the Python docs advise: point stdout at devnull so the flush at exit cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
