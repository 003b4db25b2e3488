"""Gather every people-bearing record into `identity_records` and its identifiers
into `identity_ids`, normalised, in SQL.

Records: contacts, orders, subscriptions, consents (one each), plus event actors:
one record per distinct user_id (kind event_user, source 'events',
source_record_id 'user_id:<id>') and per distinct anonymous id (event_anonymous,
'anonymous_id:<id>'). Events carrying both ids (identify calls, and every later call
of an identified browser) and alias calls join an anonymous actor to its user.
"""
from __future__ import annotations

from engine.identifiers import BROWSER_ID_TYPES, CLICK_ID_TYPES, MOBILE_AD_ID_BY_DEVICE_TYPE, ZERO_AD_ID
import engine.identity.normalise as N
from engine.identity.guards import apply_guards
from engine.identity.tables import rebuild_table
from engine.phones import e164_sql

PERSON_TABLES = {
    "contact": ("contacts", "COALESCE(updated_at, created_at, loaded_at)"),
    "order": ("orders", "COALESCE(ordered_at, loaded_at)"),
    "subscription": ("subscriptions", "COALESCE(started_at, loaded_at)"),
    "consent": ("consents", "COALESCE(recorded_at, loaded_at)"),
}
PERSON_COLUMNS = ["email", "phone", "first_name", "last_name", "address_line1", "address_line2",
                  "city", "postcode", "state", "country", "date_of_birth", "customer_id",
                  "user_id", "anonymous_id"]
# The normalised column identity_records keeps beside each field that has a normal form
# ('Bob@x.com ' and 'bob@x.com' are one email; '020 7946 0000' and '+44 20 7946 0000' one phone).
NORMALISED = {"email": "n_email", "phone": "n_phone", "first_name": "n_first", "last_name": "n_last",
              "address_line1": "n_address", "postcode": "n_postcode", "city": "n_city",
              "date_of_birth": "n_dob"}


def _trait(col: str, *keys: str) -> str:
    return "COALESCE(" + ", ".join(f"json_extract_string({col}, '$.{k}')" for k in keys) + ")"


def _raw_union_sql(columns_of) -> str:
    """The raw records of every person table; columns_of(table) names the columns it has."""
    parts = []
    for kind, (table, ts) in PERSON_TABLES.items():
        have = set(columns_of(table))
        cols = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" if c in have and c != "date_of_birth"
                         else (f"{c}" if c in have else f"NULL AS {c}") for c in PERSON_COLUMNS)
        parts.append(f"SELECT '{kind}' AS kind, source, source_record_id, CAST({ts} AS TIMESTAMPTZ) AS ts, "
                     f"{cols} FROM {table}")
    email = _trait("traits", "email", "Email")
    phone = _trait("traits", "phone", "Phone")
    first = _trait("traits", "firstName", "first_name")
    last = _trait("traits", "lastName", "last_name")
    parts.append(f"""
        SELECT 'event_user', 'events', 'user_id:' || user_id, min(timestamp),
               arg_max({email}, timestamp) FILTER (WHERE {email} IS NOT NULL),
               arg_max({phone}, timestamp) FILTER (WHERE {phone} IS NOT NULL),
               arg_max({first}, timestamp) FILTER (WHERE {first} IS NOT NULL),
               arg_max({last}, timestamp) FILTER (WHERE {last} IS NOT NULL),
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, user_id, NULL
        FROM events WHERE user_id IS NOT NULL AND trim(user_id) <> '' GROUP BY user_id""")
    parts.append("""
        SELECT 'event_anonymous', 'events', 'anonymous_id:' || anonymous_id, min(ts),
               NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, anonymous_id
        FROM (SELECT anonymous_id, timestamp AS ts FROM events WHERE anonymous_id IS NOT NULL AND trim(anonymous_id) <> ''
              UNION ALL
              SELECT previous_id, timestamp FROM events
              WHERE type = 'alias' AND previous_id IS NOT NULL
                AND previous_id NOT IN (SELECT user_id FROM events WHERE user_id IS NOT NULL))
        GROUP BY anonymous_id""")
    return "\nUNION ALL\n".join(parts)


def _text(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def constant_table_sql(columns: tuple[str, ...], rows) -> str:
    """A small table of text constants (settings) as a SELECT that reads the same on every engine."""
    if not rows:
        return "SELECT " + ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in columns) + " WHERE FALSE"
    values = ", ".join("(" + ", ".join(_text(v) for v in row) + ")" for row in rows)
    return f"SELECT * FROM (VALUES {values}) t({', '.join(columns)})"


RECORD_COLUMNS = ["rec_id", "kind", "source", "source_record_id", "ts", "email", "phone", "first_name",
                  "last_name", "address_line1", "address_line2", "city", "postcode", "state", "country",
                  "date_of_birth", "customer_id", "user_id", "anonymous_id", "n_email", "n_email_key",
                  "n_phone", "n_first", "n_first_key", "n_last", "n_address", "n_postcode", "n_city", "n_dob",
                  "is_new"]
ID_COLUMNS = ["rec_id", "id_type", "id_value", "via", "namespace"]


def record_steps(columns_of, settings: dict) -> list[tuple[str, str]]:
    """(table, SELECT) of the records step in order, the last two identity_records and
    identity_ids: run as temp tables in the workspace (build_records) or materialised on a
    backend over lakehouse tables (lake_records.py). columns_of(table): a person table's columns."""
    region = settings["default_region"]
    email = N.email_sql("r.email")
    dob = "TRY_CAST(b.date_of_birth AS DATE)"
    records = f"""
        WITH base AS (
            SELECT r.*, f.n AS n_first, l.n AS n_last, c.n AS n_city, ad.n AS n_address, {email} AS n_email,
                   {e164_sql('r.phone', region)} AS n_phone
            FROM _ir_raw r
            LEFT JOIN _nm f ON f.v = r.first_name
            LEFT JOIN _nm l ON l.v = r.last_name
            LEFT JOIN _nm c ON c.v = r.city
            LEFT JOIN _ad ad ON ad.v = r.address_line1
        )
        SELECT row_number() OVER (ORDER BY b.kind, b.source, b.source_record_id) - 1 AS rec_id,
               b.kind, b.source, b.source_record_id, b.ts,
               b.email, b.phone, b.first_name, b.last_name, b.address_line1, b.address_line2,
               b.city, b.postcode, b.state, b.country, {dob} AS date_of_birth,
               nullif(trim(b.customer_id), '') AS customer_id, nullif(trim(b.user_id), '') AS user_id,
               nullif(trim(b.anonymous_id), '') AS anonymous_id,
               b.n_email, {N.email_key_sql('b.n_email')} AS n_email_key, b.n_phone,
               b.n_first, COALESCE(nk.canonical, split_part(b.n_first, ' ', 1)) AS n_first_key, b.n_last,
               b.n_address, {N.postcode_sql('b.postcode')} AS n_postcode, b.n_city,
               CASE WHEN year({dob}) BETWEEN 1900 AND year(current_date) THEN {dob} END AS n_dob,
               pm.profile_id IS NULL AS is_new
        FROM base b
        LEFT JOIN _nick nk ON nk.variant = split_part(b.n_first, ' ', 1)
        LEFT JOIN profile_members pm ON pm.source = b.source AND pm.source_record_id = b.source_record_id"""
    declared = [(k, str(v)) for k, v in settings.get("id_namespaces", {}).items()]
    return [
        ("_ir_raw", _raw_union_sql(columns_of)),
        ("_nick", constant_table_sql(("variant", "canonical"), N.nickname_rows(settings.get("nicknames")))),
        # Normalise each distinct value once (names, cities and addresses repeat a lot).
        ("_nm", f"""SELECT v, {N.name_sql('v')} AS n FROM (
                        SELECT first_name AS v FROM _ir_raw UNION SELECT last_name FROM _ir_raw
                        UNION SELECT city FROM _ir_raw) WHERE v IS NOT NULL"""),
        ("_ad", f"""SELECT v, {N.address_sql('v')} AS n FROM (
                        SELECT DISTINCT address_line1 AS v FROM _ir_raw WHERE address_line1 IS NOT NULL)"""),
        ("identity_records", records),
        ("_ns", constant_table_sql(("source", "namespace"), declared)),
        ("identity_ids", _ids_sql(settings)),
    ]


def build_records(con, settings: dict) -> dict:
    """(Re)build identity_records and identity_ids in the workspace; returns counts."""
    def columns_of(table: str) -> list[str]:
        return [r[0] for r in con.execute(  # spark-lint: allow duckdb-function: the workspace's catalog
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main'",
            [table]).fetchall()]

    for name, sql in record_steps(columns_of, settings):
        if name in ("identity_records", "identity_ids"):
            rebuild_table(con, name, sql)
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
    return record_counts(con)


def record_counts(con) -> dict:
    n = con.execute("SELECT count(*), count(*) FILTER (WHERE is_new) FROM identity_records").fetchall()[0]
    return {"records": n[0], "new_records": n[1]}


def _click_id_sql() -> str:
    selects = []
    for cid in CLICK_ID_TYPES:
        keys = [cid, "_" + cid] if cid in BROWSER_ID_TYPES else [cid]
        paths = []
        for col in ("properties", "context"):
            for k in keys:
                paths.append(f"json_extract_string({col}, '$.{k}')")
        paths.append(f"json_extract_string(context, '$.campaign.{cid}')")
        if cid not in BROWSER_ID_TYPES:
            for url in ("json_extract_string(context, '$.page.url')", "json_extract_string(context, '$.page.search')",
                        "json_extract_string(properties, '$.url')", "json_extract_string(properties, '$.search')"):
                paths.append(f"nullif(regexp_extract({url}, '[?&]{cid}=([^&#]+)', 1), '')")
        selects.append(f"SELECT user_id, anonymous_id, '{cid}' AS id_type, COALESCE({', '.join(paths)}) AS id_value, "
                       f"timestamp FROM events")
    return " UNION ALL ".join(selects)


def _device_ad_id_sql() -> str:
    """Mobile advertising ids from the Segment spec's `context.device` (lowercase, as platforms
    match them): IDFA on iOS, GAID on Android. None when the person limited ad tracking
    (`adTrackingEnabled: false`) or iOS sent its all-zero id."""
    by_type = " ".join(f"WHEN '{os}' THEN '{kind}'" for os, kind in MOBILE_AD_ID_BY_DEVICE_TYPE.items())
    return f"""
        SELECT user_id, anonymous_id,
               CASE lower(json_extract_string(context, '$.device.type')) {by_type} ELSE 'madid' END AS id_type,
               lower(trim(json_extract_string(context, '$.device.advertisingId'))) AS id_value, timestamp
        FROM events
        WHERE json_extract_string(context, '$.device.advertisingId') IS NOT NULL
          AND COALESCE(TRY_CAST(json_extract_string(context, '$.device.adTrackingEnabled') AS BOOLEAN), TRUE)
          AND lower(trim(json_extract_string(context, '$.device.advertisingId'))) <> '{ZERO_AD_ID}'"""


def _ids_sql(settings: dict) -> str:
    """identity_ids (ID_COLUMNS) of identity_records, events and the namespaces in _ns."""
    scoped = ", ".join(_text(t) for t in settings.get("scoped_identifiers", [])) or "NULL"
    # A source's own ids (scoped types) live in its namespace: the one declared, else the source.
    return f"""
        SELECT i.rec_id, i.id_type, i.id_value, 'record' AS via,
               CASE WHEN i.id_type IN ({scoped}) THEN COALESCE(ns.namespace, i.source) END AS namespace
        FROM (
            SELECT rec_id, source, 'email' AS id_type, n_email AS id_value FROM identity_records
            UNION ALL SELECT rec_id, source, 'email_key', n_email_key FROM identity_records WHERE n_email_key <> n_email
            UNION ALL SELECT rec_id, source, 'phone', n_phone FROM identity_records
            UNION ALL SELECT rec_id, source, 'customer_id', customer_id FROM identity_records
            UNION ALL SELECT rec_id, source, 'user_id', user_id FROM identity_records
            UNION ALL SELECT rec_id, source, 'anonymous_id', anonymous_id FROM identity_records
        ) i LEFT JOIN _ns ns ON ns.source = i.source WHERE i.id_value IS NOT NULL
        UNION ALL
        -- Anonymous actors seen with a user id (identify, and identified calls) carry that user id.
        SELECT DISTINCT a.rec_id, 'user_id', e.user_id, 'event_link', CAST(NULL AS VARCHAR)
        FROM (SELECT DISTINCT user_id, anonymous_id FROM events
              WHERE user_id IS NOT NULL AND anonymous_id IS NOT NULL) e
        JOIN identity_records a ON a.kind = 'event_anonymous' AND a.anonymous_id = e.anonymous_id
        UNION ALL
        -- alias(previous_id -> user_id): an anonymous previous id, or an earlier user id.
        SELECT DISTINCT r.rec_id, 'user_id', e.user_id, 'alias', CAST(NULL AS VARCHAR)
        FROM (SELECT DISTINCT previous_id, user_id FROM events
              WHERE type = 'alias' AND previous_id IS NOT NULL AND user_id IS NOT NULL) e
        JOIN identity_records r ON r.source_record_id = 'anonymous_id:' || e.previous_id
                                OR r.source_record_id = 'user_id:' || e.previous_id
        UNION ALL
        -- Click, browser and device ad ids, on the actor that carried them (the user when known).
        SELECT DISTINCT r.rec_id, c.id_type, c.id_value, 'record', CAST(NULL AS VARCHAR)
        FROM ({_click_id_sql()} UNION ALL {_device_ad_id_sql()}) c
        JOIN identity_records r ON r.source = 'events' AND r.source_record_id =
             CASE WHEN c.user_id IS NOT NULL THEN 'user_id:' || c.user_id ELSE 'anonymous_id:' || c.anonymous_id END
        WHERE c.id_value IS NOT NULL AND c.id_value <> ''"""


def build_and_guard(con, settings: dict, build=build_records) -> dict:
    """build(con, settings): the records step (build_records, or a plane's)."""
    stats = build(con, settings)
    stats.update(apply_guards(con, settings))
    return stats
