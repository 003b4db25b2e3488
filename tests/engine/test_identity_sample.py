"""Identity on the committed sample: a no-op resolve moves nothing, and a Stripe subscriptions
export for people the workspace knows by email joins their profiles without moving anyone."""
import csv

import pytest

from engine.identity import resolve
from engine.ingest import ingest_file
from tests.conftest import copy_workspace

STRIPE_COLUMNS = ["id", "Customer ID", "Customer Email", "Plan", "Quantity", "Status", "Created (UTC)",
                  "Start (UTC)", "Current Period Start (UTC)", "Current Period End (UTC)", "Canceled At (UTC)"]


@pytest.fixture
def sample(built_sample, tmp_path):
    template, _ = built_sample()
    return copy_workspace(template, tmp_path / "cdp.duckdb")


def _members(ws) -> dict:
    return {(s, r): p for s, r, p in ws.query_rows("SELECT source, source_record_id, profile_id FROM profile_members")}


def test_a_second_resolve_on_the_sample_moves_nothing(sample, admin):
    before = _members(sample)
    stats = resolve(sample, admin)
    assert stats["new_records"] == 0
    assert _members(sample) == before


def test_stripe_subscribers_join_the_profile_holding_their_email(sample, admin, tmp_path):
    people = sample.query_rows("""SELECT profile_id, min(id_value) FROM profile_identifiers WHERE id_type = 'email'
                                  GROUP BY profile_id ORDER BY hash(profile_id) LIMIT 300""")
    assert len(people) == 300
    path = tmp_path / "subscriptions.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(STRIPE_COLUMNS)
        for i, (_, email) in enumerate(people):
            w.writerow([f"sub_1P{i:08d}", f"cus_Q{i:09d}", email.upper() if i % 7 == 0 else email,
                        "price_basic_monthly", 1, "active", "2026-01-05 10:00:00", "2026-01-05 10:00:00",
                        "2026-11-05 10:00:00", "2026-12-05 10:00:00", ""])
    before = _members(sample)
    result = ingest_file(sample, admin, "subscriptions", path, "stripe")
    assert result.rows_loaded == 300 and result.mapping["Customer ID"] == "customer_id"
    resolve(sample, admin)
    after = _members(sample)
    joined = sum(after[("stripe", f"sub_1P{i:08d}")] == pid for i, (pid, _) in enumerate(people))
    assert joined >= 297
    assert [k for k, pid in before.items() if after[k] != pid] == []
