"""The generated parts of the docs site, and the worked examples printed in its pages.

``mkdocs build --strict`` runs in CI (``.ci/run``); these tests check what the
build would generate, without needing mkdocs.
"""

from __future__ import annotations

import doctest
import importlib.util
import inspect
import re
from pathlib import Path

import pytest

from fairaudit.plugins import hookspecs
from fairaudit.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _hooks_module():
    spec = importlib.util.spec_from_file_location("fairaudit_docs_hooks", ROOT / "tools" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs_hooks = _hooks_module()
PAGES = sorted(DOCS.rglob("*.md"))


def _subparsers(parser):
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def test_cli_reference_has_every_command_and_option():
    text = docs_hooks.cli_reference()
    for name, sub in _subparsers(build_parser(plugin_commands=False)).items():
        assert f"## fairaudit {name}" in text
        for action in sub._actions:
            for option in action.option_strings:
                assert option in text, f"{option} of 'fairaudit {name}' is missing from the CLI reference"
    assert "<!-- fairaudit:cli -->" in (DOCS / "reference" / "cli.md").read_text()


def test_every_hook_is_in_the_hook_reference_with_its_signature():
    """As datasette does: a hook missing from the docs fails the tests."""
    text = docs_hooks.hook_reference()
    specs = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(fn, "fairaudit_spec")]
    assert len(specs) >= 5
    for name in specs:
        fn = getattr(hookspecs, name)
        assert f"### {name}{inspect.signature(fn)}" in text
        first_line = inspect.cleandoc(fn.__doc__).splitlines()[0]
        assert docs_hooks._rst_to_md(first_line) in text
    assert "<!-- fairaudit:hooks -->" in (DOCS / "plugins.md").read_text()


def test_rst_literal_blocks_become_code_fences():
    md = docs_hooks._rst_to_md("Call it so::\n\n    f(1)\n    g(2)\n\nUse ``x``.")
    assert md == "Call it so:\n\n```python\nf(1)\ng(2)\n```\n\nUse `x`."


def test_every_example_script_is_shown_in_the_docs():
    embedded = set()
    for page in PAGES:
        for m in docs_hooks.MARKER.finditer(page.read_text()):
            if m["kind"] == "example":
                embedded.add(docs_hooks._parse_args(m["args"])[0])
    scripts = {p.relative_to(ROOT).as_posix() for p in (ROOT / "examples").glob("*.py")}
    assert scripts, "no examples found"
    assert scripts <= embedded, f"examples not embedded in any page: {sorted(scripts - embedded)}"
    for script in embedded:
        assert (ROOT / script).is_file(), f"a page embeds {script}, which does not exist"


def test_example_marker_rejects_unknown_options():
    with pytest.raises(docs_hooks.PluginError, match="unknown option"):
        docs_hooks._parse_args("examples/x.py figure=a.png")


FENCE = re.compile(r"^```[\w-]*\n(.*?)^```", re.S | re.M)


def _doctest_source(page: Path) -> str:
    """The ``>>>`` code blocks of a page, one after the other (a page is one doctest namespace)."""
    return "\n\n".join(block for block in FENCE.findall(page.read_text()) if ">>> " in block)


@pytest.mark.parametrize("page", [p for p in PAGES if _doctest_source(p)],
                         ids=lambda p: p.relative_to(DOCS).as_posix())
def test_worked_examples_in_the_docs_recompute(page):
    """Every ``>>>`` example in a page runs and prints what the page says it prints."""
    test = doctest.DocTestParser().get_doctest(_doctest_source(page), {}, page.name, str(page), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
    assert runner.tries > 0


def test_doctest_source_takes_only_fenced_examples(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("Text >>> not code\n\n```pycon\n>>> 1 + 1\n2\n```\n\n```python\nx = 1\n```\n")
    assert _doctest_source(page) == ">>> 1 + 1\n2\n"
