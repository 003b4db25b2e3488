"""`resolve()`: records -> guarded graph (+ fuzzy matches) -> stable profiles and golden records.

The steps, with the tables each reads and writes, are listed in engine/identity/README.md.
"""
from __future__ import annotations

import json
import time

from engine.access import audit, require
from engine.access.csv_safe import safe_csv
import engine.identity.graph as graph
from engine.identifiers import CLICK_ID_TYPES, MOBILE_AD_ID_TYPES
from engine.identity.lake_records import drop_events_digest
from engine.identity.records import build_and_guard
from engine.identity.settings import load_settings
from engine.identity.stable_ids import assign_profile_ids
from engine.identity.golden import write_golden
from engine.identity.tables import rebuild_table

EXPORTED_ID_TYPES = ("email", "phone", "user_id", "customer_id", "anonymous_id") + CLICK_ID_TYPES + MOBILE_AD_ID_TYPES
MANUAL_TIER = 0
FUZZY_TIER = 1000
# A pair the model scored. A guard may later relabel it `guard:<types>` for review, but its score
# stays evidence: dropping it on the next run made a no-op resolve split what the last one merged.
SCORED_SQL = "(reason = 'fuzzy' OR reason LIKE 'guard:%') AND probability IS NOT NULL"


def _progress(progress, fraction, message):
    if progress:
        progress(fraction, message)


def _merge_id_types(settings) -> list[str]:
    """Identifier types that join records, highest priority first (trusted as links)."""
    types = list(settings["identifier_priority"])
    if settings.get("click_ids_join"):
        types += [t for t in CLICK_ID_TYPES if t not in types]
    return [t for t in types if _trusted(settings, t)]


def _trusted(settings, id_type: str) -> bool:
    return settings.get("identifier_trust", {}).get(id_type, "link") == "link"


def _pair_edges_sql(tier: int, offset: int, pairs_sql: str) -> str:
    """INSERT of two-record hyperedges for the pairs (l_source, l_record_id, r_source, r_record_id)."""
    return f"""
        INSERT INTO _g_edges
        SELECT {tier}, {offset} + k, rec FROM (
            SELECT d.k, a.rec_id AS r1, b.rec_id AS r2
            FROM (SELECT row_number() OVER () AS k, * FROM ({pairs_sql})) d
            JOIN identity_records a ON a.source = d.l_source AND a.source_record_id = d.l_record_id
            JOIN identity_records b ON b.source = d.r_source AND b.source_record_id = d.r_record_id
        ) UNPIVOT (rec FOR side IN (r1, r2))
    """


def _prepare_graph_inputs(con, settings, fuzzy_edges: bool) -> list[int]:
    """Fill _g_edges, _g_tok and _g_lim; returns the tiers in order."""
    types = _merge_id_types(settings)
    con.execute("CREATE OR REPLACE TEMP TABLE _tier_types (id_type VARCHAR, tier INTEGER)")
    con.executemany("INSERT INTO _tier_types VALUES (?, ?)", [[t, i + 1] for i, t in enumerate(types)])
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _g_edges AS
        SELECT t.tier, dense_rank() OVER (ORDER BY i.id_type, i.namespace, i.id_value) AS edge, i.rec_id AS rec
        FROM identity_ids i JOIN _tier_types t USING (id_type)
        WHERE i.via <> 'evidence'  -- household phones (household.py): on the profile, never an edge
    """)
    offset = con.execute("SELECT COALESCE(max(edge), 0) + 1 FROM _g_edges").fetchall()[0][0]
    # Reviewer accepts: the highest tier.
    con.execute(_pair_edges_sql(MANUAL_TIER, offset,
                                "SELECT * FROM identity_current_decisions() WHERE decision = 'accept'"))
    tiers = [MANUAL_TIER] + [i + 1 for i in range(len(types))]
    if fuzzy_edges:
        offset = con.execute("SELECT COALESCE(max(edge), 0) + 1 FROM _g_edges").fetchall()[0][0]
        con.execute(_pair_edges_sql(FUZZY_TIER, offset,
                                    f"SELECT * FROM identity_pairs WHERE {SCORED_SQL} AND probability >= ?"),
                    [float(settings["high_threshold"])])
        tiers.append(FUZZY_TIER)
    # Tokens: limited identifier types (alias-joined user ids count as one), unmerge groups, rejections.
    # A scoped type's limit holds per namespace (customer_id@crm, customer_id@stripe).
    limits = {k: int(v) for k, v in settings["max_per_profile"].items() if _trusted(settings, k)}
    con.execute("CREATE OR REPLACE TEMP TABLE _g_lim (ltype VARCHAR, lim INTEGER)")
    for id_type, lim in limits.items():
        con.execute("""INSERT INTO _g_lim SELECT ?, ? UNION ALL SELECT DISTINCT id_type || '@' || namespace, ?
                       FROM identity_ids WHERE id_type = ? AND namespace IS NOT NULL""", [id_type, lim, lim, id_type])
    limited = list(limits)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _g_tok AS
        WITH alias_map AS (SELECT previous_id AS old_id, arg_max(user_id, timestamp) AS new_id FROM events
                           WHERE type = 'alias' AND previous_id IS NOT NULL AND user_id IS NOT NULL GROUP BY ALL)
        SELECT i.rec_id AS rec, i.id_type || COALESCE('@' || i.namespace, '') AS ltype,
               CASE WHEN i.id_type = 'user_id' THEN COALESCE(a.new_id, i.id_value) ELSE i.id_value END AS lvalue,
               FALSE AS hard
        FROM identity_ids i LEFT JOIN alias_map a ON i.id_type = 'user_id' AND a.old_id = i.id_value
        WHERE i.via = 'record' AND i.id_type IN (SELECT unnest(?::VARCHAR[]))
        UNION ALL
        SELECT r.rec_id, 'split:' || s.split_id, CAST(s.group_no AS VARCHAR), TRUE
        FROM identity_splits s JOIN identity_records r USING (source, source_record_id)
        WHERE s.undone_at IS NULL
        UNION ALL
        SELECT r.rec_id, 'reject:' || d.decision_id, side, TRUE FROM (
            SELECT decision_id, l_source AS source, l_record_id AS source_record_id, 'l' AS side
            FROM identity_current_decisions() WHERE decision = 'reject'
            UNION ALL
            SELECT decision_id, r_source, r_record_id, 'r' FROM identity_current_decisions() WHERE decision = 'reject') d
        JOIN identity_records r USING (source, source_record_id)
    """, [limited])
    return tiers


def _write_outputs(con, labels) -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"rec": np.arange(len(labels), dtype=np.int64), "comp": labels})
    con.register("_lab_frame", frame)
    con.execute("CREATE OR REPLACE TEMP TABLE _lab AS SELECT * FROM _lab_frame")
    con.unregister("_lab_frame")


def _write_members_and_identifiers(con) -> None:
    rebuild_table(con, "profile_members", """
        SELECT p.profile_id, r.kind, r.source, r.source_record_id
        FROM _lab l JOIN _comp_pid p USING (comp) JOIN identity_records r ON r.rec_id = l.rec
    """)
    types = ", ".join(f"'{t}'" for t in EXPORTED_ID_TYPES)
    rebuild_table(con, "profile_identifiers", f"""
        SELECT profile_id, id_type, id_value, first_seen FROM (
            SELECT p.profile_id, i.id_type, i.id_value, min(r.ts) AS first_seen,
                   row_number() OVER (PARTITION BY i.id_type, i.id_value
                                      ORDER BY count(*) DESC, p.profile_id) AS k
            FROM identity_ids i JOIN identity_records r USING (rec_id)
            JOIN _lab l ON l.rec = i.rec_id JOIN _comp_pid p USING (comp)
            WHERE i.via IN ('record', 'evidence') AND i.id_type IN ({types})
            GROUP BY p.profile_id, i.id_type, i.id_value) WHERE k = 1
    """)


def resolve(workspace, user, full: bool = False, progress=None, backend=None) -> dict:
    """Run identity resolution with the saved settings; returns run statistics.

    full=True rescoring every candidate pair; otherwise only pairs involving records
    that are new since the last run are scored (earlier scores are kept).
    Blocking and features (the data plane) run on `backend` when given, else on the
    workspace's engine (`cdp engine`, `--engine spark`; planes.py); everything else, the same
    code on every engine, runs here in the workspace.
    """
    require(user, "resolve")
    started = time.monotonic()
    settings = load_settings(workspace)
    stats: dict = {"full": bool(full)}
    with workspace.transaction() as con:
        from engine.identity.planes import plane_for

        plane = plane_for(workspace, con, backend)   # refuses records it would not see before any work
        _progress(progress, 0.02, "Normalising records")
        stats.update(build_and_guard(con, settings, plane.build_records))
        n = stats["records"]
        if settings.get("fuzzy_enabled", True) and n:
            _progress(progress, 0.15, "Matching similar records")
            import engine.identity.fuzzy as fuzzy

            stats.update(fuzzy.match(con, settings, full=full, progress=progress, plane=plane))
        _progress(progress, 0.7, "Clustering")
        tiers = _prepare_graph_inputs(con, settings, fuzzy_edges=settings.get("fuzzy_enabled", True))
        labels = graph.cluster(con, n, tiers)
        stats["guarded"] = _queue_guarded_pairs(con)
        _progress(progress, 0.85, "Writing profiles")
        _write_outputs(con, labels)
        stats.update(assign_profile_ids(con))
        _write_members_and_identifiers(con)
        write_golden(con, settings)
        drop_events_digest(con)   # a lakehouse run's temporary events (lake_records.py)
        stats["profiles"] = con.execute("SELECT count(*) FROM profiles").fetchall()[0][0]
        con.execute("""UPDATE identity_pairs p SET status = CASE
                WHEN pl.profile_id = pr.profile_id THEN 'merged' ELSE 'open' END
            FROM profile_members pl, profile_members pr
            WHERE pl.source = p.l_source AND pl.source_record_id = p.l_record_id
              AND pr.source = p.r_source AND pr.source_record_id = p.r_record_id""")
        stats["to_review"] = con.execute(
            "SELECT count(*) FROM identity_review_queue(?, ?)",
            [float(settings["low_threshold"]), float(settings["high_threshold"])]).fetchall()[0][0]
        stats["seconds"] = round(time.monotonic() - started, 3)
        con.execute("""INSERT INTO identity_runs (started_at, finished_at, full_run, username, records, profiles,
                       pairs_scored, auto_merged, to_review, guarded, seconds, stats)
                       VALUES (now() - to_seconds(?), now(), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [stats["seconds"], bool(full), user.username, n, stats["profiles"],
                     stats.get("pairs_scored", 0), stats.get("auto_merged", 0), stats["to_review"],
                     stats["guarded"], stats["seconds"], json.dumps(stats, default=str)])
        audit(con, user, "identity.resolve", None, {k: v for k, v in stats.items() if k != "junk_values"})
    _progress(progress, 1.0, "Done")
    return stats


def _queue_guarded_pairs(con) -> int:
    """Merges the guards blocked become review pairs (reason guard:<types>)."""
    pairs = graph.blocked_pairs(con)
    if not len(pairs):
        return 0
    con.register("_guard_pairs", pairs)
    con.execute("""
        INSERT INTO identity_pairs (pair_key, l_source, l_record_id, r_source, r_record_id, rules,
                                    probability, reason, uncertainty, status)
        SELECT identity_pair_key(a.source, a.source_record_id, b.source, b.source_record_id),
               a.source, a.source_record_id, b.source, b.source_record_id,
               'identifier', NULL, 'guard:' || any_value(g.ltypes), 1.0, 'open'
        FROM _guard_pairs g JOIN identity_records a ON a.rec_id = g.l_rec JOIN identity_records b ON b.rec_id = g.r_rec
        GROUP BY ALL
        ON CONFLICT (pair_key) DO UPDATE SET reason = EXCLUDED.reason, rules = EXCLUDED.rules
    """)
    con.unregister("_guard_pairs")
    return len(pairs)


def preview_thresholds(workspace, user, low: float, high: float) -> dict:
    """What a threshold change would do, before applying it: profiles merged, split, queue size.

    Re-clusters the last run's records with the new auto-merge threshold inside a
    transaction that is rolled back. Pairs scored below the current low threshold were
    not kept, so lowering `low` below it cannot show new review pairs until a full run.
    """
    require(user, "view")
    if not 0 <= low <= high <= 1:
        raise ValueError("Thresholds must satisfy 0 <= low <= high <= 1.")
    settings = {**load_settings(workspace), "low_threshold": float(low), "high_threshold": float(high)}
    with workspace.connect() as con:
        n = con.execute("SELECT COALESCE(max(rec_id) + 1, 0) FROM identity_records").fetchall()[0][0]
        if not n:
            return {"profiles_now": 0, "profiles_after": 0, "profiles_merged": 0, "profiles_split": 0,
                    "review_queue": 0}
        con.execute("BEGIN TRANSACTION")
        try:
            tiers = _prepare_graph_inputs(con, settings, fuzzy_edges=settings.get("fuzzy_enabled", True))
            labels = graph.cluster(con, n, tiers)
            _write_outputs(con, labels)
            row = con.execute("""
                WITH cur AS (SELECT l.rec, l.comp, m.profile_id FROM _lab l
                             JOIN identity_records r ON r.rec_id = l.rec
                             LEFT JOIN profile_members m USING (source, source_record_id))
                SELECT (SELECT count(*) FROM profiles),
                       (SELECT count(DISTINCT comp) FROM cur),
                       (SELECT count(*) FROM (SELECT comp FROM cur GROUP BY comp HAVING count(DISTINCT profile_id) > 1)),
                       (SELECT count(*) FROM (SELECT profile_id FROM cur WHERE profile_id IS NOT NULL
                                              GROUP BY profile_id HAVING count(DISTINCT comp) > 1))""").fetchall()[0]
            queue = con.execute("SELECT count(*) FROM identity_review_queue(?, ?)", [low, high]).fetchall()[0][0]
        finally:
            con.execute("ROLLBACK")
    return {"profiles_now": int(row[0]), "profiles_after": int(row[1]), "profiles_merged": int(row[2]),
            "profiles_split": int(row[3]), "review_queue": int(queue)}


def export_members(workspace, user, path) -> int:
    """Write one row per source record (profile_id, kind, source, source_record_id) to CSV or Parquet."""
    from pathlib import Path

    require(user, "export")
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError("Export to a .csv or .parquet file.")
    path.parent.mkdir(parents=True, exist_ok=True)
    with workspace.transaction() as con:
        df = con.execute("""SELECT profile_id, kind, source, source_record_id FROM profile_members
                            ORDER BY profile_id, source, source_record_id""").df()
        if path.suffix.lower() == ".csv":
            safe_csv(df, path)
        else:
            df.to_parquet(path, index=False)
        audit(con, user, "identity.profiles.export", str(path), {"rows": len(df)})
    return len(df)
