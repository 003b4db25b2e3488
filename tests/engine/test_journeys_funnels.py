from datetime import timedelta

import pytest

from engine.journeys import JourneyError, funnel, funnel_dropoffs
from tests.engine.journey_data import FUNNEL, build

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.fixture
def ws(workspace):
    build(workspace)
    return workspace


def test_funnel_counts_conversion_and_window(ws, admin):
    result = funnel(ws, admin, FUNNEL, window=timedelta(days=7))
    assert result.steps["people"].tolist() == [4, 4, 3, 2, 1]
    assert result.steps["dropped"].tolist() == [0, 0, 1, 1, 1]
    assert result.steps["pct_of_start"].tolist() == [100.0, 100.0, 75.0, 50.0, 25.0]
    assert result.steps.loc[2, "pct_of_previous"] == 75.0
    # Time from Home to Product Viewed is one minute for everyone.
    assert result.steps.loc[1, "median_seconds"] == 60.0
    # A wider window lets Carol's add-to-cart ten days later count.
    wide = funnel(ws, admin, FUNNEL, window=timedelta(days=30))
    assert wide.steps["people"].tolist() == [4, 4, 4, 2, 1]


def test_order_matters(ws, admin):
    backwards = funnel(ws, admin, ["Order Completed", "Page: Home"], window=timedelta(days=7))
    assert backwards.steps["people"].tolist() == [1, 0]


def test_property_filters(ws, admin):
    steps = [{"event": "Product Viewed", "filters": [{"property": "price", "op": ">=", "value": 40}]},
             "Product Added"]
    result = funnel(ws, admin, steps, window=timedelta(days=30))
    assert result.steps["people"].tolist() == [3, 3]    # Alice, Carol, Dan (Bob's item costs 15)
    assert "price >= 40" in result.steps.loc[0, "label"]
    sku = funnel(ws, admin, [{"event": "Product Viewed", "filters": [{"property": "sku", "op": "in", "value": "S2, S3"}]},
                             "Checkout Started"])
    assert sku.steps["people"].tolist() == [2, 1]


def test_breakdown_by_trait_and_utm_source(ws, admin):
    by_country = funnel(ws, admin, FUNNEL, breakdown="country").breakdown
    gb = by_country[by_country["value"] == "GB"].set_index("step")["people"]
    us = by_country[by_country["value"] == "US"].set_index("step")["people"]
    assert gb.tolist() == [3, 3, 3, 2, 1]
    assert us.tolist() == [1, 1, 0, 0, 0]
    by_utm = funnel(ws, admin, FUNNEL, breakdown="first_touch_utm_source").breakdown
    google = by_utm[by_utm["value"] == "google"].set_index("step")["people"]
    assert google.tolist() == [1, 1, 1, 1, 1]
    # Dan's first touch was organic search, but his first UTM-tagged visit was the newsletter.
    assert set(by_utm["value"]) == {"google", "newsletter", "(none)"}
    by_channel = funnel(ws, admin, FUNNEL, breakdown="first_touch_channel").breakdown
    organic = by_channel[by_channel["value"] == "organic search / google.com"].set_index("step")["people"]
    assert organic.tolist() == [1, 1, 1, 1, 0]


def test_dropoffs_are_the_people_who_stopped(ws, admin, analyst):
    at3 = funnel_dropoffs(ws, admin, FUNNEL, at_step=3)
    assert at3["profile_id"].tolist() == ["P3"]
    assert funnel_dropoffs(ws, admin, FUNNEL, at_step=4)["profile_id"].tolist() == ["P2"]
    at5 = funnel_dropoffs(ws, admin, FUNNEL, at_step=5)
    assert at5["profile_id"].tolist() == ["P4"]
    assert at5["email"].tolist() == ["dan.okafor@example.com"]
    masked = funnel_dropoffs(ws, analyst, FUNNEL, at_step=5)
    assert masked["email"].iloc[0] != "dan.okafor@example.com" and masked["profile_id"].iloc[0] == "P4"


@pytest.mark.parametrize("steps", [FUNNEL, ["Page: Home", "Order Completed"]])
def test_the_funnels_own_pass_brings_the_most_recent_dropoffs(ws, admin, analyst, steps):
    counted = funnel(ws, admin, steps, window=timedelta(days=7))
    for limit in (1, 2, 10):
        result = funnel(ws, admin, steps, window=timedelta(days=7), dropoffs=limit)
        assert result.steps.equals(counted.steps)          # the same figures from the one pass
        assert sorted(result.dropped) == list(range(2, len(steps) + 1))
        for k, shown in result.dropped.items():
            every = funnel_dropoffs(ws, admin, steps, at_step=k, window=timedelta(days=7))
            assert len(every) == counted.steps["dropped"][k - 1]
            assert shown.equals(every.head(limit)), (k, limit)
    two_step = funnel(ws, admin, ["Page: Home", "Order Completed"], dropoffs=2).dropped[2]
    assert len(two_step) == 2                               # three dropped; the two most recent shown
    masked = funnel(ws, analyst, FUNNEL, dropoffs=5).dropped[5]
    assert masked["profile_id"].tolist() == ["P4"] and masked["email"].iloc[0] != "dan.okafor@example.com"
    assert funnel(ws, admin, FUNNEL).dropped == {}


def test_bad_questions_get_clear_errors(ws, admin):
    with pytest.raises(JourneyError, match="at least two"):
        funnel(ws, admin, ["Page: Home"])
    with pytest.raises(JourneyError, match="window"):
        funnel(ws, admin, FUNNEL, window=timedelta(0))
    with pytest.raises(JourneyError, match="property name"):
        funnel(ws, admin, [{"event": "Product Viewed", "filters": [{"property": "x'; DROP TABLE events; --", "value": 1}]},
                           "Product Added"])
    with pytest.raises(JourneyError, match="break down"):
        funnel(ws, admin, FUNNEL, breakdown="email")
    with pytest.raises(JourneyError, match="steps 2 to"):
        funnel_dropoffs(ws, admin, FUNNEL, at_step=1)


def test_new_events_are_seen_without_manual_refresh(ws, admin):
    assert funnel(ws, admin, ["Page: Home", "Order Completed"]).steps["people"].tolist() == [4, 1]
    with ws.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, properties) "
                    "VALUES ('late', 'web', 'track', 'Order Completed', 'u4', TIMESTAMPTZ '2025-01-07 09:00:00+00', '{}')")
    assert funnel(ws, admin, ["Page: Home", "Order Completed"]).steps["people"].tolist() == [4, 2]


def test_new_loads_are_appended_not_rebuilt(ws, admin):
    from engine.journeys import journeys_stale, prepare_journeys
    prepare_journeys(ws)
    assert not journeys_stale(ws)
    with ws.transaction() as con:
        con.execute("UPDATE events SET load_id = 1")
    prepare_journeys(ws)
    with ws.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, properties, load_id) "
                    "VALUES ('b2', 'web', 'track', 'Order Completed', 'u4', TIMESTAMPTZ '2025-01-07 09:00:00+00', '{}', 2)")
        con.execute("INSERT INTO journey_events (profile_id, step) VALUES ('marker', 'kept')")  # survives an append
    assert journeys_stale(ws)
    assert funnel(ws, admin, ["Page: Home", "Order Completed"]).steps["people"].tolist() == [4, 2]
    assert ws.scalar("SELECT count(*) FROM journey_events WHERE profile_id = 'marker'") == 1
    # A change to the identity graph rebuilds everything.
    with ws.transaction() as con:
        con.execute("INSERT INTO profile_identifiers VALUES ('P2', 'user_id', 'u2', now())")
    prepare_journeys(ws)
    assert ws.scalar("SELECT count(*) FROM journey_events WHERE profile_id = 'marker'") == 0


def test_collector_batches_into_the_days_load_are_appended(ws, admin):
    """The collector adds every micro-batch to its source's load of the day: still an append."""
    from engine.journeys import journeys_stale, prepare_journeys
    with ws.transaction() as con:
        con.execute("UPDATE events SET load_id = 7, received_at = TIMESTAMPTZ '2025-03-01 10:00:00+00'")
    prepare_journeys(ws)
    with ws.transaction() as con:
        con.execute("INSERT INTO journey_events (profile_id, step) VALUES ('marker', 'kept')")  # survives an append
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, received_at, "
                    "properties, load_id) VALUES ('b2', 'web', 'track', 'Order Completed', 'u4', "
                    "TIMESTAMPTZ '2025-01-07 09:00:00+00', TIMESTAMPTZ '2025-03-01 10:00:01+00', '{}', 7)")
    assert journeys_stale(ws)
    assert funnel(ws, admin, ["Page: Home", "Order Completed"]).steps["people"].tolist() == [4, 2]
    assert ws.scalar("SELECT count(*) FROM journey_events WHERE profile_id = 'marker'") == 1
    # An event received earlier than the last build saw cannot be told apart: rebuilt, still right.
    with ws.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, received_at, "
                    "properties, load_id) VALUES ('b3', 'web', 'track', 'Order Completed', 'u1', "
                    "TIMESTAMPTZ '2025-01-07 09:00:00+00', TIMESTAMPTZ '2025-03-01 09:00:00+00', '{}', 7)")
    assert funnel(ws, admin, ["Page: Home", "Order Completed"]).steps["people"].tolist() == [4, 2]
    assert ws.scalar("SELECT count(*) FROM journey_events WHERE profile_id = 'marker'") == 0
