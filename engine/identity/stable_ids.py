"""Stable profile ids: a cluster keeps the id of the profile whose records it holds.

Rules (in SQL): each previous profile id goes to the new cluster holding most of its
records (a split keeps the id on the larger part); a cluster that inherits several
ids keeps the oldest (when two merge, the older id survives) and the others are
retired with `merged_into`; a cluster with no previous records gets a new id.

Input: temp table _lab(rec BIGINT, comp BIGINT). Output: temp table _comp_pid(comp, profile_id).
"""
from __future__ import annotations

ID_PREFIX = "p"
ID_DIGITS = 9


def assign_profile_ids(con) -> dict:
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _overlap AS
        SELECT l.comp, pm.profile_id, count(*) AS n
        FROM _lab l JOIN identity_records r ON r.rec_id = l.rec
        JOIN profile_members pm ON pm.source = r.source AND pm.source_record_id = r.source_record_id
        GROUP BY ALL
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _heir AS
        SELECT profile_id, comp FROM (
            SELECT profile_id, comp, row_number() OVER (PARTITION BY profile_id ORDER BY n DESC, comp) AS k
            FROM _overlap) WHERE k = 1
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _comp_pid AS
        SELECT comp, profile_id FROM (
            SELECT h.comp, h.profile_id,
                   row_number() OVER (PARTITION BY h.comp
                                      ORDER BY COALESCE(g.created_at, now()), h.profile_id) AS k
            FROM _heir h LEFT JOIN identity_profile_registry g USING (profile_id)) WHERE k = 1
    """)
    base = con.execute(f"""
        SELECT COALESCE(max(TRY_CAST(substr(profile_id, {len(ID_PREFIX) + 1}) AS BIGINT)), 0)
        FROM identity_profile_registry""").fetchall()[0][0]
    con.execute(f"""
        INSERT INTO _comp_pid
        SELECT comp, '{ID_PREFIX}' || lpad(CAST(? + row_number() OVER (ORDER BY comp) AS VARCHAR), {ID_DIGITS}, '0')
        FROM (SELECT DISTINCT comp FROM _lab) c
        WHERE comp NOT IN (SELECT comp FROM _comp_pid)
    """, [int(base)])
    created = con.execute("""
        INSERT INTO identity_profile_registry (profile_id, created_at)
        SELECT profile_id, now() FROM _comp_pid
        WHERE profile_id NOT IN (SELECT profile_id FROM identity_profile_registry)
        RETURNING profile_id""").fetchall()
    # Previous ids that no cluster kept are retired (merged into the cluster holding most of them).
    retired = con.execute("""
        UPDATE identity_profile_registry g SET retired_at = now(), merged_into = m.profile_id
        FROM (SELECT h.profile_id AS old_id, c.profile_id FROM _heir h JOIN _comp_pid c USING (comp)
              WHERE h.profile_id <> c.profile_id) m
        WHERE g.profile_id = m.old_id AND g.retired_at IS NULL
        RETURNING g.profile_id""").fetchall()
    con.execute("""
        UPDATE identity_profile_registry SET retired_at = NULL, merged_into = NULL
        WHERE profile_id IN (SELECT profile_id FROM _comp_pid) AND retired_at IS NOT NULL""")
    return {"profiles_created": len(created), "profiles_retired": len(retired)}
