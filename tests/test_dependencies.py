"""Every third-party package the product imports (engine/, ui/, app_pages/, app.py, server.py)
is a declared runtime dependency in pyproject.toml; test-only packages stay out of them."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.conftest import ROOT

LOCAL = {"engine", "ui", "app_pages", "bench", "tests", "app", "server"}
# Folders of the product that only an optional extra needs: their imports are declared there.
OPTIONAL = {"engine/backend": "spark"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(extra: str | None = None) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return {_norm(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]) for spec in specs}


def _optional(path) -> bool:
    return any(ROOT / folder in path.parents for folder in OPTIONAL)


def _product_imports(folder: str | None = None) -> set[str]:
    """Third-party imports of the runtime product, or of one OPTIONAL folder."""
    if folder:
        files = list(ROOT.joinpath(folder).rglob("*.py"))
    else:
        files = [p for p in [*ROOT.joinpath("engine").rglob("*.py"), *ROOT.joinpath("ui").rglob("*.py"),
                             *ROOT.joinpath("app_pages").rglob("*.py"), ROOT / "app.py", ROOT / "server.py"]
                 if not _optional(p)]
    names = set()
    for path in files:
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in LOCAL}


def test_every_product_import_is_declared():
    distributions = packages_distributions()
    declared = _declared()
    missing = {}
    for name in sorted(_product_imports()):
        dists = {_norm(d) for d in distributions.get(name, [name])}
        if not dists & declared:
            missing[name] = sorted(dists)
    assert not missing, f"imported but not in [project] dependencies: {missing}"


def test_optional_parts_import_only_what_their_extra_declares():
    distributions = packages_distributions()
    for folder, extra in OPTIONAL.items():
        declared = _declared() | _declared(extra)
        names = _product_imports(folder)
        assert names, f"{folder}: nothing imported? (the check would pass vacuously)"
        missing = {n for n in names if not {_norm(d) for d in distributions.get(n, [n])} & declared}
        assert not missing, f"{folder} imports {missing}, not in the {extra!r} extra"


def test_test_only_packages_are_not_runtime_dependencies():
    imported = {_norm(d) for name in _product_imports() for d in packages_distributions().get(name, [name])}
    for dist in ("jellyfish", "faker", "pytest"):
        assert dist not in _declared() and dist not in imported, dist
    assert "jellyfish" in _declared("test")


def test_the_check_notices_an_undeclared_import(monkeypatch):
    """Control: an import with no declared distribution is reported."""
    monkeypatch.setattr(sys.modules[__name__], "_product_imports", lambda: {"yaml", "nonexistent_pkg_x"})
    try:
        test_every_product_import_is_declared()
    except AssertionError as exc:
        assert "nonexistent_pkg_x" in str(exc) and "yaml" not in str(exc).split(":", 1)[1]
    else:
        raise AssertionError("the check passed an undeclared import")
