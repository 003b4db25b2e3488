"""The bundled sample workspace: the sample generated for the build day, loaded through the real pipeline.

`build_sample_workspace` (re)creates a workspace: it generates the sample files with the
seeded generator (engine/sample/generator.py, with the seed and size of the committed
sample_data/) so that the most recent activity falls on the build day (`as_of`, now unless
given), ingests every file in manifest order through `engine.ingest.ingest_file`, resolves
identities with `engine.identity.resolve`, refreshes value scores as of the build day, and
saves the ready-made segments of engine/sample/segments.py. Built on any day, the sample
tells the same story moved in time. `cdp sample`, `make run` and the app's first run call it.
"""
from __future__ import annotations

import importlib
import json
import tempfile
import time
from datetime import date, datetime, time as clock, timezone
from pathlib import Path
from typing import Callable

from engine.access import User, require
from engine.workspace import Workspace, open_workspace

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data"
SAMPLE_PHONE_REGION = "GB"
# The value module's "recompute every score" entry point: fit_clv fits the CLV model and
# refreshes RFM at the same date (RFM alone when the data is too thin for a model).
VALUE_REFRESH_NAMES = ("fit_clv", "score_rfm")

Progress = Callable[[float, str], None]


def load_manifest(sample_dir: str | Path = SAMPLE_DIR) -> dict:
    """The manifest describing each sample file: kind, source, id column, column mapping."""
    path = Path(sample_dir) / "manifest.json"
    if not path.exists():
        raise FileNotFoundError(f"No sample manifest at {path}; run `python sample_data/generate.py`.")
    return json.loads(path.read_text(encoding="utf-8"))


def _remove_workspace_files(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        if candidate.exists():
            candidate.unlink()


def _scaled(progress: Progress | None, lo: float, hi: float) -> Progress | None:
    """A progress callback mapping a step's 0..1 onto lo..hi of the whole build."""
    if progress is None:
        return None

    def report(fraction: float, message: str = "") -> None:
        progress(lo + (hi - lo) * max(0.0, min(1.0, float(fraction))), message)
    return report


def value_refresh_function():
    """The value module's one-call score refresh, or None when it offers none (yet)."""
    try:
        value = importlib.import_module("engine.value")
    except ModuleNotFoundError as exc:
        if exc.name in ("engine.value", "engine"):
            return None
        raise
    for name in VALUE_REFRESH_NAMES:
        fn = getattr(value, name, None)
        if callable(fn):
            return fn
    return None


def build_moment(as_of: date | datetime | None = None) -> datetime:
    """The build clock as an aware UTC datetime: now, or the injected day/moment."""
    if as_of is None:
        return datetime.now(timezone.utc)
    if not isinstance(as_of, datetime):
        return datetime.combine(as_of, clock(23, 59, 59), tzinfo=timezone.utc)
    return as_of if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc)


SAMPLE_CURRENCY, SAMPLE_EUR_RATE = "GBP", 0.85


def build_sample_workspace(path: str | Path, user: User, progress: Progress | None = None,
                           replace: bool = False, sample_dir: str | Path | None = None, *,
                           as_of: date | datetime | None = None, people: int | None = None,
                           seed: int | None = None) -> dict:
    """(Re)create the workspace at path from the sample; returns a summary.

    Without `sample_dir` the sample is generated for the build day: `as_of` (a date, or a
    moment; now unless given) is the day of its most recent activity and the date value
    scores are computed at; `people` and `seed` default to the committed sample's. With
    `sample_dir`, the files there are loaded as they are (scores as of their last order).
    The summary holds, per file, what ingest reported (rows read, loaded, quarantined),
    the identity resolution result, whether value scores were computed, and the saved
    segments with their sizes at the build moment.
    """
    require(user, "ingest")
    require(user, "resolve")
    require(user, "edit_segments")
    started = time.monotonic()
    path = Path(path)
    if path.exists() and not replace:
        raise FileExistsError(f"{path} already exists; pass replace=True to rebuild it.")
    if sample_dir is not None:
        return _build(path, user, Path(sample_dir), progress, None, build_moment(as_of), started)
    from engine.sample.generator import PEOPLE, SEED, generate

    moment = build_moment(as_of)
    with tempfile.TemporaryDirectory(prefix="cdp-sample-") as folder:
        if progress:
            progress(0.0, f"generating the sample for {moment:%Y-%m-%d}")
        generate(Path(folder), people or PEOPLE, seed or SEED, end=moment.date(),
                 truth=False)
        return _build(path, user, Path(folder), progress, moment.date(), moment, started)


def _build(path: Path, user: User, sample_dir: Path, progress: Progress | None, as_of: date | None,
           moment: datetime, started: float) -> dict:
    """Load sample_dir into a new workspace at path; value scores as of `as_of`, segment sizes at `moment`."""
    from engine.identity import resolve
    from engine.ingest import ingest_file

    manifest = load_manifest(sample_dir)
    if path.exists():
        _remove_workspace_files(path)
    ws: Workspace = open_workspace(path)
    files = manifest["files"]
    summary: dict = {"workspace": str(path), "files": {}}
    # The shop reports in pounds; its Irish customers pay in euros, converted at one rate.
    from engine.currency import add_rate, set_reporting_currency

    set_reporting_currency(ws, user, SAMPLE_CURRENCY)
    add_rate(ws, user, "EUR", SAMPLE_EUR_RATE)
    load_share = 0.6
    for i, entry in enumerate(files):
        step = _scaled(progress, load_share * i / len(files), load_share * (i + 1) / len(files))
        if step:
            step(0.0, f"loading {entry['file']}")
        result = ingest_file(ws, user, entry["kind"], Path(sample_dir) / entry["file"], entry["source"],
                             id_column=entry.get("id_column"), mapping=entry.get("mapping"), progress=step)
        summary["files"][entry["file"]] = result.as_dict() if hasattr(result, "as_dict") else dict(result)
    totals = {k: sum(int(f.get(k) or 0) for f in summary["files"].values())
              for k in ("rows_read", "rows_loaded", "rows_quarantined")}
    summary.update(totals)
    identity_progress = _scaled(progress, load_share, 0.9)
    if identity_progress:
        identity_progress(0.0, "resolving identities")
    # The sample story is a UK/Irish shop: national phone numbers are British unless marked.
    from engine.identity.settings import save_settings

    # Its shop, tills, CRM, billing and consent platform share one customer number.
    shared = {entry["source"]: "customer" for entry in manifest["files"] if entry.get("source")}
    save_settings(ws, user, {"default_region": SAMPLE_PHONE_REGION, "id_namespaces": shared})
    summary["identity"] = resolve(ws, user, progress=identity_progress)
    refresh = value_refresh_function()
    summary["value_scores"] = False
    if refresh is not None:
        if progress:
            progress(0.9, "computing value scores")
        result = refresh(ws, user, as_of=as_of, progress=_scaled(progress, 0.9, 0.99))
        summary["value_scores"] = result.get("status", "ok") if isinstance(result, dict) else True
    # Derived read tables (segment event index, search terms, journey events): built now,
    # so that the first count, search or funnel on the sample does not wait for them.
    from engine.derived import refresh as refresh_derived

    refresh_derived(ws)
    summary["profiles"] = ws.scalar("SELECT count(*) FROM profiles")
    from engine.sample.segments import create_sample_segments
    from engine.segments import count_definition, get_segment

    summary["as_of"] = manifest.get("as_of")
    summary["segments"] = {name: count_definition(ws, get_segment(ws, sid)["definition"], as_of=moment)
                           for name, sid in create_sample_segments(ws, user).items()}
    summary["seconds"] = round(time.monotonic() - started, 1)
    if progress:
        progress(1.0, "sample workspace ready")
    return summary

