"""The ``fairaudit`` command line: the parser, data loading for commands and one function per
command (``main``); plugins add commands through the ``register_commands`` hook.

May import: everything (it is the top of the pipeline).
"""

from fairaudit.cli.commands import EXIT_BAD_INPUT, build_parser, load_data, main

__all__ = ["EXIT_BAD_INPUT", "build_parser", "load_data", "main"]
