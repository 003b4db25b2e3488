"""`cdp profile` (search, show, timeline, tag, note, unmerge) and `cdp journey` (funnel, paths,
attribution, cohorts): the Profiles and Journeys screens from the command line."""
from __future__ import annotations

from datetime import timedelta

from engine.cli.output import actor, print_csv, print_json, workspace
# Scripts want exact answers: every read rebuilds a stale derived table first (engine/freshness.py).
from engine.freshness import REBUILD


def register(subparsers) -> None:
    p = subparsers.add_parser("profile", help="find people; show a profile, its timeline; tag and annotate (all profiles as a file: cdp profiles export)")
    sub = p.add_subparsers(dest="profile_command", metavar="ACTION", required=True)
    s = sub.add_parser("search", help="typo-tolerant search by name, email, phone or any identifier (CSV)")
    s.add_argument("query")
    s.add_argument("--limit", type=int, default=20)
    s.set_defaults(func=cmd_search)
    v = sub.add_parser("show", help="golden record, headline figures, identifiers, consent (JSON; audited)")
    v.add_argument("profile_id")
    v.set_defaults(func=cmd_show)
    t = sub.add_parser("timeline", help="everything that happened to a person, newest first (CSV)")
    t.add_argument("profile_id")
    t.add_argument("--type", action="append", dest="types", metavar="TYPE",
                   help="web, order, subscription, crm, consent, tag, note, sync (repeatable)")
    t.add_argument("--limit", type=int, default=2000)
    t.set_defaults(func=cmd_timeline)
    g = sub.add_parser("tag", help="tag a profile (or --remove the tag)")
    g.add_argument("profile_id")
    g.add_argument("tag")
    g.add_argument("--remove", action="store_true")
    g.set_defaults(func=cmd_tag)
    n = sub.add_parser("note", help="add a note to a profile")
    n.add_argument("profile_id")
    n.add_argument("text")
    n.set_defaults(func=cmd_note)
    u = sub.add_parser("unmerge", help="split a profile: every record alone, or --group SOURCE:ID,SOURCE:ID ... "
                                       "(records not named form one more group); kept on every later run (JSON; audited)")
    u.add_argument("profile_id")
    u.add_argument("--group", action="append", dest="groups", metavar="SOURCE:ID,...",
                   help="records that stay together (repeatable)")
    u.add_argument("--no-apply", action="store_true", help="record the split; it applies on the next `cdp resolve`")
    u.set_defaults(func=cmd_unmerge)

    j = subparsers.add_parser("journey", help="funnels, paths, attribution and retention cohorts")
    jsub = j.add_subparsers(dest="journey_command", metavar="ACTION", required=True)
    f = jsub.add_parser("funnel", help="conversion per step (CSV); --dropoffs-at K lists who stopped before step K")
    f.add_argument("steps", nargs="+", metavar="STEP", help="event names in order ('Page: Home' for pages)")
    f.add_argument("--window-days", type=float, default=7)
    f.add_argument("--breakdown", help="country, city, state, rfm_segment, first_touch_utm_source, first_touch_channel")
    f.add_argument("--since")
    f.add_argument("--until")
    f.add_argument("--dropoffs-at", type=int, metavar="K")
    f.set_defaults(func=cmd_funnel)
    pa = jsub.add_parser("paths", help="most common next (or --before, previous) steps (CSV of links)")
    pa.add_argument("event")
    pa.add_argument("--before", action="store_true")
    pa.add_argument("--depth", type=int, default=3)
    pa.add_argument("--top", type=int, default=6)
    pa.add_argument("--within-hours", type=float, default=24)
    pa.set_defaults(func=cmd_paths)
    a = jsub.add_parser("attribution", help="people by first and last touch; orders and revenue by channel under "
                                             "first-touch, last-touch, linear and position-based models (CSV)")
    a.add_argument("--since")
    a.add_argument("--until")
    a.add_argument("--lookback-days", type=int, help="only touches this many days before each order")
    a.add_argument("--level", choices=["channel", "campaign"], default="channel",
                   help="rows per channel, or per channel and utm_campaign")
    a.set_defaults(func=cmd_attribution)
    c = jsub.add_parser("cohorts", help="retention by first-seen or first-order month (CSV)")
    c.add_argument("--basis", choices=["first_seen", "first_order"], default="first_seen")
    c.add_argument("--months", type=int, default=12)
    c.set_defaults(func=cmd_cohorts)


def cmd_search(args) -> int:
    from engine.profiles import search_profiles
    print_csv(search_profiles(workspace(), actor(), args.query, limit=args.limit, freshness=REBUILD))
    return 0


def cmd_show(args) -> int:
    from engine.profiles import profile_view
    view = profile_view(workspace(), actor(), args.profile_id)
    print_json({
        "profile_id": view.profile_id, "headline": view.headline,
        "golden": view.golden.to_dict("records"), "identifiers": view.identifiers.to_dict("records"),
        "consent": view.consent.to_dict("records"), "tags": view.tags["tag"].tolist(),
        "notes": view.notes.to_dict("records"), "segments": view.segments.to_dict("records"),
        "records": view.records.to_dict("records"),
    })
    return 0


def cmd_timeline(args) -> int:
    from engine.profiles import profile_timeline
    print_csv(profile_timeline(workspace(), actor(), args.profile_id, types=args.types, limit=args.limit))
    return 0


def cmd_tag(args) -> int:
    from engine.profiles import add_tag, remove_tag
    if args.remove:
        removed = remove_tag(workspace(), actor(), args.profile_id, args.tag)
        print("removed" if removed else "not tagged")
    else:
        print(add_tag(workspace(), actor(), args.profile_id, args.tag))
    return 0


def cmd_note(args) -> int:
    from engine.profiles import add_note
    print(add_note(workspace(), actor(), args.profile_id, args.text))
    return 0


def _record_keys(text: str) -> list[tuple[str, str]]:
    keys = []
    for item in (part.strip() for part in text.split(",")):
        source, sep, record_id = item.partition(":")
        if not sep or not source or not record_id:
            raise ValueError(f"Name a record as SOURCE:RECORD_ID, not {item!r}.")
        keys.append((source, record_id))
    return keys


def cmd_unmerge(args) -> int:
    from engine.identity.review import unmerge
    groups = [_record_keys(g) for g in args.groups] if args.groups else None
    result = unmerge(workspace(), actor(), args.profile_id, groups, apply=not args.no_apply)
    print_json(result)
    return 0


def cmd_funnel(args) -> int:
    from engine.journeys import funnel, funnel_dropoffs
    window = timedelta(days=args.window_days)
    if args.dropoffs_at:
        print_csv(funnel_dropoffs(workspace(), actor(), args.steps, args.dropoffs_at, window, args.since, args.until,
                                  freshness=REBUILD))
        return 0
    result = funnel(workspace(), actor(), args.steps, window, args.since, args.until, args.breakdown, freshness=REBUILD)
    print_csv(result.breakdown if args.breakdown else result.steps)
    return 0


def cmd_paths(args) -> int:
    from engine.journeys import paths
    result = paths(workspace(), actor(), args.event, "before" if args.before else "after", args.depth, args.top,
                   timedelta(hours=args.within_hours), freshness=REBUILD)
    print_csv(result.links)
    return 0


def cmd_attribution(args) -> int:
    from engine.journeys import attribution
    print_csv(attribution(workspace(), actor(), args.since, args.until, lookback_days=args.lookback_days,
                          level=args.level, freshness=REBUILD))
    return 0


def cmd_cohorts(args) -> int:
    from engine.journeys import cohorts
    print_csv(cohorts(workspace(), actor(), args.basis, args.months, freshness=REBUILD))
    return 0
