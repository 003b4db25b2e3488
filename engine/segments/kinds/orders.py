"""``orders``: order count, revenue, average order value, first/last order date, products bought.

Keys: ``measure`` order_count|total_revenue|avg_order_value (number ops),
first_order_date|last_order_date (date ops), or ``bought`` with ``item_field``
(sku|name|category), string ``op``/``value``; ``window`` for all but the date measures.
Orders conditions (and ``aggregate`` over orders) read money kept (engine/revenue.py): failed,
cancelled and pending orders are not orders, ``amount`` is net of refunds, web purchases count.
"""
from __future__ import annotations

from engine.revenue import NET_AMOUNT, PROFILE_REVENUE_ORDERS
from engine.segments.rules import DefinitionError, check_operator, err, value_text
from engine.workspace.versions import REVENUE

LABEL = "Orders: count, revenue, dates, products"
ORDER = 50
READS = REVENUE    # orders and web purchases
EXAMPLE = {"type": "condition", "kind": "orders", "measure": "total_revenue", "op": "gt", "value": 100,
           "window": {"type": "last_days", "days": 90}}
ORDER_NUMBER_MEASURES = ("order_count", "total_revenue", "avg_order_value")
ORDER_DATE_MEASURES = ("first_order_date", "last_order_date")
ITEM_FIELDS = ("sku", "name", "category")
MEASURES = ORDER_NUMBER_MEASURES + ORDER_DATE_MEASURES + ("bought",)


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    measure = c.get("measure")
    if measure in ORDER_NUMBER_MEASURES:
        check_operator(path, "number", c.get("op"), c.get("value"))
    elif measure in ORDER_DATE_MEASURES:
        check_operator(path, "date", c.get("op"), c.get("value"))
    elif measure == "bought":
        if c.get("item_field", "category") not in ITEM_FIELDS:
            raise err(path, f"item_field must be one of {', '.join(ITEM_FIELDS)}")
        check_operator(path, "string", c.get("op", "equals"), c.get("value"))
    else:
        raise err(path, "measure must be one of " + ", ".join(MEASURES))


def compile(comp, c: dict) -> str:
    measure = c["measure"]
    if measure == "bought":
        item_field = c.get("item_field", "category")
        if item_field not in ITEM_FIELDS:
            raise DefinitionError(f"item field {item_field!r} is not allowed")
        win = c.get("window")
        return comp.any_record(
            f"(SELECT o.profile_id, o.ordered_at, t.item FROM {PROFILE_REVENUE_ORDERS} o, "
            "unnest(TRY_CAST(o.items AS JSON[])) AS t(item))",
            lambda op: f"{comp.window('ordered_at', win)} AND COALESCE("
                       f"{comp.compare(comp.json_value('item', item_field), 'string', op, c.get('value'))}, FALSE)",
            c.get("op", "equals"))
    if measure in ORDER_DATE_MEASURES:
        if c["op"] in ("is_set", "not_set"):
            sub = f"p.profile_id IN (SELECT profile_id FROM {PROFILE_REVENUE_ORDERS} WHERE ordered_at IS NOT NULL)"
            return sub if c["op"] == "is_set" else f"NOT {sub}"
        agg = "min(ordered_at)" if measure == "first_order_date" else "max(ordered_at)"
        return (f"p.profile_id IN (SELECT profile_id FROM {PROFILE_REVENUE_ORDERS} GROUP BY profile_id "
                f"HAVING {comp.compare(agg, 'date', c['op'], c.get('value'))})")
    # Money kept (engine/revenue.py): failed, cancelled and pending orders do not count,
    # refunds are taken off.
    rows = (f"SELECT profile_id, {NET_AMOUNT} AS amount FROM {PROFILE_REVENUE_ORDERS} "
            f"WHERE {comp.window('ordered_at', c.get('window'))}")
    agg = {"order_count": "count(*)", "total_revenue": "sum(amount)", "avg_order_value": "avg(amount)"}[measure]
    return comp.having_membership(rows, agg, c["op"], c.get("value"),
                                  zero_ok=measure in ("order_count", "total_revenue"))


def describe(c: dict, window: str) -> str:
    if c["measure"] == "bought":
        return f"bought {c.get('item_field', 'category')} {value_text(c.get('op', 'equals'), c.get('value'))}{window}"
    return f"{c['measure'].replace('_', ' ')}{window} {value_text(c['op'], c.get('value'))}"
