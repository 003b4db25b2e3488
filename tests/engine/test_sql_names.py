"""Names in SQL text are quoted in one place (engine.sql_names.quote_name)."""
from __future__ import annotations

import ast

import duckdb

from engine.sql_names import quote_name
from tests.conftest import ROOT

HOME = ROOT / "engine" / "sql_names.py"


def quote_doublings(source: str) -> int:
    """Calls of .replace('"', '""'): a hand-written identifier quote."""
    return sum(1 for node in ast.walk(ast.parse(source))
               if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and node.func.attr == "replace" and len(node.args) == 2
               and all(isinstance(a, ast.Constant) for a in node.args)
               and [a.value for a in node.args] == ['"', '""'])


def test_no_module_but_sql_names_quotes_names_by_hand():
    found = {str(p.relative_to(ROOT)): n for folder in ("engine", "ui", "app_pages")
             for p in (ROOT / folder).rglob("*.py") if p != HOME
             and (n := quote_doublings(p.read_text(encoding="utf-8")))}
    assert not found, f"quote names with engine.sql_names.quote_name: {found}"
    assert quote_doublings(HOME.read_text(encoding="utf-8")) == 1


def test_a_quoted_name_reads_back_as_itself_in_duckdb():
    con = duckdb.connect()
    for name in ("plain", "with space", 'say "hi"', "ünïcode", "select"):
        con.execute(f"CREATE OR REPLACE TABLE t ({quote_name(name)} INTEGER)")
        assert [d[0] for d in con.execute("SELECT * FROM t").description] == [name]
