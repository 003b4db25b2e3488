"""Files under the workspace folder, and the database file itself: removing a person's traces
after an erasure, with a report of what was done to each file.

What the product writes under the workspace folder: raw landing copies of uploads
(`landing/`), the collector spool (`<stem>.spool/`), and whatever exports and access bundles
people saved there. Each file naming the person is handled by its format:

* line files (CSV, TSV, NDJSON, spool segments, text, logs): rewritten without the lines
  naming the person (a CSV keeps its header);
* JSON documents and Parquet files: rewritten without the records naming the person;
* zip archives: an access bundle of the erased person is removed whole; any other archive is
  rewritten with each member handled by its own format;
* formats the product cannot rewrite (Excel workbooks, anything else): kept and listed in
  the report with the reason, so the operator deletes or edits them by hand.

"Naming the person" is a case-insensitive byte match of any of their identifiers.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

LINE_SUFFIXES = {".csv", ".tsv", ".txt", ".ndjson", ".jsonl", ".spool", ".log"}
MIN_NEEDLE = 5   # shorter values (a two-digit id) would match unrelated bytes


def _workspace_files(workspace) -> list[Path]:
    own = {workspace.path.name, workspace.path.name + ".wal", workspace.path.name + ".version"}
    return [p for p in workspace.folder.rglob("*") if p.is_file() and p.name not in own
            and not p.name.endswith((".duckdb", ".duckdb.wal", ".duckdb.version"))]


def needles_of(values) -> list[bytes]:
    return sorted({str(v).strip().lower().encode("utf-8") for v in values
                   if v and len(str(v).strip()) >= MIN_NEEDLE})


def _names(data: bytes, needles: list[bytes]) -> bool:
    low = data.lower()
    return any(n in low for n in needles)


def _drop_lines(data: bytes, needles: list[bytes]) -> bytes:
    return b"".join(line for line in data.splitlines(keepends=True) if not _names(line, needles))


def _drop_json_records(data: bytes, needles: list[bytes]) -> bytes | None:
    """A JSON document without the records (array items, or object values) naming the person;
    None when it is not JSON."""
    try:
        doc = json.loads(data)
    except ValueError:
        return None

    def clean(node):
        if isinstance(node, list):
            return [clean(x) for x in node if not _names(json.dumps(x, default=str).encode(), needles)]
        if isinstance(node, dict):
            return {k: clean(v) for k, v in node.items()
                    if not _names(json.dumps(v, default=str).encode(), needles)}
        return node
    return json.dumps(clean(doc), indent=1, default=str).encode()


def _drop_parquet_rows(data: bytes, needles: list[bytes]) -> bytes:
    import duckdb
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    con = duckdb.connect()
    try:
        con.register("_file", table)
        kept = con.sql("""SELECT * FROM _file f WHERE NOT EXISTS (
            SELECT 1 FROM (SELECT unnest(?::VARCHAR[]) AS n) WHERE contains(lower(CAST(f AS VARCHAR)), n))""",
                       params=[[n.decode() for n in needles]]).to_arrow_table()
        if hasattr(kept, "read_all"):   # (a reader in some DuckDB versions)
            kept = kept.read_all()
    finally:
        con.close()
    out = io.BytesIO()
    pq.write_table(kept.cast(table.schema), out)
    return out.getvalue()


def _is_bundle_of(data: bytes, profile_ids: set[str]) -> bool:
    """An access bundle (engine.privacy.subject.export_subject) of one of these profiles."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            summary = json.loads(archive.read("summary.json"))
    except (KeyError, ValueError, zipfile.BadZipFile):
        return False
    return "request_id" in summary and bool(set(summary.get("profiles") or []) & profile_ids)


def _rewrite(name: str, data: bytes, needles: list[bytes], profile_ids: set[str]) -> tuple[str, bytes | None, str]:
    """(action, new bytes or None to remove, reason) for one file's content."""
    suffix = Path(name).suffix.lower()
    if suffix in LINE_SUFFIXES:
        return "rewritten", _drop_lines(data, needles), "lines naming the person removed"
    if suffix == ".json":
        cleaned = _drop_json_records(data, needles)
        if cleaned is not None:
            return "rewritten", cleaned, "records naming the person removed"
        return "rewritten", _drop_lines(data, needles), "lines naming the person removed (not valid JSON)"
    if suffix == ".parquet":
        return "rewritten", _drop_parquet_rows(data, needles), "rows naming the person removed"
    if suffix == ".zip" or (data[:2] == b"PK" and suffix not in (".xlsx", ".xlsm", ".docx")):
        if _is_bundle_of(data, profile_ids):
            return "removed", None, "the erased person's own access bundle"
        try:
            src = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            return "kept", data, "damaged zip archive: delete or edit it by hand"
        out = io.BytesIO()
        kept_reasons = []
        with src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                member = src.read(info)
                if _names(member, needles):
                    action, member, reason = _rewrite(info.filename, member, needles, profile_ids)
                    if action == "kept":
                        kept_reasons.append(f"{info.filename}: {reason}")
                    if member is None:
                        continue
                dst.writestr(info, member)
        if kept_reasons:
            return "kept", data, "; ".join(kept_reasons)
        return "rewritten", out.getvalue(), "archive members naming the person rewritten"
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return "kept", data, "a spreadsheet upload the product cannot rewrite: delete or edit it by hand"
    return "kept", data, f"a {suffix or 'binary'} file the product cannot rewrite: delete or edit it by hand"


def _names_deep(data: bytes, needles: list[bytes]) -> bool:
    """Whether a file names the person, looking inside zip archives (and workbooks) too."""
    if _names(data, needles):
        return True
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return any(_names_deep(archive.read(i), needles) for i in archive.infolist())
        except (zipfile.BadZipFile, OSError, RuntimeError):
            return False
    return False


def scrub_folder(workspace, values, profile_ids=()) -> list[dict]:
    """Remove the person from every file under the workspace folder that names them.

    Returns one entry per such file: path (relative to the folder), action
    (rewritten | removed | kept) and reason. Files are replaced atomically."""
    needles = needles_of(values)
    if not needles:
        return []
    report = []
    for path in sorted(_workspace_files(workspace)):
        try:
            data = path.read_bytes()
        except OSError as exc:
            report.append({"path": str(path.relative_to(workspace.folder)), "action": "kept",
                           "reason": f"could not be read ({exc.__class__.__name__})"})
            continue
        if not _names_deep(data, needles):
            continue
        try:
            action, new, reason = _rewrite(path.name, data, needles, set(profile_ids))
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the erasure
            action, new, reason = "kept", data, f"could not be rewritten ({exc.__class__.__name__})"
        if action == "removed":
            path.unlink()
        elif action == "rewritten":
            tmp = path.with_name(path.name + ".scrub")
            tmp.write_bytes(new)
            os.replace(tmp, path)
        report.append({"path": str(path.relative_to(workspace.folder)), "action": action, "reason": reason})
    return report


def compact(workspace) -> None:
    """Rewrite the database file so deleted rows leave nothing behind in free blocks."""
    target = workspace.path.with_name(workspace.path.stem + ".compact.duckdb")
    target.unlink(missing_ok=True)
    with workspace.connect() as con:
        name = con.execute("SELECT current_database()").fetchone()[0]
        con.execute("CHECKPOINT")
        con.execute("ATTACH ? AS compacted", [str(target)])
        con.execute(f'COPY FROM DATABASE "{name}" TO compacted')
        # (COPY FROM DATABASE carries views, and sequences at their current position.)
        con.execute("DETACH compacted")
    with workspace.file_swap():
        os.replace(target, workspace.path)
