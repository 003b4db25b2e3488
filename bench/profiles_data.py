"""Synthetic workspace data for the profiles and journeys benchmarks, generated in DuckDB SQL.

Profiles with names, emails and phones; their identifiers; web events that walk a
shop funnel (page views, product views, add to cart, checkout, purchase) with UTM
campaigns on the first page view; orders.
"""
from __future__ import annotations

FIRST = ["james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william",
         "elizabeth", "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah",
         "charles", "karen", "christopher", "nancy", "daniel", "lisa", "matthew", "betty", "anthony",
         "margaret", "mark", "sandra", "aisha", "mohammed", "priya", "chen", "olga", "sven", "ines"]
LAST = ["smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
        "martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor",
        "moore", "jackson", "martin", "lee", "perez", "thompson", "white", "harris", "sanchez",
        "clark", "ramirez", "lewis", "robinson", "walker", "young", "allen", "king", "wright", "scott",
        "kowalski", "nakamura", "okafor", "lindqvist", "fernandes", "oconnor", "dubois"]
DOMAINS = ["gmail.com", "yahoo.co.uk", "outlook.com", "example.org", "hotmail.com", "icloud.com"]


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v + "'" for v in values) + "]"


def generate(con, n_profiles: int, n_events: int, seed: float = 0.42) -> None:
    """Fill profiles, profile_identifiers, profile_members, events and orders of a migrated workspace."""
    con.execute(f"SELECT setseed({seed})")
    con.execute("CREATE OR REPLACE TEMP MACRO hm(x, n) AS CAST(hash(x) % n AS BIGINT)")
    first, last, domains = _sql_list(FIRST), _sql_list(LAST), _sql_list(DOMAINS)
    con.execute(f"""
        INSERT INTO profiles (profile_id, email, phone, first_name, last_name, city, country,
                              customer_id, user_id, record_count, first_seen, last_seen)
        SELECT 'p' || i,
               lower(fn) || '.' || lower(ln) || i || '@' || {domains}[1 + (i % 6)],
               '+447' || lpad(CAST((i * 7919) % 1000000000 AS VARCHAR), 9, '0'),
               upper(fn[1]) || fn[2:], upper(ln[1]) || ln[2:], 'London', 'GB', 'C' || i, 'u' || i, 2,
               TIMESTAMPTZ '2024-01-01' + to_days(CAST(i % 600 AS INTEGER)),
               TIMESTAMPTZ '2025-06-01' + to_days(CAST(i % 100 AS INTEGER))
        FROM (SELECT i, {first}[1 + hm(i, {len(FIRST)})] AS fn,
                        {last}[1 + hm(i * 31, {len(LAST)})] AS ln
              FROM range({n_profiles}) t(i))
    """)
    con.execute("""
        INSERT INTO profile_identifiers (profile_id, id_type, id_value, first_seen)
        SELECT profile_id, 'email', email, first_seen FROM profiles
        UNION ALL SELECT profile_id, 'phone', phone, first_seen FROM profiles
        UNION ALL SELECT profile_id, 'customer_id', customer_id, first_seen FROM profiles
        UNION ALL SELECT profile_id, 'user_id', user_id, first_seen FROM profiles
        UNION ALL SELECT profile_id, 'anonymous_id', 'a' || substr(profile_id, 2), first_seen FROM profiles
    """)
    # Each visitor's events walk the funnel: every step reached with some probability.
    con.execute(f"""
        INSERT INTO events (message_id, source, type, event, name, user_id, anonymous_id, timestamp,
                            properties, context)
        WITH ev AS (
            SELECT i, hm(i, {n_profiles}) AS p, hm(i * 13, 100) AS r, i % 7 AS pos
            FROM range({n_events}) t(i)
        )
        SELECT 'm' || i, 'web',
               CASE WHEN pos IN (0, 1) THEN 'page' ELSE 'track' END,
               CASE pos WHEN 0 THEN NULL WHEN 1 THEN NULL
                        WHEN 2 THEN 'Product Viewed' WHEN 3 THEN CASE WHEN r < 60 THEN 'Product Added' ELSE 'Product Viewed' END
                        WHEN 4 THEN CASE WHEN r < 35 THEN 'Checkout Started' ELSE 'Products Searched' END
                        WHEN 5 THEN CASE WHEN r < 20 THEN 'Order Completed' ELSE 'Product Viewed' END
                        ELSE 'Signed Up' END,
               CASE pos WHEN 0 THEN 'Home' WHEN 1 THEN CASE WHEN r < 50 THEN 'Category' ELSE 'Search' END END,
               CASE WHEN r < 50 THEN 'u' || p END, 'a' || p,
               TIMESTAMPTZ '2025-01-01' + to_seconds(CAST(p % 500 AS BIGINT) * 86400 + pos * 60 + (i // {n_profiles}) * 3600),
               json_object('price', r),
               json_object('page', json_object('url', 'https://shop.example/' || pos, 'referrer',
                                               CASE r % 4 WHEN 0 THEN 'https://www.google.com/' WHEN 1 THEN 'https://facebook.com/' END),
                           'campaign', CASE WHEN pos = 0 AND r % 3 = 0 THEN json_object('source', ['google','facebook','newsletter'][1 + r % 3], 'medium', ['cpc','paid_social','email'][1 + r % 3]) END)
        FROM ev
    """)
    con.execute(f"""
        INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, currency, channel, customer_id)
        SELECT 'shop', 'o' || i, 'o' || i,
               TIMESTAMPTZ '2024-02-01' + to_days(CAST(hm(i, 600) AS INTEGER)),
               10 + hm(i * 3, 200), 'GBP', 'online', 'C' || hm(i * 7, {n_profiles})
        FROM range({max(n_profiles // 2, 1)}) t(i)
    """)
    con.execute("""
        INSERT INTO profile_members (profile_id, kind, source, source_record_id)
        SELECT 'p' || substr(customer_id, 2), 'orders', source, source_record_id FROM orders
    """)
