"""Read-only SQL for the `cdp sql` command and the SQL screen."""
from __future__ import annotations

import json
import re

import duckdb
import pandas as pd

from engine.access import User, audit, can, mask_frame, require

MAX_ROWS = 100_000
# Table functions a query may call; everything else (read_csv, read_text, glob, ...) reads files.
SAFE_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "duckdb_tables", "duckdb_columns", "duckdb_views",
    "json_each", "json_tree",
})


# For roles without view_pii the query reads views that mask these columns (whatever the query
# then does with them: aliases, functions, to_json ...), not only result columns named like them.
_PERSONAL_COLUMN = re.compile(
    r"email|phone|name|address|postcode|birth|^ip$|ip_address|^value$|matched_value|traits|properties"
    r"|context|^raw$|^details$|^body$|^label$|id_value|e164|^n_|dob|^term$|^display$", re.IGNORECASE)
_MASK_SQL = "CASE WHEN {c} IS NULL THEN NULL ELSE left(CAST({c} AS VARCHAR), 1) || '••••' END"


class SqlRefused(ValueError):
    """The statement is not a single read-only query."""


def _nodes(node):
    """Every dict in a json_serialize_sql tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _table_functions(tree) -> set[str]:
    found = set()
    for node in _nodes(tree):
        if node.get("type") == "TABLE_FUNCTION":
            function = node.get("function") or {}
            found.add(str(function.get("function_name", "")).lower())
        elif node.get("type") == "BASE_TABLE" and any(c in str(node.get("table_name", "")) for c in "./\\:"):
            found.add(f"file {node.get('table_name')!r}")  # DuckDB would read it as a file
    return found


def _qualified_tables(tree) -> set[str]:
    """Tables named with a catalog (workspace.main.x), which would bypass the masking views."""
    return {f"{n['catalog_name']}.{n.get('schema_name') or 'main'}.{n.get('table_name')}"
            for n in _nodes(tree)
            if n.get("type") == "BASE_TABLE" and n.get("catalog_name") not in (None, "", "temp")}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create_masking_views(cur) -> None:
    """Shadow every table and view holding personal columns with a masked temporary view.

    Runs inside the console's rolled-back transaction, so the views vanish with it.
    """
    catalog = cur.execute("SELECT current_database()").fetchone()[0]
    columns = cur.execute(
        """SELECT table_name, column_name, data_type FROM duckdb_columns()
           WHERE database_name = ? AND schema_name = 'main' ORDER BY table_name, column_index""",
        [catalog]).fetchall()
    personal: dict[str, list[str]] = {}
    for table, column, data_type in columns:
        kind = str(data_type).upper()
        if (_PERSONAL_COLUMN.search(column) or kind == "JSON" or kind.startswith(("STRUCT", "MAP"))
                or kind.endswith("[]")):
            personal.setdefault(table, []).append(column)
    for table, cols in personal.items():
        replace = ", ".join(f"{_MASK_SQL.format(c=_quote(c))} AS {_quote(c)}" for c in cols)
        cur.execute(f"CREATE TEMP VIEW {_quote(table)} AS SELECT * REPLACE ({replace}) "
                    f"FROM {_quote(catalog)}.main.{_quote(table)}")


def _refuse_file_access(con: duckdb.DuckDBPyConnection, sql: str, masked: bool = False) -> None:
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise SqlRefused(f"That query does not parse: {tree.get('error_message', '')}")
    qualified = _qualified_tables(tree) if masked else set()
    if qualified:
        raise SqlRefused("Name tables without a database prefix (your role sees personal data masked): "
                         + ", ".join(sorted(qualified)) + ".")
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
        masked = not can(user, "view_pii")
        _refuse_file_access(con, text, masked)
        cur = con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")  # rolled back: not even a sequence moves
            try:
                if masked:
                    _create_masking_views(cur)
                df = cur.execute(f"SELECT * FROM ({text}) AS q LIMIT {int(limit)}").df()
            except duckdb.Error as exc:
                raise SqlRefused(str(exc).splitlines()[0]) from exc
            finally:
                cur.execute("ROLLBACK")
        finally:
            cur.close()
        audit(con, user, "sql.query", None, {"sql": text[:2000], "rows": len(df)})
    return mask_frame(df, user)
