"""`cdp segment ...`: create from JSON, edit, delete, list, count, members to CSV, SQL, versions,
refresh."""
from __future__ import annotations

import json
from pathlib import Path

from engine.cli.output import actor, print_json, print_table, progress_printer, workspace


def register(subparsers) -> None:
    p = subparsers.add_parser("segment", help="build, count and export segments")
    sub = p.add_subparsers(dest="segment_command", metavar="ACTION", required=True)

    a = sub.add_parser("list", help="list saved segments")
    a.set_defaults(func=cmd_list)

    a = sub.add_parser("create", help="save a segment from a JSON definition or export")
    a.add_argument("--from-json", dest="from_json", required=True, metavar="FILE")
    a.add_argument("--name", help="segment name (default: the name in the file)")
    a.add_argument("--description", default=None)
    a.set_defaults(func=cmd_create)

    a = sub.add_parser("edit", help="save a new version: new rules (JSON), name or description")
    a.add_argument("segment", help="segment id or name")
    a.add_argument("--from-json", dest="from_json", metavar="FILE",
                   help="new rules: a JSON definition or an exported segment (its name is not used)")
    a.add_argument("--name", help="new name")
    a.add_argument("--description", default=None, help="new description")
    a.add_argument("--note", default="", help="what changed (kept in the version history)")
    a.add_argument("--json", action="store_true", help="print the result as JSON")
    a.set_defaults(func=cmd_edit)

    a = sub.add_parser("delete", help="retire a segment (history kept); --force if it feeds audiences")
    a.add_argument("segment", help="segment id or name")
    a.add_argument("--force", action="store_true",
                   help="delete even though audience links use it: the links are kept with what each "
                        "destination holds, their schedules set to manual")
    a.add_argument("--json", action="store_true", help="print the result as JSON")
    a.set_defaults(func=cmd_delete)

    a = sub.add_parser("count", help="count members of a saved segment or a JSON definition")
    a.add_argument("segment", nargs="?", help="segment id or name")
    a.add_argument("--from-json", dest="from_json", metavar="FILE")
    a.add_argument("--reach", action="store_true", help="also count reachable by email/phone/ad ids")
    a.set_defaults(func=cmd_count)

    a = sub.add_parser("members", help="write a segment's members to CSV")
    a.add_argument("segment", help="segment id or name")
    a.add_argument("--out", required=True, metavar="FILE.csv")
    a.set_defaults(func=cmd_members)

    a = sub.add_parser("sql", help="show the SQL a segment compiles to (admins)")
    a.add_argument("segment", nargs="?", help="segment id or name")
    a.add_argument("--from-json", dest="from_json", metavar="FILE")
    a.set_defaults(func=cmd_sql)

    a = sub.add_parser("show", help="a segment's rules in words, and its JSON")
    a.add_argument("segment")
    a.add_argument("--version", type=int)
    a.set_defaults(func=cmd_show)

    a = sub.add_parser("export", help="export a segment's definition as JSON")
    a.add_argument("segment")
    a.add_argument("--out", metavar="FILE.json")
    a.set_defaults(func=cmd_export)

    a = sub.add_parser("versions", help="a segment's saved versions")
    a.add_argument("segment")
    a.set_defaults(func=cmd_versions)

    a = sub.add_parser("restore", help="make an older version current again")
    a.add_argument("segment")
    a.add_argument("version", type=int)
    a.set_defaults(func=cmd_restore)

    a = sub.add_parser("refresh", help="rebuild the event index if needed and snapshot every segment's size")
    a.set_defaults(func=cmd_refresh)

    a = sub.add_parser("overlap", help="overlap between segments")
    a.add_argument("segments", nargs="+")
    a.set_defaults(func=cmd_overlap)


def _read_json(path: str):
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"No file {path}")
    return file.read_text(encoding="utf-8")


def _definition(args):
    from engine.segments import parse_import
    return parse_import(_read_json(args.from_json))["definition"]


def _segment_id(ws, name_or_id: str) -> str:
    from engine.segments import find_segment
    return find_segment(ws, name_or_id)


def _need_one(args) -> None:
    if bool(args.segment) == bool(args.from_json):
        raise ValueError("Give a segment name or id, or --from-json FILE (one of them).")


def cmd_list(args) -> int:
    from engine.segments import list_segments
    df = list_segments(workspace())
    print_table([(r.segment_id, r.name, r.kind, r.version, "" if r.last_count != r.last_count else int(r.last_count))
                 for r in df.itertuples()], ["id", "name", "kind", "version", "last count"])
    return 0


def cmd_create(args) -> int:
    from engine.segments import create_segment, parse_import
    doc = parse_import(_read_json(args.from_json))
    name = args.name or doc["name"] or Path(args.from_json).stem
    description = args.description if args.description is not None else doc["description"]
    ws = workspace()
    sid = create_segment(ws, actor(), name, doc["definition"], description)
    from engine.segments import count_segment
    print(f"Created segment {sid} ({name!r}) with {count_segment(ws, actor(), sid):,} members.")
    return 0


def cmd_edit(args) -> int:
    from engine.segments import count_segment, get_segment, save_segment
    if args.from_json is None and args.name is None and args.description is None:
        raise ValueError("Nothing to change: give --from-json FILE, --name or --description.")
    ws = workspace()
    sid = _segment_id(ws, args.segment)
    definition = _definition(args) if args.from_json else None
    version = save_segment(ws, actor(), sid, definition, name=args.name, description=args.description,
                           note=args.note or "edited from the command line")
    seg = get_segment(ws, sid)
    members = count_segment(ws, actor(), sid)
    if args.json:
        print_json({"segment_id": sid, "name": seg["name"], "version": version, "members": members})
    else:
        print(f"Saved version {version} of segment {sid} ({seg['name']!r}) with {members:,} members.")
    return 0


def cmd_delete(args) -> int:
    from engine.segments import delete_segment
    ws = workspace()
    result = delete_segment(ws, actor(), _segment_id(ws, args.segment), force=args.force)
    if args.json:
        print_json(result)
        return 0
    print(f"Deleted segment {result['segment_id']} ({result['name']!r}); its history is kept.")
    for link in result["audiences"]:
        print(f"Audience link {link['audience_key']}: {link['members_at_destination']:,} people at "
              f"{link['destination']}, schedule was {link['schedule']}.")
    if result["audiences"]:
        print(f"Audience links: {result['audience_links']}.")
    return 0


def _target(args, ws) -> tuple[dict | None, str | None]:
    """(definition, segment id) from either a saved segment or --from-json FILE."""
    from engine.segments import get_segment
    _need_one(args)
    if args.from_json:
        return _definition(args), None
    sid = _segment_id(ws, args.segment)
    return get_segment(ws, sid)["definition"], sid


def cmd_count(args) -> int:
    from engine.segments import count_definition, count_segment, reachability
    ws = workspace()
    definition, sid = _target(args, ws)
    count = count_segment(ws, actor(), sid) if sid else count_definition(ws, definition, user=actor())
    if args.reach and definition is not None:
        print_json(reachability(ws, actor(), definition, segment_id=sid))
    else:
        print(count)
    return 0


def cmd_members(args) -> int:
    from engine.segments import export_members_csv
    ws = workspace()
    rows = export_members_csv(ws, actor(), _segment_id(ws, args.segment), args.out)
    print(f"Wrote {rows:,} members to {args.out}.")
    return 0


def cmd_sql(args) -> int:
    from engine.segments import definition_sql
    ws = workspace()
    definition, sid = _target(args, ws)
    if definition is None:
        raise ValueError("A static segment is a member list; it has no rules to compile.")
    print(definition_sql(ws, actor(), definition, segment_id=sid).pretty())
    return 0


def cmd_show(args) -> int:
    from engine.segments import describe, get_segment
    ws = workspace()
    seg = get_segment(ws, _segment_id(ws, args.segment), args.version)
    print(f"{seg['name']} ({seg['segment_id']}, version {seg['version']}, {seg['kind']})")
    if seg["description"]:
        print(seg["description"])
    if seg["definition"] is not None:
        print(describe(seg["definition"]))
        print(json.dumps(seg["definition"], indent=2))
    return 0


def cmd_export(args) -> int:
    from engine.segments import export_segment
    ws = workspace()
    doc = export_segment(ws, _segment_id(ws, args.segment))
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=2), encoding="utf-8")
        print(f"Wrote {args.out}.")
    else:
        print_json(doc)
    return 0


def cmd_versions(args) -> int:
    from engine.segments import segment_versions
    ws = workspace()
    df = segment_versions(ws, _segment_id(ws, args.segment))
    print_table([(r.version, r.name, r.saved_at, r.saved_by, r.note) for r in df.itertuples()],
                ["version", "name", "saved at", "by", "note"])
    return 0


def cmd_restore(args) -> int:
    from engine.segments import restore_version
    ws = workspace()
    new = restore_version(ws, actor(), _segment_id(ws, args.segment), args.version)
    print(f"Restored version {args.version} as version {new}.")
    return 0


def cmd_refresh(args) -> int:
    from engine.segments import refresh_segments
    report = refresh_segments(workspace(), actor(), progress=progress_printer("refresh"))
    index = report["index"]
    print("Event index was fresh." if index is None else
          f"Event index rebuilt: {index['rows']:,} events in {index['seconds']} s.")
    print(f"Counted {len(report['counts'])} segments.")
    return 0


def cmd_overlap(args) -> int:
    from engine.segments import overlap
    ws = workspace()
    result = overlap(ws, actor(), [_segment_id(ws, s) for s in args.segments])
    print(result["matrix"].to_string())
    print()
    print(result["combinations"].to_string(index=False))
    return 0
