"""How a staged file's columns become a kind's fields: the mapping checked (or suggested), where
the record id comes from, and which fields the rows need (`plan_mapping` -> `Plan`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import engine.ingest.readers as readers
from engine.ingest.common import IngestError
from engine.ingest.fields import (CONSENT_FIELDS, DEFAULT_ID_FIELD, IDENTIFIERS, LINE_ITEM_FIELDS, RECORD_ID, TAGS,
                                  extra_fields_for, fields_for)
from engine.ingest.headers import normalise_header
from engine.ingest.mapping import as_mapping, suggest_mapping
from engine.ingest.shapes import recognise
from engine.lifecycle import LIFECYCLE_COLUMN


# Target table columns per kind, in the order of 0001_core.sql (besides bookkeeping).
TABLE_FIELDS = {
    "contacts": ("email", "phone", "first_name", "last_name", "address_line1", "address_line2", "city",
                 "postcode", "state", "country", "date_of_birth", "customer_id", "user_id",
                 "anonymous_id", "lead_stage", "owner", "deal_value", "created_at", "updated_at",
                 LIFECYCLE_COLUMN),
    "orders": ("order_id", "ordered_at", "amount", "currency", "status", "status_raw", "amount_refunded",
               "quantity", "items", "store", "channel",
               "email", "phone", "first_name", "last_name", "address_line1", "address_line2", "city",
               "postcode", "state", "country", "date_of_birth", "customer_id", "user_id", "anonymous_id"),
    "subscriptions": ("subscription_id", "plan", "status", "started_at", "cancelled_at", "amount",
                      "currency", "billing_interval", "email", "phone", "first_name", "last_name",
                      "address_line1", "address_line2", "city", "postcode", "state", "country",
                      "date_of_birth", "customer_id", "user_id", "anonymous_id"),
    "consents": ("purpose", "granted", "recorded_at", "method", "email", "phone", "first_name",
                 "last_name", "customer_id", "user_id", "anonymous_id"),
}
# Kinds whose rows are people and so need at least one identifier.
NEEDS_IDENTIFIER = ("contacts", "subscriptions", "consents")
# Of those, kinds whose rows may instead be matched by fuzzy evidence: a name and one of
# date of birth, address, postcode, city (till receipts, legacy CRMs, direct-mail lists).
FUZZY_MATCHABLE = ("contacts", "subscriptions")
NAME_FIELDS = ("first_name", "last_name")
EVIDENCE_FIELDS = ("date_of_birth", "address_line1", "postcode", "city")


def fuzzy_fields(kind: str, mapped) -> tuple[list[str], list[str]]:
    """The mapped name and evidence fields that make a row matchable without an identifier."""
    if kind not in FUZZY_MATCHABLE:
        return [], []
    names = [f for f in NAME_FIELDS if f in mapped]
    evidence = [f for f in EVIDENCE_FIELDS if f in mapped]
    return (names, evidence) if names and evidence else ([], [])


@dataclass(kw_only=True)
class Plan:
    """How the staged columns become the kind's fields."""

    kind: str
    mapping: dict[str, str | None]          # every staged column -> field, RECORD_ID or None
    by_field: dict[str, str]                # field -> staged column
    id_column: str | None                   # column holding the source record id, if any
    id_field: str | None                    # field whose value is the record id (order_id ...)
    extras: dict[str, str] = field(default_factory=dict)  # consent / tags pseudo-field -> column

    @property
    def line_items(self) -> bool:
        """Rows are order lines: rows sharing a record id make one order."""
        return self.kind == "orders" and any(f in self.by_field for f in LINE_ITEM_FIELDS)

    def required(self, field) -> bool:
        # Line totals (or prices) add up to the order amount when no column gives it.
        if field.name == "amount" and self.line_items and (
                "item_price" in self.by_field or "line_total" in self.by_field):
            return False
        return field.required

    @property
    def traits_columns(self) -> list[str]:
        """Unmapped columns and consent columns (their text is kept; consents are read from it)."""
        return [c for c, f in self.mapping.items() if f is None or f in CONSENT_FIELDS]

    @property
    def tags_column(self) -> str | None:
        return self.extras.get(TAGS)


def _resolve_column(name: str, columns: list[str]) -> str:
    if name in columns:
        return name
    wanted = " ".join(str(name).split()).lower()
    for column in columns:
        if column.lower() == wanted:
            return column
    raise IngestError(f"The file has no column {name!r}; its columns are: {', '.join(columns)}.")


def _checked_target(target, kind: str, known: dict) -> str | None:
    target = (target or "").strip() or None
    if target in ("traits", "ignore", "none", "-"):
        return None
    if target is not None and target not in known and target != RECORD_ID:
        raise IngestError(f"{target!r} is not a field of {kind}; fields are: {', '.join(sorted(known))}.")
    return target


def _shape_id_column(columns: list[str], kind: str) -> str | None:
    """The column a recognised export's record id is in, when it also maps to a field."""
    shape = recognise(columns, kind)
    if shape is None or shape.record_id is None:
        return None
    return {normalise_header(c): c for c in columns}.get(normalise_header(shape.record_id))


def plan_mapping(con, staged: readers.Staged, kind: str, *, mapping: dict | None,
                 id_column: str | None, saved: dict | None, overrides: dict | None = None) -> Plan:
    """Check a given mapping (or suggest one, with `overrides` set on top of it column by column)
    and work out where the record id comes from."""
    fields = fields_for(kind)
    known = {**fields, **extra_fields_for(kind)}
    columns = staged.columns
    if mapping is None:
        resolved = as_mapping(suggest_mapping(con, staged.table, columns, kind, saved=saved))
    else:
        resolved = {c: None for c in columns}
    for src, target in (mapping or {}).items():
        resolved[_resolve_column(src, columns)] = _checked_target(target, kind, known)
    for src, target in (overrides or {}).items():
        target = _checked_target(target, kind, known)
        column = _resolve_column(src, columns)
        if target is not None:  # an override takes its field away from the column suggested for it
            resolved.update({c: None for c, f in resolved.items() if f == target and c != column})
        resolved[column] = target
    if not id_column and kind != "events" and not any(f == RECORD_ID for f in resolved.values()):
        id_column = _shape_id_column(columns, kind)
    if id_column:
        column = _resolve_column(id_column, columns)
        for c, f in resolved.items():
            if f == RECORD_ID and c != column:
                resolved[c] = None
        if resolved.get(column) is None:
            resolved[column] = RECORD_ID
    else:
        ids = [c for c, f in resolved.items() if f == RECORD_ID]
        column = ids[0] if ids else None
    by_field: dict[str, str] = {}
    extras: dict[str, str] = {}
    for c, f in resolved.items():
        if f and f != RECORD_ID:
            into = by_field if f in fields else extras
            if f in into:
                raise IngestError(f"Two columns ({into[f]!r} and {c!r}) are mapped to {f}; keep one.")
            into[f] = c
    if kind != "events":
        plan = Plan(kind=kind, mapping=resolved, by_field=by_field, id_column=column, id_field=None, extras=extras)
        missing = [f.name for f in fields.values() if plan.required(f) and f.name not in by_field]
        if missing:
            raise IngestError(f"Map a column to {', '.join(missing)}: {kind} rows need it.")
        if (kind in NEEDS_IDENTIFIER and not any(f in by_field for f in IDENTIFIERS)
                and not fuzzy_fields(kind, by_field)[0]):
            alternative = (f", or a name ({', '.join(NAME_FIELDS)}) and one of {', '.join(EVIDENCE_FIELDS)}"
                           if kind in FUZZY_MATCHABLE else "")
            raise IngestError(f"Map at least one column to an identifier ({', '.join(IDENTIFIERS)}){alternative}: "
                              f"{kind} are people and must be matchable.")
    id_field = None
    if column is None and DEFAULT_ID_FIELD.get(kind) in by_field:
        id_field = DEFAULT_ID_FIELD[kind]
    return Plan(kind=kind, mapping=resolved, by_field=by_field, id_column=column, id_field=id_field, extras=extras)


def lenient_fields(plan: Plan) -> list[str]:
    """Mapped fields whose unreadable values load as empty (with a warning) instead of quarantining."""
    fields = fields_for(plan.kind)
    return [n for n in plan.by_field
            if not (plan.required(fields[n]) or fields[n].strict) and fields[n].type != "text"]
