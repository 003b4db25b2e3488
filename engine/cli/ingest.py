"""`cdp ingest` and `cdp quarantine` (`cdp sources` lives with the collector in engine/cli/collect.py)."""
from __future__ import annotations

import json

from engine.cli.output import actor, print_table, progress_printer, workspace
from engine.sources import KINDS


def register(subparsers) -> None:
    p = subparsers.add_parser("ingest", help="load a file (CSV, TSV, xlsx, JSON, NDJSON, Parquet)")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("file")
    p.add_argument("--source", required=True, help="source name, e.g. 'HubSpot' or 'Store POS'")
    p.add_argument("--id-column", metavar="COL", help="column holding the source's record id")
    p.add_argument("--map", action="append", default=[], metavar="SRC_COLUMN=FIELD",
                   help="map a column to a canonical field (repeatable), on top of the saved or "
                        "suggested mapping of the other columns; FIELD 'traits' keeps it as a trait")
    sheets = p.add_mutually_exclusive_group()
    sheets.add_argument("--sheet", metavar="NAME", help="the workbook's sheet to load (default: the first "
                                                        "with data)")
    sheets.add_argument("--all-sheets", action="store_true",
                        help="load every sheet with data of the workbook, each mapped by its own header")
    p.add_argument("--format", dest="file_format", choices=["csv", "xlsx", "json", "ndjson", "parquet"],
                   help="override format detection")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_ingest)

    q = subparsers.add_parser("quarantine", help="rows that could not be loaded")
    sub = q.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="list quarantined rows")
    ls.add_argument("--source")
    ls.add_argument("--load", type=int, dest="load_id")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_quarantine_list)
    ex = sub.add_parser("export", help="write quarantined rows to a CSV file")
    ex.add_argument("--out", required=True, metavar="FILE")
    ex.add_argument("--source")
    ex.add_argument("--load", type=int, dest="load_id")
    ex.set_defaults(func=cmd_quarantine_export)


def _parse_maps(items: list[str]) -> dict | None:
    if not items:
        return None
    mapping = {}
    for item in items:
        column, sep, field = item.rpartition("=")
        if not sep or not column.strip():
            raise ValueError(f"--map takes SRC_COLUMN=FIELD, got {item!r}.")
        mapping[column.strip()] = field.strip() or None
    return mapping


def _json_summary(result) -> dict:
    """The four figures, then the mapping used ({column: field or null}; the record id column
    as source_record_id, or under id_column when that column also maps to a field)."""
    return {**result.summary(), "mapping": result.mapping, "id_column": result.id_column}


def _print_result(source: str, result) -> None:
    where = f" (sheet {result.sheet})" if result.sheet else ""
    print(f"{source}{where}: read {result.rows_read:,} rows, loaded {result.rows_loaded:,} "
          f"({result.rows_inserted:,} new, {result.rows_updated:,} updated, "
          f"{result.rows_unchanged:,} unchanged), quarantined {result.rows_quarantined:,}.")
    print("mapping: " + "; ".join(
        f"{column} -> {field or 'traits'}" + (" (record id)" if column == result.id_column and field != "source_record_id"
                                              else "")
        for column, field in result.mapping.items()))
    for warning in result.warnings:
        print(f"warning: {warning}")
    if result.rows_quarantined and not result.already_loaded:
        print(f"See them with: cdp quarantine list --load {result.load_id}")


def cmd_ingest(args) -> int:
    from engine.ingest import ingest_file
    from engine.ingest.load import ingest_workbook

    options = dict(id_column=args.id_column, overrides=_parse_maps(args.map), file_format=args.file_format,
                   progress=None if args.json else progress_printer("ingest"))
    if args.all_sheets:
        results = ingest_workbook(workspace(), actor(), args.kind, args.file, args.source, **options)
    else:
        results = [ingest_file(workspace(), actor(), args.kind, args.file, args.source, sheet=args.sheet,
                               **options)]
    if args.json:
        if args.all_sheets:
            totals = {k: sum(r.summary()[k] for r in results) for k in ("rows_read", "rows_loaded",
                                                                         "rows_quarantined")}
            print(json.dumps({**totals, "warnings": [w for r in results for w in r.warnings],
                              "sheets": [{"sheet": r.sheet, **_json_summary(r)} for r in results]}))
        else:
            print(json.dumps(_json_summary(results[0])))
        return 0
    for result in results:
        _print_result(args.source, result)
    return 0


def cmd_quarantine_list(args) -> int:
    from engine.ingest.quarantine import quarantined_rows

    df = quarantined_rows(workspace(), actor(), args.source, args.load_id, limit=args.limit)
    if args.json:
        print(df.to_json(orient="records", date_format="iso"))
        return 0
    if df.empty:
        print("The quarantine is empty.")
        return 0
    print_table([(r.load_id, r.source, r.row_number, r.reason, str(r.raw)[:60]) for r in df.itertuples()],
                ["load", "source", "row", "reason", "raw"])
    return 0


def cmd_quarantine_export(args) -> int:
    from engine.ingest.quarantine import export_quarantine

    n = export_quarantine(workspace(), actor(), args.out, args.source, args.load_id)
    print(f"Wrote {n:,} quarantined rows to {args.out}.")
    return 0

