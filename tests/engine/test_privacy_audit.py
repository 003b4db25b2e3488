"""The audit log records what was done without the personal values it was done with."""
import json

from engine.access.audit import redact
from engine.sql_console import run_readonly

EMAIL = "Mira.Okafor@fernhill-post.co.uk"


def test_query_text_is_audited_with_its_values_hashed(workspace, admin):
    run_readonly(workspace, admin, f"SELECT count(*) FROM contacts WHERE email = '{EMAIL}' OR phone = 07700900461")
    (details,) = workspace.query_rows("SELECT CAST(details AS VARCHAR) FROM audit_log WHERE action = 'sql.query'")[0]
    assert EMAIL.lower() not in details.lower() and "07700900461" not in details
    sql = json.loads(details)["sql"]
    assert sql.startswith("SELECT count(*) FROM contacts WHERE email = 'sha256:") and "OR phone = sha256:" in sql


def test_emails_anywhere_in_details_are_hashed_and_other_values_kept():
    out = redact({"note": f"sent to {EMAIL}", "rows": 3, "when": "2026-11-01 10:00",
                  "list": [EMAIL], "nested": {"query": "SELECT 'x'"}})
    assert EMAIL.lower() not in json.dumps(out).lower()
    assert out["rows"] == 3 and out["when"] == "2026-11-01 10:00"
    assert out["note"].startswith("sent to sha256:") and out["list"][0] == out["note"][len("sent to "):]
    assert out["nested"]["query"].startswith("SELECT 'sha256:")
