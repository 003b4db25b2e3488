import pytest

from engine.sql_console import SqlRefused, run_readonly
from tests.conftest import held_open


@pytest.fixture(params=["isolated", "held"])
def console_ws(request, workspace):
    """The workspace as the CLI sees it (the console attaches it in its own DuckDB), and as a
    hosted server that holds it open sees it (the console lends a cursor on it)."""
    if request.param == "held":
        with held_open(workspace):
            yield workspace
    else:
        yield workspace


@pytest.mark.parametrize("query", [
    "DELETE FROM profiles",
    "DROP TABLE profiles",
    "SELECT 1; DELETE FROM profiles",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "COPY profiles TO '/tmp/out.csv'",
    "ATTACH '/tmp/other.duckdb'",
    "SET enable_external_access = true",
    "SELECT nextval('audit_log_seq')",
])
def test_anything_but_a_plain_select_is_refused(console_ws, admin, query):
    with pytest.raises(SqlRefused):
        run_readonly(console_ws, admin, query)


def test_select_masks_personal_columns_for_analysts_only(console_ws, admin, analyst):
    with console_ws.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id, email, phone) VALUES ('p1', 'jane@example.com', '+447700900123')")
    full = run_readonly(console_ws, admin, "SELECT email, phone FROM profiles")
    for query in ("SELECT email, phone FROM profiles", "SELECT email, phone FROM main.profiles",
                  "SELECT (SELECT max(email) FROM profiles) AS email, max(phone) AS phone FROM profiles"):
        masked = run_readonly(console_ws, analyst, query)
        assert masked["email"][0] != "jane@example.com"
        assert "7700900123" not in masked["phone"][0]
    assert full["email"][0] == "jane@example.com"


def test_on_a_held_workspace_tables_named_with_their_database_are_refused(workspace, analyst):
    """The held console's views shadow the tables by name only: cdp.profiles would pass them."""
    with held_open(workspace):
        with workspace.transaction() as con:
            con.execute("INSERT INTO profiles (profile_id, email) VALUES ('p1', 'jane@example.com')")
        database = workspace.path.stem
        for query in (f"SELECT email FROM {database}.profiles", f"SELECT email FROM {database}.main.profiles",
                      f"SELECT 1 WHERE EXISTS (SELECT 1 FROM {database}.profiles WHERE email LIKE 'jane%')",
                      "SELECT email FROM temp.main.profiles"):
            with pytest.raises(SqlRefused, match="without a database"):
                run_readonly(workspace, analyst, query)
        run_readonly(workspace, analyst, "SELECT count(*) FROM profiles")   # the views are gone afterwards:
        with workspace.connect() as con:
            assert con.execute("SELECT count(*) FROM duckdb_views() WHERE temporary AND NOT internal").fetchone()[0] == 0
            assert con.execute("SELECT email FROM profiles").fetchone()[0] == "jane@example.com"


def test_queries_are_audited(console_ws, admin):
    assert list(run_readonly(console_ws, admin, "SELECT 42 AS answer")["answer"]) == [42]
    details = console_ws.scalar("SELECT details FROM audit_log WHERE action = 'sql.query'")
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
