"""What was forwarded, what was held back and why, and the identifiers events carried."""
from __future__ import annotations

import pandas as pd

IDENTIFIERS = {"has_email": "email", "has_phone": "phone", "has_click_id": "click id",
               "has_browser_id": "browser id", "has_ip_ua": "IP and user agent"}


def status_counts(workspace, destination: str) -> pd.DataFrame:
    return workspace.query_df("""
        SELECT status, COALESCE(reason, '') AS reason, count(*) AS events
        FROM forward_queue WHERE destination = ? GROUP BY ALL ORDER BY events DESC""", [destination])


def delivery_log(workspace, destination: str, limit: int = 200) -> pd.DataFrame:
    return workspace.query_df("""
        SELECT batch_id, started_at, finished_at, events, accepted, rejected, status, error
        FROM forward_batches WHERE destination = ? ORDER BY batch_id DESC LIMIT ?""", [destination, limit])


def auth_alert(workspace, destination: str) -> dict | None:
    """The refused-credentials alert, while the destination's latest request is the one that was refused:
    {"at": when, "message": what to do}; None once a later request went through."""
    row = workspace.query_rows("""
        SELECT status, error, COALESCE(finished_at, started_at) FROM forward_batches
        WHERE destination = ? AND status NOT IN ('sending') ORDER BY batch_id DESC LIMIT 1""", [destination])
    if row and row[0][0] == "auth_failed":
        return {"at": row[0][2], "message": row[0][1]}
    return None


def dead_letters(workspace, destination: str, limit: int = 500) -> pd.DataFrame:
    return workspace.query_df("""
        SELECT event_id, event_time, attempts, reason, payload FROM forward_queue
        WHERE destination = ? AND status = 'dead' ORDER BY event_time DESC LIMIT ?""", [destination, limit])


def match_quality(workspace, destination: str) -> pd.DataFrame:
    """Per day: the share of forwarded events carrying each identifier (long format for charts)."""
    cols = ", ".join(f"avg(CAST({c} AS DOUBLE)) AS \"{label}\"" for c, label in IDENTIFIERS.items())
    wide = workspace.query_df(f"""
        SELECT CAST(date_trunc('day', COALESCE(sent_at, enqueued_at)) AS DATE) AS day, count(*) AS events, {cols}
        FROM forward_queue WHERE destination = ? AND status IN ('sent', 'pending', 'sending')
        GROUP BY ALL ORDER BY day""", [destination])
    if wide.empty:
        return pd.DataFrame(columns=["day", "events", "identifier", "share"])
    return wide.melt(id_vars=["day", "events"], var_name="identifier", value_name="share")
