"""`cdp privacy`: access exports, erasures, the request register, retention, consent edits."""
from __future__ import annotations

from pathlib import Path

from engine.cli.output import actor, print_json, print_table, workspace
from engine.privacy import consent, removals, retention
from engine.privacy.identifiers import ID_TYPES
from engine.privacy.requests import list_requests
from engine.privacy.subject import erase_subject, export_subject


def _add_subject_args(p) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    for id_type in ID_TYPES:
        group.add_argument(f"--{id_type.replace('_', '-')}", dest=id_type, metavar="VALUE")
    p.add_argument("--regulation", choices=["gdpr", "ccpa"], default="gdpr")


def _subject(args) -> tuple[str, str]:
    for id_type in ID_TYPES:
        if getattr(args, id_type, None):
            return id_type, getattr(args, id_type)
    raise ValueError("Name the person with --email, --phone, --customer-id, --user-id or --anonymous-id.")


def register(subparsers) -> None:
    p = subparsers.add_parser("privacy", help="access and erasure requests, retention, consent")
    sub = p.add_subparsers(dest="privacy_command", metavar="ACTION", required=True)

    e = sub.add_parser("export", help="everything held about a person, as a zip (JSON + CSV)")
    _add_subject_args(e)
    e.add_argument("--out", required=True, help="FILE.zip")
    e.set_defaults(func=cmd_export)

    d = sub.add_parser("erase", help="delete a person everywhere and suppress them")
    _add_subject_args(d)
    d.add_argument("--no-compact", action="store_true", help="skip rewriting the database file")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_erase)

    m = sub.add_parser("removals", help="erasure deletions at destinations (--retry sends the pending and failed)")
    m.add_argument("--retry", action="store_true")
    m.set_defaults(func=cmd_removals)

    r = sub.add_parser("requests", help="the request register with deadlines")
    r.set_defaults(func=cmd_requests)

    t = sub.add_parser("retention", help="purge old events and raw files (preview unless --apply)")
    t.add_argument("--events-days", type=int)
    t.add_argument("--files-days", type=int)
    t.add_argument("--apply", action="store_true")
    t.set_defaults(func=cmd_retention)

    c = sub.add_parser("consent", help="record a consent change for a profile")
    c.add_argument("profile_id")
    c.add_argument("purpose", choices=consent.PURPOSES)
    c.add_argument("decision", choices=["grant", "withdraw"])
    c.add_argument("--note", default="")
    c.set_defaults(func=cmd_consent)


def cmd_export(args) -> int:
    id_type, value = _subject(args)
    data = export_subject(workspace(), actor(), id_type, value, args.regulation)
    Path(args.out).write_bytes(data)
    print(f"Wrote {args.out} ({len(data):,} bytes).")
    return 0


def cmd_erase(args) -> int:
    id_type, value = _subject(args)
    result = erase_subject(workspace(), actor(), id_type, value, args.regulation, compact=not args.no_compact)
    if args.json:
        print_json(result)
        return 0
    report = ("files", "destinations", "not_reachable")
    removed = ", ".join(f"{k}: {v}" for k, v in result.items() if k != "request_id" and k not in report)
    print(f"Erasure request {result['request_id']} done ({removed or 'nothing held'}); identifiers suppressed.")
    for f in result["files"]:
        print(f"  file {f['path']}: {f['action']} ({f['reason']})")
    for d in result["destinations"]:
        outcome = d["status"] + (f": {d['error']}" if d.get("error") else "")
        print(f"  destination {d['destination']} ({d['kind']}): {d.get('action') or 'deletion'}, {outcome}")
    for n in result["not_reachable"]:
        print(f"  not reachable: {n['where']} ({n['count']}): {n['note']}")
    if any(d["status"] != "done" for d in result["destinations"]):
        print("  Some destinations did not confirm; retry with `cdp privacy removals --retry`.")
    return 0


def cmd_removals(args) -> int:
    if args.retry:
        outcomes = removals.deliver(workspace(), actor())
        print_table([(o["request_id"], o["destination"], o["kind"], o["status"], o.get("error") or "")
                     for o in outcomes], ["request", "destination", "kind", "status", "error"])
        return 0 if all(o["status"] == "done" for o in outcomes) else 1
    df = removals.list_removals(workspace(), actor())
    print_table([tuple(r) for r in df[["request_id", "destination", "kind", "status", "attempts",
                                       "last_error"]].itertuples(index=False)],
                ["request", "destination", "kind", "status", "attempts", "error"])
    return 0


def cmd_requests(args) -> int:
    df = list_requests(workspace(), actor())
    print_table([tuple(r) for r in df[["request_id", "kind", "regulation", "subject_hint", "status",
                                        "days_left"]].itertuples(index=False)],
                ["id", "kind", "regulation", "subject", "status", "days_left"])
    return 0


def cmd_retention(args) -> int:
    ws, user = workspace(), actor()
    if args.events_days or args.files_days:
        policy = retention.get_policy(ws)
        retention.set_policy(ws, user, args.events_days or policy["events_days"],
                             args.files_days or policy["raw_files_days"])
    print_json(retention.apply(ws, user) if args.apply else retention.preview(ws))
    return 0


def cmd_consent(args) -> int:
    consent.set_consent(workspace(), actor(), args.profile_id, args.purpose, args.decision == "grant", args.note)
    print(f"{args.purpose} consent {'granted' if args.decision == 'grant' else 'withdrawn'} for {args.profile_id}.")
    return 0
