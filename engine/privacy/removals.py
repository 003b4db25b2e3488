"""Erasure at the destinations: plan what each one must delete, deliver it now, retry failures.

An erasure (engine.privacy.subject) calls `plan` inside its transaction, before the person's
rows go: for every configured destination that holds the person now (activation_membership)
or was ever sent them (privacy_recipients), one row in privacy_destination_removals with the
members to delete there, in the form that destination matches on (`Destination.erasure_members`).
Right after the transaction, `deliver` sends each through its destination class
(`Destination.erase`: audience removal by default; Klaviyo and HubSpot delete the profile,
a webhook gets a `profile.deleted` event), records the outcome per destination, clears the
members of a delivered row, and leaves failures `failed` with their error, to be retried by
`deliver` again (`cdp privacy removals --retry`).
"""
from __future__ import annotations

import json

import pandas as pd

from engine.access import User, audit, require
from engine.activation.config import get_destination
from engine.activation.destinations import KINDS, ErasureContext
from engine.activation.http import DeliveryError, HttpClient
from engine.identifiers import MOBILE_AD_ID_TYPES

# The canonical member columns destinations build their keys from (as in activation.sync).
_CANONICAL = ("profile_id", "email", "phone", "first_name", "last_name", "city", "state", "postcode",
              "country", "date_of_birth", "madid")


def _subject_rows(con, profile_ids: list[str], emails: list[str], phones: list[str]) -> pd.DataFrame:
    """The person as members would be built now: the golden record, and one row per other
    email and phone they were known by (each could have been sent at some point)."""
    golden = con.execute(f"""
        SELECT p.profile_id, p.email, p.phone, p.first_name, p.last_name, p.city, p.state, p.postcode,
               p.country, p.date_of_birth,
               (SELECT min(id_value) FROM profile_identifiers i WHERE i.profile_id = p.profile_id
                AND i.id_type IN ({', '.join('?' for _ in MOBILE_AD_ID_TYPES)})) AS madid
        FROM profiles p WHERE p.profile_id IN (SELECT unnest(?::VARCHAR[]))""",
                         [*MOBILE_AD_ID_TYPES, profile_ids]).df()
    base = golden.iloc[0].to_dict() if len(golden) else {c: None for c in _CANONICAL}
    extra = [{**base, "email": e, "phone": None} for e in emails] + \
            [{**base, "email": None, "phone": p} for p in phones]
    return pd.concat([golden, pd.DataFrame(extra, columns=list(_CANONICAL))], ignore_index=True)


def _current_members(con, dest, rows: pd.DataFrame) -> list[str]:
    """Members JSON the destination would be sent for these rows, by its own key SQL."""
    if rows.empty:
        return []
    frame = rows[list(_CANONICAL)].copy()
    frame["date_of_birth"] = pd.to_datetime(frame["date_of_birth"], errors="coerce").dt.date
    con.register("_erase_rows", frame)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _erase_src AS SELECT "
                    "CAST(profile_id AS VARCHAR) AS profile_id, "
                    + ", ".join(f"CAST({c} AS {'DATE' if c == 'date_of_birth' else 'VARCHAR'}) AS {c}"
                                for c in _CANONICAL[1:]) + " FROM _erase_rows")
        keys = dest.keys({c: f"s.{c}" for c in _CANONICAL})
        member = dest.member_sql({name: f'k."k_{name}"' for name in keys})
        return [r[0] for r in con.execute(
            "SELECT DISTINCT " + member + " FROM (SELECT "
            + ", ".join(f'{sql} AS "k_{name}"' for name, sql in keys.items())
            + " FROM _erase_src s) k").fetchall() if r[0]]
    finally:
        con.execute("DROP TABLE IF EXISTS _erase_src")
        con.unregister("_erase_rows")


def plan(con, request_id: int, profile_ids: list[str], identifiers: dict[str, set[str]]) -> list[str]:
    """Queue the deletions this erasure owes (inside its transaction); returns destination names."""
    emails = sorted({e.strip().lower() for e in identifiers.get("email", ()) if e and e.strip()})
    phones = sorted({p for p in identifiers.get("phone", ()) if p})
    dests = con.execute("""
        SELECT d.name, d.kind, CAST(d.settings AS VARCHAR) FROM activation_destinations d
        WHERE EXISTS (SELECT 1 FROM activation_membership m JOIN activation_audiences a USING (audience_key)
                      WHERE a.destination = d.name AND m.profile_id IN (SELECT unnest(?::VARCHAR[])))
           OR EXISTS (SELECT 1 FROM privacy_recipients r
                      WHERE r.destination = d.name AND r.profile_id IN (SELECT unnest(?::VARCHAR[])))
        ORDER BY d.name""", [profile_ids, profile_ids]).fetchall()
    rows = _subject_rows(con, profile_ids, emails, phones) if dests else pd.DataFrame()
    planned = []
    for name, kind, settings in dests:
        held = [r[0] for r in con.execute("""
            SELECT DISTINCT m.member_json FROM activation_membership m JOIN activation_audiences a USING (audience_key)
            WHERE a.destination = ? AND m.profile_id IN (SELECT unnest(?::VARCHAR[]))""",
                                          [name, profile_ids]).fetchall()]
        try:
            dest = KINDS[kind](name, json.loads(settings or "{}"), {})
            members = dest.erasure_members(held, _current_members(con, dest, rows), emails)
        except (KeyError, ValueError):   # an unknown kind or broken settings: ask with what it was sent
            members = sorted(set(held))   # (delivery then fails visibly until the settings are fixed)
        con.execute("""INSERT INTO privacy_destination_removals
                           (request_id, destination, kind, id_type, members, status, attempts)
                       VALUES (?, ?, ?, 'members', ?, 'pending', 0)""",
                    [request_id, name, kind, json.dumps(members)])
        planned.append(name)
    return planned


def deliver(workspace, user: User, request_id: int | None = None,
            client: HttpClient | None = None) -> list[dict]:
    """Send every pending or failed deletion (of one request, or all); returns one outcome
    per destination: destination, kind, action, status, members, error."""
    require(user, "privacy_requests")
    rows = workspace.query_rows("""
        SELECT request_id, destination, kind, CAST(members AS VARCHAR) FROM privacy_destination_removals
        WHERE id_type = 'members' AND status IN ('pending', 'failed') AND members IS NOT NULL
          AND (CAST(? AS BIGINT) IS NULL OR request_id = ?) ORDER BY request_id, destination""",
                                [request_id, request_id])
    outcomes = []
    for req, name, kind, members_json in rows:
        members = json.loads(members_json or "[]")
        outcome = {"request_id": req, "destination": name, "kind": kind, "members": len(members)}
        try:
            dest = get_destination(workspace, name)
            outcome["action"] = dest.erasure_action
            result = dest.erase(client or HttpClient(), members, ErasureContext(int(req), name)) \
                if members else None
            outcome.update(status="done", error=None,
                           response=(result.response if result else {"note": "nothing to delete"}))
            if result and result.failed:
                outcome.update(status="failed", error=f"{result.failed} of {len(members)} not accepted")
        except (DeliveryError, ValueError, KeyError) as exc:
            outcome.update(status="failed", error=getattr(exc, "message", None) or str(exc), response=None)
            outcome.setdefault("action", "")
        with workspace.transaction() as con:
            con.execute("""
                UPDATE privacy_destination_removals SET status = ?, attempts = attempts + 1,
                       last_attempt_at = now(), last_error = ?, response = ?,
                       done_at = CASE WHEN ? = 'done' THEN now() END,
                       members = CASE WHEN ? = 'done' THEN NULL ELSE members END
                WHERE request_id = ? AND destination = ? AND id_type = 'members'""",
                        [outcome["status"], outcome["error"], json.dumps(outcome["response"], default=str)[:4000],
                         outcome["status"], outcome["status"], req, name])
            audit(con, user, "privacy.destination_deletion", name,
                  {k: outcome[k] for k in ("request_id", "kind", "status", "members", "error")})
        outcomes.append({k: v for k, v in outcome.items() if k != "response"})
    return outcomes


def list_removals(workspace, user: User, request_id: int | None = None) -> pd.DataFrame:
    """Every destination deletion with its state (no identifiers)."""
    require(user, "privacy_requests")
    return workspace.query_df("""
        SELECT request_id, destination, kind, status, attempts, queued_at, last_attempt_at, done_at, last_error
        FROM privacy_destination_removals WHERE id_type = 'members'
          AND (CAST(? AS BIGINT) IS NULL OR request_id = ?)
        ORDER BY request_id DESC, destination""", [request_id, request_id])
