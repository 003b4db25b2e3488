"""`cdp identifiers`: identifier types (priority, trust, limit) and the namespace of each source's own ids."""
from __future__ import annotations

from engine.cli.output import actor, print_json, print_table, workspace


def register(subparsers) -> None:
    p = subparsers.add_parser("identifiers", help="identifier priority, trust and limits; "
                                                  "which sources share customer ids")
    p.add_argument("--json", action="store_true")
    sub = p.add_subparsers(dest="identifiers_command", metavar="ACTION")
    n = sub.add_parser("namespace", help="declare that a source's customer ids live in a shared namespace")
    n.add_argument("source")
    n.add_argument("namespace", nargs="?", help="omit to give the source its own namespace again")
    n.set_defaults(func=cmd_namespace)
    t = sub.add_parser("trust", help="link: joins records; evidence: never joins nor conflicts, compared by edits "
                                      "(a hand-keyed id with typos)")
    t.add_argument("id_type")
    t.add_argument("trust", choices=["link", "evidence"])
    t.set_defaults(func=cmd_rule)
    m = sub.add_parser("limit", help="at most N distinct values of a type in one profile")
    m.add_argument("id_type")
    m.add_argument("max_per_profile", type=int)
    m.set_defaults(func=cmd_rule)
    p.set_defaults(func=cmd_list)


def cmd_list(args) -> int:
    from engine.identity.settings import identifier_rules

    rules = identifier_rules(workspace(), actor())
    if args.json:
        print_json(rules)
        return 0
    print_table([(r["priority"], r["id_type"], r["trust"], r["max_per_profile"] or "",
                  "per source" if r["scoped"] else "global") for r in rules["identifiers"]],
                ["priority", "id_type", "trust", "max_per_profile", "namespace"])
    if rules["namespaces"]:
        print()
        print_table([(n["source"], n["namespace"], "declared" if n["declared"] else "own")
                     for n in rules["namespaces"]], ["source", "customer_id namespace", ""])
    for o in rules["overlaps"]:
        print(f"{o['source']} and {o['other_source']} share {o['shared_values']:,} customer ids: if they are one "
              f"numbering, `cdp identifiers namespace {o['other_source']} {o['source']}`.")
    return 0


def cmd_namespace(args) -> int:
    from engine.identity.settings import set_namespace

    set_namespace(workspace(), actor(), args.source, args.namespace)
    print(f"{args.source}: customer ids in namespace {args.namespace or args.source}. "
          "Run `cdp resolve` to apply.")
    return 0


def cmd_rule(args) -> int:
    from engine.identity.settings import set_identifier_rule

    set_identifier_rule(workspace(), actor(), args.id_type, trust=getattr(args, "trust", None),
                        max_per_profile=getattr(args, "max_per_profile", None))
    print(f"{args.id_type} saved. Run `cdp resolve` to apply.")
    return 0
