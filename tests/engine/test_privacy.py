import io
import json
import zipfile

import pytest

from engine.access import PermissionDenied
from engine.privacy import consent, retention
from engine.privacy.identifiers import identifier_hash
from engine.privacy.requests import list_requests
from engine.privacy.subject import erase_subject, export_subject, find_subject

JANE = "jane.doe@example.com"
JANE_PHONE = "+14155550123"


def _seed(ws):
    with ws.transaction() as con:
        con.execute("""INSERT INTO contacts (source, source_record_id, email, phone, first_name, customer_id) VALUES
            ('CRM', 'c1', 'Jane.Doe@example.com', '(415) 555-0123', 'Jane', 'CUST-9'),
            ('CRM', 'c2', 'bob@example.com', NULL, 'Bob', 'CUST-10')""")
        con.execute("""INSERT INTO orders (source, source_record_id, order_id, amount, email) VALUES
            ('Shop', 'o1', 'o1', 50, 'jane.doe@example.com'), ('Shop', 'o2', 'o2', 20, 'bob@example.com')""")
        # Recent events, relative to now: the retention test below counts what falls outside a window.
        con.execute("""INSERT INTO events (message_id, source, type, event, user_id, anonymous_id, timestamp, context) VALUES
            ('m1', 'Web', 'track', 'Viewed', NULL, 'anon-jane', now() - INTERVAL 6 DAY, '{"consent": {"categoryPreferences": {"Advertising": true, "Analytics": false}}}'),
            ('m2', 'Web', 'identify', NULL, 'u-jane', 'anon-jane', now() - INTERVAL 5 DAY, '{"gpc": true}'),
            ('m3', 'Web', 'track', 'Viewed', 'u-bob', NULL, now() - INTERVAL 5 DAY, '{}')""")
        con.execute("INSERT INTO profiles (profile_id, email, customer_id, user_id) VALUES ('p1', ?, 'CUST-9', 'u-jane'), ('p2', 'bob@example.com', 'CUST-10', 'u-bob')", [JANE])
        con.execute("""INSERT INTO profile_members VALUES ('p1','contacts','CRM','c1'), ('p1','orders','Shop','o1'),
            ('p2','contacts','CRM','c2'), ('p2','orders','Shop','o2')""")
        con.execute("""INSERT INTO profile_identifiers (profile_id, id_type, id_value) VALUES
            ('p1','email',?), ('p1','phone',?), ('p1','user_id','u-jane'), ('p1','anonymous_id','anon-jane'),
            ('p1','customer_id','CUST-9'), ('p2','email','bob@example.com'), ('p2','user_id','u-bob')""", [JANE, JANE_PHONE])
        con.execute("INSERT INTO profile_tags VALUES ('p1', 'vip', now(), 'admin')")
        consent.capture_event_consents(con)
    landing = ws.folder / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "crm.csv").write_text("email,name\nJane.Doe@example.com,Jane\nbob@example.com,Bob\n")
    (landing / "spool.ndjson").write_text('{"userId":"u-jane"}\n{"userId":"u-bob"}\n')


def test_event_consent_signals_and_gpc_override(workspace):
    _seed(workspace)
    state = consent.consent_state(workspace, "p1").set_index("purpose")
    # m1 granted advertising via the CMP, m2 (later) sent Global Privacy Control
    assert state.loc["advertising", "granted"] == False  # noqa: E712
    assert state.loc["advertising", "method"] == "gpc"
    assert state.loc["analytics", "granted"] == False  # noqa: E712
    assert state.loc["sale_sharing", "granted"] == False  # noqa: E712
    history = consent.consent_history(workspace, "p1")
    assert len(history) == 4  # advertising + analytics from m1, advertising + sale_sharing from m2


def test_manual_consent_edit_wins_and_is_audited(workspace, admin, marketer):
    _seed(workspace)
    consent.set_consent(workspace, admin, "p1", "advertising", True, note="phoned in")
    state = consent.consent_state(workspace, "p1").set_index("purpose")
    assert state.loc["advertising", "granted"] == True  # noqa: E712
    assert state.loc["advertising", "method"] == "manual"
    assert workspace.scalar("SELECT count(*) FROM audit_log WHERE action = 'consent.edit'") == 1
    with pytest.raises(PermissionDenied):
        consent.set_consent(workspace, marketer, "p1", "advertising", False)
    with pytest.raises(ValueError):
        consent.set_consent(workspace, admin, "p1", "telepathy", True)


def test_find_subject_by_any_identifier(workspace, admin):
    _seed(workspace)
    by_email = find_subject(workspace, admin, "email", "  JANE.DOE@example.com ")
    by_phone = find_subject(workspace, admin, "phone", "415-555-0123")
    assert by_email.profile_ids == by_phone.profile_ids == ["p1"]
    assert set(zip(by_email.records.source, by_email.records.source_record_id)) == {("CRM", "c1"), ("Shop", "o1")}


def test_access_export_contains_everything_about_the_person_only(workspace, admin):
    _seed(workspace)
    archive = zipfile.ZipFile(io.BytesIO(export_subject(workspace, admin, "email", JANE)))
    names = set(archive.namelist())
    assert {"summary.json", "contacts.csv", "orders.json", "events.csv", "profile_tags.csv"} <= names
    everything = b"".join(archive.read(n) for n in names)
    assert b"bob@example.com" not in everything and b"u-bob" not in everything
    summary = json.loads(archive.read("summary.json"))
    assert summary["records_per_table"]["events"] == 2
    requests = list_requests(workspace, admin)
    assert list(requests["kind"]) == ["access"] and requests["days_left"][0] in (29, 30)
    assert JANE not in requests.to_string()


def _scan_tables(ws, needles):
    hits = []
    with ws.connect() as con:
        cols = con.execute("""SELECT c.table_name, c.column_name FROM duckdb_columns() c
            JOIN duckdb_tables() t USING (table_name) WHERE c.data_type IN ('VARCHAR', 'JSON')""").fetchall()
        for table, column in cols:
            for needle in needles:
                n = con.execute(f'SELECT count(*) FROM "{table}" WHERE lower(CAST("{column}" AS VARCHAR)) LIKE ?',
                                [f"%{needle.lower()}%"]).fetchone()[0]
                if n:
                    hits.append((table, column, needle))
    return hits


def test_erasure_removes_every_trace_and_suppresses(workspace, admin):
    _seed(workspace)
    result = erase_subject(workspace, admin, "email", JANE, regulation="ccpa")
    assert result["contacts"] == 1 and result["orders"] == 1 and result["events"] == 2
    needles = [JANE, "u-jane", "anon-jane", "CUST-9", "555-0123", "5550123"]
    assert _scan_tables(workspace, needles) == []
    for path in workspace.folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            assert not any(n.lower().encode() in data for n in needles), path
    # Bob is untouched
    assert workspace.scalar("SELECT count(*) FROM contacts WHERE email = 'bob@example.com'") == 1
    assert "bob@example.com" in (workspace.folder / "landing" / "crm.csv").read_text()
    # suppressed by hash, and the register keeps no personal data
    assert workspace.scalar("SELECT count(*) FROM suppressions WHERE id_type = 'email' AND id_hash = ?",
                            [identifier_hash("email", JANE)]) == 1
    register = list_requests(workspace, admin)
    assert register["status"][0] == "done" and register["regulation"][0] == "ccpa"
    assert register["days_left"][0] in (44, 45)


def test_only_privacy_role_handles_requests(workspace, marketer, analyst):
    _seed(workspace)
    for user in (marketer, analyst):
        with pytest.raises(PermissionDenied):
            erase_subject(workspace, user, "email", JANE)
        with pytest.raises(PermissionDenied):
            export_subject(workspace, user, "email", JANE)


def test_retention_preview_then_apply(workspace, admin):
    _seed(workspace)
    with workspace.transaction() as con:
        con.execute("UPDATE events SET timestamp = now() - INTERVAL 800 DAY WHERE message_id = 'm3'")
    assert retention.preview(workspace)["events_to_delete"] == 1
    retention.set_policy(workspace, admin, events_days=30, raw_files_days=365)
    assert retention.preview(workspace)["events_to_delete"] == 1
    assert retention.apply(workspace, admin)["events_deleted"] == 1
    assert workspace.scalar("SELECT count(*) FROM events") == 2


def test_consent_on_uploaded_events_joins_the_ledger(workspace, admin, tmp_path):
    from engine.ingest import ingest_file

    path = tmp_path / "events.ndjson"
    path.write_text(
        '{"type": "track", "event": "Viewed", "anonymousId": "a1", "messageId": "x1", '
        '"context": {"consent": {"categoryPreferences": {"Advertising": true, "DataSharing": false}}}}\n'
        '{"type": "page", "anonymousId": "a1", "messageId": "x2", "context": {"gpc": true}}\n'
        '{"type": "page", "anonymousId": "a2", "messageId": "x3", "context": {}}\n')
    ingest_file(workspace, admin, "events", path, "web")
    signals = workspace.query_rows(
        "SELECT message_id, purpose, granted, method FROM event_consent_signals ORDER BY 1, 2")
    assert signals == [("x1", "advertising", True, "cmp"), ("x1", "sale_sharing", False, "cmp"),
                       ("x2", "advertising", False, "gpc"), ("x2", "sale_sharing", False, "gpc")]
