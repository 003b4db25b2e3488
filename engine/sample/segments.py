"""Ready-made saved segments of the sample workspace, stored through the segment store.

Each is an ordinary rule segment (engine.segments.create_segment): people can open, edit,
duplicate or push it like one they built. Windows are relative to the moment of
evaluation, so on a sample built today they count today's people.
"""
from __future__ import annotations

from engine.access import User

LAPSING_DAYS = 90


def _event(name: str, days: int, count_op: str = "at_least") -> dict:
    return {"type": "condition", "kind": "event", "event": name, "count_op": count_op,
            "window": {"type": "last_days", "days": days}}


def _all(*children: dict) -> dict:
    return {"type": "group", "op": "all", "children": list(children)}


# (name, description, definition), in the order the Segments screen lists them.
SAMPLE_SEGMENTS: list[tuple[str, str, dict]] = [
    ("Cart abandoners (last 7 days)",
     "Started a checkout in the last 7 days and completed no order since.",
     _all(_event("Checkout Started", 7), _event("Order Completed", 7, count_op="none"))),
    ("High predicted CLV",
     "The top 10% of customers by predicted lifetime value.",
     _all({"type": "condition", "kind": "value", "field": "predicted_clv", "op": "top_percent",
           "value": 10})),
    ("Lapsing VIPs",
     f"The top 20% by money spent (RFM monetary) with no order in the last {LAPSING_DAYS} days.",
     _all({"type": "condition", "kind": "value", "field": "monetary", "op": "top_percent", "value": 20},
          {"type": "condition", "kind": "orders", "measure": "last_order_date",
           "op": "more_than_days_ago", "value": LAPSING_DAYS})),
    ("MQL leads without an order",
     "CRM contacts at stage marketing_qualified who have never ordered.",
     _all({"type": "condition", "kind": "crm", "measure": "stage_is", "op": "equals",
           "value": "marketing_qualified"},
          {"type": "condition", "kind": "orders", "measure": "order_count", "op": "equals", "value": 0})),
]


def create_sample_segments(workspace, user: User) -> dict[str, str]:
    """Save every ready-made segment; returns {name: segment_id}."""
    from engine.segments import create_segment

    return {name: create_segment(workspace, user, name, definition, description)
            for name, description, definition in SAMPLE_SEGMENTS}
