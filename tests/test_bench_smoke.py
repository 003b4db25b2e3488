"""The benchmark suite never rots: a smoke-scale run of every bench module (one run for all of
them: module-specific checks read its rows), plus the scale generator's own guarantees (seeded,
labelled truth, loads into a workspace)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import ROOT


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file() and p.name != "generation.json"}


def test_generator_is_seeded_and_labels_its_duplicates(tmp_path):
    from bench.generate import generate
    a = generate(tmp_path / "a", 300, 2000, seed=5)
    generate(tmp_path / "b", 300, 2000, seed=5)
    generate(tmp_path / "c", 300, 2000, seed=6)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert _digests(tmp_path / "a")["contacts.csv"] != _digests(tmp_path / "c")["contacts.csv"]
    assert a["counts"]["events"] == 2000 and a["counts"]["persons"] == 300 and a["bytes"] > 0
    con = duckdb.connect()
    folder = tmp_path / "a"
    con.execute(f"CREATE VIEW truth AS SELECT * FROM read_csv('{folder / 'truth.csv'}', all_varchar=true)")
    con.execute(f"CREATE VIEW contacts AS SELECT * FROM read_csv('{folder / 'contacts.csv'}', all_varchar=true)")
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{folder / 'events.parquet'}')")
    # every record and every event actor has exactly one labelled person
    assert con.execute("SELECT count(*) FROM contacts c ANTI JOIN truth t "
                       "ON t.source = 'crm' AND t.source_record_id = c.source_record_id").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM events e ANTI JOIN truth t "
                       "ON t.id_type = 'anonymous_id' AND t.source_record_id = e.anonymous_id").fetchone()[0] == 0
    assert con.execute("SELECT count(*) - count(DISTINCT (source, id_type, source_record_id)) FROM truth"
                       ).fetchone()[0] == 0
    # duplicated people, and their duplicates differ from the original the way real ones do
    dupes = con.execute("""SELECT count(*), count(*) FILTER (WHERE c.email IS DISTINCT FROM o.email
                                  OR c.first_name <> o.first_name OR c.last_name <> o.last_name)
                           FROM contacts c JOIN truth t ON t.source = 'crm' AND t.source_record_id = c.source_record_id
                           JOIN truth t0 ON t0.source = 'crm' AND t0.person_id = t.person_id
                                AND t0.source_record_id NOT LIKE 'CRM-D%'
                           JOIN contacts o ON o.source_record_id = t0.source_record_id
                           WHERE c.source_record_id LIKE 'CRM-D%'""").fetchone()
    assert dupes[0] > 30 and dupes[1] > dupes[0] / 2
    assert con.execute("SELECT count(DISTINCT type) FROM events").fetchone()[0] == 3


def test_generator_writes_segment_ndjson_and_parquet_tables(tmp_path):
    from bench.generate import generate
    generate(tmp_path, 100, 500, fmt="parquet", events_format="ndjson")
    first = json.loads((tmp_path / "events.ndjson").read_text().splitlines()[0])
    assert {"messageId", "anonymousId", "timestamp", "sentAt", "type", "context"} <= set(first)
    assert first["timestamp"].endswith("Z")
    assert duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{tmp_path / 'orders.parquet'}')"
                                    ).fetchone()[0] > 10


def test_bench_workspace_maps_every_record_to_a_profile(tmp_path):
    from bench.generate import generate
    from bench.workspace import build_bench_workspace
    from engine.workspace import Workspace
    stats = generate(tmp_path / "data", 300, 3000)
    result = build_bench_workspace(tmp_path / "data", tmp_path / "ws" / "cdp.duckdb")
    counts = result["counts"]
    assert counts["profiles"] == 300 and counts["events"] == 3000
    assert counts["contacts"] == stats["counts"]["contacts"]
    ws = Workspace(tmp_path / "ws" / "cdp.duckdb")
    members = ws.scalar("SELECT count(*) FROM profile_members")
    records = sum(counts[t] for t in ("contacts", "orders", "subscriptions", "consents"))
    assert members == records
    assert ws.scalar("SELECT count(*) FROM profile_events") == 3000   # every event reaches its person
    assert ws.scalar("SELECT count(*) FROM profile_orders") == counts["orders"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_suite_smoke_run_writes_benchmarks_markdown(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    env = {**os.environ, "CDP_BENCH_DATA": str(tmp_path / "data")}
    # bench_hosted (a browser and two servers) has its own smoke test below: not run twice
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--scale", "smoke", "--jobs", "2",
                           "--repeat", "1", "--skip", "hosted", "--output", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=560)
    results = json.loads(out.with_suffix(".json").read_text())["results"]
    modules = sorted(p.stem[len("bench_"):] for p in (ROOT / "bench").glob("bench_*.py") if p.stem != "bench_hosted")
    assert sorted(results) == modules
    failed = {name: entry["error"] for name, entry in results.items() if entry["error"]}
    assert not failed and proc.returncode == 0, (failed, proc.stderr[-2000:])
    for name, entry in results.items():
        assert entry["rows"], f"bench_{name} returned no rows"
        for r in entry["rows"]:
            assert {"capability", "measure", "value", "unit", "baseline", "baseline_value", "ratio",
                    "target", "met"} <= set(r)
    # what the per-module smoke runs checked, read from this one run instead of running each again
    segments = results["segments"]["rows"]  # bench_segments raises if compiled and hand-written counts differ
    assert len(segments) == 7 and segments[0]["value"] > 0 and segments[0]["baseline_value"] > 0
    f1 = next(r for r in results["identity"]["rows"]
              if r["measure"].startswith("pairwise F1") and "reviewer" in r["measure"])
    assert f1["value"] > 0.9
    scale = {r["measure"].split(",")[0]: r for r in results["identity_scale"]["rows"]}
    assert scale["pairwise F1"]["value"] > 0.9 and scale["peak memory"]["value"] > 0
    collect = results["collect"]["rows"]
    assert [r["unit"] for r in collect] == ["events/s", "events/s", "s"]
    assert all(r["value"] > 0 and r["baseline_value"] > 0 for r in collect)
    text = out.read_text()
    assert "cores" in text and "GB memory" in text and "--scale smoke" in text
    assert "| generate | generate 2,000 profiles, 20,000 events |" in text
    assert "Overview: rerun" in text and "targets met" in text and "load average" in text
    out.write_text("stale")
    subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--scale", "smoke", "--output", str(out),
                    "--render"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
    assert out.read_text() == text            # the Markdown is rebuilt from the stored results alone


def test_a_module_section_holds_its_own_rows(tmp_path):
    from bench import run as bench_run

    def entry(measure, section=None):
        return {"rows": bench_run.normalise([{"measure": measure, "value": 1.5, "unit": "s"}], "m"),
                "error": None, "section": section}
    meta = {"machine": bench_run.machine(), "command": "python bench/run.py", "date": "today", "scale": "smoke"}
    out = tmp_path / "B.md"
    bench_run.write_markdown(out, {"plain": entry("plain figure"), "own": entry("own figure", "## Own\n\nWhy.")},
                             meta)
    text = out.read_text()
    main, own = text.split("## Own")
    assert "plain figure" in main and "own figure" not in main
    assert "Why." in own and "| own figure | 1.50 s |" in own.split("## When")[0]


@pytest.mark.browser
@pytest.mark.timeout(180)
@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                    reason="needs Debian's chromium and chromium-driver")
@pytest.mark.parametrize("collector", ["separate", "held"])
def test_hosted_bench_drives_the_app_in_a_browser_while_events_stream(tmp_path, monkeypatch, collector):
    """bench_hosted at tiny scale, one user, the three screens with actions: every step settles
    without an error shown, and the probe events become queryable; with `cdp collect` beside the
    app, and with the collector inside an app that holds the workspace open (as BENCHMARKS.md runs it),
    the browser at the lowest CPU priority, after a phase with nobody logged in."""
    monkeypatch.setenv("CDP_BENCH_DATA", str(tmp_path / "data"))
    from bench.bench_hosted import measure, rows_of
    held = collector == "held"
    *idle, result = measure("smoke", (1,), duration=1, rate=20, resolve=False, only=("Segments", "Journeys", "Profiles"),
                            collector=collector, browser_nice=19 if held else 0, idle=held)
    if held:      # first a phase with nobody logged in: no visits, the server's CPU measured
        assert idle[0]["sessions"] == 0 and not idle[0]["visits"] and idle[0]["server_cores"] is not None
        assert any(r["measure"].startswith("nobody logged in: the app server's CPU") for r in rows_of(idle[0]))
    steps = {v["step"] for v in result["visits"]}
    assert {"log in", "segment count"} <= steps and len(steps) >= 3, steps
    assert not result["failures"] and not [v for v in result["visits"] if v["errors"]], result
    assert result["delays"] and result["events"]["acknowledged"] > 0 and result["events"]["refused"] == 0
    rows = rows_of(result)
    assert all(r["capability"] == "hosted" and r["value"] is not None for r in rows)
    assert any(r["measure"].startswith("N=1: errors") and r["value"] == 0 for r in rows)


def test_repeat_cap_times_each_figure_once(monkeypatch):
    from bench.timing import REPEAT_CAP, median_time
    calls = []
    monkeypatch.setenv(REPEAT_CAP, "1")
    _, times = median_time(lambda: calls.append(1), repeat=5, warmup=1)
    assert len(times) == 1 and len(calls) == 1          # no warmup, one timed run
    monkeypatch.delenv(REPEAT_CAP)
    _, times = median_time(lambda: calls.append(1), repeat=3, warmup=1)
    assert len(times) == 3 and len(calls) == 5
