"""`cdp collect` (the event collector) and `cdp sources` (events write keys, all sources)."""
from __future__ import annotations

import logging
import signal
import sys
import threading

from engine.cli.output import actor, print_json, print_table, workspace
from engine.sources import KINDS, create_source, list_sources, rotate_write_key


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "collect", help="run the Segment-compatible event collector (HTTP API + loader)",
        description="Serve the Segment HTTP Tracking API on HOST:PORT. Point analytics.js, "
                    "analytics-python, analytics-node or RudderStack SDKs at it with an events "
                    "source's write key. Events are fsynced before each 200 and land in the "
                    "workspace every second or so.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; put a TLS proxy in front "
                        "for a public first-party domain)")
    p.add_argument("--port", type=int, default=8088, help="port (default 8088; 0 picks a free one)")
    p.add_argument("--interval", type=float, default=1.0,
                   help="seconds between micro-batch landings (default 1)")
    p.set_defaults(func=cmd_collect)

    p = subparsers.add_parser("sources", help="list and create sources; rotate events write keys")
    sub = p.add_subparsers(dest="sources_command", metavar="ACTION", required=True)
    c = sub.add_parser("create", help="create a source (an events source prints its write key)")
    c.add_argument("name")
    c.add_argument("--kind", required=True, choices=KINDS)
    c.add_argument("--description", default="")
    c.set_defaults(func=cmd_sources_create)
    ls = sub.add_parser("list", help="list sources with their kinds and write keys")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_sources_list)
    r = sub.add_parser("rotate-key", help="issue a new write key for an events source")
    r.add_argument("name")
    r.set_defaults(func=cmd_sources_rotate)


def cmd_collect(args) -> int:
    from engine.cli.main import CliError
    from engine.collect import Collector
    from engine.collect.spool import SpoolError
    from engine.workspace import as_unwritable, open_workspace

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ws = open_workspace(workspace().path)
    try:
        collector = Collector(ws, args.host, args.port, interval=args.interval)
    except SpoolError as exc:  # another collector runs on this workspace
        raise CliError(str(exc)) from None
    except OSError as exc:  # the spool folder, or the address to listen on
        unwritable = as_unwritable(exc, ws.folder)
        if unwritable is not None:
            raise unwritable from None
        raise CliError(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
                       f"choose another with --port or --host.") from None
    done = threading.Event()

    def stop(signum, frame):
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    collector.start()
    print(f"Collecting events on {collector.url} into {ws.path} (Ctrl-C to stop)", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        print("Stopping: landing what is spooled...", file=sys.stderr, flush=True)
        collector.stop()
        counters = collector.counters()
        print(f"Stopped: {counters['acked_events']} events acknowledged, "
              f"{counters['landed_events']} landed.", flush=True)
    return 0


def cmd_sources_create(args) -> int:
    source = create_source(workspace(), actor(), args.name, args.kind, args.description)
    if source.write_key:
        print(f"Created events source {source.name!r}. Write key: {source.write_key}")
    else:
        print(f"Created {source.kind} source {source.name!r}.")
    return 0


def cmd_sources_list(args) -> int:
    df = list_sources(workspace())
    df = df.astype(object).where(df.notna(), None)
    if args.json:
        print_json(df.to_dict(orient="records"))
        return 0
    print_table([(r.name, r.kind, r.write_key or "", r.description or "") for r in df.itertuples()],
                ["name", "kind", "write_key", "description"])
    return 0


def cmd_sources_rotate(args) -> int:
    key = rotate_write_key(workspace(), actor(), args.name)
    print(f"New write key for {args.name!r}: {key} (the old key stops working within seconds)")
    return 0
