"""A workspace folder that cannot be written (read-only, full, a file in the way): `cdp init`
and `cdp ingest` print one line naming the workspace folder, never the input file, and exit 1.

The tests run as root, where chmod does not stop a write: a file in the way is real; a
read-only mount and a full disk are injected with the errors DuckDB and Python raise for them
(the texts below are what they print on a read-only tmpfs and a full one)."""
from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import pytest

from engine.cli.main import main
from engine.ingest import landing
from engine.workspace import Workspace, WorkspaceUnwritable, connection
from engine.workspace.folder import unwritable_message

CSV = "id,email\nc1,ann@example.com\nc2,bob@example.com\n"


def _run(capsys, *argv) -> tuple[int, list[str]]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def _one_line_about_the_folder(lines: list[str], folder: Path, says: str) -> None:
    assert len(lines) == 1, lines
    assert lines[0].startswith("cdp: error: The workspace folder ") and str(folder) in lines[0]
    assert says in lines[0]
    assert "Traceback" not in lines[0]


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "input" / "contacts.csv"
    path.parent.mkdir()
    path.write_text(CSV, encoding="utf-8")
    return path


def test_init_under_a_file_names_the_workspace_folder(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    folder = blocker / "ws"
    monkeypatch.setenv("CDP_WORKSPACE", str(folder / "cdp.duckdb"))
    code, lines = _run(capsys, "init")
    assert code == 1
    _one_line_about_the_folder(lines, folder, "part of its path is a file")


def test_init_and_ingest_on_a_read_only_folder(tmp_path, monkeypatch, capsys, input_file):
    folder = tmp_path / "ws"
    folder.mkdir()
    path = folder / "cdp.duckdb"
    real_connect = duckdb.connect

    def read_only_mount(database=":memory:", read_only=False, **kwargs):
        if str(database) == str(path) and not read_only:
            raise duckdb.IOException(f'IO Error: Cannot open file "{path}": Read-only file system')
        return real_connect(database, read_only=read_only, **kwargs)

    monkeypatch.setattr(connection.duckdb, "connect", read_only_mount)
    monkeypatch.setenv("CDP_WORKSPACE", str(path))
    for argv in (["init"], ["ingest", "contacts", str(input_file), "--source", "CRM"]):
        code, lines = _run(capsys, *argv)
        assert code == 1, argv
        _one_line_about_the_folder(lines, folder, "is read-only")
        assert str(input_file) not in lines[0]


def test_ingest_on_a_full_disk_blames_the_workspace_folder_not_the_input(workspace, monkeypatch, capsys,
                                                                         input_file):
    def full_disk(src, dst):  # what shutil.copyfile raises when the disk fills mid-copy
        Path(dst).write_bytes(Path(src).read_bytes()[:5])
        raise OSError(errno.ENOSPC, "No space left on device", str(src), None, str(dst))

    monkeypatch.setattr(landing.shutil, "copyfile", full_disk)
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    code, lines = _run(capsys, "ingest", "contacts", str(input_file), "--source", "CRM")
    assert code == 1
    _one_line_about_the_folder(lines, workspace.folder, "full disk")
    assert str(input_file) not in lines[0]
    assert workspace.scalar("SELECT count(*) FROM contacts") == 0
    assert not [p for p in landing.landing_folder(workspace).glob("load-*")], "no half copy is left"


def test_a_commit_that_fails_on_a_full_disk_is_reported_as_such(workspace, monkeypatch):
    wal = f"{workspace.path}.wal"

    def wal_full(con, *changes):  # runs just before COMMIT, inside the same try: as a failed commit does
        raise duckdb.TransactionException(
            f'TransactionContext Error: Failed to commit: Could not write file "{wal}": '
            f"No space left on device")

    monkeypatch.setattr(connection, "bump_data_version", wal_full)
    with pytest.raises(WorkspaceUnwritable, match="full disk") as info:
        with workspace.transaction() as con:
            con.execute("INSERT INTO meta VALUES ('probe', 'x')")
    assert str(workspace.folder) in str(info.value)


def test_a_failed_rollback_does_not_hide_the_error_that_caused_it(workspace):
    with pytest.raises(ValueError, match="the real error"):
        with workspace.transaction() as con:
            con.execute("ROLLBACK")  # as a failed COMMIT leaves it: no transaction to roll back
            raise ValueError("the real error")


@pytest.mark.parametrize("exc, says", [
    (OSError(errno.EROFS, "Read-only file system", "{ws}/landing"), "read-only"),
    (OSError(errno.ENOSPC, "No space left on device", "{input}", None, "{ws}/landing/load-1.csv"), "full disk"),
    (OSError(errno.EDQUOT, "Disk quota exceeded", "{ws}/cdp.duckdb"), "full disk"),
    (OSError(errno.EACCES, "Permission denied", "{ws}/landing"), "cannot be written by this user"),
    (duckdb.IOException('IO Error: Cannot open file "{ws}/cdp.duckdb": Read-only file system'), "read-only"),
    # not the workspace folder: the input file, a temporary folder elsewhere, another error
    (OSError(errno.EACCES, "Permission denied", "{input}"), None),
    (OSError(errno.EACCES, "Permission denied", "{input}", None, "{ws}/landing/load-1.csv"), None),
    (duckdb.IOException('IO Error: Could not write file "/elsewhere/duckdb_temp": No space left on device'),
     None),
    (OSError(errno.ENOENT, "No such file or directory", "{ws}/cdp.duckdb"), None),
])
def test_only_failures_inside_the_workspace_folder_are_blamed_on_it(tmp_path, exc, says):
    ws = tmp_path / "ws"
    names = {"ws": ws, "input": tmp_path / "input.csv"}
    if isinstance(exc, OSError):
        exc = OSError(exc.errno, exc.strerror, *(a.format(**names) if isinstance(a, str) else a
                                                  for a in (exc.filename, None, exc.filename2)))
    else:
        exc = type(exc)(str(exc).format(**names))
    message = unwritable_message(exc, ws)
    if says is None:
        assert message is None
    else:
        assert message and says in message and str(ws) in message


def test_the_workspace_opens_again_once_the_folder_is_writable(tmp_path, monkeypatch):
    path = tmp_path / "ws" / "cdp.duckdb"
    real_connect = duckdb.connect
    monkeypatch.setattr(connection.duckdb, "connect", lambda *a, **k: (_ for _ in ()).throw(
        duckdb.IOException(f'IO Error: Cannot open file "{path}": Read-only file system')))
    with pytest.raises(WorkspaceUnwritable):
        Workspace(path).scalar("SELECT 1")
    monkeypatch.setattr(connection.duckdb, "connect", real_connect)
    assert Workspace(path).scalar("SELECT 1") == 1


def test_collect_on_a_busy_port_or_spool_is_one_line(workspace, monkeypatch, capsys):
    import socket

    from engine.collect.server import spool_dir
    from engine.collect.spool import Spool

    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, lines = _run(capsys, "collect", "--port", str(taken.getsockname()[1]))
    assert code == 1 and len(lines) == 1 and lines[0].startswith("cdp: error: Cannot listen on 127.0.0.1:")
    spool = Spool(spool_dir(workspace))  # another collector holds this workspace's spool
    try:
        code, lines = _run(capsys, "collect", "--port", "0")
    finally:
        spool.close()
    assert code == 1 and lines == [f"cdp: error: Another collector is already using the spool "
                                   f"{spool_dir(workspace)}."]
