"""Money kept: which orders count, and for how much. One definition for every value figure.

Ingest stores each order's payment status normalised (`orders.status`, the tool's own word in
`status_raw`) and the refunded part of its amount (`amount_refunded`). The rule itself lives in
the workspace as SQL (migration 0015_order_status.sql), so every reader, the SQL console and
any other backend see the same thing:

- `order_status(raw, amount, refunded)` maps a tool's word to STATUSES (a refund amount turns
  a paid order into a refunded or partially refunded one).
- `order_counts(status)`: failed, cancelled (voided) and pending orders are not orders a
  customer paid for, so they count neither as orders nor as revenue. Orders without a status
  (a till export) count.
- `order_net_amount(status, amount, refunded)`: amount less what was refunded; a refunded
  order without a refund amount is worth nothing.
- The views `revenue_orders` (over `orders`) and `profile_revenue_orders` (over
  `profile_orders`) hold the revenue-bearing orders with their `net_amount`.
- Web purchases (`web_orders`, migration 0016): a Segment `Order Completed` event with an
  order_id is an order in both views when no orders file holds that order id; its
  `Order Refunded` events are its refunds. Their fields are kept as rows (engine/order_events.py,
  migration 0017) so that reads do not parse every event's JSON.

- Currencies (engine/currency.py, migration 0020): `net_amount` is in the workspace's reporting
  currency. An order in another currency is converted with the latest loaded rate in force on
  its day; one in a currency with no rate is not in these views (it is listed in
  `unconverted_orders`, counted on screens and warned about at ingest), so amounts in several
  currencies are never added up raw. Orders without a currency are in the reporting currency.

Value (RFM, CLV), segments, profiles, journeys and forwarding read the views named here; a
figure of money or of orders is never summed from `orders.amount` directly.
"""
from __future__ import annotations

STATUSES = ("paid", "pending", "failed", "cancelled", "refunded", "partially_refunded", "other")
# Statuses whose orders are not revenue and not counted as orders.
NOT_KEPT = ("failed", "cancelled", "pending")

REVENUE_ORDERS = "revenue_orders"                    # orders that count, with net_amount
PROFILE_REVENUE_ORDERS = "profile_revenue_orders"    # the same per profile (profile_orders)
NET_AMOUNT = "net_amount"                            # in the reporting currency
NET_AMOUNT_LOCAL = "net_amount_local"                # the same in the order's own currency
UNCONVERTED_ORDERS = "unconverted_orders"            # orders in a currency with no rate


def counts(status: str | None) -> bool:
    """Python reference of order_counts (tests hold the SQL to it)."""
    return status is None or status not in NOT_KEPT


def net_amount(status: str | None, amount: float | None, refunded: float | None) -> float | None:
    """Python reference of order_net_amount."""
    if amount is None:
        return None
    if refunded is not None:
        return max(amount - refunded, 0.0)
    return 0.0 if status == "refunded" else amount
