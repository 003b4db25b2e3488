"""What the collector is doing: recent events (live tail), status and throughput.

The app runs in another process than the collector, so it reads the status file
the collector's loader rewrites every second, the spool segments not landed yet
(the last second or two of events) and the events table.
"""
from __future__ import annotations

import json
import time

import duckdb
import pandas as pd

from engine.access import User, mask_frame, require
from engine.collect.server import spool_dir, status_path
from engine.collect.spool import list_segments
from engine.processes import pid_alive
from engine.workspace import Workspace, resources

TAIL_COLUMNS = ["received_at", "source", "type", "event", "user_id", "anonymous_id",
                "message_id", "landed"]

_SPOOL_SQL = """
SELECT receivedAt AS received_at, ? AS source, type, coalesce(event, name) AS event,
       userId AS user_id, anonymousId AS anonymous_id, messageId AS message_id, false AS landed
FROM read_json(?, format = 'newline_delimited', ignore_errors = true, columns = {
    receivedAt: 'TIMESTAMPTZ', type: 'VARCHAR', event: 'VARCHAR', name: 'VARCHAR',
    userId: 'VARCHAR', anonymousId: 'VARCHAR', messageId: 'VARCHAR'})
"""


def _spooled(workspace: Workspace, limit: int) -> pd.DataFrame:
    """Events acknowledged but not landed yet, newest segments first."""
    frames, total = [], 0
    con = resources.scratch_connection()
    try:
        for segment in reversed(list_segments(spool_dir(workspace))):
            try:
                df = con.execute(_SPOOL_SQL, [segment.source, str(segment.path)]).df()
            except duckdb.Error:
                continue  # landed and deleted while we looked, or still empty
            frames.append(df)
            total += len(df)
            if total >= limit:
                break
    finally:
        con.close()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=TAIL_COLUMNS)


def recent_events(workspace: Workspace, user: User, limit: int = 50,
                  source: str | None = None) -> pd.DataFrame:
    """The newest events, spooled or landed, newest first; personal columns masked by role."""
    require(user, "view")
    spooled = _spooled(workspace, limit)
    landed = workspace.query_df(
        "SELECT received_at, source, type, coalesce(event, name) AS event, user_id, anonymous_id,"
        " message_id, true AS landed FROM events WHERE (? IS NULL OR source = ?)"
        " ORDER BY received_at DESC LIMIT ?", [source, source, limit])
    if source is not None and len(spooled):
        spooled = spooled[spooled["source"] == source]
    frames = [f for f in (spooled, landed) if len(f)]
    if not frames:
        return pd.DataFrame(columns=TAIL_COLUMNS)
    both = pd.concat(frames, ignore_index=True)
    both["received_at"] = pd.to_datetime(both["received_at"], utc=True)
    both = (both.sort_values(["received_at", "landed"], ascending=[False, True])
                .drop_duplicates("message_id").head(limit).reset_index(drop=True))
    return mask_frame(both[TAIL_COLUMNS], user)


def collector_status(workspace: Workspace) -> dict:
    """The collector's last status report, with `running` and spool figures read now."""
    status: dict = {}
    try:
        status = json.loads(status_path(workspace).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {}
    now = time.time()
    fresh = now - status.get("updated_at", 0) < 10
    status["running"] = bool(status.get("pid")) and fresh and not status.get("stopped_at") \
        and pid_alive(int(status["pid"]))
    pending = list_segments(spool_dir(workspace))
    status["pending_segments"] = len(pending)
    status["pending_bytes"] = sum(s.size for s in pending)
    return status


def event_throughput(workspace: Workspace, minutes: int = 60) -> pd.DataFrame:
    """Events received per minute and source over the last `minutes` minutes."""
    return workspace.query_df(
        "SELECT date_trunc('minute', received_at) AS minute, source, count(*) AS events"
        " FROM events WHERE received_at >= now() - to_minutes(CAST(? AS BIGINT))"
        " GROUP BY ALL ORDER BY minute", [minutes])
