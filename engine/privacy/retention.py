"""Retention: purge events and raw files older than the configured periods."""
from __future__ import annotations

import json
import time

from engine import order_events
from engine.access import User, audit, require
from engine.privacy.files import _workspace_files

DEFAULTS = {"events_days": 730, "raw_files_days": 90}


def get_policy(workspace) -> dict:
    raw = workspace.scalar("SELECT value FROM settings WHERE key = 'retention'")
    return {**DEFAULTS, **(json.loads(raw) if raw else {})}


def set_policy(workspace, user: User, events_days: int, raw_files_days: int) -> None:
    require(user, "privacy_requests")
    if events_days < 1 or raw_files_days < 1:
        raise ValueError("Retention periods are at least one day.")
    policy = {"events_days": int(events_days), "raw_files_days": int(raw_files_days)}
    with workspace.transaction() as con:
        con.execute("""INSERT OR REPLACE INTO settings (key, value, updated_by) VALUES ('retention', ?, ?)""",
                    [json.dumps(policy), user.username])
        audit(con, user, "privacy.retention_policy", None, policy)


def _old_files(workspace, days: int):
    cutoff = time.time() - days * 86400
    return [p for p in _workspace_files(workspace) if p.stat().st_mtime < cutoff]


def preview(workspace) -> dict:
    """What a retention run would remove now."""
    policy = get_policy(workspace)
    events = workspace.scalar("SELECT count(*) FROM events WHERE timestamp < now() - to_days(?)",
                              [policy["events_days"]])
    return {**policy, "events_to_delete": events,
            "raw_files_to_delete": len(_old_files(workspace, policy["raw_files_days"]))}


def apply(workspace, user: User) -> dict:
    """Delete what the policy says is past its time; audited."""
    require(user, "privacy_requests")
    policy = get_policy(workspace)
    with workspace.transaction() as con:
        events = con.execute("DELETE FROM events WHERE timestamp < now() - to_days(?)",
                             [policy["events_days"]]).fetchone()[0]
        order_events.delete_before(con, policy["events_days"])
        old = _old_files(workspace, policy["raw_files_days"])
        for path in old:
            path.unlink(missing_ok=True)
        result = {**policy, "events_deleted": events, "raw_files_deleted": len(old)}
        audit(con, user, "privacy.retention", None, result)
    return result
