"""``aggregate``: sum, average, min, max or count of a value from events or orders.

Keys: ``source`` (event|orders), ``event`` and ``filters`` (for event), ``property`` (event
property, or ``amount``/``quantity`` for orders), ``func`` (sum|avg|min|max|count), number
``op``/``value``, ``window``. Revenue in the last 90 days > 200:
``{"kind": "aggregate", "source": "orders", "property": "amount", "func": "sum", "op": "gt",
"value": 200, "window": {"type": "last_days", "days": 90}}``. For sum and count, people with
nothing in the window count as 0. Orders are money kept (engine/revenue.py).
"""
from __future__ import annotations

from engine.revenue import NET_AMOUNT, PROFILE_REVENUE_ORDERS
from engine.segments.rules import (
    NO_VALUE_OPS,
    DefinitionError,
    check_event_name,
    check_filters,
    check_operator,
    err,
    is_property_key,
    personal_filters,
    quote,
    value_text,
)
from engine.workspace.versions import DATA, REVENUE

LABEL = "Aggregate: sum / average / min / max of a value"
ORDER = 40
READS = DATA                # of an event aggregate; over orders, REVENUE (`reads`)
EXAMPLE = {"type": "condition", "kind": "aggregate", "source": "orders", "property": "amount", "func": "sum",
           "op": "gt", "value": 200, "window": {"type": "last_days", "days": 90}}
AGG_FUNCS = ("sum", "avg", "min", "max", "count")
ORDER_PROPERTIES = ("amount", "quantity")


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    source = c.get("source", "event")
    if source not in ("event", "orders"):
        raise err(path, "source must be event or orders")
    if c.get("func") not in AGG_FUNCS:
        raise err(path, f"func must be one of {', '.join(AGG_FUNCS)}")
    if source == "event":
        check_event_name(path + ".event", c.get("event"))
        check_filters(path + ".filters", c.get("filters"))
        if c["func"] != "count" and not is_property_key(c.get("property")):
            raise err(path, f"property name {c.get('property')!r} is not allowed")
    elif c["func"] != "count" and c.get("property") not in ORDER_PROPERTIES:
        raise err(path, f"orders property must be one of {', '.join(ORDER_PROPERTIES)}")
    check_operator(path, "number", c.get("op"), c.get("value"))
    if c.get("op") in NO_VALUE_OPS:
        raise err(path, "an aggregate needs a comparison such as gt or between")


def compile(comp, c: dict) -> str:
    func = c["func"]
    if c.get("source", "event") == "orders":
        prop = c.get("property", "amount")
        if func != "count" and prop not in ORDER_PROPERTIES:
            raise DefinitionError(f"orders property {prop!r} is not allowed")
        value = "NULL" if func == "count" else NET_AMOUNT if prop == "amount" else quote(prop)
        rows = (f"SELECT profile_id, {value} AS v FROM {PROFILE_REVENUE_ORDERS} "
                f"WHERE {comp.window('ordered_at', c.get('window'))}")
    else:
        vexpr = "NULL" if func == "count" else f"TRY_CAST({comp.json_value('properties', c['property'])} AS DOUBLE)"
        rows = comp.event_rows(c["event"], c.get("filters"), c.get("window"), columns=f"profile_id, {vexpr} AS v")
    agg = "count(*)" if func == "count" else f"{func}(v)"
    return comp.having_membership(rows, agg, c["op"], c.get("value"), zero_ok=func in ("sum", "count"))


def describe(c: dict, window: str) -> str:
    what = c.get("event") if c.get("source", "event") == "event" else "orders"
    return f"{c['func']} of {c.get('property', '')} of {what}{window} {value_text(c['op'], c.get('value'))}"


def personal_fields(c: dict, path: str) -> list[str]:
    return personal_filters(path, c.get("filters"))


def reads(c: dict) -> tuple[str, ...]:
    return REVENUE if c.get("source", "event") == "orders" else DATA
