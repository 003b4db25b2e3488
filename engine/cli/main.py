"""Entry point of the `cdp` command.

Subcommands live in one module per capability (COMMAND_MODULES); each module
has `register(subparsers)` adding parsers whose `func(args)` returns an exit code.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from engine.access import PermissionDenied
from engine.workspace import WorkspaceError

# Order here is the order in `cdp --help`.
COMMAND_MODULES = [
    "engine.cli.core",       # init, sample, status, sql, users
    "engine.cli.ingest",     # ingest, quarantine, sources
    "engine.cli.collect",    # collect
    "engine.cli.identity",   # resolve, profiles, review
    "engine.cli.identifiers",  # identifiers
    "engine.cli.profiles",   # profile, journey
    "engine.cli.segments",   # segment
    "engine.cli.value",      # rfm, clv
    "engine.cli.currency",   # currency
    "engine.cli.activation", # audience, destinations
    "engine.cli.privacy",    # privacy
    "engine.cli.forward",    # forward
    "engine.cli.engine",     # engine (duckdb or spark)
]


# Commands after whose success the derived tables (search, journeys, segment event index) are
# brought up to date, so the app's next screen does not rebuild them (engine/derived.py).
# CDP_NO_REFRESH=1 skips it, e.g. in a script that loads many files and refreshes once.
REFRESH_AFTER = frozenset({"ingest", "resolve", "privacy", "profile"})


class CliError(Exception):
    """A problem to report in one line with a non-zero exit."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdp",
        description="Open CDP: collect, unify, segment and activate customer data.",
    )
    parser.add_argument("--workspace", metavar="PATH",
                        help="workspace DuckDB file (default: $CDP_WORKSPACE or workspace/cdp.duckdb)")
    parser.add_argument("--engine", choices=["duckdb", "spark"],
                        help="run segments, journeys and value on this engine for this run "
                             "(default: $CDP_ENGINE or the workspace's `cdp engine` setting)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # capability not installed in this build
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a reader that closes the pipe early (`cdp ... | head`) ends it quietly."""
    try:
        code = _run(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        import os
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # what a shell reports for a writer ended by SIGPIPE


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.workspace:
        import os
        os.environ["CDP_WORKSPACE"] = args.workspace
    if args.engine:
        import os
        os.environ["CDP_ENGINE"] = args.engine
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        code = int(args.func(args) or 0)
        if code == 0 and args.command in REFRESH_AFTER:
            _refresh_derived()
        return code
    except (CliError, WorkspaceError, PermissionDenied, ValueError, FileNotFoundError) as exc:
        print(f"cdp: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _refresh_derived() -> None:
    import os
    if os.environ.get("CDP_NO_REFRESH", "").lower() in ("1", "true", "yes"):
        return
    from engine.cli.output import workspace
    from engine.derived import refresh
    done = refresh(workspace())
    if done:  # stderr: stdout may be a --json answer or a CSV that a script reads
        print("Updated for the app: " + ", ".join(f"{name} ({s:.1f} s)" for name, s in done.items()),
              file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
