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
from engine.phones import e164_sql, workspace_region
from engine.privacy import erasure, files, removals
from engine.privacy.identifiers import ID_TYPES, identifier_hash, normalise
from engine.privacy.requests import close_request, open_request

PEOPLE_TABLES = ("contacts", "orders", "subscriptions", "consents")
# Tables that are bookkeeping, not data about a person, in an access bundle.
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


def find_subject(workspace, user: User, id_type: str, value: str, region: str | None = None) -> Subject:
    """Profiles and records reachable from one identifier (any id type), through identity, and
    the records naming the person's emails, customer ids or user ids directly (even when
    identity has not run since they arrived). Phones are compared by the workspace's phone rule."""
    require(user, "privacy_requests")
    if id_type not in ID_TYPES:
        raise ValueError(f"Identifier type is one of {', '.join(ID_TYPES)}.")
    region = region or workspace_region(workspace)
    norm = normalise(id_type, value, region)
    if not norm:
        raise ValueError("Give an identifier to look for.")
    with workspace.connect() as con:
        profile_ids = [r[0] for r in con.execute(
            "SELECT DISTINCT profile_id FROM profile_identifiers WHERE id_type = ? AND lower(id_value) = lower(?)",
            [id_type, norm]).fetchall()]
        records = con.execute("""
            SELECT source, source_record_id, kind FROM profile_members WHERE profile_id IN (SELECT unnest(?::VARCHAR[]))""",
                              [profile_ids]).df()
        records = _with_direct(con, records, {id_type: {norm}}, region)
        identifiers = _identifiers_of(con, profile_ids, records)
        identifiers.setdefault(id_type, set()).update({value, norm})
        # One more step: records naming an email, customer id or user id the person is known by.
        strong = {t: identifiers.get(t, set()) for t in ("email", "customer_id", "user_id")}
        records = _with_direct(con, records, strong, region)
        for t, vals in _identifiers_of(con, profile_ids, records).items():
            identifiers.setdefault(t, set()).update(vals)
    return Subject(profile_ids, records, identifiers)


def _with_direct(con, records: pd.DataFrame, wanted: dict[str, set[str]], region: str) -> pd.DataFrame:
    """`records` plus the typed-table records whose identifiers match `wanted` (type -> values)."""
    parts, params = [], []
    for id_type, values in wanted.items():
        values = sorted({str(v).strip().lower() for v in values if v and str(v).strip()})
        if not values:
            continue
        column = e164_sql(id_type, region) if id_type == "phone" else f"lower(trim(CAST({id_type} AS VARCHAR)))"
        for t in PEOPLE_TABLES:
            parts.append(f"SELECT source, source_record_id, '{t}' AS kind FROM {t} "
                         f"WHERE {column} IN (SELECT lower(unnest(?::VARCHAR[])))")
            params.append(values)
    if not parts:
        return records
    direct = con.execute(" UNION ".join(parts), params).df()
    return pd.concat([records, direct], ignore_index=True).drop_duplicates(
        ["source", "source_record_id"]).reset_index(drop=True)


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
                  compact: bool = True, client=None) -> dict:
    """Delete a person from every table and file, suppress them, delete them at every destination.

    Returns the erasure report (no personal data): counts per table, `files` (what was done to
    each file under the workspace folder that named them), `destinations` (each destination's
    deletion and its outcome; failures stay queued for `cdp privacy removals --retry`) and
    `not_reachable` (copies the product cannot reach). With compact=True the database file is
    rewritten so deleted values do not linger in free blocks.
    """
    region = workspace_region(workspace)
    subject = find_subject(workspace, user, id_type, value, region)
    with workspace.transaction() as con:
        request_id = open_request(con, user, "erasure", regulation, id_type, value, region)
        profile_ids = _with_merged_ids(con, subject.profile_ids)
        not_reachable = _not_reachable(con, profile_ids)
        planned = removals.plan(con, request_id, profile_ids, subject.identifiers)
        names = _names_of(con, subject)
        counts = erasure.delete_everywhere(con, subject.records, profile_ids, subject.identifiers, region)
        needles = erasure.identifier_needles(subject.identifiers, region)
        counts["quarantine"] = _delete_matching_quarantine(con, needles, names)
        counts["text_values_hashed"] = erasure.hash_in_text(con, needles, names)
        for kind, raws in subject.identifiers.items():
            for raw in raws:
                digest = identifier_hash(kind, raw, region)
                if digest:
                    con.execute("""INSERT OR IGNORE INTO suppressions (id_type, id_hash, reason, created_by)
                                   VALUES (?, ?, ?, ?)""", [kind, digest, f"erasure request {request_id}", user.username])
        counts = {k: v for k, v in counts.items() if v}
        file_report = files.scrub_folder(workspace, needles, profile_ids)
        summary = {**counts, "files": {a: sum(1 for f in file_report if f["action"] == a)
                                       for a in ("rewritten", "removed", "kept")},
                   "destinations": planned}
        close_request(con, request_id, summary)
        audit(con, user, "privacy.erase", f"request:{request_id}", summary)
    delivered = removals.deliver(workspace, user, request_id, client)
    if compact:
        files.compact(workspace)
    return {"request_id": request_id, **counts, "files": file_report, "destinations": delivered,
            "not_reachable": not_reachable}


def _with_merged_ids(con, profile_ids: list[str]) -> list[str]:
    """The subject's profiles and the retired ids merged into them (rows may still carry those)."""
    merged = [r[0] for r in con.execute(
        "SELECT profile_id FROM identity_profile_registry WHERE merged_into IN (SELECT unnest(?::VARCHAR[]))",
        [profile_ids]).fetchall()]
    return sorted(set(profile_ids) | set(merged))


def _names_of(con, subject: Subject) -> list[tuple[str, str]]:
    """(first name, last name) pairs the person's records carry."""
    con.register("subject_records", subject.records[["source", "source_record_id"]])
    try:
        rows = con.execute(" UNION ".join(
            f"SELECT first_name, last_name FROM {t} JOIN subject_records USING (source, source_record_id) "
            "WHERE first_name IS NOT NULL AND last_name IS NOT NULL" for t in PEOPLE_TABLES)).fetchall()
    finally:
        con.unregister("subject_records")
    rows += con.execute("""SELECT first_name, last_name FROM profiles WHERE profile_id IN (SELECT unnest(?::VARCHAR[]))
                           AND first_name IS NOT NULL AND last_name IS NOT NULL""", [subject.profile_ids]).fetchall()
    return sorted({(str(f).strip(), str(last).strip()) for f, last in rows if str(f).strip() and str(last).strip()})


def _not_reachable(con, profile_ids: list[str]) -> list[dict]:
    """Copies of the person the product cannot delete: conversions already sent to ad platforms,
    and files handed out (downloads, exports saved outside the workspace folder, access bundles)."""
    out = [{"where": f"conversion events sent to {dest}",
            "count": n, "note": "sent with hashed identifiers; the platform's own retention and deletion apply"}
           for dest, n in con.execute("""
               SELECT destination, count(*) FROM forward_queue WHERE status = 'sent'
               AND profile_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1 ORDER BY 1""", [profile_ids]).fetchall()]
    handed_out = con.execute("""
        SELECT action, count(*), max(logged_at) FROM audit_log
        WHERE action IN ('audience.export', 'privacy.access_export', 'quarantine.export', 'sql.download')
        GROUP BY 1 ORDER BY 1""").fetchall()
    for action, n, last in handed_out:
        out.append({"where": f"files and downloads made by {action} (latest {last})", "count": n,
                    "note": "copies saved outside the workspace folder or downloaded to a browser may hold "
                            "the person; only their holders can delete them"})
    return out


def _delete_matching_quarantine(con, needles: list[str], names: list[tuple[str, str]]) -> int:
    """Quarantined rows naming the person: by an identifier, or by their first and last name together."""
    n = 0
    if needles:
        n += con.execute("""DELETE FROM quarantine WHERE EXISTS (
            SELECT 1 FROM (SELECT unnest(?::VARCHAR[]) AS v) WHERE contains(lower(raw), lower(v)))""",
                         [needles]).fetchone()[0]
    for first, last in names:
        n += con.execute("DELETE FROM quarantine WHERE contains(lower(raw), lower(?)) AND contains(lower(raw), lower(?))",
                         [first, last]).fetchone()[0]
    return n
