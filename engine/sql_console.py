"""Read-only SQL for the `cdp sql` command and the SQL screen."""
from __future__ import annotations

import json
import os
import re
import secrets
import threading
from contextlib import contextmanager
from typing import Iterator

import duckdb
import pandas as pd

from engine.access import User, audit, can, mask_frame, require
from engine.sql_names import quote_name

MAX_ROWS = 100_000
# Every console query is stopped after this long (CDP_SQL_TIMEOUT_SECONDS), so a long query
# does not keep writers (the collector, an ingest) waiting for the workspace.
DEFAULT_TIMEOUT_SECONDS = "30"
DEFAULT_MEMORY_LIMIT = "1GB"      # CDP_SQL_MEMORY_LIMIT; the console never spills to disk
CONSOLE_THREADS = 2
# Table functions a query may call; everything else (read_csv, read_text, glob, ...) reads files.
SAFE_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "duckdb_tables", "duckdb_columns", "duckdb_views",
    "json_each", "json_tree",
})
# Functions that change state even inside a SELECT (sequences).
UNSAFE_FUNCTIONS = frozenset({"nextval", "setval"})


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


def _unsafe_calls(tree) -> set[str]:
    """Table functions outside SAFE_TABLE_FUNCTIONS, file names read as tables, UNSAFE_FUNCTIONS."""
    found = set()
    for node in _nodes(tree):
        if node.get("type") == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in SAFE_TABLE_FUNCTIONS:
                found.add(name)
        elif node.get("type") == "BASE_TABLE" and any(c in str(node.get("table_name", "")) for c in "./\\:"):
            found.add(f"file {node.get('table_name')!r}")  # DuckDB would read it as a file
        elif node.get("type") == "FUNCTION" and str(node.get("function_name", "")).lower() in UNSAFE_FUNCTIONS:
            found.add(str(node["function_name"]).lower())
    return found


def _qualified_tables(tree) -> set[str]:
    """Tables named with a database or a schema other than main (they would pass the console's views)."""
    return {".".join(filter(None, (node.get("catalog_name"), node.get("schema_name"), node.get("table_name"))))
            for node in _nodes(tree) if node.get("type") == "BASE_TABLE"
            and (node.get("catalog_name") or node.get("schema_name") not in ("", "main", None))}


def _refuse_unsafe(con: duckdb.DuckDBPyConnection, sql: str, shared: bool) -> None:
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if tree.get("error"):
        raise SqlRefused(f"That query does not parse: {tree.get('error_message', '')}")
    unsafe = _unsafe_calls(tree)
    if unsafe:
        raise SqlRefused(f"The SQL console reads workspace tables only; not allowed: {', '.join(sorted(unsafe))}.")
    qualified = _qualified_tables(tree) if shared else set()
    if qualified:
        raise SqlRefused(f"Name tables without a database here (profiles, not cdp.profiles): "
                         f"{', '.join(sorted(qualified))}.")


def _create_views(con: duckdb.DuckDBPyConnection, alias: str, masked: bool, temporary: bool = False) -> None:
    """A view in the console's own database (temporary ones with `temporary`) for every table and
    view of the workspace.

    Masked views replace personal columns before any query sees them (whatever the query then
    does with them: aliases, functions, to_json, SUMMARIZE, WHERE on a prefix ...).
    """
    columns = con.execute(
        """SELECT c.table_name, c.column_name, c.data_type FROM duckdb_columns() c
           WHERE c.database_name = ? AND c.schema_name = 'main' AND NOT c.internal
           ORDER BY c.table_name, c.column_index""", [alias]).fetchall()
    relations: dict[str, list[str]] = {}
    for table, column, data_type in columns:
        personal = relations.setdefault(table, [])
        kind = str(data_type).upper()
        if masked and (_PERSONAL_COLUMN.search(column) or kind == "JSON"
                       or kind.startswith(("STRUCT", "MAP", "UNION")) or kind.endswith("]")):
            personal.append(column)
    for table, personal in relations.items():
        source = f"{alias}.main.{quote_name(table)}"
        if personal:
            replace = ", ".join(f"{_MASK_SQL.format(c=quote_name(c))} AS {quote_name(c)}" for c in personal)
            select = f"SELECT * REPLACE ({replace}) FROM {source}"
        else:
            select = f"SELECT * FROM {source}"
        con.execute(f"CREATE {'TEMPORARY VIEW ' if temporary else 'VIEW main.'}{quote_name(table)} AS {select}")


def _memory_limit() -> str:
    limit = os.environ.get("CDP_SQL_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit, re.IGNORECASE):
        raise SqlRefused(f"CDP_SQL_MEMORY_LIMIT should look like 2GB, not {limit!r}.")
    return limit


def _timeout_seconds() -> float:
    return float(os.environ.get("CDP_SQL_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


@contextmanager
def console_connection(workspace, masked: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """The console's connection: its own DuckDB (isolated_connection), or on a server that holds
    the workspace open (which no second DuckDB in the process can attach) shared_connection."""
    if not workspace.exists():
        raise SqlRefused(f"There is no workspace at {workspace.path} yet.")
    if workspace.held:
        with shared_connection(workspace, masked) as con:
            yield con
    else:
        with isolated_connection(workspace, masked) as con:
            yield con


@contextmanager
def shared_connection(workspace, masked: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the held workspace inside a transaction that is always rolled back, with the
    console's views as temporary views that shadow the tables of the same name.

    Weaker than the isolated connection, so run_readonly also refuses table names qualified with
    a database or schema (they would reach the unmasked tables); external access stays as the
    server's, which the table-function check already keeps queries from using.
    """
    with workspace.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            _create_views(con, con.execute("SELECT current_database()").fetchone()[0], masked, temporary=True)
            yield con
        finally:
            con.execute("ROLLBACK")


@contextmanager
def isolated_connection(workspace, masked: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh in-memory DuckDB that sees the workspace only through views (masked ones when
    `masked`), with the workspace attached read-only under a name made up for this query.

    Nothing the query can name reaches an unmasked column: the attachment's name is random and
    not in the text the user wrote; external access is off, so no file, URL or other database;
    the configuration is locked so none of this can be switched back. The workspace is held
    read-only (other readers go on; writers wait at most the console's timeout).
    """
    con = duckdb.connect(":memory:", config={"memory_limit": _memory_limit(), "threads": CONSOLE_THREADS,
                                             "temp_directory": ""})
    try:
        alias = "ws_" + secrets.token_hex(16)
        workspace.attach_read_only(con, alias)
        # The views live in a database named as the workspace is (cdp.duckdb -> cdp), so queries
        # written as cdp.profiles or cdp.main.profiles read the same views as profiles.
        name = workspace.path.stem
        if name.lower() not in ("memory", "system", "temp"):
            con.execute(f"ATTACH ':memory:' AS {quote_name(name)}")
            con.execute(f"USE {quote_name(name)}")
        _create_views(con, alias, masked)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield con
    finally:
        con.close()


def _run_with_timeout(con: duckdb.DuckDBPyConnection, sql: str, seconds: float) -> pd.DataFrame:
    timer = threading.Timer(seconds, con.interrupt)
    timer.daemon = True
    timer.start()
    try:
        return con.execute(sql).df()
    except duckdb.InterruptException as exc:
        raise SqlRefused(f"The query ran longer than {seconds:g} s and was stopped; "
                         "narrow it down (a WHERE, a LIMIT, fewer joins).") from exc
    finally:
        timer.cancel()


def run_readonly(workspace, user: User, sql: str, limit: int = MAX_ROWS) -> pd.DataFrame:
    """Run one SELECT and return its rows (personal columns masked for roles without view_pii).

    Writes, several statements, file access and settings changes are refused; the query runs on
    its own read-only connection (see console_connection) and is stopped after a timeout.
    """
    require(user, "run_sql")
    text = (sql or "").strip().rstrip(";").strip()
    if not text:
        raise SqlRefused("Type a query, for example: SELECT * FROM profiles LIMIT 10")
    masked = not can(user, "view_pii")
    with console_connection(workspace, masked) as con:
        try:
            statements = con.extract_statements(text)
        except duckdb.Error as exc:
            raise SqlRefused(f"That query does not parse: {exc}") from exc
        if len(statements) != 1:
            raise SqlRefused("Run one query at a time.")
        if statements[0].type != duckdb.StatementType.SELECT:
            raise SqlRefused("Only SELECT queries may run here: the SQL console is read-only.")
        _refuse_unsafe(con, text, shared=workspace.held)
        try:
            df = _run_with_timeout(con, f"SELECT * FROM ({text}) AS q LIMIT {int(limit)}", _timeout_seconds())
        except duckdb.Error as exc:
            raise SqlRefused(str(exc).splitlines()[0]) from exc
    with workspace.connect() as con:
        audit(con, user, "sql.query", None, {"sql": text[:2000], "rows": len(df)})
    return mask_frame(df, user)
