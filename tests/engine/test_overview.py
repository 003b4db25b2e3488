import pytest
from engine import overview

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def _seed(ws):
    with ws.transaction() as con:
        con.execute("INSERT INTO sources (name, kind) VALUES ('CRM', 'contacts'), ('Web', 'events')")
        con.execute("""INSERT INTO contacts (source, source_record_id, email) VALUES
            ('CRM', 'c1', 'a@x.com'), ('CRM', 'c2', 'a@x.com'), ('CRM', 'c3', 'b@x.com')""")
        con.execute("""INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at) VALUES
            ('CRM', 'k1', 'advertising', true, '2026-01-01'),
            ('CRM', 'k2', 'advertising', false, '2026-02-01')""")
        con.execute("INSERT INTO profiles (profile_id) VALUES ('p1'), ('p2')")
        con.execute("""INSERT INTO profile_members VALUES
            ('p1', 'contacts', 'CRM', 'c1'), ('p1', 'contacts', 'CRM', 'c2'), ('p2', 'contacts', 'CRM', 'c3'),
            ('p1', 'consents', 'CRM', 'k1'), ('p2', 'consents', 'CRM', 'k2')""")
        con.execute("""INSERT INTO events (message_id, source, type, event, anonymous_id, timestamp, received_at)
            SELECT 'm' || i, 'Web', 'track', 'Viewed', 'a' || i, TIMESTAMPTZ '2026-11-01' + to_days(i % 3), now()
            FROM range(9) t(i)""")


def test_headline_figures(workspace):
    _seed(workspace)
    h = overview.headline(workspace)
    assert h["profiles"] == 2
    assert h["source_records"] == 5
    assert h["events"] == 9
    # 5 member records end up in 2 profiles
    assert abs(h["merge_rate"] - (1 - 2 / 5)) < 1e-9
    # p1 granted, p2's latest is a refusal
    assert h["advertising_consent_share"] == 0.5


def test_events_per_day_and_freshness(workspace):
    _seed(workspace)
    per_day = overview.events_per_day(workspace, 30)
    assert per_day["events"].sum() == 9 and len(per_day) == 3
    fresh = overview.source_freshness(workspace).set_index("source")
    assert fresh.loc["CRM", "records"] == 5 and fresh.loc["Web", "records"] == 9
    assert fresh.loc["Web", "hours_ago"] < 1
    dist = overview.records_per_profile(workspace)
    assert dict(zip(dist["records"], dist["profiles"])) == {2: 1, 3: 1}


def test_empty_workspace_has_no_rates(workspace):
    h = overview.headline(workspace)
    assert h["profiles"] == 0 and h["merge_rate"] is None and h["advertising_consent_share"] is None
