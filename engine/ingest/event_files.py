"""Event files into the events tables: JSON and NDJSON staged one event per line, flat files
(CSV, sheets) rewritten as Segment JSON, then landed by engine.ingest.events."""
from __future__ import annotations

from pathlib import Path

import engine.ingest.events as ev
import engine.ingest.readers as readers
from engine.ingest.common import IngestError, quote_ident
from engine.ingest.load_warnings import rejects_warning
from engine.ingest.plan import Plan
from engine.ingest.typed_rows import json_object_sql
from engine.ingest.validate import infer_formats, trimmed, typed_sql


def stage_event_lines(con, path: Path, info: readers.FileInfo, table: str) -> int:
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


def stage_flat_events(con, plan: Plan, staged: readers.Staged, table: str) -> None:
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
        t = trimmed(quote_ident(column, allowed))
        value = (f"strftime({typed_sql('timestamp', t, formats.get(column))}, '%Y-%m-%dT%H:%M:%S.%fZ')"
                 if name in ev.TIME_FIELDS else t)
        if name == "type":   # a flat file without types holds track calls when it names events
            event = trimmed(quote_ident(plan.by_field["event"], allowed)) if "event" in plan.by_field else "NULL"
            value = f"COALESCE({value}, CASE WHEN {event} IS NOT NULL THEN 'track' END)"
        pairs.append(f"'{key}', {value}")
    if "type" not in plan.by_field and "event" in plan.by_field:
        pairs.append("'type', 'track'")
    props, props_params = json_object_sql(plan.traits_columns, allowed)
    pairs.append(f"'properties', {props}")
    params += props_params
    con.execute(f"""CREATE TEMP TABLE {table} AS
        SELECT _row AS row_number, CAST(json_merge_patch('{{}}', json_object({', '.join(pairs)})) AS VARCHAR) AS raw
        FROM {staged.table}""", params)


def load_event_rows(con, lines: str, staged: readers.Staged | None, plan: Plan | None, *, source: str,
                    load_id: int) -> dict:
    """Land the events of `lines` (JSON staged by `stage_event_lines`; or, with `staged`, a flat
    file's rows, rewritten there first) and quarantine the flat file's unsplittable lines.

    Returns read, loaded, quarantined, warnings and the new/changed/unchanged/stale tallies."""
    warnings = []
    rejected = 0
    if staged is not None:
        if staged.rejects:
            warnings.append(rejects_warning(staged.rejects))
        stage_flat_events(con, plan, staged, lines)
    counts = ev.land_raw_events(con, lines, source, load_id)
    bad_times = ev.bad_timestamps(con, lines)
    if bad_times:
        warnings.append(f"timestamp: {bad_times} event(s) had an unreadable timestamp; "
                        "the time they were received is used.")
    if counts.duplicates:
        warnings.append(f"{counts.duplicates} event(s) were already loaded (same messageId) "
                        "and were skipped.")
    if staged is not None:
        rejected = con.execute(
            f"""INSERT INTO quarantine (load_id, source, row_number, raw, reason)
                SELECT ?, ?, _row, raw, reason FROM {staged.rejects_table}""",
            [load_id, source]).fetchone()[0]
    quarantined = counts.quarantined + rejected
    return {"read": counts.loaded + quarantined, "loaded": counts.loaded, "quarantined": quarantined,
            "warnings": warnings, "new": counts.new, "changed": 0, "unchanged": counts.duplicates, "stale": 0}
