"""Clustering on hand-built graphs: components, guard limits, hard constraints."""
import duckdb
import numpy as np
import pandas as pd

from engine.identity import graph


def test_components_label_is_smallest_member():
    labels = graph.components(7, np.array([0, 1, 5]), np.array([1, 2, 6]))
    assert labels.tolist() == [0, 0, 0, 3, 4, 5, 5]


def test_components_empty_and_isolated():
    assert graph.components(0, np.array([]), np.array([])).tolist() == []
    assert graph.components(3, np.array([], dtype=int), np.array([], dtype=int)).tolist() == [0, 1, 2]


def _con(edges, tokens, limits):
    con = duckdb.connect()
    con.register("e", pd.DataFrame(edges, columns=["tier", "edge", "rec"]))
    con.execute("CREATE TEMP TABLE _g_edges AS SELECT CAST(tier AS INTEGER) tier, CAST(edge AS BIGINT) edge, "
                "CAST(rec AS BIGINT) rec FROM e")
    con.register("t", pd.DataFrame(tokens, columns=["rec", "ltype", "lvalue", "hard"]))
    con.execute("CREATE TEMP TABLE _g_tok AS SELECT CAST(rec AS BIGINT) rec, ltype, lvalue, hard FROM t")
    con.execute("CREATE TEMP TABLE _g_lim (ltype VARCHAR, lim INTEGER)")
    for k, v in limits.items():
        con.execute("INSERT INTO _g_lim VALUES (?, ?)", [k, v])
    return con


def test_shared_email_merges_but_two_user_ids_are_guarded():
    # records 0,1 share email e1 (tier 2); 1,2 share email e2; 0 has user u1, 2 has user u2.
    edges = [(2, 10, 0), (2, 10, 1), (2, 11, 1), (2, 11, 2)]
    tokens = [(0, "user_id", "u1", False), (2, "user_id", "u2", False)]
    con = _con(edges, tokens, {"user_id": 1})
    labels = graph.cluster(con, 3, [2])
    # Each email alone is fine, together they would join u1 and u2: the tier is held back.
    assert len(set(labels.tolist())) == 3
    pairs = graph.blocked_pairs(con)
    assert len(pairs) >= 1 and set(pairs["ltypes"]) == {"user_id"}


def test_higher_tier_wins_conflict():
    # tier 1 (user id) joins 0-1; tier 2 (email) would add 2 which has another user id.
    edges = [(1, 1, 0), (1, 1, 1), (2, 2, 1), (2, 2, 2)]
    tokens = [(0, "user_id", "u1", False), (1, "user_id", "u1", False), (2, "user_id", "u9", False)]
    con = _con(edges, tokens, {"user_id": 1})
    labels = graph.cluster(con, 3, [1, 2])
    assert labels.tolist() == [0, 0, 2]


def test_hard_token_blocks_without_review():
    edges = [(1, 1, 0), (1, 1, 1)]
    tokens = [(0, "split:1", "0", True), (1, "split:1", "1", True)]
    con = _con(edges, tokens, {})
    labels = graph.cluster(con, 2, [1])
    assert labels.tolist() == [0, 1]
    assert len(graph.blocked_pairs(con)) == 0


def test_limit_above_one_allows_that_many():
    edges = [(1, 1, 0), (1, 1, 1), (1, 1, 2)]
    tokens = [(0, "email", "a", False), (1, "email", "b", False), (2, "email", "c", False)]
    assert len(set(graph.cluster(_con(edges, tokens, {"email": 3}), 3, [1]).tolist())) == 1
    assert len(set(graph.cluster(_con(edges, tokens, {"email": 2}), 3, [1]).tolist())) == 3
