"""`cdp currency`: the reporting currency every revenue figure is in, and the rates into it."""
from __future__ import annotations

from engine.cli.output import actor, print_json, print_table, workspace


def register(subparsers) -> None:
    p = subparsers.add_parser("currency", help="the reporting currency and exchange rates (orders in a currency "
                                               "with no rate are left out of revenue)")
    p.add_argument("--set", metavar="CODE", help="make CODE (GBP, EUR, USD, ...) the reporting currency")
    p.add_argument("--json", action="store_true", help="print the status as JSON")
    p.set_defaults(func=cmd_currency)
    sub = p.add_subparsers(dest="currency_command", metavar="ACTION")
    r = sub.add_parser("rates", help="load a CSV of rates: currency, rate (one unit in the reporting currency), "
                                     "optional date (in force from), optional to (the currency the rate is into)")
    r.add_argument("file")
    r.add_argument("--to", metavar="CODE", help="the currency the rates are into (default: the reporting currency)")
    r.add_argument("--json", action="store_true", help="print the outcome as JSON")
    r.set_defaults(func=cmd_rates)


def _print_status(status: dict) -> None:
    from engine.currency import unconverted_message

    print(f"Reporting currency: {status['reporting_currency'] or '(none yet: set by the first orders with a currency)'}")
    if status["rates"]:
        print_table([(c, v["rates"], v["latest_from"] or "any date") for c, v in status["rates"].items()],
                    ["currency", "rates", "latest from"])
    message = unconverted_message(status)
    if message:
        print(message)


def cmd_currency(args) -> int:
    from engine.currency import currency_status, set_reporting_currency

    ws = workspace()
    if args.set:
        set_reporting_currency(ws, actor(), args.set)
    status = currency_status(ws)
    if args.json:
        print_json(status)
    else:
        _print_status(status)
    return 0


def cmd_rates(args) -> int:
    from engine.currency import load_rates

    outcome = load_rates(workspace(), actor(), args.file, to=args.to)
    if args.json:
        print_json(outcome)
        return 0
    print(f"Loaded {outcome['rates_loaded']:,} rate(s).")
    for warning in outcome["warnings"]:
        print(f"warning: {warning}")
    _print_status(outcome)
    return 0
