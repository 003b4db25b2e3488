"""`cdp collect`: the event collector. (`cdp sources`, with write keys, lives in engine/cli/ingest.py.)"""
from __future__ import annotations

import logging
import signal
import sys
import threading

from engine.cli.output import workspace


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


def cmd_collect(args) -> int:
    from engine.collect import Collector
    from engine.workspace import open_workspace

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ws = open_workspace(workspace().path)
    collector = Collector(ws, args.host, args.port, interval=args.interval)
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
