"""Every third-party package the product imports (engine/, ui/, app_pages/, app.py, server.py)
is a declared runtime dependency in pyproject.toml; test-only packages stay out of them, and what
the tests import is declared in the test extra."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions as _installed

from tests.conftest import ROOT

# Installed distributions by top-level import name: read once (it walks every installed package).
packages_distributions = cache(_installed)
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


def _third_party(files) -> set[str]:
    """Top-level names of the non-standard, non-local packages the files import (anywhere in them)."""
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


@cache
def _product_imports(folder: str | None = None) -> frozenset[str]:
    """Third-party imports of the runtime product, or of one OPTIONAL folder."""
    if folder:
        return frozenset(_third_party(ROOT.joinpath(folder).rglob("*.py")))
    return frozenset(_third_party(p for p in [*ROOT.joinpath("engine").rglob("*.py"), *ROOT.joinpath("ui").rglob("*.py"),
                                    *ROOT.joinpath("app_pages").rglob("*.py"), ROOT / "app.py", ROOT / "server.py"]
                        if not _optional(p)))


def _undeclared(names: set[str], declared: set[str]) -> dict[str, list[str]]:
    distributions = packages_distributions()
    missing = {}
    for name in sorted(names):
        dists = {_norm(d) for d in distributions.get(name, [name])}
        if not dists & declared:
            missing[name] = sorted(dists)
    return missing


def test_every_product_import_is_declared():
    missing = _undeclared(_product_imports(), _declared())
    assert not missing, f"imported but not in [project] dependencies: {missing}"


# Test folders whose imports an extra other than `test` declares (they skip without it).
TEST_EXTRAS = {"tests/spark": "spark"}


def test_every_test_import_is_declared_in_the_test_extra():
    """Oracles and stand-ins the tests import (a reference Soundex, a local OIDC provider's JWT
    library) are declared in the `test` extra, not borrowed from what another package pulls in."""
    declared = _declared() | _declared("test")
    files = [p for p in ROOT.joinpath("tests").rglob("*.py")
             if not any(ROOT / folder in p.parents for folder in TEST_EXTRAS)]
    names = _third_party(files)
    assert {"jellyfish", "pytest"} <= names, "nothing found? (the check would pass vacuously)"
    missing = _undeclared(names, declared)
    assert not missing, f"imported by tests but not in the test extra: {missing}"
    for folder, extra in TEST_EXTRAS.items():
        missing = _undeclared(_third_party(ROOT.joinpath(folder).rglob("*.py")), declared | _declared(extra))
        assert not missing, f"{folder} imports {missing}, not in the {extra!r} extra"


def test_optional_parts_import_only_what_their_extra_declares():
    for folder, extra in OPTIONAL.items():
        names = _product_imports(folder)
        assert names, f"{folder}: nothing imported? (the check would pass vacuously)"
        missing = _undeclared(names, _declared() | _declared(extra))
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
