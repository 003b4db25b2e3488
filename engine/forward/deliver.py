"""Delivery: batches within each platform's limits, retries with backoff, dead letters, a log.

At-least-once: rows are marked `sending` with a batch id before the request, and a crashed
run's `sending` rows are sent again with the same event ids, which the platforms deduplicate.

Checked again at delivery, because time passes between queueing and sending:
- the person: consent withdrawn, suppressed or erased since the conversion was queued -> `skipped`;
- the platform's age limit (`age_limit_days` of its destination class) -> `expired`: Meta refuses
  a whole request when one event_time is more than 7 days old, so such events are never put in a request.
A rejected request does not condemn its batch: a platform that names the bad events (Google's
field violations `events[i]`, `rejected_events`) has them dead-lettered while the rest is sent
again; one that refuses the whole request (Meta) has the batch split in halves until each bad
event is alone. Authentication errors (HTTP 401/403, or what the platform's `refuses_credentials`
recognises: Meta code 190, Google UNAUTHENTICATED) stop the run, leave the events queued without
spending an attempt, and are logged as an `auth_failed` batch that `quality.auth_alert` shows
until a later request succeeds.

Everything that differs between platforms is in engine.forward.destinations; this module keeps
the loop, the retries and the journal (forward_queue, forward_batches, the audit log).
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

from engine.access import User, audit, require
from engine.activation.http import AuthError, DeliveryError, HttpClient, RejectedError, Request
from engine.forward import destinations, sandbox
from engine.forward.destinations.base import ConversionDestination
from engine.forward.destinations.google import field_violations  # noqa: F401  (imported from here by callers)
from engine.forward.config import delivery_token, get_destination
from engine.forward.queue import SUPPRESSED

MAX_ATTEMPTS = 5
AGE_MARGIN = timedelta(minutes=10)      # clock skew and time in flight
OPEN = ("pending", "sending")


class ForwardError(RuntimeError):
    """Delivery stopped for a reason a person must fix (credentials, configuration)."""

    def __init__(self, message: str, auth: bool = False, totals: dict | None = None):
        super().__init__(message)
        self.auth = auth
        self.totals = totals or {}


def build_request(dest: dict, token: str, payloads: list[dict]) -> Request:
    """The request sending `payloads` to a destination (as config.get_destination returns it)."""
    return destinations.platform(dest, token).request(payloads)


def _recheck(workspace, destination: str) -> int:
    """Skip queued conversions whose person is gone, suppressed or no longer consents."""
    with workspace.transaction() as con:
        orphans = con.execute("""SELECT count(*) FROM forward_queue q WHERE q.destination = ? AND q.status IN (?, ?)
            AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.profile_id = q.profile_id)""",
                              [destination, *OPEN]).fetchone()[0]
        if orphans:   # a profile merged away since queueing: follow the conversion's record to its profile now
            con.execute("""
                UPDATE forward_queue SET profile_id = cur.profile_id FROM (
                    SELECT q.event_id, any_value(COALESCE(e.profile_id, m.profile_id)) AS profile_id
                    FROM forward_queue q
                    LEFT JOIN profile_events e ON e.message_id = q.event_id
                    LEFT JOIN profile_members m ON q.event_id = 'order:' || m.source || ':' || m.source_record_id
                        OR starts_with(q.event_id, 'stage:' || m.source || ':' || m.source_record_id || ':')
                    WHERE q.destination = ? AND q.status IN (?, ?)
                      AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.profile_id = q.profile_id)
                    GROUP BY q.event_id) cur
                WHERE forward_queue.destination = ? AND forward_queue.event_id = cur.event_id
                  AND cur.profile_id IS NOT NULL""", [destination, *OPEN, destination])
        return con.execute(f"""
            UPDATE forward_queue SET status = 'skipped', reason = r.why FROM (
                SELECT q.event_id, CASE
                    WHEN c.profile_id IS NULL THEN 'person erased before delivery'
                    WHEN {SUPPRESSED} THEN 'suppressed before delivery'
                    WHEN NOT COALESCE(cs.granted, false) THEN 'advertising consent withdrawn before delivery'
                    END AS why
                FROM forward_queue q
                LEFT JOIN profiles c ON c.profile_id = q.profile_id
                LEFT JOIN profile_consent_state cs ON cs.profile_id = q.profile_id AND cs.purpose = 'advertising'
                WHERE q.destination = ? AND q.status IN (?, ?)) r
            WHERE forward_queue.destination = ? AND forward_queue.event_id = r.event_id AND r.why IS NOT NULL""",
            [destination, *OPEN, destination]).fetchone()[0]


def _expire(con, dest: dict, platform: ConversionDestination, now: datetime) -> int:
    """Mark queued events past the platform's age limit `expired` (they would spoil a whole request)."""
    by_source = platform.age_limit_days_by_source
    expired = 0
    for source, days in [(None, platform.age_limit_days), *by_source.items()]:
        cutoff = now - timedelta(days=days) + AGE_MARGIN
        which = ("json_extract_string(payload, '$.action_source') = ?" if source else
                 "COALESCE(json_extract_string(payload, '$.action_source'), '') NOT IN (SELECT unnest(?::VARCHAR[]))")
        expired += con.execute(f"""UPDATE forward_queue SET status = 'expired', reason = ?
            WHERE destination = ? AND status IN (?, ?) AND event_time < ? AND {which}""",
            [f"older than {days} days, the most {platform.platform_name} accepts", dest["name"], *OPEN, cutoff,
             source if source else sorted(by_source)]).fetchone()[0]
    return expired


def _claim(workspace, dest: dict, platform: ConversionDestination, now: datetime
           ) -> tuple[int | None, list[tuple[str, dict]], int]:
    destination = dest["name"]
    with workspace.transaction() as con:
        expired = _expire(con, dest, platform, now)
        batch_id = con.execute("SELECT nextval('forward_batch_seq')").fetchone()[0]
        con.execute("""
            UPDATE forward_queue SET status = 'sending', batch_id = ?, attempts = attempts + 1
            WHERE destination = ? AND event_id IN (
                SELECT event_id FROM forward_queue WHERE destination = ? AND status IN ('sending', 'pending')
                ORDER BY status = 'sending' DESC, event_time LIMIT ?)""", [batch_id, destination, destination, platform.batch_size])
        rows = con.execute("SELECT event_id, payload FROM forward_queue WHERE batch_id = ? ORDER BY event_time",
                           [batch_id]).fetchall()
        if not rows:
            return None, [], expired
        con.execute("""INSERT INTO forward_batches (batch_id, destination, started_at, events, status)
                       VALUES (?, ?, ?, ?, 'sending')""", [batch_id, destination, now, len(rows)])
    return batch_id, [(event_id, json.loads(payload)) for event_id, payload in rows], expired


class _Batch:
    """One claimed batch sent so that only the events a platform refuses are dead-lettered."""

    def __init__(self, client: HttpClient, dest: dict, platform: ConversionDestination, rows: list[tuple[str, dict]]):
        self.client, self.dest, self.platform = client, dest, platform
        self.rows = rows
        self.sent: list[str] = []
        self.dead: dict[str, str] = {}
        self.received = 0
        self.requests = 0
        self.last_error = ""
        # Isolating k bad events among n costs about 2k*log2(n) requests; past this budget the
        # rest of a rejected part is dead-lettered whole (a systematic error, not a few bad rows).
        self.budget = 8 + 6 * math.ceil(math.log2(max(2, len(rows))))

    def unresolved(self) -> list[str]:
        done = set(self.sent) | set(self.dead)
        return [event_id for event_id, _ in self.rows if event_id not in done]

    def send(self, rows: list[tuple[str, dict]] | None = None) -> None:
        """Raises AuthError or a retryable DeliveryError; content rejections are resolved here."""
        rows = self.rows if rows is None else rows
        if rows is not self.rows and self.requests >= self.budget:
            self.dead.update({event_id: self.last_error for event_id, _ in rows})
            return
        self.requests += 1
        try:
            response = self.client.send(self.platform.request([p for _, p in rows]),
                                        self.platform.describe_error).json()
        except RejectedError as exc:
            if self.platform.is_auth_error(exc):
                raise AuthError(exc.message, exc.status, exc.body) from exc
            self.last_error = exc.message
            self._isolate(rows, exc)
            return
        self.sent.extend(event_id for event_id, _ in rows)
        self.received += self.platform.received(response, len(rows))

    def _isolate(self, rows: list[tuple[str, dict]], exc: RejectedError) -> None:
        if len(rows) == 1:
            self.dead.update({event_id: exc.message for event_id, _ in rows})
            return
        named = self.platform.rejected_events(exc.body, len(rows))
        if named:
            self.dead.update({rows[i][0]: why for i, why in named.items()})
            rest = [row for i, row in enumerate(rows) if i not in named]
            if rest:
                self.send(rest)
            return
        middle = len(rows) // 2
        self.send(rows[:middle])
        self.send(rows[middle:])


def _settle(workspace, batch_id: int, batch: _Batch, status: str, error: str | None, now: datetime,
            retry: str | None = None) -> None:
    """Record each event's fate. retry: 'later' (counts an attempt) or 'auth' (the attempt is given back)."""
    destination = batch.dest["name"]
    with workspace.transaction() as con:
        if batch.sent:
            con.execute("""UPDATE forward_queue SET status = 'sent', sent_at = ?, reason = NULL
                           WHERE destination = ? AND event_id IN (SELECT unnest(?::VARCHAR[]))""",
                        [now, destination, batch.sent])
        if batch.dead:
            ids, reasons = zip(*batch.dead.items())
            con.execute("""UPDATE forward_queue SET status = 'dead', reason = d.reason
                           FROM (SELECT unnest(?::VARCHAR[]) AS event_id, unnest(?::VARCHAR[]) AS reason) d
                           WHERE forward_queue.destination = ? AND forward_queue.event_id = d.event_id""",
                        [list(ids), list(reasons), destination])
        waiting = batch.unresolved()
        if waiting and retry == "auth":
            con.execute("""UPDATE forward_queue SET status = 'pending', reason = ?, attempts = attempts - 1
                           WHERE destination = ? AND event_id IN (SELECT unnest(?::VARCHAR[]))""",
                        [error, destination, waiting])
        elif waiting:   # retry later, or give up after MAX_ATTEMPTS
            con.execute("""UPDATE forward_queue SET
                status = CASE WHEN attempts >= ? THEN 'dead' ELSE 'pending' END, reason = ?
                WHERE destination = ? AND event_id IN (SELECT unnest(?::VARCHAR[]))""",
                        [MAX_ATTEMPTS, error, destination, waiting])
        con.execute("""UPDATE forward_batches SET finished_at = ?, status = ?, error = ?, response = ?,
                       accepted = ?, rejected = ? WHERE batch_id = ?""",
                    [now, status, error, json.dumps({"requests": batch.requests}), batch.received,
                     len(batch.dead), batch_id])


def deliver(workspace, user: User, destination: str, client: HttpClient | None = None,
            max_batches: int | None = None, progress=None, now: datetime | None = None) -> dict:
    """Send what is pending for one destination; returns counts sent, dead, retrying, skipped, expired.

    `now` is the delivery time that age limits are measured from (the clock, unless a test sets it).
    Raises ForwardError (auth=True) when the platform refuses the credentials.
    """
    require(user, "push_audiences")
    now = now or datetime.now(timezone.utc)
    dest = get_destination(workspace, destination)
    token = delivery_token(dest)
    if not token:
        raise ForwardError(f"No access token for {destination}: set [destinations.{destination}] access_token "
                           "in .streamlit/secrets.toml or the matching CDP_DEST_..._ACCESS_TOKEN variable.")
    platform = destinations.platform(dest, token)
    client = sandbox.recorder(workspace, dest) if dest["sandbox"] else client or HttpClient()
    totals = {"batches": 0, "sent": 0, "dead": 0, "retrying": 0, "skipped": 0, "expired": 0}
    pending = workspace.scalar("SELECT count(*) FROM forward_queue WHERE destination = ? AND status IN "
                               "('pending', 'sending')", [destination]) or 0
    if pending:   # nothing queued: no recheck, no claim
        totals["skipped"] = _recheck(workspace, destination)
        pending -= totals["skipped"]
    stop = None
    while pending and (max_batches is None or totals["batches"] < max_batches):
        batch_id, rows, expired = _claim(workspace, dest, platform, now)
        totals["expired"] += expired
        if batch_id is None:
            break
        totals["batches"] += 1
        batch = _Batch(client, dest, platform, rows)
        try:
            batch.send()
        except AuthError as exc:
            queued = len(batch.unresolved()) + workspace.scalar(
                "SELECT count(*) FROM forward_queue WHERE destination = ? AND status IN (?, ?) AND batch_id IS DISTINCT FROM ?",
                [destination, *OPEN, batch_id])
            message = (f"{platform.platform_name} refused the access token for "
                       f"{destination}: {platform.describe_error(exc.status or 0, exc.body)}. Nothing more was sent; "
                       f"{queued:,} events stay queued. Renew the token "
                       f"([destinations.{destination}] access_token in .streamlit/secrets.toml or "
                       f"CDP_DEST_..._ACCESS_TOKEN) and forward again.")
            _settle(workspace, batch_id, batch, "auth_failed", message, now, retry="auth")
            stop = ForwardError(message, auth=True)
        except DeliveryError as exc:
            _settle(workspace, batch_id, batch, "retrying", exc.message, now, retry="later")
            totals["retrying"] += len(batch.unresolved())
            stop = "later"    # the platform is struggling: leave the rest for the next run
        else:
            _settle(workspace, batch_id, batch, "sent" if not batch.dead else "partial",
                    None if not batch.dead else f"{len(batch.dead):,} events rejected", now)
        totals["sent"] += len(batch.sent)
        totals["dead"] += len(batch.dead)
        if stop is not None:
            break
        if progress and pending:
            progress(min(1.0, (totals["sent"] + totals["dead"]) / pending), f"{totals['sent']:,} sent")
    with workspace.transaction() as con:
        audit(con, user, "forward.deliver", destination, {**totals, "auth_failed": isinstance(stop, ForwardError)})
    if isinstance(stop, ForwardError):
        stop.totals = totals
        raise stop
    return totals


def retry_dead(workspace, user: User, destination: str) -> int:
    """Put the dead letters of a destination back in the queue."""
    require(user, "push_audiences")
    with workspace.transaction() as con:
        n = con.execute("""UPDATE forward_queue SET status = 'pending', attempts = 0, reason = NULL
                           WHERE destination = ? AND status = 'dead'""", [destination]).fetchone()[0]
        audit(con, user, "forward.retry_dead", destination, {"events": n})
    return n
