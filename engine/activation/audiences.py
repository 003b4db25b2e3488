"""Audiences: a source of members (a segment, a profile tag, or a given list) linked to a destination.

A segment is addressed by name or id wherever a person types one; `resolve_source` turns either
into the segment's id once, and links are keyed by that id (`segment:<id>-><destination>`), so
the name, the id and the Audiences screen all reach the same link and a rename keeps it.
"""
from __future__ import annotations

import importlib

import pandas as pd

from engine.access import User, audit, require

SOURCE_KINDS = ("segment", "tag", "list")
SCHEDULES = ("manual", "hourly", "daily")


def audience_key(source_kind: str, source_id: str, destination: str) -> str:
    return f"{source_kind}:{source_id}->{destination}"


def source_key(source_kind: str, source_id: str) -> str:
    return f"{source_kind}:{source_id}"


def parse_source(text: str) -> tuple[str, str]:
    """'tag:VIP' -> ('tag', 'VIP'); anything else is a segment id."""
    kind, sep, rest = str(text).partition(":")
    if sep and kind in SOURCE_KINDS:
        return kind, rest
    return "segment", str(text)


def resolve_source(workspace, source_kind: str, source_id: str) -> tuple[str, str]:
    """(kind, id) with a segment's name (current, or one it had before a rename) resolved to its id."""
    if source_kind != "segment":
        return source_kind, str(source_id)
    try:
        segments = importlib.import_module("engine.segments")
    except ModuleNotFoundError:
        return source_kind, str(source_id)
    try:
        return "segment", segments.find_segment(workspace, source_id)
    except ValueError as exc:
        former = workspace.query_rows(
            "SELECT DISTINCT v.segment_id FROM segment_versions v JOIN segments s USING (segment_id) "
            "WHERE s.deleted_at IS NULL AND lower(v.name) = lower(?)", [str(source_id)])
        if len(former) == 1:
            return "segment", former[0][0]
        raise exc


def check_settings(schedule: str | None, holdout_pct: float | None) -> None:
    if schedule is not None and schedule not in SCHEDULES:
        raise ValueError(f"Schedules are {', '.join(SCHEDULES)}; got {schedule!r}.")
    if holdout_pct is not None and not 0 <= float(holdout_pct) <= 50:
        raise ValueError("A holdout share is between 0 and 50 percent.")


def members_of(workspace, user: User, source_kind: str, source_id: str) -> pd.DataFrame:
    """The profile ids of a segment (engine.segments) or a profile tag."""
    if source_kind == "tag":
        return workspace.query_df("SELECT DISTINCT profile_id FROM profile_tags WHERE tag = ?", [source_id])
    if source_kind == "segment":
        try:
            segments = importlib.import_module("engine.segments")
        except ModuleNotFoundError:
            raise ValueError("Segments are not available in this build; use a profile tag (tag:NAME).") from None
        finder = getattr(segments, "find_segment", None)
        segment_id = finder(workspace, source_id) if finder else source_id   # a name or an id
        df = segments.segment_members(workspace, user, segment_id)
        return df[["profile_id"]]
    raise ValueError(f"A {source_kind!r} audience has no stored members; pass them explicitly.")


def list_sources(workspace) -> list[tuple[str, str, str]]:
    """(kind, id, label) of every audience source: segments (when the module exists) and tags."""
    out = []
    try:
        segments = importlib.import_module("engine.segments")
        lister = getattr(segments, "list_segments", None)
        if lister:
            df = lister(workspace)
            id_col = "segment_id" if "segment_id" in df.columns else df.columns[0]
            name_col = "name" if "name" in df.columns else id_col
            out += [("segment", str(i), f"Segment: {n}") for i, n in zip(df[id_col], df[name_col])]
    except ModuleNotFoundError:
        pass
    for tag, n in workspace.query_rows(
            "SELECT tag, count(*) FROM profile_tags GROUP BY tag ORDER BY tag"):
        out.append(("tag", tag, f"Tag: {tag} ({n:,} profiles)"))
    return out


def link_audience(workspace, user: User, source_kind: str, source_id: str, destination: str,
                  schedule: str | None = None, holdout_pct: float | None = None) -> str:
    """Create or update the link between an audience source and a destination; returns its key.

    A segment may be given by name or id: the link is keyed by its id. Commands that run
    something (a sync, a dry run) link without settings first and save `schedule` and
    `holdout_pct` only once the run succeeded, so a failed command changes no setting."""
    require(user, "push_audiences")
    if source_kind not in SOURCE_KINDS:
        raise ValueError(f"Audience sources are {', '.join(SOURCE_KINDS)}; got {source_kind!r}.")
    check_settings(schedule, holdout_pct)
    source_kind, source_id = resolve_source(workspace, source_kind, source_id)
    key = audience_key(source_kind, source_id, destination)
    with workspace.transaction() as con:
        if not con.execute("SELECT count(*) FROM activation_destinations WHERE name = ?",
                           [destination]).fetchone()[0]:
            raise ValueError(f"No destination called {destination!r}.")
        row = con.execute("SELECT schedule, holdout_pct FROM activation_audiences WHERE audience_key = ?",
                          [key]).fetchone()
        if row is None:
            con.execute(
                "INSERT INTO activation_audiences (audience_key, source_kind, source_id, destination, "
                "schedule, holdout_pct, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [key, source_kind, source_id, destination, schedule or "manual",
                 float(holdout_pct or 0), user.username])
            audit(con, user, "audience.link", key, {"schedule": schedule or "manual",
                                                    "holdout_pct": float(holdout_pct or 0)})
        elif (schedule is not None and schedule != row[0]) or (
                holdout_pct is not None and float(holdout_pct) != row[1]):
            con.execute("UPDATE activation_audiences SET schedule = coalesce(?, schedule), "
                        "holdout_pct = coalesce(?, holdout_pct) WHERE audience_key = ?",
                        [schedule, None if holdout_pct is None else float(holdout_pct), key])
            audit(con, user, "audience.update", key, {"schedule": schedule, "holdout_pct": holdout_pct})
    return key


def get_audience(workspace, key: str) -> dict:
    df = workspace.query_df("SELECT * FROM activation_audiences WHERE audience_key = ?", [key])
    if df.empty:
        raise ValueError(f"No audience {key!r}; link a source to a destination first.")
    return df.iloc[0].to_dict()


def list_audiences(workspace) -> pd.DataFrame:
    return workspace.query_df(
        "SELECT a.audience_key, a.source_kind, a.source_id, "
        "       CASE WHEN a.source_kind = 'segment' THEN (SELECT s.name FROM segments s "
        "            WHERE s.segment_id = a.source_id) END AS segment_name, "
        "       a.destination, a.schedule, a.holdout_pct, "
        "       r.started_at AS last_run_at, r.status AS last_status, "
        "       (SELECT count(*) FROM activation_membership m WHERE m.audience_key = a.audience_key) AS members_at_destination "
        "FROM activation_audiences a "
        "LEFT JOIN (SELECT audience_key, arg_max(started_at, run_id) AS started_at, arg_max(status, run_id) AS status "
        "           FROM activation_runs GROUP BY audience_key) r USING (audience_key) "
        "ORDER BY a.audience_key")
