"""Issue 18's "done when" for erasure: a person who was loaded, resolved, exported, pushed to every
kind of destination and sent their own access bundle is erased; afterwards no byte of their email,
phone, name or address is left in the workspace folder (files, zips read too, every table of the
database dumped as text) except in hashed form, every destination received a deletion, and a
re-upload of their name with a national-format phone is held as suppressed.

A control test runs the same byte checker before the erasure and proves it finds them."""
import io
import zipfile

import duckdb
import pytest

from engine.activation import audiences, sync
from engine.activation.export import export_audience
from engine.identity import resolve
from engine.identity.settings import save_settings
from engine.ingest import ingest_file
from engine.privacy.subject import erase_subject, export_subject
from engine.sql_console import run_readonly
from tests.conftest import held_open
from tests.engine.activation_data import set_consent
from tests.engine.test_activation_sync import fast, platform  # noqa: F401  (fixture)

EMAIL = "Zebulon.Quillfeather@Fernhill-Post.co.uk"
PHONE = "07700 900461"              # national (GB) format, as typed into the CRM
NEEDLES = ["zebulon.quillfeather@fernhill-post.co.uk", "07700 900461", "07700900461", "+447700900461",
           "447700900461", "Zebulon", "Quillfeather", "Marlowe Crescent"]
KINDS = ("meta", "google", "klaviyo", "hubspot", "webhook")


def _blobs(name: str, data: bytes):
    """(where, bytes) for a file, and for every member of a zip inside it, recursively."""
    yield name, data
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    yield from _blobs(f"{name}!{info.filename}", archive.read(info))
        except zipfile.BadZipFile:
            pass


def byte_leaks(workspace, needles) -> set[tuple[str, str]]:
    """Every (place, needle) where a needle's bytes occur: each file under the workspace folder
    (zips opened), and every table of the database file dumped as text."""
    found = set()
    low = [(n, n.lower().encode()) for n in needles]
    for path in sorted(workspace.folder.rglob("*")):
        if not path.is_file():
            continue
        for where, data in _blobs(str(path.relative_to(workspace.folder)), path.read_bytes()):
            data = data.lower()
            found |= {(where, n) for n, b in low if b in data}
    con = duckdb.connect(str(workspace.path), read_only=True)
    try:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall():
            text = "\n".join(repr(row) for row in con.execute(f'SELECT * FROM "{table}"').fetchall()).lower()
            found |= {(f"table {table}", n) for n, b in low if b.decode() in text}
    finally:
        con.close()
    return found


@pytest.fixture
def seeded(workspace, admin, platform, tmp_path):  # noqa: F811
    """The person and two others: loaded (landing copies), resolved, queried, exported, pushed to
    every destination kind, and given their access bundle; all files kept in the workspace folder."""
    with held_open(workspace):   # the file is closed (checkpointed) before the SQL console attaches it
        save_settings(workspace, admin, {"default_region": "GB"})
        contacts = tmp_path / "crm.csv"
        contacts.write_text(
            "id,email,phone,first_name,last_name,address_line1,city,postcode,country\n"
            f"c1,{EMAIL},{PHONE},Zebulon,Quillfeather,17 Marlowe Crescent,Leeds,LS1 4AP,GB\n"
            "c2,ann.lee@fernhill-post.co.uk,07700 900123,Ann,Lee,2 High Street,York,YO1 7HH,GB\n"
            "c3,raj.patel@fernhill-post.co.uk,07700 900777,Raj,Patel,9 Mill Lane,Bath,BA1 1AA,GB\n")
        ingest_file(workspace, admin, "contacts", contacts, "CRM", id_column="id")
        orders = tmp_path / "shop.csv"
        orders.write_text("order_id,email,amount,ordered_at\n"
                          f"o1,{EMAIL.lower()},40,2026-01-05\no2,ann.lee@fernhill-post.co.uk,20,2026-01-06\n")
        ingest_file(workspace, admin, "orders", orders, "Shop", id_column="order_id")
        events = tmp_path / "web.ndjson"
        events.write_text(
            '{"type":"identify","userId":"u-zeb-77","anonymousId":"anon-zeb-77","messageId":"e1",'
            f'"traits":{{"email":"{EMAIL}","firstName":"Zebulon"}},"timestamp":"2026-01-05T10:00:00Z"}}\n'
            '{"type":"track","event":"Viewed","userId":"u-ann-12","messageId":"e2","timestamp":"2026-01-05T10:00:00Z"}\n')
        ingest_file(workspace, admin, "events", events, "Web")
        resolve(workspace, admin)
        ids = [r[0] for r in workspace.query_rows("SELECT profile_id FROM profiles ORDER BY 1")]
        with workspace.transaction() as con:
            for purpose in ("advertising", "email"):
                set_consent(con, ids, purpose, True)
    run_readonly(workspace, admin, f"SELECT * FROM contacts WHERE email = '{EMAIL}'")
    with held_open(workspace):   # ... and before any byte of it is read
        with workspace.transaction() as con:   # an entry written before query text was hashed in the log
            con.execute("INSERT INTO audit_log (username, action, details) VALUES ('admin', 'sql.query', ?)",
                        [f'{{"sql": "SELECT * FROM contacts WHERE email = \'{EMAIL}\'"}}'])
        export_audience(workspace, admin, workspace.folder / "exports" / "everyone.csv", ids,
                        columns=["profile_id", "email", "phone", "first_name", "last_name", "city"])
        fakes = {}
        for kind in KINDS:
            fake, key = platform(kind)
            out = sync.sync(workspace, admin, key, members=ids, client=fast())
            assert out["status"] == "succeeded" and out["added"] >= 3, (kind, out["errors"])
            fakes[kind] = fake
        bundle = export_subject(workspace, admin, "email", EMAIL)
    (workspace.folder / "requests").mkdir()
    (workspace.folder / "requests" / "access-zebulon.zip").write_bytes(bundle)
    spool = workspace.folder / f"{workspace.path.stem}.spool"
    spool.mkdir()
    (spool / "segment-000001.ndjson").write_text(
        f'{{"type":"identify","userId":"u-zeb-77","traits":{{"email":"{EMAIL}"}}}}\n'
        '{"type":"track","userId":"u-ann-12","event":"Viewed"}\n')
    return fakes


@pytest.mark.slow
def test_control_the_byte_checker_finds_the_person_before_erasure(workspace, seeded):
    leaks = byte_leaks(workspace, NEEDLES)
    assert {n for _, n in leaks} == set(NEEDLES)
    places = {p for p, _ in leaks}
    assert any("!" in p for p in places), "the access bundle's members are read"
    assert {"table identity_records", "table identity_ids", "table audit_log", "table contacts"} <= places
    assert any(p.startswith("landing/") for p in places) and any(p.startswith("exports/") for p in places)


@pytest.mark.slow
def test_erasure_leaves_no_byte_anywhere_and_deletes_at_every_destination(workspace, admin, seeded, tmp_path):
    fakes = seeded
    result = erase_subject(workspace, admin, "email", EMAIL, client=fast())
    assert byte_leaks(workspace, NEEDLES) == set()
    # Every destination received a deletion, and the others are still there.
    assert {d["destination"]: d["status"] for d in result["destinations"]} == {k: "done" for k in KINDS}
    assert fakes["meta"].remove_calls == fakes["google"].remove_calls == 1
    assert fakes["klaviyo"].deletions == [EMAIL.lower()] and fakes["hubspot"].deletions == [EMAIL.lower()]
    assert [i for i in fakes["webhook"].webhook_ids if "erasure" in i] == [f"msg_erasure_{result['request_id']}"]
    assert len(set(fakes["webhook"].deletions)) == 1      # one profile.deleted event naming the person
    assert all(len(f.members) == 2 for f in fakes.values())
    # The report says what happened to each file.
    actions = {f["path"]: f["action"] for f in result["files"]}
    assert actions["requests/access-zebulon.zip"] == "removed"
    assert actions["exports/everyone.csv"] == "rewritten"
    assert sum(1 for p, a in actions.items() if p.startswith("landing/") and a == "rewritten") >= 3
    assert "ann.lee@fernhill-post.co.uk" in (workspace.folder / "exports" / "everyone.csv").read_text()
    assert any("audience.export" in n["where"] for n in result["not_reachable"])
    # The others are untouched in the data.
    assert workspace.scalar("SELECT count(*) FROM contacts") == 2
    # A re-upload of their name with the national phone is held as suppressed, not resolved.
    again = tmp_path / "again.csv"
    again.write_text("id,first_name,last_name,phone\nr9,Zebulon,Quillfeather,07700900461\n")
    loaded = ingest_file(workspace, admin, "contacts", again, "Till", id_column="id")
    assert loaded.rows_loaded == 0 and loaded.rows_quarantined == 1
    assert workspace.query_rows("SELECT reason FROM quarantine WHERE source = 'Till'") == [("suppressed",)]
    resolve(workspace, admin)
    assert workspace.scalar("SELECT count(*) FROM profiles WHERE last_name = 'Quillfeather'") == 0
