"""Delivery: batches within each platform's limits, retries with backoff, dead letters, a log.

At-least-once: rows are marked `sending` with a batch id before the request, and a crashed
run's `sending` rows are sent again with the same event ids, which the platforms deduplicate.
"""
from __future__ import annotations

import json

from engine.access import User, audit, require
from engine.activation.http import AuthError, DeliveryError, HttpClient, RejectedError, Request
from engine.forward import sandbox
from engine.forward.config import delivery_token, get_destination

MAX_ATTEMPTS = 5


class ForwardError(RuntimeError):
    """Delivery stopped for a reason a person must fix (credentials, configuration)."""


def describe_error(status: int, body: bytes) -> str:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        data = {}
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return f"{error.get('message') or error.get('status') or 'error'} (HTTP {status})"
    return f"HTTP {status}"


def build_request(dest: dict, token: str, payloads: list[dict]) -> Request:
    settings = dest["settings"]
    if dest["kind"] == "meta_capi":
        version = settings.get("api_version") or "v21.0"
        body = {"data": payloads, "access_token": token}
        if settings.get("test_event_code"):
            body["test_event_code"] = settings["test_event_code"]
        url = f"{dest['base_url']}/{version}/{settings['pixel_id']}/events"
        return Request("POST", url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    destination = {"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": settings["account_id"]},
                   "productDestinationId": settings["conversion_action_id"]}
    if settings.get("login_account_id"):
        destination["loginAccount"] = {"accountType": "GOOGLE_ADS", "accountId": settings["login_account_id"]}
    body = {"destinations": [destination], "encoding": "HEX", "events": payloads,
            "validateOnly": str(settings.get("validate_only", "")).lower() == "true"}
    return Request("POST", f"{dest['base_url']}/v1/events:ingest", json.dumps(body).encode(),
                   {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})


def _claim(workspace, destination: str, size: int) -> tuple[int | None, list[dict]]:
    with workspace.transaction() as con:
        batch_id = con.execute("SELECT nextval('forward_batch_seq')").fetchone()[0]
        con.execute("""
            UPDATE forward_queue SET status = 'sending', batch_id = ?, attempts = attempts + 1
            WHERE destination = ? AND event_id IN (
                SELECT event_id FROM forward_queue WHERE destination = ? AND status IN ('sending', 'pending')
                ORDER BY status = 'sending' DESC, event_time LIMIT ?)""", [batch_id, destination, destination, size])
        rows = con.execute("SELECT payload FROM forward_queue WHERE batch_id = ? ORDER BY event_time",
                           [batch_id]).fetchall()
        if not rows:
            return None, []
        con.execute("INSERT INTO forward_batches (batch_id, destination, events, status) VALUES (?, ?, ?, 'sending')",
                    [batch_id, destination, len(rows)])
    return batch_id, [json.loads(r[0]) for r in rows]


def _settle(workspace, destination: str, batch_id: int, status: str, error: str | None,
            response: dict | None, accepted: int, rejected: int) -> None:
    with workspace.transaction() as con:
        if status == "sent":
            con.execute("UPDATE forward_queue SET status = 'sent', sent_at = now(), reason = NULL WHERE batch_id = ?",
                        [batch_id])
        elif status == "dead":
            con.execute("UPDATE forward_queue SET status = 'dead', reason = ? WHERE batch_id = ?", [error, batch_id])
        else:  # retry later, or give up after MAX_ATTEMPTS
            con.execute("""UPDATE forward_queue SET
                status = CASE WHEN attempts >= ? THEN 'dead' ELSE 'pending' END, reason = ?
                WHERE batch_id = ?""", [MAX_ATTEMPTS, error, batch_id])
        con.execute("""UPDATE forward_batches SET finished_at = now(), status = ?, error = ?, response = ?,
                       accepted = ?, rejected = ? WHERE batch_id = ?""",
                    [status, error, json.dumps(response or {}), accepted, rejected, batch_id])


def deliver(workspace, user: User, destination: str, client: HttpClient | None = None,
            max_batches: int | None = None, progress=None) -> dict:
    """Send what is pending for one destination; returns counts sent, dead, retrying."""
    require(user, "push_audiences")
    dest = get_destination(workspace, destination)
    token = delivery_token(dest)
    if not token:
        raise ForwardError(f"No access token for {destination}: set [destinations.{destination}] access_token "
                           "in .streamlit/secrets.toml or the matching CDP_DEST_..._ACCESS_TOKEN variable.")
    client = sandbox.recorder(workspace, dest) if dest["sandbox"] else client or HttpClient()
    size = min(int(dest["settings"].get("batch_size") or dest["batch_limit"]), dest["batch_limit"])
    totals = {"batches": 0, "sent": 0, "dead": 0, "retrying": 0}
    pending = workspace.scalar("SELECT count(*) FROM forward_queue WHERE destination = ? AND status IN "
                               "('pending', 'sending')", [destination]) or 0
    while max_batches is None or totals["batches"] < max_batches:
        batch_id, payloads = _claim(workspace, destination, size)
        if batch_id is None:
            break
        totals["batches"] += 1
        try:
            response = client.send(build_request(dest, token, payloads), describe_error).json()
        except AuthError as exc:
            _settle(workspace, destination, batch_id, "retrying", exc.message, None, 0, 0)
            raise ForwardError(exc.message) from exc
        except RejectedError as exc:
            _settle(workspace, destination, batch_id, "dead", exc.message, None, 0, len(payloads))
            totals["dead"] += len(payloads)
        except DeliveryError as exc:
            _settle(workspace, destination, batch_id, "retrying", exc.message, None, 0, 0)
            totals["retrying"] += len(payloads)
            break  # the platform is struggling: leave the rest for the next run
        else:
            accepted = int(response.get("events_received", len(payloads))) if isinstance(response, dict) else len(payloads)
            _settle(workspace, destination, batch_id, "sent", None, response, accepted, len(payloads) - accepted)
            totals["sent"] += len(payloads)
        if progress and pending:
            progress(min(1.0, (totals["sent"] + totals["dead"]) / pending), f"{totals['sent']:,} sent")
    with workspace.transaction() as con:
        audit(con, user, "forward.deliver", destination, totals)
    return totals


def retry_dead(workspace, user: User, destination: str) -> int:
    """Put the dead letters of a destination back in the queue."""
    require(user, "push_audiences")
    with workspace.transaction() as con:
        n = con.execute("""UPDATE forward_queue SET status = 'pending', attempts = 0, reason = NULL
                           WHERE destination = ? AND status = 'dead'""", [destination]).fetchone()[0]
        audit(con, user, "forward.retry_dead", destination, {"events": n})
    return n
