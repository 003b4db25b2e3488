"""A small hand-built workspace whose journeys, funnel counts and attribution are known.

Four people, all first seen in January 2025 (T0 = 2025-01-06 10:00 UTC):
- P1 Alice Smith: anonymous a1 lands from a google/cpc campaign, views a product, identifies
  as u1, adds to cart, checks out, completes an order (o1, 100); back in February and March.
- P2 Bob Jones: anonymous a2 from facebook.com, views, adds to cart, then drops off; no order.
- P3 Carol Diaz: direct visit, views; adds to cart 10 days later (outside a 7-day window);
  an order (o3, 50) with no touch before it.
- P4 Dan Okafor: from google.com search, back 2 hours later from a newsletter/email campaign
  (a repeated home page), views, adds, checks out but never completes; a store order (o4, 80).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

T0 = datetime(2025, 1, 6, 10, 0, tzinfo=timezone.utc)
FUNNEL = ["Page: Home", "Product Viewed", "Product Added", "Checkout Started", "Order Completed"]

PROFILES = [
    # profile_id, first, last, email, phone, user_id, anonymous_id, country
    ("P1", "Alice", "Smith", "alice.smith@example.com", "+447700900001", "u1", "a1", "GB"),
    ("P2", "Bob", "Jones", "bob.jones@example.org", "+447700900002", None, "a2", "GB"),
    ("P3", "Carol", "Diaz", "carol.diaz@example.net", "+15551230003", None, "a3", "US"),
    ("P4", "Dan", "Okafor", "dan.okafor@example.com", "+447700900004", "u4", "a4", "GB"),
]


def _ctx(url="https://shop.example/", referrer=None, campaign=None):
    page = {"url": url}
    if referrer:
        page["referrer"] = referrer
    ctx = {"page": page}
    if campaign:
        ctx["campaign"] = campaign
    return json.dumps(ctx)


def _events():
    m = timedelta(minutes=1)
    google_cpc = {"source": "google", "medium": "cpc", "name": "winter"}
    rows = [
        # message_id, type, event, name, user_id, anonymous_id, ts, properties, context
        ("e1", "page", None, "Home", None, "a1", T0, {}, _ctx(campaign=google_cpc)),
        ("e2", "track", "Product Viewed", None, None, "a1", T0 + m, {"sku": "S1", "price": 40},
         _ctx("https://shop.example/p/1", referrer="https://shop.example/")),
        ("e3", "identify", None, None, "u1", "a1", T0 + 2 * m, {}, _ctx()),
        ("e4", "track", "Product Added", None, "u1", "a1", T0 + 3 * m, {"sku": "S1", "price": 40}, _ctx()),
        ("e5", "track", "Checkout Started", None, "u1", "a1", T0 + 4 * m, {"value": 100}, _ctx()),
        ("e6", "track", "Order Completed", None, "u1", "a1", T0 + 5 * m, {"order_id": "o1", "revenue": 100}, _ctx()),
        ("e7", "page", None, "Blog", "u1", None, T0 + timedelta(days=30), {}, _ctx("https://shop.example/blog")),
        # user id wins over anonymous id: a2 is Bob's browser, but u1 is Alice.
        ("e8", "page", None, "Account", "u1", "a2", T0 + timedelta(days=60), {}, _ctx("https://shop.example/account")),
        ("e10", "page", None, "Home", None, "a2", T0, {}, _ctx(referrer="https://www.facebook.com/")),
        ("e11", "track", "Product Viewed", None, None, "a2", T0 + m, {"sku": "S2", "price": 15}, _ctx()),
        ("e12", "track", "Product Added", None, None, "a2", T0 + 2 * m, {"sku": "S2", "price": 15}, _ctx()),
        ("e20", "page", None, "Home", None, "a3", T0, {}, _ctx()),
        ("e21", "track", "Product Viewed", None, None, "a3", T0 + m, {"sku": "S1", "price": 40}, _ctx()),
        ("e22", "track", "Product Added", None, None, "a3", T0 + timedelta(days=10), {"sku": "S1", "price": 40}, _ctx()),
        ("e30", "page", None, "Home", None, "a4", T0, {}, _ctx(referrer="https://www.google.com/search?q=shoes")),
        ("e31", "page", None, "Home", None, "a4", T0 + timedelta(hours=2), {},
         _ctx("https://shop.example/?utm_source=newsletter&utm_medium=email")),
        ("e32", "track", "Product Viewed", None, "u4", "a4", T0 + timedelta(hours=2) + m, {"sku": "S3", "price": 80}, _ctx()),
        ("e33", "track", "Product Added", None, "u4", "a4", T0 + timedelta(hours=2) + 2 * m, {"sku": "S3", "price": 80}, _ctx()),
        ("e34", "track", "Checkout Started", None, "u4", "a4", T0 + timedelta(hours=2) + 3 * m, {"value": 80}, _ctx()),
        # a visitor nobody has resolved: not on anyone's journey
        ("e90", "page", None, "Home", None, "stranger", T0, {}, _ctx(referrer="https://bing.com/")),
    ]
    return rows


def build(workspace) -> None:
    """Fill the workspace with the four people above (identity outputs written directly)."""
    with workspace.transaction() as con:
        for pid, first, last, email, phone, uid, anon, country in PROFILES:
            con.execute("INSERT INTO profiles (profile_id, email, phone, first_name, last_name, country, "
                        "customer_id, user_id, record_count, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        [pid, email, phone, first, last, country, "C" + pid[1:], uid, 2, T0, T0 + timedelta(days=60)])
            ids = [("email", email), ("phone", phone), ("anonymous_id", anon), ("customer_id", "C" + pid[1:])]
            if uid:
                ids.append(("user_id", uid))
            for id_type, value in ids:
                con.execute("INSERT INTO profile_identifiers VALUES (?, ?, ?, ?)", [pid, id_type, value, T0])
        con.execute("INSERT INTO loads (load_id, source, kind, file_name, rows_read, rows_loaded) "
                    "VALUES (7, 'crm', 'contacts', 'crm_export.csv', 2, 2)")
        con.execute("INSERT INTO contacts (source, source_record_id, email, first_name, last_name, lead_stage, "
                    "updated_at, load_id) VALUES ('crm', 'c1', 'alice.smith@example.com', 'Alice', 'Smith', "
                    "'lead', ?, 7)", [T0 - timedelta(days=5)])
        con.execute("INSERT INTO lead_stage_changes VALUES ('crm', 'c1', 'customer', 'lead', ?, 7)",
                    [T0 + timedelta(days=1)])
        con.execute("INSERT INTO profile_field_sources VALUES ('P1', 'email', 'alice.smith@example.com', 'crm', 'c1', 'most recent')")
        con.execute("INSERT INTO profile_field_sources VALUES ('P1', 'first_name', 'Alice', 'crm', 'c1', 'most complete')")
        orders = [("o1", "P1", T0 + 5 * timedelta(minutes=1), 100.0, "online"),
                  ("o3", "P3", T0 + timedelta(days=3), 50.0, "store"),
                  ("o4", "P4", T0 + timedelta(days=2), 80.0, "store")]
        for oid, pid, at, amount, channel in orders:
            con.execute("INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, currency, "
                        "channel) VALUES ('shop', ?, ?, ?, ?, 'GBP', ?)", [oid, oid, at, amount, channel])
            con.execute("INSERT INTO profile_members VALUES (?, 'order', 'shop', ?)", [pid, oid])
        con.execute("INSERT INTO profile_members VALUES ('P1', 'contact', 'crm', 'c1')")
        con.execute("INSERT INTO subscriptions (source, source_record_id, subscription_id, plan, status, "
                    "started_at, amount, currency, billing_interval) VALUES "
                    "('billing', 's1', 's1', 'Pro', 'active', ?, 9.5, 'GBP', 'month')", [T0 + timedelta(days=1)])
        con.execute("INSERT INTO profile_members VALUES ('P1', 'subscription', 'billing', 's1')")
        con.execute("INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at, method) "
                    "VALUES ('web', 'k1', 'email', true, ?, 'form'), ('web', 'k2', 'email', false, ?, 'form'), "
                    "('web', 'k3', 'advertising', true, ?, 'banner')",
                    [T0, T0 + timedelta(days=20), T0])
        for k in ("k1", "k2", "k3"):
            con.execute("INSERT INTO profile_members VALUES ('P1', 'consent', 'web', ?)", [k])
        con.execute("INSERT INTO profile_scores (profile_id, as_of, rfm_segment, predicted_clv, p_alive) "
                    "VALUES ('P1', DATE '2025-03-01', 'Champions', 420.0, 0.8)")
        for mid, typ, event, name, uid, anon, ts, props, ctx in _events():
            con.execute("INSERT INTO events (message_id, source, type, event, name, user_id, anonymous_id, "
                        "timestamp, properties, context) VALUES (?, 'web', ?, ?, ?, ?, ?, ?, ?, ?)",
                        [mid, typ, event, name, uid, anon, ts, json.dumps(props), ctx])
