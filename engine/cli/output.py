"""Small helpers the subcommands share: the workspace, the acting user, printing."""
from __future__ import annotations

import json
import sys

import pandas as pd

from engine.access import system_user
from engine.access.csv_safe import safe_csv
from engine.workspace import Workspace, default_workspace_path


def workspace() -> Workspace:
    return Workspace(default_workspace_path())


def actor():
    return system_user()


def print_json(data) -> None:
    print(json.dumps(data, indent=2, default=str))


def print_csv(df: pd.DataFrame) -> None:
    """CSV to stdout; text cells a spreadsheet would run as formulas (= + - @ tab CR) get a quote."""
    safe_csv(df, sys.stdout)


def print_table(rows: list[tuple], headers: list[str]) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))


def progress_printer(label: str):
    """A progress callback (fraction, message) that writes one updating line to stderr."""
    def report(fraction: float, message: str = "") -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{label}: {fraction:5.0%} {message[:60]:<60}")
            if fraction >= 1:
                sys.stderr.write("\n")
            sys.stderr.flush()
    return report
