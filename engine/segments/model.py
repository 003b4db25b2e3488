"""The segment definition: a JSON-able rule tree, and its validation.

A definition is plain data (dicts, lists, strings, numbers, booleans) so it can be
stored, versioned, exported and imported as JSON.

Groups
------
``{"type": "group", "op": "all" | "any" | "none", "children": [node, ...]}``

``all`` = every child holds, ``any`` = at least one holds, ``none`` = no child holds.
Groups nest as deep as needed (up to ``MAX_DEPTH``). An empty ``all``/``none`` group
matches everyone; an empty ``any`` group matches no one.

Conditions
----------
``{"type": "condition", "kind": KIND, ...}``; every condition also accepts
``"negate": true`` (the same as putting it alone in a ``none`` group).

Value operators (``op``/``value``) depend on the value type:

- string: ``equals``, ``not_equals``, ``one_of``/``not_one_of`` (value is a list),
  ``contains``, ``not_contains``, ``starts_with``, ``ends_with`` (case-insensitive),
  ``is_set``, ``not_set``
- number: ``equals``, ``not_equals``, ``gt``, ``gte``, ``lt``, ``lte``,
  ``between`` (value ``[low, high]``, inclusive), ``one_of``, ``is_set``, ``not_set``
- date: ``before``, ``after``, ``on`` (value ``"YYYY-MM-DD"``), ``between``
  (``[start, end]``, inclusive days), ``within_last_days`` / ``more_than_days_ago`` (value N),
  ``is_set``, ``not_set``
- boolean: ``is_true``, ``is_false``, ``is_set``, ``not_set``

``not_equals``/``not_one_of``/``not_contains`` include people whose value is unknown.

Windows (``window``) restrict when something happened, relative to the moment of
evaluation (``as_of``, now unless given):
``{"type": "ever"}`` (default), ``{"type": "last_days", "days": N}``,
``{"type": "between_dates", "start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}`` (inclusive),
``{"type": "days_ago", "min_days": N, "max_days": M}`` (between N and M days ago).

Kinds and their keys:

- ``trait``: ``field`` (a golden-record column of ``profiles``, or ``traits.KEY`` for a custom
  trait from the sources' ``traits`` JSON), ``op``, ``value``; for custom traits
  ``value_type`` (string|number|date|boolean, default string) and ``table``
  (contacts|orders|subscriptions, default contacts).
- ``event``: ``event`` (name; page/screen calls without a name are ``page``/``screen``),
  ``filters`` (list of ``{"property", "op", "value", "value_type"}``), ``count_op``
  (at_least|at_most|exactly|none; ``none`` = did not perform), ``count`` (default 1), ``window``.
- ``aggregate``: ``source`` (event|orders), ``event`` and ``filters`` (for event),
  ``property`` (event property, or ``amount``/``quantity`` for orders), ``func``
  (sum|avg|min|max|count), number ``op``/``value``, ``window``. Revenue in the last 90 days > 200:
  ``{"kind": "aggregate", "source": "orders", "property": "amount", "func": "sum", "op": "gt",
  "value": 200, "window": {"type": "last_days", "days": 90}}``. For sum and count, people with
  nothing in the window count as 0.
- ``sequence``: ``first`` and ``then`` (each ``{"event", "filters"}``), ``within_days`` N
  (``then`` happened at or after ``first``, within N days), ``window`` (for the ``then`` event).
- ``orders``: ``measure`` order_count|total_revenue|avg_order_value (number ops),
  first_order_date|last_order_date (date ops), or ``bought`` with ``item_field``
  (sku|name|category), string ``op``/``value``; ``window`` for all but the date measures.
  Orders conditions (and ``aggregate`` over orders) read money kept (engine/revenue.py): failed,
  cancelled and pending orders are not orders, ``amount`` is net of refunds, web purchases count.
- ``subscription``: ``state`` (active: active or trialing | cancelled | any), optional ``plan``
  (string or list), ``window`` (on cancelled_at for cancelled, started_at otherwise).
- ``crm``: ``measure`` stage_is (the person's current lead stage: the stage of their latest CRM
  record by its updated time, string op) | stage_was (the person was ever
  at stage ``value`` (string or list), in ``window``) | stage_changed (a stage change in
  ``window``; optional ``value`` = the new stage(s)) | owner (string op) | deal_value (number op).
- ``value``: ``field`` (rfm_segment, r_score, f_score, m_score, recency_days, frequency,
  monetary, predicted_clv, predicted_purchases, p_alive, clv_decile), ``op``/``value``;
  numeric fields also take ``top_percent`` with value P: the first P % of scored people ranked
  by that field, one by one, so ties never empty the cut (equal values are ranked by predicted
  CLV, then monetary value, then profile id; ``TOP_PERCENT_TIEBREAK``).
- ``consent``: ``purpose``, ``granted`` (true: currently granted; false: not granted or unknown).
- ``source``: ``source`` (source name), ``present`` (default true).
- ``segment``: ``segment_id``: member of another saved segment (cycles are refused).
- ``tag``: ``tag`` (string or list of tags; member if any).
"""
from __future__ import annotations

import copy
import json
import re
from datetime import date
from typing import Any

from engine.access import PermissionDenied, User, can, is_personal_field

MAX_DEPTH = 12
MAX_CONDITIONS = 200

STRING_OPS = ("equals", "not_equals", "one_of", "not_one_of", "contains", "not_contains",
              "starts_with", "ends_with", "is_set", "not_set")
NUMBER_OPS = ("equals", "not_equals", "gt", "gte", "lt", "lte", "between", "one_of",
              "is_set", "not_set")
DATE_OPS = ("before", "after", "on", "between", "within_last_days", "more_than_days_ago",
            "is_set", "not_set")
BOOLEAN_OPS = ("is_true", "is_false", "is_set", "not_set")
OPS_BY_TYPE = {"string": STRING_OPS, "number": NUMBER_OPS, "date": DATE_OPS, "boolean": BOOLEAN_OPS}
NO_VALUE_OPS = {"is_set", "not_set", "is_true", "is_false"}

# Golden-record columns of `profiles` and their value types; columns added later by other
# modules are discovered from the schema (engine.segments.compiler.profile_fields).
PROFILE_FIELDS: dict[str, str] = {
    "profile_id": "string", "email": "string", "phone": "string", "first_name": "string",
    "last_name": "string", "address_line1": "string", "address_line2": "string",
    "city": "string", "postcode": "string", "state": "string", "country": "string",
    "date_of_birth": "date", "customer_id": "string", "user_id": "string",
    "record_count": "number", "first_seen": "date", "last_seen": "date",
    "created_at": "date", "updated_at": "date",
}
VALUE_FIELDS: dict[str, str] = {
    "rfm_segment": "string", "r_score": "number", "f_score": "number", "m_score": "number",
    "recency_days": "number", "frequency": "number", "monetary": "number",
    "predicted_clv": "number", "predicted_purchases": "number", "p_alive": "number",
    "clv_decile": "number",
}
# top_percent ranks equal values by these fields (then by profile id).
TOP_PERCENT_TIEBREAK = ("predicted_clv", "monetary")
TRAIT_TABLES = ("contacts", "orders", "subscriptions")
KINDS = ("trait", "event", "aggregate", "sequence", "orders", "subscription", "crm", "value",
         "consent", "source", "segment", "tag")
COUNT_OPS = ("at_least", "at_most", "exactly", "none")
WINDOW_TYPES = ("ever", "last_days", "between_dates", "days_ago")
AGG_FUNCS = ("sum", "avg", "min", "max", "count")
ORDER_NUMBER_MEASURES = ("order_count", "total_revenue", "avg_order_value")
ORDER_DATE_MEASURES = ("first_order_date", "last_order_date")
ORDER_PROPERTIES = ("amount", "quantity")
ITEM_FIELDS = ("sku", "name", "category")
SUBSCRIPTION_STATES = ("active", "cancelled", "any")
CRM_MEASURES = ("stage_is", "stage_was", "stage_changed", "owner", "deal_value")

# Keys of custom traits and event properties: plain names only (they are still bound as
# parameters, never formatted into SQL).
_KEY = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_ \-$]{0,63}$")


class DefinitionError(ValueError):
    """A segment definition that cannot be evaluated; the message says where and why."""


class PersonalConditionRefused(DefinitionError, PermissionDenied):
    """A condition compares a personal field with a value, and the user may not see personal data."""


# Only these ops may test a personal field without view_pii: they say whether a value exists,
# never what it is (a starts_with count spells a masked email out one letter at a time).
PRESENCE_OPS = frozenset({"is_set", "not_set"})


def empty_definition(op: str = "all") -> dict:
    return {"type": "group", "op": op, "children": []}


def is_property_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_KEY.match(key))


def field_type(field: str, profile_fields: dict[str, str] | None = None) -> str | None:
    fields = profile_fields or PROFILE_FIELDS
    return fields.get(field)


def top_percent_tiebreak(field: str) -> tuple[str, ...]:
    """The fields that order people with equal values of `field` in a top_percent cut."""
    return tuple(t for t in TOP_PERCENT_TIEBREAK if t != field)


def _err(path: str, message: str) -> DefinitionError:
    return DefinitionError(f"{path or 'definition'}: {message}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_date(path: str, v: Any) -> None:
    try:
        date.fromisoformat(str(v)[:10])
    except ValueError:
        raise _err(path, f"{v!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(v, str):
        raise _err(path, f"{v!r} is not a date (YYYY-MM-DD)")


def _check_int(path: str, v: Any, minimum: int = 0) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise _err(path, f"must be a whole number of at least {minimum}, got {v!r}")


def check_operator(path: str, value_type: str, op: Any, value: Any) -> None:
    """Check op is valid for value_type and value has the shape op needs."""
    ops = OPS_BY_TYPE.get(value_type)
    if ops is None:
        raise _err(path, f"unknown value type {value_type!r}; use one of {', '.join(OPS_BY_TYPE)}")
    if op not in ops:
        raise _err(path, f"operator {op!r} does not fit a {value_type} value; use one of {', '.join(ops)}")
    if op in NO_VALUE_OPS:
        return
    if op in ("one_of", "not_one_of"):
        if not isinstance(value, list) or not value:
            raise _err(path, f"{op} needs a non-empty list of values")
        for item in value:
            if value_type == "number" and not _is_number(item):
                raise _err(path, f"{item!r} is not a number")
            if value_type == "string" and not isinstance(item, (str, int, float)):
                raise _err(path, f"{item!r} is not a text value")
        return
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _err(path, "between needs a list of two values [low, high]")
        for item in value:
            if value_type == "number" and not _is_number(item):
                raise _err(path, f"{item!r} is not a number")
            if value_type == "date":
                _check_date(path, item)
        return
    if op in ("within_last_days", "more_than_days_ago"):
        _check_int(path, value)
        return
    if value_type == "number":
        if not _is_number(value):
            raise _err(path, f"{value!r} is not a number")
    elif value_type == "date":
        _check_date(path, value)
    elif value_type == "string":
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or value == "":
            raise _err(path, f"{op} needs a text value")


def check_window(path: str, window: Any) -> None:
    if window is None:
        return
    if not isinstance(window, dict) or window.get("type", "ever") not in WINDOW_TYPES:
        raise _err(path, f"window type must be one of {', '.join(WINDOW_TYPES)}")
    kind = window.get("type", "ever")
    if kind == "last_days":
        _check_int(path + ".days", window.get("days"), 1)
    elif kind == "between_dates":
        _check_date(path + ".start", window.get("start"))
        _check_date(path + ".end", window.get("end"))
        if str(window["start"]) > str(window["end"]):
            raise _err(path, "start is after end")
    elif kind == "days_ago":
        _check_int(path + ".min_days", window.get("min_days"))
        _check_int(path + ".max_days", window.get("max_days"))
        if window["min_days"] > window["max_days"]:
            raise _err(path, "min_days is more than max_days")


def _check_filters(path: str, filters: Any) -> None:
    if filters is None:
        return
    if not isinstance(filters, list):
        raise _err(path, "filters must be a list")
    for i, f in enumerate(filters):
        fpath = f"{path}[{i}]"
        if not isinstance(f, dict):
            raise _err(fpath, "a filter is an object with property, op and value")
        if not is_property_key(f.get("property")):
            raise _err(fpath, f"property name {f.get('property')!r} is not allowed "
                              "(letters, digits, _, -, space; up to 64)")
        check_operator(fpath, f.get("value_type", "string"), f.get("op"), f.get("value"))


def _check_event_name(path: str, name: Any) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _err(path, "an event name is required")


def _check_condition(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    kind = c.get("kind")
    if kind not in KINDS:
        raise _err(path, f"unknown condition kind {kind!r}; use one of {', '.join(KINDS)}")
    if "negate" in c and not isinstance(c["negate"], bool):
        raise _err(path, "negate must be true or false")
    check_window(path + ".window", c.get("window"))
    if kind == "trait":
        field = c.get("field")
        if isinstance(field, str) and field.startswith("traits."):
            if not is_property_key(field[len("traits."):]):
                raise _err(path, f"custom trait name {field!r} is not allowed")
            if c.get("table", "contacts") not in TRAIT_TABLES:
                raise _err(path, f"table must be one of {', '.join(TRAIT_TABLES)}")
            check_operator(path, c.get("value_type", "string"), c.get("op"), c.get("value"))
        elif field in profile_fields:
            check_operator(path, profile_fields[field], c.get("op"), c.get("value"))
        else:
            raise _err(path, f"unknown field {field!r}; use a profile field or traits.NAME")
    elif kind == "event":
        _check_event_name(path + ".event", c.get("event"))
        _check_filters(path + ".filters", c.get("filters"))
        if c.get("count_op", "at_least") not in COUNT_OPS:
            raise _err(path, f"count_op must be one of {', '.join(COUNT_OPS)}")
        _check_int(path + ".count", c.get("count", 1))
    elif kind == "aggregate":
        source = c.get("source", "event")
        if source not in ("event", "orders"):
            raise _err(path, "source must be event or orders")
        if c.get("func") not in AGG_FUNCS:
            raise _err(path, f"func must be one of {', '.join(AGG_FUNCS)}")
        if source == "event":
            _check_event_name(path + ".event", c.get("event"))
            _check_filters(path + ".filters", c.get("filters"))
            if c["func"] != "count" and not is_property_key(c.get("property")):
                raise _err(path, f"property name {c.get('property')!r} is not allowed")
        elif c["func"] != "count" and c.get("property") not in ORDER_PROPERTIES:
            raise _err(path, f"orders property must be one of {', '.join(ORDER_PROPERTIES)}")
        check_operator(path, "number", c.get("op"), c.get("value"))
        if c.get("op") in NO_VALUE_OPS:
            raise _err(path, "an aggregate needs a comparison such as gt or between")
    elif kind == "sequence":
        for step in ("first", "then"):
            s = c.get(step)
            if not isinstance(s, dict):
                raise _err(path, f"{step} must be an object with an event")
            _check_event_name(f"{path}.{step}.event", s.get("event"))
            _check_filters(f"{path}.{step}.filters", s.get("filters"))
        _check_int(path + ".within_days", c.get("within_days"), 1)
    elif kind == "orders":
        measure = c.get("measure")
        if measure in ORDER_NUMBER_MEASURES:
            check_operator(path, "number", c.get("op"), c.get("value"))
        elif measure in ORDER_DATE_MEASURES:
            check_operator(path, "date", c.get("op"), c.get("value"))
        elif measure == "bought":
            if c.get("item_field", "category") not in ITEM_FIELDS:
                raise _err(path, f"item_field must be one of {', '.join(ITEM_FIELDS)}")
            check_operator(path, "string", c.get("op", "equals"), c.get("value"))
        else:
            raise _err(path, "measure must be one of "
                       + ", ".join(ORDER_NUMBER_MEASURES + ORDER_DATE_MEASURES + ("bought",)))
    elif kind == "subscription":
        if c.get("state", "any") not in SUBSCRIPTION_STATES:
            raise _err(path, f"state must be one of {', '.join(SUBSCRIPTION_STATES)}")
        plan = c.get("plan")
        if plan is not None and not (isinstance(plan, str) or (isinstance(plan, list) and plan
                                                               and all(isinstance(p, str) for p in plan))):
            raise _err(path, "plan must be a plan name or a list of names")
    elif kind == "crm":
        measure = c.get("measure")
        if measure in ("stage_is", "owner"):
            check_operator(path, "string", c.get("op"), c.get("value"))
        elif measure == "deal_value":
            check_operator(path, "number", c.get("op"), c.get("value"))
        elif measure in ("stage_was", "stage_changed"):
            v = c.get("value")
            if measure == "stage_was" and v is None:
                raise _err(path, "stage_was needs the stage (value)")
            if v is not None and not (isinstance(v, str) or (isinstance(v, list) and v)):
                raise _err(path, "value must be a stage name or a list of names")
        else:
            raise _err(path, f"measure must be one of {', '.join(CRM_MEASURES)}")
    elif kind == "value":
        field = c.get("field")
        if field not in VALUE_FIELDS:
            raise _err(path, f"unknown value field {field!r}; use one of {', '.join(VALUE_FIELDS)}")
        if c.get("op") == "top_percent":
            if VALUE_FIELDS[field] != "number":
                raise _err(path, "top_percent needs a numeric field")
            v = c.get("value")
            if not _is_number(v) or not 0 < v <= 100:
                raise _err(path, "top_percent needs a percentage between 0 and 100")
        else:
            check_operator(path, VALUE_FIELDS[field], c.get("op"), c.get("value"))
    elif kind == "consent":
        if not isinstance(c.get("purpose"), str) or not c["purpose"]:
            raise _err(path, "purpose is required")
        if not isinstance(c.get("granted", True), bool):
            raise _err(path, "granted must be true or false")
    elif kind == "source":
        if not isinstance(c.get("source"), str) or not c["source"]:
            raise _err(path, "source name is required")
        if not isinstance(c.get("present", True), bool):
            raise _err(path, "present must be true or false")
    elif kind == "segment":
        if not isinstance(c.get("segment_id"), str) or not c["segment_id"]:
            raise _err(path, "segment_id is required")
    elif kind == "tag":
        tag = c.get("tag")
        if not (isinstance(tag, str) and tag) and not (isinstance(tag, list) and tag
                                                       and all(isinstance(t, str) for t in tag)):
            raise _err(path, "tag must be a tag or a list of tags")


def validate(definition: Any, profile_fields: dict[str, str] | None = None, user: User | None = None) -> dict:
    """Check a definition; return a deep copy, or raise DefinitionError naming the bad node.

    With `user`, also refuse conditions that user may not evaluate (PersonalConditionRefused).
    """
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except json.JSONDecodeError as exc:
            raise DefinitionError(f"definition is not valid JSON: {exc}") from None
    fields = profile_fields or PROFILE_FIELDS
    count = 0

    def walk(node: Any, path: str, depth: int) -> None:
        nonlocal count
        if not isinstance(node, dict):
            raise _err(path, "each node must be an object")
        if depth > MAX_DEPTH:
            raise _err(path, f"groups nest deeper than {MAX_DEPTH} levels")
        kind = node.get("type")
        if kind == "group":
            if node.get("op") not in ("all", "any", "none"):
                raise _err(path, "a group's op must be all, any or none")
            children = node.get("children", [])
            if not isinstance(children, list):
                raise _err(path, "children must be a list")
            for i, child in enumerate(children):
                walk(child, f"{path}.children[{i}]" if path else f"children[{i}]", depth + 1)
        elif kind == "condition":
            count += 1
            if count > MAX_CONDITIONS:
                raise _err(path, f"more than {MAX_CONDITIONS} conditions")
            _check_condition(path, node, fields)
        else:
            raise _err(path, "type must be group or condition")

    walk(definition, "", 0)
    if definition.get("type") != "group":
        raise DefinitionError("definition: the top node must be a group")
    try:
        json.dumps(definition)
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"definition is not JSON-able: {exc}") from None
    check_personal_conditions(definition, user)
    return copy.deepcopy(definition)


def personal_conditions(definition: dict) -> list[str]:
    """Personal fields the definition compares with a value (trait fields, custom traits, event
    property filters), as `path: field`; presence tests (is set / not set) are not listed."""
    found: list[str] = []

    def filters(path: str, items) -> None:
        for i, f in enumerate(items or []):
            if isinstance(f, dict) and is_personal_field(f.get("property", "")) \
                    and f.get("op") not in PRESENCE_OPS:
                found.append(f"{path}.filters[{i}]: {f.get('property')}")

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        if node.get("type") == "group":
            for i, child in enumerate(node.get("children") or []):
                walk(child, f"{path}.children[{i}]" if path else f"children[{i}]")
            return
        kind = node.get("kind")
        if kind == "trait" and is_personal_field(node.get("field", "")) and node.get("op") not in PRESENCE_OPS:
            found.append(f"{path}: {node.get('field')}")
        elif kind in ("event", "aggregate"):
            filters(path, node.get("filters"))
        elif kind == "sequence":
            for step in ("first", "then"):
                if isinstance(node.get(step), dict):
                    filters(f"{path}.{step}", node[step].get("filters"))

    walk(definition, "")
    return found


def check_personal_conditions(definition: dict, user: User | None) -> None:
    """Refuse value conditions on personal fields for a user without view_pii (None: the engine
    itself, e.g. a saved segment's refresh)."""
    if user is None or can(user, "view_pii"):
        return
    found = personal_conditions(definition)
    if found:
        fields = sorted({f.rsplit(": ", 1)[-1] for f in found})
        raise PersonalConditionRefused(
            f"{user.display_name} ({user.role}) may not filter on personal fields ({', '.join(fields)}): "
            "their values are masked for this role. Use 'is set' / 'not set', or ask a marketer.")


def referenced_segments(definition: dict) -> set[str]:
    """Ids of the segments a definition refers to (directly)."""
    found: set[str] = set()

    def walk(node: dict) -> None:
        if node.get("type") == "group":
            for child in node.get("children", []):
                walk(child)
        elif node.get("kind") == "segment":
            found.add(node["segment_id"])

    walk(definition)
    return found


def condition_count(definition: dict) -> int:
    if definition.get("type") == "group":
        return sum(condition_count(c) for c in definition.get("children", []))
    return 1


def _window_text(w: dict | None) -> str:
    if not w or w.get("type", "ever") == "ever":
        return ""
    if w["type"] == "last_days":
        return f" in the last {w['days']} days"
    if w["type"] == "between_dates":
        return f" between {w['start']} and {w['end']}"
    return f" between {w['min_days']} and {w['max_days']} days ago"


def _value_text(op: str, value: Any) -> str:
    words = op.replace("_", " ")
    if op in NO_VALUE_OPS:
        return words
    return f"{words} {json.dumps(value)}"


def describe(node: dict, indent: int = 0) -> str:
    """A plain-language, indented rendering of a definition (for review and diffs)."""
    pad = "  " * indent
    if node.get("type") == "group":
        lines = [f"{pad}{node['op']} of:"]
        lines += [describe(c, indent + 1) for c in node.get("children", [])] or [f"{pad}  (nothing)"]
        return "\n".join(lines)
    k = node.get("kind")
    neg = "NOT " if node.get("negate") else ""
    w = _window_text(node.get("window"))
    if k == "trait":
        text = f"{node['field']} {_value_text(node['op'], node.get('value'))}"
    elif k == "event":
        op = node.get("count_op", "at_least")
        text = (f"did not perform {node['event']!r}{w}" if op == "none" else
                f"performed {node['event']!r} {op.replace('_', ' ')} {node.get('count', 1)} times{w}")
        if node.get("filters"):
            text += " where " + " and ".join(
                f"{f['property']} {_value_text(f['op'], f.get('value'))}" for f in node["filters"])
    elif k == "aggregate":
        what = node.get("event") if node.get("source", "event") == "event" else "orders"
        text = (f"{node['func']} of {node.get('property', '')} of {what}{w} "
                f"{_value_text(node['op'], node.get('value'))}")
    elif k == "sequence":
        text = (f"performed {node['first']['event']!r} then {node['then']['event']!r} "
                f"within {node['within_days']} days{w}")
    elif k == "orders":
        if node["measure"] == "bought":
            text = f"bought {node.get('item_field', 'category')} {_value_text(node.get('op', 'equals'), node.get('value'))}{w}"
        else:
            text = f"{node['measure'].replace('_', ' ')}{w} {_value_text(node['op'], node.get('value'))}"
    elif k == "subscription":
        text = f"subscription {node.get('state', 'any')}"
        if node.get("plan"):
            text += f" on plan {json.dumps(node['plan'])}"
        text += w
    elif k == "crm":
        m = node["measure"]
        if m in ("stage_was", "stage_changed"):
            text = f"CRM {m.replace('_', ' ')} {json.dumps(node.get('value'))}{w}"
        else:
            text = f"CRM {m.replace('_', ' ')} {_value_text(node['op'], node.get('value'))}"
    elif k == "value":
        text = f"{node['field']} {_value_text(node['op'], node.get('value'))}"
        if node["op"] == "top_percent":
            text += (" (ties ranked by " + ", then ".join(top_percent_tiebreak(node["field"]))
                     + ", then profile id)")
    elif k == "consent":
        text = f"consent for {node['purpose']} {'granted' if node.get('granted', True) else 'not granted'}"
    elif k == "source":
        text = f"{'present' if node.get('present', True) else 'absent'} in source {node['source']!r}"
    elif k == "segment":
        text = f"member of segment {node['segment_id']}"
    else:
        text = f"tagged {json.dumps(node.get('tag'))}"
    return f"{pad}{neg}{text}"
