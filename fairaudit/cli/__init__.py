"""The ``fairaudit`` command line: ``main`` (``commands``), the parser (``parser``), data loading for
commands (``loading``) and one module per command family: ``verify``, ``identify``, ``classify`` (with
``diagnose``), ``demo`` (with ``synth``), ``report``, ``plugins`` and ``images`` (``compare``,
``extract``). Plugins add commands through the ``register_commands`` hook.

May import: everything (it is the top of the pipeline).
"""

from fairaudit.cli.commands import main
from fairaudit.cli.loading import load_data
from fairaudit.cli.parser import EXIT_BAD_INPUT, build_parser

__all__ = ["EXIT_BAD_INPUT", "build_parser", "load_data", "main"]
