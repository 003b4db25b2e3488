"""Web purchases kept as rows (engine/order_events.py): `web_orders` answers the same whether the
table is empty, filled, behind newly landed events, or after deletions, as a workspace whose
table was never filled (everything read from the events)."""
from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from engine import derived, order_events
from engine.privacy import retention
from engine.workspace import Workspace

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
WEB_ORDERS = ("SELECT order_id, source_record_id, ordered_at, amount, currency, status, amount_refunded, "
              "items::VARCHAR, user_id FROM web_orders ORDER BY order_id")


def _land(ws: Workspace, load_id: int | None, received: dt.datetime, rows: list[tuple]) -> None:
    """rows: (message_id, event, user_id, order_id, days_ago, properties)."""
    with ws.transaction() as con:
        for message_id, event, user_id, order_id, days_ago, properties in rows:
            con.execute("""INSERT INTO events (message_id, source, type, event, user_id, timestamp, received_at,
                                               properties, load_id)
                           VALUES (?, 'web', 'track', ?, ?, ?, ?, ?, ?)""",
                        [message_id, event, user_id, NOW - dt.timedelta(days=days_ago), received,
                         json.dumps({"order_id": order_id, **properties}), load_id])


FIRST = [
    ("m1", "Order Completed", "u1", "W-1", 30, {"revenue": 45.5, "currency": "gbp",
                                                "products": [{"sku": "MUG", "price": 45.5}]}),
    ("m2", "Order Completed", "u2", "W-2", 20, {"total": 12.0, "revenue": 10.0}),
    ("m3", "Order Completed", "u2", "W-3", 400, {"value": 7.0}),
    ("v1", "Product Viewed", "u1", None, 30, {"sku": "MUG"}),
]
LATER = [
    ("m1-retry", "Order Completed", "u1", "W-1", 29, {"revenue": 45.5}),    # the same order again
    ("r1", "Order Refunded", "u1", "W-1", 1, {"total": 5.5}),
    ("m4", "Order Completed", "u3", "W-4", 2, {"revenue": 99.0}),
]


@pytest.fixture
def pair(workspace, tmp_path):
    """Two workspaces given the same events; `order_events` is filled in the first only."""
    plain = tmp_path / "plain" / "cdp.duckdb"
    plain.parent.mkdir()
    shutil.copyfile(workspace.path, plain)
    return workspace, Workspace(plain)


def _both(pair, *args) -> None:
    for ws in pair:
        _land(ws, *args)


def _same(pair) -> list:
    kept, plain = (ws.query_rows(WEB_ORDERS) for ws in pair)
    assert kept == plain
    return kept


def test_web_orders_are_the_same_filled_behind_and_appended(pair):
    kept_ws = pair[0]
    _both(pair, 1, NOW - dt.timedelta(hours=2), FIRST)
    before = _same(pair)
    assert "web orders" in derived.stale(kept_ws)
    assert order_events.refresh(kept_ws) == {"rows": 3, "appended": True}
    assert not order_events.is_stale(kept_ws) and order_events.refresh(kept_ws) is None
    assert _same(pair) == before and {r[0] for r in before} == {"W-1", "W-2", "W-3"}
    # the collector adds to the day's load later, then a new load arrives, and events without a load
    _both(pair, 1, NOW - dt.timedelta(hours=1), LATER[:2])
    _both(pair, 2, NOW, LATER[2:])
    _both(pair, None, NOW, [("m5", "Order Completed", "u3", "W-5", 0, {"revenue": 1.0})])
    assert order_events.is_stale(kept_ws)
    after = _same(pair)       # read live after the watermark: already exact
    assert dict((r[0], r[5]) for r in after)["W-1"] == "partially_refunded"
    assert order_events.refresh(kept_ws, append_only=True) == {"rows": 3, "appended": True}
    assert kept_ws.scalar("SELECT count(*) FROM order_events") == 6    # the unloaded event stays live
    assert _same(pair) == after


def test_retention_and_a_deletion_behind_its_back(pair, admin):
    kept_ws = pair[0]
    _both(pair, 1, NOW - dt.timedelta(hours=2), FIRST + LATER)
    order_events.refresh(kept_ws)
    for ws in pair:
        retention.set_policy(ws, admin, events_days=365, raw_files_days=365)
        retention.apply(ws, admin)
    assert "W-3" not in {r[0] for r in _same(pair)}
    assert not order_events.is_stale(kept_ws)       # retention kept the table in step
    for ws in pair:
        with ws.transaction() as con:
            con.execute("DELETE FROM events WHERE message_id = 'm4'")
    assert order_events.is_stale(kept_ws)
    assert order_events.refresh(kept_ws, append_only=True) is None     # only a rebuild would do
    assert order_events.refresh(kept_ws)["appended"] is False
    assert "W-4" not in {r[0] for r in _same(pair)}
