"""Run every benchmark module and write BENCHMARKS.md.

    python bench/run.py                      # scale "full", every bench/bench_*.py, writes BENCHMARKS.md
    python bench/run.py --scale smoke --output /tmp/B.md
    python bench/run.py --scale smoke --repeat 1  # each figure timed once: checks every module runs
    python bench/run.py --only segments,pages    # re-measure some; the others' last figures are kept

Each module `bench/bench_<capability>.py` exposes `run(scale) -> list[dict]` (rows with
capability, measure, value, unit, baseline, baseline_value, ratio, target, met); taking the
median of several repetitions and measuring its baseline in the same run is the module's
job (bench/timing.py helps). Modules run one at a time, each in its own process, so one
module's memory or crash does not disturb another's figures. Results are kept in a JSON
file beside the Markdown so that re-running one module keeps every other module's figures.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.child_process import Child  # noqa: E402 - after the path above
REQUIRED = ("capability", "measure", "value", "unit", "baseline", "baseline_value", "ratio", "target", "met")
TIMEOUTS = {"smoke": 120, "medium": 1200, "full": 3600}


def discover(only: list[str] | None = None, skip: list[str] | None = None) -> list[str]:
    """Module names (without bench_) of bench/bench_*.py, optionally filtered."""
    names = sorted(p.stem[len("bench_"):] for p in BENCH.glob("bench_*.py"))
    unknown = sorted((set(only or ()) | set(skip or ())) - set(names))
    if unknown:
        raise SystemExit(f"No benchmark module named {', '.join(unknown)}; there are: {', '.join(names)}")
    return [n for n in names if (not only or n in only) and n not in (skip or ())]


def machine() -> dict:
    memory_gb = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        import duckdb
        duckdb_version = duckdb.__version__
    except ImportError:
        duckdb_version = "?"
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gb": memory_gb, "os": platform.platform(),
            "python": platform.python_version(), "duckdb": duckdb_version}


def normalise(rows, module: str) -> list[dict]:
    """Rows as run.py shows them: every required key present, met a bool or None."""
    if not isinstance(rows, list):
        raise TypeError(f"bench_{module}.run() must return a list of dicts, not {type(rows).__name__}")
    out = []
    for r in rows:
        if not isinstance(r, dict):
            raise TypeError(f"bench_{module}.run() returned a {type(r).__name__} row")
        r = {**{k: None for k in REQUIRED}, **r}
        r["capability"] = r["capability"] or module
        if r["ratio"] is None and isinstance(r["value"], (int, float)) and r["baseline_value"]:
            r["ratio"] = round(r["value"] / r["baseline_value"], 3)
        r["met"] = None if r["met"] is None else bool(r["met"])
        out.append(r)
    return out


def run_module(name: str, scale: str, timeout: float) -> dict:
    """Run one module in a child process; returns {rows, seconds, error}."""
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        cmd = [sys.executable, str(BENCH / "run.py"), "--child", name, "--scale", scale, "--rows-to", str(out)]
        child = Child(cmd, env=env)     # its own process group: a timeout stops what it started too
        try:
            child.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            child.stop(grace=5)
            return {"rows": [], "seconds": round(time.monotonic() - started, 1),
                    "error": f"timed out after {timeout:.0f} s: {(child.output().splitlines() or [''])[-1][:300]}"}
        child.stop(grace=5)             # anything it left running
        seconds = round(time.monotonic() - started, 1)
        if child.proc.returncode != 0 or not out.exists():
            last = (child.output().strip().splitlines() or ["no output"])[-1]
            return {"rows": [], "seconds": seconds, "error": f"exit {child.proc.returncode}: {last[:300]}"}
        section = out.with_suffix(".md")
        return {"rows": json.loads(out.read_text()), "seconds": seconds, "error": None,
                "section": section.read_text() if section.exists() else None}


def child(name: str, scale: str, rows_to: Path) -> int:
    """Inside the child process: import bench.bench_<name>, run it, write its rows (and its
    SECTION, Markdown a module may add below the table, beside them)."""
    sys.path.insert(0, str(ROOT))
    import importlib
    module = importlib.import_module(f"bench.bench_{name}")
    rows = normalise(module.run(scale), name)
    rows_to.write_text(json.dumps(rows, default=str))
    if getattr(module, "SECTION", None):
        rows_to.with_suffix(".md").write_text(module.SECTION)
    return 0


# -- presentation -----------------------------------------------------------------
def fmt_number(value, unit: str | None = None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        v = float(value)
        if v == 0:
            text = "0"
        elif abs(v) >= 1000:
            text = f"{v:,.0f}"
        elif abs(v) >= 100:
            text = f"{v:.0f}"
        elif abs(v) >= 10:
            text = f"{v:.1f}"
        elif abs(v) >= 0.01:
            text = f"{v:.2f}"
        else:
            text = f"{v:.2g}"
    else:
        text = str(value)
    return f"{text} {unit}".strip() if unit else text


def mark(met) -> str:
    return {True: "✅ met", False: "❌ not met"}.get(met, "—")


def table_rows(results: dict) -> list[list[str]]:
    lines = []
    for module in sorted(results):
        entry = results[module]
        if entry.get("error"):
            lines.append([module, "(module failed)", entry["error"], "", "", "", "❌ error"])
        for r in entry.get("rows", []):
            baseline = ""
            if r.get("baseline"):
                baseline = f"{r['baseline']}: {fmt_number(r.get('baseline_value'), r.get('unit'))}" \
                    if r.get("baseline_value") is not None else str(r["baseline"])
            ratio = f"{r['ratio']:.2f}x" if isinstance(r.get("ratio"), (int, float)) else "—"
            lines.append([str(r["capability"]), str(r["measure"]), fmt_number(r.get("value"), r.get("unit")),
                          baseline or "—", ratio, str(r.get("target") or "—"), mark(r.get("met"))])
    return lines


def print_table(results: dict) -> None:
    headers = ["capability", "measure", "value", "baseline", "ratio", "target", "met"]
    lines = table_rows(results)
    widths = [min(60, max([len(h)] + [len(line[i]) for line in lines])) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for line in lines:
        print("  ".join(c[:60].ljust(w) for c, w in zip(line, widths)))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_table(results: dict) -> list[str]:
    return ["| capability | measure | value | baseline | ratio | target | met |",
            "| --- | --- | --- | --- | --- | --- | --- |"] + [
        "| " + " | ".join(_cell(c) for c in line) + " |" for line in table_rows(results)]


def write_markdown(path: Path, results: dict, meta: dict) -> None:
    m = meta["machine"]
    rows = [r for e in results.values() for r in e.get("rows", [])]
    with_target = [r for r in rows if r.get("met") is not None]
    met = sum(1 for r in with_target if r["met"])
    failed = [name for name, e in results.items() if e.get("error")]
    out = [
        "# Benchmarks",
        "",
        f"Last written by `{meta['command']}` on {meta['date']} at scale **{meta['scale']}**"
        + (f" ({meta['scale_sizes']})" if meta.get("scale_sizes") else "") + ".",
        "",
        f"Machine: {m['cores']} cores ({m['cpu'] or 'unknown CPU'}), {m['memory_gb']} GB memory, {m['os']}, "
        f"Python {m['python']}, DuckDB {m['duckdb']}.",
        "",
        f"**{met} of {len(with_target)} targets met**" + (f"; modules that failed: {', '.join(failed)}" if failed else "")
        + ". Each figure is the median of the repetitions its module makes (bench/bench_<module>.py); "
        "the baseline beside it was measured in the same run, and ratio is value / baseline. "
        "The load average column below says how busy the (shared) machine was while a module ran.",
        "",
    ]
    sections = sorted(n for n in results if results[n].get("section"))   # rows shown in their own section
    out += _markdown_table({n: e for n, e in results.items() if n not in sections})
    for name in sections:
        out += ["", results[name]["section"].strip(), ""] + _markdown_table({name: results[name]})
    for notes in sorted((BENCH / "notes").glob("*.md")):   # hand-written readings of the figures
        out += ["", notes.read_text(encoding="utf-8").strip()]
    out += ["", "## When each module was last measured", "",
            "| module | date | command | seconds | load average (start → end) | note |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name in sorted(results):
        e = results[name]
        load = f"{e['load_start']:.1f} → {e['load_end']:.1f}" if e.get("load_start") is not None else "—"
        out.append(f"| {name} | {e.get('date', '')} | `{e.get('command', '')}` | {e.get('seconds', '')} | {load} | {_cell(e.get('note') or '')} |")
    out += ["", "Reproduce: `make bench` (or `python bench/run.py --scale full`); generate data alone with "
            "`python bench/generate.py --profiles 1000000 --events 10000000`.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmark suite and write BENCHMARKS.md.")
    parser.add_argument("--scale", default="full", choices=["smoke", "medium", "full"])
    parser.add_argument("--only", help="comma-separated module names (bench_<name>.py)")
    parser.add_argument("--skip", help="comma-separated module names to leave out")
    parser.add_argument("--output", type=Path, help="Markdown file (default BENCHMARKS.md; "
                                                     "bench/out/BENCHMARKS-<scale>.md below full scale)")
    parser.add_argument("--timeout", type=float, help="seconds allowed per module")
    parser.add_argument("--jobs", type=int, default=1,
                        help="modules run side by side (default 1; more only for smoke runs, it skews figures)")
    parser.add_argument("--repeat", type=int,
                        help="at most this many timed runs per figure, no warmup (1: a quick check that "
                             "every module still produces its rows; the figures are then rough)")
    parser.add_argument("--note", help="a remark stored with this run's modules (e.g. what else was running)")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the Markdown from the stored results (no measuring)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--rows-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.scale, args.rows_to)
    if args.repeat:
        from bench.timing import REPEAT_CAP
        os.environ[REPEAT_CAP] = str(args.repeat)       # the module processes inherit it

    sys.path.insert(0, str(ROOT))
    from bench.generate import SCALES
    output = args.output or (ROOT / "BENCHMARKS.md" if args.scale == "full"
                             else ROOT / "bench" / "out" / f"BENCHMARKS-{args.scale}.md")
    store = output.with_suffix(".json")
    previous = json.loads(store.read_text()) if store.exists() else {}
    results = previous.get("results", {}) if previous.get("scale") == args.scale else {}
    if args.render:
        if not previous:
            raise SystemExit(f"No stored results in {store}")
        write_markdown(output, results, previous["meta"])
        print(f"Rewrote {output} from {store}.", file=sys.stderr)
        return 0
    names = discover(args.only.split(",") if args.only else None, args.skip.split(",") if args.skip else None)
    command = "python bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    timeout = args.timeout or TIMEOUTS[args.scale]
    suite_started = time.monotonic()

    def measure(name: str) -> tuple[str, dict]:
        print(f"[bench] {name} ({args.scale}) ...", file=sys.stderr, flush=True)
        load_start = os.getloadavg()[0]
        entry = run_module(name, args.scale, timeout)
        entry["load_start"], entry["load_end"] = load_start, os.getloadavg()[0]
        entry["note"] = args.note or (f"{args.jobs} modules at a time" if args.jobs > 1 else "")
        entry["date"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        entry["command"] = command.strip()
        status = f"error: {entry['error']}" if entry["error"] else f"{len(entry['rows'])} rows"
        print(f"[bench] {name}: {status} in {entry['seconds']} s", file=sys.stderr, flush=True)
        return name, entry

    # One module at a time by default: figures measured side by side disturb each other.
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for name, entry in pool.map(measure, names):
            results[name] = entry
    sizes = SCALES.get(args.scale)
    meta = {"command": command.strip(), "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "scale": args.scale, "machine": machine(),
            "scale_sizes": f"{sizes['profiles']:,} profiles, {sizes['events']:,} events" if sizes else ""}
    print_table(results)
    write_markdown(output, results, meta)
    store.write_text(json.dumps({"scale": args.scale, "meta": meta, "results": results}, indent=1, default=str))
    print(f"\nWrote {output} in {time.monotonic() - suite_started:.1f} s.", file=sys.stderr)
    return 1 if any(results[n].get("error") for n in names) else 0


if __name__ == "__main__":
    sys.exit(main())
