"""Raw files and the database file itself: removing a person's traces after an erasure."""
from __future__ import annotations

import os
from pathlib import Path

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".json", ".ndjson", ".jsonl", ".spool", ".log"}


def _workspace_files(workspace) -> list[Path]:
    own = {workspace.path.name, workspace.path.name + ".wal"}
    return [p for p in workspace.folder.rglob("*") if p.is_file() and p.name not in own
            and not p.name.endswith((".duckdb", ".duckdb.wal"))]


def scrub_folder(workspace, values: set[str]) -> int:
    """Remove every line naming the person from raw text files under the workspace folder
    (landing files, collector spool, exports); binary files naming them are deleted.
    Returns how many files changed."""
    needles = [v.lower().encode("utf-8") for v in values if v and len(v) >= 3]
    if not needles:
        return 0
    changed = 0
    for path in _workspace_files(workspace):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        lowered = data.lower()
        if not any(n in lowered for n in needles):
            continue
        changed += 1
        if path.suffix.lower() in TEXT_SUFFIXES:
            kept = [line for line in data.splitlines(keepends=True)
                    if not any(n in line.lower() for n in needles)]
            tmp = path.with_name(path.name + ".scrub")
            tmp.write_bytes(b"".join(kept))
            os.replace(tmp, path)
        else:
            path.unlink()
    return changed


def compact(workspace) -> None:
    """Rewrite the database file so deleted rows leave nothing behind in free blocks."""
    target = workspace.path.with_name(workspace.path.stem + ".compact.duckdb")
    target.unlink(missing_ok=True)
    with workspace.connect() as con:
        name = con.execute("SELECT current_database()").fetchone()[0]
        con.execute("CHECKPOINT")
        con.execute("ATTACH ? AS compacted", [str(target)])
        con.execute(f'COPY FROM DATABASE "{name}" TO compacted')
        # (COPY FROM DATABASE carries views, and sequences at their current position.)
        con.execute("DETACH compacted")
    os.replace(target, workspace.path)
