"""The layout: imports point down the pipeline, no import cycle, no oversized module.

A small AST walk over ``fairaudit/``: every ``import``/``from ... import`` (module level or inside
a function) is resolved to the fairaudit module it names, and checked against the stage order
documented in ``docs/contributing/layout.md``.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "fairaudit"

#: rank of every package: a module may import its own package and packages of lower rank only
RANKS = {
    "common": 0,
    "plugins": 1,
    "data": 2,
    "images": 3,
    "verification": 3,
    "diagnostics": 3,
    "identification": 4,
    "classification": 4,
    "planning": 4,
    "systems": 4,
    "covariates": 4,
    "reporting": 5,
    "cli": 6,
    # the built-in registrations are plugins like third-party ones: above every stage they register
    "plugins.builtin": 7,
    "": 8,  # fairaudit/__init__.py, the public facade
}
#: the only upward imports, each lazy (inside a function) and documented in the layout page
ALLOWED_UPWARD = {
    ("fairaudit.common.results", "fairaudit.reporting"),  # ResultOutput.to_html draws through the report
}
#: the longest module allowed (templates and tests aside)
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    parts = module.split(".")[1:]
    if parts[:2] == ["plugins", "builtin"]:
        return "plugins.builtin"
    return parts[0] if parts else ""


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def lazy_map(init: Path) -> dict[str, str]:
    """Name -> submodule of a package ``__init__`` that uses ``lazy_exports``."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports":
            table = node.args[1]
            return {k.value: v.value for k, v in zip(table.keys, table.values)}
    return {}


LAZY = {name: lazy_map(path) for name, path in MODULES.items() if path.name == "__init__.py"}


def resolve(module: str, name: str | None) -> str:
    """The fairaudit module an import really loads (through a package's lazy exports)."""
    if name is not None:
        if f"{module}.{name}" in MODULES:
            return f"{module}.{name}"
        sub = LAZY.get(module, {}).get(name)
        if sub is not None:
            return f"{module}.{sub}"
    return module


def imports(path: Path, *, module_level_only: bool = False) -> list[tuple[str, int]]:
    """(target module, line) of every fairaudit import in ``path``."""
    me = module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    if module_level_only:  # what runs at import: try blocks too, not functions or `if TYPE_CHECKING:`
        def typing_only(stmt: ast.stmt) -> bool:
            test = getattr(stmt, "test", None)
            return isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(test)

        nodes = [n for stmt in tree.body for n in ast.walk(stmt)
                 if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                 and not typing_only(stmt)]
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("fairaudit")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("fairaudit"):
                continue
            for a in node.names:
                out.append((resolve(mod, a.name), node.lineno))
    return out


def test_every_module_is_found():
    assert len(MODULES) > 40 and "fairaudit.data.groups" in MODULES


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_pipeline(module):
    me = package_of(module)
    bad = []
    for target, line in imports(MODULES[module]):
        if target == "fairaudit" or target.startswith("fairaudit.__"):
            continue  # `from fairaudit import __version__`
        other = package_of(target)
        if other == me or RANKS[other] < RANKS[me]:
            continue
        if any(module == a and target.startswith(b) for a, b in ALLOWED_UPWARD):
            continue
        bad.append(f"line {line}: {module} ({me}) imports {target} ({other})")
    assert not bad, "\n".join(bad)


def test_no_import_cycle_among_module_level_imports():
    # `from fairaudit import __version__` is left out: the root defines it before importing anything
    graph = {m: {t for t, _ in imports(p, module_level_only=True) if t in MODULES and t not in (m, "fairaudit")}
             for m, p in MODULES.items()}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_imports_on_its_own(module):
    """Imported first, in a fresh interpreter, each module loads (no order-dependent cycle)."""
    if module.startswith("fairaudit.cli.__main__"):
        pytest.skip("runs the command line")
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, capture_output=True)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_oversized(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES}): split it by concern"


@pytest.mark.parametrize("module", sorted(m for m, p in MODULES.items() if p.name == "__init__.py"))
def test_every_package_says_what_it_holds(module):
    doc = ast.get_docstring(ast.parse(MODULES[module].read_text(encoding="utf-8")))
    assert doc, f"{module} has no docstring"
    if module.count(".") == 1 and package_of(module) not in ("", "plugins.builtin"):
        assert "May import" in doc, f"{module}: say what the package may import"


def test_package_exports_resolve():
    for package, names in LAZY.items():
        mod = importlib.import_module(package)
        for name in names:
            assert getattr(mod, name) is not None, f"{package}.{name}"


def test_the_layout_page_explains_every_package():
    page = (ROOT.parent / "docs" / "contributing" / "layout.md").read_text(encoding="utf-8")
    for package in RANKS:
        if package:
            assert f"`{package}`" in page, package
    assert "<!-- fairaudit:layout -->" in page
