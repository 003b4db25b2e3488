"""The database side of an erasure: delete the person's rows from every table the registry
(engine.privacy.pii_tables) places, then hash their identifiers wherever text still quotes them.

All of it runs inside the erasure's transaction; every value is a bound parameter and every
table or column name comes from the registry or the schema catalogue.
"""
from __future__ import annotations

import hashlib
import re

import pandas as pd

from engine.phones import e164
from engine.privacy import pii_tables as R

MIN_LENGTH = 5        # shorter identifiers (a two-digit customer id) are not searched for in free text


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def identifier_needles(identifiers: dict[str, set[str]], region: str) -> list[str]:
    """Every spelling of the person's identifiers worth searching for in text and files: emails
    (lower case), phones as typed, in E.164, and as bare digits, and their ids."""
    out: set[str] = set()
    for id_type, values in identifiers.items():
        for raw in values:
            if not raw or not str(raw).strip():
                continue
            text = str(raw).strip()
            if id_type == "email":
                out.add(text.lower())
            elif id_type == "phone":
                out.add(text)
                norm = e164(text, region)
                if norm:
                    out.update({norm, norm[1:]})
                if len(_digits(text)) >= 7:
                    out.add(_digits(text))
            else:
                out.add(text)
    return sorted(v for v in out if len(v) >= MIN_LENGTH)


def _in_list(column: str) -> str:
    return f"{column} IN (SELECT unnest(?::VARCHAR[]))"


def delete_everywhere(con, records: pd.DataFrame, profile_ids: list[str], identifiers: dict[str, set[str]],
                      region: str) -> dict[str, int]:
    """Delete the person's rows from every registered table; returns rows deleted per table."""
    counts: dict[str, int] = {}
    keys = records[["source", "source_record_id"]].drop_duplicates()
    con.register("_erase_records", keys)
    try:
        # Identity's working tables first: their record numbers and name statistics lead from the records.
        rec_ids = [r[0] for r in con.execute(
            "SELECT rec_id FROM identity_records JOIN _erase_records USING (source, source_record_id)").fetchall()]
        values = sorted({v.strip().lower() for t, vs in identifiers.items() if t != "phone" for v in vs if v}
                        | {p for v in identifiers.get("phone", ()) if (p := e164(v, region))})
        counts["identity_ids"] = con.execute(
            "DELETE FROM identity_ids WHERE rec_id IN (SELECT unnest(?::BIGINT[])) "
            "OR lower(id_value) IN (SELECT unnest(?::VARCHAR[]))",
            [rec_ids, values]).fetchone()[0]
        name_values = con.execute("""
            SELECT DISTINCT 'first_name', n_first_key FROM identity_records WHERE rec_id IN (SELECT unnest(?::BIGINT[]))
              AND n_first_key IS NOT NULL
            UNION SELECT DISTINCT 'last_name', n_last FROM identity_records WHERE rec_id IN (SELECT unnest(?::BIGINT[]))
              AND n_last IS NOT NULL""", [rec_ids, rec_ids]).fetchall()
        for table in R.BY_RECORD:
            counts[table] = con.execute(f"""DELETE FROM {table} WHERE (source, source_record_id) IN
                (SELECT (source, source_record_id) FROM _erase_records)""").fetchone()[0]
        for table in R.BY_PAIR:
            counts[table] = con.execute(f"""DELETE FROM {table} WHERE
                (l_source, l_record_id) IN (SELECT (source, source_record_id) FROM _erase_records)
                OR (r_source, r_record_id) IN (SELECT (source, source_record_id) FROM _erase_records)""").fetchone()[0]
    finally:
        con.unregister("_erase_records")
    # A surname's frequency row goes when no remaining record carries it.
    for table in R.BY_NAME_VALUE:
        counts[table] = sum(con.execute(f"""DELETE FROM {table} WHERE field = ? AND value = ?
            AND NOT EXISTS (SELECT 1 FROM identity_records r WHERE
                (? = 'first_name' AND r.n_first_key = ?) OR (? = 'last_name' AND r.n_last = ?))""",
                                        [f, v, f, v, f, v]).fetchone()[0] for f, v in name_values)
    user_ids = sorted(identifiers.get("user_id", set()))
    anon_ids = sorted(identifiers.get("anonymous_id", set()))
    for table in R.BY_EVENT_ACTOR:
        counts[table] = con.execute(
            f"DELETE FROM {table} WHERE {_in_list('user_id')} OR {_in_list('anonymous_id')}",
            [user_ids, anon_ids]).fetchone()[0]
    for table in R.BY_PROFILE:
        counts[table] = con.execute(f"DELETE FROM {table} WHERE {_in_list('profile_id')}",
                                    [profile_ids]).fetchone()[0]
    return counts


def _pattern(needle: str) -> str:
    """A case-insensitive RE2 pattern matching the needle literally (every symbol as \\x{..})."""
    return "".join(ch if ch.isalnum() else f"\\x{{{ord(ch):x}}}" for ch in needle)


def hashed_marker(needle: str) -> str:
    return "sha256:" + hashlib.sha256(needle.lower().encode("utf-8")).hexdigest()


def hash_in_text(con, needles: list[str], names: list[tuple[str, str]] = ()) -> int:
    """Replace the person's identifiers in every text and JSON column of every table with their
    SHA-256 (and their full name in the audit log and request register); returns cells changed.

    Rows whose primary key would hold an identifier are deleted instead (a key is not rewritten).
    The suppression list and erasure's own outbox are left alone (hashes; a pending deletion)."""
    if not needles and not names:
        return 0
    skip = {"suppressions", *R.OUTBOX}
    changed = 0
    for table in R.schema_tables(con):
        if table in skip:
            continue
        spelled = list(needles)
        if table in ("audit_log", "privacy_requests"):
            spelled += [f"{first} {last}" for first, last in names]
        spelled = [n for n in spelled if len(n) >= MIN_LENGTH]
        if not spelled:
            continue
        for column, is_key in R.text_columns(con, table):
            text = f'lower(CAST("{column}" AS VARCHAR))'
            hit = f"EXISTS (SELECT 1 FROM (SELECT unnest(?::VARCHAR[]) AS n) WHERE contains({text}, n))"
            lowered = [n.lower() for n in spelled]
            if not con.execute(f'SELECT count(*) FROM "{table}" WHERE {hit}', [lowered]).fetchone()[0]:
                continue
            if is_key:
                changed += con.execute(f'DELETE FROM "{table}" WHERE {hit}', [lowered]).fetchone()[0]
                continue
            for needle in spelled:
                changed += con.execute(
                    f'UPDATE "{table}" SET "{column}" = regexp_replace(CAST("{column}" AS VARCHAR), ?, ?, \'gi\') '
                    f"WHERE contains({text}, ?)",
                    [_pattern(needle), hashed_marker(needle), needle.lower()]).fetchone()[0]
    return changed
