"""`cdp resolve`, `cdp profiles export`, `cdp review list|accept|reject|undo|retrain`."""
from __future__ import annotations

from engine.cli.output import actor, print_json, print_table, progress_printer, workspace


def register(subparsers) -> None:
    p = subparsers.add_parser("resolve", help="run identity resolution with the saved settings")
    p.add_argument("--full", action="store_true", help="rescore every candidate pair, not just new records")
    p.add_argument("--json", action="store_true", help="the run's statistics as JSON (what it prints either way)")
    p.set_defaults(func=cmd_resolve)

    p = subparsers.add_parser("profiles", help="export every source record with its profile id (to find or show one person: cdp profile)")
    sub = p.add_subparsers(dest="profiles_command", metavar="ACTION", required=True)
    e = sub.add_parser("export", help="one row per source record: profile_id, kind, source, source_record_id")
    e.add_argument("--out", required=True, help="a .csv or .parquet file")
    e.set_defaults(func=cmd_profiles_export)

    p = subparsers.add_parser("review", help="the identity review queue")
    sub = p.add_subparsers(dest="review_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="pairs waiting for a decision, most informative first")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--source")
    ls.add_argument("--rule")
    ls.set_defaults(func=cmd_review_list)
    for action in ("accept", "reject"):
        a = sub.add_parser(action, help=f"{action} pairs (by pair key) or a probability range")
        a.add_argument("pair_keys", nargs="*")
        a.add_argument("--min", type=float, dest="min_p", help="bulk: lower probability bound")
        a.add_argument("--max", type=float, dest="max_p", help="bulk: upper probability bound")
        a.add_argument("--apply", action="store_true", help="run resolve afterwards")
        a.set_defaults(func=cmd_review_decide, decision=action)
    u = sub.add_parser("undo", help="undo your latest decision (or --id N)")
    u.add_argument("--id", type=int)
    u.set_defaults(func=cmd_review_undo)
    t = sub.add_parser("retrain", help="retrain the match model on reviewer decisions")
    t.set_defaults(func=cmd_review_retrain)


def cmd_resolve(args) -> int:
    from engine.identity import resolve

    stats = resolve(workspace(), actor(), full=args.full, progress=progress_printer("resolve"))
    print_json({k: v for k, v in stats.items()})
    return 0


def cmd_profiles_export(args) -> int:
    from engine.identity.resolve import export_members

    n = export_members(workspace(), actor(), args.out)
    print(f"Wrote {n} rows to {args.out}.")
    return 0


def cmd_review_list(args) -> int:
    from engine.identity.review import queue_size, review_queue

    ws = workspace()
    df = review_queue(ws, actor(), limit=args.limit, source=args.source, rule=args.rule)
    def name(first, last):
        return " ".join(str(v) for v in (first, last) if isinstance(v, str) and v)

    rows = [(r.pair_key, f"{r.probability:.3f}" if r.probability == r.probability and r.probability is not None else "-",
             r.reason, f"{r.l_source}:{r.l_record_id}", name(r.l_first_name, r.l_last_name),
             f"{r.r_source}:{r.r_record_id}", name(r.r_first_name, r.r_last_name))
            for r in df.itertuples()]
    print_table(rows, ["pair_key", "p", "reason", "left", "left name", "right", "right name"])
    print(f"\n{queue_size(ws)} pairs in the queue.")
    return 0


def cmd_review_decide(args) -> int:
    from engine.identity import resolve
    from engine.identity.review import bulk_decide, decide, maybe_retrain

    ws, user = workspace(), actor()
    if args.pair_keys and (args.min_p is not None or args.max_p is not None):
        raise ValueError("Give pair keys or a --min/--max range, not both.")
    if args.pair_keys:
        for key in args.pair_keys:
            decide(ws, user, key, args.decision, retrain=False)
        maybe_retrain(ws, user)
        n = len(args.pair_keys)
    elif args.min_p is not None and args.max_p is not None:
        n = bulk_decide(ws, user, args.decision, args.min_p, args.max_p)
    else:
        raise ValueError("Give one or more pair keys, or both --min and --max.")
    print(f"{args.decision.capitalize()}ed {n} pair(s).")
    if args.apply:
        print_json(resolve(ws, user, progress=progress_printer("resolve")))
    else:
        print("Run `cdp resolve` (or add --apply) to apply the decisions.")
    return 0


def cmd_review_undo(args) -> int:
    from engine.identity.review import undo

    done = undo(workspace(), actor(), args.id)
    print(f"Undid decision {done['decision_id']} ({done['decision']} {done['pair_key']}).")
    return 0


def cmd_review_retrain(args) -> int:
    from engine.identity.review import retrain

    print_json(retrain(workspace(), actor()))
    return 0
