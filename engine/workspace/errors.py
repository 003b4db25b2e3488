"""Errors about the workspace that a user should read (their own module, so connection.py and
migrations.py both use them without importing each other)."""
from __future__ import annotations

from pathlib import Path

from engine.workspace.folder import unwritable_message


class WorkspaceError(RuntimeError):
    """A problem with the workspace that a user should read."""


class WorkspaceTooNew(WorkspaceError):
    """The workspace was written by a newer version of the product."""


class WorkspaceBusy(WorkspaceError):
    """Another process held the workspace for longer than we were willing to wait."""


class WorkspaceUnwritable(WorkspaceError):
    """The workspace folder cannot be written: read-only, full, not allowed, or not a folder."""


def as_unwritable(exc: BaseException, folder: Path) -> WorkspaceUnwritable | None:
    """exc as a one-line WorkspaceUnwritable naming the folder, or None if it is something else."""
    message = unwritable_message(exc, folder)
    return WorkspaceUnwritable(message) if message else None
