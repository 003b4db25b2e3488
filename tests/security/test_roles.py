"""Each role's forbidden actions, called straight on the engine, are refused and change nothing;
personal data is masked for analysts in every engine read that returns it."""
from __future__ import annotations

import datetime as dt

import pytest

from engine import sql_console
from engine.access import PermissionDenied, User, audit_entries
from engine.access import users as user_store
from engine.access.roles import ROLES
from engine.activation import audiences as act_audiences
from engine.activation import config as act_config
from engine.activation import sync as act_sync
from engine.collect.tail import recent_events
from engine.forward import config as fwd_config
from engine.forward import deliver as fwd_deliver
from engine.forward import worker as fwd_worker
from engine.identity import resolve as resolve_fn
from engine.identity import review as id_review
from engine.identity import settings as id_settings
from engine.ingest import ingest_file
from engine.ingest import quarantine as quarantine_mod
from engine.privacy import consent, requests as priv_requests, retention, subject
from engine.profiles import notes, profile_timeline, profile_view, search_profiles
from engine.segments import store as seg_store
from engine.sources import create_source, rotate_write_key
from engine.value import clv, rfm
from engine.workspace import resources
from tests.conftest import copy_workspace_folder
from tests.security.seed import ANALYST, PII_VALUES, table_counts

DEF = {"type": "group", "op": "all", "children": [
    {"type": "condition", "kind": "trait", "field": "city", "op": "is_set"}]}


def _actions(tmp):
    auth = tmp / "auth.yaml"
    csv = tmp / "x.csv"
    csv.write_text("email\nnew.person@example.com\n")
    # name -> (permission the engine must check, call)
    return {
        "ingest_file": ("ingest", lambda ws, u: ingest_file(ws, u, "contacts", csv, "crm")),
        "create_source": ("ingest", lambda ws, u: create_source(ws, u, "newsrc", "contacts")),
        "rotate_write_key": ("ingest", lambda ws, u: rotate_write_key(ws, u, "web")),
        "identity.resolve": ("resolve", lambda ws, u: resolve_fn(ws, u, full=True)),
        "identity.save_settings": ("resolve", lambda ws, u: id_settings.save_settings(ws, u, {})),
        "identity.decide": ("review_matches", lambda ws, u: id_review.decide(ws, u, "a|b", "match")),
        "identity.bulk_decide": ("review_matches", lambda ws, u: id_review.bulk_decide(ws, u, "match", 0.0, 1.0)),
        "identity.undo": ("review_matches", lambda ws, u: id_review.undo(ws, u)),
        "identity.unmerge": ("review_matches", lambda ws, u: id_review.unmerge(ws, u, ws.scalar(
            "SELECT profile_id FROM profile_members GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 1"))),
        "profiles.add_tag": ("edit_profiles", lambda ws, u: notes.add_tag(ws, u, "p000000001", "vip")),
        "profiles.remove_tag": ("edit_profiles", lambda ws, u: notes.remove_tag(ws, u, "p000000001", "vip")),
        "profiles.add_note": ("edit_profiles", lambda ws, u: notes.add_note(ws, u, "p000000001", "hi")),
        "profiles.delete_note": ("edit_profiles", lambda ws, u: notes.delete_note(ws, u, 1)),
        "segments.create": ("edit_segments", lambda ws, u: seg_store.create_segment(ws, u, "s", DEF)),
        "segments.create_static": ("edit_segments",
                                   lambda ws, u: seg_store.create_static_segment(ws, u, "static", ["p000000001"])),
        "segments.save": ("edit_segments", lambda ws, u: seg_store.save_segment(ws, u, "seg", DEF)),
        "segments.delete": ("edit_segments", lambda ws, u: seg_store.delete_segment(ws, u, "seg")),
        "segments.import": ("edit_segments", lambda ws, u: seg_store.import_segment(ws, u, {"definition": DEF})),
        "value.score_rfm": ("score_value", lambda ws, u: rfm.score_rfm(ws, u, dt.date(2026, 2, 1))),
        "value.save_rules": ("score_value", lambda ws, u: rfm.save_segment_rules(ws, u, rfm.segment_rules(ws))),
        "value.fit_clv": ("score_value", lambda ws, u: clv.fit_clv(ws, u, dt.date(2026, 2, 1))),
        "activation.link_audience": ("push_audiences",
                                     lambda ws, u: act_audiences.link_audience(ws, u, "tag", "vip", "meta")),
        "activation.dry_run": ("push_audiences", lambda ws, u: act_sync.dry_run(ws, u, "k")),
        "activation.sync": ("push_audiences", lambda ws, u: act_sync.sync(ws, u, "k")),
        "activation.add_destination": ("manage_destinations",
                                       lambda ws, u: act_config.add_destination(ws, u, "d", "meta", {})),
        "activation.remove_destination": ("manage_destinations",
                                          lambda ws, u: act_config.remove_destination(ws, u, "d")),
        "forward.add_destination": ("manage_destinations",
                                    lambda ws, u: fwd_config.add_destination(ws, u, "d", "meta", {})),
        "forward.add_mapping": ("manage_destinations",
                                lambda ws, u: fwd_config.add_mapping(ws, u, "d", "track", "Order Completed", "Purchase")),
        "forward.set_mapping_enabled": ("manage_destinations",
                                        lambda ws, u: fwd_config.set_mapping_enabled(ws, u, 1, False)),
        "forward.deliver": ("push_audiences", lambda ws, u: fwd_deliver.deliver(ws, u, "d")),
        "forward.retry_dead": ("push_audiences", lambda ws, u: fwd_deliver.retry_dead(ws, u, "d")),
        "forward.run_once": ("push_audiences", lambda ws, u: fwd_worker.run_once(ws, u)),
        "privacy.find_subject": ("privacy_requests",
                                 lambda ws, u: subject.find_subject(ws, u, "email", "xss.victim@example.com")),
        "privacy.export_subject": ("privacy_requests",
                                   lambda ws, u: subject.export_subject(ws, u, "email", "xss.victim@example.com")),
        "privacy.erase_subject": ("privacy_requests",
                                  lambda ws, u: subject.erase_subject(ws, u, "email", "xss.victim@example.com")),
        "privacy.list_requests": ("privacy_requests", lambda ws, u: priv_requests.list_requests(ws, u)),
        "privacy.set_consent": ("privacy_requests",
                                lambda ws, u: consent.set_consent(ws, u, "p000000001", "email", False)),
        "privacy.retention_policy": ("privacy_requests", lambda ws, u: retention.set_policy(ws, u, 1, 1)),
        "privacy.retention_apply": ("privacy_requests", lambda ws, u: retention.apply(ws, u)),
        "audit.entries": ("view_audit", lambda ws, u: audit_entries(ws, u)),
        "users.list": ("manage_users", lambda ws, u: user_store.list_users(u, auth)),
        "users.add": ("manage_users", lambda ws, u: user_store.add_user(
            ws, u, "mallory", "Mallory", "m@example.com", "a-long-password-123", "admin", path=auth)),
        "users.set_role": ("manage_users", lambda ws, u: user_store.set_role(ws, u, u.username, "admin", path=auth)),
        "users.reset_password": ("manage_users", lambda ws, u: user_store.reset_password(
            ws, u, "admin", "a-long-password-123", path=auth)),
        "workspace.set_memory_limit": ("manage_workspace",
                                       lambda ws, u: resources.set_memory_limit(ws, u, "1GiB")),
    }


ACTION_NAMES = [
    "ingest_file", "create_source", "rotate_write_key", "identity.resolve", "identity.save_settings",
    "identity.decide", "identity.bulk_decide", "identity.undo", "identity.unmerge", "profiles.add_tag",
    "profiles.remove_tag", "profiles.add_note", "profiles.delete_note", "segments.create",
    "segments.create_static", "segments.save", "segments.delete", "segments.import", "value.score_rfm",
    "value.save_rules", "value.fit_clv", "activation.link_audience", "activation.dry_run", "activation.sync",
    "activation.add_destination", "activation.remove_destination", "forward.add_destination",
    "forward.add_mapping", "forward.set_mapping_enabled", "forward.deliver", "forward.retry_dead",
    "forward.run_once", "privacy.find_subject", "privacy.export_subject", "privacy.erase_subject",
    "privacy.list_requests", "privacy.set_consent", "privacy.retention_policy", "privacy.retention_apply",
    "audit.entries", "users.list", "users.add", "users.set_role", "users.reset_password",
    "workspace.set_memory_limit",
]


def _forbidden_pairs():
    """(action, role) for every role that lacks the permission the action needs (roles.py)."""
    import tempfile
    from pathlib import Path
    acts = _actions(Path(tempfile.mkdtemp()))
    assert sorted(acts) == sorted(ACTION_NAMES)
    return [(name, role) for name in ACTION_NAMES for role in ("analyst", "marketer")
            if acts[name][0] not in ROLES[role]]


FORBIDDEN = _forbidden_pairs()


def test_the_matrix_covers_what_the_issue_names():
    pairs = set(FORBIDDEN)
    # analyst: no writes of any kind
    for name in ACTION_NAMES:
        assert (name, "analyst") in pairs, name
    for name in ("users.add", "users.set_role", "users.reset_password", "activation.add_destination",
                 "forward.add_destination", "forward.add_mapping", "privacy.erase_subject",
                 "privacy.export_subject", "privacy.set_consent", "audit.entries"):
        assert (name, "marketer") in pairs, name
    assert ("segments.create", "marketer") not in pairs


@pytest.mark.parametrize("name,role", FORBIDDEN, ids=[f"{n}-{r}" for n, r in FORBIDDEN])
def test_forbidden_action_is_refused_and_changes_nothing(seeded, tmp_path, name, role):
    user = User(role, role)
    before = table_counts(seeded)
    _, call = _actions(tmp_path)[name]
    with pytest.raises(PermissionDenied):
        call(seeded, user)
    assert table_counts(seeded) == before
    assert not (tmp_path / "auth.yaml").exists()


@pytest.fixture(scope="module")
def admin_ws(seeded_template, tmp_path_factory):
    """A second copy, for the admin's calls that write."""
    return copy_workspace_folder(seeded_template, tmp_path_factory.mktemp("admin_ws"))


# What the dummy arguments make an admin's call refuse (a ValueError a user reads); every other
# action must succeed for an admin.
ADMIN_REFUSALS = {
    "identity.decide": "Decision must be one of",
    "identity.bulk_decide": "Decision must be one of",
    "identity.undo": "Nothing to undo",
    "segments.save": "No segment 'seg'",
    "segments.delete": "No segment 'seg'",
    "segments.import": "not an exported segment",
    "activation.link_audience": "No destination called 'meta'",
    "activation.dry_run": "No audience 'k'",
    "activation.sync": "No audience 'k'",
    "activation.add_destination": "needs the setting",
    "activation.remove_destination": "No destination called 'd'",
    "forward.add_destination": "Kind is one of",
    "forward.add_mapping": "No forwarding destination called 'd'",
    "forward.deliver": "No forwarding destination called 'd'",
}


def test_admin_refusals_name_real_actions():
    assert set(ADMIN_REFUSALS) <= set(ACTION_NAMES)


@pytest.mark.parametrize("name", ACTION_NAMES)
def test_admin_is_not_refused(admin_ws, tmp_path, demo_users, name):
    """Admins hold every permission: the call succeeds, or fails on the dummy arguments with the
    error a user would read (ADMIN_REFUSALS), never on the role and never with anything else."""
    _, call = _actions(tmp_path)[name]
    if name in ADMIN_REFUSALS:
        with pytest.raises(ValueError, match=ADMIN_REFUSALS[name]):
            call(admin_ws, User("admin", "admin"))
    else:
        call(admin_ws, User("admin", "admin"))   # PermissionDenied or any other error fails the test


# -- masking for analysts ---------------------------------------------------------------------

def _leaks(df) -> list[str]:
    text = df.astype(str).to_csv(index=False)
    return [v for v in PII_VALUES if v.lower() in text.lower()]


def test_profile_search_masks_for_analyst(seeded):
    for query in ("zebulon", "Quixotic", "+447700900789", "xss.victim@example.com"):
        found = search_profiles(seeded, ANALYST, query)
        assert not _leaks(found), (query, found)
    assert len(search_profiles(seeded, ANALYST, "C003"))   # by customer id


def test_profile_view_and_timeline_mask_for_analyst(seeded):
    for pid in seeded.query_df("SELECT profile_id FROM profiles")["profile_id"]:
        view = profile_view(seeded, ANALYST, pid)
        text = repr(view)
        assert not [v for v in PII_VALUES if v.lower() in text.lower()], text[:500]
        timeline = profile_timeline(seeded, ANALYST, pid)
        assert not _leaks(timeline)


def test_segment_samples_and_members_mask_for_analyst(seeded, tmp_path):
    from tests.security.seed import ADMIN
    seg = seg_store.create_segment(seeded, ADMIN, "everyone with a city", DEF)
    sample = seg_store.sample_members(seeded, ANALYST, DEF)
    assert len(sample) and not _leaks(sample)
    members = seg_store.segment_members(seeded, ANALYST, seg)
    assert len(members) and not _leaks(members)
    # The audience export for an analyst (who holds `export`) is masked, not refused.
    out = tmp_path / "members.csv"
    seg_store.export_members_csv(seeded, ANALYST, seg, out)
    text = out.read_text()
    assert "profile_id" in text and not [v for v in PII_VALUES if v.lower() in text.lower()]
    seg_store.delete_segment(seeded, ADMIN, seg)


@pytest.mark.parametrize("sql", [
    "SELECT email, phone, first_name, last_name FROM profiles",
    "SELECT email AS e, phone AS p, first_name AS f FROM profiles",
    "SELECT upper(email) AS shout, concat(first_name, '!') FROM profiles",
    "SELECT value FROM profile_identifiers",
    "SELECT * FROM contacts",
    "SELECT traits, properties, context FROM events",
    "SELECT to_json(p) AS j FROM profiles p",
    "SELECT raw FROM quarantine UNION ALL SELECT CAST(raw AS VARCHAR) FROM contacts",
    "SELECT email AS e FROM main.profiles",
    "SELECT email AS e FROM cdp.main.profiles",
    "SELECT first_name AS f FROM temp.main.profiles",
    "SELECT e.* FROM profile_events e",
    "SELECT json_extract_string(traits, '$.email') AS x FROM events",
])
def test_sql_console_never_shows_personal_data_to_analyst(seeded, sql):
    try:
        df = sql_console.run_readonly(seeded, ANALYST, sql)
    except sql_console.SqlRefused:
        return
    assert not _leaks(df), df.head().to_dict()


def test_identity_review_screens_mask_for_analyst(seeded):
    queue = id_review.review_queue(seeded, ANALYST)
    assert not _leaks(queue)
    for pid in seeded.query_df("SELECT profile_id FROM profiles")["profile_id"]:
        assert not _leaks(id_review.profile_records(seeded, ANALYST, pid))


@pytest.mark.slow
def test_sql_console_masks_every_table_and_view_for_analyst(seeded):
    names = seeded.query_df("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' UNION "
                            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal")
    assert len(names) > 20
    # every row of every table and view, in one console query (one connection, not one per table)
    every_row = " UNION ALL ".join(f"""SELECT '{name}' AS "table", to_json(t)::VARCHAR AS row FROM "{name}" t"""
                                   for name in names["table_name"])
    rows = sum(seeded.scalar(f'SELECT count(*) FROM "{name}"') for name in names["table_name"])
    df = sql_console.run_readonly(seeded, ANALYST, every_row, limit=10**9)
    assert len(df) == rows                    # (counted first: the query itself adds an audit row)
    leaks = {name: _leaks(rows) for name, rows in df.groupby("table") if _leaks(rows)}
    assert not leaks
    # Control: the same query shows an admin the data, so the check above can fail.
    from tests.security.seed import ADMIN
    assert _leaks(sql_console.run_readonly(seeded, ADMIN, every_row, limit=10**9))
    assert _leaks(sql_console.run_readonly(seeded, ADMIN, "SELECT to_json(t) AS row FROM profiles t"))


def test_sql_console_still_answers_analysts(seeded):
    df = sql_console.run_readonly(seeded, ANALYST, "SELECT count(*) AS n, count(DISTINCT email) AS e FROM profiles")
    assert df["n"][0] == seeded.query_df("SELECT count(*) AS n FROM profiles")["n"][0]
    events = sql_console.run_readonly(seeded, ANALYST, "SELECT event, count(*) AS n FROM events GROUP BY 1")
    assert "Order Completed" in set(events["event"])


def test_collector_tail_and_quarantine_mask_for_analyst(seeded):
    tail = recent_events(seeded, ANALYST, limit=100)
    assert len(tail) and not _leaks(tail)
    assert not _leaks(quarantine_mod.quarantined_rows(seeded, ANALYST))
