"""Attribution models on a small built workspace: first/last touch, linear, position-based (40/20/40),
the lookback window, "direct" (on the website, no touch) apart from "no web touch" (never on the
website: till, billing), and campaign rows. Expected figures come from a Python reference of the
models over the same touches, plus a few worked by hand."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from engine.journeys import attribution
from engine.journeys.attribution import DIRECT, MODELS, NO_WEB_TOUCH, position_weights
from engine.journeys.base import JourneyError

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
D, H = timedelta(days=1), timedelta(hours=1)
EMAIL, CPC, SOCIAL = "newsletter / email", "google / cpc", "social / facebook.com"

# profile -> its web events: (at, url, referrer, context.campaign)
VISITS = {
    "Q1": [(T0, "https://shop.example/", None, {"source": "newsletter", "medium": "email", "name": "spring"}),
           (T0 + D, "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand", None, None),
           (T0 + 2 * D, "https://shop.example/p/1", "https://www.facebook.com/", None)],
    "Q2": [(T0 - 40 * D, "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=old+deal", None, None),
           (T0 + 5 * D, "https://shop.example/", None, None)],                     # a visit, no touch
    "Q3": [],                                                                      # billing only
    "Q4": [(T0 - 60 * D, "https://shop.example/", None, None)],
    "Q5": [(T0, "https://shop.example/", None, {"source": "newsletter", "medium": "email", "name": "spring"}),
           (T0 + H, "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand", None, None)],
}
# (profile, order id, at, amount, status)
ORDERS = [("Q1", "o1", T0 + 3 * D, 100.0, None), ("Q2", "o2", T0 + 6 * D, 60.0, "paid"),
          ("Q3", "o3", T0 + 4 * D, 30.0, "paid"), ("Q3", "o3x", T0 + 4 * D, 999.0, "failed"),
          ("Q4", "o4", T0, 20.0, None), ("Q5", "o5", T0 + 2 * H, 50.0, None)]
# The touches each order has (channel, campaign), without and with a 30-day lookback, and where an
# order without touches goes: what the rule says, written out for the reference below.
TOUCHES = {"o1": [(EMAIL, "spring"), (CPC, "brand"), (SOCIAL, None)], "o2": [(CPC, "old deal")], "o3": [],
           "o4": [], "o5": [(EMAIL, "spring"), (CPC, "brand")]}
UNTOUCHED = {"o2": DIRECT, "o3": NO_WEB_TOUCH, "o4": DIRECT}
TOUCHES_30 = {**TOUCHES, "o2": []}
UNTOUCHED_30 = {"o2": DIRECT, "o3": NO_WEB_TOUCH, "o4": NO_WEB_TOUCH}


@pytest.fixture
def ws(workspace):
    return build_visits(workspace)


def build_visits(workspace):
    """The five people above: their web visits and orders (tests/spark/ reuses it)."""
    with workspace.transaction() as con:
        for n, pid in enumerate(VISITS):
            con.execute("INSERT INTO profiles (profile_id, email) VALUES (?, ?)", [pid, f"{pid.lower()}@mailbox.org"])
            con.execute("INSERT INTO profile_identifiers VALUES (?, 'anonymous_id', ?, ?)", [pid, f"a-{pid}", T0])
            for i, (at, url, referrer, campaign) in enumerate(VISITS[pid]):
                context = {"page": {"url": url, **({"referrer": referrer} if referrer else {})},
                           **({"campaign": campaign} if campaign else {})}
                con.execute("INSERT INTO events (message_id, source, type, name, anonymous_id, timestamp, context) "
                            "VALUES (?, 'web', 'page', 'Home', ?, ?, ?)", [f"{pid}-{i}", f"a-{pid}", at, json.dumps(context)])
        for pid, oid, at, amount, status in ORDERS:
            con.execute("INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, status) "
                        "VALUES ('shop', ?, ?, ?, ?, ?)", [oid, oid, at, amount, status])
            con.execute("INSERT INTO profile_members VALUES (?, 'orders', 'shop', ?)", [pid, oid])
    return workspace


def _reference(touches: dict, untouched: dict, campaign: bool = False) -> dict:
    """{(key, model): (orders, revenue)} by the models' definitions, from the touch lists."""
    amounts = {oid: amount for _, oid, _, amount, status in ORDERS if status != "failed"}
    out: dict = {}

    def add(key, model, share, amount):
        if not share:
            return
        orders, revenue = out.get((key, model), (0.0, 0.0))
        out[(key, model)] = (orders + share, revenue + share * amount)

    for oid, amount in amounts.items():
        keys = [t if campaign else t[0] for t in touches[oid]]
        if not keys:
            for model in MODELS:
                add((untouched[oid], None) if campaign else untouched[oid], model, 1.0, amount)
            continue
        n = len(keys)
        shares = {"first_touch": [1.0] + [0.0] * (n - 1), "last_touch": [0.0] * (n - 1) + [1.0],
                  "linear": [1.0 / n] * n, "position": position_weights(n)}
        for model, weights in shares.items():
            for key, share in zip(keys, weights):
                add(key, model, share, amount)
    return out


def _as_dict(table, campaign: bool = False) -> dict:
    out = {}
    for row in table.to_dict("records"):
        key = (row["channel"], row["campaign"] if isinstance(row["campaign"], str) else None) if campaign \
            else row["channel"]
        for model in MODELS:
            if row[f"{model}_orders"]:
                out[(key, model)] = (row[f"{model}_orders"], row[f"{model}_revenue"])
    return out


def _approx(expected: dict):
    return {k: (pytest.approx(o), pytest.approx(r)) for k, (o, r) in expected.items()}


def test_position_weights_are_40_20_40():
    assert position_weights(1) == [1.0] and position_weights(2) == [0.5, 0.5]
    assert position_weights(4) == [0.4, 0.1, 0.1, 0.4]
    assert sum(position_weights(7)) == pytest.approx(1.0)


def test_every_model_by_channel_matches_the_reference(ws, admin):
    table = attribution(ws, admin)
    assert _as_dict(table) == _approx(_reference(TOUCHES, UNTOUCHED))
    rows = table.set_index("channel")
    # worked by hand: o1's 100 over email, cpc, social and o5's 50 over email, cpc
    assert rows.loc[EMAIL, "position_revenue"] == pytest.approx(40 + 25)
    assert rows.loc[CPC, "linear_revenue"] == pytest.approx(100 / 3 + 60 + 25)
    assert rows.loc[NO_WEB_TOUCH, "last_touch_revenue"] == 30          # the billing order, not 'direct'
    assert rows.loc[DIRECT, "first_touch_revenue"] == 20               # seen on the website, no touch
    for model in MODELS:                                                 # money kept: the failed 999 is not there
        assert table[f"{model}_revenue"].sum() == pytest.approx(260)
        assert table[f"{model}_orders"].sum() == pytest.approx(5)
    assert (rows.loc[EMAIL, "first_touch_people"], rows.loc[CPC, "first_touch_people"]) == (2, 1)
    assert table["first_touch_orders"].dtype.kind == table["last_touch_orders"].dtype.kind == "i"  # whole orders


def test_a_lookback_window_drops_older_touches_and_visits(ws, admin):
    table = attribution(ws, admin, lookback_days=30)
    assert _as_dict(table) == _approx(_reference(TOUCHES_30, UNTOUCHED_30))
    rows = table.set_index("channel")
    assert rows.loc[DIRECT, "last_touch_revenue"] == 60 and rows.loc[NO_WEB_TOUCH, "last_touch_revenue"] == 50
    with pytest.raises(JourneyError):
        attribution(ws, admin, lookback_days=0)


def test_campaign_rows(ws, admin):
    table = attribution(ws, admin, level="campaign")
    assert list(table.columns[:2]) == ["channel", "campaign"]
    assert _as_dict(table, campaign=True) == _approx(_reference(TOUCHES, UNTOUCHED, campaign=True))
    first = {(r["channel"], r["campaign"]): r["first_touch_revenue"] for r in table.to_dict("records")}
    assert first[(EMAIL, "spring")] == 150 and first[(CPC, "old deal")] == 60   # context.campaign and the URL's
    with pytest.raises(JourneyError):
        attribution(ws, admin, level="store")
