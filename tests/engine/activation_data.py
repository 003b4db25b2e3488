"""Small audiences the activation tests build: profiles, identifiers, consent, suppressions."""
from __future__ import annotations

import hashlib

import pandas as pd


def add_people(workspace, n: int, start: int = 0, consent: str | None = "advertising",
               email_consent: bool = False) -> list[str]:
    """Profiles p0000.. with email, phone, name and address; consent rows via profile_members."""
    ids = [f"p{i:04d}" for i in range(start, start + n)]
    df = pd.DataFrame({
        "profile_id": ids,
        "email": [f"Person.{i}+news@Example.com" for i in range(start, start + n)],
        "phone": [f"+4477009{i:05d}" for i in range(start, start + n)],
        "first_name": [f"Ann{chr(97 + i % 26)}" for i in range(start, start + n)],
        "last_name": ["O'Brien"] * n,
        "postcode": ["SW1A 1AA"] * n, "country": ["GB"] * n, "city": ["London"] * n,
    })
    with workspace.transaction() as con:
        con.register("new_people", df)
        con.execute("INSERT INTO profiles (profile_id, email, phone, first_name, last_name, postcode, country, city) "
                    "SELECT profile_id, email, phone, first_name, last_name, postcode, country, city FROM new_people")
        con.execute("INSERT INTO profile_identifiers (profile_id, id_type, id_value) "
                    "SELECT profile_id, 'email', lower(email) FROM new_people")
        for purpose in ([consent] if consent else []) + (["email"] if email_consent else []):
            set_consent(con, ids, purpose, True)
        con.unregister("new_people")
    return ids


def set_consent(con, ids, purpose: str, granted: bool, method: str = "form", at: str = "2025-01-01"):
    df = pd.DataFrame({"pid": ids})
    con.register("consent_ids", df)
    con.execute(
        "INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at, method) "
        "SELECT 'crm', pid || ':' || ? || ':' || ? || ':' || ?, ?, ?, CAST(? AS TIMESTAMPTZ), ? FROM consent_ids",
        [purpose, at, method, purpose, granted, at, method])
    con.execute(
        "INSERT INTO profile_members (profile_id, kind, source, source_record_id) "
        "SELECT pid, 'consents', 'crm', pid || ':' || ? || ':' || ? || ':' || ? FROM consent_ids",
        [purpose, at, method])
    con.unregister("consent_ids")


def suppress_email(con, email: str):
    con.execute("INSERT INTO suppressions (id_type, id_hash, reason) VALUES ('email', ?, 'erasure')",
                [hashlib.sha256(email.strip().lower().encode()).hexdigest()])
