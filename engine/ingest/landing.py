"""The raw copies a load keeps under <workspace folder>/landing, and what an interrupted load
leaves there.

A load copies its file to `landing/load-<load_id>-<sha>.<ext>` while it reads it, and records
that name in its `loads` row in the same transaction. A load killed before its commit (SIGKILL,
a power cut) leaves the copy with no `loads` row, and a Windows-1252 file's UTF-8 scratch copy
(`utf8-*.csv`): nothing refers to either. `clean_orphans` removes them at the next load.
"""
from __future__ import annotations

import logging
import re
import shutil
import time
import uuid
from concurrent.futures import Future
from pathlib import Path

import engine.ingest.readers as readers
from engine.workspace import as_unwritable

log = logging.getLogger("cdp.ingest")

_EXT = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json", "ndjson": ".ndjson", "parquet": ".parquet"}
_COPY = re.compile(r"^load-(\d{8,})-[0-9a-f]{16}\.[a-z]+$")
_SCRATCH = re.compile(r"^utf8-.*\.csv$")
# Only files untouched for this long are removed: well past the time a copy is written and its
# load commits, though no load can be running at the time anyway (see clean_orphans).
ORPHAN_GRACE_SECONDS = 15 * 60


def landing_folder(workspace) -> Path:
    return workspace.folder / "landing"


def keep_upload(workspace, data: bytes) -> Path:
    """An upload written once under landing/incoming with a generated name (never its own), for
    the Sources screen to preview and load; a folder that cannot take it is a WorkspaceUnwritable."""
    folder = landing_folder(workspace) / "incoming"
    path = folder / f"upload-{uuid.uuid4().hex}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass
        raise as_unwritable(exc, workspace.folder) or exc
    return path


def land_raw(workspace, path: Path, info: readers.FileInfo, load_id: int) -> tuple[Path, Future]:
    """Keep the raw file under landing/ with a generated name: (that path, the copy running in
    the background while the load reads the file)."""
    landing = landing_folder(workspace)
    landing.mkdir(parents=True, exist_ok=True)
    target = landing / f"load-{load_id:08d}-{info.sha256[:16]}{_EXT[info.format]}"
    return target, readers.in_background(shutil.copyfile, path, target)


def clean_orphans(con, workspace, grace: float | None = None) -> list[Path]:
    """Remove raw copies without a `loads` row and UTF-8 scratch copies, older than `grace`
    seconds; returns what was removed.

    Call it inside a write transaction: a load is one transaction and DuckDB lets one process
    at a time write the file (and `Workspace.transaction` one thread), so no load that could
    still commit one of these copies is running meanwhile.
    """
    landing = landing_folder(workspace)
    if not landing.is_dir():
        return []
    copies, scratch = {}, []
    for path in landing.iterdir():
        match = _COPY.match(path.name)
        if match:
            copies[path] = int(match.group(1))
        elif _SCRATCH.match(path.name):
            scratch.append(path)
    if copies:
        ids = sorted(set(copies.values()))
        kept = {row[0] for row in con.execute(
            "SELECT load_id FROM loads WHERE list_contains(?, load_id)", [ids]).fetchall()}
        orphans = [path for path, load_id in copies.items() if load_id not in kept]
    else:
        orphans = []
    cutoff = time.time() - (ORPHAN_GRACE_SECONDS if grace is None else grace)
    removed = []
    for path in orphans + scratch:
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError as exc:  # never fail a load over a leftover
            log.warning("ingest: could not remove the leftover %s: %s", path.name, exc)
    if removed:
        log.info("ingest: removed %d leftover(s) of interrupted loads from %s", len(removed), landing)
    return removed
