"""`cdp forward`: the conversion forwarding worker and its configuration."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from engine.cli.output import actor, print_json, print_table, workspace
from engine.forward import config, quality, sandbox
from engine.forward.deliver import retry_dead
from engine.forward.worker import run_forever, run_once


def _settings(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--set takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


SANDBOX_HELP = """\
Every workspace has a forwarding destination called `sandbox`: it needs no credentials and
writes what the Meta Conversions API would receive to files under
<workspace folder>/sandbox/conversions/ instead of sending. It forwards nothing until an
event is mapped to it. On the sample:

  cdp forward map sandbox --match "Order Completed" --as Purchase --value-path '$.revenue' --currency-path '$.currency'
  cdp forward --once --destination sandbox
  cdp forward status sandbox

To preview Google's conversions instead, add another:
  cdp forward add-destination sandbox-google --kind sandbox --set platform=google_conversions
"""


def register(subparsers) -> None:
    p = subparsers.add_parser("forward", help="forward conversions server-side (Meta CAPI, Google)",
                              description="Without an action: run the forwarding worker (use --once for cron).",
                              epilog=SANDBOX_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
    p.add_argument("--destination", help="only this destination")
    p.set_defaults(func=cmd_run)
    sub = p.add_subparsers(dest="forward_command", metavar="ACTION")

    d = sub.add_parser("add-destination", help="add or replace a forwarding destination")
    d.add_argument("name")
    d.add_argument("--kind", required=True, choices=list(config.KINDS))
    d.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help=config.settings_help().replace("%", "%%"))
    d.set_defaults(func=cmd_add_destination)

    m = sub.add_parser("map", help="forward an event, an order source or a lead stage")
    m.add_argument("destination")
    m.add_argument("--trigger", choices=config.TRIGGERS, default="event")
    m.add_argument("--match", required=True, help="event name, order source, or lead stage")
    m.add_argument("--as", dest="platform_event", required=True, help="platform event name, e.g. Purchase")
    m.add_argument("--value-path")
    m.add_argument("--currency-path")
    m.add_argument("--content-ids-path")
    m.add_argument("--lookback-days", type=int, default=7)
    m.set_defaults(func=cmd_map)

    s = sub.add_parser("status", help="queue counts and recent deliveries")
    s.add_argument("destination")
    s.set_defaults(func=cmd_status)

    r = sub.add_parser("retry", help="put a destination's dead letters back in the queue")
    r.add_argument("destination")
    r.set_defaults(func=cmd_retry)


def _alert_refused(result: dict) -> bool:
    """Print each destination whose credentials were refused, on stderr; True if there was one."""
    refused = [name for name, r in result.items() if r.get("auth")]
    for name in refused:
        print(f"ALERT {name}: {result[name]['error']}", file=sys.stderr, flush=True)
    return bool(refused)


def cmd_run(args) -> int:
    ws, user = workspace(), actor()
    if args.once:
        result = run_once(ws, user, args.destination)
        print_json(result)
        for name in result:
            if config.get_destination(ws, name)["sandbox"]:
                print(f"The {name} destination's files (what the platform would receive) are in "
                      f"{sandbox.folder(ws, name)}")
        return 1 if _alert_refused(result) else 0

    def on_pass(result):
        print(datetime.now().isoformat(timespec="seconds"), json.dumps(result, default=str), flush=True)
        _alert_refused(result)

    print(f"Forwarding every {args.interval:g} s; Ctrl-C to stop.")
    run_forever(ws, user, args.interval, args.destination, on_pass=on_pass)
    return 0


def cmd_add_destination(args) -> int:
    config.add_destination(workspace(), actor(), args.name, args.kind, _settings(args.set))
    print(f"Forwarding destination {args.name} ({args.kind}) saved.")
    return 0


def cmd_map(args) -> int:
    mapping_id = config.add_mapping(workspace(), actor(), args.destination, args.trigger, args.match,
                                    args.platform_event, args.value_path, args.currency_path,
                                    args.content_ids_path, args.lookback_days)
    print(f"Mapping {mapping_id}: {args.trigger} {args.match!r} -> {args.platform_event} on {args.destination}.")
    return 0


def cmd_status(args) -> int:
    ws = workspace()
    alert = quality.auth_alert(ws, args.destination)
    if alert:
        print(f"ALERT since {alert['at']:%Y-%m-%d %H:%M}: {alert['message']}")
    counts = quality.status_counts(ws, args.destination)
    print_table([tuple(r) for r in counts.itertuples(index=False)], ["status", "reason", "events"])
    return 0


def cmd_retry(args) -> int:
    print(f"{retry_dead(workspace(), actor(), args.destination)} dead letters queued again.")
    return 0
