"""Data subject requests: find a person, export everything held about them, erase them."""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from engine.access import User, audit, require
from engine.access.csv_safe import safe_csv
from engine.privacy import files
from engine.privacy.identifiers import ID_TYPES, identifier_hash, normalise
from engine.privacy.requests import close_request, open_request

PEOPLE_TABLES = ("contacts", "orders", "subscriptions", "consents")
# Tables that are bookkeeping, not data about a person (the register keeps hashes only).
# What each destination currently holds: kept through an erasure so that the next audience
# sync removes the person there (they are no longer eligible); that sync then drops the row.
HELD_UNTIL_REMOVED = {"activation_membership"}
NOT_PERSONAL = {"schema_migrations", "meta", "settings", "sources", "loads", "privacy_requests",
                "privacy_destination_removals", "suppressions", "audit_log"}


@dataclass
class Subject:
    """Everything that ties records to one person."""

    profile_ids: list[str]
    records: pd.DataFrame                       # source, source_record_id, kind
    identifiers: dict[str, set[str]] = field(default_factory=dict)   # id_type -> raw values

    @property
    def found(self) -> bool:
        return bool(self.profile_ids) or not self.records.empty

    def values(self) -> set[str]:
        return {v for vs in self.identifiers.values() for v in vs if v}


def find_subject(workspace, user: User, id_type: str, value: str, region: str = "US") -> Subject:
    """Profiles and records reachable from one identifier (any id type), through identity."""
    require(user, "privacy_requests")
    if id_type not in ID_TYPES:
        raise ValueError(f"Identifier type is one of {', '.join(ID_TYPES)}.")
    norm = normalise(id_type, value, region)
    if not norm:
        raise ValueError("Give an identifier to look for.")
    with workspace.connect() as con:
        profile_ids = [r[0] for r in con.execute(
            "SELECT DISTINCT profile_id FROM profile_identifiers WHERE id_type = ? AND lower(id_value) = lower(?)",
            [id_type, norm]).fetchall()]
        # Records that name the person directly, even if identity has not run since they arrived.
        direct = " UNION ".join(
            f"SELECT source, source_record_id, '{t}' AS kind FROM {t} "
            f"WHERE lower(CAST({id_type} AS VARCHAR)) = lower(?)" for t in PEOPLE_TABLES)
        records = con.execute(f"""
            SELECT source, source_record_id, kind FROM profile_members WHERE profile_id IN (SELECT unnest(?::VARCHAR[]))
            UNION {direct}
        """, [profile_ids] + [norm if id_type != "phone" else value] * len(PEOPLE_TABLES)).df()
        identifiers = _identifiers_of(con, profile_ids, records)
        identifiers.setdefault(id_type, set()).update({value, norm})
    return Subject(profile_ids, records, identifiers)


def _identifiers_of(con, profile_ids: list[str], records: pd.DataFrame) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {t: set() for t in ID_TYPES}
    for id_type, id_value in con.execute(
            "SELECT id_type, id_value FROM profile_identifiers WHERE profile_id IN (SELECT unnest(?::VARCHAR[]))",
            [profile_ids]).fetchall():
        found.setdefault(id_type, set()).add(id_value)
    con.register("subject_records", records)
    try:
        for table in PEOPLE_TABLES:
            cols = ["email", "phone", "customer_id", "user_id", "anonymous_id"]
            rows = con.execute(f"""
                SELECT {', '.join(cols)} FROM {table} t
                JOIN subject_records r USING (source, source_record_id)""").fetchall()
            for row in rows:
                for col, val in zip(cols, row):
                    if val:
                        found[col].add(str(val))
    finally:
        con.unregister("subject_records")
    return found


def _tables_with_column(con, column: str) -> list[str]:
    return [r[0] for r in con.execute("""
        SELECT DISTINCT c.table_name FROM duckdb_columns() c
        JOIN duckdb_tables() t ON t.table_name = c.table_name AND t.schema_name = c.schema_name
        WHERE c.column_name = ? AND c.schema_name = 'main' ORDER BY 1""", [column]).fetchall()]


def _subject_frames(con, subject: Subject) -> dict[str, pd.DataFrame]:
    """Every row held about the subject, per table."""
    frames: dict[str, pd.DataFrame] = {}
    con.register("subject_records", subject.records[["source", "source_record_id"]])
    try:
        for table in PEOPLE_TABLES + ("lead_stage_changes",):
            frames[table] = con.execute(
                f"SELECT t.* FROM {table} t JOIN subject_records r USING (source, source_record_id)").df()
        ids = sorted(subject.identifiers.get("user_id", set()))
        anon = sorted(subject.identifiers.get("anonymous_id", set()))
        frames["events"] = con.execute("""
            SELECT * FROM events WHERE user_id IN (SELECT unnest(?::VARCHAR[]))
                                    OR anonymous_id IN (SELECT unnest(?::VARCHAR[]))""", [ids, anon]).df()
        for table in _tables_with_column(con, "profile_id"):
            if table in NOT_PERSONAL or table in frames:
                continue
            frames[table] = con.execute(
                f'SELECT * FROM "{table}" WHERE profile_id IN (SELECT unnest(?::VARCHAR[]))',
                [subject.profile_ids]).df()
    finally:
        con.unregister("subject_records")
    return {name: df for name, df in frames.items() if not df.empty}


def _recipients(frames: dict[str, pd.DataFrame]) -> list[str]:
    names = set()
    for df in frames.values():
        if "destination" in df.columns:
            names.update(str(d) for d in df["destination"].dropna().unique())
    return sorted(names)


def export_subject(workspace, user: User, id_type: str, value: str, regulation: str = "gdpr") -> bytes:
    """A zip archive (JSON and CSV per table, plus a summary) of everything held about a person."""
    subject = find_subject(workspace, user, id_type, value)
    with workspace.transaction() as con:
        request_id = open_request(con, user, "access", regulation, id_type, value)
        frames = _subject_frames(con, subject)
        purposes = con.execute("""
            SELECT purpose, granted, recorded_at FROM profile_consent_state
            WHERE profile_id IN (SELECT unnest(?::VARCHAR[]))""", [subject.profile_ids]).df()
        summary = {
            "request_id": request_id,
            "regulation": regulation,
            "profiles": subject.profile_ids,
            "records_per_table": {name: len(df) for name, df in frames.items()},
            "consent_by_purpose": purposes.to_dict("records"),
            "recipients": _recipients(frames),
            "purposes_of_processing": [
                "analytics: understanding how customers use our sites and shops",
                "email: marketing email where consented",
                "advertising: audiences and conversions sent to ad platforms where consented",
            ],
        }
        close_request(con, request_id, {"tables": summary["records_per_table"]})
        audit(con, user, "privacy.access_export", f"request:{request_id}",
              {"tables": len(frames), "profiles": len(subject.profile_ids)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summary.json", json.dumps(summary, indent=2, default=str))
        for name, df in frames.items():
            archive.writestr(f"{name}.csv", safe_csv(df))
            archive.writestr(f"{name}.json", df.to_json(orient="records", date_format="iso", indent=1))
    return buffer.getvalue()


def erase_subject(workspace, user: User, id_type: str, value: str, regulation: str = "gdpr",
                  compact: bool = True) -> dict:
    """Delete a person from every table and raw file, suppress them, queue destination removals.

    Returns counts (no personal data). With compact=True the database file is rewritten so
    deleted values do not linger in free blocks.
    """
    subject = find_subject(workspace, user, id_type, value)
    values = subject.values()
    counts: dict[str, int] = {}
    with workspace.transaction() as con:
        request_id = open_request(con, user, "erasure", regulation, id_type, value)
        frames = _subject_frames(con, subject)
        for destination in _recipients(frames):
            for kind in ("email", "phone"):
                for raw in subject.identifiers.get(kind, ()):
                    con.execute("""INSERT INTO privacy_destination_removals (request_id, destination, id_type, id_hash)
                                   VALUES (?, ?, ?, ?)""", [request_id, destination, kind, identifier_hash(kind, raw)])
        con.register("subject_records", subject.records[["source", "source_record_id"]])
        for table in PEOPLE_TABLES + ("lead_stage_changes",):
            counts[table] = con.execute(f"""DELETE FROM {table} WHERE (source, source_record_id) IN
                (SELECT (source, source_record_id) FROM subject_records)""").fetchone()[0]
        con.unregister("subject_records")
        user_ids = sorted(subject.identifiers.get("user_id", set()))
        anon_ids = sorted(subject.identifiers.get("anonymous_id", set()))
        counts["events"] = con.execute("""DELETE FROM events WHERE user_id IN (SELECT unnest(?::VARCHAR[]))
            OR anonymous_id IN (SELECT unnest(?::VARCHAR[]))""", [user_ids, anon_ids]).fetchone()[0]
        con.execute("""DELETE FROM event_consent_signals WHERE user_id IN (SELECT unnest(?::VARCHAR[]))
            OR anonymous_id IN (SELECT unnest(?::VARCHAR[]))""", [user_ids, anon_ids])
        counts["destination_removals_pending"] = sum(
            con.execute(f'SELECT count(*) FROM "{t}" WHERE profile_id IN (SELECT unnest(?::VARCHAR[]))',
                        [subject.profile_ids]).fetchone()[0]
            for t in HELD_UNTIL_REMOVED if t in _tables_with_column(con, "profile_id"))
        for table in _tables_with_column(con, "profile_id"):
            if table not in NOT_PERSONAL and table not in HELD_UNTIL_REMOVED:
                counts[table] = con.execute(
                    f'DELETE FROM "{table}" WHERE profile_id IN (SELECT unnest(?::VARCHAR[]))',
                    [subject.profile_ids]).fetchone()[0]
        counts["quarantine"] = _delete_matching_quarantine(con, values)
        for kind, raws in subject.identifiers.items():
            for raw in raws:
                digest = identifier_hash(kind, raw)
                if digest:
                    con.execute("""INSERT OR IGNORE INTO suppressions (id_type, id_hash, reason, created_by)
                                   VALUES (?, ?, ?, ?)""", [kind, digest, f"erasure request {request_id}", user.username])
        counts = {k: v for k, v in counts.items() if v}
        counts["raw_files"] = files.scrub_folder(workspace, values)
        close_request(con, request_id, counts)
        audit(con, user, "privacy.erase", f"request:{request_id}", counts)
    if compact:
        files.compact(workspace)
    return {"request_id": request_id, **counts}


def _delete_matching_quarantine(con, values: set[str]) -> int:
    if not values:
        return 0
    return con.execute("""DELETE FROM quarantine WHERE EXISTS (
        SELECT 1 FROM (SELECT unnest(?::VARCHAR[]) AS v) WHERE contains(lower(raw), lower(v)))""",
                       [sorted(values)]).fetchone()[0]
