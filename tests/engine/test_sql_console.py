import pytest

from engine.sql_console import SqlRefused, run_readonly


@pytest.mark.parametrize("query", [
    "DELETE FROM profiles",
    "DROP TABLE profiles",
    "SELECT 1; DELETE FROM profiles",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "COPY profiles TO '/tmp/out.csv'",
    "ATTACH '/tmp/other.duckdb'",
    "SET enable_external_access = true",
])
def test_anything_but_a_plain_select_is_refused(workspace, admin, query):
    with pytest.raises(SqlRefused):
        run_readonly(workspace, admin, query)


def test_select_masks_personal_columns_for_analysts_only(workspace, admin, analyst):
    with workspace.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id, email, phone) VALUES ('p1', 'jane@example.com', '+447700900123')")
    full = run_readonly(workspace, admin, "SELECT email, phone FROM profiles")
    masked = run_readonly(workspace, analyst, "SELECT email, phone FROM profiles")
    assert full["email"][0] == "jane@example.com"
    assert masked["email"][0] != "jane@example.com"
    assert "7700900123" not in masked["phone"][0]


def test_queries_are_audited(workspace, admin):
    assert list(run_readonly(workspace, admin, "SELECT 42 AS answer")["answer"]) == [42]
    details = workspace.scalar("SELECT details FROM audit_log WHERE action = 'sql.query'")
    assert "SELECT 42" in details


def test_a_write_in_the_same_process_waits_for_a_console_query(workspace, admin, monkeypatch):
    """The console's read-only attachment and a writer in another thread share the file: the
    writer waits (as for another process's lock) until the query ends, here at its timeout."""
    import threading

    from engine import sql_console

    monkeypatch.setenv("CDP_SQL_TIMEOUT_SECONDS", "2")
    running = threading.Event()
    real = sql_console._run_with_timeout

    def signalling(con, sql, seconds):
        running.set()
        return real(con, sql, seconds)

    monkeypatch.setattr(sql_console, "_run_with_timeout", signalling)
    outcome = {}

    def long_query():
        try:
            run_readonly(workspace, admin, "SELECT count(*) FROM range(100000000) a, range(100000000) b "
                                           "WHERE a.range + b.range = -1")
        except SqlRefused as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=long_query)
    worker.start()
    assert running.wait(60)
    with workspace.transaction() as con:      # would fail with a file-handle conflict otherwise
        con.execute("INSERT INTO profiles (profile_id) VALUES ('p9')")
    worker.join(60)
    assert "stopped" in outcome.get("error", "")
    assert workspace.scalar("SELECT count(*) FROM profiles WHERE profile_id = 'p9'") == 1
