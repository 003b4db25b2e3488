"""The sandbox destination: in every workspace, no credentials, the real platform's payloads
written to files; diff syncs, dry runs, consent, suppression, history and audit as for any destination."""
import json

import duckdb
import pytest

from engine.access import PermissionDenied, audit_entries
from engine.activation import audiences, config, sandbox_files, sync
from engine.activation.destinations import KINDS, BatchContext
from engine.activation.destinations import sandbox
from engine.activation.destinations.meta import MetaCustomAudience
from engine.privacy.files import scrub_folder
from engine.workspace import migrations, open_workspace
from tests.engine.activation_data import add_people, set_consent, suppress_email

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def written_requests(workspace, key):
    """Every file the sandbox wrote for the audience, oldest first, as parsed JSON."""
    folder = sandbox_files.audience_folder(workspace.folder, key)
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def meta_rows(requests, method):
    return [row for r in requests if r["method"] == method for row in r["body"]["payload"]["data"]]


def email_hash(email):
    import hashlib
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@pytest.fixture
def key(workspace, admin, monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))   # no credentials anywhere
    return audiences.link_audience(workspace, admin, "list", "test", "sandbox")


def test_every_workspace_has_the_sandbox_without_credentials(workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    listed = config.list_destinations(workspace).set_index("name")
    assert listed.loc["sandbox", "kind"] == "sandbox" and listed.loc["sandbox", "credentials"] == "not needed"
    assert "sandbox" in KINDS
    dest = config.get_destination(workspace, "sandbox")
    assert dest.platform.kind == "meta" and dest.secret_names == ()


def test_an_upgraded_workspace_gets_the_sandbox_and_keeps_its_own(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)")
    for m in migrations.available():
        if m.version <= 70:
            con.execute(m.sql())
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [m.version, m.name])
    con.execute("INSERT INTO activation_destinations (name, kind, settings) VALUES ('meta', 'meta', '{}')")
    con.close()
    ws = open_workspace(path)
    assert dict(ws.query_rows("SELECT name, kind FROM activation_destinations")) == {
        "meta": "meta", "sandbox": "sandbox"}


def test_sync_twice_is_a_diff_and_a_leaver_is_a_remove(workspace, admin, key):
    ids = add_people(workspace, 6)
    first = sync.sync(workspace, admin, key, members=ids)
    assert (first["status"], first["added"], first["removed"]) == ("succeeded", 6, 0)
    files = written_requests(workspace, key)
    assert len(files) == 1 and files[0]["method"] == "POST" and len(meta_rows(files, "POST")) == 6

    again = sync.sync(workspace, admin, key, members=ids)
    assert (again["to_add"], again["to_remove"]) == (0, 0)
    assert len(written_requests(workspace, key)) == 1          # nothing changed, nothing written

    third = sync.sync(workspace, admin, key, members=ids[2:])
    assert (third["added"], third["removed"]) == (0, 2)
    removes = meta_rows(written_requests(workspace, key), "DELETE")
    assert sorted(r[0] for r in removes) == sorted(email_hash(f"Person.{i}+news@Example.com") for i in (0, 1))
    history = sync.history(workspace, admin, key)
    assert list(history["status"]) == ["succeeded"] * 3 and list(history["destination"]) == ["sandbox"] * 3


def test_dry_run_writes_nothing_and_shows_the_platform_request(workspace, admin, key):
    ids = add_people(workspace, 3)
    plan = sync.dry_run(workspace, admin, key, members=ids)
    assert plan["to_add"] == 3 and "Meta Custom Audiences" in plan["destination_label"]
    assert plan["sample_payload"]["add"].startswith("POST https://graph.facebook.com/")
    assert not sandbox_files.root(workspace).exists()
    assert workspace.scalar("SELECT count(*) FROM activation_runs") == 0
    assert workspace.scalar("SELECT count(*) FROM activation_membership") == 0


def test_people_without_consent_or_suppressed_are_never_written(workspace, admin, key):
    consented = add_people(workspace, 3)
    no_consent = add_people(workspace, 1, start=10, consent=None)
    withdrew = add_people(workspace, 1, start=20)
    suppressed = add_people(workspace, 1, start=30)
    with workspace.transaction() as con:
        set_consent(con, withdrew, "advertising", False, at="2025-06-01")   # later than the grant
        suppress_email(con, "Person.30+news@Example.com")
    out = sync.sync(workspace, admin, key, members=consented + no_consent + withdrew + suppressed)
    assert out["added"] == 3 and out["held_back"] == 3
    text = json.dumps(written_requests(workspace, key))
    for i in (10, 20, 30):
        assert email_hash(f"Person.{i}+news@Example.com") not in text
    assert all(email_hash(f"Person.{i}+news@Example.com") in text for i in range(3))

    # Withdrawing after a push: the next sync removes them, and never adds them again.
    with workspace.transaction() as con:
        set_consent(con, consented[:1], "advertising", False, at="2025-06-01")
    out = sync.sync(workspace, admin, key, members=consented)
    assert (out["added"], out["removed"]) == (0, 1)
    requests = written_requests(workspace, key)
    assert [r[0] for r in meta_rows(requests, "DELETE")] == [email_hash("Person.0+news@Example.com")]
    assert len(meta_rows(requests, "POST")) == 3


def test_files_hold_exactly_what_the_real_destination_builds(workspace, admin, key):
    ids = add_people(workspace, 4)
    sync.sync(workspace, admin, key, members=ids)
    written = written_requests(workspace, key)[0]
    members = [r[0] for r in workspace.query_rows(
        "SELECT member_json FROM activation_membership ORDER BY profile_id")]
    run_id = workspace.scalar("SELECT max(run_id) FROM activation_runs")
    real = MetaCustomAudience("sandbox", {"audience_id": "sandbox"}, {"access_token": "x"})
    request = real.requests(members, BatchContext(run_id, "add", 0, 1, 4, key))[0]
    assert written["body"] == json.loads(request.body) and written["url"] == request.url
    assert written["platform"] == "meta" and "Authorization" not in json.dumps(written["headers"])


def test_another_platform_and_the_audit_log(workspace, admin, monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    with pytest.raises(ValueError, match="previews one of"):
        config.add_destination(workspace, admin, "sandbox-x", "sandbox", {"platform": "myspace"})
    config.add_destination(workspace, admin, "sandbox-google", "sandbox", {"platform": "google"})
    key = audiences.link_audience(workspace, admin, "list", "test", "sandbox-google")
    sync.sync(workspace, admin, key, members=add_people(workspace, 2))
    folder = sandbox_files.audience_folder(workspace.folder, key)
    assert folder.name == "list-test--sandbox-google"
    body = json.loads(next(folder.glob("*.json")).read_text())["body"]
    assert body["termsOfService"] and len(body["audienceMembers"]) == 2
    actions = set(audit_entries(workspace, admin)["action"])
    assert {"destination.add", "audience.link", "audience.sync"} <= actions


def test_listing_and_preview_for_screens(workspace, admin, analyst, key):
    ids = add_people(workspace, 3)
    sync.sync(workspace, admin, key, members=ids)
    assert sandbox.written(workspace, "nowhere", key) is None
    written = sandbox.written(workspace, "sandbox", key)
    assert written["folder"] == sandbox_files.audience_folder(workspace.folder, key)
    assert len(written["files"]) == 1 and written["files"]["file"][0].endswith("-add-1.json")
    shown = sandbox_files.preview(workspace, admin, written["files"]["path"][0])
    assert shown["rows"] == 3 and shown["request"].startswith("POST ")
    assert list(shown["table"].columns)[:2] == ["EMAIL", "PHONE"]
    with pytest.raises(ValueError, match="No sandbox file"):
        sandbox_files.preview(workspace, admin, "../cdp.duckdb")
    with pytest.raises(PermissionDenied):
        sandbox_files.preview(workspace, analyst, written["files"]["path"][0])


def test_an_erasure_scrub_leaves_no_trace_and_the_preview_still_reads(workspace, admin, monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    config.add_destination(workspace, admin, "sandbox-klaviyo", "sandbox", {"platform": "klaviyo"})
    key = audiences.link_audience(workspace, admin, "list", "test", "sandbox-klaviyo")
    sync.sync(workspace, admin, key, members=add_people(workspace, 3, email_consent=True))
    listing = sandbox.written(workspace, "sandbox-klaviyo", key)["files"]
    assert sandbox_files.preview(workspace, admin, listing["path"][0])["rows"] == 3   # plain emails
    scrubbed = scrub_folder(workspace, {"person.1+news@example.com"})       # what an erasure runs
    assert [entry["action"] for entry in scrubbed] == ["rewritten"]
    folder = sandbox_files.audience_folder(workspace.folder, key)
    assert "person.1+news" not in "".join(p.read_text().lower() for p in folder.glob("*.json"))
    assert sandbox_files.preview(workspace, admin, listing["path"][0])["rows"] == 0   # the request naming them goes whole
