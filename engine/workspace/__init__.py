"""The workspace: one DuckDB file, its schema migrations and safe connections."""
from engine.workspace.connection import (
    Workspace,
    WorkspaceBusy,
    WorkspaceError,
    WorkspaceTooNew,
    WorkspaceUnwritable,
    as_unwritable,
    default_workspace_path,
    open_workspace,
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
