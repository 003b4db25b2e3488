"""Roles and the permissions each one carries."""
from __future__ import annotations

import os
from dataclasses import dataclass

# Every permission the engine checks. Add new ones here, with the roles that hold them.
PERMISSIONS: dict[str, str] = {
    "view": "see screens and aggregated figures",
    "view_pii": "see personal data unmasked",
    "ingest": "upload files and manage sources",
    "resolve": "run identity resolution and change its settings",
    "review_matches": "accept, reject and undo match decisions; unmerge profiles",
    "edit_profiles": "add tags and notes to profiles",
    "edit_segments": "create, edit and delete segments",
    "export": "download audiences and profile data",
    "push_audiences": "sync audiences to destinations",
    "manage_destinations": "configure destinations and conversion forwarding",
    "run_sql": "run read-only SQL",
    "privacy_requests": "handle access and erasure requests, edit consent",
    "view_audit": "read the audit log",
    "manage_users": "add users, reset passwords, change roles",
    "manage_workspace": "change the workspace's resources (memory limit)",
    "view_sql": "see the SQL generated for segments",
    # value module: fitting RFM/CLV models rewrites profile_scores for everyone, and editing
    # the RFM segment rules changes every segment built on them.
    "score_value": "compute RFM and lifetime-value scores and edit RFM segment rules",
}

ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "marketer": frozenset({
        "view", "view_pii", "ingest", "resolve", "review_matches", "edit_profiles",
        "edit_segments", "export", "push_audiences", "run_sql", "score_value",
    }),
    "analyst": frozenset({"view", "run_sql", "export"}),
}


class PermissionDenied(PermissionError):
    """The acting user's role does not allow this action."""


@dataclass(frozen=True)
class User:
    """Whoever is acting: a logged-in person, or the command line."""

    username: str
    role: str
    name: str = ""

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"Unknown role {self.role!r}; roles are {', '.join(ROLES)}")

    @property
    def display_name(self) -> str:
        return self.name or self.username


def can(user: User, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}")
    return permission in ROLES[user.role]


def require(user: User, permission: str) -> None:
    """Raise PermissionDenied unless user's role holds permission."""
    if not can(user, permission):
        raise PermissionDenied(
            f"{user.display_name} ({user.role}) may not {PERMISSIONS[permission]}."
        )


def system_user() -> User:
    """The user the command line acts as: $CDP_USER / $CDP_ROLE, default an admin called 'cli'."""
    return User(
        username=os.environ.get("CDP_USER", "cli"),
        role=os.environ.get("CDP_ROLE", "admin"),
        name="Command line",
    )
