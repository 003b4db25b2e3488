"""Cheap reruns: the data version read without opening the database, and one-query schema checks."""
import shutil

import pytest

from engine.workspace import Workspace, connection, migrations


def _db_version(ws: Workspace) -> int:
    return int(ws.scalar("SELECT value FROM meta WHERE key = 'data_version'"))


def _commit(ws: Workspace) -> None:
    with ws.transaction() as con:
        con.execute("INSERT INTO sources (name, kind) VALUES (?, 'contacts')", [f"s{_db_version(ws)}"])


def test_a_commit_records_its_version_and_a_cache_check_opens_no_connection(workspace, monkeypatch):
    _commit(workspace)
    _commit(workspace)
    expected = _db_version(workspace)

    def no_open(self, read_only):
        raise AssertionError("data_version opened the database")

    monkeypatch.setattr(Workspace, "_open", no_open)
    assert workspace.data_version() == expected


def test_a_copied_database_is_read_from_the_database_not_from_the_old_record(workspace, tmp_path):
    _commit(workspace)
    copy = tmp_path / "copy" / "cdp.duckdb"
    copy.parent.mkdir()
    shutil.copy(workspace.path, copy)
    (copy.parent / "cdp.duckdb.version").write_text(f"{workspace.path.stat().st_ino} 9999")
    assert Workspace(copy).data_version() == _db_version(workspace) != 9999


def test_a_record_that_cannot_be_written_is_removed_so_readers_use_the_database(workspace, monkeypatch):
    _commit(workspace)
    version_file = workspace.path.with_name(workspace.path.name + ".version")
    assert version_file.exists()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(connection.os, "replace", disk_full)
    _commit(workspace)
    assert not version_file.exists()
    assert workspace.data_version() == _db_version(workspace)


def test_schema_is_current_only_with_exactly_the_known_migrations(workspace):
    with workspace.connect() as con:
        assert migrations.is_current(con)
        con.execute("DELETE FROM schema_migrations WHERE version = ?", [migrations.available()[-1].version])
        assert not migrations.is_current(con)
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')")
        assert not migrations.is_current(con)


def test_a_workspace_missing_a_migration_is_upgraded_on_the_next_connection(workspace, monkeypatch):
    middle = migrations.available()[len(migrations.available()) // 2]
    with workspace.connect() as con:
        con.execute("DELETE FROM schema_migrations WHERE version = ?", [middle.version])
    upgraded = []
    monkeypatch.setattr(migrations, "upgrade", lambda con: upgraded.append(True))
    with workspace.connect():
        pass
    assert upgraded == [True]
    with workspace.connect() as con:  # once current again, a connection runs no upgrade
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [middle.version, middle.name])
    upgraded.clear()
    with workspace.connect():
        pass
    assert upgraded == []


@pytest.fixture
def workspace(tmp_path):
    from engine.workspace import open_workspace
    return open_workspace(tmp_path / "cdp.duckdb")
