"""The default backend: the product's SQL on the workspace's DuckDB file, as written."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.backend import batches
from engine.sql_names import quote_name
from engine.backend.batches import stream_batches


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, workspace):
        self.workspace = workspace

    def query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        return self.workspace.query_df(sql, params or {})

    def columns(self, table: str) -> list[str]:
        with self.workspace.connect() as con:
            return [r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
                [table]).fetchall()]

    def export_parquet(self, names: list[str], folder: Path) -> dict[str, Path]:
        """Each table or view as a Parquet file (what a lakehouse would hold), by name."""
        folder.mkdir(parents=True, exist_ok=True)
        written = {}
        with self.workspace.connect() as con:
            for name in names:
                if not self.columns(name):
                    raise ValueError(f"No table or view called {name!r} in the workspace")
                path = folder / f"{name}.parquet"
                con.execute(f'COPY (SELECT * FROM "{name}") TO \'{path}\' (FORMAT PARQUET)')
                written[name] = path
        return written

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make a pandas frame readable as the temp table `name` of the open connection."""
        with self.workspace.connect() as con:
            con.register("_registered_frame", frame)
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_name(name)} AS SELECT * FROM _registered_frame")
            finally:
                con.unregister("_registered_frame")

    def release(self, name: str) -> None:
        """Drop a materialized table nothing reads any more (its memory goes back)."""
        with self.workspace.connect() as con:
            con.execute(f"DROP TABLE IF EXISTS {quote_name(name)}")

    def map_batches(self, sql: str, fn, schema: dict[str, str], params: dict | None = None,
                    batch_rows: int | None = None) -> pd.DataFrame:
        """fn (pandas in, pandas out) over the query's Arrow record batches, streamed:
        memory holds one batch of input plus what fn returns (engine/backend/batches.py).
        batch_rows: rows a batch (batches.BATCH_ROWS unless given)."""
        with self.workspace.connect() as con:
            return stream_batches(con, sql, fn, schema, params, batch_rows or batches.BATCH_ROWS)

    def materialize(self, name: str, sql: str, params: dict | list | None = None) -> None:
        """Keep the answer of `sql` as the temp table `name` of the open connection (callers hold
        `workspace.connect()` around the queries that read it)."""
        with self.workspace.connect() as con:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_name(name)} AS {sql}", params or [])
