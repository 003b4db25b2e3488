"""The hosted dashboard under load (issue 21): one `streamlit run server.py` on a copy of the bench
workspace, `cdp collect` landing events streamed at --rate events/s through the HTTP API with a
write key, and N users in headless Chromium at once (one thread and one webdriver each) who log in,
open every screen of the sidebar and run a segment count, a funnel and a profile search.

Per N: p50/p95 seconds until each screen (and action) settled, errors Streamlit showed, time to
log in, and the collector's ack-to-queryable delay sampled through the phase (bench/hosted_traffic.py).
A last phase starts a resolve from the Identity screen (a job of the server) while the others
click, giving the other users' p95 while it runs. Targets, from the issue: p95 settle < 3 s per
screen with 10 users, no errors, ack-to-queryable < 5 s, and < 5 s for the others during a resolve.

    python -m bench.bench_hosted --scale medium --sessions 1,5 --rate 200 --duration 120
    python bench/run.py --scale full --only hosted       # the defaults of a scale, into BENCHMARKS.md

bench/run.py runs it as the README recommends hosting: the collector inside the app, which holds
the workspace open (`--collector held` here; `separate` and `in-app` for the other two ways).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.hosted_browser import BrowserUser, Visit  # noqa: E402
from bench.hosted_traffic import Probe, Streamer  # noqa: E402
from bench.timing import quantile, row  # noqa: E402
from bench.workspace import bench_workspace  # noqa: E402

DEFAULTS = {  # sessions, seconds of clicking per phase, events/s (smoke: the screens with actions, no resolve)
    "smoke": {"sessions": (1,), "duration": 5, "rate": 20, "resolve": False,
              "only": ("Segments", "Journeys", "Profiles")},
    "medium": {"sessions": (1, 5), "duration": 60, "rate": 200},
    "full": {"sessions": (1, 5, 10), "duration": 60, "rate": 200},
}
SETTLE_TARGET_S, RESOLVE_TARGET_S, DELAY_TARGET_S = 3.0, 5.0, 5.0
STEP_TIMEOUT_S = 120.0
COLLECTORS = ("separate", "in-app", "held")
PROBES = ("query", "landed")
USER = "admin"                     # sees every screen


@dataclass
class HostedApp:
    url: str
    workspace: object
    password: str
    names: list[str]               # last names to search for
    countries: list[str]           # values for the segment count's condition
    streamer: Streamer
    collector: tuple               # (host, port, key)
    step_timeout: float            # seconds a step may take before it counts as not settled
    probe_landed: bool = False     # probe through the collector's /health, not by opening the file
    browser_nice: int = 0          # the browsers' CPU priority (19: only what the server leaves)
    server_pid: int | None = None  # the app server's process (its CPU is measured per phase)
    warm: dict | None = None       # seconds the derived tables and the untimed first pass took

    def browser(self) -> BrowserUser:
        return BrowserUser(self.url, USER, self.password, self.step_timeout, self.browser_nice)


@contextlib.contextmanager
def hosted_app(scale: str, folder: Path, rate: float, step_timeout: float = STEP_TIMEOUT_S,
               collector: str = "separate", probe: str = "query", warm: bool = True, browser_nice: int = 0):
    """The app served on a private copy of the bench workspace, the collector and the streamer running.

    The collector (COLLECTORS) is `cdp collect` in its own process ("separate"), or the app's own
    server (CDP_COLLECT_IN_APP=1: "in-app", events go to the app's port), which with "held" also
    keeps the workspace open for its lifetime (CDP_HOLD_WORKSPACE=1). The derived tables are brought
    up to date before it is served and, with `warm`, one user goes through every screen untimed first.
    """
    if collector not in COLLECTORS or probe not in PROBES:
        raise ValueError(f"collector is one of {COLLECTORS}, probe one of {PROBES}")
    in_app = collector != "separate"
    from bench.bench_collect import _start, _stop
    from engine.access import system_user
    from engine.access import users as user_store
    from engine.sources import create_source
    from tests.browser.app_server import streamlit_process

    ws = bench_workspace(scale, copy_to=folder / "ws" / "cdp.duckdb")
    auth = folder / "auth.yaml"
    user_store.ensure_demo_users(auth)
    password = next(pw for name, _, _, pw, _ in user_store.DEMO_USERS if name == USER)
    key = create_source(ws, system_user(), "Hosted bench", "events").write_key
    names = [r[0] for r in ws.query_rows("SELECT last_name FROM profiles WHERE last_name IS NOT NULL "
                                         "USING SAMPLE 50 ROWS")]
    countries = [r[0] for r in ws.query_rows("SELECT country FROM profiles WHERE country IS NOT NULL "
                                             "GROUP BY ALL ORDER BY count(*) DESC LIMIT 5")]
    actors = [r[0] for r in ws.query_rows("SELECT id_value FROM profile_identifiers WHERE id_type = 'anonymous_id' "
                                          "USING SAMPLE 2000 ROWS")]
    env = {"CDP_WORKSPACE": str(ws.path), "CDP_AUTH_FILE": str(auth),
           "CDP_COOKIE_KEY": "hosted-bench-cookie-key-" + "x" * 40,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    from engine import derived
    started = time.perf_counter()
    derived.refresh(ws)            # as on a running server, where the writers keep them fresh
    settled = time.perf_counter() - started
    process = streamer = None
    try:
        if not in_app:
            process, host, port = _start([sys.executable, "-m", "engine.cli.main", "collect", "--port", "0"],
                                           {**os.environ, **env})
            streamer = Streamer(host, port, key, rate, actors)
            streamer.start()
        with streamlit_process({**env, "CDP_COLLECT_IN_APP": "1" if in_app else "",
                                "CDP_HOLD_WORKSPACE": "1" if collector == "held" else ""}) as (url, server_pid):
            if in_app:
                host, port = url.split("://", 1)[1].rsplit(":", 1)
                port = int(port)
                streamer = Streamer(host, port, key, rate, actors)
                streamer.start()
            app = HostedApp(url, ws, password, names or ["Smith"], countries or ["GB"], streamer, (host, port, key),
                            step_timeout, probe == "landed", browser_nice, server_pid)
            app.warm = {"derived_s": round(settled, 1), "first_pass_s": round(_first_pass(app), 1) if warm else None}
            yield app
    finally:
        if streamer is not None:
            streamer.stop()
        if process is not None:
            _stop(process, graceful=True)


def _click_through(user: BrowserUser, app: HostedApp, offset: int, until: float, only=None) -> None:
    """Open the screens (`only` these, if given) in turn from `offset`, with the actions on theirs, until `until`."""
    screens = [s for s in user.screens() if only is None or s in only]
    i = 0
    while True:
        title = screens[(offset + i) % len(screens)]
        user.open(title)
        if title == "Segments":
            user.segment_count(app.countries[(offset + i) % len(app.countries)])
        elif title == "Journeys":
            user.funnel(2 + (offset + i) % 28)
        elif title == "Profiles":
            user.profile_search(app.names[(offset + i) % len(app.names)])
        i += 1
        hung = any(v.timed_out for v in user.visits)     # every screen at least once, unless one hangs
        if time.monotonic() >= until and (i >= len(screens) or hung):
            return


def _first_pass(app: HostedApp) -> float:
    """One user through every screen and action once, untimed: the server's state after someone
    has used it (each slow read counted once in the process); returns its seconds."""
    started = time.perf_counter()
    user = app.browser()
    try:
        user.log_in()
        _click_through(user, app, 0, time.monotonic())
    finally:
        user.close()
    return time.perf_counter() - started


def _user_thread(app: HostedApp, offset: int, until: float, out: list, failures: list, only=None,
                 logged_in: threading.Event | None = None) -> None:
    user = None
    try:
        user = app.browser()
        out.append(user)
        user.log_in()
        if logged_in:
            logged_in.set()
        _click_through(user, app, offset, until, only)
    except Exception as exc:       # noqa: BLE001 - a crashed user is a result, not the end of the run
        failures.append(f"user {offset}: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        if logged_in:
            logged_in.set()
        if user:
            user.close()


def _start_resolve(app: HostedApp) -> Visit:
    """Another user starts a resolve from the Identity screen, then closes the tab (the job goes on)."""
    user = app.browser()
    try:
        user.log_in()
        user.open("Identity")
        return user.click_button("Run resolution", "start resolve", "Identity", text="Identity resolution")
    finally:
        user.close()


def _cpu_seconds(pid: int | None) -> float | None:
    """User and system CPU seconds the process has used so far (None if unknown)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


def phase(app: HostedApp, sessions: int, duration: float, resolve: bool = False, only=None) -> dict:
    """N users clicking for `duration` s (each through every screen at least once; nobody when N=0);
    their visits, the traffic and the server's CPU."""
    before = app.streamer.counts()
    probe = Probe(*app.collector, app.workspace, landed=app.probe_landed)
    probe.start()
    started = time.monotonic()
    cpu_before = _cpu_seconds(app.server_pid)
    users: list[BrowserUser] = []
    failures: list[str] = []
    logged_in = [threading.Event() for _ in range(sessions)]
    threads = [threading.Thread(target=_user_thread, args=(app, i, time.monotonic() + duration, users, failures,
                                                           only, logged_in[i])) for i in range(sessions)]
    for t in threads:
        t.start()
    resolver = None
    if resolve:                    # once the others are logged in and clicking
        for event in logged_in:
            event.wait(600)
        try:
            resolver = _start_resolve(app)
        except Exception as exc:   # noqa: BLE001 - the others' figures still count
            failures.append(f"starting the resolve: {type(exc).__name__}: {str(exc)[:200]}")
    if not sessions:
        time.sleep(duration)
    for t in threads:
        t.join()
    probe.stop()
    after = app.streamer.counts()
    cpu_after, seconds = _cpu_seconds(app.server_pid), time.monotonic() - started
    server_cores = round((cpu_after - cpu_before) / seconds, 2) if None not in (cpu_before, cpu_after) else None
    return {"sessions": sessions, "resolve": resolve, "seconds": round(seconds, 1), "server_cores": server_cores,
            "visits": [asdict(v) for u in users for v in u.visits],
            "resolve_started": asdict(resolver) if resolver else None,
            "failures": failures, "delays": [round(d, 3) for d in probe.delays], "lost": probe.lost,
            "delays_at": [round(t - started, 1) for t in probe.acked_at],
            "events": {k: after[k] - before.get(k, 0) for k in after}}


def rows_of(result: dict) -> list[dict]:
    """Result rows of one phase: per step p95 (p50 and count in the measure), errors, log in, delay."""
    n, visits = result["sessions"], result["visits"]
    label = (f"N={n}" if n else "nobody logged in") + (" during a resolve" if result["resolve"] else "")
    target = RESOLVE_TARGET_S if result["resolve"] else SETTLE_TARGET_S
    rows = []
    if result.get("server_cores") is not None:
        rows.append(row("hosted", f"{label}: the app server's CPU over the phase ({result['seconds']:.0f} s; the "
                        f"machine has {os.cpu_count()} cores)", result["server_cores"], "cores"))
    steps = list(dict.fromkeys(v["step"] for v in visits))
    for step in steps:
        times = [v["seconds"] for v in visits if v["step"] == step]
        p95 = quantile(times, 0.95)
        timed_out = sum(v["timed_out"] for v in visits if v["step"] == step)
        extra = f", {timed_out} did not settle" if timed_out else ""
        rows.append(row("hosted", f"{label}: {step}, p95 settle (p50 {quantile(times, 0.5):.2f} s, {len(times)} "
                        f"samples{extra})", p95, "s", target=f"< {target:g} s", met=p95 < target and not timed_out))
    every = [v["seconds"] for v in visits if v["step"] != "log in"]
    if every:
        rows.append(row("hosted", f"{label}: every screen and action, p95 settle (p50 {quantile(every, 0.5):.2f} s, "
                        f"{len(every)} samples)", quantile(every, 0.95), "s", target=f"< {target:g} s",
                        met=quantile(every, 0.95) < target))
    errors = [e for v in visits for e in v["errors"]] + result["failures"]
    shown = "; ".join(sorted(set(errors)))[:300]
    if n:
        rows.append(row("hosted", f"{label}: errors shown or users failed" + (f" ({shown})" if shown else ""),
                        len(errors), "errors", target="0", met=not errors))
    delays, ev = result["delays"], result["events"]
    if delays:
        rows.append(row("hosted", f"{label}: collector ack-to-queryable, p95 (p50 {quantile(delays, 0.5):.2f} s, "
                        f"{len(delays)} probes, {result['lost']} lost; {ev['acknowledged']:,} events acknowledged, "
                        f"{ev['refused']} refused{_by_status(ev)}, {ev['failed']} failed to send)", quantile(delays, 0.95), "s",
                        target=f"< {DELAY_TARGET_S:g} s", met=quantile(delays, 0.95) < DELAY_TARGET_S and not result["lost"]))
    return rows


def _by_status(events: dict) -> str:
    """' (413: 1,200, 503: 80)' for the refused events by the status they got, '' when none."""
    codes = [f"{k.split()[1]}: {n:,}" for k, n in events.items() if k.startswith("status ") and n]
    return f" ({', '.join(codes)})" if codes else ""


def measure(scale: str, sessions: tuple[int, ...], duration: float, rate: float, resolve: bool = True,
            only: tuple[str, ...] | None = None, json_to: Path | None = None,
            step_timeout: float = STEP_TIMEOUT_S, collector: str = "separate", probe: str | None = None,
            browser_nice: int = 0, idle: bool = False, resolve_sessions: int | None = None) -> list[dict]:
    """Every phase on one app; the resolve phase last (it changes the data) with the largest N
    (or `resolve_sessions` users: one alone shows the resolve's own weight, not the browsers');
    with `idle`, first a phase with nobody logged in (the server's CPU landing events alone).

    `only` limits the screens the users open (the smoke test's short run); `json_to` gets the
    results so far after each phase. The probe defaults to "landed" for a held workspace (a read
    of the file from outside would be refused), else "query".
    """
    probe = probe or ("landed" if collector == "held" else "query")
    folder = Path(tempfile.mkdtemp(prefix="bench-hosted-"))
    results: list[dict] = []
    try:
        with hosted_app(scale, folder, rate, step_timeout, collector=collector, probe=probe,
                        warm=only is None, browser_nice=browser_nice) as app:
            plan = ([(0, False)] if idle else []) + [(n, False) for n in sessions] \
                + ([(resolve_sessions or max(sessions), True)] if resolve else [])
            for n, with_resolve in plan:
                results.append({**phase(app, n, duration, resolve=with_resolve, only=only), "warm": app.warm})
                if json_to:
                    write_json(json_to, scale, results)
        return results
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_json(path: Path, scale: str, results: list[dict]) -> list[dict]:
    """The rows and every phase's visits and probes in one JSON file; returns the rows."""
    rows = [r for result in results for r in rows_of(result)]
    warm = results[0].get("warm") if results else None
    if warm:
        rows.insert(0, row("hosted", "before the phases: derived tables brought up to date, then one user through "
                           f"every screen untimed ({warm['first_pass_s']} s)", warm["derived_s"], "s"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"scale": scale, "rows": rows, "phases": results}, indent=1, default=str))
    return rows


def run(scale: str) -> list[dict]:
    """What bench/run.py calls: the scale's default sessions, duration and rate (details in bench/out/)."""
    from tests.browser.app_server import CHROMEDRIVER, CHROMIUM
    if not (CHROMIUM and CHROMEDRIVER):
        return [row("hosted", "not measured: needs Debian's chromium and chromium-driver", None, "s")]
    d = DEFAULTS.get(scale, DEFAULTS["full"])
    out = ROOT / "bench" / "out" / f"hosted-{scale}.json"
    return write_json(out, scale, measure(scale, d["sessions"], d["duration"], d["rate"], json_to=out,
                                          resolve=d.get("resolve", True), only=d.get("only"), collector="held",
                                          idle=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Load benchmark of the hosted app (issue 21).")
    parser.add_argument("--scale", default="medium", choices=sorted(DEFAULTS))
    parser.add_argument("--sessions", help="comma-separated numbers of users at once (default per scale)")
    parser.add_argument("--rate", type=float, help="events/s streamed to the collector")
    parser.add_argument("--duration", type=float, help="seconds each phase clicks")
    parser.add_argument("--step-timeout", type=float, default=STEP_TIMEOUT_S,
                        help="seconds a screen may take to settle before it counts as an error (and the "
                             "user stops after the phase's duration)")
    parser.add_argument("--no-resolve", action="store_true", help="skip the phase with a resolve running")
    parser.add_argument("--resolve-sessions", type=int,
                        help="users clicking during the resolve phase (default: the largest of --sessions)")
    parser.add_argument("--idle", action="store_true",
                        help="first a phase with nobody logged in: the server's CPU landing events alone")
    parser.add_argument("--json", type=Path, help="output (default bench/out/hosted-<scale>.json)")
    parser.add_argument("--collector", choices=COLLECTORS, default="separate",
                        help="`cdp collect` in its own process, inside the app (CDP_COLLECT_IN_APP=1), or "
                             "inside the app holding the workspace open (and CDP_HOLD_WORKSPACE=1; probes --probe landed)")
    parser.add_argument("--probe", choices=PROBES,
                        help="ack-to-queryable: poll the workspace read-only (query) or the collector's "
                             "/health landed count (landed: opens no file; the default with --collector held)")
    parser.add_argument("--browser-nice", type=int, default=0,
                        help="run the browsers at this lower CPU priority (19: they stand for people's own "
                             "machines and take only the CPU the server leaves; 0, the default: equal)")
    args = parser.parse_args(argv)
    d = DEFAULTS[args.scale]
    sessions = tuple(int(s) for s in args.sessions.split(",")) if args.sessions else d["sessions"]
    out = args.json or ROOT / "bench" / "out" / f"hosted-{args.scale}.json"
    results = measure(args.scale, sessions, args.duration or d["duration"], args.rate or d["rate"],
                      resolve=not args.no_resolve, json_to=out, step_timeout=args.step_timeout, only=d.get("only"),
                      collector=args.collector, probe=args.probe, browser_nice=args.browser_nice, idle=args.idle,
                      resolve_sessions=args.resolve_sessions)
    rows = write_json(out, args.scale, results)
    for r in rows:
        print(json.dumps(r))
    print(f"Wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
