"""Derived tables are brought up to date by the writer: after `cdp ingest` of events and after
`cdp resolve`, nothing is left for a screen to rebuild."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine import derived, order_events
from engine.cli.main import main
from engine.identity import resolve
from tests.engine.identity_helpers import add_contacts

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


# The tables built from people and their events; web orders are kept per order event (no events
# of orders here), so identity changes never make them stale.
FROM_PEOPLE = set(derived.NAMES) - {"web orders"}


def _events_file(tmp_path, now):
    rows = ["anonymous_id,user_id,event,timestamp"]
    for i in range(6):
        rows.append(f"a{i},u{i % 3},Page Viewed,{(now - timedelta(days=i)).isoformat()}")
    path = tmp_path / "events.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_refresh_rebuilds_only_what_is_stale_and_then_nothing(workspace, admin):
    add_contacts(workspace, [dict(source="crm", source_record_id=str(i), email=f"p{i}@shop.io", user_id=f"u{i}")
                             for i in range(3)])
    resolve(workspace, admin)
    assert set(derived.stale(workspace)) == {"profile search", "journeys", "segment event index"}
    steps = []
    done = derived.refresh(workspace, progress=lambda f, m: steps.append((f, m)))
    assert set(done) == {"profile search", "journeys", "segment event index"}
    assert derived.stale(workspace) == [] and derived.refresh(workspace) == {}
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)


def test_cli_writers_leave_nothing_stale(workspace, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    add_contacts(workspace, [dict(source="crm", source_record_id=str(i), email=f"p{i}@shop.io", user_id=f"u{i}")
                             for i in range(3)])
    assert main(["resolve"]) == 0
    assert derived.stale(workspace) == []
    assert "Updated for the app" in capsys.readouterr().err
    events = _events_file(tmp_path, datetime.now(timezone.utc))
    assert main(["ingest", "events", str(events), "--source", "Web"]) == 0
    assert derived.stale(workspace) == []
    monkeypatch.setenv("CDP_NO_REFRESH", "1")
    add_contacts(workspace, [dict(source="crm", source_record_id="9", email="p9@shop.io", user_id="u9")])
    assert main(["resolve"]) == 0
    assert "profile search" in derived.stale(workspace)       # left for the reader, as asked


def _collected(messages: list[str], now) -> bytes:
    """What the collector spools for track calls of user u1 (stamped as received now)."""
    from engine.collect.server import prepare_request
    batch = [{"type": "track", "event": "Product Viewed", "userId": "u1", "messageId": m,
              "timestamp": (now - timedelta(minutes=i)).isoformat()} for i, m in enumerate(messages)]
    return prepare_request("batch", {"batch": batch})[0]


def _collecting_one_person(ws, admin, now, messages: tuple[str, ...] = ("m1",)) -> None:
    """A Web source, one person (user id u1) resolved, their first collected events landed, the
    derived tables refreshed."""
    from engine.sources import create_source
    create_source(ws, admin, "Web", "events")
    add_contacts(ws, [dict(source="crm", source_record_id="1", email="p1@shop.io", user_id="u1")])
    resolve(ws, admin)
    _land(ws, _collected(list(messages), now), 1)
    derived.refresh(ws)


def _land(ws, data: bytes, seq: int) -> int:
    from engine.collect.loader import land_spool
    from engine.collect.spool import segment_name
    spool = ws.folder / "spool-under-test"
    spool.mkdir(exist_ok=True)
    (spool / segment_name(seq, "Web")).write_bytes(data)
    return land_spool(ws, spool)


def test_a_collector_landing_appends_to_the_derived_tables_and_leaves_nothing_stale(workspace, admin, monkeypatch):
    from engine.journeys import prepare
    from engine.segments import event_index

    now = datetime.now(timezone.utc)
    _collecting_one_person(workspace, admin, now, ("m1", "m2"))
    # From here a rebuild would fail: the landing below must get there by appending alone.
    monkeypatch.setattr(prepare, "NUMBER_PROFILES_SQL", "SELECT error('rebuilt')")
    monkeypatch.setattr(event_index, "_BUILD_SQL", "SELECT error('rebuilt')")
    assert _land(workspace, _collected(["m3", "m4", "m5"], now), 2) == 3
    assert derived.stale(workspace) == []
    assert workspace.scalar("SELECT count(*) FROM journey_events") == 5
    assert workspace.scalar(f"SELECT count(*) FROM {event_index.EVENT_INDEX_TABLE}") == 5
    # The same events again (a collector retry) add nothing twice.
    _land(workspace, _collected(["m3"], now), 3)
    assert derived.stale(workspace) == [] and workspace.scalar("SELECT count(*) FROM journey_events") == 5


@pytest.mark.parametrize("listed_max", [1_000, 2], ids=["ids listed", "ids joined"])
def test_what_a_landing_appends_is_what_a_rebuild_makes(workspace, admin, monkeypatch, listed_max):
    """Appends join only the identifiers the new events carry (named in a list, or past a few,
    joined from the new events): by user id first, else by anonymous id, events of nobody known
    left out, the same rows as building the tables from scratch."""
    monkeypatch.setattr("engine.event_appends.LISTED_IDS_MAX", listed_max)
    from engine.collect.server import prepare_request
    from engine.journeys import prepare
    from engine.segments import event_index
    from engine.sources import create_source

    now = datetime.now(timezone.utc)
    create_source(workspace, admin, "Web", "events")
    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="p1@shop.io", user_id="u1"),
                             dict(source="crm", source_record_id="2", email="p2@shop.io", user_id="u2")])
    resolve(workspace, admin)
    with workspace.transaction() as con:     # u2's browser, known by its anonymous id alone
        con.execute("INSERT INTO profile_identifiers (profile_id, id_type, id_value) SELECT profile_id, "
                    "'anonymous_id', 'anon-2' FROM profile_identifiers WHERE id_type = 'user_id' AND id_value = 'u2'")
    _land(workspace, _collected(["m1"], now), 1)
    derived.refresh(workspace)
    calls = [("u1", "anon-9"), (None, "anon-2"), ("u2", None), ("u-unknown", "anon-unknown"), ("u1", "anon-2")]
    batch = [{"type": "track", "event": f"Step {i}", "messageId": f"n{i}", "timestamp": (now - timedelta(minutes=i)).isoformat(),
              **({"userId": user} if user else {}), "anonymousId": anon or f"x{i}"} for i, (user, anon) in enumerate(calls)]
    _land(workspace, prepare_request("batch", {"batch": batch})[0], 2)
    assert derived.stale(workspace) == []
    journeys_sql = "SELECT * EXCLUDE (pk) FROM journey_events ORDER BY ALL"
    index_sql = f"SELECT * FROM {event_index.EVENT_INDEX_TABLE} ORDER BY ALL"
    appended = workspace.query_rows(journeys_sql), workspace.query_rows(index_sql)
    assert len(appended[0]) == 1 + 4 and len(appended[1]) == 1 + 4      # the unknown person's event left out
    prepare.prepare_journeys(workspace, force=True)
    event_index.rebuild(workspace)
    assert (workspace.query_rows(journeys_sql), workspace.query_rows(index_sql)) == appended


def test_landings_check_only_what_landings_can_change(workspace, admin, monkeypatch):
    """While nothing but landings commits (the core data version unmoved), a landing neither hashes
    the identities again nor counts every order event; after any other commit it does, once."""
    from engine.segments import event_index

    now = datetime.now(timezone.utc)
    _collecting_one_person(workspace, admin, now)
    _land(workspace, _collected(["m2"], now), 2)     # the refresh committed: this landing checks once
    hashed, counted = [], []
    monkeypatch.setattr(event_index, "_hash_identities",
                        lambda con, real=event_index._hash_identities: hashed.append(1) or real(con))
    monkeypatch.setattr(order_events, "_holds_all_covered",
                        lambda con, after, real=order_events._holds_all_covered: counted.append(1) or real(con, after))
    order = {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "o1",
             "timestamp": now.isoformat(), "properties": {"order_id": "W-1", "revenue": 12.5}}
    from engine.collect.server import prepare_request
    _land(workspace, _collected(["m3"], now), 3)
    _land(workspace, prepare_request("batch", {"batch": [order]})[0], 4)
    assert (hashed, counted) == ([], []) and derived.stale(workspace) == []
    assert workspace.scalar("SELECT count(*) FROM order_events") == 1
    with workspace.transaction() as con:      # any other commit: a landing checks once more
        con.execute("DELETE FROM events WHERE message_id = 'o1'")
    _land(workspace, _collected(["m5"], now), 5)
    assert hashed and counted
    assert "web orders" in derived.stale(workspace)      # the deletion was seen: only a rebuild will do


def test_append_only_leaves_a_table_that_needs_a_rebuild_alone(workspace, admin):
    from engine.journeys import journeys_stale, prepare_journeys
    from engine.segments import event_index

    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="p1@shop.io", user_id="u1")])
    resolve(workspace, admin)
    derived.refresh(workspace)
    add_contacts(workspace, [dict(source="crm", source_record_id="2", email="p2@shop.io", user_id="u2")])
    resolve(workspace, admin)                         # identities changed: only a rebuild will do
    assert derived.append_new_events(workspace) == ["web orders"]   # no order events: nothing to rebuild
    version = workspace.data_versions()
    assert prepare_journeys(workspace, append_only=True) is False and journeys_stale(workspace)
    assert event_index.ensure_fresh(workspace, append_only=True) is None
    assert workspace.data_versions() == version       # the writes that found nothing to do rolled back
    assert set(derived.stale(workspace)) == FROM_PEOPLE


def test_reads_rebuild_first_by_default_and_read_the_last_build_when_asked(workspace, admin):
    from engine.freshness import AS_BUILT, REBUILD
    from engine.journeys import event_names, funnel
    from engine.profiles import search_profiles

    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="ann@shop.io", user_id="u1")])
    resolve(workspace, admin)
    with workspace.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, load_id) "
                    "VALUES ('e1', 'web', 'track', 'Signed Up', 'u1', now(), 1)")
    derived.refresh(workspace)
    add_contacts(workspace, [dict(source="crm", source_record_id="2", email="bea@shop.io", user_id="u2")])
    resolve(workspace, admin)
    with workspace.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, load_id) "
                    "VALUES ('e2', 'web', 'track', 'Signed Up', 'u2', now(), 2), "
                    "('e3', 'web', 'track', 'Upgraded', 'u2', now(), 2)")
    assert set(derived.stale(workspace)) == FROM_PEOPLE
    # As built: the last consistent state, and nothing rebuilt.
    assert event_names(workspace, freshness=AS_BUILT)["step"].tolist() == ["Signed Up"]
    assert search_profiles(workspace, admin, "bea@shop.io", freshness=AS_BUILT).empty
    steps = funnel(workspace, admin, ["Signed Up", "Upgraded"], freshness=AS_BUILT).steps
    assert steps["people"].tolist() == [1, 0]
    assert set(derived.stale(workspace)) == FROM_PEOPLE
    # Rebuild (the default, and what the CLI passes): exact answers.
    steps = funnel(workspace, admin, ["Signed Up", "Upgraded"], freshness=REBUILD).steps
    assert steps["people"].tolist() == [2, 1]
    assert search_profiles(workspace, admin, "bea@shop.io")["email"].tolist() == ["bea@shop.io"]
    assert derived.stale(workspace) == ["segment event index"]     # segments fall back to the view
    with pytest.raises(ValueError, match="freshness"):
        event_names(workspace, freshness="whenever")


def test_one_refresh_job_at_a_time(workspace, admin, monkeypatch):
    import threading

    from engine import jobs

    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="p1@shop.io", user_id="u1")])
    resolve(workspace, admin)
    release = threading.Event()
    real = derived.refresh
    monkeypatch.setattr(derived, "refresh", lambda ws, progress=None: (release.wait(30), real(ws, progress))[1])
    first = derived.start_refresh(workspace, "ada", derived.stale(workspace))
    again = derived.start_refresh(workspace, "max")
    assert first.kind == derived.REFRESH_KIND and first.title.startswith("Updating profile search")
    assert again.id == first.id and again.started_by == "ada"          # the running one, not a second
    release.set()
    for _ in range(200):
        if not jobs.get_job(workspace, first.id).running:
            break
        threading.Event().wait(0.05)
    done = jobs.get_job(workspace, first.id)
    assert done.state == "done" and set(done.result) == FROM_PEOPLE
    assert derived.stale(workspace) == []
