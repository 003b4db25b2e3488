"""The golden record: one value per field per profile, chosen by survivorship rules.

Rules per field: source_priority (the first source in the configured list wins),
most_recent (the latest record), most_frequent (the value most records agree on,
compared normalised), longest. Ties fall back to most recent, then source priority.
The chosen value is shown in its most common spelling among the profile's records that
hold it (compared normalised), so one newer lower-case entry does not rename a person.
Every chosen value is written to profile_field_sources with its source record and rule.
"""
from __future__ import annotations

import math

from engine.identity.records import NORMALISED
from engine.identity.tables import rebuild_table_in_parts

GOLDEN_FIELDS = ["email", "phone", "first_name", "last_name", "address_line1", "address_line2",
                 "city", "postcode", "state", "country", "date_of_birth", "customer_id", "user_id"]

# How values are compared for most_frequent (so 'Bob@x.com ' and 'bob@x.com' count together).
_COMPARE = {f: c for f, c in NORMALISED.items() if f != "date_of_birth"}
# Candidate values one part of the profiles is chosen from at a time: the choice's windows and
# arg_max states over every value at once did not fit a 4 GB DuckDB limit at 10M records.
CHUNK_VALUES = 5_000_000
# The value written to the profile (normalised where a normal form exists).
_VALUE = {"email": "n_email", "phone": "COALESCE(n_phone, phone)", "date_of_birth": "CAST(n_dob AS VARCHAR)"}


def write_golden(con, settings: dict) -> None:
    """Rewrite profiles and profile_field_sources from _lab/_comp_pid and identity_records."""
    surv = settings["survivorship"]
    rules = {f: surv.get("fields", {}).get(f, surv.get("default", "most_recent")) for f in GOLDEN_FIELDS}
    priority = list(surv.get("source_priority") or [])
    con.execute("CREATE OR REPLACE TEMP TABLE _src_rank (source VARCHAR, rnk INTEGER)")
    if priority:
        con.executemany("INSERT INTO _src_rank VALUES (?, ?)", [[s, i] for i, s in enumerate(priority)])
    con.execute("CREATE OR REPLACE TEMP TABLE _field_rule (field VARCHAR, rule VARCHAR)")
    con.executemany("INSERT INTO _field_rule VALUES (?, ?)", [[f, r] for f, r in rules.items()])
    unions = []
    for f in GOLDEN_FIELDS:
        value = _VALUE.get(f, f)
        compare = _COMPARE.get(f, f"lower(trim(CAST({f} AS VARCHAR)))")
        unions.append(f"SELECT rec_id, '{f}' AS field, CAST({value} AS VARCHAR) AS value, "
                      f"CAST({compare} AS VARCHAR) AS cmp FROM identity_records "
                      f"WHERE {value} IS NOT NULL AND trim(CAST({value} AS VARCHAR)) <> ''")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cand AS
        SELECT p.profile_id, c.field, c.value, COALESCE(c.cmp, c.value) AS cmp, r.source, r.source_record_id, r.ts,
               COALESCE(s.rnk, 1000000) AS src_rank
        FROM ({' UNION ALL '.join(unions)}) c
        JOIN identity_records r USING (rec_id)
        JOIN _lab l ON l.rec = c.rec_id JOIN _comp_pid p ON p.comp = l.comp
        LEFT JOIN _src_rank s ON s.source = r.source
    """)
    # The rule picks a value (compared normalised); the profile shows it in the spelling most of
    # the records holding it use ('Doyle' x4 beats a newer 'doyle'), the newest of those as source
    # (records alike in all of that: the greatest source and record id, the same at every run).
    # A range of profile ids at a time, in profile order (a lookup reads the row groups its id is in).
    ranges = _profile_ranges(con, con.execute("SELECT count(*) FROM _cand").fetchone()[0])
    rebuild_table_in_parts(con, "profile_field_sources", [
        (_FIELD_SOURCES_SQL.format(where=where), params)
        for where, params in (_in_range("c.profile_id", lo, hi) for lo, hi in ranges)])
    cols = ", ".join(GOLDEN_FIELDS)
    pivots = ", ".join(
        f"{'TRY_CAST(' if f == 'date_of_birth' else ''}max(value) FILTER (WHERE field = '{f}')"
        f"{' AS DATE)' if f == 'date_of_birth' else ''} AS {f}" for f in GOLDEN_FIELDS)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _event_seen AS
        SELECT r.rec_id, max(e.timestamp) AS last_ts FROM identity_records r
        JOIN events e ON (r.kind = 'event_user' AND e.user_id = r.user_id)
        WHERE r.kind = 'event_user' GROUP BY ALL
        UNION ALL
        SELECT r.rec_id, max(e.timestamp) FROM identity_records r
        JOIN events e ON e.anonymous_id = r.anonymous_id
        WHERE r.kind = 'event_anonymous' GROUP BY ALL
    """)
    profiles_sql = f"""
        ({cols}, profile_id, record_count, first_seen, last_seen, created_at, updated_at)
        WITH stats AS (
            SELECT p.profile_id, count(*) AS record_count, min(r.ts) AS first_seen,
                   greatest(max(r.ts), max(es.last_ts)) AS last_seen
            FROM _lab l JOIN _comp_pid p USING (comp) JOIN identity_records r ON r.rec_id = l.rec
            LEFT JOIN _event_seen es ON es.rec_id = l.rec
            WHERE {{where_p}}
            GROUP BY p.profile_id),
        golden AS (SELECT profile_id, {pivots} FROM profile_field_sources WHERE {{where}} GROUP BY profile_id)
        SELECT {', '.join('g.' + f for f in GOLDEN_FIELDS)}, s.profile_id, s.record_count, s.first_seen,
               s.last_seen, COALESCE(reg.created_at, now()), now()
        FROM stats s LEFT JOIN golden g USING (profile_id)
        LEFT JOIN identity_profile_registry reg USING (profile_id)
    """
    parts = []
    for lo, hi in ranges:
        where_p, params_p = _in_range("p.profile_id", lo, hi)
        where, params = _in_range("profile_id", lo, hi)
        parts.append((profiles_sql.format(where_p=where_p, where=where), params_p + params))
    rebuild_table_in_parts(con, "profiles", parts)


_FIELD_SOURCES_SQL = """
    WITH c AS (SELECT c.*, fr.rule, COALESCE(epoch(c.ts), 0) AS t,
                      count(*) OVER (PARTITION BY c.profile_id, c.field, c.cmp) AS freq,
                      count(*) OVER (PARTITION BY c.profile_id, c.field, c.cmp, c.value) AS spelling
               FROM _cand c JOIN _field_rule fr USING (field) WHERE {where}),
    win AS (SELECT profile_id, field,
                   arg_max(cmp, struct_pack(k := CASE rule WHEN 'source_priority' THEN -src_rank
                                                           WHEN 'most_frequent' THEN freq
                                                           WHEN 'longest' THEN length(value) ELSE 0 END,
                                            t := t, s := -src_rank, v := value)) AS cmp
            FROM c GROUP BY ALL)
    SELECT profile_id, field, best.value, best.source, best.source_record_id, best.rule FROM (
        SELECT c.profile_id, c.field,
               arg_max(struct_pack(value := c.value, source := c.source, source_record_id := c.source_record_id,
                                   rule := c.rule),
                       struct_pack(n := c.spelling, t := c.t, s := -c.src_rank, v := c.value,
                                   src := c.source, rid := c.source_record_id)) AS best
        FROM c JOIN win USING (profile_id, field, cmp)
        GROUP BY c.profile_id, c.field)
    ORDER BY profile_id, field
"""


def _profile_ranges(con, values: int) -> list[tuple[str | None, str | None]]:
    """Ranges (low exclusive, high inclusive; None: open) of profile ids that split `values`
    candidate values into parts of about CHUNK_VALUES, in profile order; one open range if small."""
    parts = math.ceil(values / CHUNK_VALUES)
    if parts <= 1:
        return [(None, None)]
    bounds = con.execute("SELECT quantile_disc(profile_id, ?) FROM _comp_pid",
                         [[i / parts for i in range(1, parts)]]).fetchone()[0]
    edges = [None, *sorted(set(bounds)), None]
    return list(zip(edges[:-1], edges[1:]))


def _in_range(column: str, low: str | None, high: str | None) -> tuple[str, list]:
    """A WHERE condition (and its parameters) for low < column <= high."""
    conds, params = [], []
    if low is not None:
        conds.append(f"{column} > ?")
        params.append(low)
    if high is not None:
        conds.append(f"{column} <= ?")
        params.append(high)
    return " AND ".join(conds) or "TRUE", params
