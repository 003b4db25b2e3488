"""Every journey query gives the same answer on Spark as on DuckDB: funnels with each option,
paths (both directions, repeats collapsed or kept, events that share a timestamp), attribution
per model and level, cohorts, first and last touches. The hand-built workspaces of tests/engine/
(journey_data: four people; test_attribution_models: five people with shared touches); on
Spark, journey_events is built from the exported events by the same SQL."""
from __future__ import annotations

from datetime import timedelta

import pytest

from engine.backend.duckdb_backend import DuckDBBackend
from engine.journeys import attribution, cohorts, funnel, funnel_dropoffs, paths, profile_touches
from engine.workspace import open_workspace
from tests.engine import journey_data
from tests.engine.test_attribution_models import build_visits
from tests.spark.canonical import rows
from tests.spark.sessions import lakehouse_for

pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]  # a busy machine: the first case starts Spark

FUNNEL = journey_data.FUNNEL
VIEWED = "Product Viewed"


def _filtered(prop: str, op: str, value=None) -> list:
    return [{"event": VIEWED, "filters": [{"property": prop, "op": op, "value": value}]}, "Product Added"]


FUNNELS = {
    "five steps, 7-day window": dict(steps=FUNNEL),
    "30-day window": dict(steps=FUNNEL, window=timedelta(days=30)),
    "one-hour window": dict(steps=FUNNEL, window=timedelta(hours=1)),
    "order matters": dict(steps=["Order Completed", "Page: Home"]),
    "a repeated step": dict(steps=["Page: Home", "Page: Home", VIEWED], window=timedelta(days=30)),
    "since a moment": dict(steps=FUNNEL, since=journey_data.T0 + timedelta(minutes=30)),
    "price >=": dict(steps=_filtered("price", ">=", 40), window=timedelta(days=30)),
    "sku contains": dict(steps=_filtered("sku", "contains", "s3")),
    "sku in": dict(steps=_filtered("sku", "in", "S2, S3")),
    "colour is not set": dict(steps=_filtered("colour", "is not set")),
}
BREAKDOWNS = ["country", "first_touch_utm_source", "first_touch_channel"]
PATHS = {
    "after home": dict(anchor="Page: Home", depth=2, top=5),
    "after home, repeats kept": dict(anchor="Page: Home", depth=3, collapse_repeats=False),
    "after home, one step kept per depth": dict(anchor="Page: Home", depth=5, top=1),
    "after home, a 30-day window": dict(anchor="Page: Home", depth=8, within=timedelta(days=30)),
    "after a filtered view": dict(anchor={"event": VIEWED, "filters": [{"property": "sku", "op": "=", "value": "S1"}]},
                                  depth=3),
    "after a view, since a moment": dict(anchor=VIEWED, depth=3, since=journey_data.T0 + timedelta(minutes=30)),
    "before checkout": dict(anchor="Checkout Started", direction="before", depth=2),
    "before checkout, repeats kept, a week back": dict(anchor="Checkout Started", direction="before", depth=6,
                                                        collapse_repeats=False, within=timedelta(days=7)),
    "before an add, one step kept per depth": dict(anchor="Product Added", direction="before", depth=3, top=1),
}
# Events that share a moment with the anchor or with each other (journey_data's T0 + 1 and 2 minutes).
TIED = [("t1", "Added Coupon", "a3", 1), ("t2", "Added Coupon", "a2", 2), ("t3", "Wishlisted", "a2", 2),
        ("t4", "Added Coupon", "a2", 1)]
TIED_PATHS = {
    "after a view": dict(anchor=VIEWED, depth=3, top=10),
    "after a view, repeats kept": dict(anchor=VIEWED, depth=3, top=10, collapse_repeats=False),
    "before an add": dict(anchor="Product Added", direction="before", depth=3, top=10),
    "before an add, repeats kept": dict(anchor="Product Added", direction="before", depth=3, collapse_repeats=False),
}
ATTRIBUTION = {
    "by channel": dict(),
    "by campaign": dict(level="campaign"),
    "campaigns, 30-day lookback": dict(level="campaign", lookback_days=30),
}
COHORTS = {
    "first seen": dict(basis="first_seen", months=3),
    "first order": dict(basis="first_order"),
}


def _workspace(tmp_path_factory, name, build):
    ws = open_workspace(tmp_path_factory.mktemp(name) / "cdp.duckdb")
    build(ws)
    return ws


@pytest.fixture(scope="module")
def journeys(tmp_path_factory, spark_backend):
    """The journey_data workspace, and a Spark backend reading its tables (an own session: the
    other workspaces register tables by the same names)."""
    ws = _workspace(tmp_path_factory, "journeys", journey_data.build)
    return ws, lakehouse_for(ws, spark_backend)


def _build_tied(ws) -> None:
    """journey_data with TIED: events at the same moment as others on the same person's journey."""
    journey_data.build(ws)
    with ws.transaction() as con:
        for message_id, event, anonymous_id, minutes in TIED:
            con.execute("INSERT INTO events (message_id, source, type, event, anonymous_id, timestamp, properties) "
                        "VALUES (?, 'web', 'track', ?, ?, ?, '{}')",
                        [message_id, event, anonymous_id, journey_data.T0 + timedelta(minutes=minutes)])


@pytest.fixture(scope="module")
def tied(tmp_path_factory, spark_backend):
    ws = _workspace(tmp_path_factory, "tied", _build_tied)
    return ws, lakehouse_for(ws, spark_backend)


@pytest.fixture(scope="module")
def visits(tmp_path_factory, spark_backend):
    ws = _workspace(tmp_path_factory, "visits", build_visits)
    return ws, lakehouse_for(ws, spark_backend)


def _both(setup, question):
    """The answer to question(workspace, backend) on DuckDB and on Spark."""
    ws, spark = setup
    return question(ws, DuckDBBackend(ws)), question(ws, spark)


@pytest.mark.parametrize("name", list(FUNNELS))
def test_funnel_is_the_same_on_spark(journeys, admin, name):
    on_duckdb, on_spark = _both(journeys, lambda ws, b: funnel(ws, admin, backend=b, **FUNNELS[name]))
    assert rows(on_spark.steps) == rows(on_duckdb.steps)
    assert on_duckdb.steps["people"].iloc[0] > 0, "a case that selects nobody compares nothing"


@pytest.mark.parametrize("breakdown", BREAKDOWNS)
def test_funnel_breakdown_is_the_same_on_spark(journeys, admin, breakdown):
    on_duckdb, on_spark = _both(journeys, lambda ws, b: funnel(ws, admin, FUNNEL, breakdown=breakdown, backend=b))
    assert rows(on_spark.breakdown) == rows(on_duckdb.breakdown)
    assert rows(on_spark.steps) == rows(on_duckdb.steps)


@pytest.mark.parametrize("at_step", [3, 5])
def test_funnel_dropoffs_are_the_same_on_spark(journeys, admin, at_step):
    on_duckdb, on_spark = _both(journeys, lambda ws, b: funnel_dropoffs(ws, admin, FUNNEL, at_step, backend=b))
    assert rows(on_spark) == rows(on_duckdb)


def test_funnel_with_its_dropoffs_in_one_pass_is_the_same_on_spark(journeys, admin):
    on_duckdb, on_spark = _both(journeys, lambda ws, b: funnel(ws, admin, FUNNEL, dropoffs=1, backend=b))
    assert rows(on_spark.steps) == rows(on_duckdb.steps)
    assert sorted(on_spark.dropped) == sorted(on_duckdb.dropped) == list(range(2, len(FUNNEL) + 1))
    assert {k: rows(v) for k, v in on_spark.dropped.items()} == {k: rows(v) for k, v in on_duckdb.dropped.items()}
    assert sum(len(v) for v in on_duckdb.dropped.values()) > 0, "a case that drops nobody compares nothing"


def _same_paths(setup, user, case: dict) -> None:
    """Paths on Spark as on DuckDB: people, stopped, the Sankey links and the common paths."""
    on_duckdb, on_spark = _both(setup, lambda ws, b: paths(ws, user, backend=b, **case))
    assert on_duckdb.people > 0, "a case that selects nobody compares nothing"
    assert (on_spark.people, on_spark.stopped) == (on_duckdb.people, on_duckdb.stopped)
    assert rows(on_spark.links) == rows(on_duckdb.links)
    assert rows(on_spark.paths) == rows(on_duckdb.paths)


@pytest.mark.parametrize("name", list(PATHS))
def test_paths_are_the_same_on_spark(journeys, admin, name):
    _same_paths(journeys, admin, PATHS[name])


@pytest.mark.parametrize("name", list(TIED_PATHS))
def test_paths_with_tied_timestamps_are_the_same_on_spark(tied, admin, name):
    """The anchor leads its path on a tie; other tied steps follow by name (ORDER BY's later keys)."""
    _same_paths(tied, admin, TIED_PATHS[name])


@pytest.mark.parametrize("data", ["journeys", "visits"])
@pytest.mark.parametrize("name", list(ATTRIBUTION))
def test_attribution_is_the_same_on_spark(request, admin, data, name):
    on_duckdb, on_spark = _both(request.getfixturevalue(data),
                                lambda ws, b: attribution(ws, admin, backend=b, **ATTRIBUTION[name]))
    assert rows(on_spark) == rows(on_duckdb)


@pytest.mark.parametrize("data", ["journeys", "visits"])
def test_first_and_last_touches_are_the_same_on_spark(request, admin, data):
    on_duckdb, on_spark = _both(request.getfixturevalue(data), lambda ws, b: profile_touches(ws, admin, backend=b))
    assert len(on_duckdb) > 0
    assert rows(on_spark) == rows(on_duckdb)


@pytest.mark.parametrize("name", list(COHORTS))
def test_cohorts_are_the_same_on_spark(journeys, admin, name):
    on_duckdb, on_spark = _both(journeys, lambda ws, b: cohorts(ws, admin, backend=b, **COHORTS[name]))
    assert rows(on_spark) == rows(on_duckdb)
