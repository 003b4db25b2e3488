"""`cdp engine show|set`: where the data plane runs (DuckDB, or Spark over a lakehouse).

`cdp --engine spark ...` runs one command on Spark without changing the setting.
"""
from __future__ import annotations

from engine.cli.output import actor, print_json, print_table, workspace


def register(subparsers) -> None:
    p = subparsers.add_parser("engine", help="where segments, journeys and value run: duckdb (default) or spark")
    sub = p.add_subparsers(dest="engine_command", metavar="ACTION", required=True)
    s = sub.add_parser("show", help="the engine, the Spark master and the lakehouse table mapping")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)
    s = sub.add_parser("set", help="choose the engine, the Spark master, and map lakehouse tables")
    s.add_argument("--backend", choices=["duckdb", "spark"])
    s.add_argument("--spark", metavar="MASTER", help="local[2] (default), local[*], or sc://host:15002 (Spark Connect)")
    s.add_argument("--table", nargs="+", action="append", default=[], metavar="NAME PATH [FORMAT]",
                   help="read table NAME (orders, events, contacts, ...) from PATH; FORMAT is parquet (default), "
                        "delta, iceberg, or table (PATH is then a catalog name); repeat for more tables")
    s.add_argument("--unmap", action="append", default=[], metavar="NAME", help="stop mapping a table")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_set)


def _print(settings: dict, as_json: bool) -> None:
    if as_json:
        print_json(settings)
        return
    print(f"Engine: {settings['backend']}  (Spark master: {settings['spark']})")
    rows = [(name, t["format"], t["path"]) for name, t in sorted(settings["tables"].items())]
    if rows:
        print_table(rows, ["table", "format", "path"])
    else:
        print("No lakehouse tables mapped: on Spark, every table is read from the workspace.")


def cmd_show(args) -> int:
    from engine.backend.choose import engine_settings

    _print(engine_settings(workspace()), args.json)
    return 0


def cmd_set(args) -> int:
    from engine.backend.choose import set_engine

    tables = {}
    for spec in args.table:
        if len(spec) not in (2, 3):
            raise ValueError("--table takes NAME PATH [FORMAT].")
        tables[spec[0]] = {"path": spec[1], "format": spec[2] if len(spec) == 3 else "parquet"}
    settings = set_engine(workspace(), actor(), backend=args.backend, spark=args.spark, tables=tables,
                          unmap=args.unmap)
    _print(settings, args.json)
    return 0
