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
