"""Numbered schema migrations.

Each file in engine/workspace/migrations/ named NNNN_description.sql is one
migration; they are applied in number order, each in its own transaction, and
recorded in schema_migrations. Numbers leave gaps so each engine module owns a
range (see migrations/README.md). A workspace that has a migration this code
does not know was written by a newer version and is refused.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engine.workspace.errors import WorkspaceTooNew

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def available() -> list[Migration]:
    """The migrations this code knows, in number order (re-read when the folder changes)."""
    return list(_scan(str(MIGRATIONS_DIR), MIGRATIONS_DIR.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _scan(directory: str, _mtime_ns: int) -> tuple[Migration, ...]:
    found = []
    for path in sorted(Path(directory).glob("*.sql")):
        match = _NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"Two migrations share a number in {directory}")
    return tuple(found)


def latest_version() -> int:
    return max((m.version for m in available()), default=0)


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ DEFAULT now())"
    )


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
    ).fetchone()[0]
    if not exists:
        return set()
    return {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    return max(applied_versions(con), default=0)


def is_current(con: duckdb.DuckDBPyConnection) -> bool:
    """True when exactly the known migrations are applied: one query, so that each connection
    of a process need not re-check the whole schema history."""
    try:
        applied = con.execute("SELECT list(version ORDER BY version) FROM schema_migrations").fetchone()[0]
    except duckdb.CatalogException:
        return False
    return applied == [m.version for m in available()]


def check_version(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a workspace written by a newer version of the product."""
    known = {m.version for m in available()}
    unknown = sorted(applied_versions(con) - known)
    if unknown:
        raise WorkspaceTooNew(
            f"This workspace has schema version {max(unknown)}, newer than this version of the "
            f"product understands (up to {latest_version()}). Upgrade the product to open it."
        )


def upgrade(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration not yet applied; returns the versions applied."""
    check_version(con)
    done = applied_versions(con)
    pending = [m for m in available() if m.version not in done]
    if not pending:
        return []
    _ensure_table(con)
    applied = []
    for migration in pending:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql())
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        [migration.version, migration.name])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
