"""What a resolve run decided, in a form two runs (two engines) can be compared by: the partition
of source records into profiles and the review queue's pairs, both independent of profile ids,
record numbers and row order."""
from __future__ import annotations

from engine.identity.settings import load_settings


def partition(workspace) -> list[tuple[tuple[str, str], ...]]:
    """Each profile as the sorted tuple of its (source, source_record_id), sorted."""
    rows = workspace.query_rows("SELECT profile_id, source, source_record_id FROM profile_members")
    groups: dict[str, list] = {}
    for profile_id, source, record_id in rows:
        groups.setdefault(profile_id, []).append((source, record_id))
    return sorted(tuple(sorted(members)) for members in groups.values())


def _reason(reason: str) -> str:
    """The kind of reason (fuzzy, guard): which identifier types a guard names is not settled in
    the workspace itself (resolve._queue_guarded_pairs takes any_value of the blocked merges'
    types, graph.blocked_pairs lists them unordered), so two runs on one engine differ there too."""
    return reason.partition(":")[0]


def review_pairs(workspace) -> list[tuple[tuple[str, str], tuple[str, str], str]]:
    """The review queue's pairs as (one side, other side, reason), sides in sorted order."""
    settings = load_settings(workspace)
    rows = workspace.query_rows(
        "SELECT l_source, l_record_id, r_source, r_record_id, reason FROM identity_review_queue(?, ?)",
        [float(settings["low_threshold"]), float(settings["high_threshold"])])
    return sorted((*sorted([(a, b), (c, d)]), _reason(reason)) for a, b, c, d, reason in rows)


def outcome(workspace) -> dict:
    return {"partition": partition(workspace), "review": review_pairs(workspace)}


def build_messy(workspace) -> None:
    """A small messy workspace: generated households with typos, shared household emails and
    per-source customer ids, a junk email on many records, and website visitors who identify
    with a user id and an email (tests/engine/identity_generated.py)."""
    from tests.engine.identity_generated import people, records
    from tests.engine.identity_helpers import add_contacts, add_events

    rows = records(people(120, 3), 4)
    for row in rows[::9]:
        row["email"] = "test@test.com"
    add_contacts(workspace, rows)
    emailed = [r for r in rows if r.get("email") and r["email"] != "test@test.com"][:12]
    add_events(workspace, [
        *({"type": "identify", "user_id": f"u{i}", "anonymous_id": f"a{i}",
           "traits": {"email": r["email"], "firstName": r["first_name"]}} for i, r in enumerate(emailed)),
        *({"type": "page", "anonymous_id": f"a{i}"} for i in range(len(emailed))),
        {"type": "page", "anonymous_id": "a-stranger"},
    ])
