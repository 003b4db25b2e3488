from datetime import timedelta

import pytest

from engine.journeys import JourneyError, paths, sankey_nodes
from tests.engine.journey_data import build

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.fixture
def ws(workspace):
    build(workspace)
    return workspace


def _links(result):
    return {(r.source_depth, r.source, r.target, r.people) for r in result.links.itertuples()}


def test_next_steps_after_home(ws, admin):
    result = paths(ws, admin, "Page: Home", depth=2, top=5)
    assert result.people == 4
    assert result.stopped == 0
    links = _links(result)
    # Dan's second home page is a repeat and collapses; everyone then views a product.
    assert (0, "Page: Home", "Product Viewed", 4) in links
    assert (1, "Product Viewed", "Product Added", 2) in links      # Bob, Dan
    assert (1, "Product Viewed", "Identify", 1) in links           # Alice
    assert (1, "Product Viewed", "(end)", 1) in links              # Carol's add came 10 days later
    top = result.paths.set_index("path")["people"]
    assert top["Page: Home → Product Viewed → Product Added"] == 2


def test_other_grouping_and_depth(ws, admin):
    result = paths(ws, admin, "Page: Home", depth=2, top=1)
    links = _links(result)
    assert (1, "Product Viewed", "Other", 1) in links               # Identify folded into Other
    assert (1, "Product Viewed", "Product Added", 2) in links
    assert result.links["target_depth"].max() == 2
    shallow = paths(ws, admin, "Page: Home", depth=1)
    assert shallow.links["target_depth"].max() == 1


def test_repeats_kept_when_asked(ws, admin):
    result = paths(ws, admin, "Page: Home", depth=1, collapse_repeats=False)
    assert (0, "Page: Home", "Page: Home", 1) in _links(result)


def test_previous_steps_before_checkout(ws, admin):
    result = paths(ws, admin, "Checkout Started", direction="before", depth=2, within=timedelta(days=1))
    assert result.people == 2
    links = _links(result)
    assert (-1, "Product Added", "Checkout Started", 2) in links
    assert (-2, "Identify", "Product Added", 1) in links            # Alice
    assert (-2, "Product Viewed", "Product Added", 1) in links      # Dan
    assert result.paths["path"].str.endswith("Checkout Started").all()


def test_sankey_nodes_index_links(ws, admin):
    result = paths(ws, admin, "Page: Home", depth=2)
    labels, src, dst, values = sankey_nodes(result.links)
    assert len(src) == len(dst) == len(values) == len(result.links)
    assert all(labels[s] == row.source for s, row in zip(src, result.links.itertuples()))
    assert sum(v for s, v in zip(src, values) if labels[s] == "Page: Home") == 4


def test_property_filtered_anchor_and_errors(ws, admin):
    result = paths(ws, admin, {"event": "Product Viewed", "filters": [{"property": "sku", "op": "=", "value": "S1"}]}, depth=1)
    assert result.people == 2                                        # Alice and Carol viewed S1
    with pytest.raises(JourneyError, match="Depth"):
        paths(ws, admin, "Page: Home", depth=0)
    with pytest.raises(JourneyError, match="Direction"):
        paths(ws, admin, "Page: Home", direction="sideways")


def test_new_collector_loads_join_paths(ws, admin):
    """Events appended after the last build (a collector micro-batch) carry the person's number."""
    with ws.transaction() as con:
        con.execute("UPDATE events SET load_id = 1")
    before = _links(paths(ws, admin, "Checkout Started", depth=1))
    assert (0, "Checkout Started", "(end)", 1) in before                 # Dan never completed
    assert paths(ws, admin, "Checkout Started", depth=1).stopped == 1
    with ws.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, timestamp, properties, load_id) "
                    "VALUES ('late', 'web', 'track', 'Order Completed', 'u4', "
                    "TIMESTAMPTZ '2025-01-06 12:10:00+00', '{}', 2)")
    after = _links(paths(ws, admin, "Checkout Started", depth=1))
    assert (0, "Checkout Started", "Order Completed", 2) in after        # Alice, and now Dan
    assert ws.scalar("SELECT count(*) FROM journey_events WHERE pk IS NULL") == 0


def test_anchor_leads_its_path_on_equal_timestamps(ws, admin):
    """An event at the very same moment as the anchor comes after it, whatever its name."""
    with ws.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, anonymous_id, timestamp, properties) "
                    "VALUES ('same', 'web', 'track', 'Added Coupon', 'a3', TIMESTAMPTZ '2025-01-06 10:01:00+00', '{}')")
    result = paths(ws, admin, "Product Viewed", depth=1, top=10)
    assert set(result.links["source"]) == {"Product Viewed"}
    assert (0, "Product Viewed", "Added Coupon", 1) in _links(result)     # Carol
