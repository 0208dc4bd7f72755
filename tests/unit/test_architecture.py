"""Imports point one way: no cycles (lazy imports included), the core never names the GUI.

Reads the source with ``ast``, so a lazy ``import`` inside a function counts like a top-level one.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("agent", "ui")
GUI_LIBRARIES = {"tkinter", "ttkbootstrap", "pystray", "PIL"}


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (REPO / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's imported names, as written (absolute), lazy imports included."""
    out = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                names.add(base)
                names.update(f"{base}.{a.name}" for a in node.names)
        out[name] = names
    return out


def _own_graph() -> dict[str, set[str]]:
    mods = _modules()

    def resolve(target: str) -> str | None:
        while target and target not in mods:
            target = target.rpartition(".")[0]
        return target or None

    graph = {}
    for name, names in _imports(mods).items():
        targets = {resolve(t) for t in names} - {None, name}
        # a submodule importing its own package's __init__ is not an edge of the design
        graph[name] = {t for t in targets if not name.startswith(t + ".")}
    return graph


def test_no_import_cycles():
    try:
        tuple(graphlib.TopologicalSorter(_own_graph()).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_cli_is_the_only_core_module_that_names_the_ui():
    graph = _own_graph()
    offenders = {m: sorted(t for t in targets if t.split(".")[0] == "ui")
                 for m, targets in graph.items() if m.startswith("agent") and m != "agent.cli"}
    assert {m: t for m, t in offenders.items() if t} == {}


def test_the_core_never_imports_a_gui_toolkit():
    imports = _imports(_modules())
    offenders = {m: sorted(n for n in names if n.split(".")[0] in GUI_LIBRARIES)
                 for m, names in imports.items() if m.startswith("agent")}
    assert {m: n for m, n in offenders.items() if n} == {}


def test_only_the_cli_prints():
    """The demo and ``raksbl run`` hand their lines to the CLI; the sandbox is a developer tool
    with its own entry point and prints for itself."""
    printing = set()
    for name, path in _modules().items():
        if not name.startswith("agent") or name == "agent.cli" or name.startswith("agent.sandbox"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                printing.add(name)
    assert printing == set()
