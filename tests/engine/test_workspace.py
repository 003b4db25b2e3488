"""The workspace: migrations, version checks, transactions, and two processes writing at once."""
import subprocess
import sys
import textwrap

import duckdb
import pytest

from engine.workspace import Workspace, WorkspaceTooNew, migrations, open_workspace
from tests.conftest import ROOT


def test_new_workspace_is_at_the_latest_schema_version(tmp_path):
    ws = open_workspace(tmp_path / "cdp.duckdb")
    assert ws.schema_version() == migrations.latest_version()
    assert {"profiles", "events", "contacts", "audit_log"} <= set(ws.table_counts())


def test_older_workspace_is_upgraded(tmp_path):
    path = tmp_path / "old.duckdb"
    first = migrations.available()[0]
    con = duckdb.connect(str(path))
    con.execute(first.sql())
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)")
    con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [first.version, first.name])
    con.execute("INSERT INTO contacts (source, source_record_id, email) VALUES ('CRM', '1', 'a@b.c')")
    con.close()
    ws = open_workspace(path)
    assert ws.schema_version() == migrations.latest_version()
    assert ws.scalar("SELECT email FROM contacts") == "a@b.c"  # data kept across the upgrade


def test_newer_workspace_is_refused_with_a_clear_message(tmp_path):
    ws = open_workspace(tmp_path / "cdp.duckdb")
    with ws.connect() as con:
        con.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')")
    with pytest.raises(WorkspaceTooNew, match="newer than this version"):
        Workspace(ws.path).scalar("SELECT 1")


def test_failed_transaction_leaves_nothing(workspace):
    version = workspace.data_version()
    with pytest.raises(RuntimeError):
        with workspace.transaction() as con:
            con.execute("INSERT INTO sources (name, kind) VALUES ('Half', 'contacts')")
            raise RuntimeError("crash mid-write")
    assert workspace.scalar("SELECT count(*) FROM sources") == 0
    assert workspace.data_version() == version
    with workspace.transaction() as con:
        con.execute("INSERT INTO sources (name, kind) VALUES ('Whole', 'contacts')")
    assert workspace.data_version() == version + 1


WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from engine.workspace import Workspace
    ws = Workspace(sys.argv[1])
    for i in range(int(sys.argv[3])):
        with ws.transaction() as con:
            con.execute("INSERT INTO audit_log (username, action, target) VALUES (?, 'write', ?)",
                        [sys.argv[2], str(i)])
            # hold the file a little so the other process has to wait for it
            con.execute("SELECT count(*) FROM range(20000)").fetchone()
""")


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_nothing(workspace, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    n = 40
    procs = [subprocess.Popen([sys.executable, str(script), str(workspace.path), name, str(n)],
                              stderr=subprocess.PIPE, text=True) for name in ("app", "collector")]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    counts = dict(workspace.query_rows(
        "SELECT username, count(DISTINCT target) FROM audit_log WHERE action = 'write' GROUP BY 1"))
    assert counts == {"app": n, "collector": n}
