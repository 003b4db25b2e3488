"""No import circles in the product (engine/, ui/, app_pages/): the module import graph, built
with ast from every `import` at module level and inside functions, has no strongly connected
component of more than one module. `from P import n` imports P (a package's __init__) and, when
n is a submodule, P.n too; a name that is not a module refers to the nearest module holding it."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

FOLDERS = ("engine", "ui", "app_pages")


def product_modules(root: Path = ROOT, folders=FOLDERS) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the folders (a package is its __init__)."""
    modules = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _nearest(name: str, modules: dict[str, Path]) -> str | None:
    """The module `name` refers to: itself, or the nearest enclosing module that exists."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node: ast.AST, package: str) -> list[str]:
    """Dotted names one import statement loads (for `from P import n`: P, and P.n)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parts = package.split(".")
        anchor = parts[: len(parts) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for imported in _imported(node, package):
                target = _nearest(imported, modules)
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _describe(component: list[str], graph: dict[str, set[str]]) -> str:
    inside = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & inside)]
    return "{" + ", ".join(component) + "}: " + "; ".join(edges)


def test_product_has_no_import_circle():
    modules = product_modules()
    assert "engine.ingest.load" in modules and "app_pages.segments" in modules
    graph = import_graph(modules)
    circles = strongly_connected(graph)
    assert not circles, "import circles:\n" + "\n".join(_describe(c, graph) for c in circles)


def test_the_check_finds_circles(tmp_path):
    """Control: a package whose __init__ re-exports a submodule that imports the package back,
    and two modules importing each other (one inside a function, one relatively), are named."""
    pkg = tmp_path / "engine" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from engine.pkg.child import thing\n")
    (pkg / "child.py").write_text("from engine.pkg import helper\nthing = 1\n")
    (pkg / "helper.py").write_text("")
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "a.py").write_text("def f():\n    from ui.b import x\n")
    (tmp_path / "ui" / "b.py").write_text("from . import a\n")
    (tmp_path / "ui" / "c.py").write_text("from ui import a\n")
    graph = import_graph(product_modules(tmp_path, ("engine", "ui")))
    assert sorted(strongly_connected(graph)) == [["engine.pkg", "engine.pkg.child"], ["ui.a", "ui.b"]]
