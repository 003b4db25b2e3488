"""The request register: every access or erasure request with its legal deadline."""
from __future__ import annotations

import json

from engine.access import User, mask_value, require
from engine.phones import DEFAULT_REGION
from engine.privacy.identifiers import identifier_hash

DEADLINE_DAYS = {"gdpr": 30, "ccpa": 45}  # GDPR: one month; CCPA: 45 days


def open_request(con, user: User, kind: str, regulation: str, id_type: str, value: str,
                 region: str = DEFAULT_REGION) -> int:
    """Register a request (inside the caller's transaction); stores only a hash and a masked hint."""
    if regulation not in DEADLINE_DAYS:
        raise ValueError(f"Regulation is one of {', '.join(DEADLINE_DAYS)}.")
    return con.execute("""
        INSERT INTO privacy_requests (kind, regulation, subject_hash, subject_hint, deadline, handled_by)
        VALUES (?, ?, ?, ?, now() + to_days(?), ?) RETURNING request_id
    """, [kind, regulation, identifier_hash(id_type, value, region) or "", mask_value(value),
          DEADLINE_DAYS[regulation], user.username]).fetchone()[0]


def close_request(con, request_id: int, details: dict) -> None:
    con.execute("""UPDATE privacy_requests SET status = 'done', completed_at = now(), details = ?
                   WHERE request_id = ?""", [json.dumps(details, default=str), request_id])


def list_requests(workspace, user: User):
    """The register, newest first, with days left before each deadline."""
    require(user, "privacy_requests")
    return workspace.query_df("""
        SELECT request_id, kind, regulation, subject_hint, received_at, deadline, status, handled_by,
               completed_at, date_diff('day', now(), deadline) AS days_left, details
        FROM privacy_requests ORDER BY request_id DESC
    """)
