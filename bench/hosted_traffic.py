"""Event traffic for the hosted benchmark, through the collector's real HTTP API with a write key.

`Streamer` sends Segment track events at a steady rate (batches every 0.1 s) and counts what the
collector acknowledged or refused; `Probe` sends one event with a unique message id every few
seconds and polls the workspace with read-only queries until it is there: the
ack-to-queryable delay a user of the app sees. With `landed=True` it reads the collector's
`/health` instead (queryable once the landed count reaches the acknowledged count its own
acknowledgement left): no extra process opens the workspace file, which would itself hold up the
app and the landings (and cannot open it at all while the app collects in process and holds it).
"""
from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import threading
import time
import uuid

EVENTS = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")


def _event(message_id: str, anonymous_id: str, name: str) -> dict:
    return {"type": "track", "event": name, "messageId": message_id, "anonymousId": anonymous_id,
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
            "properties": {"sku": "SKU-1", "price": 19.99, "currency": "EUR"},
            "context": {"library": {"name": "bench-hosted", "version": "1"}}}


class _Client:
    """One keep-alive connection POSTing batches to /v1/batch; reconnects after a failure."""

    def __init__(self, host: str, port: int, key: str):
        self.host, self.port = host, port
        self.auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
        self.conn: http.client.HTTPConnection | None = None

    def send(self, events: list[dict]) -> int:
        """HTTP status of one batch (0 when the connection failed)."""
        body = json.dumps({"batch": events}).encode()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.conn.request("POST", "/v1/batch", body=body,
                              headers={"Content-Type": "application/json", "Authorization": self.auth})
            response = self.conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):   # e.g. a keep-alive connection the server closed
            self.close()
            return 0

    def health(self) -> dict | None:
        """The collector's GET /health answer (None when the connection failed)."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.conn.request("GET", "/health")
            response = self.conn.getresponse()
            return json.loads(response.read() or b"{}")
        except (OSError, http.client.HTTPException, ValueError):
            self.close()
            return None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# Events a request at most: analytics-python sends up to 100 a batch (its upload_size), and the
# HTTP API takes up to 500 KB a batch (engine/collect/protocol.py MAX_BATCH_BYTES).
MAX_BATCH_EVENTS = 100


class Streamer(threading.Thread):
    """`rate` events/s from the given anonymous ids until stop(); counts acknowledged and refused."""

    def __init__(self, host: str, port: int, key: str, rate: float, anonymous_ids: list[str]):
        super().__init__(daemon=True)
        self.client = _Client(host, port, key)
        self.rate, self.ids = rate, anonymous_ids or ["bench-anon"]
        self.acked = self.refused = self.failed = 0
        self.statuses: dict[int, int] = {}     # refused events by the status they got
        self._stop_event = threading.Event()

    def run(self) -> None:
        sent, started, tick = 0, time.monotonic(), 0.1
        while not self._stop_event.is_set():
            due = min(int((time.monotonic() - started) * self.rate) - sent, MAX_BATCH_EVENTS)
            if due > 0:      # after a slow answer, the backlog goes in batches a client library would send
                events = [_event(f"hosted-{uuid.uuid4().hex}", self.ids[(sent + i) % len(self.ids)],
                                 EVENTS[(sent + i) % len(EVENTS)]) for i in range(due)]
                status = self.client.send(events)
                if status == 200:
                    self.acked += due
                elif status:
                    self.refused += due
                    self.statuses[status] = self.statuses.get(status, 0) + due
                else:
                    self.failed += due
                sent += due
                if due == MAX_BATCH_EVENTS:
                    continue
            self._stop_event.wait(tick)
        self.client.close()

    def counts(self) -> dict:
        return {"acknowledged": self.acked, "refused": self.refused, "failed": self.failed,
                **{f"status {code}": n for code, n in sorted(self.statuses.items())}}

    def stop(self) -> None:
        self._stop_event.set()
        self.join(30)


class Probe(threading.Thread):
    """Every `every` s: one event with a unique message id, then read-only polls until it is queryable."""

    def __init__(self, host: str, port: int, key: str, workspace, every: float = 3.0, give_up: float = 120.0,
                 landed: bool = False):
        super().__init__(daemon=True)
        self.client = _Client(host, port, key)
        self.landed = _Client(host, port, key) if landed else None
        self.workspace, self.every, self.give_up = workspace, every, give_up
        self.delays: list[float] = []
        self.acked_at: list[float] = []        # time.monotonic() of each delay's acknowledgement
        self.lost = 0                          # acknowledged but not queryable within give_up seconds
        self._stop_event = threading.Event()

    def _landed_after(self) -> int | None:
        """The acknowledged count right after our acknowledgement (the collector's /health); tried
        again on a fresh connection when the server had closed the idle keep-alive one."""
        for _ in range(3 if self.landed else 0):
            health = self.landed.health()
            if health:
                return health.get("acked_events")
        return None

    def _queryable(self, message_id: str, acked_before: int | None = None) -> bool:
        if self.landed is not None:
            health = self.landed.health()
            return bool(health) and acked_before is not None and health.get("landed_events", 0) >= acked_before
        with self.workspace.connect(read_only=True) as con:
            return con.execute("SELECT count(*) FROM events WHERE message_id = ?", [message_id]).fetchone()[0] > 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            message_id = f"probe-{uuid.uuid4().hex}"
            if self.client.send([_event(message_id, "bench-probe", "Product Viewed")]) == 200:
                acked = time.monotonic()
                mark = self._landed_after()
                while time.monotonic() - acked < self.give_up:
                    try:
                        if self._queryable(message_id, mark):
                            self.delays.append(time.monotonic() - acked)
                            self.acked_at.append(acked)
                            break
                    except Exception:            # noqa: BLE001 - a busy file: poll again
                        pass
                    time.sleep(0.2)
                else:
                    self.lost += 1
            self._stop_event.wait(self.every)
        self.client.close()
        if self.landed:
            self.landed.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(self.give_up + 30)
