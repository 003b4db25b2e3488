"""One vocabulary: identifier types, email patterns and the process check are defined once
(engine.identifiers, engine.processes) and every other engine module imports them."""
from __future__ import annotations

import ast
from pathlib import Path

import duckdb

from engine import identifiers
from tests.conftest import ROOT

HOMES = {ROOT / "engine" / "identifiers.py", ROOT / "engine" / "processes.py"}
VOCABULARY = ("CLICK_ID_TYPES", "BROWSER_ID_TYPES", "OTHER_CLICK_ID_TYPES", "MOBILE_AD_ID_TYPES", "AD_ID_TYPES")
ID_TYPE_NAMES = set(identifiers.AD_ID_TYPES)


def copies(source: str) -> list[str]:
    """What a module's source defines that belongs to the vocabulary: an identifier-type list,
    a tuple/list/set of two or more ad or click id names, an email pattern, a pid_alive."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if any(n in VOCABULARY for n in names) and not isinstance(node.value, (ast.Name, ast.Attribute)):
                found.append(f"defines {names[0]}")
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len([v for v in values if v in ID_TYPE_NAMES]) >= 2:
                found.append(f"lists id types {values}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "]+@" in node.value or "+@[" in node.value:
                found.append(f"an email pattern {node.value!r}")
        elif isinstance(node, ast.FunctionDef) and node.name.lstrip("_") == "pid_alive":
            found.append(f"defines {node.name}")
    return found


def test_no_engine_module_defines_its_own_copy():
    offenders = {}
    for path in sorted((ROOT / "engine").rglob("*.py")):
        if path not in HOMES:
            found = copies(path.read_text(encoding="utf-8"))
            if found:
                offenders[str(path.relative_to(ROOT))] = found
    assert not offenders, offenders


def test_the_check_finds_copies():
    """Control: each kind of copy is reported."""
    assert copies('AD_ID_TYPES = ("madid", "idfa")\n') == ["defines AD_ID_TYPES", "lists id types ['madid', 'idfa']"]
    assert copies('x = ["gclid", "fbc"]\n') == ["lists id types ['gclid', 'fbc']"]
    assert copies("R = r'^[^@\\s]+@[^@\\s]+$'\n") == ["an email pattern '^[^@\\\\s]+@[^@\\\\s]+$'"]
    assert copies("def _pid_alive(pid):\n    pass\n") == ["defines _pid_alive"]
    assert copies("from engine.identifiers import AD_ID_TYPES\nX = AD_ID_TYPES\n") == []


def test_users_read_the_one_vocabulary():
    from engine import clickids
    from engine.collect import tail
    from engine.activation import sync
    from engine.identity import records
    from engine.processes import pid_alive
    from engine.segments import compiler

    assert clickids.CLICK_ID_TYPES is records.CLICK_ID_TYPES is identifiers.CLICK_ID_TYPES
    assert compiler.AD_ID_TYPES is identifiers.AD_ID_TYPES
    assert set(identifiers.MOBILE_AD_ID_TYPES) <= set(identifiers.AD_ID_TYPES)
    assert set(identifiers.CLICK_ID_TYPES) <= set(identifiers.AD_ID_TYPES)
    assert sync.pid_alive is tail.pid_alive is pid_alive


def test_email_patterns_read_alike_in_python_and_duckdb():
    import re
    samples = ["a@b.co", "A.B+tag@example.com", "a@b", "a b@c.com", "a@b.com.", "x@y.com, z@w.com",
               "Name <a@x.com>", "@b.com", "a@@b.com", "mailto:a@b.com"]
    con = duckdb.connect()
    for name in ("EMAIL", "EMAIL_FIELD", "EMAIL_LOOKALIKE"):
        pattern = getattr(identifiers, name)
        for s in samples:
            in_sql = con.execute("SELECT regexp_full_match(?, ?)", [s, pattern]).fetchone()[0]
            assert in_sql == bool(re.fullmatch(pattern, s)), (name, s)
    assert re.fullmatch(identifiers.EMAIL_FIELD, "x@y.com, z@w.com") is None
    assert re.fullmatch(identifiers.EMAIL, "a@b.co")


def test_pid_alive():
    import os
    from engine.processes import pid_alive
    assert pid_alive(os.getpid()) and pid_alive(str(os.getpid()))
    assert not pid_alive(None) and not pid_alive(0) and not pid_alive("x") and not pid_alive(2 ** 22 + 12345)
