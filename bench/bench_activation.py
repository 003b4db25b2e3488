"""Activation at scale: export, dry run and sync of a large audience to a local stand-in for
the Meta Custom Audiences endpoint, then a diff sync after 1% of members change.

Baselines, same run: DuckDB COPY of the same members' rows to CSV (for the export), and
POSTing the same request bodies with a bare HTTP client and no journal (for the sync).
The audience is generated in SQL (profiles with email, phone, names, address; 90% with
advertising consent) so the run does not depend on the identity pipeline.
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

import pandas as pd

from bench.timing import median_time, row
from engine.access import User
from engine.activation import audiences, config, export, sync
from engine.activation.http import HttpClient
from engine.workspace import open_workspace

CAPABILITY = "activation"
SIZES = {"smoke": 2_000, "medium": 100_000, "full": 1_000_000}
REPEAT = {"smoke": 1, "medium": 3, "full": 1}
ADMIN = User("bench", "admin")
TOKEN = "bench-token"


class _Sink(BaseHTTPRequestHandler):
    """Accepts Meta-shaped uploads and counts the rows (no per-value validation)."""

    rows = 0

    def log_message(self, *args):
        pass

    def _go(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = len(json.loads(body)["payload"]["data"])
        type(self).rows += n
        data = json.dumps({"audience_id": "1", "session_id": 1, "num_received": n,
                           "num_invalid_entries": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_DELETE = _go


def build(ws, n: int) -> None:
    with ws.transaction() as con:
        con.execute("""
            INSERT INTO profiles (profile_id, email, phone, first_name, last_name, postcode, country, city)
            SELECT 'p' || lpad(CAST(i AS VARCHAR), 8, '0'), 'Person.' || i || '@Example.com',
                   '+4477' || lpad(CAST(i AS VARCHAR), 8, '0'), 'Ann' || (i % 97), 'Smith-' || (i % 31),
                   'SW1A ' || (i % 9) || 'AA', 'GB', 'London'
            FROM range(?) t(i)""", [n])
        con.execute("""INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at, method)
                       SELECT 'crm', profile_id, 'advertising', true, TIMESTAMPTZ '2025-01-01', 'form'
                       FROM profiles WHERE hash(profile_id) % 10 <> 0""")
        con.execute("""INSERT INTO profile_members (profile_id, kind, source, source_record_id)
                       SELECT source_record_id, 'consents', 'crm', source_record_id FROM consents""")


def run(scale: str) -> list[dict]:
    n = SIZES.get(scale, SIZES["smoke"])
    repeat = REPEAT.get(scale, 1)
    out: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["CDP_SECRETS_FILE"] = str(tmp / "none.toml")
        os.environ["CDP_DEST_META_ACCESS_TOKEN"] = TOKEN
        ws = open_workspace(tmp / "ws" / "cdp.duckdb")
        t0 = time.perf_counter()
        build(ws, n)
        setup = time.perf_counter() - t0
        members = ws.query_df("SELECT profile_id FROM profiles")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            config.add_destination(ws, ADMIN, "meta", "meta", {"audience_id": "1", "base_url": url})
            key = audiences.link_audience(ws, ADMIN, "list", "bench", "meta")

            # Export: hashed (Meta rules) CSV with consent enforced, vs DuckDB COPY of the same rows.
            cols = ["profile_id", "email", "phone", "first_name", "last_name", "country"]
            ours, _ = median_time(lambda: export.export_audience(
                ws, ADMIN, tmp / "ours.csv", members, columns=cols, hash_format="meta"), repeat=repeat, warmup=0)
            base_path = str(tmp / "base.csv").replace("'", "''")
            base, _ = median_time(lambda: ws.query_rows(
                f"COPY (SELECT {', '.join(cols)} FROM profiles ORDER BY profile_id) TO '{base_path}' (HEADER)"),
                repeat=repeat, warmup=0)
            out.append(row(CAPABILITY, f"export {n:,} members, Meta-hashed CSV, consent enforced", ours, "s",
                           baseline="DuckDB COPY of the same rows, plain", baseline_value=base,
                           target="< 10x the plain COPY (5 keys normalised and SHA-256 hashed, consent joins)",
                           met=ours / base < 10))

            dry, _ = median_time(lambda: sync.dry_run(ws, ADMIN, key, members=members), repeat=repeat, warmup=0)
            out.append(row(CAPABILITY, f"dry run of {n:,} members (counts, coverage, sample)", dry, "s",
                           target="< 30 s at 1M", met=dry < 30 * max(1, n / 1_000_000)))

            client = HttpClient(max_attempts=3, base_delay=0.05)
            start = time.perf_counter()
            result = sync.sync(ws, ADMIN, key, members=members, client=client)
            first = time.perf_counter() - start
            assert result["status"] == "succeeded", result["errors"]
            sent = result["added"]
            bodies = _bodies(ws, key)
            start = time.perf_counter()
            for body in bodies:
                req = urllib.request.Request(f"{url}/1/users", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
                urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req).read()
            bare = time.perf_counter() - start
            out.append(row(CAPABILITY, f"first sync of {sent:,} members to local Meta stand-in", first, "s",
                           baseline="bare POSTs of the same bodies (no planning, journal or membership)",
                           baseline_value=bare, target="< 300 s at 1M", met=first < 300 * max(1, n / 1_000_000),
                           rows_per_s=round(sent / first)))

            # 1% of members change their email: the diff sync sends only those.
            with ws.transaction() as con:
                con.execute("UPDATE profiles SET email = 'new.' || email WHERE hash(profile_id) % 100 = 7")
            start = time.perf_counter()
            diff = sync.sync(ws, ADMIN, key, members=members, client=client)
            second = time.perf_counter() - start
            out.append(row(CAPABILITY, f"diff sync after 1% changed ({diff['added']:,} sent)", second, "s",
                           baseline="first (full) sync", baseline_value=first,
                           target="< 0.3x the first sync", met=second / first < 0.3))
            out.append(row(CAPABILITY, f"setup: generate {n:,} profiles with consent in SQL", setup, "s"))
        finally:
            server.shutdown()
            server.server_close()
    return out


def _bodies(ws, key: str) -> list[bytes]:
    """The same request bodies the sync sent, rebuilt from the membership (10,000 rows each)."""
    df = ws.query_df("SELECT member_json FROM activation_membership WHERE audience_key = ? ORDER BY profile_id",
                     [key])
    schema = json.dumps(["EMAIL", "PHONE", "FN", "LN", "CT", "ST", "ZIP", "COUNTRY", "DOBY", "DOBM", "DOBD",
                         "MADID"])
    rows = df["member_json"].tolist()
    return [('{"payload":{"schema":' + schema + ',"data":[' + ",".join(rows[i:i + 10_000]) + ']},'
             '"session":{"session_id":1,"batch_seq":1,"last_batch_flag":true,"estimated_num_total":1}}').encode()
            for i in range(0, len(rows), 10_000)]


if __name__ == "__main__":
    import sys
    print(pd.DataFrame(run(sys.argv[1] if len(sys.argv) > 1 else "smoke")).to_string())
