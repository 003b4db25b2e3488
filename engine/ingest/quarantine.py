"""Reading the quarantine and the load history (for the Sources screen and the CLI)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from engine.access import User, audit, can, require

_QUARANTINE = """
SELECT q.load_id, q.source, l.kind, l.file_name, q.row_number, q.reason, q.raw, q.created_at
FROM quarantine q LEFT JOIN loads l USING (load_id)
WHERE (? IS NULL OR q.source = ?) AND (? IS NULL OR q.load_id = ?)
ORDER BY q.load_id DESC NULLS LAST, q.row_number
"""


def quarantined_rows(workspace, user: User, source: str | None = None, load_id: int | None = None,
                     limit: int | None = 1000) -> pd.DataFrame:
    """Quarantined rows, newest load first. Raw rows hold personal data: view_pii or masked."""
    require(user, "view")
    sql = _QUARANTINE + (" LIMIT ?" if limit else "")
    params = [source, source, load_id, load_id] + ([int(limit)] if limit else [])
    df = workspace.query_df(sql, params)
    if not df.empty and not can(user, "view_pii"):
        df["raw"] = "(hidden: your role does not show personal data)"
    return df


def export_quarantine(workspace, user: User, out: str | Path, source: str | None = None,
                      load_id: int | None = None) -> int:
    """Write the quarantine to a CSV file; returns the number of rows written. Audited."""
    require(user, "export")
    df = quarantined_rows(workspace, user, source, load_id, limit=None)
    df.to_csv(out, index=False)
    with workspace.transaction() as con:
        audit(con, user, "quarantine.export", source, {"rows": len(df), "load_id": load_id})
    return len(df)


def quarantine_summary(workspace) -> pd.DataFrame:
    """Quarantined rows per source and reason (no personal data)."""
    return workspace.query_df(
        """SELECT source, regexp_replace(reason, '''.*''', '''…''') AS reason, count(*) AS rows
           FROM quarantine GROUP BY ALL ORDER BY rows DESC""")


def recent_loads(workspace, limit: int = 50) -> pd.DataFrame:
    return workspace.query_df(
        """SELECT load_id, source, kind, file_name, file_format, rows_read, rows_loaded, rows_quarantined,
                  rows_inserted, rows_updated, rows_unchanged, username, finished_at
           FROM loads ORDER BY load_id DESC LIMIT ?""", [int(limit)])


def source_freshness(workspace) -> pd.DataFrame:
    """Every source with its last load (or last event received) and how long ago that was."""
    return workspace.query_df(
        """WITH last_load AS (
               SELECT source, max(finished_at) AS last_load, count(*) AS loads,
                      sum(rows_loaded) AS rows_loaded, sum(rows_quarantined) AS rows_quarantined
               FROM loads GROUP BY source),
           last_event AS (SELECT source, max(received_at) AS last_event, count(*) AS events
                          FROM events GROUP BY source)
           SELECT s.name AS source, s.kind, s.description, l.loads, l.rows_loaded, l.rows_quarantined,
                  e.events, greatest(l.last_load, e.last_event) AS last_data,
                  CASE WHEN greatest(l.last_load, e.last_event) IS NULL THEN NULL
                       ELSE round(date_diff('minute', greatest(l.last_load, e.last_event), now()) / 60.0, 1)
                  END AS hours_since
           FROM sources s LEFT JOIN last_load l ON l.source = s.name
           LEFT JOIN last_event e ON e.source = s.name
           ORDER BY s.name""")

