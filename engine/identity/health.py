"""Health figures for the Identity screen and `cdp resolve` output."""
from __future__ import annotations

import json

import pandas as pd

from engine.access import mask_frame, require


def health(workspace, user) -> dict:
    """Profiles, records per profile, merge rate by source, largest clusters, pending reviews, last run,
    and the calibration of match probabilities (predicted against observed)."""
    require(user, "view")
    from engine.identity.review import pending_decisions, queue_size

    with workspace.connect() as con:
        totals = con.execute("""SELECT (SELECT count(*) FROM profiles), (SELECT count(*) FROM profile_members),
                                       (SELECT count(*) FROM profiles WHERE record_count > 1)""").fetchall()[0]
        sizes = con.execute("""
            SELECT CASE WHEN record_count >= 10 THEN '10+' ELSE CAST(record_count AS VARCHAR) END AS records,
                   count(*) AS profiles, min(record_count) AS k
            FROM profiles GROUP BY 1 ORDER BY k""").df().drop(columns="k")
        by_source = con.execute("""
            SELECT m.source, count(*) AS records,
                   count(*) FILTER (WHERE p.record_count > 1) AS in_merged_profiles,
                   round(100.0 * count(*) FILTER (WHERE p.record_count > 1) / count(*), 1) AS merge_rate_pct
            FROM profile_members m JOIN profiles p USING (profile_id) GROUP BY m.source ORDER BY records DESC""").df()
        largest = con.execute("""
            WITH top AS (SELECT profile_id, record_count, first_name, last_name, email FROM profiles
                         ORDER BY record_count DESC, profile_id LIMIT 10)   -- before the join: 10, not 1M
            SELECT t.profile_id, t.record_count, t.first_name, t.last_name, t.email,
                   count(DISTINCT m.source) AS sources
            FROM top t JOIN profile_members m USING (profile_id)
            GROUP BY ALL ORDER BY t.record_count DESC, t.profile_id""").df()
        last = con.execute("""SELECT run_id, finished_at, full_run, username, records, profiles, pairs_scored,
                                     auto_merged, to_review, guarded, seconds
                              FROM identity_runs ORDER BY run_id DESC LIMIT 1""").df()
        guards = con.execute("""SELECT reason, count(*) AS pairs FROM identity_pairs
                                WHERE reason LIKE 'guard:%' AND status = 'open' GROUP BY reason""").df()
        cal = con.execute("SELECT params FROM identity_models WHERE name = 'calibration'").fetchall()
    return {"profiles": int(totals[0]), "records": int(totals[1]), "merged_profiles": int(totals[2]),
            "size_distribution": sizes, "merge_rate_by_source": by_source, "largest_clusters": mask_frame(largest, user),
            "pending_reviews": queue_size(workspace), "pending_decisions": pending_decisions(workspace),
            "last_run": last.to_dict("records")[0] if len(last) else None, "guarded": guards,
            "calibration": _calibration(cal[0][0] if cal else None)}


def _calibration(params: str | None) -> dict | None:
    """Reliability on reviewer-labelled pairs: raw scores, and calibrated ones (each pair by a
    calibration fitted without it). None before the first calibration (model.fit_calibration)."""
    if not params:
        return None
    params = json.loads(params)
    return {"labels": int(params["labels"]), "band": tuple(params["band"]),
            "raw": pd.DataFrame(params["reliability"]),
            "calibrated": pd.DataFrame(params.get("reliability_calibrated") or [])}
