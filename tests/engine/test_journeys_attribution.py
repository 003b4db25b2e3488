import pytest

from engine.journeys import attribution, cohorts, profile_touches, retention_matrix
from engine.journeys.base import JourneyError
from tests.engine.journey_data import build

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.fixture
def ws(workspace):
    build(workspace)
    return workspace


def test_first_and_last_touch_revenue_by_channel(ws, admin):
    table = attribution(ws, admin).set_index("channel")
    assert table.loc["google / cpc", "first_touch_revenue"] == 100
    assert table.loc["google / cpc", "last_touch_revenue"] == 100
    assert table.loc["organic search / google.com", "first_touch_revenue"] == 80
    assert table.loc["organic search / google.com", "last_touch_revenue"] == 0
    assert table.loc["newsletter / email", "last_touch_revenue"] == 80
    assert table.loc["direct", "first_touch_revenue"] == 50 == table.loc["direct", "last_touch_revenue"]
    assert table.loc["social / facebook.com", "first_touch_people"] == 1
    assert table.loc["social / facebook.com", "first_touch_revenue"] == 0
    # Internal referrers (shop.example) and unresolved visitors (bing) are not touches.
    assert not any("shop.example" in c or "bing" in c for c in table.index)
    assert table["first_touch_revenue"].sum() == table["last_touch_revenue"].sum() == 230


def test_order_date_range(ws, admin):
    table = attribution(ws, admin, since="2025-01-07").set_index("channel")
    assert table["last_touch_revenue"].sum() == 130            # o3 and o4 only


def test_profile_touches(ws, admin, analyst):
    touches = profile_touches(ws, admin, ["P4"])
    row = touches.iloc[0]
    assert (row.first_touch_channel, row.last_touch_channel, row.touches) == (
        "organic search / google.com", "newsletter / email", 2)
    assert profile_touches(ws, analyst, ["P4"])["email"].iloc[0] != "dan.okafor@example.com"


def test_retention_by_first_seen_month(ws, admin):
    long = cohorts(ws, admin, basis="first_seen", months=3)
    jan = long[long["cohort"].astype(str) == "2025-01-01"].set_index("month")
    assert jan["cohort_size"].iloc[0] == 4
    assert jan["people"].to_dict() == {0: 4, 1: 1, 2: 1}
    assert jan.loc[1, "pct"] == 25.0
    matrix = retention_matrix(long)
    assert matrix.shape == (1, 3)


def test_retention_by_first_order_month(ws, admin):
    long = cohorts(ws, admin, basis="first_order")
    assert long["people"].tolist() == [3] and long["month"].tolist() == [0]
    with pytest.raises(JourneyError):
        cohorts(ws, admin, basis="last_seen")
