"""Each condition kind against hand-built people whose membership we know.

Six people, p1..p6, with events, orders, subscriptions, CRM records, scores, consents and tags.
Every expectation is checked through the profile_events view and through the materialised
event index, which must agree.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from engine.segments import event_index
from engine.segments.store import compile_in
from tests.conftest import copy_workspace, held_open

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)
EVIL = "O'Brien; DROP TABLE profiles;--"


def build_people(ws) -> None:
    """Insert the six people and everything they did (see the module docstring)."""
    with ws.transaction() as con:
        profiles = [
            ("p1", "alice@example.com", "+447700900001", "Alice", "GB", "1990-05-01", "2026-01-10"),
            ("p2", "bob@example.com", None, "Bob", "US", "1985-02-02", "2026-06-01"),
            ("p3", None, "+15550000003", "Cara", "GB", None, "2025-12-01"),
            ("p4", "dan@shop.com", None, "Dan", "DE", None, "2025-05-01"),
            ("p5", None, None, "Eve", None, None, "2025-05-01"),
            ("p6", "evil@x.com", None, EVIL, "FR", None, "2025-05-01"),
        ]
        con.executemany("INSERT INTO profiles (profile_id, email, phone, first_name, country, "
                        "date_of_birth, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?)", profiles)
        ids = [(f"p{i}", "user_id", f"u{i}") for i in range(1, 7)]
        ids += [("p1", "anonymous_id", "a1"), ("p3", "anonymous_id", "a3"),
                ("p1", "email", "alice@example.com"), ("p2", "email", "bob@example.com"),
                ("p4", "email", "dan@shop.com"), ("p6", "email", "evil@x.com"),
                ("p1", "phone", "+447700900001"), ("p3", "phone", "+15550000003"),
                ("p2", "fbp", "fb.1.123"), ("p4", "gclid", "gcl-1")]
        con.executemany("INSERT INTO profile_identifiers (profile_id, id_type, id_value) VALUES (?, ?, ?)", ids)
        events = [
            # (id, type, event, name, user_id, anonymous_id, timestamp, properties)
            ("e1", "track", "Order Completed", None, "u1", None, "2026-06-20 10:00", {"revenue": 120, "category": "shoes"}),
            ("e2", "track", "Order Completed", None, "u1", None, "2026-06-25 10:00", {"revenue": 100, "category": "bags"}),
            ("e3", "track", "Product Viewed", None, None, "a1", "2026-06-19 10:00", {}),
            ("e4", "track", "Order Completed", None, "u2", None, "2026-03-01 10:00", {"revenue": 50}),
            ("e5", "track", "Product Viewed", None, "u2", None, "2026-06-28 10:00", {}),
            ("e6", "track", "Added To Cart", None, "u2", None, "2026-06-28 11:00", {}),
            ("e7", "track", "Product Viewed", None, None, "a3", "2026-06-10 10:00", {}),
            ("e8", "track", "Added To Cart", None, "u3", None, "2026-06-20 10:00", {}),
            ("e9", "track", "Unsubscribed", None, "u3", None, "2026-06-21 10:00", {}),
            ("e10", "track", "Order Completed", None, "u4", None, "2026-06-05 10:00", {"revenue": 10}),
            ("e11", "track", "Order Completed", None, "u4", None, "2026-06-15 10:00", {"revenue": 10}),
            ("e12", "track", "Order Completed", None, "u4", None, "2026-06-29 10:00", {"revenue": 10}),
            ("e13", "page", None, "Home", "u5", None, "2026-06-29 10:00", {}),
            ("e14", "track", "Order Completed", None, "ghost", None, "2026-06-29 10:00", {"revenue": 999}),
        ]
        con.executemany(
            "INSERT INTO events (message_id, source, type, event, name, user_id, anonymous_id, timestamp, properties) "
            "VALUES (?, 'web', ?, ?, ?, ?, ?, CAST(? AS TIMESTAMPTZ), ?)",
            [(m, t, e, n, u, a, ts + "+00", json.dumps(p)) for m, t, e, n, u, a, ts, p in events])
        orders = [
            ("o1", "p1", "2026-06-01", 300.0, [{"sku": "S1", "name": "Trail Runner", "category": "Shoes"}]),
            ("o2", "p1", "2026-01-15", 50.0, [{"sku": "H1", "name": "Cap", "category": "Hats"}]),
            ("o3", "p2", "2026-05-20", 80.0, [{"sku": "B1", "name": "Tote", "category": "Bags"}]),
            ("o4", "p4", "2025-06-01", 20.0, None),
        ]
        con.executemany("INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, items) "
                        "VALUES ('shop', ?, ?, CAST(? AS TIMESTAMPTZ), ?, ?)",
                        [(o, o, d, amt, json.dumps(items) if items else None) for o, _, d, amt, items in orders])
        subs = [("s1", "p2", "Pro", "active", "2026-02-01", None),
                ("s2", "p3", "Basic", "cancelled", "2025-01-01", "2026-06-15"),
                ("s3", "p4", "Pro", "trialing", "2026-06-20", None)]
        con.executemany("INSERT INTO subscriptions (source, source_record_id, plan, status, started_at, cancelled_at) "
                        "VALUES ('billing', ?, ?, ?, CAST(? AS TIMESTAMPTZ), CAST(? AS TIMESTAMPTZ))",
                        [(s, plan, st, a, c) for s, _, plan, st, a, c in subs])
        contacts = [("c1", "p1", "Customer", "Jane", 5000.0, {"plan_interest": "premium", "score": "42"}),
                    ("c2", "p2", "Lead", "Jim", 100.0, {"score": "7"}),
                    ("c3", "p3", "Opportunity", "Jane", None, None)]
        con.executemany("INSERT INTO contacts (source, source_record_id, lead_stage, owner, deal_value, traits) "
                        "VALUES ('crm', ?, ?, ?, ?, ?)",
                        [(c, st, o, d, json.dumps(t) if t else None) for c, _, st, o, d, t in contacts])
        con.executemany("INSERT INTO lead_stage_changes (source, source_record_id, stage, previous_stage, changed_at) "
                        "VALUES ('crm', ?, ?, ?, CAST(? AS TIMESTAMPTZ))",
                        [("c1", "MQL", "Lead", "2026-01-05"), ("c1", "Customer", "MQL", "2026-06-10"),
                         ("c3", "Opportunity", "Lead", "2026-03-01")])
        consents = [("k1", "p1", "email", True, "2026-01-01"), ("k2", "p1", "email", False, "2026-05-01"),
                    ("k3", "p2", "email", True, "2026-02-01"), ("k4", "p3", "advertising", True, "2026-02-01")]
        con.executemany("INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at) "
                        "VALUES ('web', ?, ?, ?, CAST(? AS TIMESTAMPTZ))",
                        [(k, pur, g, r) for k, _, pur, g, r in consents])
        members = ([("p1", "contacts", "crm", "c1"), ("p2", "contacts", "crm", "c2"), ("p3", "contacts", "crm", "c3")]
                   + [(p, "orders", "shop", o) for o, p, *_ in orders]
                   + [(p, "subscriptions", "billing", s) for s, p, *_ in subs]
                   + [(p, "consents", "web", k) for k, p, *_ in consents])
        con.executemany("INSERT INTO profile_members (profile_id, kind, source, source_record_id) "
                        "VALUES (?, ?, ?, ?)", members)
        con.executemany("INSERT INTO profile_scores (profile_id, rfm_segment, predicted_clv, p_alive) "
                        "VALUES (?, ?, ?, ?)",
                        [("p1", "Champions", 900.0, 0.9), ("p2", "At Risk", 300.0, 0.4),
                         ("p3", "Champions", 100.0, 0.8), ("p4", "Lost", 50.0, 0.1)])
        con.executemany("INSERT INTO profile_tags (profile_id, tag) VALUES (?, ?)",
                        [("p1", "vip"), ("p5", "vip"), ("p2", "churn-risk")])


@pytest.fixture(scope="module", params=["view", "index"])
def people(request, tmp_path_factory, migrated_template):
    """Built once per evaluation path; the condition tests only read."""
    ws = copy_workspace(migrated_template, tmp_path_factory.mktemp(f"people_{request.param}") / "cdp.duckdb")
    with held_open(ws):
        build_people(ws)
        if request.param == "index":
            event_index.rebuild(ws)
        ws.use_index = request.param == "index"
        yield ws


def members(ws, definition, segment_id=None) -> set[str]:
    with ws.connect() as con:
        comp = compile_in(con, definition, as_of=AS_OF, use_index=getattr(ws, "use_index", False),
                          segment_id=segment_id)
        return {r[0] for r in con.execute(comp.sql, comp.params).fetchall()}


def cond(kind, **keys):
    return {"type": "condition", "kind": kind, **keys}


def grp(op, *children):
    return {"type": "group", "op": op, "children": list(children)}


def one(kind, **keys):
    return grp("all", cond(kind, **keys))


LAST30 = {"type": "last_days", "days": 30}

CASES = {
    # traits on golden-record fields
    "country equals": (one("trait", field="country", op="equals", value="GB"), {"p1", "p3"}),
    "country not equals keeps unknown": (one("trait", field="country", op="not_equals", value="GB"),
                                         {"p2", "p4", "p5", "p6"}),
    "country one of": (one("trait", field="country", op="one_of", value=["GB", "US"]), {"p1", "p2", "p3"}),
    "email is set": (one("trait", field="email", op="is_set"), {"p1", "p2", "p4", "p6"}),
    "email not set": (one("trait", field="email", op="not_set"), {"p3", "p5"}),
    "email contains": (one("trait", field="email", op="contains", value="EXAMPLE"), {"p1", "p2"}),
    "email starts with": (one("trait", field="email", op="starts_with", value="dan"), {"p4"}),
    "email ends with": (one("trait", field="email", op="ends_with", value=".com"), {"p1", "p2", "p4", "p6"}),
    "dob before": (one("trait", field="date_of_birth", op="before", value="1988-01-01"), {"p2"}),
    "dob between": (one("trait", field="date_of_birth", op="between", value=["1980-01-01", "1995-01-01"]),
                    {"p1", "p2"}),
    "first seen within": (one("trait", field="first_seen", op="within_last_days", value=60), {"p2"}),
    "first seen more than": (one("trait", field="first_seen", op="more_than_days_ago", value=365),
                             {"p4", "p5", "p6"}),
    "quote in value": (one("trait", field="first_name", op="equals", value=EVIL), {"p6"}),
    # custom traits from sources
    "custom trait equals": (one("trait", field="traits.plan_interest", op="equals", value="premium"), {"p1"}),
    "custom trait number": (one("trait", field="traits.score", op="gt", value=10, value_type="number"), {"p1"}),
    "custom trait not set": (one("trait", field="traits.score", op="not_set"), {"p3", "p4", "p5", "p6"}),
    # behaviour
    "event at least 2 in 30 days": (one("event", event="Order Completed", count_op="at_least", count=2,
                                        window=LAST30), {"p1", "p4"}),
    "event at most 1 in 30 days": (one("event", event="Order Completed", count_op="at_most", count=1,
                                       window=LAST30), {"p2", "p3", "p5", "p6"}),
    "event exactly 3": (one("event", event="Order Completed", count_op="exactly", count=3), {"p4"}),
    "did not perform": (one("event", event="Order Completed", count_op="none"), {"p3", "p5", "p6"}),
    "did not in window": (one("event", event="Order Completed", count_op="none", window=LAST30), {"p2", "p3", "p5", "p6"}),
    "event between dates": (one("event", event="Order Completed",
                                window={"type": "between_dates", "start": "2026-03-01", "end": "2026-03-01"}),
                            {"p2"}),
    "event N to M days ago": (one("event", event="Order Completed",
                                  window={"type": "days_ago", "min_days": 20, "max_days": 200}), {"p2", "p4"}),
    "event number filter": (one("event", event="Order Completed",
                                filters=[{"property": "revenue", "op": "gt", "value": 110, "value_type": "number"}]),
                            {"p1"}),
    "event text filter": (one("event", event="Order Completed",
                              filters=[{"property": "category", "op": "equals", "value": "shoes"}]), {"p1"}),
    "page call as event": (one("event", event="page"), {"p5"}),
    "anonymous events attributed": (one("event", event="Product Viewed", window=LAST30), {"p1", "p2", "p3"}),
    # sequences
    "sequence within 1 day": (one("sequence", first={"event": "Product Viewed"}, then={"event": "Added To Cart"},
                                  within_days=1), {"p2"}),
    "sequence within 15 days": (one("sequence", first={"event": "Product Viewed"}, then={"event": "Added To Cart"},
                                    within_days=15), {"p2", "p3"}),
    "sequence wrong order": (one("sequence", first={"event": "Added To Cart"}, then={"event": "Product Viewed"},
                                 within_days=30), set()),
    # aggregates
    "event revenue sum > 200 in 90 days": (one("aggregate", source="event", event="Order Completed",
                                               property="revenue", func="sum", op="gt", value=200,
                                               window={"type": "last_days", "days": 90}), {"p1"}),
    "event revenue sum < 40 includes zero": (one("aggregate", source="event", event="Order Completed",
                                                 property="revenue", func="sum", op="lt", value=40,
                                                 window={"type": "last_days", "days": 90}),
                                             {"p2", "p3", "p4", "p5", "p6"}),
    "event revenue avg >= 50": (one("aggregate", source="event", event="Order Completed", property="revenue",
                                    func="avg", op="gte", value=50), {"p1", "p2"}),
    "event revenue max between": (one("aggregate", source="event", event="Order Completed", property="revenue",
                                      func="max", op="between", value=[40, 60]), {"p2"}),
    "order amount sum in 90 days": (one("aggregate", source="orders", property="amount", func="sum", op="gt",
                                        value=200, window={"type": "last_days", "days": 90}), {"p1"}),
    # orders
    "order count": (one("orders", measure="order_count", op="gte", value=2), {"p1"}),
    "revenue in window": (one("orders", measure="total_revenue", op="gt", value=100,
                              window={"type": "last_days", "days": 90}), {"p1"}),
    "revenue below includes none": (one("orders", measure="total_revenue", op="lt", value=10), {"p3", "p5", "p6"}),
    "average order value": (one("orders", measure="avg_order_value", op="gt", value=70), {"p1", "p2"}),
    "first order before": (one("orders", measure="first_order_date", op="before", value="2026-01-01"), {"p4"}),
    "last order within": (one("orders", measure="last_order_date", op="within_last_days", value=60), {"p1", "p2"}),
    "never ordered": (one("orders", measure="first_order_date", op="not_set"), {"p3", "p5", "p6"}),
    "bought category": (one("orders", measure="bought", item_field="category", op="equals", value="Shoes"), {"p1"}),
    "bought one of": (one("orders", measure="bought", item_field="category", op="one_of", value=["Bags", "Hats"]),
                      {"p1", "p2"}),
    "bought name contains": (one("orders", measure="bought", item_field="name", op="contains", value="runner"), {"p1"}),
    "bought in window": (one("orders", measure="bought", item_field="category", op="equals", value="Hats",
                             window=LAST30), set()),
    # subscriptions
    "active plan": (one("subscription", state="active"), {"p2", "p4"}),
    "active on pro": (one("subscription", state="active", plan="pro"), {"p2", "p4"}),
    "any basic": (one("subscription", state="any", plan=["Basic"]), {"p3"}),
    "cancelled recently": (one("subscription", state="cancelled", window=LAST30), {"p3"}),
    "cancelled long ago": (one("subscription", state="cancelled",
                               window={"type": "between_dates", "start": "2026-01-01", "end": "2026-05-01"}), set()),
    # CRM
    "stage is": (one("crm", measure="stage_is", op="equals", value="Customer"), {"p1"}),
    "stage is not": (one("crm", measure="stage_is", op="not_equals", value="Customer"), {"p2", "p3", "p4", "p5", "p6"}),
    "stage was MQL": (one("crm", measure="stage_was", value="mql"), {"p1"}),
    "stage was Lead": (one("crm", measure="stage_was", value="Lead"), {"p1", "p2", "p3"}),
    "stage changed recently": (one("crm", measure="stage_changed", window=LAST30), {"p1"}),
    "stage changed to": (one("crm", measure="stage_changed", value="Opportunity"), {"p3"}),
    "owner": (one("crm", measure="owner", op="equals", value="Jane"), {"p1", "p3"}),
    "deal value": (one("crm", measure="deal_value", op="gt", value=1000), {"p1"}),
    # value
    "rfm segment": (one("value", field="rfm_segment", op="equals", value="Champions"), {"p1", "p3"}),
    "predicted clv": (one("value", field="predicted_clv", op="gt", value=200), {"p1", "p2"}),
    "clv top 25%": (one("value", field="predicted_clv", op="top_percent", value=25), {"p1"}),
    "clv top 50%": (one("value", field="predicted_clv", op="top_percent", value=50), {"p1", "p2"}),
    "p alive between": (one("value", field="p_alive", op="between", value=[0.5, 1]), {"p1", "p3"}),
    # consent, sources, tags
    "email consent granted": (one("consent", purpose="email", granted=True), {"p2"}),
    "email consent not granted": (one("consent", purpose="email", granted=False), {"p1", "p3", "p4", "p5", "p6"}),
    "in source": (one("source", source="shop"), {"p1", "p2", "p4"}),
    "not in source": (one("source", source="crm", present=False), {"p4", "p5", "p6"}),
    "tag": (one("tag", tag="vip"), {"p1", "p5"}),
    "tags any of": (one("tag", tag=["vip", "churn-risk"]), {"p1", "p2", "p5"}),
    # groups
    "all with none": (grp("all", cond("trait", field="country", op="equals", value="GB"),
                          grp("none", cond("tag", tag="vip"))), {"p3"}),
    "any": (grp("any", cond("tag", tag="vip"), cond("trait", field="country", op="equals", value="US")),
            {"p1", "p2", "p5"}),
    "nested three deep": (grp("all",
                              grp("any", cond("trait", field="country", op="equals", value="GB"),
                                  cond("trait", field="country", op="equals", value="US")),
                              grp("none", grp("all", cond("tag", tag="vip"),
                                              cond("trait", field="email", op="is_set")))), {"p2", "p3"}),
    "none keeps unknown values": (grp("none", cond("trait", field="country", op="equals", value="GB")),
                                  {"p2", "p4", "p5", "p6"}),
    "negate flag": (grp("all", cond("tag", tag="vip", negate=True)), {"p2", "p3", "p4", "p6"}),
    "empty all is everyone": (grp("all"), {"p1", "p2", "p3", "p4", "p5", "p6"}),
    "empty any is no one": (grp("any"), set()),
}


@pytest.mark.parametrize("name", list(CASES))
def test_condition_members(people, name):
    definition, expected = CASES[name]
    assert members(people, definition) == expected


def test_index_and_view_agree_and_index_goes_stale(workspace):
    build_people(workspace)
    with workspace.connect() as con:
        assert event_index.events_relation(con, str(workspace.path)) != event_index.EVENT_INDEX_TABLE
    assert event_index.ensure_fresh(workspace)["rows"] == 13  # the ghost's event is not attributed
    with workspace.connect() as con:
        assert event_index.events_relation(con, str(workspace.path)) == event_index.EVENT_INDEX_TABLE
    assert event_index.ensure_fresh(workspace) is None
    with workspace.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp) "
                    "VALUES ('e99', 'web', 'track', 'Signed Up', 'u6', now())")
    with workspace.connect() as con:
        assert event_index.events_relation(con, str(workspace.path)) == event_index.EVENTS_VIEW_RELATION
    # stale index: answers come from the view, so the new event counts at once
    workspace.use_index = None
    with workspace.connect() as con:
        comp = compile_in(con, one("event", event="Signed Up"), path=str(workspace.path))
        assert {r[0] for r in con.execute(comp.sql, comp.params).fetchall()} == {"p6"}


def test_fresh_index_skips_the_fingerprint_until_something_is_written(workspace, monkeypatch, marketer):
    build_people(workspace)
    event_index.rebuild(workspace)
    event_index._fresh_cache.clear()
    calls = []
    real = event_index.fingerprint
    monkeypatch.setattr(event_index, "fingerprint", lambda con, *built: calls.append(1) or real(con, *built))
    with workspace.connect() as con:
        assert event_index.is_fresh(con, "x")
    assert calls == []
    # a segment save bumps the data version: one fingerprint check, and the index is still fresh
    from engine.segments import create_segment
    create_segment(workspace, marketer, "UK", one("trait", field="country", op="equals", value="GB"))
    with workspace.connect() as con:
        assert event_index.is_fresh(con, "x") and event_index.is_fresh(con, "x")
    assert len(calls) == 1


def test_new_events_are_appended_to_the_index_until_identities_change(workspace):
    """Collector micro-batches add to their source's load of the day: the index grows, no rebuild."""
    build_people(workspace)
    with workspace.transaction() as con:
        con.execute("UPDATE events SET load_id = 3, received_at = TIMESTAMPTZ '2026-06-30 08:00:00+00'")
    assert event_index.ensure_fresh(workspace)["appended"] is False
    with workspace.transaction() as con:
        con.execute(f"INSERT INTO {event_index.EVENT_INDEX_TABLE} (profile_id, event) VALUES ('marker', 'kept')")
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, received_at, load_id) "
                    "VALUES ('e99', 'web', 'track', 'Signed Up', 'u6', TIMESTAMPTZ '2026-06-30 09:00:00+00', "
                    "TIMESTAMPTZ '2026-06-30 09:00:01+00', 3)")
    done = event_index.ensure_fresh(workspace)
    assert done["appended"] is True and done["rows"] == 13 + 1 + 1          # + the marker, + e99
    with workspace.connect() as con:
        assert event_index.events_relation(con, str(workspace.path)) == event_index.EVENT_INDEX_TABLE
        comp = compile_in(con, one("event", event="Signed Up"), path=str(workspace.path))
        assert {r[0] for r in con.execute(comp.sql, comp.params).fetchall()} == {"p6"}
    # A changed identity graph re-attributes old events: rebuilt, the marker is gone.
    with workspace.transaction() as con:
        con.execute("UPDATE profile_identifiers SET profile_id = 'p5' WHERE id_type = 'user_id' AND id_value = 'u6'")
    assert event_index.ensure_fresh(workspace)["appended"] is False
    assert workspace.scalar(f"SELECT count(*) FROM {event_index.EVENT_INDEX_TABLE} WHERE profile_id = 'marker'") == 0
