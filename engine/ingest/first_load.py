"""The first load of a source in one pass (`load_fresh`): read, type and store every row with one
INSERT, when `fresh_fillers` says the load can take that path."""
from __future__ import annotations

from contextlib import contextmanager

import engine.ingest.readers as readers
from engine.ingest.common import IngestError, drop_temp
from engine.ingest.load_warnings import lenient_messages
from engine.ingest.plan import TABLE_FIELDS, Plan, lenient_fields
from engine.ingest.typed_rows import typed_select
from engine.ingest.validate import ColumnFormat


# Stand-ins for a NOT NULL column in the short-lived quarantine rows of a first load.
_FILLERS = {"VARCHAR": "''", "BOOLEAN": "false"}


def fresh_fillers(con, plan: Plan, source: str) -> dict[str, str] | None:
    """Whether a load can take the one-pass first-load path, and if so the fillers it needs.

    It can when the source has no records of this kind yet (so every valid row is new), rows
    are whole records (not order lines), and no unmapped column could be mistaken for the
    invalid_<field> trait the warnings are counted from."""
    table = plan.kind
    if plan.line_items or table not in TABLE_FIELDS:
        return None
    if any(c.lower() == f"invalid_{n}" for c in plan.traits_columns for n in lenient_fields(plan)):
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
def unordered(con):
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


def load_fresh(con, plan: Plan, staged: readers.Staged, *, formats: dict[str, ColumnFormat], suppressions: str | None,
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
    sql, params = typed_select(plan, staged, formats, suppressions=suppressions, raw=True,
                               numbered=staged.complete)
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
        numbered, numbered_params = typed_select(plan, staged, formats, suppressions=suppressions, raw=True,
                                                   reads_as=again)
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
    lenient = lenient_fields(plan)
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
        warnings = lenient_messages(plan, lenient, row)
    return {"quarantined": int(quarantined), "warnings": warnings, "new": int(accepted - (quarantined - staged.rejects)),
            "changed": 0, "unchanged": 0, "stale": 0}
