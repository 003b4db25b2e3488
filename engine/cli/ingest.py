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
                   help="map a column to a canonical field (repeatable); without any --map the "
                        "saved or suggested mapping is used")
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


def cmd_ingest(args) -> int:
    from engine.ingest import ingest_file

    result = ingest_file(workspace(), actor(), args.kind, args.file, args.source,
                         id_column=args.id_column, mapping=_parse_maps(args.map),
                         file_format=args.file_format,
                         progress=None if args.json else progress_printer("ingest"))
    if args.json:
        print(json.dumps(result.summary()))
        return 0
    print(f"{args.source}: read {result.rows_read:,} rows, loaded {result.rows_loaded:,} "
          f"({result.rows_inserted:,} new, {result.rows_updated:,} updated, "
          f"{result.rows_unchanged:,} unchanged), quarantined {result.rows_quarantined:,}.")
    for warning in result.warnings:
        print(f"warning: {warning}")
    if result.rows_quarantined and not result.already_loaded:
        print(f"See them with: cdp quarantine list --load {result.load_id}")
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

