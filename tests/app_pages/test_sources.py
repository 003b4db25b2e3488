"""The Sources screen: upload through the file uploader, confirm the mapping, load, see the report."""
import pytest
import json

from engine.derived import stale
from tests.app_pages.jobs_helpers import settle
from tests.app_pages.lazy_tabs import has_widget, open_tab
from tests.engine.workbooks import workbook_bytes
from tests.app_pages.sources_upload import upload

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

CRM = (b"Contact ID,E-mail,First Name,DOB,Stage,Shoe size\n"
       b"C1,ann@example.com,Ann,31/12/1990,lead,38\n"
       b"C2,bob@example.com,Bob,31/02/1990,customer,44\n"
       b"C3,,Cy,,lead,40\n")



def test_a_big_upload_loads_as_a_job_whose_result_anyone_sees(logged_in_app, app_env, monkeypatch):
    monkeypatch.setenv("CDP_UPLOAD_JOB_MB", str(len(CRM) / 2 / 1_000_000))     # this file counts as big
    at = logged_in_app("marketer", "app_pages/sources.py")
    upload(at, "HubSpot", "crm export.csv", CRM)
    at.button(key="src_load").click().run()
    assert not at.exception, at.exception
    settle(at, app_env)
    assert any("Loaded 2 of 3 rows" in s.value and "by marketer" in s.value for s in at.success)
    assert {m.label: m.value for m in at.metric}["Quarantined"] == "1"
    assert app_env.scalar("SELECT count(*) FROM contacts") == 2
    assert stale(app_env) == []          # the job refreshed what the other screens read
    other = logged_in_app("admin", "app_pages/sources.py")          # the tab that started it may be gone
    assert any("Load of crm export.csv into HubSpot" in s.value for s in other.success)

def test_upload_map_and_load(logged_in_app, app_env):
    at = logged_in_app("marketer", "app_pages/sources.py")
    assert at.title[0].value == "Sources"
    upload(at, "HubSpot", "crm export.csv", CRM)
    assert not at.exception, at.exception
    assert any("Detected:" in m.value and "CSV" in m.value for m in at.markdown)
    preview, mapping = at.dataframe[0].value, at.dataframe[1].value
    assert list(preview.columns) == ["Contact ID", "E-mail", "First Name", "DOB", "Stage", "Shoe size"]
    suggested = dict(zip(mapping["column"], mapping["field"]))
    assert suggested["E-mail"] == "email" and suggested["Contact ID"] == "source_record_id"
    assert suggested["Shoe size"] == "(keep as custom trait)"
    at.button(key="src_load").click().run()
    assert not at.exception, at.exception
    assert any("Loaded into HubSpot: 2 of 3 rows" in s.value for s in at.success)
    assert any("date_of_birth" in w.value.replace("\\", "") for w in at.warning)   # shown markdown-escaped
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows read"] == "3" and metrics["Quarantined"] == "1"
    ws = app_env
    assert dict(ws.query_rows("SELECT source_record_id, email FROM contacts")) == {
        "C1": "ann@example.com", "C2": "bob@example.com"}
    assert json.loads(ws.scalar("SELECT traits FROM contacts WHERE source_record_id = 'C1'")) == {
        "Shoe size": "38"}
    assert stale(ws) == []       # the upload refreshed what Journeys, Segments and search read
    # Loading the same file again says so and changes nothing.
    at.button(key="src_load").click().run()
    assert any("already loaded" in i.value for i in at.info)
    assert ws.scalar("SELECT count(*) FROM loads") == 1
    # The upload was kept under a generated name, never the uploaded one.
    landed = [p.name for p in (ws.folder / "landing").rglob("*") if p.is_file()]
    assert landed and not any("crm export" in name for name in landed)


def test_quarantine_and_loads_are_listed(logged_in_app, app_env, admin, tmp_path):
    from engine.ingest import ingest_file

    path = tmp_path / "c.csv"
    path.write_bytes(CRM)
    ingest_file(app_env, admin, "contacts", path, "CRM")
    at = logged_in_app("admin", "app_pages/sources.py")
    assert not at.exception, at.exception
    assert not at.dataframe and not has_widget(at, "selectbox", "q_source")   # lazy tabs: closed tabs do not run
    open_tab(at, "sources_tab", "Sources and loads")
    assert not at.exception, at.exception
    assert any("hours_since" in df.value.columns and "CRM" in set(df.value["source"]) for df in at.dataframe)
    assert at.get("plotly_chart")
    open_tab(at, "sources_tab", "Quarantine")
    assert not at.exception, at.exception
    assert any("reason" in df.value.columns and df.value["reason"].str.startswith("no usable identifier").any()
               for df in at.dataframe)
    assert at.get("download_button")


def test_analyst_sees_sources_but_cannot_upload(logged_in_app):
    at = logged_in_app("analyst", "app_pages/sources.py")
    assert not at.exception, at.exception
    assert not at.file_uploader
    assert any("cannot upload" in i.value or "not upload" in i.value for i in at.info)


def test_unreadable_upload_shows_one_clear_error(logged_in_app, app_env):
    at = logged_in_app("marketer", "app_pages/sources.py")
    at.selectbox(key="src_choice").set_value("New source…").run()
    at.text_input(key="src_new_name").input("CRM").run()
    at.file_uploader(key="src_file").upload("x.csv", bytes(range(256)) * 4, "text/csv").run()
    assert not at.exception, at.exception
    assert any("binary" in e.value for e in at.error)
    assert app_env.scalar("SELECT count(*) FROM sources") == 0


BOOK = {"Shop": [["Email", "First Name"], ["a@x.com", "Al"]],
        "Fair": [["E-mail", "Name", "Stall"], ["b@x.com", "Bo", "7"], ["c@x.com", "Cy", "9"]]}


def _upload_book(logged_in_app):
    at = logged_in_app("marketer", "app_pages/sources.py")
    upload(at, "Events team", "people.xlsx", workbook_bytes(BOOK),
           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert not at.exception, at.exception
    return at


def test_a_workbook_sheet_is_picked_and_loaded(logged_in_app, app_env):
    at = _upload_book(logged_in_app)
    assert at.selectbox(key="src_sheet").options == ["Shop", "Fair", "All sheets"]
    at.selectbox(key="src_sheet").set_value("Fair").run()
    assert not at.exception, at.exception
    assert list(at.dataframe[0].value.columns) == ["E-mail", "Name", "Stall"]
    at.button(key="src_load").click().run()
    assert not at.exception, at.exception
    assert any("sheet Fair" in s.value and "2 of 2 rows" in s.value for s in at.success)
    assert sorted(r[0] for r in app_env.query_rows("SELECT email FROM contacts")) == ["b@x.com", "c@x.com"]
    assert app_env.scalar("SELECT file_name FROM loads") == "people.xlsx [Fair]"


def test_every_sheet_of_a_workbook_is_loaded(logged_in_app, app_env):
    at = _upload_book(logged_in_app)
    at.selectbox(key="src_sheet").set_value("All sheets").run()
    assert not at.exception, at.exception
    assert not at.get("data_editor") or not at.dataframe[1:]     # no single mapping to confirm
    at.button(key="src_load_all").click().run()
    assert not at.exception, at.exception
    assert sum("Loaded into Events team" in s.value for s in at.success) == 2
    assert app_env.scalar("SELECT count(*) FROM contacts WHERE source = 'Events team'") == 3
    assert app_env.scalar("SELECT count(*) FROM loads") == 2


def test_a_known_export_is_recognised_on_screen(logged_in_app, app_env):
    at = logged_in_app("marketer", "app_pages/sources.py")
    export = (b"Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address City,Tags\n"
              b"7001,Ann,Lee,ann@x.com,yes,Leeds,VIP\n")
    upload(at, "Shopify", "customers_export.csv", export)
    assert not at.exception, at.exception
    assert any("Recognised: Shopify customers" in c.value for c in at.caption)
    mapping = at.dataframe[1].value
    suggested = dict(zip(mapping["column"], mapping["field"]))
    assert suggested["Default Address City"] == "city" and suggested["Accepts Email Marketing"] == "email_consent"
    at.button(key="src_load").click().run()
    assert not at.exception, at.exception
    assert app_env.query_rows("SELECT source_record_id, city FROM contacts") == [("7001", "Leeds")]
    assert app_env.query_rows("SELECT purpose, granted FROM consents") == [("email", True)]


def test_a_collected_call_that_breaks_the_spec_shows_in_the_quarantine(logged_in_app, app_env, admin, tmp_path):
    """The collector spools an invalid call of a batch as a rejected line; its landing quarantines it."""
    from engine.collect.protocol import prepare_request
    from engine.ingest.events import load_events_ndjson

    data, count = prepare_request("batch", {"batch": [{"type": "track", "event": "Ok", "userId": "u1"},
                                                      {"type": "track", "event": "No id"}]})
    spool = tmp_path / "segment.ndjson"
    spool.write_bytes(data)
    with app_env.transaction() as con:
        assert tuple(load_events_ndjson(con, spool, "Website")) == (1, 1) and count == 2
    at = open_tab(logged_in_app("admin", "app_pages/sources.py"), "sources_tab", "Quarantine")
    assert not at.exception, at.exception
    assert any("reason" in df.value.columns and
               (df.value["reason"] == "batch[1]: userId or anonymousId is required.").any() for df in at.dataframe)
