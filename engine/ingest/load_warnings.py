"""What a load tells the person loading: unreadable lenient values, unknown order statuses,
ambiguous date formats, consents without a time, lines that could not be split."""
from __future__ import annotations

from engine.ingest.fields import fields_for
from engine.ingest.plan import Plan, lenient_fields
from engine.ingest.validate import TYPE_NAMES, ColumnFormat


def lenient_messages(plan: Plan, lenient: list[str], row) -> list[str]:
    """Warnings from (count, example) pairs, one pair per lenient field, in a flat row."""
    fields = fields_for(plan.kind)
    out = []
    for i, n in enumerate(lenient):
        count, example = row[2 * i], row[2 * i + 1]
        if count:
            out.append(f"{n}: {count} value(s) could not be read as a {TYPE_NAMES[fields[n].type]} "
                       f"(e.g. {example!r}) and were left empty; the text is kept in traits as invalid_{n}.")
    return out


def lenient_warnings(con, plan: Plan, typed: str) -> list[str]:
    lenient = lenient_fields(plan)
    if not lenient:
        return []
    parts = []
    for n in lenient:
        parts.append(f'count_if("bad_{n}" AND reason IS NULL)')
        parts.append(f"any_value(json_extract_string(traits, '$.invalid_{n}')) "
                     f'FILTER (WHERE "bad_{n}" AND reason IS NULL)')
    row = con.execute(f"SELECT {', '.join(parts)} FROM {typed}").fetchone()
    return lenient_messages(plan, lenient, row)


def status_warnings(con, plan: Plan, source: str, load_id: int) -> list[str]:
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


def format_warnings(plan: Plan, formats: dict[str, ColumnFormat]) -> list[str]:
    out = []
    for name, column in plan.by_field.items():
        fmt = formats.get(column)
        if fmt and fmt.ambiguous_dates:
            out.append(f"{name}: dates in column {column!r} could be DD/MM or MM/DD; read as DD/MM/YYYY.")
    if plan.kind == "consents" and "recorded_at" not in plan.by_field:
        out.append("No column gives when consent was recorded; the load time is used.")
    return out


def rejects_warning(n: int) -> str:
    return f"{n} line(s) could not be split into the file's columns and were quarantined."
