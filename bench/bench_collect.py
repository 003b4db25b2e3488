"""Collector throughput on loopback with a batched client.

Measures, in one run:
- acknowledged events/s: batches of 500 Segment events POSTed over keep-alive connections to
  `cdp collect` (every 200 means fsynced to the spool); baseline: the same client against a
  trivial HTTP server that reads the body and discards it (with Nagle's algorithm off, like the
  collector, so neither waits ~40 ms for a delayed ACK per request: the baseline is the
  transport's ceiling, and the ratio shows what parsing, validating, stamping and fsyncing cost).
- landed events/s: from the first request until every event is queryable in the workspace;
  baseline: raw DuckDB `read_json` + INSERT of the same events from one NDJSON file.
- landing delay: seconds from the last acknowledgement until everything is queryable.

Full scale: 200,000 events, median of 3 rounds. Run: `python bench/bench_collect.py [smoke|full]`.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.child_process import Child  # noqa: E402 - after the path above

SCALES = {"smoke": 2_000, "full": 200_000}
REPEATS = {"smoke": 1, "full": 3}  # medians of REPEATS rounds
BATCH = 500
CLIENT_THREADS = 4
TARGET_EVENTS_PER_SECOND = 20_000

_DISCARD_SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the collector: no delayed-ACK stall per request
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"success": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
s = S(("127.0.0.1", 0), H)
print("Collecting events on http://127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
"""


def _event(i: int) -> dict:
    return {
        "type": "track", "event": "Product Viewed", "messageId": f"bench-{i}",
        "userId": f"user-{i % 5000}", "anonymousId": f"anon-{i % 9000}",
        "timestamp": "2026-03-01T10:00:00.000Z",
        "properties": {"sku": f"SKU-{i % 700}", "price": 19.99, "currency": "EUR",
                       "category": "shoes"},
        "context": {"library": {"name": "analytics-python", "version": "2.4.0"},
                    "ip": "10.0.0.1", "page": {"url": "https://shop.example.com/p/1"},
                    "consent": {"categoryPreferences": {"advertising": True}}},
    }


def make_bodies(n: int) -> list[tuple[bytes, int]]:
    bodies = []
    for start in range(0, n, BATCH):
        events = [_event(i) for i in range(start, min(start + BATCH, n))]
        body = json.dumps({"batch": events, "sentAt": "2026-03-01T10:00:01.000Z"}).encode()
        bodies.append((body, len(events)))
    return bodies


def _start(cmd: list[str], env: dict) -> tuple[Child, str, int]:
    """A server started in its own process group; (it, host, port) from its first output line."""
    child = Child(cmd, env=env)
    line = child.first_line()
    if "Collecting events on " not in line:
        child.stop(grace=0)
        raise RuntimeError(f"server did not start: {child.output()[-2000:]!r}")
    host_port = line.split("http://", 1)[1].split()[0]
    host, port = host_port.rsplit(":", 1)
    return child, host, int(port)


def _stop(child: Child, graceful: bool) -> None:
    """Stop the server: let it drain its queue first when graceful (SIGTERM, up to 120 s)."""
    child.stop(grace=120 if graceful else 0)


def blast(host: str, port: int, key: str, bodies: list[tuple[bytes, int]]) -> tuple[float, float, int]:
    """Send every body from CLIENT_THREADS keep-alive connections; (start, end, events acked)."""
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    work = list(bodies)
    lock = threading.Lock()
    acked = [0]
    failures = []

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=60)
        while True:
            with lock:
                if not work:
                    break
                body, count = work.pop()
            conn.request("POST", "/v1/batch", body=body,
                         headers={"Content-Type": "application/json", "Authorization": auth})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                with lock:
                    acked[0] += count
            else:
                failures.append(response.status)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(CLIENT_THREADS)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.perf_counter()
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed, e.g. HTTP {failures[0]}")
    return start, end, acked[0]


def raw_duckdb_insert(folder: Path, bodies: list[tuple[bytes, int]]) -> float:
    """Seconds for DuckDB alone to read the same events from NDJSON and insert them."""
    import duckdb

    path = folder / "raw.ndjson"
    with open(path, "wb") as f:
        for body, _ in bodies:
            for event in json.loads(body)["batch"]:
                f.write(json.dumps(event).encode() + b"\n")
    con = duckdb.connect(str(folder / "raw.duckdb"))
    con.execute("CREATE TABLE e (message_id VARCHAR PRIMARY KEY, type VARCHAR, event VARCHAR,"
                " user_id VARCHAR, anonymous_id VARCHAR, timestamp TIMESTAMPTZ,"
                " properties JSON, context JSON)")
    started = time.perf_counter()
    con.execute("INSERT INTO e SELECT messageId, type, event, userId, anonymousId, timestamp,"
                " properties, context FROM read_json(?, format='newline_delimited', columns={"
                "messageId:'VARCHAR', type:'VARCHAR', event:'VARCHAR', userId:'VARCHAR',"
                " anonymousId:'VARCHAR', timestamp:'TIMESTAMPTZ', properties:'JSON',"
                " context:'JSON'})", [str(path)])
    elapsed = time.perf_counter() - started
    con.close()
    return elapsed


def _row(measure, value, unit, baseline, baseline_value, target, met, higher_is_better=True):
    ratio = (value / baseline_value if higher_is_better else baseline_value / value) \
        if baseline_value else None
    return {"capability": "collect", "measure": measure, "value": round(value, 2), "unit": unit,
            "baseline": baseline, "baseline_value": round(baseline_value, 2),
            "ratio": round(ratio, 3) if ratio else None, "target": target, "met": met}


def one_round(folder: Path, bodies: list[tuple[bytes, int]]) -> dict:
    """One measurement on a fresh workspace: discard baseline, collector, raw DuckDB insert."""
    from engine.access import system_user
    from engine.collect.server import status_path
    from engine.sources import create_source
    from engine.workspace import open_workspace

    n = sum(count for _, count in bodies)
    ws = open_workspace(folder / "ws" / "cdp.duckdb")
    key = create_source(ws, system_user(), "Bench", "events").write_key
    env = {**os.environ, "CDP_WORKSPACE": str(ws.path), "PYTHONPATH": str(ROOT)}

    discard, host, port = _start([sys.executable, "-c", _DISCARD_SERVER], env)
    try:
        d_start, d_end, _ = blast(host, port, key, bodies)
    finally:
        _stop(discard, graceful=False)

    collector, host, port = _start(
        [sys.executable, "-m", "engine.cli.main", "collect", "--port", "0"], env)
    try:
        start, end, acked = blast(host, port, key, bodies)
        status_file = status_path(ws)
        landed_at = None
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            try:
                if json.loads(status_file.read_text())["landed_events"] >= n:
                    landed_at = time.perf_counter()
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
    finally:
        _stop(collector, graceful=True)
    landed = ws.scalar("SELECT count(*) FROM events")
    if acked != n or landed != n or landed_at is None:
        raise RuntimeError(f"sent {n}, acknowledged {acked}, landed {landed}")
    return {"discard": n / (d_end - d_start), "acked": n / (end - start),
            "landed": n / (landed_at - start), "delay": landed_at - end,
            "raw": n / raw_duckdb_insert(folder, bodies)}


def run(scale: str = "smoke") -> list[dict]:
    bodies = make_bodies(SCALES[scale])
    rounds = []
    for i in range(REPEATS[scale]):
        with tempfile.TemporaryDirectory(prefix="bench_collect_") as tmp:
            rounds.append(one_round(Path(tmp), bodies))
    m = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    return [
        _row("acknowledged events/s (fsynced, batches of 500, loopback)", m["acked"], "events/s",
             "trivial HTTP server that discards the body", m["discard"],
             f">= {TARGET_EVENTS_PER_SECOND}", m["acked"] >= TARGET_EVENTS_PER_SECOND),
        _row("landed events/s (queryable in the workspace)", m["landed"], "events/s",
             "raw DuckDB read_json + INSERT of the same events", m["raw"],
             f">= {TARGET_EVENTS_PER_SECOND}", m["landed"] >= TARGET_EVENTS_PER_SECOND),
        _row("delay from last acknowledgement to queryable", m["delay"], "s",
             "micro-batch interval", 1.0, "<= 5 s", m["delay"] <= 5, higher_is_better=False),
    ]


if __name__ == "__main__":
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "smoke"):
        print(json.dumps(row))
