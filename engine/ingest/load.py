"""`ingest_file`: one upload, read, mapped, typed and landed in one transaction.

Every row read is either loaded or quarantined (row number, raw row, reason).
The typed rows are upserted by (source, source_record_id): a row identical to
what is stored is left alone, so uploading the same file again changes nothing
and a newer export of the same source updates only what changed. Unmapped
columns are kept in `traits`; a non-essential value that cannot be read (a bad
birth date) is left empty, kept in traits as `invalid_<field>`, and reported as
a warning.

Two paths, one answer (tests/engine/test_ingest_onepass.py holds them to it): the first
load of a source reads, types and stores every row with one INSERT (`_load_fresh`; a large
CSV is then read once, on every core, after staging a sample to map it); re-uploads, order
lines and files that repeat a record id stage the file and upsert (`_upsert`).
"""
from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import Future, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.access import User, audit, require
import engine.ingest.events as ev
import engine.ingest.landing as landing_copies
import engine.ingest.readers as readers
from engine.ingest.common import IngestError, drop_temp, quote_ident, temp_name, utc_session
from engine.ingest.fields import (CONSENT_FIELDS, DEFAULT_ID_FIELD, IDENTIFIERS, LINE_ITEM_FIELDS, RECORD_ID, TAGS,
                                  extra_fields_for, fields_for)
from engine.ingest.headers import normalise_header
from engine.ingest.mapping import as_mapping, suggest_mapping
from engine.ingest.record_consents import record_consents
from engine.ingest.shapes import recognise
from engine.ingest.validate import (INFER_SAMPLE, TYPE_NAMES, ColumnFormat, currency_from_money_sql,
                                    infer_formats, trimmed, typed_sql)
from engine.currency import currency_warnings
from engine.lifecycle import LIFECYCLE_COLUMN, stage_sql
from engine.phones import e164_sql, workspace_region
from engine.sources import KINDS, ensure_source, get_source, save_mapping

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


def _fuzzy_fields(kind: str, mapped) -> tuple[list[str], list[str]]:
    """The mapped name and evidence fields that make a row matchable without an identifier."""
    if kind not in FUZZY_MATCHABLE:
        return [], []
    names = [f for f in NAME_FIELDS if f in mapped]
    evidence = [f for f in EVIDENCE_FIELDS if f in mapped]
    return (names, evidence) if names and evidence else ([], [])


@dataclass
class LoadResult:
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    warnings: list[str] = field(default_factory=list)
    load_id: int | None = None
    source: str = ""
    kind: str = ""
    file_format: str = ""
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    mapping: dict = field(default_factory=dict)
    already_loaded: bool = False
    id_column: str | None = None
    sheet: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> dict:
        """The four figures `cdp ingest --json` prints."""
        return {"rows_read": self.rows_read, "rows_loaded": self.rows_loaded,
                "rows_quarantined": self.rows_quarantined, "warnings": list(self.warnings)}


@dataclass
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


def _noop(fraction: float, message: str = "") -> None:
    pass


# -- mapping resolution ------------------------------------------------------------------------


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


def plan_mapping(con, staged: readers.Staged, kind: str, mapping: dict | None,
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
        plan = Plan(kind, resolved, by_field, column, None, extras)
        missing = [f.name for f in fields.values() if plan.required(f) and f.name not in by_field]
        if missing:
            raise IngestError(f"Map a column to {', '.join(missing)}: {kind} rows need it.")
        if (kind in NEEDS_IDENTIFIER and not any(f in by_field for f in IDENTIFIERS)
                and not _fuzzy_fields(kind, by_field)[0]):
            alternative = (f", or a name ({', '.join(NAME_FIELDS)}) and one of {', '.join(EVIDENCE_FIELDS)}"
                           if kind in FUZZY_MATCHABLE else "")
            raise IngestError(f"Map at least one column to an identifier ({', '.join(IDENTIFIERS)}){alternative}: "
                              f"{kind} are people and must be matchable.")
    id_field = None
    if column is None and DEFAULT_ID_FIELD.get(kind) in by_field:
        id_field = DEFAULT_ID_FIELD[kind]
    return Plan(kind, resolved, by_field, column, id_field, extras)


# -- SQL building ------------------------------------------------------------------------------


def _q(column: str, columns) -> str:
    return quote_ident(column, columns)


def _json_object_sql(columns: list[str], allowed) -> tuple[str, list]:
    """json_object of the trimmed values of columns (empty ones dropped); keys are parameters."""
    if not columns:
        return "CAST('{}' AS JSON)", []
    values = [trimmed(_q(c, allowed)) for c in columns]
    pairs = ", ".join(f"?, {v}" for v in values)
    # Merging into {} drops the empty values; rows with every value present skip that cost.
    full = " AND ".join(f"{v} IS NOT NULL" for v in values)
    return (f"CASE WHEN {full} THEN json_object({pairs}) "
            f"ELSE json_merge_patch('{{}}', json_object({pairs})) END", list(columns) * 2)


def _content_id_sql(columns: list[str], allowed) -> str:
    """A row's id when the file has none: a digest of its content, and for the 2nd, 3rd ...
    identical row its occurrence ('h<md5>#2'), so identical rows (one customer buying the same
    thing twice on a day) stay separate records and a re-upload of the file gives the same ids.
    Identical rows cannot be told apart, so which of them takes which number does not matter."""
    everything = ", ".join(f"COALESCE({_q(c, allowed)}, '')" for c in columns)
    digest = f"md5(concat_ws(chr(31), {everything}))"
    occurrence = f"row_number() OVER (PARTITION BY {digest})"
    return f"'h' || {digest} || CASE WHEN {occurrence} > 1 THEN '#' || {occurrence} ELSE '' END"


def _tags_list_sql(text: str) -> str:
    """A tags cell ('VIP, wholesale', Mailchimp's '"VIP","Customer"', a JSON list) as a JSON list of tags."""
    parts = (f"CASE WHEN left({text}, 1) = '[' AND json_valid({text}) THEN json_extract_string({text}, '$[*]') "
             f"ELSE string_split_regex({text}, '[,;]') END")
    cleaned = f"list_transform({parts}, lambda x: trim(trim(x), '\"'))"
    return f"to_json(list_filter({cleaned}, lambda x: x <> ''))"


def _raw_row_sql(columns: list[str], allowed, alias: str = "s") -> tuple[str, list]:
    """The original row as a JSON object text (header -> value), for the quarantine."""
    pairs = ", ".join(f"?, {alias}.{_q(c, allowed)}" for c in columns)
    return f"CAST(json_object({pairs}) AS VARCHAR)", list(columns)


def _typed_select(plan: Plan, staged: readers.Staged, formats: dict[str, ColumnFormat],
                  suppressions: str | None, raw: bool = False, numbered: bool = True,
                  reads_as: str | None = None) -> tuple[str, list]:
    """SELECT over every staged row giving _row, source_record_id, typed fields, traits, reason.

    With raw, also `_raw`: the original row as JSON text for rows with a reason (what the
    quarantine keeps), so a one-pass load needs nothing but this SELECT."""
    fields = fields_for(plan.kind)
    allowed = set(staged.columns)
    params: list = []
    # Layer 1: trimmed text of each mapped column, the record id, unmapped columns as JSON.
    layer1 = ["_row"]
    for name, column in plan.by_field.items():
        text = trimmed(_q(column, allowed))
        if name == "ordered_at" and "order_time" in plan.by_field:  # date and time in two columns
            time_text = trimmed(_q(plan.by_field["order_time"], allowed))
            text = f"CASE WHEN {time_text} IS NULL THEN {text} ELSE {text} || ' ' || {time_text} END"
        layer1.append(f'{text} AS "t_{name}"')
    if plan.id_column:
        rid = trimmed(_q(plan.id_column, allowed))
        if plan.line_items and "order_id" in plan.by_field:
            # An export that gives the record id on an order's first line only (Shopify's Id):
            # the other lines of that order number take it.
            order = trimmed(_q(plan.by_field["order_id"], allowed))
            rid = f"COALESCE({rid}, CASE WHEN {order} IS NOT NULL THEN max({rid}) OVER (PARTITION BY {order}) END)"
    elif plan.id_field:
        rid = trimmed(_q(plan.by_field[plan.id_field], allowed))
    else:  # no id: the content itself, and which repeat of it the row is, identify the row
        rid = _content_id_sql(staged.columns, allowed)
    layer1.append(f"{rid} AS rid")
    traits_sql, traits_params = _json_object_sql(plan.traits_columns, allowed)
    if plan.tags_column:
        tags = trimmed(_q(plan.tags_column, allowed))
        traits_sql = (f"CASE WHEN {tags} IS NULL THEN {traits_sql} ELSE json_merge_patch({traits_sql}, "
                      f"json_object('tags', {_tags_list_sql(tags)})) END")
        traits_params = traits_params * 2
    layer1.append(f"{traits_sql} AS traits_base")
    params += traits_params
    if raw:  # the original values under safe names, for the quarantine's raw row
        layer1 += [f'{_q(c, allowed)} AS "o_{i}"' for i, c in enumerate(staged.columns)]
    # Layer 2: typed values.
    layer2 = ["*"]
    for name, column in plan.by_field.items():
        f = fields[name]
        layer2.append(f'{typed_sql(f.type, f"t_{name}", formats.get(column), name)} AS "v_{name}"')
    if plan.kind in ("orders", "subscriptions") and "amount" in plan.by_field:
        layer2.append(f'{currency_from_money_sql("t_amount")} AS "symbol_currency"')
    # Layer 3: reason (first that applies), bad flags for lenient fields, final traits.
    reasons = []
    if plan.id_column:
        reasons.append("WHEN rid IS NULL THEN 'missing record id'")
    elif plan.id_field:
        reasons.append(f"WHEN rid IS NULL THEN 'missing {plan.id_field} (it identifies the record)'")
    for name in plan.by_field:
        f = fields[name]
        bad = f"'{name} ''' || \"t_{name}\" || ''' is not a valid {TYPE_NAMES[f.type]}'"
        if plan.required(f) and not plan.line_items:  # order lines: checked per order instead
            reasons.append(f"WHEN \"t_{name}\" IS NULL THEN 'missing {name}'")
        if (plan.required(f) or f.strict) and f.type != "text":
            reasons.append(f"WHEN \"v_{name}\" IS NULL AND \"t_{name}\" IS NOT NULL THEN {bad}")
    ids = [f for f in IDENTIFIERS if f in plan.by_field]
    names, evidence = _fuzzy_fields(plan.kind, plan.by_field)
    if plan.kind in NEEDS_IDENTIFIER and (ids or names):
        none = " AND ".join([f'"v_{f}" IS NULL' for f in ids] or ["TRUE"])
        needs = ", ".join(ids)
        if names:   # a row with a name and a date of birth or place is matched fuzzily
            none += (f" AND NOT (COALESCE({', '.join(f'{chr(34)}v_{f}{chr(34)}' for f in names)}) IS NOT NULL"
                     f" AND COALESCE({', '.join(f'CAST({chr(34)}v_{f}{chr(34)} AS VARCHAR)' for f in evidence)}) IS NOT NULL)")
            needs = (needs + ", or " if needs else "") + "a name with a date of birth, address, postcode or city"
        reasons.append(f"WHEN {none} THEN 'no usable identifier (needs one of {needs})'")
    if suppressions:
        checks = []
        for f in ids:
            hashes = f'sha256("v_{f}")'
            if f == "phone":  # engine.privacy hashes E.164 by the workspace's one phone rule
                hashes += f", sha256({e164_sql(chr(34) + 'v_phone' + chr(34), suppressions)})"
            checks.append(f"EXISTS (SELECT 1 FROM suppressions s WHERE s.id_type = '{f}' "
                          f"AND s.id_hash IN ({hashes}))")
        if checks:
            reasons.append(f"WHEN {' OR '.join(checks)} THEN 'suppressed'")
    lenient = [n for n in plan.by_field
               if not (plan.required(fields[n]) or fields[n].strict) and fields[n].type != "text"]
    layer3 = ["_row", "rid AS source_record_id"]
    for name in TABLE_FIELDS.get(plan.kind, ()):
        value = f'"v_{name}"' if name in plan.by_field else "NULL"
        if name == "currency" and "amount" in plan.by_field:  # '€12' says EUR when no column does
            value = f"COALESCE(upper({value}), symbol_currency)"
        if plan.kind == "orders" and name in ("status", "status_raw"):
            # the tool's word kept as status_raw, normalised by the workspace's macro (0015)
            word = '"v_status"' if "status" in plan.by_field else "NULL"
            amount = '"v_amount"' if "amount" in plan.by_field else "NULL"
            refunded = '"v_amount_refunded"' if "amount_refunded" in plan.by_field else "NULL"
            value = word if name == "status_raw" else f"order_status({word}, {amount}, {refunded})"
        if name == LIFECYCLE_COLUMN:  # the lead stage in one vocabulary (engine/lifecycle.py)
            value = stage_sql('"v_lead_stage"') if "lead_stage" in plan.by_field else "NULL"
        layer3.append(f'{value} AS "{name}"')
    if plan.line_items:
        for name in LINE_ITEM_FIELDS:
            value = f'"v_{name}"' if name in plan.by_field else "NULL"
            if name == "item_quantity" and name not in plan.by_field and "quantity" in plan.by_field:
                value = '"v_quantity"'  # one row per line: its quantity is the line's
            layer3.append(f'{value} AS "li_{name}"')
    for name in lenient:
        layer3.append(f'("t_{name}" IS NOT NULL AND "v_{name}" IS NULL) AS "bad_{name}"')
    if lenient:
        invalid = ", ".join(f"'invalid_{n}', CASE WHEN \"t_{n}\" IS NOT NULL AND \"v_{n}\" IS NULL "
                            f"THEN \"t_{n}\" END" for n in lenient)
        any_bad = " OR ".join(f'("t_{n}" IS NOT NULL AND "v_{n}" IS NULL)' for n in lenient)
        traits = f"CASE WHEN {any_bad} THEN json_merge_patch(traits_base, json_object({invalid})) ELSE traits_base END"
    else:
        traits = "traits_base"
    # Kept as JSON (not text) so inserting it does not parse every value again.
    layer3.append(f"CASE WHEN CAST({traits} AS VARCHAR) = '{{}}' THEN NULL ELSE {traits} END AS traits")
    reason = "CASE " + " ".join(reasons) + " END" if reasons else "NULL::VARCHAR"
    layer3.append(f"{reason} AS reason")
    layer3_params: list = []
    if raw:
        pairs = ", ".join(f'?, "o_{i}"' for i in range(len(staged.columns)))
        layer3_params = list(staged.columns)
        # a suppressed person's data is not kept, not even in the quarantine
        layer3.append(f"CASE WHEN ({reason}) = 'suppressed' THEN '(withheld: suppressed person)' "
                      f"WHEN ({reason}) IS NOT NULL THEN CAST(json_object({pairs}) AS VARCHAR) END AS _raw")
    source, source_params = staged.source(numbered, reads_as)
    sql = (f"SELECT {', '.join(layer3)} FROM (SELECT {', '.join(layer2)} FROM "
           f"(SELECT {', '.join(layer1)} FROM {source}) l1) l2")
    # Placeholders are numbered by position in the text: layer 3's, then layer 1's, then the source's.
    return sql, layer3_params + params + source_params


def _quarantine(con, load_id: int, source: str, staged: readers.Staged, typed: str) -> int:
    raw_sql, params = _raw_row_sql(staged.columns, set(staged.columns))
    n = con.execute(
        f"""INSERT INTO quarantine (load_id, source, row_number, raw, reason)
            SELECT ?, ?, s._row,
                   -- a suppressed person's data is not kept, not even in the quarantine
                   CASE WHEN t.reason = 'suppressed' THEN '(withheld: suppressed person)' ELSE {raw_sql} END,
                   t.reason
            FROM {typed} t JOIN {staged.table} s USING (_row)
            WHERE t.reason IS NOT NULL ORDER BY s._row""",
        [load_id, source, *params]).fetchone()[0]
    n += con.execute(
        f"""INSERT INTO quarantine (load_id, source, row_number, raw, reason)
            SELECT ?, ?, _row, raw, reason FROM {staged.rejects_table} ORDER BY _row""",
        [load_id, source]).fetchone()[0]
    return int(n)


def _mark_duplicates(con, typed: str) -> int:
    """Within one file, the last row with a record id wins; earlier ones are quarantined."""
    dupes = con.execute(f"SELECT count(*) - count(DISTINCT source_record_id) FROM {typed} "
                        "WHERE reason IS NULL").fetchone()[0]
    if dupes:
        con.execute(f"""UPDATE {typed} SET reason = 'duplicate record id ''' || d.source_record_id ||
                            '''; row ' || d.last_row || ' of this file replaces it'
            FROM (SELECT _row, source_record_id, max(_row) OVER (PARTITION BY source_record_id) AS last_row
                  FROM {typed} WHERE reason IS NULL) d
            WHERE {typed}._row = d._row AND d._row < d.last_row""")
    return int(dupes)


def _group_line_items(con, plan: Plan, typed: str, out: str) -> None:
    """One order per record id from its valid line rows: items listed in file order, amount the
    order total when given else the sum of the line totals (or of quantity x unit price),
    quantity the sum of line quantities, status read again on the order's amount.

    An order still missing a required field (no line gave a date) is dropped and its lines are
    quarantined."""
    order_fields = [f for f in TABLE_FIELDS["orders"] if f not in ("items", "amount", "quantity", "status")]
    firsts = ", ".join(f'first("{f}" ORDER BY _row) FILTER (WHERE "{f}" IS NOT NULL) AS "{f}"'
                       for f in order_fields)
    con.execute(f"""CREATE TEMP TABLE {out} AS
        SELECT * REPLACE (order_status(status_raw, amount, amount_refunded) AS status) FROM (
        SELECT min(_row) AS _row, source_record_id, {firsts}, NULL::VARCHAR AS status,
               COALESCE(max(amount), sum(li_line_total),
                        sum(li_item_price * COALESCE(li_item_quantity, 1))) AS amount,
               COALESCE(sum(li_item_quantity), max(quantity)) AS quantity,
               to_json(list(struct_pack(sku := li_sku, name := li_product_name, category := li_category,
                                        quantity := li_item_quantity, price := li_item_price)
                            ORDER BY _row)) AS items,
               first(traits ORDER BY _row) AS traits, NULL::VARCHAR AS reason
        FROM {typed} WHERE reason IS NULL GROUP BY source_record_id)""")
    fields = fields_for("orders")
    for name in [f.name for f in fields.values() if plan.required(f)]:
        con.execute(f"""UPDATE {typed} SET reason = 'no line of this order gives {name}'
            FROM {out} o WHERE {typed}.source_record_id = o.source_record_id
              AND {typed}.reason IS NULL AND o."{name}" IS NULL""")
        con.execute(f'DELETE FROM {out} WHERE "{name}" IS NULL')


def _upsert(con, plan: Plan, typed: str, source: str, load_id: int) -> dict[str, int]:
    """Insert new records, update changed ones, leave identical ones alone."""
    table = plan.kind
    cols = list(TABLE_FIELDS[table]) + ["traits"]
    same = " AND ".join(
        f'CAST(t."{c}" AS VARCHAR) IS NOT DISTINCT FROM CAST(r."{c}" AS VARCHAR)' if c in ("traits", "items")
        else f't."{c}" IS NOT DISTINCT FROM r."{c}"' for c in cols)
    stale = ("t.updated_at IS NOT NULL AND r.updated_at IS NOT NULL AND r.updated_at < t.updated_at"
             if table == "contacts" else "false")
    old_stage = "t.lead_stage" if table == "contacts" else "NULL"
    names = ", ".join(f'"{c}"' for c in cols)
    if not con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE source = ? LIMIT 1)",
                       [source]).fetchone()[0]:
        return _insert_fresh(con, plan, typed, source, load_id, names)
    ready = temp_name("ready")
    try:
        con.execute(f"""CREATE TEMP TABLE {ready} AS
            SELECT r.*, {old_stage} AS _old_stage,
                   CASE WHEN t.source_record_id IS NULL THEN 'new'
                        WHEN {stale} THEN 'stale'
                        WHEN {same} THEN 'unchanged' ELSE 'changed' END AS _status
            FROM (SELECT * FROM {typed} WHERE reason IS NULL) r
            LEFT JOIN {table} t ON t.source = ? AND t.source_record_id = r.source_record_id""", [source])
        counts = dict(con.execute(f"SELECT _status, count(*) FROM {ready} GROUP BY _status").fetchall())
        if table == "contacts" and "lead_stage" in plan.by_field:
            con.execute(f"""INSERT INTO lead_stage_changes
                (source, source_record_id, stage, previous_stage, changed_at, load_id)
                SELECT ?, source_record_id, lead_stage, _old_stage,
                       COALESCE(updated_at, CASE WHEN _status = 'new' THEN created_at END, now()), ?
                FROM {ready}
                WHERE _status IN ('new', 'changed') AND lead_stage IS NOT NULL
                  AND lead_stage IS DISTINCT FROM _old_stage""", [source, load_id])
        # The typed tables have no key to upsert against (see migration 0011): changed records
        # are updated in place, new ones appended.
        if counts.get("changed"):
            updates = ", ".join(f'"{c}" = r."{c}"' for c in cols)
            con.execute(f"""UPDATE {table} SET {updates}, load_id = ?, loaded_at = now()
                FROM (SELECT * FROM {ready} WHERE _status = 'changed') r
                WHERE {table}.source = ? AND {table}.source_record_id = r.source_record_id""",
                        [load_id, source])
        con.execute(f"""INSERT INTO {table} (source, source_record_id, {names}, load_id, loaded_at)
            SELECT ?, source_record_id, {names}, ?, now() FROM {ready} WHERE _status = 'new'""",
                    [source, load_id])
        return {k: int(counts.get(k, 0)) for k in ("new", "changed", "unchanged", "stale")}
    finally:
        drop_temp(con, ready)


def _insert_fresh(con, plan: Plan, typed: str, source: str, load_id: int, names: str) -> dict[str, int]:
    """First load of a source: every valid row is new, so insert straight from the typed table."""
    table = plan.kind
    if table == "contacts" and "lead_stage" in plan.by_field:
        con.execute(f"""INSERT INTO lead_stage_changes
            (source, source_record_id, stage, previous_stage, changed_at, load_id)
            SELECT ?, source_record_id, lead_stage, NULL, COALESCE(updated_at, created_at, now()), ?
            FROM {typed} WHERE reason IS NULL AND lead_stage IS NOT NULL""", [source, load_id])
    n = con.execute(f"""INSERT INTO {table} (source, source_record_id, {names}, load_id, loaded_at)
        SELECT ?, source_record_id, {names}, ?, now() FROM {typed} WHERE reason IS NULL""",
                    [source, load_id]).fetchone()[0]
    return {"new": int(n), "changed": 0, "unchanged": 0, "stale": 0}


def _lenient(plan: Plan) -> list[str]:
    """Mapped fields whose unreadable values load as empty (with a warning) instead of quarantining."""
    fields = fields_for(plan.kind)
    return [n for n in plan.by_field
            if not (plan.required(fields[n]) or fields[n].strict) and fields[n].type != "text"]


def _lenient_messages(plan: Plan, lenient: list[str], row) -> list[str]:
    """Warnings from (count, example) pairs, one pair per lenient field, in a flat row."""
    fields = fields_for(plan.kind)
    out = []
    for i, n in enumerate(lenient):
        count, example = row[2 * i], row[2 * i + 1]
        if count:
            out.append(f"{n}: {count} value(s) could not be read as a {TYPE_NAMES[fields[n].type]} "
                       f"(e.g. {example!r}) and were left empty; the text is kept in traits as invalid_{n}.")
    return out


def _lenient_warnings(con, plan: Plan, typed: str) -> list[str]:
    lenient = _lenient(plan)
    if not lenient:
        return []
    parts = []
    for n in lenient:
        parts.append(f'count_if("bad_{n}" AND reason IS NULL)')
        parts.append(f"any_value(json_extract_string(traits, '$.invalid_{n}')) "
                     f'FILTER (WHERE "bad_{n}" AND reason IS NULL)')
    row = con.execute(f"SELECT {', '.join(parts)} FROM {typed}").fetchone()
    return _lenient_messages(plan, lenient, row)


def _status_warnings(con, plan: Plan, source: str, load_id: int) -> list[str]:
    """Orders whose status word is not one we know (status 'other'): they count as paid."""
    if plan.kind != "orders" or "status" not in plan.by_field:
        return []
    n, example = con.execute("""SELECT count(*), any_value(status_raw) FROM orders
                                WHERE source = ? AND load_id = ? AND status = 'other'""",
                             [source, load_id]).fetchone()
    if not n:
        return []
    return [f"status: {n} order(s) have a status that is not a known payment status (e.g. {example!r}); "
            "they count as paid. The word is kept in status_raw."]


def _format_warnings(plan: Plan, formats: dict[str, ColumnFormat]) -> list[str]:
    out = []
    for name, column in plan.by_field.items():
        fmt = formats.get(column)
        if fmt and fmt.ambiguous_dates:
            out.append(f"{name}: dates in column {column!r} could be DD/MM or MM/DD; read as DD/MM/YYYY.")
    if plan.kind == "consents" and "recorded_at" not in plan.by_field:
        out.append("No column gives when consent was recorded; the load time is used.")
    return out


# -- the typed kinds and events ---------------------------------------------------------------

# Stand-ins for a NOT NULL column in the short-lived quarantine rows of a first load.
_FILLERS = {"VARCHAR": "''", "BOOLEAN": "false"}


def _fresh_fillers(con, plan: Plan, source: str) -> dict[str, str] | None:
    """Whether a load can take the one-pass first-load path, and if so the fillers it needs.

    It can when the source has no records of this kind yet (so every valid row is new), rows
    are whole records (not order lines), and no unmapped column could be mistaken for the
    invalid_<field> trait the warnings are counted from."""
    table = plan.kind
    if plan.line_items or table not in TABLE_FIELDS:
        return None
    if any(c.lower() == f"invalid_{n}" for c in plan.traits_columns for n in _lenient(plan)):
        return None
    if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE source = ? LIMIT 1)",
                   [source]).fetchone()[0]:
        return None
    fillers = {}
    for name, type_ in con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'main' "
            "AND table_name = ? AND NOT is_nullable", [table]).fetchall():
        if name in TABLE_FIELDS[table]:
            if type_ not in _FILLERS:
                return None
            fillers[name] = _FILLERS[type_]
    return fillers


@contextmanager
def _unordered(con):
    """Row order in the tables means nothing; not keeping it lets every core insert at once."""
    order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        try:
            con.execute(f"SET preserve_insertion_order = {'true' if order else 'false'}")
        except Exception:  # noqa: BLE001 - an aborted transaction; the connection is closed after
            pass


def _load_fresh(con, plan: Plan, staged: readers.Staged, formats: dict[str, ColumnFormat], suppressions: str | None,
                fillers: dict[str, str], source: str, load_id: int, report) -> dict | None:
    """First load of a source in one pass: read, type and store every row with one INSERT.

    The typed rows go straight into the kind's table; the few with a reason go in with them
    under a marker source (no real source can be named so: names start with a letter or a
    digit) and are then moved to the quarantine, all inside the load's transaction, so no
    reader ever sees them. This skips materialising the file and the typed rows in temp
    tables, which cost as much as the typing itself. Returns None, having undone its
    writes, when the file repeats a record id: the general path sorts those out.

    Reading a CSV while numbering its rows keeps DuckDB to one thread, so the one pass does
    not number them; only when some rows have a reason is the file read again, numbered, for
    those rows' numbers (the reason needs only the identifier and required columns typed).
    """
    table = plan.kind
    sql, params = _typed_select(plan, staged, formats, suppressions, raw=True, numbered=staged.complete)
    marker = f"#quarantine-{load_id}"
    columns = list(TABLE_FIELDS[table])
    values = [f'CASE WHEN reason IS NULL THEN "{c}" ELSE COALESCE("{c}", {fillers[c]}) END'
              if c in fillers else f'"{c}"' for c in columns]
    names = ", ".join(f'"{c}"' for c in columns)
    report(0.4, "Reading, checking and storing rows")
    try:
        accepted = con.execute(
            f"""INSERT INTO {table} (source, source_record_id, {names}, traits, load_id, loaded_at)
                SELECT CASE WHEN reason IS NULL THEN ? ELSE ? END,
                       CASE WHEN reason IS NULL THEN source_record_id ELSE COALESCE(CAST(_row AS VARCHAR), '') END,
                       {', '.join(values)},
                       CASE WHEN reason IS NULL THEN traits ELSE json_object('reason', reason, 'raw', _raw) END,
                       ?, now()
                FROM ({sql})""", [source, marker, load_id, *params]).fetchone()[0]
    except Exception as exc:  # noqa: BLE001 - DuckDB raises several types for a bad file
        if staged.complete:
            raise
        raise IngestError(f"Could not read the file as CSV: {str(exc).splitlines()[0]}") from exc
    report(0.8, f"Stored {accepted:,} rows")
    if not staged.complete:
        staged.rows, staged.rejects = accepted, readers.collect_rejects(con, staged.table)
    quarantined = con.execute(f"SELECT count(*) FROM {table} WHERE source = ?", [marker]).fetchone()[0]
    if quarantined and staged.complete:
        con.execute(
            f"""INSERT INTO quarantine (load_id, source, row_number, raw, reason)
                SELECT ?, ?, CAST(source_record_id AS BIGINT) AS n, json_extract_string(traits, '$.raw'),
                       json_extract_string(traits, '$.reason')
                FROM {table} WHERE source = ? ORDER BY n""", [load_id, source, marker])
    elif quarantined:
        report(0.85, f"Numbering {quarantined:,} rows to quarantine")
        again = staged.table + "_again"
        numbered, numbered_params = _typed_select(plan, staged, formats, suppressions, raw=True, reads_as=again)
        record = readers.record_number_sql(staged.rejects_table, "_row") if staged.rejects else "_row"
        try:
            con.execute(
                f"""INSERT INTO quarantine (load_id, source, row_number, raw, reason)
                    SELECT ?, ?, {record} AS n, _raw, reason FROM ({numbered})
                    WHERE reason IS NOT NULL ORDER BY n""", [load_id, source, *numbered_params])
        finally:
            drop_temp(con, again + "_rej_err", again + "_rej_scan")
    if quarantined:
        con.execute(f"DELETE FROM {table} WHERE source = ?", [marker])
    if con.execute(f"SELECT count(*) > count(DISTINCT source_record_id) FROM {table} WHERE source = ?",
                   [source]).fetchone()[0]:
        con.execute(f"DELETE FROM {table} WHERE source = ?", [source])
        con.execute("DELETE FROM quarantine WHERE load_id = ?", [load_id])
        if not staged.complete:
            drop_temp(con, staged.rejects_table)
        return None
    quarantined += con.execute(
        f"""INSERT INTO quarantine (load_id, source, row_number, raw, reason)
            SELECT ?, ?, _row, raw, reason FROM {staged.rejects_table} ORDER BY _row""",
        [load_id, source]).fetchone()[0]
    if table == "contacts" and "lead_stage" in plan.by_field:
        con.execute("""INSERT INTO lead_stage_changes
            (source, source_record_id, stage, previous_stage, changed_at, load_id)
            SELECT ?, source_record_id, lead_stage, NULL, COALESCE(updated_at, created_at, now()), ?
            FROM contacts WHERE source = ? AND lead_stage IS NOT NULL""", [source, load_id, source])
    warnings = []
    lenient = _lenient(plan)
    if lenient:
        # The invalid text sits in traits under invalid_<field> (a key: quoted and followed by ':');
        # one search finds the few rows that have any.
        parts = []
        for n in lenient:
            has = f"""contains(t, '"invalid_{n}":')"""
            parts.append(f"count(*) FILTER (WHERE {has})")
            parts.append(f"any_value(json_extract_string(t, '$.invalid_{n}')) FILTER (WHERE {has})")
        row = con.execute(f"""SELECT {', '.join(parts)} FROM (
            SELECT CAST(traits AS VARCHAR) AS t FROM {table}
            WHERE source = ? AND contains(CAST(traits AS VARCHAR), '"invalid_'))""", [source]).fetchone()
        warnings = _lenient_messages(plan, lenient, row)
    return {"quarantined": int(quarantined), "warnings": warnings, "new": int(accepted - (quarantined - staged.rejects)),
            "changed": 0, "unchanged": 0, "stale": 0}


def _load_typed(con, plan: Plan, staged: readers.Staged, source: str, load_id: int, report,
                scratch: Path) -> dict:
    fields = fields_for(plan.kind)
    formats = infer_formats(con, staged.table,
                            {c: fields[f].type for f, c in plan.by_field.items()})
    # With suppressions, the region their phones were hashed in (the workspace's phone rule).
    has_suppressions = (workspace_region(con) if con.execute("SELECT count(*) > 0 FROM suppressions").fetchone()[0]
                        else None)
    fillers = _fresh_fillers(con, plan, source)
    if fillers is not None:
        with _unordered(con):
            outcome = _load_fresh(con, plan, staged, formats, has_suppressions, fillers, source, load_id, report)
        if outcome is not None:
            outcome["warnings"] = _format_warnings(plan, formats) + outcome["warnings"]
            return {**outcome, "read": staged.rows_read, "rejects": staged.rejects}
    if not staged.complete:
        report(0.4, "Reading every row")
        staged = readers.stage_all(con, staged, scratch)
    sql, params = _typed_select(plan, staged, formats, has_suppressions)
    typed = temp_name("typed")
    try:
        con.execute(f"CREATE TEMP TABLE {typed} AS {sql}", params)
        report(0.55, "Checked types")
        duplicates = 0 if plan.line_items else _mark_duplicates(con, typed)
        records = typed
        if plan.line_items:
            records = temp_name("orders")
            _group_line_items(con, plan, typed, records)
        quarantined = _quarantine(con, load_id, source, staged, typed)
        report(0.65, "Quarantined bad rows")
        counts = _upsert(con, plan, records, source, load_id)
        if records != typed:
            drop_temp(con, records)
        report(0.9, "Stored records")
        warnings = _format_warnings(plan, formats) + _lenient_warnings(con, plan, typed)
        if duplicates:
            warnings.append(f"{duplicates} row(s) repeated a record id already seen later in the file; "
                            "the last one was loaded, the others quarantined.")
        if counts["stale"]:
            warnings.append(f"{counts['stale']} row(s) were older (updated_at) than what is already "
                            "loaded and were not applied.")
        return {"quarantined": quarantined, "warnings": warnings, **counts,
                "read": staged.rows_read, "rejects": staged.rejects}
    finally:
        drop_temp(con, typed)


def _stage_event_lines(con, path: Path, info: readers.FileInfo, table: str) -> int:
    """JSON/NDJSON events into table(row_number, raw), one JSON text per event or line."""
    if info.format == "ndjson":
        ev.stage_ndjson_lines(con, path, table)
    else:
        try:
            con.execute(f"""CREATE TEMP TABLE {table} AS
                SELECT CAST(ordinality AS BIGINT) AS row_number, CAST(json AS VARCHAR) AS raw
                FROM read_json_objects(?, format='auto', maximum_object_size=67108864) WITH ORDINALITY""",
                        [str(path)])
        except Exception as exc:  # noqa: BLE001
            raise IngestError(f"Could not read the file as JSON: {str(exc).splitlines()[0]}") from exc
    return con.execute(f"SELECT count(*) FROM {table} WHERE raw IS NOT NULL AND trim(raw) <> ''").fetchone()[0]


def _stage_flat_events(con, plan: Plan, staged: readers.Staged, table: str) -> None:
    """Rows of a flat file (CSV, sheet) as Segment JSON: mapped columns by their Segment names,
    the other columns as properties."""
    allowed = set(staged.columns)
    formats = infer_formats(con, staged.table, {c: "timestamp" for f, c in plan.by_field.items()
                                                if f in ev.TIME_FIELDS})
    pairs, params = [], []
    for name, key in {**ev.STRING_FIELDS, **ev.TIME_FIELDS}.items():
        if name not in plan.by_field:
            continue
        column = plan.by_field[name]
        t = trimmed(_q(column, allowed))
        value = (f"strftime({typed_sql('timestamp', t, formats.get(column))}, '%Y-%m-%dT%H:%M:%S.%fZ')"
                 if name in ev.TIME_FIELDS else t)
        if name == "type":   # a flat file without types holds track calls when it names events
            event = trimmed(_q(plan.by_field["event"], allowed)) if "event" in plan.by_field else "NULL"
            value = f"COALESCE({value}, CASE WHEN {event} IS NOT NULL THEN 'track' END)"
        pairs.append(f"'{key}', {value}")
    if "type" not in plan.by_field and "event" in plan.by_field:
        pairs.append("'type', 'track'")
    props, props_params = _json_object_sql(plan.traits_columns, allowed)
    pairs.append(f"'properties', {props}")
    params += props_params
    con.execute(f"""CREATE TEMP TABLE {table} AS
        SELECT _row AS row_number, CAST(json_merge_patch('{{}}', json_object({', '.join(pairs)})) AS VARCHAR) AS raw
        FROM {staged.table}""", params)


# -- entry point -------------------------------------------------------------------------------


def _rejects_warning(n: int) -> str:
    return f"{n} line(s) could not be split into the file's columns and were quarantined."


def _staged_rows(con, staged: readers.Staged) -> int:
    return con.execute(f"SELECT count(*) FROM {staged.table}").fetchone()[0]


def _previous_load(con, source: str, sha: str, mapping: dict | None) -> tuple | None:
    return con.execute(
        """SELECT load_id, rows_read, rows_loaded, rows_quarantined, finished_at FROM loads
           WHERE source = ? AND file_sha256 = ? AND CAST(mapping AS VARCHAR) IS NOT DISTINCT FROM ?
           ORDER BY load_id DESC LIMIT 1""",
        [source, sha, json.dumps(mapping, sort_keys=True) if mapping is not None else None]).fetchone()


def ingest_file(workspace, user: User, kind: str, path, source: str, *, id_column: str | None = None,
                mapping: dict | None = None, file_format: str | None = None, progress=None,
                keep_raw: bool = True, file_name: str | None = None, overrides: dict | None = None,
                sheet: str | None = None) -> LoadResult:
    """Load one file of `kind` into the workspace as `source`, all or nothing.

    mapping is {source column: canonical field} (None or missing: kept as a trait; the
    field "source_record_id" marks the id column); without it the saved mapping of the
    source (same columns) or the suggested one is used, with `overrides` ({column: field})
    set on top of it. sheet names a workbook's sheet (default: the first with data).
    file_name is the name to record (an upload's original name); it is never used as a path.
    """
    require(user, "ingest")
    if kind not in KINDS:
        raise IngestError(f"Unknown kind {kind!r}; choose one of {', '.join(KINDS)}.")
    report = progress or _noop
    path = Path(path)
    info = readers.detect(path, file_format, sheet=sheet)
    report(0.05, f"Detected {info.describe()}")
    started = dt.datetime.now(dt.timezone.utc)
    landed: Path | None = None
    copying: Future | None = None
    stage, lines = temp_name("stage"), temp_name("lines")
    scratch = landing_copies.landing_folder(workspace)  # where a Windows-1252 file's UTF-8 copy is written
    try:
        with workspace.transaction() as con, utc_session(con):
            try:
                src = ensure_source(con, user, source, kind)
                json_events = kind == "events" and info.format in ("json", "ndjson")
                plan = None
                if json_events:
                    read = _stage_event_lines(con, path, info, lines)
                    staged = None
                    used_mapping = None
                else:
                    # A large CSV is staged only for its first rows (to map it and infer formats);
                    # the load then reads the whole file once.
                    staged = readers.stage_file(con, path, info, stage, scratch,
                                                sample=None if kind == "events" else INFER_SAMPLE)
                    report(0.35, f"Read {staged.rows_read:,} rows" if staged.complete
                           else f"Read the first {_staged_rows(con, staged):,} rows")
                    plan = plan_mapping(con, staged, kind, mapping, id_column,
                                        src.mapping if isinstance(src.mapping, dict) else None, overrides)
                    used_mapping = plan.mapping
                    read = staged.rows_read
                previous = _previous_load(con, source, info.sha256, used_mapping)
                if previous:
                    load_id, p_read, p_loaded, p_quarantined, when = previous
                    return LoadResult(p_read, p_loaded, p_quarantined,
                                      [f"This file was already loaded into {source!r} (load {load_id}, "
                                       f"{when:%Y-%m-%d %H:%M}); nothing changed."],
                                      load_id, source, kind, info.format, 0, 0, p_loaded,
                                      used_mapping or {}, already_loaded=True,
                                      id_column=plan.id_column if plan else None, sheet=info.sheet)
                load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
                landing_copies.clean_orphans(con, workspace)
                if keep_raw:
                    landed, copying = landing_copies.land_raw(workspace, path, info, load_id)
                warnings = list(staged.notes) if staged else []
                if json_events or kind == "events":
                    if staged and staged.rejects:
                        warnings.append(_rejects_warning(staged.rejects))
                    if not json_events:
                        _stage_flat_events(con, plan, staged, lines)
                    counts = ev.land_raw_events(con, lines, source, load_id)
                    bad_times = ev.bad_timestamps(con, lines)
                    if bad_times:
                        warnings.append(f"timestamp: {bad_times} event(s) had an unreadable timestamp; "
                                        "the time they were received is used.")
                    if counts.duplicates:
                        warnings.append(f"{counts.duplicates} event(s) were already loaded (same messageId) "
                                        "and were skipped.")
                    rejected = 0
                    if staged:
                        rejected = con.execute(
                            f"""INSERT INTO quarantine (load_id, source, row_number, raw, reason)
                                SELECT ?, ?, _row, raw, reason FROM {staged.rejects_table}""",
                            [load_id, source]).fetchone()[0]
                    quarantined = counts.quarantined + rejected
                    loaded = counts.loaded
                    read = loaded + quarantined
                    tallies = {"new": counts.new, "changed": 0, "unchanged": counts.duplicates, "stale": 0}
                else:
                    outcome = _load_typed(con, plan, staged, source, load_id, report, scratch)
                    read, rejects = outcome.pop("read"), outcome.pop("rejects")
                    if rejects:
                        warnings.append(_rejects_warning(rejects))
                    warnings += outcome.pop("warnings") + _status_warnings(con, plan, source, load_id)
                    warnings += currency_warnings(con, plan.kind, source, load_id)
                    quarantined = outcome["quarantined"]
                    loaded = read - quarantined
                    tallies = outcome
                    record_consents(con, kind, plan.extras, source, load_id)
                if copying is not None:
                    copying.result()
                mapping_json = json.dumps(used_mapping, sort_keys=True) if used_mapping is not None else None
                con.execute(
                    """INSERT INTO loads (load_id, source, kind, file_name, file_sha256, rows_read,
                           rows_loaded, rows_quarantined, warnings, started_at, finished_at, username,
                           file_format, mapping, rows_inserted, rows_updated, rows_unchanged, landed_file)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?)""",
                    [load_id, source, kind, _recorded_name(file_name or path.name, info), info.sha256, read,
                     loaded, quarantined,
                     json.dumps(warnings), started, user.username, info.format, mapping_json,
                     tallies["new"], tallies["changed"], tallies["unchanged"] + tallies["stale"],
                     landed.name if landed else None])
                if plan is not None:
                    save_mapping(con, source, plan.mapping, plan.id_column)
                audit(con, user, "ingest.load", source,
                      {"load_id": load_id, "kind": kind, "rows_read": read, "rows_loaded": loaded,
                       "rows_quarantined": quarantined})
                report(1.0, f"Loaded {loaded:,} rows, quarantined {quarantined:,}")
                return LoadResult(read, loaded, quarantined, warnings, load_id, source, kind, info.format,
                                  tallies["new"], tallies["changed"], tallies["unchanged"] + tallies["stale"],
                                  used_mapping or {}, id_column=plan.id_column if plan else None,
                                  sheet=info.sheet)
            finally:
                drop_temp(con, stage, stage + "_rejects", stage + "_rej_err", stage + "_rej_scan", lines)
    except BaseException:
        if copying is not None:
            wait([copying])  # let the copy finish before removing what it wrote
        if landed is not None:
            landed.unlink(missing_ok=True)
        raise


def _recorded_name(name: str, info: readers.FileInfo) -> str:
    return f"{name} [{info.sheet}]" if info.sheet else name


def ingest_workbook(workspace, user: User, kind: str, path, source: str, **options) -> list[LoadResult]:
    """Every sheet with data of a workbook, each loaded as its own file (mapped by its own header).

    Each sheet is its own load (all or nothing); a sheet that cannot be loaded stops there, naming
    the sheet and the ones already loaded (loading the workbook again skips those)."""
    results: list[LoadResult] = []
    for name in readers.sheet_names(path):
        try:
            results.append(ingest_file(workspace, user, kind, path, source, sheet=name, **options))
        except IngestError as exc:
            done = ", ".join(r.sheet for r in results) or "none"
            raise IngestError(f"Sheet {name!r}: {exc} (sheets loaded before it: {done})") from exc
    return results


def suggest_for_file(workspace, user: User, kind: str, path, source: str | None = None,
                     file_format: str | None = None, limit: int = 20, sheet: str | None = None):
    """What the Sources screen shows before loading: (FileInfo, preview DataFrame, suggestions,
    rows). A large CSV is read only as far as the load reads it to map the file (INFER_SAMPLE
    rows): rows is then None, as the count comes with the load.

    Reads the file in a private in-memory database; the workspace is only read for the
    source's saved mapping.
    """
    from engine.workspace import resources

    from engine.ingest.mapping import suggest_mapping as _suggest

    require(user, "ingest")
    fields_for(kind)
    info = readers.detect(path, file_format, sheet=sheet)
    saved = None
    if source:
        with workspace.connect() as wcon:
            src = get_source(wcon, source)
            if src and src.kind == kind and isinstance(src.mapping, dict):
                saved = src.mapping
    con = resources.scratch_connection()
    try:
        if kind == "events" and info.format in ("json", "ndjson"):
            n = _stage_event_lines(con, Path(path), info, "_lines")
            df = con.execute("SELECT row_number, raw FROM _lines ORDER BY row_number LIMIT ?", [limit]).df()
            return info, df, [], n
        import tempfile
        with tempfile.TemporaryDirectory() as scratch:
            staged = readers.stage_file(con, path, info, "_stage", Path(scratch),
                                        sample=None if kind == "events" else INFER_SAMPLE)
        df = con.execute("SELECT * EXCLUDE (_row) FROM _stage ORDER BY _row LIMIT ?", [limit]).df()
        suggestions = _suggest(con, "_stage", staged.columns, kind, saved=saved)
        return info, df, suggestions, staged.rows_read if staged.complete else None
    finally:
        con.close()
