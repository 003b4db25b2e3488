"""Small builders shared by the identity tests."""
from __future__ import annotations

import json

CONTACT_COLS = ["source", "source_record_id", "email", "phone", "first_name", "last_name",
                "address_line1", "city", "postcode", "date_of_birth", "customer_id", "user_id",
                "anonymous_id", "updated_at"]


def add_contacts(workspace, rows: list[dict], table: str = "contacts") -> None:
    with workspace.transaction() as con:
        for row in rows:
            cols = [c for c in CONTACT_COLS if c in row]
            con.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                        [row[c] for c in cols])


def add_events(workspace, rows: list[dict]) -> None:
    with workspace.transaction() as con:
        for i, row in enumerate(rows):
            con.execute("""INSERT INTO events (message_id, source, type, event, user_id, anonymous_id,
                           previous_id, timestamp, properties, context, traits)
                           VALUES (?, 'web', ?, ?, ?, ?, ?, COALESCE(?, TIMESTAMPTZ '2026-01-01') + to_minutes(?), ?, ?, ?)""",
                        [row.get("message_id", f"m{i}-{row.get('anonymous_id')}-{row.get('user_id')}"),
                         row.get("type", "track"), row.get("event"), row.get("user_id"),
                         row.get("anonymous_id"), row.get("previous_id"), row.get("timestamp"), i,
                         json.dumps(row.get("properties", {})), json.dumps(row.get("context", {})),
                         json.dumps(row.get("traits", {}))])


def add_father_son_chain(workspace) -> None:
    """Background noise plus a father and son (crm sr, jr: birth dates 32 years apart) linked through a
    shop record without a birth date (hub): a chain the cluster-consistency step should cut."""
    from tests.engine.test_identity_resolve import _noise

    home = dict(first_name="Lucius", last_name="Fairweather", address_line1="12 Quarry Lane", city="Ogdenville",
                postcode="70010")
    add_contacts(workspace, _noise() + [
        dict(source="crm", source_record_id="sr", date_of_birth="1950-04-02", **home),
        dict(source="crm", source_record_id="jr", date_of_birth="1982-09-30", **home),
        dict(source="shop", source_record_id="hub", **home),
    ])


def profile_of(workspace, source: str, record_id: str) -> str:
    return workspace.scalar("SELECT profile_id FROM profile_members WHERE source = ? AND source_record_id = ?",
                            [source, record_id])
