"""`cdp init`, `cdp sample`, `cdp status`, `cdp memory`, `cdp sql`, `cdp users`."""
from __future__ import annotations

import getpass
import importlib
from datetime import date

from engine.access import users as user_store
from engine.access.login import unblock_login
from engine.cli.output import actor, print_csv, print_table, progress_printer, workspace
from engine.sql_console import run_readonly
from engine.workspace import migrations, open_workspace, resources


def register(subparsers) -> None:
    p = subparsers.add_parser("init", help="create or upgrade the workspace")
    p.set_defaults(func=cmd_init)

    p = subparsers.add_parser("sample", help="build the sample workspace from sample_data/")
    p.add_argument("--force", action="store_true", help="replace an existing workspace")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                   help="the day of the most recent activity (default: today)")
    p.set_defaults(func=cmd_sample)

    p = subparsers.add_parser("status", help="tables, row counts and schema version")
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser("memory", help="the memory limit DuckDB runs with in every process",
                              description=f"Precedence: ${resources.ENV}, then the workspace setting, then "
                                          f"{resources.DEFAULT_SHARE:.0%} of the machine's (or container's) memory.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--set", metavar="SIZE", help="save a limit for this workspace: 8GB, 512MiB or 50%%")
    g.add_argument("--clear", action="store_true", help="go back to the default")
    p.set_defaults(func=cmd_memory)

    p = subparsers.add_parser("sql", help="run a read-only SQL query; CSV to stdout")
    p.add_argument("query")
    p.set_defaults(func=cmd_sql)

    p = subparsers.add_parser("users", help="manage app logins (list, add, role, password, disable, enable, "
                                           "remove, unblock)")
    sub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="list users").set_defaults(func=cmd_users_list)
    a = sub.add_parser("add", help="add a user (asks for the password)")
    a.add_argument("username")
    a.add_argument("--name", default="")
    a.add_argument("--email", default="")
    a.add_argument("--role", choices=["admin", "marketer", "analyst"], default="analyst")
    a.set_defaults(func=cmd_users_add)
    r = sub.add_parser("role", help="change a user's role")
    r.add_argument("username")
    r.add_argument("role", choices=["admin", "marketer", "analyst"])
    r.set_defaults(func=cmd_users_role)
    w = sub.add_parser("password", help="reset a user's password (asks for it)")
    w.add_argument("username")
    w.set_defaults(func=cmd_users_password)
    d = sub.add_parser("demo", help="write the documented demo users if no user file exists")
    d.set_defaults(func=cmd_users_demo)
    for name, text in (("disable", "refuse a user's logins and end their sessions"),
                       ("enable", "let a disabled user log in again"),
                       ("remove", "delete a login (the audit log keeps its history)"),
                       ("unblock", "lift the failed-login wait of a user name")):
        c = sub.add_parser(name, help=text)
        c.add_argument("username")
        c.set_defaults(func=cmd_users_access)


def cmd_init(args) -> int:
    ws = open_workspace()
    print(f"Workspace {ws.path} is at schema version {ws.schema_version()}.")
    return 0


def cmd_sample(args) -> int:
    sample = importlib.import_module("engine.sample")
    ws = workspace()
    if ws.exists() and not args.force:
        print(f"{ws.path} already exists; use --force to rebuild it from sample_data/.")
        return 1
    summary = sample.build_sample_workspace(ws.path, actor(), progress=progress_printer("sample"),
                                            replace=True, as_of=args.as_of)
    identity = summary.get("identity") or {}
    print(f"Sample workspace ready at {ws.path}: {summary.get('rows_loaded', 0):,} of "
          f"{summary.get('rows_read', 0):,} rows loaded ({summary.get('rows_quarantined', 0):,} quarantined) "
          f"from {len(summary.get('files', {}))} files, activity up to {summary.get('as_of')}, "
          f"{summary.get('profiles', 0):,} profiles, "
          f"{identity.get('to_review', 0):,} pairs to review, in {summary.get('seconds', 0):.0f} s.")
    segments = summary.get("segments") or {}
    if segments:
        print("Saved segments: " + "; ".join(f"{name} ({n:,})" for name, n in segments.items()))
    return 0


def cmd_status(args) -> int:
    ws = workspace()
    if not ws.exists():
        print(f"No workspace at {ws.path} yet; run `cdp init` or `cdp sample`.")
        return 1
    counts = ws.table_counts()
    print(f"Workspace: {ws.path}")
    print(f"Schema version: {ws.schema_version()} (this product knows up to {migrations.latest_version()})")
    print(f"Data version: {ws.data_version()}")
    memory = resources.memory_status(ws)
    print(f"Memory limit: {memory['memory_limit']} ({memory['source']}); spills to {memory['temp_directory']}")
    print()
    print_table([(name, count) for name, count in counts.items()], ["table", "rows"])
    return 0


def cmd_memory(args) -> int:
    ws = workspace()
    if args.set or args.clear:
        resources.set_memory_limit(ws, actor(), None if args.clear else args.set)
    memory = resources.memory_status(ws)
    print(f"Memory limit: {memory['memory_limit']} ({memory['source']})")
    print(f"Spill folder: {memory['temp_directory']}")
    return 0


def cmd_sql(args) -> int:
    print_csv(run_readonly(workspace(), actor(), args.query))
    return 0


def cmd_users_list(args) -> int:
    rows = user_store.list_users(actor())
    print_table([(u["username"], u["name"], u["email"], u["role"],
                  "disabled" if u["disabled"] else ("demo password" if u["demo_password"] else "active"))
                 for u in rows], ["username", "name", "email", "role", "status"])
    return 0


def _ask_password() -> str:
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Repeat it: "):
        raise ValueError("The two passwords differ.")
    return first


def cmd_users_add(args) -> int:
    user_store.add_user(workspace(), actor(), args.username, args.name, args.email,
                        _ask_password(), args.role)
    print(f"Added {args.username} ({args.role}).")
    return 0


def cmd_users_role(args) -> int:
    user_store.set_role(workspace(), actor(), args.username, args.role)
    print(f"{args.username} is now {args.role}.")
    return 0


def cmd_users_password(args) -> int:
    user_store.reset_password(workspace(), actor(), args.username, _ask_password())
    print(f"Password of {args.username} changed; their sessions have ended.")
    return 0


def cmd_users_demo(args) -> int:
    written = user_store.ensure_demo_users()
    print(f"Demo users written to {user_store.auth_file_path()}. Their passwords are published in the "
          "README: they log in only while the app listens on 127.0.0.1; change them with "
          "`cdp users password NAME` before hosting." if written
          else f"{user_store.auth_file_path()} exists; left as it is.")
    return 0



# name -> (engine call, what it prints); each takes (workspace, actor, username)
_ACCESS_CHANGES = {
    "disable": (user_store.disable_user, "{} is disabled; their sessions have ended."),
    "enable": (user_store.enable_user, "{} may log in again."),
    "remove": (user_store.remove_user, "{} is removed; their sessions have ended."),
    "unblock": (lambda ws, who, name: unblock_login(ws, who, "user", name),
                "Failed logins of {} are forgotten; they may try again now."),
}


def cmd_users_access(args) -> int:
    change, done = _ACCESS_CHANGES[args.users_command]
    change(workspace(), actor(), args.username)
    print(done.format(args.username))
    return 0
