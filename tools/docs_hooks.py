"""mkdocs hooks: the parts of the docs that are generated from the code.

Markers in a page (HTML comments, so the raw Markdown still reads well) are
replaced at build time:

``<!-- fairaudit:cli -->``
    the CLI reference: ``--help`` of ``fairaudit`` and of every built-in
    command, from :func:`fairaudit.cli.build_parser` itself.
``<!-- fairaudit:hooks -->``
    the plugin hook reference, from the hookspec signatures and docstrings in
    :mod:`fairaudit.plugins.hookspecs`.
``<!-- fairaudit:layout -->``
    every package and module of fairaudit with its size and what it holds.
``<!-- fairaudit:example examples/NAME.py [figures=a.png,b.png] -->``
    the script's code, what it printed when the build ran it, and the named
    figures it wrote. Every example is run once per build (``python
    examples/NAME.py out`` in a scratch directory), so a failing example fails
    the build and the docs never show output the code does not produce.

Only the standard library and fairaudit are needed; mkdocs loads this file
through ``hooks:`` in ``mkdocs.yml``.
"""

from __future__ import annotations

import inspect
import os
import posixpath
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

try:
    from mkdocs.exceptions import PluginError
except ImportError:  # the tests use the generators without mkdocs installed
    PluginError = RuntimeError

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"<!--\s*fairaudit:(?P<kind>[a-z]+)(?P<args>[^>]*?)\s*-->")
GENERATED_DIR = "generated"
HELP_WIDTH = "100"

_example_runs: dict[str, dict] = {}
_scratch = tempfile.TemporaryDirectory(prefix="fairaudit-docs-")


# ----------------------------------------------------------------------------
# CLI reference
# ----------------------------------------------------------------------------
def cli_reference() -> str:
    """Markdown for every built-in command: its one-line help and its full ``--help``."""
    os.environ["COLUMNS"] = HELP_WIDTH  # argparse wraps to $COLUMNS: keep the page stable
    from fairaudit.cli import build_parser

    parser = build_parser(plugin_commands=False)
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    helps = {a.dest: a.help for a in subparsers._choices_actions}
    out = ["```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in subparsers.choices.items():
        out += [f"## fairaudit {name}", "", f"{helps.get(name, '').capitalize()}.", "",
                "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------
# hook reference
# ----------------------------------------------------------------------------
def hook_names() -> list[str]:
    from fairaudit.plugins import hookspecs

    return [name for name, obj in vars(hookspecs).items()
            if inspect.isfunction(obj) and hasattr(obj, "fairaudit_spec")]


def hook_reference() -> str:
    """Markdown for every hookspec: a heading with its signature and its docstring."""
    from fairaudit.plugins import hookspecs

    out = []
    for name in hook_names():
        func = getattr(hookspecs, name)
        doc = inspect.cleandoc(func.__doc__ or "")
        out += [f"### {name}{inspect.signature(func)}", "", _rst_to_md(doc), ""]
    return "\n".join(out)


def _rst_to_md(text: str) -> str:
    """The little reStructuredText our docstrings use: ``literal`` and ``::`` blocks."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            intro = line.rstrip()[:-2].rstrip()
            out.append(_inline(intro) + ":" if intro else "")
            block, i = [], i + 1
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            out += ["", "```python", textwrap.dedent("\n".join(block)).strip("\n"), "```", ""]
            continue
        out.append(_inline(line))
        i += 1
    return "\n".join(out)


def _inline(line: str) -> str:
    return re.sub(r"``([^`]+)``", r"`\1`", line)


# ----------------------------------------------------------------------------
# examples
# ----------------------------------------------------------------------------
def _parse_args(args: str) -> tuple[str, list[str]]:
    parts = shlex.split(args)
    if not parts:
        raise PluginError("fairaudit:example needs a script path, e.g. <!-- fairaudit:example examples/x.py -->")
    figures: list[str] = []
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key != "figures" or not value:
            raise PluginError(f"fairaudit:example: unknown option {part!r}; only figures=a.png,b.png")
        figures += [v for v in value.split(",") if v]
    return parts[0], figures


def run_example(script: str) -> dict:
    """Run ``examples/...py out`` in a scratch directory once per build; return its code, output, out dir."""
    path = (ROOT / script).resolve()
    if not path.is_file():
        raise PluginError(f"fairaudit:example: {script} does not exist")
    key = str(path)
    stamp = path.stat().st_mtime_ns
    if key in _example_runs and _example_runs[key]["stamp"] == stamp:
        return _example_runs[key]
    workdir = Path(_scratch.name) / path.stem
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MPLBACKEND="Agg", COLUMNS=HELP_WIDTH)
    proc = subprocess.run([sys.executable, str(path), "out"], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        raise PluginError(f"example {script} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    run = {"stamp": stamp, "code": path.read_text(), "stdout": proc.stdout.rstrip(), "out": workdir / "out"}
    _example_runs[key] = run
    return run


def _example_markers(files) -> list[tuple[str, list[str]]]:
    found = []
    for f in files.documentation_pages():
        for m in MARKER.finditer(Path(f.abs_src_path).read_text(encoding="utf-8")):
            if m["kind"] == "example":
                found.append(_parse_args(m["args"]))
    return found


def _figure_uri(script: str, figure: str) -> str:
    return f"{GENERATED_DIR}/{Path(script).stem}/{figure}"


def example_markdown(script: str, figures: list[str], page_uri: str) -> str:
    run = run_example(script)
    out = [f"`{script}`", "", "```python", run["code"].rstrip(), "```", ""]
    if run["stdout"]:
        out += ["What it printed when these docs were built:", "", "```text", run["stdout"], "```", ""]
    for figure in figures:
        target = _figure_uri(script, figure)
        rel = posixpath.relpath(target, posixpath.dirname(page_uri) or ".")
        out += [f"![{figure}, written by {script}]({rel})", ""]
    return "\n".join(out)


# ----------------------------------------------------------------------------
# mkdocs events
# ----------------------------------------------------------------------------
def on_files(files, config):
    """Run every example a page embeds and add the figures it names to the site."""
    from mkdocs.structure.files import File

    for script, figures in _example_markers(files):
        run = run_example(script)
        for figure in figures:
            src = run["out"] / figure
            if not src.is_file():
                written = sorted(p.name for p in run["out"].rglob("*.png")) if run["out"].exists() else []
                raise PluginError(f"example {script} did not write {figure}; it wrote {written}")
            uri = _figure_uri(script, figure)
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(src)))
    return files


def layout_reference() -> str:
    """Markdown list of every package and module of fairaudit with its line count and the first line
    of its docstring, read from the source at build time (so the page cannot go stale)."""
    import ast

    root = Path(__file__).resolve().parents[1] / "fairaudit"
    rows = ["| module | lines | what it holds |", "|---|---:|---|"]
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        name = ".".join(parts)
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = " ".join(doc.split("\n\n")[0].split()).replace("|", "\\|")
        shown = f"**`{name}`**" if rel.name == "__init__" else f"`{name}`"
        rows.append(f"| {shown} | {path.read_text(encoding='utf-8').count(chr(10))} | {first} |")
    return "\n".join(rows)


def on_page_markdown(markdown, page, config, files):
    def replace(m: re.Match) -> str:
        kind = m["kind"]
        if kind == "cli":
            return cli_reference()
        if kind == "hooks":
            return hook_reference()
        if kind == "layout":
            return layout_reference()
        if kind == "example":
            script, figures = _parse_args(m["args"])
            return example_markdown(script, figures, page.file.src_uri)
        raise PluginError(f"{page.file.src_uri}: unknown marker fairaudit:{kind}")

    return MARKER.sub(replace, markdown)
