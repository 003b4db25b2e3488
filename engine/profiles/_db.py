"""Small helpers the profiles and journeys modules share."""
from __future__ import annotations

import duckdb


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when a table or view called name exists (tables of modules that may not be installed)."""
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? "
        "UNION ALL SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name, name]
    ).fetchall()[0][0] or con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()[0])


def columns_of(con: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [name]).fetchall()}
