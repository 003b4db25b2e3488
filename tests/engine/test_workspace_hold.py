"""Workspace.hold: a hosted server keeps its workspace open; every connection is a cursor on it."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from engine.privacy import files
from engine.workspace import Workspace

_READ_ELSEWHERE = """
import sys, duckdb
try:
    con = duckdb.connect(sys.argv[1], read_only=True)
except duckdb.Error as exc:
    print("refused:", exc)
else:
    print("rows:", con.execute("SELECT count(*) FROM profiles").fetchone()[0])
"""


def _from_another_process(ws: Workspace) -> str:
    return subprocess.run([sys.executable, "-c", _READ_ELSEWHERE, str(ws.path)], capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


def test_a_held_workspace_keeps_other_processes_out_until_released(workspace):
    workspace.hold()
    try:
        assert workspace.held and Workspace(workspace.folder / ".." / "ws" / "cdp.duckdb").held  # by the file, not the spelling
        with workspace.transaction() as con:
            con.execute("INSERT INTO profiles (profile_id) VALUES ('p1'), ('p2')")
        assert workspace.scalar("SELECT count(*) FROM profiles") == 2
        assert _from_another_process(workspace).startswith("refused:")
    finally:
        workspace.release()
    assert not workspace.held
    assert _from_another_process(workspace) == "rows: 2"


def test_release_waits_for_a_connection_in_use(workspace):
    workspace.hold()
    inside, finished = threading.Event(), []

    def long_read():
        with workspace.connect() as con:
            inside.set()
            time.sleep(0.5)
            finished.append(con.execute("SELECT count(*) FROM profiles").fetchone()[0])

    reader = threading.Thread(target=long_read)
    reader.start()
    assert inside.wait(10)
    workspace.release()            # closing the keeper would close the reader's cursor mid-query
    reader.join(10)
    assert finished == [0]


def test_swapping_the_file_waits_for_open_connections_and_holds_new_ones(workspace):
    workspace.hold()
    try:
        order: list[str] = []
        inside = threading.Event()

        def reader():
            with workspace.connect():
                inside.set()
                time.sleep(0.4)
                order.append("reader done")

        def late_writer():
            with workspace.transaction() as con:
                con.execute("INSERT INTO profiles (profile_id) VALUES ('late')")
                order.append("late writer")

        first = threading.Thread(target=reader)
        first.start()
        assert inside.wait(10)
        with workspace.file_swap():
            order.append("swap")
            second = threading.Thread(target=late_writer)
            second.start()
            time.sleep(0.2)        # the writer waits for the swap to end
            order.append("swap done")
        first.join(10)
        second.join(10)
        assert order == ["reader done", "swap", "swap done", "late writer"]
        assert workspace.scalar("SELECT count(*) FROM profiles WHERE profile_id = 'late'") == 1
    finally:
        workspace.release()


def test_swapping_the_file_from_inside_a_connection_is_refused(workspace):
    from engine.workspace import WorkspaceError
    workspace.hold()
    try:
        with workspace.connect(), pytest.raises(WorkspaceError, match="cannot be replaced"):
            with workspace.file_swap():
                pass
    finally:
        workspace.release()


def test_writes_after_compacting_a_held_workspace_land_in_the_new_file(workspace):
    """Compacting replaces the file on disk; a held connection left on the old one would write
    into a deleted file and lose every later write."""
    workspace.hold()
    try:
        with workspace.transaction() as con:
            con.execute("INSERT INTO profiles (profile_id) VALUES ('before')")
        files.compact(workspace)
        with workspace.transaction() as con:
            con.execute("INSERT INTO profiles (profile_id) VALUES ('after')")
        assert workspace.held
    finally:
        workspace.release()
    assert _from_another_process(workspace) == "rows: 2"


def test_an_erasure_with_compaction_runs_on_a_held_workspace(workspace, admin):
    from engine.privacy.subject import erase_subject
    from tests.engine.test_privacy import JANE, _seed
    _seed(workspace)
    workspace.hold()
    try:
        result = erase_subject(workspace, admin, "email", JANE, compact=True)
        assert result["contacts"] == 1
        assert workspace.query_rows("SELECT email FROM profiles") == [("bob@example.com",)]
    finally:
        workspace.release()
    assert JANE.encode() not in workspace.path.read_bytes()


def test_another_process_is_told_at_once_that_the_server_holds_the_file(workspace):
    code = ("import sys; from engine.workspace import Workspace, WorkspaceBusy\n"
            "try:\n    Workspace(sys.argv[1]).scalar('SELECT 1')\n"
            "except WorkspaceBusy as exc:\n    print(exc)\n")
    workspace.hold()
    try:
        started = time.monotonic()
        said = subprocess.run([sys.executable, "-c", code, str(workspace.path)], capture_output=True, text=True,
                              timeout=120, check=True, env={**os.environ, "CDP_LOCK_WAIT_SECONDS": "100"}).stdout
        assert "held open by the app server" in said and f"process {os.getpid()}" in said
        assert time.monotonic() - started < 30          # not after waiting out CDP_LOCK_WAIT_SECONDS
    finally:
        workspace.release()
    assert not workspace.path.with_name(workspace.path.name + ".held").exists()
