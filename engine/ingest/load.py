"""`ingest_file`: one upload, read, mapped, typed and landed in one transaction.

Every row read is either loaded or quarantined (row number, raw row, reason).
The typed rows are upserted by (source, source_record_id): a row identical to
what is stored is left alone, so uploading the same file again changes nothing
and a newer export of the same source updates only what changed. Unmapped
columns are kept in `traits`; a non-essential value that cannot be read (a bad
birth date) is left empty, kept in traits as `invalid_<field>`, and reported as
a warning.

This module holds the entry points (`ingest_file`, `ingest_workbook`, `suggest_for_file`) and
their result; each job has its own module: plan.py (the mapping), typed_rows.py (typing as one
SELECT), write.py (quarantine and upsert), first_load.py (the one-pass first load),
event_files.py (event files), load_warnings.py.

Two paths, one answer (tests/engine/test_ingest_onepass.py holds them to it): the first
load of a source reads, types and stores every row with one INSERT (`first_load.load_fresh`; a
large CSV is then read once, on every core, after staging a sample to map it); re-uploads, order
lines and files that repeat a record id stage the file and upsert (`write.upsert`).
"""
from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import engine.ingest.event_files as event_files
import engine.ingest.first_load as first_load
import engine.ingest.landing as landing_copies
import engine.ingest.readers as readers
import engine.ingest.write as write
from engine.access import User, audit, require
from engine.currency import currency_warnings
from engine.ingest.common import IngestError, drop_temp, temp_name, utc_session
from engine.ingest.fields import fields_for
from engine.ingest.load_warnings import format_warnings, lenient_warnings, rejects_warning, status_warnings
from engine.ingest.plan import Plan, plan_mapping
from engine.ingest.record_consents import record_consents
from engine.ingest.typed_rows import typed_select
from engine.ingest.validate import INFER_SAMPLE, infer_formats
from engine.phones import workspace_region
from engine.sources import KINDS, ensure_source, get_source, save_mapping


@dataclass(kw_only=True)
class LoadResult:
    """What one load did (`cdp ingest --json` prints `summary()`, the screens `as_dict()`)."""

    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    warnings: list[str] = field(default_factory=list)
    load_id: int | None = None
    source: str = ""
    kind: str = ""
    file_format: str = ""
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    mapping: dict = field(default_factory=dict)
    already_loaded: bool = False
    id_column: str | None = None
    sheet: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> dict:
        """The four figures `cdp ingest --json` prints."""
        return {"rows_read": self.rows_read, "rows_loaded": self.rows_loaded,
                "rows_quarantined": self.rows_quarantined, "warnings": list(self.warnings)}


def _noop(fraction: float, message: str = "") -> None:
    pass


def _load_typed(con, plan: Plan, staged: readers.Staged, *, source: str, load_id: int, report,
                scratch: Path) -> dict:
    """A typed kind's rows stored: the one-pass first load when it applies, else staged and upserted."""
    fields = fields_for(plan.kind)
    formats = infer_formats(con, staged.table,
                            {c: fields[f].type for f, c in plan.by_field.items()})
    # With suppressions, the region their phones were hashed in (the workspace's phone rule).
    has_suppressions = (workspace_region(con) if con.execute("SELECT count(*) > 0 FROM suppressions").fetchone()[0]
                        else None)
    fillers = first_load.fresh_fillers(con, plan, source)
    if fillers is not None:
        with first_load.unordered(con):
            outcome = first_load.load_fresh(con, plan, staged, formats=formats, suppressions=has_suppressions,
                                           fillers=fillers, source=source, load_id=load_id, report=report)
        if outcome is not None:
            outcome["warnings"] = format_warnings(plan, formats) + outcome["warnings"]
            return {**outcome, "read": staged.rows_read, "rejects": staged.rejects}
    if not staged.complete:
        report(0.4, "Reading every row")
        staged = readers.stage_all(con, staged, scratch)
    sql, params = typed_select(plan, staged, formats, suppressions=has_suppressions)
    typed = temp_name("typed")
    try:
        con.execute(f"CREATE TEMP TABLE {typed} AS {sql}", params)
        report(0.55, "Checked types")
        duplicates = 0 if plan.line_items else write.mark_duplicates(con, typed)
        records = typed
        if plan.line_items:
            records = temp_name("orders")
            write.group_line_items(con, plan, typed, records)
        quarantined = write.quarantine_rows(con, staged, typed, load_id=load_id, source=source)
        report(0.65, "Quarantined bad rows")
        counts = write.upsert(con, plan, records, source=source, load_id=load_id)
        if records != typed:
            drop_temp(con, records)
        report(0.9, "Stored records")
        warnings = format_warnings(plan, formats) + lenient_warnings(con, plan, typed)
        if duplicates:
            warnings.append(f"{duplicates} row(s) repeated a record id already seen later in the file; "
                            "the last one was loaded, the others quarantined.")
        if counts["stale"]:
            warnings.append(f"{counts['stale']} row(s) were older (updated_at) than what is already "
                            "loaded and were not applied.")
        return {"quarantined": quarantined, "warnings": warnings, **counts,
                "read": staged.rows_read, "rejects": staged.rejects}
    finally:
        drop_temp(con, typed)


# -- entry point -------------------------------------------------------------------------------


def _staged_rows(con, staged: readers.Staged) -> int:
    return con.execute(f"SELECT count(*) FROM {staged.table}").fetchone()[0]


def _previous_load(con, source: str, sha: str, mapping: dict | None) -> tuple | None:
    return con.execute(
        """SELECT load_id, rows_read, rows_loaded, rows_quarantined, finished_at FROM loads
           WHERE source = ? AND file_sha256 = ? AND CAST(mapping AS VARCHAR) IS NOT DISTINCT FROM ?
           ORDER BY load_id DESC LIMIT 1""",
        [source, sha, json.dumps(mapping, sort_keys=True) if mapping is not None else None]).fetchone()


def ingest_file(workspace, user: User, kind: str, path, source: str, *, id_column: str | None = None,
                mapping: dict | None = None, file_format: str | None = None, progress=None,
                keep_raw: bool = True, file_name: str | None = None, overrides: dict | None = None,
                sheet: str | None = None) -> LoadResult:
    """Load one file of `kind` into the workspace as `source`, all or nothing.

    mapping is {source column: canonical field} (None or missing: kept as a trait; the
    field "source_record_id" marks the id column); without it the saved mapping of the
    source (same columns) or the suggested one is used, with `overrides` ({column: field})
    set on top of it. sheet names a workbook's sheet (default: the first with data).
    file_name is the name to record (an upload's original name); it is never used as a path.
    """
    require(user, "ingest")
    if kind not in KINDS:
        raise IngestError(f"Unknown kind {kind!r}; choose one of {', '.join(KINDS)}.")
    report = progress or _noop
    path = Path(path)
    info = readers.detect(path, file_format, sheet=sheet)
    report(0.05, f"Detected {info.describe()}")
    started = dt.datetime.now(dt.timezone.utc)
    landed: Path | None = None
    copying: Future | None = None
    stage, lines = temp_name("stage"), temp_name("lines")
    scratch = landing_copies.landing_folder(workspace)  # where a Windows-1252 file's UTF-8 copy is written
    try:
        with workspace.transaction() as con, utc_session(con):
            try:
                src = ensure_source(con, user, source, kind)
                json_events = kind == "events" and info.format in ("json", "ndjson")
                plan = None
                if json_events:
                    read = event_files.stage_event_lines(con, path, info, lines)
                    staged = None
                    used_mapping = None
                else:
                    # A large CSV is staged only for its first rows (to map it and infer formats);
                    # the load then reads the whole file once.
                    staged = readers.stage_file(con, path, info, stage, scratch,
                                                sample=None if kind == "events" else INFER_SAMPLE)
                    report(0.35, f"Read {staged.rows_read:,} rows" if staged.complete
                           else f"Read the first {_staged_rows(con, staged):,} rows")
                    plan = plan_mapping(con, staged, kind, mapping=mapping, id_column=id_column, overrides=overrides,
                                        saved=src.mapping if isinstance(src.mapping, dict) else None)
                    used_mapping = plan.mapping
                    read = staged.rows_read
                previous = _previous_load(con, source, info.sha256, used_mapping)
                if previous:
                    load_id, p_read, p_loaded, p_quarantined, when = previous
                    return LoadResult(
                        rows_read=p_read, rows_loaded=p_loaded, rows_quarantined=p_quarantined,
                        warnings=[f"This file was already loaded into {source!r} (load {load_id}, "
                                  f"{when:%Y-%m-%d %H:%M}); nothing changed."],
                        load_id=load_id, source=source, kind=kind, file_format=info.format,
                        rows_unchanged=p_loaded, mapping=used_mapping or {}, already_loaded=True,
                        id_column=plan.id_column if plan else None, sheet=info.sheet)
                load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
                landing_copies.clean_orphans(con, workspace)
                if keep_raw:
                    landed, copying = landing_copies.land_raw(workspace, path, info, load_id)
                warnings = list(staged.notes) if staged else []
                if kind == "events":
                    outcome = event_files.load_event_rows(con, lines, staged, plan, source=source, load_id=load_id)
                    read, loaded = outcome.pop("read"), outcome.pop("loaded")
                    warnings += outcome.pop("warnings")
                    quarantined = outcome["quarantined"]
                    tallies = outcome
                else:
                    outcome = _load_typed(con, plan, staged, source=source, load_id=load_id, report=report,
                                          scratch=scratch)
                    read, rejects = outcome.pop("read"), outcome.pop("rejects")
                    if rejects:
                        warnings.append(rejects_warning(rejects))
                    warnings += outcome.pop("warnings") + status_warnings(con, plan, source, load_id)
                    warnings += currency_warnings(con, plan.kind, source, load_id)
                    quarantined = outcome["quarantined"]
                    loaded = read - quarantined
                    tallies = outcome
                    record_consents(con, kind, plan.extras, source=source, load_id=load_id)
                if copying is not None:
                    copying.result()
                mapping_json = json.dumps(used_mapping, sort_keys=True) if used_mapping is not None else None
                con.execute(
                    """INSERT INTO loads (load_id, source, kind, file_name, file_sha256, rows_read,
                           rows_loaded, rows_quarantined, warnings, started_at, finished_at, username,
                           file_format, mapping, rows_inserted, rows_updated, rows_unchanged, landed_file)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?)""",
                    [load_id, source, kind, _recorded_name(file_name or path.name, info), info.sha256, read,
                     loaded, quarantined,
                     json.dumps(warnings), started, user.username, info.format, mapping_json,
                     tallies["new"], tallies["changed"], tallies["unchanged"] + tallies["stale"],
                     landed.name if landed else None])
                if plan is not None:
                    save_mapping(con, source, plan.mapping, plan.id_column)
                audit(con, user, "ingest.load", source,
                      {"load_id": load_id, "kind": kind, "rows_read": read, "rows_loaded": loaded,
                       "rows_quarantined": quarantined})
                report(1.0, f"Loaded {loaded:,} rows, quarantined {quarantined:,}")
                return LoadResult(
                    rows_read=read, rows_loaded=loaded, rows_quarantined=quarantined, warnings=warnings,
                    load_id=load_id, source=source, kind=kind, file_format=info.format,
                    rows_inserted=tallies["new"], rows_updated=tallies["changed"],
                    rows_unchanged=tallies["unchanged"] + tallies["stale"], mapping=used_mapping or {},
                    id_column=plan.id_column if plan else None, sheet=info.sheet)
            finally:
                drop_temp(con, stage, stage + "_rejects", stage + "_rej_err", stage + "_rej_scan", lines)
    except BaseException:
        if copying is not None:
            wait([copying])  # let the copy finish before removing what it wrote
        if landed is not None:
            landed.unlink(missing_ok=True)
        raise


def _recorded_name(name: str, info: readers.FileInfo) -> str:
    return f"{name} [{info.sheet}]" if info.sheet else name


def ingest_workbook(workspace, user: User, kind: str, path, source: str, **options) -> list[LoadResult]:
    """Every sheet with data of a workbook, each loaded as its own file (mapped by its own header).

    Each sheet is its own load (all or nothing); a sheet that cannot be loaded stops there, naming
    the sheet and the ones already loaded (loading the workbook again skips those)."""
    results: list[LoadResult] = []
    for name in readers.sheet_names(path):
        try:
            results.append(ingest_file(workspace, user, kind, path, source, sheet=name, **options))
        except IngestError as exc:
            done = ", ".join(r.sheet for r in results) or "none"
            raise IngestError(f"Sheet {name!r}: {exc} (sheets loaded before it: {done})") from exc
    return results


def suggest_for_file(workspace, user: User, kind: str, path, source: str | None = None, *,
                     file_format: str | None = None, limit: int = 20, sheet: str | None = None):
    """What the Sources screen shows before loading: (FileInfo, preview DataFrame, suggestions,
    rows). A large CSV is read only as far as the load reads it to map the file (INFER_SAMPLE
    rows): rows is then None, as the count comes with the load.

    Reads the file in a private in-memory database; the workspace is only read for the
    source's saved mapping.
    """
    from engine.workspace import resources

    from engine.ingest.mapping import suggest_mapping as _suggest

    require(user, "ingest")
    fields_for(kind)
    info = readers.detect(path, file_format, sheet=sheet)
    saved = None
    if source:
        with workspace.connect() as wcon:
            src = get_source(wcon, source)
            if src and src.kind == kind and isinstance(src.mapping, dict):
                saved = src.mapping
    con = resources.scratch_connection()
    try:
        if kind == "events" and info.format in ("json", "ndjson"):
            n = event_files.stage_event_lines(con, Path(path), info, "_lines")
            df = con.execute("SELECT row_number, raw FROM _lines ORDER BY row_number LIMIT ?", [limit]).df()
            return info, df, [], n
        import tempfile
        with tempfile.TemporaryDirectory() as scratch:
            staged = readers.stage_file(con, path, info, "_stage", Path(scratch),
                                        sample=None if kind == "events" else INFER_SAMPLE)
        df = con.execute("SELECT * EXCLUDE (_row) FROM _stage ORDER BY _row LIMIT ?", [limit]).df()
        suggestions = _suggest(con, "_stage", staged.columns, kind, saved=saved)
        return info, df, suggestions, staged.rows_read if staged.complete else None
    finally:
        con.close()
