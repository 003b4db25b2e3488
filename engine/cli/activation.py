"""`cdp audience export|sync|history|link` and `cdp destinations add|list|remove`."""
from __future__ import annotations

import json

from engine.activation import audiences, config, export, feedback, schedule, sync
from engine.cli.value import register_lift
from engine.activation.destinations import KINDS
from engine.activation.destinations import sandbox
from engine.cli.output import actor, print_json, print_table, progress_printer, workspace


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "audience", help="export audiences and sync them to destinations",
        description="Every workspace has a destination called `sandbox`: it needs no credentials and "
                    "writes what Meta would receive to files under <workspace folder>/sandbox/ instead "
                    "of sending. Try: cdp audience sync \"SEGMENT NAME\" --destination sandbox --dry-run")
    sub = p.add_subparsers(dest="audience_command", metavar="ACTION", required=True)

    e = sub.add_parser("export", help="write a segment (or tag:NAME) to CSV or Parquet")
    e.add_argument("segment", help="segment id, or tag:NAME for a profile tag")
    e.add_argument("--out", required=True, help="file to write (.csv or .parquet)")
    e.add_argument("--columns", help=f"comma-separated, from: {', '.join(export.COLUMNS)}")
    e.add_argument("--hash", choices=sorted(export.HASH_FORMATS), help="hash identifiers by a platform's rules")
    e.add_argument("--format", choices=["csv", "parquet"], help="default: from the file name")
    e.add_argument("--include-without-consent", action="store_true",
                   help="keep members without advertising consent (suppressed people are never exported)")
    e.set_defaults(func=cmd_export)

    register_lift(sub)  # `cdp audience lift`: engine/cli/value.py

    s = sub.add_parser("sync", help="push a segment to a destination, or every due sync with --all")
    s.add_argument("segment", nargs="?",
                   help="segment name or id (either reaches the one link, keyed by id), or tag:NAME")
    s.add_argument("--destination", help="destination name (`sandbox` writes files and needs no credentials)")
    s.add_argument("--all", action="store_true", help="run every scheduled sync that is due (for cron)")
    s.add_argument("--dry-run", action="store_true", help="show what would be sent, send nothing")
    s.add_argument("--full", action="store_true", help="full mirror: resend every member, not just changes")
    s.add_argument("--schedule", choices=list(audiences.SCHEDULES),
                   help="set how often --all runs it (saved when this sync succeeds)")
    s.add_argument("--holdout", type=float, metavar="PCT",
                   help="keep this percent out of every push (saved when this sync succeeds)")
    s.add_argument("--json", action="store_true",
                   help="print the run as JSON, with what the platform reported (`platform_report`)")
    s.set_defaults(func=cmd_sync)

    h = sub.add_parser("history", help="sync runs, newest first")
    h.add_argument("--limit", type=int, default=20)
    h.set_defaults(func=cmd_history)

    p = subparsers.add_parser("destinations", help="configure where audiences are sent")
    sub = p.add_subparsers(dest="destinations_command", metavar="ACTION", required=True)
    a = sub.add_parser("add", help="add or replace a destination (credentials go in secrets.toml or env)")
    a.add_argument("name")
    a.add_argument("--kind", required=True, choices=sorted(KINDS))
    a.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting such as audience_id=123 or base_url=http://127.0.0.1:8080")
    a.add_argument("--replace", action="store_true")
    a.set_defaults(func=cmd_dest_add)
    sub.add_parser("list", help="list destinations").set_defaults(func=cmd_dest_list)
    r = sub.add_parser("remove", help="remove a destination and its audience links")
    r.add_argument("name")
    r.set_defaults(func=cmd_dest_remove)


def _members(ws, user, segment: str):
    kind, sid = audiences.parse_source(segment)
    return kind, sid, audiences.members_of(ws, user, kind, sid)


def cmd_export(args) -> int:
    ws, user = workspace(), actor()
    kind, sid, members = _members(ws, user, args.segment)
    cols = [c.strip() for c in args.columns.split(",")] if args.columns else None
    out = export.export_audience(ws, user, args.out, members, columns=cols, hash_format=args.hash,
                                 file_format=args.format, enforce_consent=not args.include_without_consent,
                                 label=audiences.source_key(kind, sid),
                                 progress=progress_printer("export"))
    print(f"Wrote {out['rows']:,} rows to {out['path']} ({out['held_back']:,} held back"
          + (": " + ", ".join(f"{sync.describe_reason(k)} {v:,}" for k, v in out["held_back_reasons"].items())
             if out["held_back"] else "") + ").")
    return 0


def cmd_sync(args) -> int:
    ws, user = workspace(), actor()
    if args.all:
        results = schedule.run_due(ws, user, progress=progress_printer("sync"))
        if not results:
            print("No sync is due.")
        for r in results:
            print(f"{r['audience_key']}: {r['status']}"
                  + (f" (+{r['added']:,} -{r['removed']:,}, {r['failed']:,} failed, {r['held_back']:,} held back)"
                     if "added" in r else "")
                  + ("; " + "; ".join(r["errors"]) if r.get("errors") else ""))
        return 0 if all(r["status"] in ("succeeded",) for r in results) else 1
    if not args.segment or not args.destination:
        raise ValueError("Give a SEGMENT and --destination NAME, or --all.")
    kind, sid = audiences.parse_source(args.segment)
    audiences.check_settings(args.schedule, args.holdout)
    # The link is keyed by the segment's id whether its name or id was typed; the schedule and
    # holdout are saved by the sync once it succeeds (a dry run or a failed sync changes no setting).
    key = audiences.link_audience(ws, user, kind, sid, args.destination)
    asked = [f"--{name}" for name, value in (("schedule", args.schedule), ("holdout", args.holdout))
             if value is not None]
    if args.dry_run:
        out = sync.dry_run(ws, user, key, full=args.full, holdout_pct=args.holdout)
        print_json({k: v for k, v in out.items() if k != "sample_payload"})
        for op, text in out["sample_payload"].items():
            print(f"\nSample {op} request (first members):\n{text[:3000]}")
        if asked:
            print(f"\nA dry run saves no setting: {' and '.join(asked)} are saved by a sync that succeeds.")
        return 0
    out = sync.sync(ws, user, key, full=args.full, progress=None if args.json else progress_printer("sync"),
                    schedule=args.schedule, holdout_pct=args.holdout)
    if args.json:
        print_json({**out, "batches": out["batches"].to_dict("records")})
        return 0 if out["status"] == "succeeded" else 1
    print(f"Run {out['run_id']} {out['status']}{' (resumed)' if out['resumed'] else ''}: "
          f"added {out['added']:,}, removed {out['removed']:,}, failed {out['failed']:,}, "
          f"held back {out['held_back']:,}, holdout {out['holdout']:,}.")
    for err in out["errors"]:
        print(f"  {err}")
    for line in feedback.describe(out["platform_report"]):
        print(f"  Platform: {line}")
    if asked and not out["settings_saved"]:
        print(f"  {' and '.join(asked)} not saved: the sync did not succeed.")
    written = sandbox.written(ws, args.destination, key)
    if written is not None:
        print(f"The sandbox's files (what the platform would receive) are in {written['folder']}")
    return 0 if out["status"] == "succeeded" else 1


def cmd_history(args) -> int:
    df = sync.history(workspace(), actor(), limit=args.limit)
    rows = [(r.run_id, r.audience_key, r.status, str(r.started_at)[:19], r.started_by, r.added, r.removed,
             r.failed, r.held_back) for r in df.itertuples()]
    print_table(rows, ["run", "audience", "status", "started", "by", "added", "removed", "failed", "held back"])
    return 0


def cmd_dest_add(args) -> int:
    settings = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set takes KEY=VALUE; got {item!r}")
        settings[key.strip()] = value.strip()
    config.add_destination(workspace(), actor(), args.name, args.kind, settings, replace=args.replace)
    names = ", ".join(KINDS[args.kind].secret_names)
    print(f"Destination {args.name} ({KINDS[args.kind].label}) saved. "
          + (f"Put its {names} in .streamlit/secrets.toml under [destinations.{args.name}] or the environment."
             if names else "It needs no credentials."))
    return 0


def cmd_dest_list(args) -> int:
    df = config.list_destinations(workspace())
    print_table([(r.name, r.label, r.credentials, json.loads(r.settings or "{}")) for r in df.itertuples()],
                ["name", "kind", "credentials", "settings"])
    return 0


def cmd_dest_remove(args) -> int:
    config.remove_destination(workspace(), actor(), args.name)
    print(f"Destination {args.name} removed.")
    return 0
