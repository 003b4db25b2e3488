"""Clustering: connected components with merge guards, tier by tier.

Records are nodes 0..n-1. Evidence comes in tiers, highest priority first (reviewer
accepts, then strong identifiers in priority order, then automatic fuzzy matches).
Each piece of evidence is a hyperedge: every record carrying one identifier value,
or the two records of a pair. Per tier, a hyperedge that would put more distinct
values of a limited type (tokens: user_id, customer_id, email, phone, unmerge groups,
rejected pairs) into one profile than allowed is *blocked* instead of merged; the
rest are merged with scipy's connected_components on integer arrays. A component
label is always the smallest record number in it, so labels from different tiers
stay comparable.

Tables the caller prepares (temporary):
  _g_edges(tier INTEGER, edge BIGINT, rec BIGINT)
  _g_tok(rec BIGINT, ltype VARCHAR, lvalue VARCHAR, hard BOOLEAN)
  _g_lim(ltype VARCHAR, lim INTEGER)            -- types absent here allow 1
Output: labels (numpy array) and the temp table
  _g_blocked(tier INTEGER, edge BIGINT, ltype VARCHAR, hard BOOLEAN, rec BIGINT, comp BIGINT)
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Label each of n nodes with the smallest node number in its connected component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if n == 0:
        return np.zeros(0, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, cc = connected_components(graph, directed=False)
    smallest = np.full(cc.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, cc, np.arange(n, dtype=np.int64))
    return smallest[cc]


def _set_labels(con, labels: np.ndarray, table: str = "_g_lab") -> None:
    frame = pd.DataFrame({"rec": np.arange(len(labels), dtype=np.int64), "comp": labels})
    con.register("_g_lab_frame", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _g_lab_frame")
    con.unregister("_g_lab_frame")


_EDGE_VIOLATIONS = """
    WITH x AS (SELECT ec.edge, ct.comp, ct.ltype, ct.lvalue, ct.hard
               FROM _g_ec ec JOIN _g_ct ct USING (comp)),
    part AS (SELECT comp, ltype, count(DISTINCT lvalue) AS cnt FROM _g_ct GROUP BY ALL),
    pm AS (SELECT x.edge, x.ltype, max(p.cnt) AS part_max
           FROM (SELECT DISTINCT edge, comp, ltype FROM x) x JOIN part p USING (comp, ltype) GROUP BY ALL)
    SELECT x.edge, x.ltype, bool_or(x.hard) AS hard
    FROM x JOIN pm USING (edge, ltype) LEFT JOIN _g_lim l USING (ltype)
    GROUP BY x.edge, x.ltype
    HAVING count(DISTINCT x.lvalue) > greatest(COALESCE(any_value(l.lim), 1), any_value(pm.part_max))
"""

_AGREEING_PARTS = """
    SELECT min(ec.comp) OVER (PARTITION BY ec.edge, ct.lvalue) AS root, ec.comp
    FROM _g_ec ec
    JOIN (SELECT edge, any_value(ltype) AS ltype FROM _g_bad GROUP BY edge HAVING count(*) = 1) b USING (edge)
    JOIN _g_ct ct ON ct.comp = ec.comp AND ct.ltype = b.ltype
    JOIN (SELECT comp, ltype FROM _g_ct GROUP BY comp, ltype HAVING count(*) = 1) one
      ON one.comp = ec.comp AND one.ltype = b.ltype
"""

_JOINT_VIOLATIONS = """
    WITH merged AS (SELECT n.comp AS ncomp FROM _g_new n JOIN _g_lab o USING (rec)
                    GROUP BY n.comp HAVING count(DISTINCT o.comp) > 1),
    tok AS (SELECT n.comp AS ncomp, o.comp AS ocomp, t.ltype, t.lvalue
            FROM _g_tok t JOIN _g_new n USING (rec) JOIN _g_lab o USING (rec)
            WHERE n.comp IN (SELECT ncomp FROM merged)),
    part AS (SELECT ncomp, ltype, max(c) AS part_max FROM
             (SELECT ncomp, ocomp, ltype, count(DISTINCT lvalue) AS c FROM tok GROUP BY ALL) GROUP BY ALL)
    SELECT t.ncomp, t.ltype FROM tok t JOIN part p USING (ncomp, ltype) LEFT JOIN _g_lim l USING (ltype)
    GROUP BY t.ncomp, t.ltype
    HAVING count(DISTINCT t.lvalue) > greatest(COALESCE(any_value(l.lim), 1), any_value(p.part_max))
"""


def cluster(con, n: int, tiers: list[int]) -> np.ndarray:
    """Merge records tier by tier under the guards; returns the component label per record."""
    labels = np.arange(n, dtype=np.int64)
    con.execute("CREATE OR REPLACE TEMP TABLE _g_blocked (tier INTEGER, edge BIGINT, ltype VARCHAR, "
                "hard BOOLEAN, rec BIGINT, comp BIGINT)")
    has_tokens = con.execute("SELECT count(*) > 0 FROM _g_tok").fetchall()[0][0]
    _set_labels(con, labels)
    for tier in tiers:
        con.execute("""CREATE OR REPLACE TEMP TABLE _g_ec AS
            SELECT e.edge, l.comp, min(e.rec) AS rec FROM _g_edges e JOIN _g_lab l ON l.rec = e.rec
            WHERE e.tier = ? GROUP BY ALL""", [tier])
        con.execute("""DELETE FROM _g_ec WHERE edge IN
            (SELECT edge FROM _g_ec GROUP BY edge HAVING count(*) = 1)""")
        if not con.execute("SELECT count(*) FROM _g_ec").fetchall()[0][0]:
            continue
        if has_tokens:
            con.execute("""CREATE OR REPLACE TEMP TABLE _g_ct AS
                SELECT l.comp, t.ltype, t.lvalue, bool_or(t.hard) AS hard
                FROM _g_tok t JOIN _g_lab l ON l.rec = t.rec
                WHERE l.comp IN (SELECT comp FROM _g_ec) GROUP BY ALL""")
            con.execute(f"CREATE OR REPLACE TEMP TABLE _g_bad AS {_EDGE_VIOLATIONS}")
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE _g_bad (edge BIGINT, ltype VARCHAR, hard BOOLEAN)")
        con.execute("""INSERT INTO _g_blocked
            SELECT ?, b.edge, b.ltype, b.hard, ec.rec, ec.comp FROM _g_bad b JOIN _g_ec ec USING (edge)""",
                    [tier])
        star_sql = """SELECT min(comp) OVER (PARTITION BY edge) AS root, comp FROM _g_ec
                      WHERE edge NOT IN (SELECT edge FROM _g_bad)"""
        if has_tokens:
            # A blocked value still joins the parts that agree on the clashing token (same user
            # id, same unmerge group): only the clash itself is held back.
            star_sql += " UNION ALL " + _AGREEING_PARTS
        star = con.execute(star_sql).fetchnumpy()
        merged = components(n, star["root"], star["comp"])
        new = merged[labels]
        if has_tokens:
            _set_labels(con, new, "_g_new")
            bad = con.execute(_JOINT_VIOLATIONS).df()
            if len(bad):
                # Merges that are fine one by one but clash together: keep the parts apart, review them.
                revert = np.isin(new, bad["ncomp"].to_numpy())
                new[revert] = labels[revert]
                con.register("_g_bad_joint", bad)
                con.execute("""INSERT INTO _g_blocked
                    SELECT ?, ec.edge, b.ltype, FALSE, ec.rec, ec.comp
                    FROM _g_ec ec JOIN _g_new n ON n.rec = ec.comp JOIN _g_bad_joint b ON b.ncomp = n.comp
                    WHERE ec.edge NOT IN (SELECT edge FROM _g_bad)""", [tier])
                con.unregister("_g_bad_joint")
        labels = new
        _set_labels(con, labels)
    return labels


def blocked_pairs(con):
    """Review pairs for blocked merges that a person could decide (not unmerges or rejections).

    One pair per blocked hyperedge and component: its record against the edge's first record.
    """
    return con.execute("""
        WITH b AS (SELECT tier, edge, rec, comp, string_agg(DISTINCT ltype, ',') AS ltypes,
                          bool_or(hard) AS hard
                   FROM _g_blocked GROUP BY tier, edge, rec, comp),
        e AS (SELECT tier, edge FROM b GROUP BY ALL HAVING NOT bool_or(hard)),
        r AS (SELECT b.*, first_value(rec) OVER (PARTITION BY b.tier, b.edge ORDER BY comp) AS root
              FROM b JOIN e USING (tier, edge))
        SELECT DISTINCT least(root, rec) AS l_rec, greatest(root, rec) AS r_rec, tier, ltypes
        FROM r WHERE rec <> root
    """).df()
