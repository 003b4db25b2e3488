"""Conversion forwarding at scale: building the exact payloads for every recent purchase
(consent, click ids and hashing included) and delivering them in batches to a local
stand-in for the Meta Conversions API.

Baselines, same run: selecting the same conversions with their profiles by hand (no
payloads), and POSTing the same request bodies with a bare HTTP client (no queue, no log).
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.timing import median_time, row
from bench.workspace import bench_workspace
from engine.access import User
from engine.activation.http import HttpClient
from engine.forward import config
from engine.forward.deliver import build_request, deliver
from engine.forward.queue import enqueue

CAPABILITY = "forward"
REPEAT = {"smoke": 3, "medium": 3, "full": 3}
LOOKBACK_DAYS = 90
ADMIN = User("bench", "admin")


class _Sink(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = len(json.loads(body).get("data", []))
        data = json.dumps({"events_received": n, "messages": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _baseline_select(ws) -> int:
    return ws.scalar("""
        SELECT count(*) FROM profile_events e JOIN profiles p USING (profile_id)
        LEFT JOIN profile_consent_state cs ON cs.profile_id = e.profile_id AND cs.purpose = 'advertising'
        WHERE e.type = 'track' AND e.event = 'Order Completed' AND e.timestamp >= now() - to_days(?)""",
                     [LOOKBACK_DAYS])


def run(scale: str) -> list[dict]:
    repeat = REPEAT.get(scale, 3)
    with tempfile.TemporaryDirectory() as tmp:
        ws = bench_workspace(scale, copy_to=Path(tmp) / "cdp.duckdb")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        os.environ["CDP_DEST_BENCH_META_ACCESS_TOKEN"] = "bench-token"
        try:
            config.add_destination(ws, ADMIN, "bench-meta", "meta_capi", {"pixel_id": "1", "base_url": url})
            config.add_mapping(ws, ADMIN, "bench-meta", "event", "Order Completed", "Purchase",
                               content_ids_path="$.products[*].product_id", lookback_days=LOOKBACK_DAYS)
            # everyone consents here so that delivery moves every conversion
            with ws.transaction() as con:
                # consents has no key (migration 0011): replace this source's rows by hand
                con.execute("DELETE FROM consents WHERE source = 'bench-consent'")
                con.execute("""INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at)
                               SELECT 'bench-consent', profile_id, 'advertising', true, now() FROM profiles""")
                con.execute("""INSERT OR IGNORE INTO profile_members
                               SELECT profile_id, 'consents', 'bench-consent', profile_id FROM profiles""")

            def clear():
                with ws.transaction() as con:
                    con.execute("DELETE FROM forward_queue")

            def do_enqueue():
                clear()
                return enqueue(ws, "bench-meta")

            conversions = _baseline_select(ws)
            base_t, _ = median_time(lambda: _baseline_select(ws), repeat=repeat)
            enq_t, _ = median_time(do_enqueue, repeat=repeat)
            queued = ws.scalar("SELECT count(*) FROM forward_queue WHERE status = 'pending'")

            payloads = [json.loads(r[0]) for r in ws.query_rows(
                "SELECT payload FROM forward_queue WHERE status = 'pending' ORDER BY event_time")]
            dest = config.get_destination(ws, "bench-meta")
            bodies = [build_request(dest, "bench-token", payloads[i:i + 1000]) for i in range(0, len(payloads), 1000)]

            def raw_post():
                for req in bodies:
                    urllib.request.urlopen(urllib.request.Request(req.url, data=req.body, headers=req.headers),
                                           timeout=60).read()

            def do_deliver():
                with ws.transaction() as con:
                    # delivery expires events past Meta's 7-day limit; the look-back here is 90 days to
                    # have volume, so the queue's times are moved inside the window (payloads unchanged)
                    con.execute("""UPDATE forward_queue SET status = 'pending', attempts = 0,
                                   event_time = now() - INTERVAL 1 HOUR""")
                result = deliver(ws, ADMIN, "bench-meta", client=HttpClient(max_attempts=2, base_delay=0.01))
                assert result["sent"] == queued, result

            raw_t, _ = median_time(raw_post, repeat=repeat, warmup=0)
            del_t, _ = median_time(do_deliver, repeat=repeat, warmup=0)
        finally:
            server.shutdown()
            server.server_close()
    return [
        row(CAPABILITY, f"enqueue {queued:,} purchases with payloads", enq_t, "s",
            baseline=f"select the {conversions:,} conversions by hand", baseline_value=base_t),
        row(CAPABILITY, "delivery to a local Meta stand-in (1,000 per request)", queued / del_t if del_t else 0,
            "events/s", baseline="bare HTTP POST of the same bodies",
            baseline_value=queued / raw_t if raw_t else None),
    ]
