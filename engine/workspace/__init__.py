"""The workspace: one DuckDB file, its schema migrations and safe connections."""
from engine.workspace.connection import Workspace, default_workspace_path, open_workspace
from engine.workspace.errors import (
    WorkspaceBusy,
    WorkspaceError,
    WorkspaceTooNew,
    WorkspaceUnwritable,
    as_unwritable,
)

__all__ = [
    "Workspace",
    "WorkspaceBusy",
    "WorkspaceError",
    "WorkspaceTooNew",
    "WorkspaceUnwritable",
    "as_unwritable",
    "default_workspace_path",
    "open_workspace",
]
