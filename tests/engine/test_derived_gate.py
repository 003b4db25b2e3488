"""keep_fresh's staleness check is gated on the data versions: no change since the last check in this
process, no check; a collector landing that appended its events carries "up to date" forward."""
from __future__ import annotations

import pytest
from datetime import datetime, timezone

from engine import derived
from engine.identity import resolve
from engine.sources import create_source
from tests.engine.identity_helpers import add_contacts
from tests.engine.test_derived import FROM_PEOPLE, _collected, _collecting_one_person, _land

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def _counting_checks(monkeypatch) -> list:
    checks = []
    real = derived.stale
    monkeypatch.setattr(derived, "stale", lambda ws: checks.append(1) or real(ws))
    return checks


def test_no_check_while_nothing_changed_and_one_after_a_write(workspace, admin, monkeypatch):
    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="p1@shop.io", user_id="u1")])
    resolve(workspace, admin)
    checks = _counting_checks(monkeypatch)
    assert set(derived.stale_now(workspace)) == FROM_PEOPLE
    assert set(derived.stale_now(workspace)) == FROM_PEOPLE
    assert len(checks) == 1, "the same data versions: the answer of the last check"
    derived.refresh(workspace)                   # (checks once itself)
    assert derived.stale_now(workspace) == [] and len(checks) == 3
    add_contacts(workspace, [dict(source="crm", source_record_id="2", email="p2@shop.io", user_id="u2")])
    resolve(workspace, admin)
    seen = len(checks)
    assert set(derived.stale_now(workspace)) == FROM_PEOPLE and len(checks) == seen + 1
    assert set(derived.stale_now(workspace)) == FROM_PEOPLE and len(checks) == seen + 1


def test_a_landing_that_appended_its_events_needs_no_check(workspace, admin, monkeypatch):
    now = datetime.now(timezone.utc)
    create_source(workspace, admin, "Web", "events")
    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="p1@shop.io", user_id="u1")])
    resolve(workspace, admin)
    derived.refresh(workspace)
    _land(workspace, _collected(["m1a", "m1b"], now), 1)     # the first collected events: a rebuild
    assert derived.stale_now(workspace) != [], "not appended: not carried forward"
    derived.refresh(workspace)
    checks = _counting_checks(monkeypatch)
    assert derived.stale_now(workspace) == [] and len(checks) == 1
    for seq in (2, 3):
        _land(workspace, _collected([f"m{seq}a", f"m{seq}b"], now), seq)
        assert derived.stale_now(workspace) == []
    assert len(checks) == 1, "landed and appended by the loader: known to be up to date"
    assert derived.stale(workspace) == [], "and really up to date"      # (a check of its own)
    # a landing whose append fails is not carried forward: the next look checks
    from engine.collect import loader
    monkeypatch.setattr(loader, "append_new_events", lambda ws: (_ for _ in ()).throw(RuntimeError("disk")))
    _land(workspace, _collected(["m4"], now), 4)
    assert derived.stale_now(workspace) == ["journeys", "segment event index"]
    assert len(checks) == 3


def test_while_a_landing_is_under_way_screens_keep_the_last_answer(workspace, admin, monkeypatch):
    """Between a landing's commit and its appends the tables look a batch behind: a screen that
    looks then is told what it was told before (it would start a refresh racing the appends)."""
    _collecting_one_person(workspace, admin, datetime.now(timezone.utc))
    assert derived.stale_now(workspace) == []
    checks = _counting_checks(monkeypatch)
    with derived.landing(workspace):
        with workspace.transaction() as con:       # the landing's events, not yet appended
            con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, received_at, "
                        "load_id) VALUES ('m2', 'web', 'track', 'Product Viewed', 'u1', now(), now(), 99)")
        assert derived.stale_now(workspace) == [] and checks == []
    assert "journeys" in derived.stale_now(workspace) and len(checks) == 1, "after it, a look checks"


def test_a_refresh_of_what_events_feed_keeps_the_core_version(workspace, admin):
    """Rebuilding journeys, the event index and web orders changes only tables derived from events:
    the screens' caches of reads that touch no event (keyed on the core version) stay valid."""
    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="p1@shop.io", user_id="u1")])
    resolve(workspace, admin)
    derived.refresh(workspace)
    with workspace.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, received_at, load_id) "
                    "VALUES ('m1', 'web', 'track', 'Order Completed', 'u1', now(), now(), 7)")
    before = workspace.data_versions()
    assert {"journeys", "segment event index", "web orders"} <= set(derived.refresh(workspace))
    after = workspace.data_versions()
    assert after.core == before.core and after.all > before.all and after.orders > before.orders
    assert derived.stale(workspace) == []
