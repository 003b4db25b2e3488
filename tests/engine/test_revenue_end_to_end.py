"""Done when (issue 17): a Stripe payments export and a line-item till export, both loaded without
--map, give each person the revenue they paid net of failures and refunds, as a segment on
`orders total_revenue` sees it. The expected figures are worked out here from the rows themselves
(a small reference of the rule: failed payments are not revenue, refunds come off, lines add up)."""
from __future__ import annotations

import pytest
import csv
import datetime as dt
import io

from engine.identity import resolve
from engine.ingest import ingest_file
from engine.segments import create_segment, segment_members

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _day(days_ago: int) -> dt.datetime:
    return NOW - dt.timedelta(days=days_ago)


STRIPE_HEADER = ["id", "Description", "Created date (UTC)", "Amount", "Amount Refunded", "Currency",
                 "Converted Amount", "Converted Amount Refunded", "Fee", "Tax", "Converted Currency",
                 "Status", "Seller Message", "Captured", "Card ID", "Customer ID", "Customer Description",
                 "Customer Email"]
# (charge id, days ago, amount, amount refunded, status, email)
PAYMENTS = [
    ("ch_1", 40, 24.00, 0.00, "Paid", "ann@mailbox.org"),
    ("ch_2", 35, 24.00, 0.00, "Failed", "ann@mailbox.org"),
    ("ch_3", 30, 80.00, 80.00, "Refunded", "ann@mailbox.org"),
    ("ch_4", 25, 50.00, 20.00, "Partially refunded", "ann@mailbox.org"),
    ("ch_5", 20, 15.00, 0.00, "Paid", "bob@mailbox.org"),
    ("ch_6", 15, 99.00, 0.00, "Failed", "bob@mailbox.org"),
    ("ch_7", 10, 12.50, 12.50, "Refunded", "cy@mailbox.org"),
]

TILL_HEADER = ["Receipt No", "Date", "Time", "Store", "Customer Email", "SKU", "Item", "Qty", "Unit Price",
               "Line Total"]
# (receipt, days ago, email, sku, qty, unit price, line total or None)
LINES = [
    ("L-1", 9, "ann@mailbox.org", "CF-LAT", 2, 3.20, 6.40),
    ("L-1", 9, "ann@mailbox.org", "PA-CRO", 1, 2.80, 2.80),
    ("L-2", 8, "bob@mailbox.org", "CF-FW", 1, 3.00, None),
    ("L-3", 7, "bob@mailbox.org", "CF-ESP", 3, 2.10, None),
    ("L-4", 6, "dee@mailbox.org", "BN-HSE", 1, 18.00, 18.00),
]


def _csv(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _stripe_csv() -> str:
    return _csv(STRIPE_HEADER, [
        (cid, "Order", _day(ago).strftime("%Y-%m-%d %H:%M:%S"), f"{amount:.2f}", f"{refunded:.2f}", "gbp",
         f"{amount:.2f}", f"{refunded:.2f}", "0.50", "0.00", "gbp", status,
         "Your card was declined." if status == "Failed" else "Payment complete.",
         "false" if status == "Failed" else "true", "card_1", "cus_" + email[:3], "", email)
        for cid, ago, amount, refunded, status, email in PAYMENTS])


def _till_csv() -> str:
    return _csv(TILL_HEADER, [
        (receipt, _day(ago).strftime("%d/%m/%Y"), "09:15", "Harbourside", email, sku, sku.title(), qty,
         f"{price:.2f}", "" if total is None else f"{total:.2f}")
        for receipt, ago, email, sku, qty, price, total in LINES])


def _expected() -> dict[str, float]:
    """What each person paid and kept paid: the rule, in Python, from the rows above."""
    paid: dict[str, float] = {}
    for _, _, amount, refunded, status, email in PAYMENTS:
        if status != "Failed":
            paid[email] = paid.get(email, 0.0) + amount - refunded
    for _, _, email, _, qty, price, total in LINES:
        paid[email] = paid.get(email, 0.0) + (total if total is not None else qty * price)
    return paid


def _members(workspace, admin, name, op, value) -> set[str]:
    definition = {"type": "group", "op": "all", "children": [
        {"type": "condition", "kind": "orders", "measure": "total_revenue", "op": op, "value": value}]}
    return set(segment_members(workspace, admin, create_segment(workspace, admin, name, definition))["email"])


def test_stripe_and_till_exports_give_each_person_what_they_kept_paid(workspace, admin, tmp_path):
    for name, text, source in (("unified_payments.csv", _stripe_csv(), "stripe"),
                               ("till_lines.csv", _till_csv(), "till")):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = ingest_file(workspace, admin, "orders", path, source)  # no mapping given
        assert result.rows_quarantined == 0, result.warnings
    resolve(workspace, admin)
    expected = _expected()
    gross = {}
    for _, _, amount, _, _, email in PAYMENTS:
        gross[email] = gross.get(email, 0.0) + amount
    assert any(abs(gross[e] - expected.get(e, 0)) > 1 for e in gross), "the data must tell net from gross"
    for i, (email, revenue) in enumerate(sorted(expected.items())):
        inside = _members(workspace, admin, f"about {email} {i}", "between", [revenue - 0.005, revenue + 0.005])
        assert email in inside, (email, revenue)
        above = _members(workspace, admin, f"above {email} {i}", "gt", revenue + 0.005)
        assert email not in above, (email, revenue)
