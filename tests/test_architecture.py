"""The shape of lib/: Streamlit stays in lib.ui (and pages/, app.py), lib's modules import each other without
cycles, and its packages in layers: core under the domains (auth, litellm, usage, catalog, health), the domains
under the entry points (cli, ui, the services).

The import graph is read from the source with ast: every import statement, function-level ones included, since
a deferred import is still a dependency (it only hides the cycle from the interpreter)."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import lib

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "lib"

# Which lib packages each layer-bound package may import (itself always). Not listed (cli, ui, services):
# entry points, free to use the domains; only lib.ui may draw with Streamlit.
ALLOWED = {
    "core": set(),
    "auth": {"core"},
    "litellm": {"core"},
    "usage": {"core", "litellm"},
    "catalog": {"core", "auth", "litellm", "usage"},
    "providers": {"core", "auth", "litellm", "usage"},
    "health": {"core", "auth", "litellm", "usage", "catalog"},
    "keys": {"core", "auth", "litellm", "usage"},
    "logs": {"core", "auth", "litellm", "usage"},
    "routing": {"core", "auth", "litellm", "usage", "providers"},
    "console_settings": {"core", "auth"},
}
STREAMLIT = ("streamlit", "streamlit_authenticator")


def lib_modules() -> dict[str, Path]:
    """Every module of lib by dotted name (a package by its own name: lib.cli is lib/cli/__init__.py)."""
    out = {}
    for path in sorted(LIB.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = lib_modules()


def imports(module: str, path: Path) -> list[tuple[str, int]]:
    """(imported module, line) of every import in `path`, at any depth. `from a.b import c` counts as importing
    a.b.c when that is a module, else a.b."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1 packages
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                name = f"{base}.{alias.name}"
                found.append((name if name in MODULES else base, node.lineno))
    return found


def lib_graph() -> dict[str, dict[str, int]]:
    """module -> {lib module it imports: line of the first such import}."""
    graph: dict[str, dict[str, int]] = {m: {} for m in MODULES}
    for module, path in MODULES.items():
        for target, line in imports(module, path):
            if target in MODULES and target != module:
                graph[module].setdefault(target, line)
    return graph


def layer(module: str) -> str:
    """The lib package (or top-level module) a module belongs to: lib.usage.store -> usage ("" for lib itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The shortest cycle (a path back to its start) through each module that is on one, each cycle once."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    found: dict[tuple[str, ...], list[str]] = {}
    for group in groups:
        for start in group:
            cycle = _cycle_through(graph, set(group), start)
            first = cycle.index(min(cycle))  # the same cycle from another start: one entry
            found.setdefault(tuple(cycle[first:-1] + cycle[:first]), cycle)
    return list(found.values())


def _cycle_through(graph: dict[str, dict[str, int]], group: set[str], start: str) -> list[str]:
    """The shortest path start -> ... -> start inside `group` (breadth first)."""
    came_from: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v]):
            if w == start:
                path: list[str] = []
                step: str | None = v
                while step is not None:
                    path.append(step)
                    step = came_from[step]
                return path[::-1] + [start]
            if w in group and w not in came_from:
                came_from[w] = v
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")


def describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    return (
        " -> ".join(cycle)
        + "  ("
        + ", ".join(f"{MODULES[a].relative_to(ROOT)}:{graph[a][b]}" for a, b in zip(cycle, cycle[1:]))
        + ")"
    )


# -- no Streamlit outside lib.ui -----------------------------------------------------------------------------
CHECK_NO_STREAMLIT = """
import importlib, pkgutil, sys
name = sys.argv[1]
module = importlib.import_module(name)
names = [name] + [m.name for m in pkgutil.walk_packages(getattr(module, "__path__", []), name + ".")
                  if not m.name.endswith(".__main__")]      # __main__ runs the command
for n in names:
    importlib.import_module(n)
    assert "streamlit" not in sys.modules, f"importing {n} imported streamlit"
print(len(names))
"""
HEADLESS = sorted(f"lib.{m.name}" for m in pkgutil.iter_modules(lib.__path__) if m.name != "ui")


@pytest.mark.parametrize("name", HEADLESS)
def test_importing_lib_outside_ui_never_imports_streamlit(name):
    """Each package (and every module in it) in a fresh interpreter: the CLI and cron jobs run without Streamlit."""
    proc = subprocess.run(
        [sys.executable, "-c", CHECK_NO_STREAMLIT, name], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) >= 1


def test_only_lib_ui_pages_and_app_import_streamlit():
    found = [
        f"{MODULES[m].relative_to(ROOT)}:{line} imports {target}"
        for m, path in MODULES.items()
        if layer(m) != "ui"
        for target, line in imports(m, path)
        if target.split(".")[0] in STREAMLIT
    ]
    assert not found, "\n".join(found)


# -- the import graph ------------------------------------------------------------------------------------------
def test_lib_modules_import_each_other_without_cycles():
    graph = lib_graph()
    found = cycles(graph)
    assert not found, "import cycles in lib:\n" + "\n".join(describe(graph, c) for c in found)


def test_packages_import_only_the_layers_below_them():
    graph = lib_graph()
    wrong = []
    for module, targets in graph.items():
        for target, line in targets.items():
            own, other = layer(module), layer(target)
            if own == other:
                continue
            refused = (own in ALLOWED and other not in ALLOWED[own]) or (other == "ui" and own != "ui")
            if refused:
                wrong.append(f"{module} imports {target} ({MODULES[module].relative_to(ROOT)}:{line})")
    assert not wrong, "imports across layers that the layering refuses:\n" + "\n".join(sorted(wrong))


# -- the checks themselves can fail --------------------------------------------------------------------------
def test_cycles_are_found_and_shown_as_a_path():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}, "e": {}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    two = {"cli": {"catalog": 1, "users": 2}, "catalog": {"cli": 3}, "users": {"cli": 4}}
    assert cycles(two) == [["catalog", "cli", "catalog"], ["users", "cli", "users"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []


def test_imports_are_read_at_every_depth(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from lib.core import settings\n    import lib.usage.store\n")
    assert imports("lib.x.m", source) == [("os", 1), ("lib.core.settings", 4), ("lib.usage.store", 5)]
