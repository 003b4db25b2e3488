"""Seeded generator of realistic workspaces at scale, written straight to files by DuckDB.

    python bench/generate.py --profiles 100000 --events 1000000 [--out DIR] [--seed 42]
                             [--format csv|parquet] [--events-format parquet|ndjson]
                             [--duplicates 0.25]

Everything is computed in DuckDB SQL from hashes of row numbers (no Python loop over rows,
no random state), and streamed to disk with COPY, so memory stays flat and the same seed
gives the same data. 1,000,000 profiles and 10,000,000 events take a few minutes on two
cores. It prints its own time and the size on disk.

Files (in DIR): persons (the real people: ground truth), contacts (CRM records, with
duplicated person records: nicknames, typos, swapped names, missing or reformatted
emails and phones, moved addresses, shared household emails), lead_stage_changes,
orders (repeat buyers over two years), subscriptions, consents, events (Segment-shaped
NDJSON, or typed Parquet matching the `events` table), truth (source, id_type,
source_record_id, person_id) and generation.json (parameters, counts, time, bytes).
Column names are the canonical fields of the typed tables, so ingest maps them as they are.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.sample import vocab as V  # noqa: E402

START = "2024-11-01 00:00:00+00"
SPAN_DAYS = 754                        # up to 2026-11-25
SCALES: dict[str, dict[str, int]] = {
    "smoke": {"profiles": 2_000, "events": 20_000},
    "medium": {"profiles": 100_000, "events": 1_000_000},
    "full": {"profiles": 1_000_000, "events": 10_000_000},
}
FILES = ("persons", "contacts", "lead_stage_changes", "orders", "subscriptions", "consents", "truth")


def _lookup_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Small vocabularies as tables keyed by a dense idx (joined on hash % count)."""
    nick = {name: nicks[0] for name, nicks in V.NICKNAMES.items()}
    first = pd.DataFrame({"name": V.FIRST_NAMES, "nick": [nick.get(n) for n in V.FIRST_NAMES]})
    places = [(city, country, outward) for city, country, outwards, weight in V.CITIES
              for outward in outwards for _ in range(max(1, round(weight * 4 / len(outwards))))]
    domains = [d for d, w in V.EMAIL_DOMAINS for _ in range(w)]
    campaigns = [(s, m, host or "", click or "", c) for s, m, host, click, names in V.CAMPAIGN_CHANNELS
                 for c in names]
    frames = {
        "t_first": first,
        "t_last": pd.DataFrame({"name": V.LAST_NAMES}),
        "t_place": pd.DataFrame(places, columns=["city", "country", "outward"]),
        "t_street": pd.DataFrame({"street": V.STREETS}),
        "t_domain": pd.DataFrame({"domain": domains}),
        "t_company": pd.DataFrame({"company": V.COMPANIES}),
        "t_product": pd.DataFrame(V.PRODUCTS, columns=["sku", "name", "category", "price"]),
        "t_plan": pd.DataFrame(V.PLANS, columns=["plan", "price", "billing_interval"]),
        "t_campaign": pd.DataFrame(campaigns, columns=["source", "medium", "host", "click", "campaign"]),
        "t_stage": pd.DataFrame({"stage": V.LEAD_STAGES + ["lost"]}),
        "t_owner": pd.DataFrame({"owner": V.CRM_OWNERS}),
        "t_store": pd.DataFrame({"store": [s for s, _ in V.STORES]}),
    }
    for name, frame in frames.items():
        con.register("frame_view", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT (row_number() OVER () - 1)::BIGINT AS idx, * FROM frame_view")
        con.unregister("frame_view")
        count = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        con.execute(f"SET VARIABLE n_{name[2:]} = {count}")


def _macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    con.execute(f"SET VARIABLE seed = {int(seed)}")
    # u(i, salt): a uniform number in [0, 1) from a row number and a salt; h(i, salt): a hash
    con.execute("CREATE MACRO h(i, salt) AS hash(i, salt, getvariable('seed'))")
    con.execute("CREATE MACRO u(i, salt) AS (hash(i, salt, getvariable('seed')) % 1000000007)::DOUBLE / 1000000007")
    con.execute("CREATE MACRO pick(i, salt, n) AS (hash(i, salt, getvariable('seed')) % n)::BIGINT")
    # drop one inner character: Smith -> Smth
    con.execute("""CREATE MACRO typo(s, k) AS CASE WHEN length(s) < 4 THEN s
                   ELSE left(s, (1 + k % (length(s) - 2))::INT) || substr(s, (3 + k % (length(s) - 2))::INT) END""")
    con.execute("CREATE MACRO uuid_of(x) AS CAST(CAST(md5(x) AS UUID) AS VARCHAR)")
    con.execute("CREATE MACRO clean(s) AS regexp_replace(lower(strip_accents(s)), '[^a-z]', '', 'g')")
    con.execute(f"CREATE MACRO at_day(d) AS TIMESTAMPTZ '{START}' + to_seconds(CAST(d * 86400 AS BIGINT))")


PERSONS_SQL = """
CREATE TABLE persons AS
WITH base AS (
    SELECT i, sum(CASE WHEN i = 0 OR u(i, 1) < 0.78 THEN 1 ELSE 0 END) OVER (ORDER BY i) AS hh
    FROM range(getvariable('profiles')) t(i)
), sized AS (
    SELECT *, count(*) OVER (PARTITION BY hh) AS hh_size FROM base
), named AS (
    SELECT s.i, s.hh, s.hh_size, f.name AS first_name, f.nick,
           CASE WHEN u(s.i, 3) < 0.85 THEN lh.name ELSE li.name END AS last_name,
           p.city, p.country, p.outward, st.street, d.domain
    FROM sized s
    JOIN t_first f ON f.idx = pick(s.i, 2, getvariable('n_first'))
    JOIN t_last lh ON lh.idx = pick(s.hh, 3, getvariable('n_last'))
    JOIN t_last li ON li.idx = pick(s.i, 4, getvariable('n_last'))
    JOIN t_place p ON p.idx = pick(s.hh, 5, getvariable('n_place'))
    JOIN t_street st ON st.idx = pick(s.hh, 6, getvariable('n_street'))
    JOIN t_domain d ON d.idx = pick(s.i, 7, getvariable('n_domain'))
)
SELECT
    i,
    'P' || lpad(CAST(i AS VARCHAR), 8, '0') AS person_id,
    'H' || lpad(CAST(hh AS VARCHAR), 8, '0') AS household_id,
    first_name, nick, last_name,
    CASE WHEN hh_size > 1 AND u(i, 8) < 0.15
         THEN 'the' || clean(last_name) || 's' || CAST(hh AS VARCHAR) || '@' || domain
         ELSE clean(first_name) || '.' || clean(last_name) || CAST(i AS VARCHAR) || '@' || domain END AS email,
    CASE WHEN hh_size > 1 AND u(i, 9) < 0.10
         THEN '+4420' || lpad(CAST((hh * 7919 + 11) % 99999989 AS VARCHAR), 8, '0')
         ELSE '+447' || lpad(CAST((i * 747796405 + 12345 + getvariable('seed')) % 999999937 AS VARCHAR), 9, '0') END AS phone,
    CAST(1 + h(hh, 10) % 200 AS VARCHAR) || ' ' || street AS address_line1,
    city,
    outward || ' ' || CAST(1 + h(hh, 11) % 9 AS VARCHAR) || chr(CAST(65 + h(hh, 12) % 26 AS INT))
        || chr(CAST(65 + h(hh, 13) % 26 AS INT)) AS postcode,
    country,
    CASE WHEN u(i, 14) < 0.6 THEN DATE '1948-01-01' + CAST(h(i, 15) % 20000 AS INT) END AS date_of_birth,
    'C' || CAST(10000000 + i AS VARCHAR) AS customer_id,
    u(i, 16) < 0.80 AS in_crm,
    u(i, 17) < 0.45 AS is_buyer,
    u(i, 18) < 0.12 AS is_subscriber,
    u(i, 19) < 0.60 AS is_web,
    u(i, 20) < 0.55 AS identified,
    CASE WHEN u(i, 21) < 0.2 THEN 2 ELSE 1 END AS devices,
    u(i, 22) < 0.55 AS has_consents
FROM named
ORDER BY i
"""

# One CRM record per person in the CRM, plus duplicated records of the same people.
CONTACTS_SQL = """
CREATE TABLE contact_records AS
WITH recs AS (
    SELECT p.*, 0 AS copy FROM persons p WHERE in_crm
    UNION ALL
    SELECT p.*, c.copy FROM persons p,
        (SELECT unnest(range(1, 3)) AS copy) c
    WHERE (c.copy = 1 AND u(p.i, 30) < getvariable('dup_rate'))
       OR (c.copy = 2 AND u(p.i, 30) < getvariable('dup_rate') / 5)
), v AS (
    SELECT r.*, h(r.i * 4 + r.copy, 31) AS k, (r.copy > 0 OR NOT r.in_crm) AS messy
    FROM recs r
)
SELECT
    i, person_id, copy,
    CASE WHEN copy = 0 THEN 'CRM-' || CAST(i AS VARCHAR) ELSE 'CRM-D' || CAST(i AS VARCHAR) || '-' || CAST(copy AS VARCHAR) END
        AS source_record_id,
    CASE WHEN messy AND k % 100 < 2 THEN last_name                           -- swapped fields
         WHEN messy AND k % 100 < 30 AND nick IS NOT NULL THEN nick
         WHEN messy AND k % 100 < 42 THEN typo(first_name, k >> 8)
         WHEN messy AND k % 100 < 47 THEN upper(first_name)
         WHEN k % 100 < 3 THEN typo(first_name, k >> 8)
         ELSE first_name END AS first_name,
    CASE WHEN messy AND k % 100 < 2 THEN first_name
         WHEN messy AND (k >> 16) % 100 < 25 THEN typo(last_name, k >> 24)
         WHEN messy AND (k >> 16) % 100 < 35 THEN strip_accents(last_name)
         WHEN (k >> 16) % 100 < 3 THEN typo(last_name, k >> 24)
         ELSE last_name END AS last_name,
    CASE WHEN messy AND (k >> 32) % 100 < 25 THEN NULL
         WHEN messy AND (k >> 32) % 100 < 40 THEN upper(email)
         WHEN messy AND (k >> 32) % 100 < 50
              THEN clean(first_name) || '.' || clean(last_name) || '@' || clean(co.company) || '.co.uk'
         ELSE email END AS email,
    CASE WHEN (k >> 40) % 100 < (CASE WHEN messy THEN 40 ELSE 15 END) THEN NULL
         WHEN (k >> 40) % 100 < 55 THEN '0' || substr(phone, 4)
         WHEN (k >> 40) % 100 < 70 THEN '+44 ' || substr(phone, 4, 4) || ' ' || substr(phone, 8)
         ELSE phone END AS phone,
    CASE WHEN messy AND (k >> 48) % 100 < 10 THEN CAST(1 + h(i, 32) % 200 AS VARCHAR) || ' ' || st.street
         ELSE address_line1 END AS address_line1,
    CASE WHEN messy AND (k >> 48) % 100 < 10 THEN pl.city ELSE v.city END AS city,
    CASE WHEN messy AND (k >> 48) % 100 < 10 THEN pl.outward || ' 1AA' ELSE postcode END AS postcode,
    v.country,
    CASE WHEN messy AND (k >> 56) % 100 < 40 THEN NULL ELSE date_of_birth END AS date_of_birth,
    CASE WHEN (is_buyer OR is_subscriber) AND (copy = 0 OR u(i, 33) < 0.2) THEN customer_id END AS customer_id,
    stg.stage AS lead_stage,
    CASE WHEN stg.stage <> 'subscriber' THEN ow.owner END AS owner,
    CASE WHEN stg.stage IN ('sales_qualified', 'opportunity', 'customer')
         THEN round(200 + 4800 * u(i, 34) * u(i, 35), 0) END AS deal_value,
    at_day(u(i * 4 + copy, 36) * (SPAN - 30)) AS created_at,
    stg.idx AS stage_idx,
    co.company
FROM v
JOIN t_company co ON co.idx = pick(i, 37, getvariable('n_company'))
JOIN t_street st ON st.idx = pick(i, 38, getvariable('n_street'))
JOIN t_place pl ON pl.idx = pick(i, 39, getvariable('n_place'))
JOIN t_stage stg ON stg.idx = pick(i * 4 + copy, 40, getvariable('n_stage'))
JOIN t_owner ow ON ow.idx = pick(i, 41, getvariable('n_owner'))
ORDER BY i, copy
"""

ORDERS_SQL = """
CREATE TABLE order_rows AS
WITH buyers AS (
    SELECT *, least(40, 1 + CAST(floor(-ln(1 - u(i, 50)) * 2.2) AS INT)) AS n_orders,
           15 + 180 * u(i, 51) AS gap_days, SPAN * 0.85 * u(i, 52) AS first_day
    FROM persons WHERE is_buyer
), o AS (
    SELECT b.*, unnest(range(n_orders)) AS k FROM buyers b
), timed AS (
    SELECT o.*, first_day + k * gap_days * (0.6 + 0.8 * u(i * 64 + k, 53)) AS day FROM o
)
SELECT
    i, person_id,
    'O' || CAST(i AS VARCHAR) || '-' || CAST(k AS VARCHAR) AS source_record_id,
    'O' || CAST(i AS VARCHAR) || '-' || CAST(k AS VARCHAR) AS order_id,
    at_day(day) AS ordered_at,
    round(6 + 180 * pow(u(i * 64 + k, 54), 2) + pr.price, 2) AS amount,
    CASE WHEN country = 'IE' THEN 'EUR' ELSE 'GBP' END AS currency,
    CAST(1 + h(i * 64 + k, 55) % 4 AS INT) AS quantity,
    CASE WHEN u(i * 64 + k, 56) < 0.8 THEN 'online' ELSE 'store' END AS channel,
    CASE WHEN u(i * 64 + k, 56) >= 0.8 THEN s.store END AS store,
    CASE WHEN u(i * 64 + k, 57) < 0.05 THEN upper(email) WHEN u(i * 64 + k, 57) < 0.12 THEN NULL ELSE email END AS email,
    CASE WHEN u(i * 64 + k, 58) < 0.5 THEN phone END AS phone,
    first_name, last_name, address_line1, city, postcode, country,
    CASE WHEN u(i * 64 + k, 59) < 0.85 THEN customer_id END AS customer_id,
    pr.sku AS top_sku
FROM timed
JOIN t_product pr ON pr.idx = pick(i * 64 + k, 60, getvariable('n_product'))
JOIN t_store s ON s.idx = pick(i, 61, getvariable('n_store'))
WHERE day < SPAN
ORDER BY i, k
"""

SUBSCRIPTIONS_SQL = """
CREATE TABLE subscription_rows AS
SELECT i, person_id,
    'S' || CAST(i AS VARCHAR) AS source_record_id, 'sub_' || CAST(i AS VARCHAR) AS subscription_id,
    pl.plan,
    CASE WHEN u(i, 70) < 0.3 THEN 'cancelled' WHEN u(i, 70) < 0.35 THEN 'past_due'
         WHEN u(i, 71) * SPAN > SPAN - 14 THEN 'trialing' ELSE 'active' END AS status,
    at_day(u(i, 71) * SPAN) AS started_at,
    CASE WHEN u(i, 70) < 0.3 THEN at_day(u(i, 71) * SPAN + (SPAN - u(i, 71) * SPAN) * u(i, 72)) END AS cancelled_at,
    pl.price AS amount, CASE WHEN country = 'IE' THEN 'EUR' ELSE 'GBP' END AS currency, pl.billing_interval,
    email, first_name, last_name, customer_id
FROM persons JOIN t_plan pl ON pl.idx = pick(i, 73, getvariable('n_plan'))
WHERE is_subscriber
ORDER BY i
"""

CONSENTS_SQL = """
CREATE TABLE consent_rows AS
SELECT i, person_id,
    'CN' || CAST(i AS VARCHAR) || '-' || CAST(pu.n AS VARCHAR) AS source_record_id,
    pu.purpose, u(i * 8 + pu.n, 81) < 0.8 AS granted,
    at_day(u(i * 8 + pu.n, 82) * SPAN) AS recorded_at,
    CASE WHEN u(i, 83) < 0.5 THEN 'signup_form' WHEN u(i, 83) < 0.8 THEN 'checkout_checkbox' ELSE 'preference_center' END AS method,
    email, customer_id
FROM persons,
     (VALUES (0, 'analytics', 0.9), (1, 'email', 0.7), (2, 'advertising', 0.5), (3, 'sale_sharing', 0.3)) pu(n, purpose, p)
WHERE has_consents AND u(i * 8 + pu.n, 80) < pu.p
ORDER BY i, pu.n
"""

# Events: the actor of event j is a web visitor picked with a skew (some people are much
# more active); anonymous ids are per device, user ids appear once a person has identified.
EVENTS_SELECT = """
WITH web AS (
    SELECT *, CAST(row_number() OVER (ORDER BY i) - 1 AS BIGINT) AS w FROM persons WHERE is_web
), ev AS (
    SELECT j, CAST(floor(getvariable('n_web') * pow(u(j, 90), 1.6)) AS BIGINT) AS w, u(j, 91) AS t
    FROM range(getvariable('events')) r(j)
), joined AS (
    SELECT ev.j, ev.t, web.*,
        CASE WHEN ev.t < 0.40 THEN 'page' WHEN ev.t < 0.93 THEN 'track' ELSE 'identify' END AS type,
        CASE WHEN ev.t < 0.40 THEN NULL WHEN ev.t < 0.65 THEN 'Product Viewed' WHEN ev.t < 0.77 THEN 'Product Added'
             WHEN ev.t < 0.83 THEN 'Checkout Started' WHEN ev.t < 0.87 THEN 'Order Completed'
             WHEN ev.t < 0.89 THEN 'Signed Up' WHEN ev.t < 0.93 THEN 'Email Link Clicked' END AS event,
        uuid_of('a' || CAST(web.i AS VARCHAR) || '-' ||
                CAST(CASE WHEN web.devices = 2 AND u(ev.j, 92) < 0.4 THEN 1 ELSE 0 END AS VARCHAR)) AS anonymous_id,
        CASE WHEN web.identified AND (ev.t >= 0.93 OR u(ev.j, 93) < 0.6) THEN web.customer_id END AS user_id,
        at_day(u(ev.j, 94) * SPAN) AS ts,
        pr.sku, pr.name AS product_name, pr.category, pr.price,
        cp.source AS utm_source, cp.medium AS utm_medium, cp.campaign AS utm_campaign, cp.host, cp.click,
        u(ev.j, 95) < 0.4 AS paid
    FROM ev JOIN web USING (w)
    JOIN t_product pr ON pr.idx = pick(ev.j, 96, getvariable('n_product'))
    JOIN t_campaign cp ON cp.idx = pick(ev.j, 97, getvariable('n_campaign'))
)
SELECT
    uuid_of('m' || CAST(getvariable('seed') AS VARCHAR) || '-' || CAST(j AS VARCHAR)) AS message_id,
    type, event,
    CASE WHEN type = 'page' THEN 'Coffee Beans' END AS name,
    user_id, anonymous_id, ts AS "timestamp", ts + INTERVAL 1 SECOND AS sent_at,
    CASE WHEN type = 'track' AND event IN ('Product Viewed', 'Product Added')
              THEN json_object('product_id', sku, 'sku', sku, 'name', product_name, 'category', category,
                               'price', price, 'currency', 'GBP')
         WHEN type = 'track' AND event IN ('Checkout Started', 'Order Completed')
              THEN json_object('order_id', 'W' || CAST(j AS VARCHAR), 'revenue', round(price * 1.2, 2),
                               'currency', 'GBP', 'products', [json_object('sku', sku, 'price', price, 'quantity', 1)])
         WHEN type = 'track' THEN json_object('campaign', utm_campaign) END AS properties,
    json_object(
        'page', json_object('path', '/shop/beans',
                            'url', 'https://www.kettleandcrane.co.uk/shop/beans' ||
                                   CASE WHEN paid THEN '?utm_source=' || utm_source || '&utm_medium=' || utm_medium
                                        || '&utm_campaign=' || utm_campaign
                                        || CASE WHEN click <> '' THEN '&' || click || '=' || substr(md5(CAST(j AS VARCHAR)), 1, 16) ELSE '' END
                                   ELSE '' END,
                            'referrer', CASE WHEN paid AND host <> '' THEN 'https://' || host || '/' ELSE '' END),
        'campaign', CASE WHEN paid THEN json_object('name', utm_campaign, 'source', utm_source, 'medium', utm_medium) END,
        'userAgent', 'Mozilla/5.0') AS context,
    CASE WHEN type = 'identify' THEN json_object('email', email, 'firstName', first_name, 'lastName', last_name) END AS traits
FROM joined
ORDER BY j
"""

# NDJSON events look like what a Segment client sends (camelCase, ISO 8601 UTC timestamps).
SEGMENT_SHAPE = """
SELECT message_id AS "messageId", type, event, name, user_id AS "userId", anonymous_id AS "anonymousId",
       strftime(timezone('UTC', "timestamp"), '%Y-%m-%dT%H:%M:%S.000Z') AS "timestamp",
       strftime(timezone('UTC', sent_at), '%Y-%m-%dT%H:%M:%S.000Z') AS "sentAt",
       properties, context, traits
FROM ({query})
"""

TRUTH_SQL = """
SELECT 'crm' AS source, 'record' AS id_type, source_record_id, person_id FROM contact_records
UNION ALL SELECT 'shop', 'record', source_record_id, person_id FROM order_rows
UNION ALL SELECT 'billing', 'record', source_record_id, person_id FROM subscription_rows
UNION ALL SELECT 'consents', 'record', source_record_id, person_id FROM consent_rows
UNION ALL SELECT 'web', 'anonymous_id', uuid_of('a' || CAST(p.i AS VARCHAR) || '-' || CAST(d.d AS VARCHAR)), p.person_id
    FROM persons p, (VALUES (0), (1)) d(d) WHERE p.is_web AND d.d < p.devices
UNION ALL SELECT 'web', 'user_id', customer_id, person_id FROM persons WHERE is_web AND identified
"""

EXPORTS = {
    "persons": "SELECT person_id, household_id, first_name, last_name, email, phone, address_line1, city, postcode, "
               "country, date_of_birth, customer_id FROM persons ORDER BY i",
    "contacts": "SELECT source_record_id, first_name, last_name, email, phone, address_line1, city, postcode, country, "
                "date_of_birth, customer_id, lead_stage, owner, deal_value, created_at, created_at + INTERVAL 3 DAY "
                "AS updated_at, company FROM contact_records ORDER BY i, copy",
    "lead_stage_changes": "SELECT 'crm' AS source, source_record_id, s.stage, p.stage AS previous_stage, "
                          "created_at + to_days(CAST(n * 9 AS INT)) AS changed_at "
                          "FROM (SELECT *, unnest(range(1, stage_idx + 1)) AS n FROM contact_records "
                          "WHERE stage_idx BETWEEN 1 AND 5) c "
                          "JOIN t_stage s ON s.idx = c.n JOIN t_stage p ON p.idx = c.n - 1 ORDER BY i, copy, n",
    "orders": "SELECT source_record_id, order_id, ordered_at, amount, currency, quantity, channel, store, email, phone, "
              "first_name, last_name, address_line1, city, postcode, country, customer_id, top_sku FROM order_rows",
    "subscriptions": "SELECT source_record_id, subscription_id, plan, status, started_at, cancelled_at, amount, currency, "
                     "billing_interval, email, first_name, last_name, customer_id FROM subscription_rows",
    "consents": "SELECT source_record_id, purpose, granted, recorded_at, method, email, customer_id FROM consent_rows",
    "truth": TRUTH_SQL,
}


def _copy(con, query: str, path: Path, fmt: str) -> int:
    """Stream a query's rows to a file; returns the number of rows written."""
    options = {"csv": "FORMAT csv, HEADER true", "parquet": "FORMAT parquet, COMPRESSION zstd",
               "ndjson": "FORMAT json"}[fmt]
    return int(con.execute(f"COPY ({query}) TO '{path}' ({options})").fetchone()[0])


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file())


def generate(out: str | Path, profiles: int, events: int, *, seed: int = 42, fmt: str = "csv",
             events_format: str = "parquet", duplicates: float = 0.25, threads: int | None = None,
             memory_limit: str = "3GB", progress=None) -> dict:
    """Write a dataset of `profiles` people and `events` web events into out; returns its stats."""
    if fmt not in ("csv", "parquet") or events_format not in ("parquet", "ndjson"):
        raise ValueError("format must be csv or parquet; events format parquet or ndjson")
    if profiles < 10 or events < 0:
        raise ValueError("profiles must be at least 10 and events not negative")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*"):
        if stale.is_file() and stale.stem in FILES + ("events", "generation", "gen"):
            stale.unlink()
    started = time.monotonic()
    scratch = out / "gen.duckdb"
    con = duckdb.connect(str(scratch))
    timings: dict[str, float] = {}
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{out / 'gen.tmp'}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute(f"SET VARIABLE profiles = {int(profiles)}")
        con.execute(f"SET VARIABLE events = {int(events)}")
        con.execute(f"SET VARIABLE dup_rate = {float(duplicates)}")
        _macros(con, seed)
        _lookup_tables(con)
        steps = [("persons", PERSONS_SQL), ("contacts", CONTACTS_SQL), ("orders", ORDERS_SQL),
                 ("subscriptions", SUBSCRIPTIONS_SQL), ("consents", CONSENTS_SQL)]
        total_steps = len(steps) + len(EXPORTS) + 1
        done = 0
        for name, sql in steps:
            t0 = time.monotonic()
            con.execute(sql.replace("SPAN", str(SPAN_DAYS)))
            timings[name] = time.monotonic() - t0
            done += 1
            if progress:
                progress(done / total_steps, f"built {name}")
        n_web = con.execute("SELECT count(*) FROM persons WHERE is_web").fetchone()[0]
        con.execute(f"SET VARIABLE n_web = {n_web}")
        counts: dict[str, int] = {}
        for name, query in EXPORTS.items():
            t0 = time.monotonic()
            counts[name] = _copy(con, query, out / f"{name}.{fmt}", fmt)
            timings[f"write_{name}"] = time.monotonic() - t0
            done += 1
            if progress:
                progress(done / total_steps, f"wrote {name}")
        t0 = time.monotonic()
        counts["events"] = 0
        if events and n_web:
            query = EVENTS_SELECT.replace("SPAN", str(SPAN_DAYS))
            if events_format == "ndjson":
                query = SEGMENT_SHAPE.format(query=query)
            counts["events"] = _copy(con, query, out / f"events.{events_format}", events_format)
        timings["write_events"] = time.monotonic() - t0
    finally:
        con.close()
        for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
            if leftover.exists():
                leftover.unlink()
    seconds = time.monotonic() - started
    stats = {"profiles": int(profiles), "events": counts["events"], "seed": seed, "format": fmt,
             "events_format": events_format, "duplicates": duplicates, "counts": counts,
             "seconds": round(seconds, 2), "timings": {k: round(v, 2) for k, v in timings.items()},
             "bytes": _size(out)}
    (out / "generation.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    if progress:
        progress(1.0, "done")
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--scale", choices=sorted(SCALES), help="preset sizes (overrides --profiles/--events)")
    parser.add_argument("--out", type=Path, default=None, help="folder (default bench/data/<profiles>-<events>)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--events-format", choices=["parquet", "ndjson"], default="parquet")
    parser.add_argument("--duplicates", type=float, default=0.25, help="share of people with a duplicate CRM record")
    args = parser.parse_args(argv)
    if args.scale:
        args.profiles, args.events = SCALES[args.scale]["profiles"], SCALES[args.scale]["events"]
    out = args.out or ROOT / "bench" / "data" / f"{args.profiles}-{args.events}"
    stats = generate(out, args.profiles, args.events, seed=args.seed, fmt=args.format,
                     events_format=args.events_format, duplicates=args.duplicates,
                     progress=lambda f, m: print(f"  {f:5.0%} {m}", file=sys.stderr))
    for name, n in stats["counts"].items():
        print(f"{name:20s} {n:12,d} rows")
    print(f"Generated {args.profiles:,} profiles and {stats['events']:,} events in {stats['seconds']:.1f} s; "
          f"{stats['bytes'] / 1e6:,.1f} MB on disk in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
