"""Writing typed rows (the general path): quarantine, repeated record ids, order lines grouped into
orders, and the upsert by (source, source_record_id) that leaves identical records alone."""
from __future__ import annotations

import engine.ingest.readers as readers
from engine.ingest.common import drop_temp, temp_name
from engine.ingest.fields import fields_for
from engine.ingest.plan import TABLE_FIELDS, Plan
from engine.ingest.typed_rows import raw_row_sql


def quarantine_rows(con, staged: readers.Staged, typed: str, *, load_id: int, source: str) -> int:
    """The typed rows with a reason, and the lines that could not be split, into the quarantine."""
    raw_sql, params = raw_row_sql(staged.columns, set(staged.columns))
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


def mark_duplicates(con, typed: str) -> int:
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


def group_line_items(con, plan: Plan, typed: str, out: str) -> None:
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


def upsert(con, plan: Plan, typed: str, *, source: str, load_id: int) -> dict[str, int]:
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
        return insert_fresh(con, plan, typed, source=source, load_id=load_id, names=names)
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


def insert_fresh(con, plan: Plan, typed: str, *, source: str, load_id: int, names: str) -> dict[str, int]:
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
