"""``trait``: a golden-record field of the profile, or a custom trait from the sources.

Keys: ``field`` (a column of ``profiles``, or ``traits.KEY`` for a custom trait from the
sources' ``traits`` JSON), ``op``, ``value``; for custom traits ``value_type``
(string|number|date|boolean, default string) and ``table`` (contacts|orders|subscriptions,
default contacts).
"""
from __future__ import annotations

from engine.access import is_personal_field
from engine.segments.rules import PRESENCE_OPS, check_operator, err, is_property_key, quote, value_text
from engine.workspace.versions import NO_EVENTS

LABEL = "Trait (profile field or custom trait)"
ORDER = 10
READS = NO_EVENTS
EXAMPLE = {"type": "condition", "kind": "trait", "field": "country", "op": "equals", "value": "GB"}

# Golden-record columns of `profiles` and their value types; columns added later by other
# modules are discovered from the schema (engine.segments.store.profile_fields).
PROFILE_FIELDS: dict[str, str] = {
    "profile_id": "string", "email": "string", "phone": "string", "first_name": "string",
    "last_name": "string", "address_line1": "string", "address_line2": "string",
    "city": "string", "postcode": "string", "state": "string", "country": "string",
    "date_of_birth": "date", "customer_id": "string", "user_id": "string",
    "record_count": "number", "first_seen": "date", "last_seen": "date",
    "created_at": "date", "updated_at": "date",
}
TRAIT_TABLES = ("contacts", "orders", "subscriptions")
TRAIT_RELATIONS = {"contacts": "profile_contacts", "orders": "profile_orders",
                   "subscriptions": "profile_subscriptions"}
PREFIX = "traits."


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    field = c.get("field")
    if isinstance(field, str) and field.startswith(PREFIX):
        if not is_property_key(field[len(PREFIX):]):
            raise err(path, f"custom trait name {field!r} is not allowed")
        if c.get("table", "contacts") not in TRAIT_TABLES:
            raise err(path, f"table must be one of {', '.join(TRAIT_TABLES)}")
        check_operator(path, c.get("value_type", "string"), c.get("op"), c.get("value"))
    elif field in profile_fields:
        check_operator(path, profile_fields[field], c.get("op"), c.get("value"))
    else:
        raise err(path, f"unknown field {field!r}; use a profile field or traits.NAME")


def compile(comp, c: dict) -> str:
    fld = c["field"]
    if fld.startswith(PREFIX):
        vt = c.get("value_type", "string")
        relation = TRAIT_RELATIONS[c.get("table", "contacts")]
        key = fld[len(PREFIX):]
        return comp.any_record(
            relation, lambda op: comp.compare(comp.typed_json("traits", key, vt), vt, op, c.get("value")),
            c["op"])
    vt = comp.profile_fields[fld]  # validated: fld is an allowed column
    return f"COALESCE({comp.compare(f'p.{quote(fld)}', vt, c['op'], c.get('value'))}, FALSE)"


def describe(c: dict, window: str) -> str:
    return f"{c['field']} {value_text(c['op'], c.get('value'))}"


def personal_fields(c: dict, path: str) -> list[str]:
    if is_personal_field(c.get("field", "")) and c.get("op") not in PRESENCE_OPS:
        return [f"{path}: {c.get('field')}"]
    return []
