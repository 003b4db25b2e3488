"""Scheduled syncs: `cdp audience sync --all` (run by cron) runs every audience that is due."""
from __future__ import annotations

from typing import Callable

import pandas as pd

from engine.access import User, require
from engine.activation import sync
from engine.activation.http import HttpClient

INTERVALS = {"hourly": 3600, "daily": 86400}
# A little slack so a cron job firing every hour on the hour does not skip a run that
# started a few seconds after the hour last time.
SLACK_SECONDS = 120


def due_audiences(workspace) -> pd.DataFrame:
    """Scheduled audiences whose last run started longer ago than their interval (or never ran),
    plus any with an interrupted run to resume."""
    return workspace.query_df(f"""
        SELECT a.audience_key, a.schedule, r.last_started
        FROM activation_audiences a
        LEFT JOIN (SELECT audience_key, max(started_at) AS last_started,
                          bool_or(status = 'running') AS unfinished
                   FROM activation_runs GROUP BY audience_key) r USING (audience_key)
        WHERE (a.schedule IN ('hourly', 'daily') AND (r.last_started IS NULL OR
               epoch(now() - r.last_started) >= CASE a.schedule WHEN 'hourly' THEN {INTERVALS['hourly']}
                                                   ELSE {INTERVALS['daily']} END - {SLACK_SECONDS}))
           OR coalesce(r.unfinished, false)
        ORDER BY a.audience_key""")


def run_due(workspace, user: User, progress: Callable[[float, str], None] | None = None,
            client: HttpClient | None = None) -> list[dict]:
    """Run every due sync; one failing audience does not stop the others."""
    require(user, "push_audiences")
    results = []
    due = due_audiences(workspace)
    for i, key in enumerate(due["audience_key"]):
        if progress:
            progress(i / max(1, len(due)), key)
        try:
            out = sync.sync(workspace, user, key, client=client)
            results.append({"audience_key": key, "status": out["status"], "run_id": out["run_id"],
                            "added": out["added"], "removed": out["removed"], "failed": out["failed"],
                            "held_back": out["held_back"], "errors": out["errors"]})
        except (ValueError, PermissionError) as exc:
            results.append({"audience_key": key, "status": "error", "errors": [str(exc)]})
    if progress:
        progress(1.0, "done")
    return results
