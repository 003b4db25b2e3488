"""Data versions per kind of data: a collector landing moves the events side only, so cached reads
that touch no event stay cached while events stream; any other write moves both."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine.collect.loader import land_spool
from engine.collect.server import prepare_request
from engine.collect.spool import segment_name
from engine.sources import create_source
from engine.workspace import Workspace
from engine.workspace.versions import CORE, EVENTS, KINDS, NO_EVENTS, REVENUE, read

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

CALLS = {"profiles": 0, "events": 0}
REVENUE_CALLS = {"web orders": 0}


def count_profiles(workspace) -> int:
    """A read that touches no event (module level: cached_query keys on its name)."""
    CALLS["profiles"] += 1
    return workspace.scalar("SELECT count(*) FROM profiles")


def count_events(workspace) -> int:
    CALLS["events"] += 1
    return workspace.scalar("SELECT count(*) FROM events")


def count_web_orders(workspace) -> int:
    """A revenue read: orders that came as events."""
    REVENUE_CALLS["web orders"] += 1
    return workspace.scalar("SELECT count(*) FROM web_orders")


def land(workspace, seq: int, n: int = 3, event: str = "Viewed") -> int:
    """Spool n track calls (as the collector writes them, stamped now) and land them like the loader."""
    now = datetime.now(timezone.utc).isoformat()
    data, _ = prepare_request("batch", {"batch": [{"type": "track", "event": event, "userId": f"u{i}",
                                                   "messageId": f"m{seq}-{i}", "timestamp": now,
                                                   "properties": {"order_id": f"o{seq}-{i}", "total": 10}}
                                                  for i in range(n)]})
    spool = workspace.folder / "spool-under-test"
    spool.mkdir(exist_ok=True)
    (spool / segment_name(seq, "Web")).write_bytes(data)
    return land_spool(workspace, spool)


def test_a_landing_moves_only_the_events_version_and_other_writes_move_both(workspace, admin):
    create_source(workspace, admin, "Web", "events")
    before = workspace.data_versions()
    assert land(workspace, 1) == 3
    after = workspace.data_versions()
    assert after.all > before.all and after.core == before.core
    assert after.reading(NO_EVENTS) == before.reading(NO_EVENTS)
    assert after.reading(KINDS) != before.reading(KINDS)
    with workspace.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id) VALUES ('p1')")
    last = workspace.data_versions()
    assert last.all == after.all + 1 and last.core == after.core + 1
    with workspace.connect() as con:
        assert read(con) == last, "the file beside the database says what the database says"


def test_changing_refuses_unknown_kinds_and_is_undone_after_the_block(workspace):
    with pytest.raises(ValueError):
        with workspace.changing("orders"):
            pass
    with workspace.changing(EVENTS):
        with workspace.transaction() as con:
            con.execute("INSERT INTO meta VALUES ('probe', 'x')")
    middle = workspace.data_versions()
    with workspace.transaction() as con:
        con.execute("UPDATE meta SET value = 'y' WHERE key = 'probe'")
    assert workspace.data_versions().core == middle.core + 1
    with pytest.raises(ValueError):
        middle.reading(("orders",))
    assert middle.reading((CORE,)) == middle.core


def test_without_the_file_beside_it_the_versions_come_from_the_database(workspace):
    with workspace.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id) VALUES ('p1')")
    expected = workspace.data_versions()
    workspace.path.with_name(workspace.path.name + ".version").unlink()
    assert Workspace(workspace.path).data_versions() == expected


def test_a_landing_leaves_a_profiles_query_cached_and_an_events_query_refreshed(workspace, admin, monkeypatch):
    from ui.context import cached_query

    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    create_source(workspace, admin, "Web", "events")
    with workspace.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id) SELECT 'p' || i FROM range(4) t(i)")
    CALLS.update(profiles=0, events=0)
    assert cached_query(count_profiles, reads=NO_EVENTS) == 4
    assert cached_query(count_events) == 0
    land(workspace, 1)
    assert cached_query(count_profiles, reads=NO_EVENTS) == 4
    assert cached_query(count_events) == 3
    assert CALLS == {"profiles": 1, "events": 2}, "the landing must not make the profiles read miss"
    with workspace.transaction() as con:       # any other write: both miss
        con.execute("INSERT INTO profiles (profile_id) VALUES ('p9')")
    assert cached_query(count_profiles, reads=NO_EVENTS) == 5
    assert cached_query(count_events) == 3
    assert CALLS == {"profiles": 2, "events": 3}


def test_a_login_moves_only_the_access_version_and_keeps_cached_reads(workspace, monkeypatch):
    from engine.access import login
    from ui.context import cached_query

    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    CALLS.update(profiles=0, events=0)
    before = workspace.data_versions()
    assert cached_query(count_events) == 0
    outcome = login.password_login(workspace, "nobody-here", "wrong", "k" * 40, address="203.0.113.9")
    assert outcome.user is None and workspace.scalar("SELECT count(*) FROM audit_log WHERE action = 'login.failed'") == 1
    after = workspace.data_versions()
    assert after.data == before.data and after.access == before.access + 1
    assert after.reading(KINDS) != before.reading(KINDS), "a read of access sees the login"
    assert cached_query(count_events) == 0 and CALLS["events"] == 1, "the login must not make a data read miss"


def test_a_landing_moves_the_orders_version_only_when_order_events_came_with_it(workspace, admin, monkeypatch):
    from engine import order_events
    from ui.context import cached_query

    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    create_source(workspace, admin, "Web", "events")
    order_events.refresh(workspace)                # kept from the start, as the landings keep it
    REVENUE_CALLS["web orders"] = 0
    assert cached_query(count_web_orders, reads=REVENUE) == 0
    before = workspace.data_versions()
    land(workspace, 1)                             # page views only
    after_views = workspace.data_versions()
    assert after_views.all > before.all and after_views.reading(REVENUE) == before.reading(REVENUE)
    assert cached_query(count_web_orders, reads=REVENUE) == 0 and REVENUE_CALLS["web orders"] == 1
    land(workspace, 2, n=2, event="Order Completed")
    after_orders = workspace.data_versions()
    assert after_orders.reading(REVENUE) != after_views.reading(REVENUE)
    assert after_orders.core == before.core, "order events are still events: profiles reads stay cached"
    assert cached_query(count_web_orders, reads=REVENUE) == 2 and REVENUE_CALLS["web orders"] == 2
    with workspace.transaction() as con:           # any other write (an orders file, a resolve) misses too
        con.execute("INSERT INTO profiles (profile_id) VALUES ('p9')")
    assert workspace.data_versions().reading(REVENUE) != after_orders.reading(REVENUE)
    with workspace.connect() as con:
        assert read(con) == workspace.data_versions(), "the file beside the database says what the database says"
