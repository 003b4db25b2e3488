"""Audience syncs: dry run, diff sync, full mirror, resumable batches, consent, holdouts.

How a sync works:

1. *Plan* (one transaction). The members are joined to their profiles and identifiers;
   each is held back with a reason when suppressed, under Global Privacy Control, opted out
   of sale/sharing, without the consent the destination needs, or without any usable match
   key; a stable, hash-based share is kept out as the holdout group. Each remaining member
   becomes the JSON the platform wants (hashed per its own rules). Against what the
   destination holds (`activation_membership`, updated batch by batch), the plan lists the
   additions (new or changed members; all of them for a full mirror) and the removals (held
   at the destination but no longer eligible), numbered into request-sized batches, and
   journals every batch as pending.
2. *Send*. Removals first, then additions, batch by batch. A batch is marked `sending`,
   sent with retries, then in one transaction marked `sent` and applied to the membership.
   A crash leaves the run `running`; the next sync of that audience resumes it, sending
   only the batches not marked sent (a batch that was in flight is sent again, with the
   same Meta session / webhook id), so nothing is duplicated beyond that batch and no
   removal is lost.
3. *Record*. The run's counts, held-back reasons and errors are kept in `activation_runs`
   and written to the audit log.

A dry run does step 1 on a scratch copy and reports instead of journaling.
"""
from __future__ import annotations

import json
import os
import socket
from typing import Callable

import pandas as pd

from engine.access import User, audit, can, require
from engine.activation import audiences, feedback
from engine.activation.config import get_destination
from engine.activation.destinations import BatchContext, Destination
from engine.activation.http import AuthError, DeliveryError, HttpClient, RejectedError
from engine.identifiers import MOBILE_AD_ID_TYPES
from engine.phones import DEFAULT_REGION, e164_sql, workspace_region
from engine.processes import pid_alive

REASONS = {
    "unknown_profile": "no longer a profile",
    "suppressed": "suppressed (erasure or opt-out list)",
    "global_privacy_control": "sent Global Privacy Control",
    "sale_sharing_opt_out": "opted out of sale/sharing",
    "no_advertising_consent": "no advertising consent",
    "no_email_consent": "no email consent",
    "no_match_key": "no identifier this destination can match",
}
LEASE_SECONDS = 15 * 60
ENVELOPE_BYTES = 1_000      # what a request carries besides its members (sizing batches by bytes)
_ACTIVE_RUNS: set[int] = set()

CANONICAL_COLUMNS = {k: f"s.{k}" for k in (
    "profile_id", "email", "phone", "first_name", "last_name", "city", "state", "postcode",
    "country", "date_of_birth", "madid", "value")}


class SyncBusy(ValueError):
    """Another live process is syncing this audience."""


# -- planning SQL -----------------------------------------------------------
def _source_sql(purposes: tuple[str, ...], region: str = DEFAULT_REGION) -> str:
    """Members (temp view _act_members) with their identifiers and their held-back reason.
    Phones are checked against suppressions by the workspace's one phone rule (`region`)."""
    ad_ids = ", ".join(f"'{t}'" for t in MOBILE_AD_ID_TYPES)
    needs_email = "email" in purposes
    needs_ads = "advertising" in purposes
    return f"""
    WITH m AS (SELECT DISTINCT CAST(profile_id AS VARCHAR) AS profile_id FROM _act_members
               WHERE profile_id IS NOT NULL),
    ids AS (
        SELECT pi.profile_id,
               min(pi.id_value) FILTER (WHERE pi.id_type = 'email') AS email,
               min(pi.id_value) FILTER (WHERE pi.id_type = 'phone') AS phone,
               min(pi.id_value) FILTER (WHERE pi.id_type IN ({ad_ids})) AS madid
        FROM profile_identifiers pi JOIN m USING (profile_id) GROUP BY pi.profile_id),
    supp AS (
        SELECT pi.profile_id FROM profile_identifiers pi JOIN m USING (profile_id)
        JOIN suppressions s ON s.id_type = pi.id_type
             AND s.id_hash IN (sha256(pi.id_value), sha256(lower(trim(pi.id_value))))
        UNION
        SELECT p.profile_id FROM profiles p JOIN m USING (profile_id)
        JOIN suppressions s ON (s.id_type = 'email' AND s.id_hash = sha256(lower(trim(p.email))))
                            OR (s.id_type = 'phone' AND s.id_hash = sha256({e164_sql("p.phone", region)}))
                            OR (s.id_type = 'customer_id' AND s.id_hash = sha256(p.customer_id))
                            OR (s.id_type = 'user_id' AND s.id_hash = sha256(p.user_id))),
    cs AS (
        SELECT c.profile_id,
               bool_or(c.purpose = 'advertising' AND c.granted) AS advertising,
               bool_or(c.purpose = 'email' AND c.granted) AS email_ok,
               bool_or(c.purpose = 'sale_sharing' AND NOT c.granted) AS sale_opt_out
        FROM profile_consent_state c JOIN m USING (profile_id) GROUP BY c.profile_id),
    gpc AS (
        SELECT DISTINCT profile_id FROM (
            SELECT c.profile_id, c.purpose, arg_max(c.method, c.recorded_at) AS method,
                   arg_max(c.granted, c.recorded_at) AS granted
            FROM profile_consents c JOIN m USING (profile_id) GROUP BY c.profile_id, c.purpose)
        WHERE lower(method) = 'gpc' AND NOT granted)
    SELECT m.profile_id,
           coalesce(nullif(trim(p.email), ''), ids.email) AS email,
           coalesce(nullif(trim(p.phone), ''), ids.phone) AS phone,
           p.first_name, p.last_name, p.city, p.state, p.postcode, p.country, p.date_of_birth,
           ids.madid,
           sc.predicted_clv AS value,
           CASE WHEN p.profile_id IS NULL THEN 'unknown_profile'
                WHEN supp.profile_id IS NOT NULL THEN 'suppressed'
                WHEN gpc.profile_id IS NOT NULL THEN 'global_privacy_control'
                WHEN coalesce(cs.sale_opt_out, false) THEN 'sale_sharing_opt_out'
                {"WHEN NOT coalesce(cs.advertising, false) THEN 'no_advertising_consent'" if needs_ads else ""}
                {"WHEN NOT coalesce(cs.email_ok, false) THEN 'no_email_consent'" if needs_email else ""}
           END AS reason
    FROM m LEFT JOIN profiles p USING (profile_id)
    LEFT JOIN ids USING (profile_id)
    LEFT JOIN profile_scores sc USING (profile_id)
    LEFT JOIN (SELECT DISTINCT profile_id FROM supp) supp USING (profile_id)
    LEFT JOIN cs USING (profile_id)
    LEFT JOIN gpc USING (profile_id)
    """


def _plan_tables(con, dest: Destination, source_key: str, holdout_pct: float) -> None:
    """Build temp tables _act_src (members + reason) and _act_plan (eligible members + JSON)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _act_src AS "
                + _source_sql(dest.consent_purposes, workspace_region(con)))
    keys = dest.keys(CANONICAL_COLUMNS)
    con.execute("CREATE OR REPLACE TEMP TABLE _act_keys AS SELECT s.profile_id, "
                + ", ".join(f'{sql} AS "k_{name}"' for name, sql in keys.items())
                + " FROM _act_src s WHERE s.reason IS NULL")
    member = dest.member_sql({name: f'k."k_{name}"' for name in keys})
    rates = dest.match_rates
    has_addr = ("(s.first_name IS NOT NULL AND s.last_name IS NOT NULL AND s.postcode IS NOT NULL "
                "AND s.country IS NOT NULL)")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _act_plan AS
        SELECT s.profile_id,
               CASE WHEN s.reason IS NOT NULL THEN s.reason
                    WHEN j.member_json IS NULL THEN 'no_match_key' END AS reason,
               (s.reason IS NULL AND j.member_json IS NOT NULL AND ? > 0
                AND md5_number(? || ':' || s.profile_id) % 10000 < ? * 100) AS holdout,
               j.member_json,
               s.email IS NOT NULL AS has_email, s.phone IS NOT NULL AS has_phone,
               {has_addr} AS has_address, s.madid IS NOT NULL AS has_ad_id,
               1 - (1 - CASE WHEN s.email IS NOT NULL THEN {rates['email']} ELSE 0 END)
                 * (1 - CASE WHEN s.phone IS NOT NULL THEN {rates['phone']} ELSE 0 END)
                 * (1 - CASE WHEN {has_addr} THEN {rates['address']} ELSE 0 END)
                 * (1 - CASE WHEN s.madid IS NOT NULL THEN {rates['ad_id']} ELSE 0 END) AS p_match
        FROM _act_src s LEFT JOIN (SELECT k.profile_id, {member} AS member_json FROM _act_keys k) j
             USING (profile_id)
    """, [holdout_pct, source_key, holdout_pct])


def _fit_batches(con, dest: Destination, key: str) -> None:
    """Make batches small enough that a request stays under the platform's body limit (the
    longest member, planned or held, times the batch size, plus the envelope)."""
    if not dest.max_body_bytes:
        return
    longest = con.execute(
        "SELECT max(strlen(member_json)) FROM (SELECT member_json FROM _act_plan UNION ALL "
        "SELECT member_json FROM activation_membership WHERE audience_key = ?)", [key]).fetchone()[0] or 0
    room = max(1, dest.max_body_bytes - ENVELOPE_BYTES)
    dest.batch_size = max(1, min(dest.batch_size, room // (int(longest) + 1)))


def _drop_scratch(con) -> None:
    """Drop the scratch tables (a failed transaction is rolled back by the caller, taking them along)."""
    try:
        for name in ("_act_plan", "_act_keys", "_act_src"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.unregister("_act_members")
    except Exception:  # noqa: BLE001 - an aborted transaction: the rollback cleans up
        pass


def _diff_sql(full: bool) -> tuple[str, str]:
    """(adds, removes) SELECTs of (profile_id, member_json) against the membership (param: key)."""
    eligible = "SELECT profile_id, member_json FROM _act_plan WHERE reason IS NULL AND NOT holdout"
    if full:
        adds = eligible + " AND CAST($key AS VARCHAR) IS NOT NULL"
    else:
        adds = (f"SELECT e.profile_id, e.member_json FROM ({eligible}) e LEFT JOIN "
                "(SELECT profile_id, member_json FROM activation_membership WHERE audience_key = $key) h "
                "USING (profile_id) WHERE h.member_json IS DISTINCT FROM e.member_json")
    removes = ("SELECT h.profile_id, h.member_json FROM activation_membership h "
               f"WHERE h.audience_key = $key AND h.profile_id NOT IN (SELECT profile_id FROM ({eligible}))")
    return adds, removes


def _summary(con, dest: Destination, key: str, full: bool) -> dict:
    adds, removes = _diff_sql(full)
    row = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE reason IS NULL AND NOT holdout),
               count(*) FILTER (WHERE holdout),
               count(*) FILTER (WHERE has_email), count(*) FILTER (WHERE has_phone),
               count(*) FILTER (WHERE has_address), count(*) FILTER (WHERE has_ad_id),
               coalesce(avg(p_match) FILTER (WHERE reason IS NULL AND NOT holdout), 0)
        FROM _act_plan""").fetchone()
    reasons = dict(con.execute(
        "SELECT reason, count(*) FROM _act_plan WHERE reason IS NOT NULL GROUP BY reason ORDER BY 2 DESC"
    ).fetchall())
    to_add = con.execute(f"SELECT count(*) FROM ({adds})", {"key": key}).fetchone()[0]
    to_remove = con.execute(f"SELECT count(*) FROM ({removes})", {"key": key}).fetchone()[0]
    held = con.execute("SELECT count(*) FROM activation_membership WHERE audience_key = ?", [key]).fetchone()[0]
    base_rate = float(row[7])
    factor, reports = feedback.learned_factor(con, dest.name)
    rate = min(1.0, base_rate * factor)
    same = con.execute(
        "SELECT count(*) FROM _act_plan e JOIN activation_membership h USING (profile_id) "
        "WHERE h.audience_key = ? AND e.reason IS NULL AND NOT e.holdout AND h.member_json = e.member_json",
        [key]).fetchone()[0]
    return {
        "destination": dest.name, "destination_label": dest.label, "audience_key": key,
        "mode": "full" if full else "diff",
        "members": row[0], "eligible": row[1], "holdout": row[2],
        "held_back": sum(reasons.values()), "held_back_reasons": reasons,
        "to_add": to_add, "to_remove": to_remove,
        "unchanged": same,
        "at_destination_before": held,
        "coverage": {"email": row[3], "phone": row[4], "address": row[5], "ad_id": row[6]},
        "expected_match_rate": round(rate, 3),
        "expected_matched": int(round(rate * row[1])),
        # The typical rates of the members' keys, and how many past reports rescaled them.
        "typical_match_rate": round(base_rate, 3),
        "match_rate_reports": reports,
        "batches": {"add": -(-to_add // dest.batch_size), "remove": -(-to_remove // dest.batch_size)},
        "batch_size": dest.batch_size,
    }


def _as_members(members) -> pd.DataFrame:
    if isinstance(members, pd.DataFrame):
        if "profile_id" not in members.columns:
            raise ValueError("The members table needs a profile_id column.")
        return members[["profile_id"]].astype({"profile_id": "string"})
    return pd.DataFrame({"profile_id": pd.Series(list(members), dtype="string")})


# -- public API -------------------------------------------------------------
def dry_run(workspace, user: User, key: str, members=None, full: bool = False,
            sample_size: int = 3, holdout_pct: float | None = None) -> dict:
    """What a sync would do: counts, held back by reason, coverage, expected match rate, sample payload.
    `holdout_pct` previews another holdout share; a dry run saves no setting."""
    require(user, "push_audiences")
    audiences.check_settings(None, holdout_pct)
    aud = _with_holdout(audiences.get_audience(workspace, key), holdout_pct)
    dest = get_destination(workspace, aud["destination"], with_secrets=False)
    df = _as_members(members if members is not None else
                     audiences.members_of(workspace, user, aud["source_kind"], aud["source_id"]))
    with workspace.connect() as con:
        con.register("_act_members", df)
        try:
            _plan_tables(con, dest, audiences.source_key(aud["source_kind"], aud["source_id"]),
                         float(aud["holdout_pct"] or 0))
            _fit_batches(con, dest, key)
            out = _summary(con, dest, key, full)
            adds, removes = _diff_sql(full)
            samples = {}
            for op, sql in (("add", adds), ("remove", removes)):
                rows = [r[0] for r in con.execute(
                    f"SELECT member_json FROM ({sql}) ORDER BY profile_id LIMIT $n",
                    {"key": key, "n": int(sample_size)}).fetchall()]
                if rows:
                    ctx = BatchContext(0, op, 0, 1, out["to_" + op], key)
                    dest.secrets = {k: "<from secrets>" for k in dest.secret_names}
                    try:
                        samples[op] = dest.sample_body(rows, ctx)
                    except ValueError as exc:
                        samples[op] = f"(cannot build: {exc})"
            out["sample_payload"] = samples
        finally:
            _drop_scratch(con)
    with workspace.transaction() as con:
        audit(con, user, "audience.dry_run", key, {k: out[k] for k in (
            "members", "eligible", "held_back", "holdout", "to_add", "to_remove")})
    return out


def sync(workspace, user: User, key: str, members=None, full: bool = False,
         progress: Callable[[float, str], None] | None = None, client: HttpClient | None = None,
         on_batch: Callable[[str, int], None] | None = None, schedule: str | None = None,
         holdout_pct: float | None = None) -> dict:
    """Push the audience: resume an interrupted run of it if there is one, else plan and send.

    `schedule` and `holdout_pct` (when given) are the link's new settings: the run uses the
    holdout share, and both are saved only when the run succeeds."""
    require(user, "push_audiences")
    audiences.check_settings(schedule, holdout_pct)
    progress = progress or (lambda f, m="": None)
    aud = _with_holdout(audiences.get_audience(workspace, key), holdout_pct)
    dest = get_destination(workspace, aud["destination"])
    for name in dest.secret_names:
        dest.secret(name)  # fail early, in plain words, when a credential is missing
    client = client or HttpClient(**_client_settings(dest))

    unfinished = _unfinished_run(workspace, key)
    if unfinished is not None:
        progress(0.05, f"Resuming interrupted run {unfinished}")
        run_id, resumed = unfinished, True
    else:
        progress(0.0, "Planning")
        df = _as_members(members if members is not None else
                         audiences.members_of(workspace, user, aud["source_kind"], aud["source_id"]))
        run_id, resumed = _plan(workspace, user, aud, dest, df, full), False
    progress(0.1, "Sending")
    _execute(workspace, user, run_id, dest, client, progress, on_batch)
    out = run_summary(workspace, run_id)
    out["resumed"] = resumed
    out["settings_saved"] = False
    if out["status"] == "succeeded" and (schedule is not None or holdout_pct is not None):
        audiences.link_audience(workspace, user, aud["source_kind"], aud["source_id"], aud["destination"],
                                schedule=schedule, holdout_pct=holdout_pct)
        out["settings_saved"] = True
    progress(1.0, f"Run {run_id}: {out['status']}")
    return out


def _with_holdout(aud: dict, holdout_pct: float | None) -> dict:
    """The link as a run sees it: with the holdout share this command asks for, if any."""
    return aud if holdout_pct is None else {**aud, "holdout_pct": float(holdout_pct)}


def _client_settings(dest: Destination) -> dict:
    s = dest.settings
    out = {}
    if s.get("retry_base_seconds"):
        out["base_delay"] = float(s["retry_base_seconds"])
    if s.get("max_attempts"):
        out["max_attempts"] = int(s["max_attempts"])
    return out


def _unfinished_run(workspace, key: str) -> int | None:
    rows = workspace.query_rows(
        "SELECT run_id, pid, host, epoch(now() - heartbeat_at) FROM activation_runs "
        "WHERE audience_key = ? AND status = 'running' ORDER BY run_id DESC LIMIT 1", [key])
    if not rows:
        return None
    run_id, pid, host, age = rows[0]
    mine = host == socket.gethostname() and pid == os.getpid()
    if run_id in _ACTIVE_RUNS or (
            not mine and host == socket.gethostname() and pid_alive(pid) and (age or 0) < LEASE_SECONDS) or (
            host != socket.gethostname() and (age or 0) < LEASE_SECONDS):
        raise SyncBusy(f"Run {run_id} of this audience is still sending (process {pid} on {host}); "
                       "wait for it to finish.")
    return int(run_id)


def _plan(workspace, user, aud, dest: Destination, df: pd.DataFrame, full: bool) -> int:
    key = aud["audience_key"]
    skey = audiences.source_key(aud["source_kind"], aud["source_id"])
    pct = float(aud["holdout_pct"] or 0)
    with workspace.transaction() as con:
        con.register("_act_members", df)
        try:
            _plan_tables(con, dest, skey, pct)
            _fit_batches(con, dest, key)
            s = _summary(con, dest, key, full)
            run_id = con.execute("SELECT nextval('activation_run_seq')").fetchone()[0]
            con.execute(
                "INSERT INTO activation_runs (run_id, audience_key, destination, mode, status, started_by, "
                "members, eligible, to_add, to_remove, held_back, held_back_reasons, holdout, errors, "
                "pid, host, heartbeat_at, expected_match_rate) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, now(), ?)",
                [run_id, key, dest.name, s["mode"], user.username, s["members"], s["eligible"], s["to_add"],
                 s["to_remove"], s["held_back"], json.dumps(s["held_back_reasons"]), s["holdout"],
                 os.getpid(), socket.gethostname(), s["typical_match_rate"]])
            adds, removes = _diff_sql(full)
            for op, sql in (("remove", removes), ("add", adds)):
                con.execute(
                    f"INSERT INTO activation_run_rows SELECT $run, '{op}', "
                    f"CAST((row_number() OVER (ORDER BY profile_id) - 1) // $size AS INTEGER), "
                    f"profile_id, member_json FROM ({sql})",
                    {"run": run_id, "size": dest.batch_size, "key": key})
            con.execute(
                "INSERT INTO activation_run_batches (run_id, op, batch_no, rows, status) "
                "SELECT run_id, op, batch_no, count(*), 'pending' FROM activation_run_rows "
                "WHERE run_id = ? GROUP BY ALL", [run_id])
            if pct > 0:
                con.execute(
                    "INSERT OR IGNORE INTO activation_holdouts (source_key, profile_id, holdout_pct) "
                    "SELECT ?, profile_id, ? FROM _act_plan WHERE holdout", [skey, pct])
        finally:
            _drop_scratch(con)
    return int(run_id)


def _execute(workspace, user, run_id: int, dest: Destination, client: HttpClient, progress, on_batch) -> None:
    _ACTIVE_RUNS.add(run_id)
    try:
        key = workspace.scalar("SELECT audience_key FROM activation_runs WHERE run_id = ?", [run_id])
        with workspace.transaction() as con:
            con.execute("UPDATE activation_runs SET pid = ?, host = ?, heartbeat_at = now() WHERE run_id = ?",
                        [os.getpid(), socket.gethostname(), run_id])
        totals = {op: (n, rows) for op, n, rows in workspace.query_rows(
            "SELECT op, count(*), sum(rows) FROM activation_run_batches WHERE run_id = ? GROUP BY op", [run_id])}
        todo = workspace.query_rows(
            "SELECT op, batch_no, rows FROM activation_run_batches WHERE run_id = ? "
            "AND status IN ('pending', 'sending') ORDER BY op = 'add', batch_no", [run_id])
        errors: list[str] = json.loads(workspace.scalar(
            "SELECT CAST(errors AS VARCHAR) FROM activation_runs WHERE run_id = ?", [run_id]) or "[]")
        report: dict = json.loads(workspace.scalar(
            "SELECT CAST(platform_report AS VARCHAR) FROM activation_runs WHERE run_id = ?", [run_id]) or "{}")
        for i, (op, batch_no, nrows) in enumerate(todo):
            progress(0.1 + 0.9 * i / max(1, len(todo)),
                     f"{'Adding' if op == 'add' else 'Removing'}: batch {batch_no + 1} of {totals[op][0]}")
            with workspace.transaction() as con:
                con.execute("UPDATE activation_run_batches SET status = 'sending', attempts = attempts + 1 "
                            "WHERE run_id = ? AND op = ? AND batch_no = ?", [run_id, op, batch_no])
                members = [r[0] for r in con.execute(
                    "SELECT member_json FROM activation_run_rows WHERE run_id = ? AND op = ? AND batch_no = ? "
                    "ORDER BY profile_id", [run_id, op, batch_no]).fetchall()]
            ctx = BatchContext(run_id, op, int(batch_no), int(totals[op][0]), int(totals[op][1]), key)
            try:
                result = dest.send(client, members, ctx)
            except (DeliveryError, ValueError) as exc:
                msg = getattr(exc, "message", None) or str(exc)
                errors.append(f"{op} batch {batch_no + 1}: {msg}")
                with workspace.transaction() as con:
                    con.execute("UPDATE activation_run_batches SET status = 'failed', error = ? "
                                "WHERE run_id = ? AND op = ? AND batch_no = ?", [msg, run_id, op, batch_no])
                    con.execute("UPDATE activation_runs SET failed = failed + ?, heartbeat_at = now(), "
                                "errors = ? WHERE run_id = ?", [nrows, json.dumps(errors), run_id])
                if not isinstance(exc, RejectedError) or isinstance(exc, AuthError):
                    # Credentials, configuration or an outage: the rest would fail the same way.
                    with workspace.transaction() as con:
                        con.execute("UPDATE activation_run_batches SET status = 'skipped' "
                                    "WHERE run_id = ? AND status = 'pending'", [run_id])
                    break
                continue
            with workspace.transaction() as con:
                con.execute("UPDATE activation_run_batches SET status = 'sent', sent_at = now(), response = ? "
                            "WHERE run_id = ? AND op = ? AND batch_no = ?",
                            [json.dumps(result.response or {}, default=str)[:4000], run_id, op, batch_no])
                if op == "add":
                    con.execute(
                        "INSERT OR REPLACE INTO activation_membership (audience_key, profile_id, member_json, run_id) "
                        "SELECT ?, profile_id, member_json, run_id FROM activation_run_rows "
                        "WHERE run_id = ? AND op = 'add' AND batch_no = ?", [key, run_id, batch_no])
                    # Who was ever sent where, so an erasure reaches tools the person has left since.
                    con.execute(
                        "INSERT OR IGNORE INTO privacy_recipients (destination, profile_id) "
                        "SELECT ?, profile_id FROM activation_run_rows "
                        "WHERE run_id = ? AND op = 'add' AND batch_no = ?", [dest.name, run_id, batch_no])
                else:
                    con.execute(
                        "DELETE FROM activation_membership WHERE audience_key = ? AND profile_id IN "
                        "(SELECT profile_id FROM activation_run_rows WHERE run_id = ? AND op = 'remove' "
                        " AND batch_no = ?)", [key, run_id, batch_no])
                col = "added" if op == "add" else "removed"
                report = feedback.merge(report, dest.batch_report(result.response))
                con.execute(f"UPDATE activation_runs SET {col} = {col} + ?, failed = failed + ?, "
                            "heartbeat_at = now(), platform_report = ? WHERE run_id = ?",
                            [result.sent, result.failed, json.dumps(report) if report else None, run_id])
            if on_batch:
                on_batch(op, int(batch_no))
        if report:
            report = dest.finish_report(client, report)
            with workspace.transaction() as con:
                con.execute("UPDATE activation_runs SET platform_report = ? WHERE run_id = ?",
                            [json.dumps(report), run_id])
        _finish(workspace, user, run_id)
    finally:
        _ACTIVE_RUNS.discard(run_id)


def _finish(workspace, user, run_id: int) -> None:
    with workspace.transaction() as con:
        sent, bad = con.execute(
            "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status <> 'sent') "
            "FROM activation_run_batches WHERE run_id = ?", [run_id]).fetchone()
        status = "succeeded" if bad == 0 else ("partial" if sent else "failed")
        con.execute("UPDATE activation_runs SET status = ?, finished_at = now() WHERE run_id = ?",
                    [status, run_id])
        # The membership now holds the state; the planned rows are no longer needed.
        con.execute("DELETE FROM activation_run_rows WHERE run_id = ?", [run_id])
        row = con.execute(
            "SELECT audience_key, mode, members, eligible, to_add, to_remove, added, removed, failed, "
            "held_back, CAST(held_back_reasons AS VARCHAR), holdout, CAST(errors AS VARCHAR), "
            "CAST(platform_report AS VARCHAR) FROM activation_runs WHERE run_id = ?", [run_id]).fetchone()
        details = dict(zip(("mode", "members", "eligible", "to_add", "to_remove", "added", "removed",
                            "failed", "held_back"), row[1:10]))
        details.update(run_id=run_id, status=status, held_back_reasons=json.loads(row[10] or "{}"),
                       holdout=row[11], errors=json.loads(row[12] or "[]"),
                       platform_report=json.loads(row[13] or "null"))
        audit(con, user, "audience.sync", row[0], details)


def run_summary(workspace, run_id: int) -> dict:
    df = workspace.query_df("SELECT * FROM activation_runs WHERE run_id = ?", [run_id])
    if df.empty:
        raise ValueError(f"No sync run {run_id}.")
    out = df.iloc[0].to_dict()
    for k in ("held_back_reasons", "errors"):
        out[k] = json.loads(out[k]) if isinstance(out[k], str) and out[k] else (out[k] or ({} if k == "held_back_reasons" else []))
    report = out.get("platform_report")
    out["platform_report"] = json.loads(report) if isinstance(report, str) and report else None
    out["batches"] = workspace.query_df(
        "SELECT op, batch_no + 1 AS batch, rows, status, attempts, sent_at, error "
        "FROM activation_run_batches WHERE run_id = ? ORDER BY op = 'add', batch_no", [run_id])
    return out


def history(workspace, user: User, key: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Sync runs, newest first: who, when, counts added/removed/failed/held back, errors."""
    require(user, "view")
    sql = ("SELECT run_id, audience_key, destination, mode, status, started_by, started_at, finished_at, "
           "members, eligible, to_add, to_remove, added, removed, failed, held_back, holdout, "
           "CAST(held_back_reasons AS VARCHAR) AS held_back_reasons, CAST(errors AS VARCHAR) AS errors, "
           "CAST(platform_report AS VARCHAR) AS platform_report, expected_match_rate "
           "FROM activation_runs")
    params: list = []
    if key:
        sql += " WHERE audience_key = ?"
        params.append(key)
    sql += " ORDER BY run_id DESC LIMIT ?"
    params.append(int(limit))
    return workspace.query_df(sql, params)


def holdout_members(workspace, user: User, source_kind: str, source_id: str) -> pd.DataFrame:
    """The recorded holdout group of an audience source (for measuring lift later)."""
    require(user, "view")
    return workspace.query_df(
        "SELECT profile_id, holdout_pct, first_held_at FROM activation_holdouts WHERE source_key = ? "
        "ORDER BY profile_id", [audiences.source_key(source_kind, source_id)])


def describe_reason(reason: str) -> str:
    return REASONS.get(reason, reason)


def can_push(user: User) -> bool:
    return can(user, "push_audiences")

