"""What every condition kind shares: value operators, windows and property filters, with their
checks (for a kind's `validate`) and their words (for a kind's `describe`).

Kinds live in engine/segments/kinds/ and import this module; it imports no kind.
"""
from __future__ import annotations

import json
import re
from datetime import date
from typing import Any
from engine.sql_names import quote_name

STRING_OPS = ("equals", "not_equals", "one_of", "not_one_of", "contains", "not_contains",
              "starts_with", "ends_with", "is_set", "not_set")
NUMBER_OPS = ("equals", "not_equals", "gt", "gte", "lt", "lte", "between", "one_of",
              "is_set", "not_set")
DATE_OPS = ("before", "after", "on", "between", "within_last_days", "more_than_days_ago",
            "is_set", "not_set")
BOOLEAN_OPS = ("is_true", "is_false", "is_set", "not_set")
OPS_BY_TYPE = {"string": STRING_OPS, "number": NUMBER_OPS, "date": DATE_OPS, "boolean": BOOLEAN_OPS}
NO_VALUE_OPS = {"is_set", "not_set", "is_true", "is_false"}
WINDOW_TYPES = ("ever", "last_days", "between_dates", "days_ago")

# Keys of custom traits and event properties: plain names only (they are still bound as
# parameters, never formatted into SQL).
_KEY = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_ \-$]{0,63}$")


class DefinitionError(ValueError):
    """A segment definition that cannot be evaluated; the message says where and why."""


def err(path: str, message: str) -> DefinitionError:
    return DefinitionError(f"{path or 'definition'}: {message}")


def is_property_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_KEY.match(key))


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def quote(identifier: str) -> str:
    """A column name from an allow-list, quoted for SQL."""
    return quote_name(identifier)


def check_date(path: str, v: Any) -> None:
    try:
        date.fromisoformat(str(v)[:10])
    except ValueError:
        raise err(path, f"{v!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(v, str):
        raise err(path, f"{v!r} is not a date (YYYY-MM-DD)")


def check_int(path: str, v: Any, minimum: int = 0) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise err(path, f"must be a whole number of at least {minimum}, got {v!r}")


def check_choice(path: str, key: str, value: Any, choices) -> None:
    """Refuse a value that is not one of choices, naming them."""
    if value not in choices:
        raise err(path, f"{key} must be one of {', '.join(choices)}")


def check_flag(path: str, c: dict, key: str) -> None:
    if not isinstance(c.get(key, True), bool):
        raise err(path, f"{key} must be true or false")


def check_operator(path: str, value_type: str, op: Any, value: Any) -> None:
    """Check op is valid for value_type and value has the shape op needs."""
    ops = OPS_BY_TYPE.get(value_type)
    if ops is None:
        raise err(path, f"unknown value type {value_type!r}; use one of {', '.join(OPS_BY_TYPE)}")
    if op not in ops:
        raise err(path, f"operator {op!r} does not fit a {value_type} value; use one of {', '.join(ops)}")
    if op in NO_VALUE_OPS:
        return
    if op in ("one_of", "not_one_of"):
        if not isinstance(value, list) or not value:
            raise err(path, f"{op} needs a non-empty list of values")
        for item in value:
            if value_type == "number" and not is_number(item):
                raise err(path, f"{item!r} is not a number")
            if value_type == "string" and not isinstance(item, (str, int, float)):
                raise err(path, f"{item!r} is not a text value")
        return
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise err(path, "between needs a list of two values [low, high]")
        for item in value:
            if value_type == "number" and not is_number(item):
                raise err(path, f"{item!r} is not a number")
            if value_type == "date":
                check_date(path, item)
        return
    if op in ("within_last_days", "more_than_days_ago"):
        check_int(path, value)
        return
    if value_type == "number":
        if not is_number(value):
            raise err(path, f"{value!r} is not a number")
    elif value_type == "date":
        check_date(path, value)
    elif value_type == "string":
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or value == "":
            raise err(path, f"{op} needs a text value")


def check_window(path: str, window: Any) -> None:
    if window is None:
        return
    if not isinstance(window, dict) or window.get("type", "ever") not in WINDOW_TYPES:
        raise err(path, f"window type must be one of {', '.join(WINDOW_TYPES)}")
    kind = window.get("type", "ever")
    if kind == "last_days":
        check_int(path + ".days", window.get("days"), 1)
    elif kind == "between_dates":
        check_date(path + ".start", window.get("start"))
        check_date(path + ".end", window.get("end"))
        if str(window["start"]) > str(window["end"]):
            raise err(path, "start is after end")
    elif kind == "days_ago":
        check_int(path + ".min_days", window.get("min_days"))
        check_int(path + ".max_days", window.get("max_days"))
        if window["min_days"] > window["max_days"]:
            raise err(path, "min_days is more than max_days")


def check_filters(path: str, filters: Any) -> None:
    if filters is None:
        return
    if not isinstance(filters, list):
        raise err(path, "filters must be a list")
    for i, f in enumerate(filters):
        fpath = f"{path}[{i}]"
        if not isinstance(f, dict):
            raise err(fpath, "a filter is an object with property, op and value")
        if not is_property_key(f.get("property")):
            raise err(fpath, f"property name {f.get('property')!r} is not allowed "
                             "(letters, digits, _, -, space; up to 64)")
        check_operator(fpath, f.get("value_type", "string"), f.get("op"), f.get("value"))


def check_event_name(path: str, name: Any) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise err(path, "an event name is required")


def window_text(w: dict | None) -> str:
    if not w or w.get("type", "ever") == "ever":
        return ""
    if w["type"] == "last_days":
        return f" in the last {w['days']} days"
    if w["type"] == "between_dates":
        return f" between {w['start']} and {w['end']}"
    return f" between {w['min_days']} and {w['max_days']} days ago"


def value_text(op: str, value: Any) -> str:
    words = op.replace("_", " ")
    if op in NO_VALUE_OPS:
        return words
    return f"{words} {json.dumps(value)}"


def filters_text(filters: list | None) -> str:
    if not filters:
        return ""
    return " where " + " and ".join(f"{f['property']} {value_text(f['op'], f.get('value'))}" for f in filters)


# Only these ops may test a personal field without view_pii: they say whether a value exists,
# never what it is (a starts_with count spells a masked email out one letter at a time).
PRESENCE_OPS = frozenset({"is_set", "not_set"})


def personal_filters(path: str, filters: list | None) -> list[str]:
    """Property filters that compare a personal field with a value, as `path.filters[i]: property`."""
    from engine.access import is_personal_field
    return [f"{path}.filters[{i}]: {f.get('property')}" for i, f in enumerate(filters or [])
            if isinstance(f, dict) and is_personal_field(f.get("property", "")) and f.get("op") not in PRESENCE_OPS]
