"""The bundled sample workspace: sample_data/ loaded through the real pipeline.

`build_sample_workspace` (re)creates a workspace, ingests every file listed in
sample_data/manifest.json in order through `engine.ingest.ingest_file`, resolves
identities with `engine.identity.resolve`, and refreshes value scores when the value
module offers a one-call refresh. `cdp sample` and the app's first run call it.
"""
from __future__ import annotations

import importlib
import json
import time
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


def build_sample_workspace(path: str | Path, user: User, progress: Progress | None = None,
                           replace: bool = False, sample_dir: str | Path = SAMPLE_DIR) -> dict:
    """(Re)create the workspace at path from the sample files; returns a summary.

    The summary holds, per file, what ingest reported (rows read, loaded, quarantined),
    the identity resolution result, and whether value scores were computed.
    """
    require(user, "ingest")
    require(user, "resolve")
    from engine.identity import resolve
    from engine.ingest import ingest_file

    path = Path(path)
    manifest = load_manifest(sample_dir)
    if path.exists():
        if not replace:
            raise FileExistsError(f"{path} already exists; pass replace=True to rebuild it.")
        _remove_workspace_files(path)
    started = time.monotonic()
    ws: Workspace = open_workspace(path)
    files = manifest["files"]
    summary: dict = {"workspace": str(path), "files": {}}
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

    save_settings(ws, user, {"default_region": SAMPLE_PHONE_REGION})
    summary["identity"] = resolve(ws, user, progress=identity_progress)
    refresh = value_refresh_function()
    summary["value_scores"] = False
    if refresh is not None:
        if progress:
            progress(0.9, "computing value scores")
        result = refresh(ws, user, progress=_scaled(progress, 0.9, 0.99))
        summary["value_scores"] = result.get("status", "ok") if isinstance(result, dict) else True
    # Derived read tables (segment event index, search terms, journey events): built now,
    # so that the first count, search or funnel on the sample does not wait for them.
    from engine.journeys.prepare import prepare_journeys
    from engine.profiles.search import refresh_search_index
    from engine.segments.event_index import ensure_fresh

    ensure_fresh(ws)
    refresh_search_index(ws)
    prepare_journeys(ws)
    summary["profiles"] = ws.scalar("SELECT count(*) FROM profiles")
    summary["seconds"] = round(time.monotonic() - started, 1)
    if progress:
        progress(1.0, "sample workspace ready")
    return summary

