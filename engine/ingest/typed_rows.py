"""The one SELECT that types staged rows (`typed_select`): trimmed text, record ids, typed values,
traits, the first reason a row cannot load, and for the quarantine the row as it was read."""
from __future__ import annotations

import engine.ingest.readers as readers
from engine.ingest.common import quote_ident
from engine.ingest.fields import IDENTIFIERS, LINE_ITEM_FIELDS, fields_for
from engine.ingest.plan import NEEDS_IDENTIFIER, TABLE_FIELDS, Plan, fuzzy_fields, lenient_fields
from engine.ingest.validate import TYPE_NAMES, ColumnFormat, currency_from_money_sql, trimmed, typed_sql
from engine.lifecycle import LIFECYCLE_COLUMN, stage_sql
from engine.phones import e164_sql


def json_object_sql(columns: list[str], allowed) -> tuple[str, list]:
    """json_object of the trimmed values of columns (empty ones dropped); keys are parameters."""
    if not columns:
        return "CAST('{}' AS JSON)", []
    values = [trimmed(quote_ident(c, allowed)) for c in columns]
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
    everything = ", ".join(f"COALESCE({quote_ident(c, allowed)}, '')" for c in columns)
    digest = f"md5(concat_ws(chr(31), {everything}))"
    occurrence = f"row_number() OVER (PARTITION BY {digest})"
    return f"'h' || {digest} || CASE WHEN {occurrence} > 1 THEN '#' || {occurrence} ELSE '' END"


def _tags_list_sql(text: str) -> str:
    """A tags cell ('VIP, wholesale', Mailchimp's '"VIP","Customer"', a JSON list) as a JSON list of tags."""
    parts = (f"CASE WHEN left({text}, 1) = '[' AND json_valid({text}) THEN json_extract_string({text}, '$[*]') "
             f"ELSE string_split_regex({text}, '[,;]') END")
    cleaned = f"list_transform({parts}, lambda x: trim(trim(x), '\"'))"
    return f"to_json(list_filter({cleaned}, lambda x: x <> ''))"


def raw_row_sql(columns: list[str], allowed, alias: str = "s") -> tuple[str, list]:
    """The original row as a JSON object text (header -> value), for the quarantine."""
    pairs = ", ".join(f"?, {alias}.{quote_ident(c, allowed)}" for c in columns)
    return f"CAST(json_object({pairs}) AS VARCHAR)", list(columns)


def typed_select(plan: Plan, staged: readers.Staged, formats: dict[str, ColumnFormat], *,
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
        text = trimmed(quote_ident(column, allowed))
        if name == "ordered_at" and "order_time" in plan.by_field:  # date and time in two columns
            time_text = trimmed(quote_ident(plan.by_field["order_time"], allowed))
            text = f"CASE WHEN {time_text} IS NULL THEN {text} ELSE {text} || ' ' || {time_text} END"
        layer1.append(f'{text} AS "t_{name}"')
    if plan.id_column:
        rid = trimmed(quote_ident(plan.id_column, allowed))
        if plan.line_items and "order_id" in plan.by_field:
            # An export that gives the record id on an order's first line only (Shopify's Id):
            # the other lines of that order number take it.
            order = trimmed(quote_ident(plan.by_field["order_id"], allowed))
            rid = f"COALESCE({rid}, CASE WHEN {order} IS NOT NULL THEN max({rid}) OVER (PARTITION BY {order}) END)"
    elif plan.id_field:
        rid = trimmed(quote_ident(plan.by_field[plan.id_field], allowed))
    else:  # no id: the content itself, and which repeat of it the row is, identify the row
        rid = _content_id_sql(staged.columns, allowed)
    layer1.append(f"{rid} AS rid")
    traits_sql, traits_params = json_object_sql(plan.traits_columns, allowed)
    if plan.tags_column:
        tags = trimmed(quote_ident(plan.tags_column, allowed))
        traits_sql = (f"CASE WHEN {tags} IS NULL THEN {traits_sql} ELSE json_merge_patch({traits_sql}, "
                      f"json_object('tags', {_tags_list_sql(tags)})) END")
        traits_params = traits_params * 2
    layer1.append(f"{traits_sql} AS traits_base")
    params += traits_params
    if raw:  # the original values under safe names, for the quarantine's raw row
        layer1 += [f'{quote_ident(c, allowed)} AS "o_{i}"' for i, c in enumerate(staged.columns)]
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
    names, evidence = fuzzy_fields(plan.kind, plan.by_field)
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
    lenient = lenient_fields(plan)
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
