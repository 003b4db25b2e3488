"""Saved segments: create, version, restore, duplicate, delete, import/export, evaluate.

Every save is a new row in `segment_versions` (who, when, what); `segments` points at the
current version. Restoring an old version saves it again as the newest, so history is never
rewritten. Static segments hold a fixed list of profile ids.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from engine.access import User, audit, mask_frame, require
from engine.access.csv_safe import safe_csv
import engine.segments.compiler as compiler
import engine.segments.event_index as event_index
import engine.segments.model as model
from engine.segments.compiler import Compiled
from engine.segments.model import DefinitionError

EXPORT_FORMAT = "open-cdp-segment"
EXPORT_VERSION = 1
MAX_NAME = 120


class SegmentNotFound(ValueError):
    """No (live) segment with that id."""


# -- helpers ------------------------------------------------------------------

def _new_id() -> str:
    return "seg_" + uuid.uuid4().hex[:10]


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("A segment needs a name.")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise ValueError(f"A segment name has at most {MAX_NAME} characters.")
    return name


def _check_unique_name(con, name: str, except_id: str | None = None) -> None:
    row = con.execute(
        "SELECT segment_id FROM segments WHERE lower(name) = lower(?) AND deleted_at IS NULL "
        "AND segment_id IS DISTINCT FROM ?", [name, except_id]).fetchone()
    if row:
        raise ValueError(f"A segment called {name!r} already exists; choose another name.")


def profile_fields(con) -> dict[str, str]:
    """Allowed trait fields: the known golden-record columns plus any the schema has gained."""
    fields = dict(model.PROFILE_FIELDS)
    for name, sql_type in con.execute(compiler.profile_fields_sql()).fetchall():
        fields.setdefault(name, compiler.type_of(sql_type))
    return fields


def _resolver(con):
    def resolve(segment_id: str):
        row = con.execute(
            "SELECT s.kind, v.definition FROM segments s JOIN segment_versions v "
            "ON v.segment_id = s.segment_id AND v.version = s.current_version "
            "WHERE s.segment_id = ? AND s.deleted_at IS NULL", [segment_id]).fetchone()
        if row is None:
            return None
        return row[0], (json.loads(row[1]) if row[1] else None)
    return resolve


def compile_in(con, definition: dict, *, segment_id: str | None = None, as_of: datetime | None = None,
               use_index: bool | None = None, path: str = "") -> Compiled:
    """Compile against this workspace: its fields, its saved segments, the freshest event source."""
    if use_index is None:
        relation = event_index.events_relation(con, path)
    else:
        relation = compiler.EVENT_INDEX_TABLE if use_index else compiler.EVENTS_VIEW_RELATION
    return compiler.compile_definition(definition, as_of=as_of, events_relation=relation,
                                       profile_fields=profile_fields(con),
                                       resolve_segment=_resolver(con), segment_id=segment_id)


def _current(con, segment_id: str) -> dict:
    row = con.execute(
        "SELECT s.segment_id, s.name, s.description, s.kind, s.current_version, v.definition, "
        "s.created_at, s.created_by, s.updated_at, s.updated_by FROM segments s "
        "JOIN segment_versions v ON v.segment_id = s.segment_id AND v.version = s.current_version "
        "WHERE s.segment_id = ? AND s.deleted_at IS NULL", [segment_id]).fetchone()
    if row is None:
        raise SegmentNotFound(f"No segment {segment_id!r}.")
    keys = ["segment_id", "name", "description", "kind", "version", "definition", "created_at",
            "created_by", "updated_at", "updated_by"]
    out = dict(zip(keys, row))
    out["definition"] = json.loads(out["definition"]) if out["definition"] else None
    return out


def _segment_compiled(con, segment_id: str, path: str = "", as_of: datetime | None = None,
                      use_index: bool | None = None) -> Compiled:
    seg = _current(con, segment_id)
    if seg["kind"] == "static":
        return Compiled("SELECT profile_id FROM segment_static_members WHERE segment_id = $sid",
                        {"sid": segment_id})
    return compile_in(con, seg["definition"], segment_id=segment_id, as_of=as_of, path=path, use_index=use_index)


def _plane(workspace, backend):
    """(backend, use_index): where a segment's SQL runs (the workspace's engine setting unless
    given) and whether it may read the workspace's event index (DuckDB only; Spark reads events)."""
    from engine.backend.choose import backend_for

    backend = backend or backend_for(workspace)
    return backend, (None if backend.name == "duckdb" else False)


def _scalar(backend, sql: str, params) -> int:
    return int(backend.query(sql, params).iloc[0, 0] or 0)


def _has_suppressions(con) -> bool:
    return con.execute("SELECT EXISTS (SELECT 1 FROM suppressions)").fetchone()[0]


def _write_version(con, user: User, segment_id: str, version: int, name: str, description: str,
                   definition: dict | None, note: str) -> None:
    con.execute(
        "INSERT INTO segment_versions (segment_id, version, name, description, definition, note, saved_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [segment_id, version, name, description,
         json.dumps(definition) if definition is not None else None, note, user.username])


def _snapshot(con, segment_id: str, version: int, compiled: Compiled) -> int:
    sql, params = compiler.reach_sql(compiled, _has_suppressions(con))
    members, email, phone, ads, _ = con.execute(sql, params).fetchone()
    con.execute("INSERT INTO segment_snapshots (segment_id, version, member_count, reachable_email, "
                "reachable_phone, reachable_ad_ids) VALUES (?, ?, ?, ?, ?, ?)",
                [segment_id, version, members, email, phone, ads])
    return int(members)


# -- writes --------------------------------------------------------------------

def create_segment(workspace, user: User, name: str, definition: dict, description: str = "") -> str:
    """Save a new rule segment (version 1) and take its first size snapshot; returns its id."""
    require(user, "edit_segments")
    name = _clean_name(name)
    segment_id = _new_id()
    with workspace.transaction() as con:
        definition = model.validate(definition, profile_fields(con))
        _check_unique_name(con, name)
        compiled = compile_in(con, definition, segment_id=segment_id, path=str(workspace.path))
        con.execute("INSERT INTO segments (segment_id, name, description, kind, current_version, "
                    "created_by, updated_by) VALUES (?, ?, ?, 'rules', 1, ?, ?)",
                    [segment_id, name, description or "", user.username, user.username])
        _write_version(con, user, segment_id, 1, name, description or "", definition, "created")
        count = _snapshot(con, segment_id, 1, compiled)
        audit(con, user, "segment.create", segment_id, {"name": name, "members": count})
    return segment_id


def create_static_segment(workspace, user: User, name: str, profile_ids, description: str = "") -> str:
    """Save a fixed list of people as a segment (ids not in `profiles` are left out)."""
    require(user, "edit_segments")
    name = _clean_name(name)
    ids = sorted({str(p) for p in profile_ids if p is not None and str(p) != ""})
    segment_id = _new_id()
    with workspace.transaction() as con:
        _check_unique_name(con, name)
        con.execute("INSERT INTO segments (segment_id, name, description, kind, current_version, "
                    "created_by, updated_by) VALUES (?, ?, ?, 'static', 1, ?, ?)",
                    [segment_id, name, description or "", user.username, user.username])
        _write_version(con, user, segment_id, 1, name, description or "", None,
                       f"static list of {len(ids)} ids")
        con.execute("INSERT INTO segment_static_members (segment_id, profile_id) "
                    "SELECT ?, p.profile_id FROM profiles p "
                    "WHERE p.profile_id IN (SELECT unnest(CAST(? AS VARCHAR[])))", [segment_id, ids])
        compiled = Compiled("SELECT profile_id FROM segment_static_members WHERE segment_id = $sid",
                            {"sid": segment_id})
        count = _snapshot(con, segment_id, 1, compiled)
        audit(con, user, "segment.create_static", segment_id,
              {"name": name, "ids_given": len(ids), "members": count})
    return segment_id


def save_segment(workspace, user: User, segment_id: str, definition: dict | None = None, *,
                 name: str | None = None, description: str | None = None, note: str = "") -> int:
    """Save a new version (definition, name or description changed); returns its number."""
    require(user, "edit_segments")
    with workspace.transaction() as con:
        seg = _current(con, segment_id)
        new_name = _clean_name(name) if name is not None else seg["name"]
        if new_name.lower() != seg["name"].lower():
            _check_unique_name(con, new_name, segment_id)
        new_desc = description if description is not None else (seg["description"] or "")
        if seg["kind"] == "static":
            if definition is not None:
                raise ValueError("A static segment has a fixed member list, not rules.")
            new_def = None
        else:
            new_def = model.validate(definition if definition is not None else seg["definition"],
                                     profile_fields(con))
            compile_in(con, new_def, segment_id=segment_id, path=str(workspace.path))  # cycles, unknown refs
        version = seg["version"] + 1
        _write_version(con, user, segment_id, version, new_name, new_desc, new_def, note or "saved")
        con.execute("UPDATE segments SET name = ?, description = ?, current_version = ?, "
                    "updated_at = now(), updated_by = ? WHERE segment_id = ?",
                    [new_name, new_desc, version, user.username, segment_id])
        count = _snapshot(con, segment_id, version, _segment_compiled(con, segment_id, str(workspace.path)))
        audit(con, user, "segment.save", segment_id, {"version": version, "name": new_name, "members": count})
    return version


def restore_version(workspace, user: User, segment_id: str, version: int) -> int:
    """Make an older version current again, as a new version; returns the new number."""
    require(user, "edit_segments")
    with workspace.transaction() as con:
        row = con.execute("SELECT name, description, definition FROM segment_versions "
                          "WHERE segment_id = ? AND version = ?", [segment_id, int(version)]).fetchone()
        if row is None:
            raise SegmentNotFound(f"Segment {segment_id!r} has no version {version}.")
        definition = json.loads(row[2]) if row[2] else None
        return save_segment(workspace, user, segment_id, definition, name=row[0],
                            description=row[1], note=f"restored from version {int(version)}")


def duplicate_segment(workspace, user: User, segment_id: str, name: str | None = None) -> str:
    require(user, "edit_segments")
    with workspace.transaction() as con:
        seg = _current(con, segment_id)
        new_name = name or _free_name(con, f"{seg['name']} (copy)")
        if seg["kind"] == "static":
            ids = [r[0] for r in con.execute("SELECT profile_id FROM segment_static_members "
                                             "WHERE segment_id = ?", [segment_id]).fetchall()]
            return create_static_segment(workspace, user, new_name, ids, seg["description"] or "")
        return create_segment(workspace, user, new_name, seg["definition"], seg["description"] or "")


def _free_name(con, base: str) -> str:
    name, n = base, 2
    while con.execute("SELECT 1 FROM segments WHERE lower(name) = lower(?) AND deleted_at IS NULL",
                      [name]).fetchone():
        name, n = f"{base} {n}", n + 1
    return name


class SegmentFeedsAudiences(ValueError):
    """The segment is the source of audience links; deleting it needs force."""


def _audience_links(con, segment_id: str) -> list[dict]:
    """The audience links a segment feeds, with what each destination holds."""
    rows = con.execute(
        "SELECT a.audience_key, a.destination, a.schedule, "
        "(SELECT count(*) FROM activation_membership m WHERE m.audience_key = a.audience_key) "
        "FROM activation_audiences a WHERE a.source_kind = 'segment' AND a.source_id = ? "
        "ORDER BY a.audience_key", [segment_id]).fetchall()
    return [{"audience_key": k, "destination": d, "schedule": sch, "members_at_destination": int(n)}
            for k, d, sch, n in rows]


def audience_links(workspace, segment_id: str) -> list[dict]:
    """The audience links fed by a segment (audience_key, destination, schedule,
    members_at_destination)."""
    with workspace.connect() as con:
        return _audience_links(con, segment_id)


AUDIENCE_LINKS_ON_DELETE = (
    "kept with what each destination holds, scheduled syncs set to manual; the people already "
    "at a destination stay there until removed at the platform or the link is deleted")


def links_text(links: list[dict]) -> str:
    """Audience links in words: destination, people there, schedule."""
    return "; ".join(f"{a['destination']} ({a['members_at_destination']:,} people at the destination, "
                     f"{a['schedule']})" for a in links)


def delete_segment(workspace, user: User, segment_id: str, force: bool = False) -> dict:
    """Retire a segment (history kept); refused while another segment refers to it.

    A segment that feeds audience links is deleted only with `force` (else SegmentFeedsAudiences
    naming them): the links are kept with what each destination holds (its people stay there),
    and scheduled ones are set to manual so no sync runs against a segment that is gone.
    Returns segment_id, name, audiences (the links) and audience_links (what was done to them).
    """
    require(user, "edit_segments")
    with workspace.transaction() as con:
        seg = _current(con, segment_id)
        rows = con.execute(
            "SELECT s.name, v.definition FROM segments s JOIN segment_versions v "
            "ON v.segment_id = s.segment_id AND v.version = s.current_version "
            "WHERE s.deleted_at IS NULL AND s.kind = 'rules' AND s.segment_id <> ?",
            [segment_id]).fetchall()
        users_of = [name for name, d in rows if segment_id in model.referenced_segments(json.loads(d))]
        if users_of:
            raise ValueError(f"Segment is used by {', '.join(sorted(users_of))}; change those first.")
        links = _audience_links(con, segment_id)
        if links and not force:
            raise SegmentFeedsAudiences(
                f"Segment {seg['name']!r} feeds {len(links)} audience link(s): {links_text(links)}. "
                f"Deleting it stops their syncs: the links are {AUDIENCE_LINKS_ON_DELETE}. "
                "Delete anyway with force (--force).")
        con.execute("UPDATE segments SET deleted_at = now(), deleted_by = ? WHERE segment_id = ?",
                    [user.username, segment_id])
        if links:
            con.execute("UPDATE activation_audiences SET schedule = 'manual' "
                        "WHERE source_kind = 'segment' AND source_id = ?", [segment_id])
        audit(con, user, "segment.delete", segment_id,
              {"name": seg["name"], "audiences": [a["audience_key"] for a in links]})
    return {"segment_id": segment_id, "name": seg["name"], "audiences": links,
            "audience_links": AUDIENCE_LINKS_ON_DELETE if links else "none"}


# -- import / export ----------------------------------------------------------

def export_segment(workspace, segment_id: str) -> dict:
    """The current version as a portable JSON document (rules segments only)."""
    with workspace.connect() as con:
        seg = _current(con, segment_id)
    if seg["kind"] == "static":
        raise ValueError("Static segments are member lists; export their members as CSV instead.")
    return {"format": EXPORT_FORMAT, "format_version": EXPORT_VERSION, "name": seg["name"],
            "description": seg["description"] or "", "definition": seg["definition"]}


def parse_import(data: Any) -> dict:
    """Accept an exported document (or a bare definition) as dict or JSON text; validate it."""
    if isinstance(data, (bytes, bytearray)):
        data = data.decode("utf-8")
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise DefinitionError(f"The file is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DefinitionError("The file must hold a JSON object.")
    if data.get("type") == "group":
        data = {"format": EXPORT_FORMAT, "name": "", "description": "", "definition": data}
    if data.get("format") != EXPORT_FORMAT or "definition" not in data:
        raise DefinitionError("This is not an exported segment (format open-cdp-segment).")
    if data.get("format_version", 1) > EXPORT_VERSION:
        raise DefinitionError("This segment was exported by a newer version of the product.")
    return {"name": str(data.get("name") or ""), "description": str(data.get("description") or ""),
            "definition": model.validate(data["definition"])}


def import_segment(workspace, user: User, data: Any, name: str | None = None) -> str:
    require(user, "edit_segments")
    doc = parse_import(data)
    return create_segment(workspace, user, name or doc["name"] or "Imported segment",
                          doc["definition"], doc["description"])


# -- reads ----------------------------------------------------------------------

def list_segments(workspace) -> pd.DataFrame:
    """Live segments with their latest snapshot size."""
    return workspace.query_df("""
        SELECT s.segment_id, s.name, s.description, s.kind, s.current_version AS version,
               s.updated_at, s.updated_by, snap.member_count AS last_count, snap.taken_at AS counted_at
        FROM segments s
        LEFT JOIN (SELECT segment_id, arg_max(member_count, snapshot_id) AS member_count,
                          max(taken_at) AS taken_at FROM segment_snapshots GROUP BY segment_id) snap
          USING (segment_id)
        WHERE s.deleted_at IS NULL ORDER BY lower(s.name)""")


def get_segment(workspace, segment_id: str, version: int | None = None) -> dict:
    with workspace.connect() as con:
        seg = _current(con, segment_id)
        if version is not None and int(version) != seg["version"]:
            row = con.execute("SELECT name, description, definition, saved_at, saved_by FROM segment_versions "
                              "WHERE segment_id = ? AND version = ?", [segment_id, int(version)]).fetchone()
            if row is None:
                raise SegmentNotFound(f"Segment {segment_id!r} has no version {version}.")
            seg.update(name=row[0], description=row[1], version=int(version),
                       definition=json.loads(row[2]) if row[2] else None,
                       updated_at=row[3], updated_by=row[4])
    return seg


def find_segment(workspace, name_or_id: str) -> str:
    """A segment id from an id or an exact (case-insensitive) name."""
    row = workspace.query_rows("SELECT segment_id FROM segments WHERE deleted_at IS NULL AND "
                               "(segment_id = ? OR lower(name) = lower(?)) ORDER BY segment_id = ? DESC",
                               [name_or_id, name_or_id, name_or_id])
    if not row:
        raise SegmentNotFound(f"No segment called or numbered {name_or_id!r}.")
    return row[0][0]


def segment_versions(workspace, segment_id: str) -> pd.DataFrame:
    return workspace.query_df("SELECT version, name, description, note, saved_at, saved_by, definition "
                              "FROM segment_versions WHERE segment_id = ? ORDER BY version DESC",
                              [segment_id])


def count_definition(workspace, definition: dict, *, user: User | None = None,
                     as_of: datetime | None = None, segment_id: str | None = None, backend=None) -> int:
    """How many profiles a definition selects right now (or at as_of), on `backend`."""
    if user is not None:
        require(user, "view")
        model.check_personal_conditions(definition, user)
    with workspace.connect() as con:
        backend, use_index = _plane(workspace, backend)
        comp = compile_in(con, definition, segment_id=segment_id, as_of=as_of, path=str(workspace.path),
                          use_index=use_index)
        return _scalar(backend, comp.count_sql(), comp.params)


def count_segment(workspace, user: User, segment_id: str, backend=None) -> int:
    require(user, "view")
    with workspace.connect() as con:
        backend, use_index = _plane(workspace, backend)
        comp = _segment_compiled(con, segment_id, str(workspace.path), use_index=use_index)
        return _scalar(backend, comp.count_sql(), comp.params)


def definition_sql(workspace, user: User, definition: dict, segment_id: str | None = None) -> Compiled:
    """The SQL a definition compiles to, for admins (`view_sql`)."""
    require(user, "view_sql")
    with workspace.connect() as con:
        return compile_in(con, definition, segment_id=segment_id, path=str(workspace.path))


def reachability(workspace, user: User, definition: dict, segment_id: str | None = None, backend=None) -> dict:
    """Members, and how many can be reached by email, phone, ad identifiers, any of them."""
    require(user, "view")
    model.check_personal_conditions(definition, user)
    with workspace.connect() as con:
        backend, use_index = _plane(workspace, backend)
        comp = compile_in(con, definition, segment_id=segment_id, path=str(workspace.path), use_index=use_index)
        sql, params = compiler.reach_sql(comp, _has_suppressions(con))
        row = backend.query(sql, params).iloc[0].tolist()
    return dict(zip(["members", "email", "phone", "ad_ids", "any_channel"],
                    (0 if pd.isna(v) else int(v) for v in row)))


def _members(backend, comp: Compiled, limit: int | None = None) -> pd.DataFrame:
    sql, params = compiler.members_sql(comp, limit)
    return backend.query(sql, params)


def sample_members(workspace, user: User, definition: dict, n: int = 20,
                   segment_id: str | None = None, backend=None) -> pd.DataFrame:
    """A few members (masked for roles without view_pii)."""
    require(user, "view")
    model.check_personal_conditions(definition, user)
    with workspace.connect() as con:
        backend, use_index = _plane(workspace, backend)
        comp = compile_in(con, definition, segment_id=segment_id, path=str(workspace.path), use_index=use_index)
        return mask_frame(_members(backend, comp, limit=max(1, min(int(n), 500))), user)


def live_size(workspace, user: User, definition: dict, segment_id: str | None = None, n: int = 20) -> dict:
    """What the builder shows beside the rules: {"reach": reachability, "sample": a few members}."""
    return {"reach": reachability(workspace, user, definition, segment_id=segment_id),
            "sample": sample_members(workspace, user, definition, n=n, segment_id=segment_id)}


def segment_members(workspace, user: User, segment_id: str, backend=None) -> pd.DataFrame:
    """Every member of a saved segment with the identifiers activation needs.

    Columns: profile_id, email, phone, first_name, last_name, city, postcode, state, country,
    date_of_birth, customer_id, user_id, all_emails, all_phones (';'-joined), fbc, fbp,
    gclid, ad_id_count. Personal columns are masked for roles without view_pii.
    """
    require(user, "view")
    with workspace.connect() as con:
        backend, use_index = _plane(workspace, backend)
        comp = _segment_compiled(con, segment_id, str(workspace.path), use_index=use_index)
        return mask_frame(_members(backend, comp), user)


# -- refresh, snapshots, overlap -------------------------------------------------

def refresh_segments(workspace, user: User, segment_ids: list[str] | None = None, progress=None) -> dict:
    """Bring the event index up to date, then snapshot each segment's size and reach."""
    require(user, "view")
    report = lambda f, m: progress(f, m) if progress else None  # noqa: E731
    index = event_index.ensure_fresh(workspace, lambda f, m: report(f * 0.5, m))
    with workspace.transaction() as con:
        ids = segment_ids or [r[0] for r in con.execute(
            "SELECT segment_id FROM segments WHERE deleted_at IS NULL ORDER BY name").fetchall()]
        counts = {}
        for i, seg_id in enumerate(ids):
            seg = _current(con, seg_id)
            counts[seg_id] = _snapshot(con, seg_id, seg["version"], _segment_compiled(con, seg_id, str(workspace.path)))
            report(0.5 + 0.5 * (i + 1) / max(len(ids), 1), f"Counted {seg['name']}")
    report(1.0, "Segments refreshed")
    return {"index": index, "counts": counts}


def snapshot_history(workspace, segment_ids: list[str] | None = None) -> pd.DataFrame:
    sql = ("SELECT n.segment_id, s.name, n.taken_at, n.version, n.member_count, n.reachable_email, "
           "n.reachable_phone, n.reachable_ad_ids FROM segment_snapshots n JOIN segments s USING (segment_id) "
           "WHERE s.deleted_at IS NULL")
    params: list = []
    if segment_ids:
        sql += " AND list_contains(CAST(? AS VARCHAR[]), n.segment_id)"
        params.append(list(segment_ids))
    return workspace.query_df(sql + " ORDER BY n.taken_at, n.snapshot_id", params)


def overlap(workspace, user: User, segment_ids: list[str]) -> dict:
    """Pairwise overlap matrix and UpSet-style combination counts for chosen segments."""
    require(user, "view")
    if not segment_ids:
        return {"names": {}, "matrix": pd.DataFrame(), "combinations": pd.DataFrame()}
    with workspace.connect() as con:
        names = {sid: _current(con, sid)["name"] for sid in segment_ids}
        compiled = {sid: _segment_compiled(con, sid, str(workspace.path)) for sid in segment_ids}
        sql, params = compiler.overlap_sql(compiled)
        combos = con.execute(f"SELECT segment_ids, count(*) AS people FROM ({sql}) "
                             "GROUP BY segment_ids ORDER BY people DESC", params).df()
    order = {sid: i for i, sid in enumerate(segment_ids)}
    combos["segment_ids"] = combos["segment_ids"].map(lambda ids: sorted(ids, key=order.get))
    combos["segments"] = combos["segment_ids"].map(lambda ids: " & ".join(names[i] for i in ids))
    combos["size"] = combos["segment_ids"].map(len)
    ids = list(segment_ids)
    matrix = pd.DataFrame(0, index=[names[i] for i in ids], columns=[names[i] for i in ids], dtype="int64")
    # Pairwise sums over the (small) combinations table: one row per distinct combination.
    for combo, people in zip(combos["segment_ids"], combos["people"]):
        members = [names[i] for i in combo]
        matrix.loc[members, members] += int(people)
    return {"names": names, "matrix": matrix,
            "combinations": combos[["segments", "size", "people"]].reset_index(drop=True)}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def export_members_csv(workspace, user: User, segment_id: str, path, backend=None) -> int:
    """Write a segment's members to CSV (masked per role); audited. Returns the row count."""
    require(user, "export")
    df = segment_members(workspace, user, segment_id, backend=backend)
    safe_csv(df, path)
    with workspace.transaction() as con:
        audit(con, user, "segment.export_members", segment_id, {"rows": len(df), "file": str(path)})
    return len(df)


def builder_choices(workspace) -> dict[str, list]:
    """Known values to offer in the builder's pick lists (most frequent first, capped)."""
    queries = {
        "events": "SELECT COALESCE(event, type) AS v FROM events GROUP BY 1 ORDER BY count(*) DESC LIMIT 300",
        "sources": "SELECT source FROM profile_members GROUP BY 1 ORDER BY count(*) DESC LIMIT 200",
        "purposes": "SELECT purpose FROM consents GROUP BY 1 ORDER BY 1 LIMIT 100",
        "tags": "SELECT tag FROM profile_tags GROUP BY 1 ORDER BY count(*) DESC LIMIT 300",
        "plans": "SELECT plan FROM subscriptions WHERE plan IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 100",
        "stages": "SELECT lead_stage FROM contacts WHERE lead_stage IS NOT NULL GROUP BY 1 "
                  "UNION SELECT stage FROM lead_stage_changes WHERE stage IS NOT NULL GROUP BY 1 LIMIT 100",
        "rfm_segments": "SELECT rfm_segment FROM profile_scores WHERE rfm_segment IS NOT NULL GROUP BY 1 ORDER BY 1",
    }
    with workspace.connect() as con:
        out = {k: [r[0] for r in con.execute(q).fetchall() if r[0] is not None] for k, q in queries.items()}
        out["profile_fields"] = profile_fields(con)
    for purpose in ("email", "sms", "advertising", "analytics", "sale_sharing"):
        if purpose not in out["purposes"]:
            out["purposes"].append(purpose)
    return out
