"""Orders files as the tools export them, loaded without a mapping: payment status, refunds and
one row per line item, down to the revenue a segment on orders sees per person (addresses at
example.com would be junk to identity, hence mailbox.org)."""
import json

import pytest

from engine.identity import resolve
from engine.ingest import ingest_file
from engine.segments import create_segment, segment_members

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

# A till export with one row per line; receipt L-2001 is 2 x 3.20 + 1 x 2.80.
TILL = ("Receipt No,Date,Time,Store,Customer Email,SKU,Item,Qty,Unit Price,Line Total\n"
        "L-2001,03/11/2026,09:15,Harbourside,ann@mailbox.org,CF-LAT,Latte,2,3.20,6.40\n"
        "L-2001,03/11/2026,09:15,Harbourside,ann@mailbox.org,PA-CRO,Croissant,1,2.80,2.80\n"
        "L-2002,03/11/2026,10:02,Harbourside,bob@mailbox.org,CF-FW,Flat White,1,3.00,\n"
        "L-2003,04/11/2026,08:40,Quayside,bob@mailbox.org,CF-ESP,Espresso,3,2.10,\n")

# Stripe's payments export (Payments > Export, default columns).
STRIPE = (
    "id,Description,Created date (UTC),Amount,Amount Refunded,Currency,Converted Amount,"
    "Converted Amount Refunded,Fee,Tax,Converted Currency,Status,Seller Message,Captured,"
    "Card ID,Customer ID,Customer Description,Customer Email\n"
    "ch_3Pa1,Beans Fortnightly,2026-10-01 10:00:00,24.00,0.00,gbp,24.00,0.00,0.59,0.00,gbp,Paid,"
    "Payment complete.,true,card_1,cus_A,,ann@mailbox.org\n"
    "ch_3Pa2,Beans Fortnightly,2026-10-15 10:00:00,24.00,0.00,gbp,24.00,0.00,0.00,0.00,gbp,Failed,"
    "Your card was declined.,false,card_1,cus_A,,ann@mailbox.org\n"
    "ch_3Pa3,Grinder,2026-10-20 10:00:00,80.00,80.00,gbp,80.00,80.00,2.10,0.00,gbp,Refunded,"
    "Payment complete.,true,card_1,cus_A,,ann@mailbox.org\n"
    "ch_3Pa4,Kettle,2026-10-25 10:00:00,50.00,20.00,gbp,50.00,20.00,1.30,0.00,gbp,Paid,"
    "Payment complete.,true,card_1,cus_A,,ann@mailbox.org\n"
    "ch_3Pb1,Beans Monthly,2026-10-02 10:00:00,15.00,0.00,gbp,15.00,0.00,0.40,0.00,gbp,Paid,"
    "Payment complete.,true,card_2,cus_B,,bob@mailbox.org\n"
    "ch_3Pb2,Beans Monthly,2026-10-03 10:00:00,15.00,0.00,gbp,15.00,0.00,0.40,0.00,gbp,Disputed,"
    "Payment complete.,true,card_2,cus_B,,bob@mailbox.org\n")

# Shopify's orders export (Orders > Export), the order columns first, then line items.
SHOPIFY_HEADER = ("Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,"
                  "Currency,Subtotal,Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,"
                  "Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem compare at price,"
                  "Lineitem sku,Lineitem requires shipping,Lineitem taxable,Lineitem fulfillment status,"
                  "Cancelled at,Payment Method,Refunded Amount,Id\n")
SHOPIFY = SHOPIFY_HEADER + (
    "#1001,cat@mailbox.org,paid,2026-10-01 09:00:00 +0000,fulfilled,,yes,GBP,40.00,0.00,0.00,40.00,,0.00,"
    "Standard,2026-10-01 09:00:00 +0000,1,House Blend 1kg,20.00,,BN-HOUSE,true,true,fulfilled,,card,0.00,5001\n"
    # an order's second line: Shopify leaves the order's own columns (Id among them) empty
    "#1001,cat@mailbox.org,,,,,,,,,,,,,,2026-10-01 09:00:00 +0000,2,Filter papers,10.00,,FP,true,true,"
    "fulfilled,,,,\n"
    "#1002,cat@mailbox.org,refunded,2026-10-05 09:00:00 +0000,,,yes,GBP,35.00,0.00,0.00,35.00,,0.00,"
    "Standard,2026-10-05 09:00:00 +0000,1,AeroPress,35.00,,EQ-AERO,true,true,,,card,35.00,5002\n"
    "#1003,cat@mailbox.org,partially_refunded,2026-10-09 09:00:00 +0000,fulfilled,,yes,GBP,60.00,0.00,0.00,"
    "60.00,,0.00,Standard,2026-10-09 09:00:00 +0000,3,Crane Espresso 1kg,20.00,,BN-ESP,true,true,fulfilled,"
    ",card,20.00,5003\n"
    "#1004,cat@mailbox.org,voided,,,,yes,GBP,25.00,0.00,0.00,25.00,,0.00,"
    "Standard,2026-10-12 09:00:00 +0000,1,Mug,25.00,,MUG,true,true,,2026-10-12 10:00:00 +0000,card,0.00,5004\n"
    "#1005,cat@mailbox.org,pending,,,,yes,GBP,12.00,0.00,0.00,12.00,,0.00,"
    "Standard,2026-10-14 09:00:00 +0000,1,Filter papers,12.00,,FP,true,true,,,bank deposit,0.00,5005\n")


def _load(workspace, admin, tmp_path, name, text, source):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = ingest_file(workspace, admin, "orders", path, source)
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    return result


def _revenue_members(workspace, admin, more_than):
    definition = {"type": "group", "op": "all", "children": [
        {"type": "condition", "kind": "orders", "measure": "total_revenue", "op": "gt", "value": more_than}]}
    segment_id = create_segment(workspace, admin, f"spent over {more_than}", definition)
    return set(segment_members(workspace, admin, segment_id)["email"])


def test_till_lines_sum_to_one_order_per_receipt(workspace, admin, tmp_path):
    result = _load(workspace, admin, tmp_path, "till.csv", TILL, "till")
    assert (result.rows_loaded, result.rows_quarantined) == (4, 0)
    assert result.mapping["Line Total"] == "line_total" and result.mapping["Qty"] == "quantity"
    orders = {r[0]: r[1:] for r in workspace.query_rows(
        "SELECT order_id, amount, quantity, store, email, CAST(items AS VARCHAR) FROM orders")}
    amount, quantity, store, email, items = orders["L-2001"]
    assert (amount, quantity, store, email) == (pytest.approx(9.20), 3, "Harbourside", "ann@mailbox.org")
    assert [(i["sku"], i["name"], i["quantity"], i["price"]) for i in json.loads(items)] == [
        ("CF-LAT", "Latte", 2, 3.2), ("PA-CRO", "Croissant", 1, 2.8)]
    assert orders["L-2002"][:2] == (3.0, 1)                       # no line total: qty x unit price
    assert orders["L-2003"][:2] == (pytest.approx(6.30), 3)
    # The same file again changes nothing.
    again = ingest_file(workspace, admin, "orders", tmp_path / "till.csv", "till")
    assert again.already_loaded


def test_stripe_payments_export_counts_what_was_kept(workspace, admin, tmp_path):
    result = _load(workspace, admin, tmp_path, "unified_payments.csv", STRIPE, "stripe")
    assert (result.rows_loaded, result.rows_quarantined) == (6, 0)
    assert [w for w in result.warnings if w.startswith("status:")] == [
        "status: 1 order(s) have a status that is not a known payment status (e.g. 'Disputed'); "
        "they count as paid. The word is kept in status_raw."]
    assert {result.mapping[c] for c in ("Status", "Amount Refunded", "Created date (UTC)", "id")} == {
        "status", "amount_refunded", "ordered_at", "source_record_id"}
    assert dict(workspace.query_rows("SELECT source_record_id, status FROM orders")) == {
        "ch_3Pa1": "paid", "ch_3Pa2": "failed", "ch_3Pa3": "refunded", "ch_3Pa4": "partially_refunded",
        "ch_3Pb1": "paid", "ch_3Pb2": "other"}
    resolve(workspace, admin)
    revenue = dict(workspace.query_rows(
        "SELECT email, sum(net_amount) FROM profile_revenue_orders GROUP BY email"))
    assert revenue == {"ann@mailbox.org": pytest.approx(24 + 0 + 30), "bob@mailbox.org": pytest.approx(30)}
    assert _revenue_members(workspace, admin, 50) == {"ann@mailbox.org"}
    assert _revenue_members(workspace, admin, 55) == set()            # gross would be 178


def test_shopify_orders_export_counts_what_was_kept(workspace, admin, tmp_path):
    result = _load(workspace, admin, tmp_path, "orders_export_1.csv", SHOPIFY, "shopify")
    assert (result.rows_loaded, result.rows_quarantined) == (6, 0)
    assert result.mapping["Financial Status"] == "status"
    assert result.mapping["Refunded Amount"] == "amount_refunded"
    assert (result.mapping["Total"], result.mapping["Name"], result.mapping["Id"]) == (
        "amount", "order_id", "source_record_id")
    stored = {r[0]: r[1:] for r in workspace.query_rows(
        "SELECT source_record_id, status, status_raw, amount, amount_refunded FROM orders")}
    assert {k: v[0] for k, v in stored.items()} == {
        "5001": "paid", "5002": "refunded", "5003": "partially_refunded", "5004": "cancelled",
        "5005": "pending"}
    assert stored["5004"][1] == "voided"
    assert stored["5001"][2:] == (40.0, 0.0) and stored["5003"][2:] == (60.0, 20.0)
    quantity, items = workspace.query_rows(
        "SELECT quantity, CAST(items AS VARCHAR) FROM orders WHERE source_record_id = '5001'")[0]
    assert quantity == 3 and [i["sku"] for i in json.loads(items)] == ["BN-HOUSE", "FP"]
    resolve(workspace, admin)
    orders, revenue = workspace.query_rows(
        "SELECT count(*), sum(net_amount) FROM profile_revenue_orders WHERE email = 'cat@mailbox.org'")[0]
    assert (orders, revenue) == (3, pytest.approx(40 + 0 + 40))
    assert _revenue_members(workspace, admin, 79) == {"cat@mailbox.org"}
    assert _revenue_members(workspace, admin, 81) == set()
