"""Telling a workspace folder that cannot be written (read-only, full, not allowed, not a
folder) from other failures, in one line that names the folder.

Both Python (OSError with errno and file names) and DuckDB (its error text names the file, e.g.
`Cannot open file "…": Read-only file system` or `Could not write file "….wal": No space left on
device`) report these. Only a failure on a path inside the workspace folder counts: an input
file that cannot be read, or a full temporary folder elsewhere, keeps its own error.
"""
from __future__ import annotations

import errno
import os
import re
from pathlib import Path

_ERRNOS = {
    errno.EROFS: "read-only",
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
    errno.EACCES: "denied",
    errno.EPERM: "denied",
    errno.ENOTDIR: "not a folder",
}
_TEXTS = {
    "Read-only file system": "read-only",
    "No space left on device": "full",
    "Disk quota exceeded": "full",
    "Permission denied": "denied",
    "Not a directory": "not a folder",
}
_QUOTED_PATH = re.compile(r'"([^"]+)"')

_ADVICE = {
    "read-only": "is read-only: make it writable, or point CDP_WORKSPACE at a workspace in a "
                 "folder you can write",
    "full": "is on a full disk: free some space there and try again",
    "denied": "cannot be written by this user: give it write permission, or point CDP_WORKSPACE "
              "at a workspace in a folder you can write",
    "not a folder": "cannot be used: part of its path is a file, not a folder",
}


def _inside(path: str | os.PathLike | None, folder: Path) -> bool:
    if not path:
        return False
    try:
        candidate = Path(os.path.abspath(os.fsdecode(path)))
    except (TypeError, ValueError):
        return False
    root = Path(os.path.abspath(folder))
    # a folder that cannot be created fails on itself or on one of its parents
    return candidate == root or root in candidate.parents or candidate in root.parents


def _kind(exc: BaseException, folder: Path) -> str | None:
    if isinstance(exc, OSError) and exc.errno in _ERRNOS:
        named = [exc.filename, exc.filename2]
        if exc.errno in (errno.EACCES, errno.EPERM) and exc.filename2 is not None:
            named = []  # denied in the middle of a copy: its source's problem as much as ours
        return _ERRNOS[exc.errno] if any(_inside(n, folder) for n in named) else None
    text = str(exc)
    kind = next((k for t, k in _TEXTS.items() if t in text), None)
    if kind is None:
        return None
    return kind if any(_inside(p, folder) for p in _QUOTED_PATH.findall(text)) else None


def unwritable_message(exc: BaseException, folder: Path) -> str | None:
    """One line for a failure to write the workspace folder, or None if exc is something else."""
    kind = _kind(exc, Path(folder))
    if kind is None:
        return None
    return f"The workspace folder {folder} {_ADVICE[kind]}."
