"""Identity in bounded memory: the data plane (engine/identity/on_backend.py) on DuckDB, with
features and scores computed a batch at a time through map_batches.

One run (`--n N --batch-rows B`, in its own subprocess so that ru_maxrss is its own): load N
generated people (bench/identity_people.py) as contacts, build the records, block, fit the
Fellegi-Sunter model on the pairs' comparison levels (computed in batches, 11 bytes a pair
kept), score every candidate pair in batches keeping only pairs at or above the low
threshold, cluster on the driver. Reports seconds, peak RSS, pairs and pairwise F1.

    CDP_MEMORY_LIMIT=6GB nice python -m bench.bench_identity_scale --sizes 1000000,3000000 \\
        --batch-rows 50000,400000

`--resolve` measures `resolve` itself (what `cdp resolve --full` runs: records, guards,
blocking, the fit on levels, scoring in batches of `--batch-rows` candidate pairs
(fuzzy.SCORE_BATCH_PAIRS), chain cuts, the review queue, clustering, profiles, golden records)
on the same generated people, each size in its own process, with the peak RSS after each step:

    CDP_MEMORY_LIMIT=4GB nice python -m bench.bench_identity_scale --resolve --sizes 100000,1000000
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(n: int, batch_rows: int) -> dict:
    import numpy as np

    from bench.bench_identity import _data, _peak_gb, load_people
    from bench.identity_people import pairwise_scores
    from engine.backend import batches
    from engine.backend.duckdb_backend import DuckDBBackend
    from engine.identity import fuzzy, on_backend
    from engine.identity.features import evidence_types
    from engine.identity.records import build_and_guard
    from engine.identity.resolve import _merge_id_types
    from engine.identity.settings import load_settings
    from engine.workspace import open_workspace

    batches.BATCH_ROWS = batch_rows
    df = _data(n, False)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "cdp.duckdb")
        load_people(ws, df)
        # Only the answer key stays: the people's fields are in the workspace now (the frame
        # was the largest per-record part of this process's peak).
        truth = df.set_index("source_record_id")["person_id"]
        del df
        backend = DuckDBBackend(ws)
        settings = load_settings(ws)
        started = time.perf_counter()
        with ws.transaction() as con:
            build_and_guard(con, settings)
        times["records"] = time.perf_counter() - started
        # The plane outside one long transaction: each work table it releases (blocking's
        # per-rule blocks) gives its memory back at once instead of at the commit.
        with ws.connect() as con:
            pairs = on_backend.candidate_pairs(backend, evidence_types(con))
            times["blocking"] = time.perf_counter() - started
            g, rules = on_backend.levels(backend)
            fs_params = fuzzy.fit_model(con, {"rules": rules}, g)
            del g, rules
            times["fit"] = time.perf_counter() - started
            kept = on_backend.scores(backend, fuzzy.scorer(con, settings, fs_params),
                                     keep_from=float(settings["low_threshold"]))
            times["scoring"] = time.perf_counter() - started
            labels = on_backend.partition(backend, _merge_id_types(settings),
                                          kept[kept["p"] >= float(settings["high_threshold"])])
            ids = con.execute("SELECT rec_id, source_record_id FROM identity_records ORDER BY rec_id").df()
        seconds = time.perf_counter() - started
    scores = pairwise_scores(truth.loc[ids["source_record_id"]].to_numpy(), np.asarray(labels))
    return {"n": n, "batch_rows": batch_rows, "seconds": round(seconds, 1),
            "steps": {k: round(v, 1) for k, v in times.items()}, "peak_gb": round(_peak_gb(), 2),
            "pairs": int(pairs), "kept": int(len(kept)), **scores}


def _reset_peak() -> bool:
    """Start the process's peak RSS again from its current RSS (Linux: clear_refs 5), so that a
    step's peak is its own, not that of what came before it (the generated people's frame)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _hwm_gb() -> float:
    """The peak RSS since the last _reset_peak (VmHWM), in GB; ru_maxrss where /proc is absent."""
    from bench.bench_identity import _peak_gb

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return _peak_gb()


def resolve_once(n: int, batch_pairs: int) -> dict:
    """engine resolve end to end on n generated people loaded as contacts: seconds and peak RSS
    (overall and as each step starts), pairs, and pairwise F1 of the profiles."""
    import numpy as np

    from bench.bench_identity import _data, _peak_gb, load_people
    from bench.identity_people import pairwise_scores
    from engine.access import User
    from engine.identity import fuzzy, resolve
    from engine.workspace import open_workspace

    fuzzy.SCORE_BATCH_PAIRS = batch_pairs
    df = _data(n, False)
    steps = []
    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "cdp.duckdb")
        load_people(ws, df)
        truth = df.set_index("source_record_id")["person_id"]   # only the answer key stays
        del df
        loaded_gb = _peak_gb()
        gc.collect()
        reset = _reset_peak()        # resolve's own peak, not the generator's frame before it
        started = time.perf_counter()

        def progress(_, message):
            steps.append({"step": message, "at_s": round(time.perf_counter() - started, 1),
                          "peak_gb": round(_hwm_gb(), 2)})
            print(json.dumps(steps[-1]), file=sys.stderr, flush=True)   # how far a failed run got

        stats = resolve(ws, User("bench", "admin"), full=True, progress=progress)
        seconds = time.perf_counter() - started
        members = ws.query_df("SELECT source_record_id, profile_id FROM profile_members")
        kept = ws.query_rows("SELECT count(*) FROM identity_pairs WHERE reason = 'fuzzy'")[0][0]
    scores = pairwise_scores(truth.loc[members["source_record_id"]].to_numpy(),
                             np.asarray(members["profile_id"]))
    return {"mode": "resolve", "n": n, "batch_rows": batch_pairs, "seconds": round(seconds, 1),
            "peak_gb": round(_peak_gb(), 2), "peak_gb_before_resolve": round(loaded_gb, 2),
            "resolve_peak_gb": round(_hwm_gb(), 2) if reset else None,
            "pairs": stats.get("pairs_scored"), "kept": int(kept), "auto_merged": stats.get("auto_merged"),
            "to_review": stats.get("to_review"), "chain_cuts": stats.get("chain_cuts"),
            "profiles": stats.get("profiles"), "steps": steps, **scores}


FULL = [1_000_000, 3_000_000]
BATCHES = [50_000, 400_000]


def _subprocess(n: int, batch_rows: int, resolve: bool = False) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_identity_scale", "--n", str(n), "--batch-rows", str(batch_rows),
           *(["--resolve"] if resolve else [])]
    done = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"identity scale run n={n} failed: {done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(scale: str = "smoke") -> list[dict]:
    """Rows for bench/run.py: seconds, peak memory and F1 per size and batch size."""
    from bench.bench_identity import SCALES

    sizes, batch_sizes = (FULL, BATCHES) if scale == "full" else ([SCALES.get(scale, SCALES["smoke"])], BATCHES[:1])
    rows = []
    for n in sizes:
        for b in batch_sizes:
            r = _subprocess(n, b)
            label = f"{n:,} records, batches of {b:,} pairs"
            for measure, value, unit in ((f"peak memory, data plane in batches, {label}", r["peak_gb"], "GB"),
                                         (f"seconds, data plane in batches, {label}", r["seconds"], "s"),
                                         (f"pairwise F1, data plane in batches, {label}", r["f1"], "F1")):
                rows.append({"capability": "identity", "measure": measure, "value": value, "unit": unit,
                             "baseline": None, "baseline_value": None, "ratio": None, "target": None, "met": None})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int)
    parser.add_argument("--batch-rows", default="200000")
    parser.add_argument("--sizes", default="1000000")
    parser.add_argument("--resolve", action="store_true", help="measure engine resolve end to end")
    args = parser.parse_args(argv)
    if args.n:
        once = resolve_once if args.resolve else run_once
        print(json.dumps(once(args.n, int(args.batch_rows)), default=float))
        return 0
    for n in (int(x) for x in args.sizes.split(",")):
        for b in (int(x) for x in args.batch_rows.split(",")):
            try:
                print(json.dumps(_subprocess(n, b, args.resolve)), flush=True)
            except RuntimeError as exc:
                print(json.dumps({"n": n, "batch_rows": b, "error": str(exc)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
