"""Read-only SQL for the `cdp sql` command and the SQL screen."""
from __future__ import annotations

import json

import duckdb
import pandas as pd

from engine.access import User, audit, mask_frame, require

MAX_ROWS = 100_000
# Table functions a query may call; everything else (read_csv, read_text, glob, ...) reads files.
SAFE_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "duckdb_tables", "duckdb_columns", "duckdb_views",
    "json_each", "json_tree",
})


class SqlRefused(ValueError):
    """The statement is not a single read-only query."""


def _table_functions(node) -> set[str]:
    found = set()
    if isinstance(node, dict):
        if node.get("type") == "TABLE_FUNCTION":
            function = node.get("function") or {}
            found.add(str(function.get("function_name", "")).lower())
        elif node.get("type") == "BASE_TABLE" and any(c in str(node.get("table_name", "")) for c in "./\\:"):
            found.add(f"file {node.get('table_name')!r}")  # DuckDB would read it as a file
        for value in node.values():
            found |= _table_functions(value)
    elif isinstance(node, list):
        for value in node:
            found |= _table_functions(value)
    return found


def _refuse_file_access(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise SqlRefused(f"That query does not parse: {tree.get('error_message', '')}")
    unsafe = _table_functions(tree) - SAFE_TABLE_FUNCTIONS
    if unsafe:
        raise SqlRefused(f"The SQL console reads workspace tables only; not allowed: {', '.join(sorted(unsafe))}.")


def run_readonly(workspace, user: User, sql: str, limit: int = MAX_ROWS) -> pd.DataFrame:
    """Run one SELECT and return its rows (personal columns masked for roles without view_pii).

    Writes, several statements, file access and settings changes are refused.
    """
    require(user, "run_sql")
    text = (sql or "").strip().rstrip(";").strip()
    if not text:
        raise SqlRefused("Type a query, for example: SELECT * FROM profiles LIMIT 10")
    with workspace.connect() as con:
        try:
            statements = con.extract_statements(text)
        except duckdb.Error as exc:
            raise SqlRefused(f"That query does not parse: {exc}") from exc
        if len(statements) != 1:
            raise SqlRefused("Run one query at a time.")
        if statements[0].type != duckdb.StatementType.SELECT:
            raise SqlRefused("Only SELECT queries may run here: the SQL console is read-only.")
        _refuse_file_access(con, text)
        cur = con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")  # rolled back: not even a sequence moves
            try:
                df = cur.execute(f"SELECT * FROM ({text}) AS q LIMIT {int(limit)}").df()
            except duckdb.Error as exc:
                raise SqlRefused(str(exc).splitlines()[0]) from exc
            finally:
                cur.execute("ROLLBACK")
        finally:
            cur.close()
        audit(con, user, "sql.query", None, {"sql": text[:2000], "rows": len(df)})
    return mask_frame(df, user)
