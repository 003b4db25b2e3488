"""keep_fresh's staleness check is gated on the data versions: no change since the last check in this
process, no check; a collector landing that appended its events carries "up to date" forward."""
from __future__ import annotations

import pytest
from datetime import datetime, timezone

from engine import derived
from engine.identity import resolve
from engine.sources import create_source
from tests.engine.identity_helpers import add_contacts
from tests.engine.test_derived import FROM_PEOPLE, _collected, _land

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
