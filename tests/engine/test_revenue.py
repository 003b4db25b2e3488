"""Money kept: failed, cancelled and pending payments are not revenue, refunds are taken off.

One definition (migration 0015's macros and views, engine/revenue.py) read by value, segments,
profiles and journeys; these tests build orders with every status (and web purchases) and check
each reader, and that orders loaded before statuses existed get theirs on upgrade.
"""
import datetime as dt
import json

import duckdb
import pandas as pd
import pytest

from engine import revenue
from engine.profiles import profile_timeline, profile_view
from engine.segments import create_segment, segment_members
from engine.value import rfm_scores
from engine.value.history import load_history
from engine.workspace import migrations, open_workspace

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

# The sample's billing file and the tools' words, with what they become.
WORDS = [
    ("Paid", 24.0, None, "paid"), ("succeeded", 24.0, 0.0, "paid"), ("Failed", 24.0, None, "failed"),
    ("declined", 5.0, None, "failed"), ("Refunded", 80.0, 80.0, "refunded"),
    ("refunded", 80.0, None, "refunded"), ("partially_refunded", 50.0, None, "partially_refunded"),
    ("Paid", 50.0, 20.0, "partially_refunded"),        # Stripe: Paid with an Amount Refunded
    ("Paid", 50.0, 50.0, "refunded"), ("pending", 9.0, None, "pending"),
    ("authorized", 9.0, None, "pending"), ("voided", 9.0, None, "cancelled"),
    (" Canceled ", 9.0, None, "cancelled"), ("Partially Refunded", 9.0, 3.0, "partially_refunded"),
    ("Failed", 9.0, 9.0, "failed"),                     # a failed charge stays failed
    (None, 9.0, None, None), ("", 9.0, None, None), (None, 9.0, 4.0, "partially_refunded"),
    ("mystery", 9.0, None, "other"),
]


def test_status_words_become_the_vocabulary(workspace):
    frame = pd.DataFrame(WORDS, columns=["raw", "amount", "refunded", "expected"])
    with workspace.connect() as con:
        con.register("words", frame)
        got = con.execute("SELECT order_status(raw, amount, refunded) FROM words").fetchall()
    assert [g[0] for g in got] == [w[3] for w in WORDS]
    assert {w[3] for w in WORDS if w[3]} <= set(revenue.STATUSES)


@pytest.mark.parametrize("status", [*revenue.STATUSES, None])
@pytest.mark.parametrize("amount,refunded", [(50.0, None), (50.0, 20.0), (50.0, 70.0), (None, None)])
def test_counts_and_net_amount_match_the_python_reference(workspace, status, amount, refunded):
    with workspace.connect() as con:
        counts, net = con.execute("SELECT order_counts(?), order_net_amount(?, ?, ?)",
                                  [status, status, amount, refunded]).fetchone()
    assert counts == revenue.counts(status)
    assert net == revenue.net_amount(status, amount, refunded)


TODAY = dt.datetime.now(dt.timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0)
AS_OF = TODAY.date()
# (profile, days ago, amount, status, amount refunded)
ORDERS = [
    ("a", 40, 40.0, "paid", None),
    ("a", 30, 25.0, "failed", None),              # a declined card: no order, no revenue
    ("a", 20, 30.0, "refunded", None),            # refunded in full: an order worth nothing
    ("a", 10, 50.0, "partially_refunded", 20.0),  # worth 30
    ("a", 5, 99.0, "cancelled", None),
    ("a", 2, 15.0, "pending", None),
    ("b", 12, 60.0, "paid", None),
    ("b", 3, 10.0, None, None),                   # no status given (a till): counts
]
A_ORDERS, A_REVENUE = 3, 70.0      # gross, everything counted: 6 orders, 259.0


@pytest.fixture
def ws(workspace):
    frame = pd.DataFrame(ORDERS, columns=["profile_id", "days_ago", "amount", "status", "refunded"])
    frame["ordered_at"] = [TODAY - dt.timedelta(days=int(d)) for d in frame["days_ago"]]
    frame["rid"] = frame["profile_id"] + "-" + frame.index.astype(str)
    with workspace.transaction() as con:
        con.register("hand_orders", frame)
        con.execute("""INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, status,
                           amount_refunded, email)
                       SELECT 'shop', rid, rid, ordered_at, amount, status, refunded, profile_id || '@example.com'
                       FROM hand_orders""")
        con.execute("INSERT INTO profile_members SELECT profile_id, 'order', 'shop', rid FROM hand_orders")
        con.execute("""INSERT INTO profiles (profile_id, email)
                       SELECT DISTINCT profile_id, profile_id || '@example.com' FROM hand_orders""")
        con.unregister("hand_orders")
    return workspace


def test_rfm_counts_only_money_kept(ws, analyst):
    df = rfm_scores(ws, analyst, AS_OF).set_index("profile_id")
    assert df.loc["a", "frequency"] == A_ORDERS
    assert df.loc["a", "monetary"] == pytest.approx(A_REVENUE)
    assert df.loc["b", "monetary"] == pytest.approx(70.0)
    assert df.loc["a", "recency_days"] == 10   # the pending order two days ago is not a purchase


def test_clv_input_counts_only_money_kept(ws):
    with ws.connect() as con:
        history = load_history(con, AS_OF)
    a = list(history.profile_id).index("a")
    assert history.orders[a] == A_ORDERS
    assert history.total_amount[a] == pytest.approx(A_REVENUE)


@pytest.mark.parametrize("measure,op,value,members", [
    ("total_revenue", "gt", 65, {"a", "b"}),
    ("total_revenue", "gt", 100, set()),          # gross, a spent 259
    ("order_count", "gte", 4, set()),             # a has 6 order records, 3 of them paid for
    ("order_count", "equals", 3, {"a"}),
    ("avg_order_value", "lt", 30, {"a"}),
])
def test_segment_on_orders_sees_money_kept(ws, admin, measure, op, value, members):
    definition = {"type": "group", "op": "all", "children": [
        {"type": "condition", "kind": "orders", "measure": measure, "op": op, "value": value}]}
    segment_id = create_segment(ws, admin, f"{measure} {op} {value}", definition)
    assert set(segment_members(ws, admin, segment_id)["profile_id"]) == members


def test_segment_sum_of_order_amount_is_net(ws, admin):
    definition = {"type": "group", "op": "all", "children": [
        {"type": "condition", "kind": "aggregate", "source": "orders", "property": "amount",
         "func": "sum", "op": "gt", "value": 69}]}
    segment_id = create_segment(ws, admin, "spent over 69", definition)
    assert set(segment_members(ws, admin, segment_id)["profile_id"]) == {"a", "b"}


def test_profile_headline_counts_money_kept_and_marks_the_rest(ws, admin):
    view = profile_view(ws, admin, "a")
    assert view.headline["orders"] == A_ORDERS
    assert view.headline["revenue"] == pytest.approx(A_REVENUE)
    summaries = " | ".join(view.records["summary"].dropna())
    assert "failed" in summaries and "refunded" in summaries and "cancelled" in summaries
    timeline = profile_timeline(ws, admin, "a", types=["order"])
    details = dict(zip(timeline["title"], timeline["detail"]))
    assert "failed" in details["Order a-1"] and "partially_refunded" in details["Order a-3"]
    assert details["Order a-0"].startswith("40.0") and "paid" not in details["Order a-0"]


def _order_completed(con, message_id, user_id, order_id, days_ago, event="Order Completed", **properties):
    con.execute("""INSERT INTO events (message_id, source, type, event, user_id, timestamp, properties)
                   VALUES (?, 'web', 'track', ?, ?, ?, ?)""",
                [message_id, event, user_id, TODAY - dt.timedelta(days=days_ago),
                 json.dumps({"order_id": order_id, **properties})])


def test_web_purchases_and_refunds_are_orders_unless_a_file_holds_them(ws, admin):
    with ws.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id, email) VALUES ('w', 'w@mailbox.org')")
        con.execute("INSERT INTO profile_identifiers (profile_id, id_type, id_value) VALUES ('w', 'user_id', 'u-w'),"
                    " ('a', 'user_id', 'u-a')")
        _order_completed(con, "m1", "u-w", "W-1", 6, revenue=45.50, currency="gbp",
                         products=[{"sku": "MUG", "category": "merch", "quantity": 1, "price": 45.5}])
        _order_completed(con, "m1-retry", "u-w", "W-1", 6, revenue=45.50, currency="gbp")   # the same order
        _order_completed(con, "m2", "u-w", "W-2", 1, total=12.0, revenue=10.0)
        _order_completed(con, "m3", "u-a", "a-0", 40, revenue=40.0)   # the shop file's order a-0
        _order_completed(con, "m4", "u-w", None, 1, revenue=99.0)     # no order id: not an order
        _order_completed(con, "m5", "u-w", "W-3", 1, total=20.0)
        _order_completed(con, "r1", "u-w", "W-3", 0, event="Order Refunded")          # all of it
        _order_completed(con, "r2", "u-w", "W-1", 0, event="Order Refunded", total=5.5)
    assert dict(ws.query_rows("SELECT order_id, status FROM web_orders")) == {
        "W-1": "partially_refunded", "W-2": "paid", "W-3": "refunded"}
    view = profile_view(ws, admin, "w")
    assert view.headline["orders"] == 3
    assert view.headline["revenue"] == pytest.approx(40.0 + 12.0 + 0)
    assert profile_view(ws, admin, "a").headline["revenue"] == pytest.approx(A_REVENUE)
    df = rfm_scores(ws, admin, AS_OF).set_index("profile_id")
    assert (df.loc["w", "frequency"], df.loc["w", "monetary"]) == (3, pytest.approx(52.0))
    definition = {"type": "group", "op": "all", "children": [
        {"type": "condition", "kind": "orders", "measure": "bought", "item_field": "category",
         "op": "equals", "value": "merch"}]}
    segment_id = create_segment(ws, admin, "bought merch", definition)
    assert set(segment_members(ws, admin, segment_id)["profile_id"]) == {"w"}


def test_orders_loaded_before_statuses_get_theirs_from_their_traits(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMPTZ)")
    for m in migrations.available():
        if m.version < 15:
            con.execute(m.sql())
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [m.version, m.name])
    con.execute("""INSERT INTO orders (source, source_record_id, amount, traits) VALUES
        ('billing', 'py_1', 24, '{"status": "succeeded"}'), ('billing', 'py_2', 24, '{"status": "failed"}'),
        ('shop', 'KC1', 30, '{"financial_status": "refunded"}'), ('pos', 'R1', 5, NULL)""")
    con.close()
    ws = open_workspace(path)
    assert dict(ws.query_rows("SELECT source_record_id, status FROM orders")) == {
        "py_1": "paid", "py_2": "failed", "KC1": "refunded", "R1": None}
    assert ws.scalar("SELECT sum(net_amount) FROM revenue_orders") == pytest.approx(24 + 0 + 5)
