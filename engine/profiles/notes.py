"""Tags and notes colleagues put on a profile: who wrote them and when.

Tags live in `profile_tags` (one row per profile and tag; segments can select on them),
notes in `profile_notes`. Writing needs `edit_profiles` and is audited.
"""
from __future__ import annotations

import re

import pandas as pd

from engine.access import User, audit, require

MAX_TAG_LENGTH = 40
MAX_NOTE_LENGTH = 5000
_TAG = re.compile(r"^[\w][\w .:/&+-]*$", re.UNICODE)


class NoteError(ValueError):
    """A tag or note that cannot be saved, with a reason to show."""


def clean_tag(tag: str) -> str:
    """Tags are trimmed, lower-cased, single-spaced; letters, digits and a few separators."""
    text = re.sub(r"\s+", " ", (tag or "").strip().lower())
    if not text:
        raise NoteError("A tag cannot be empty.")
    if len(text) > MAX_TAG_LENGTH:
        raise NoteError(f"A tag has at most {MAX_TAG_LENGTH} characters.")
    if not _TAG.match(text):
        raise NoteError("A tag may use letters, digits, spaces and . : / & + - only.")
    return text


def _check_profile(con, profile_id: str) -> None:
    if not con.execute("SELECT count(*) FROM profiles WHERE profile_id = ?", [profile_id]).fetchone()[0]:
        raise NoteError(f"There is no profile {profile_id!r}.")


def add_tag(workspace, user: User, profile_id: str, tag: str) -> str:
    """Tag a profile (idempotent); returns the tag as stored."""
    require(user, "edit_profiles")
    tag = clean_tag(tag)
    with workspace.transaction() as con:
        _check_profile(con, profile_id)
        con.execute("INSERT INTO profile_tags (profile_id, tag, created_by) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING", [profile_id, tag, user.username])
        audit(con, user, "profile.tag", profile_id, {"tag": tag})
    return tag


def remove_tag(workspace, user: User, profile_id: str, tag: str) -> bool:
    require(user, "edit_profiles")
    tag = clean_tag(tag)
    with workspace.transaction() as con:
        removed = con.execute("DELETE FROM profile_tags WHERE profile_id = ? AND tag = ? RETURNING tag",
                              [profile_id, tag]).fetchall()
        if removed:
            audit(con, user, "profile.untag", profile_id, {"tag": tag})
    return bool(removed)


def add_note(workspace, user: User, profile_id: str, body: str) -> int:
    """Add a note; returns its id."""
    require(user, "edit_profiles")
    text = (body or "").strip()
    if not text:
        raise NoteError("A note cannot be empty.")
    if len(text) > MAX_NOTE_LENGTH:
        raise NoteError(f"A note has at most {MAX_NOTE_LENGTH} characters (this one has {len(text)}).")
    with workspace.transaction() as con:
        _check_profile(con, profile_id)
        note_id = con.execute("INSERT INTO profile_notes (profile_id, body, created_by) VALUES (?, ?, ?) "
                              "RETURNING note_id", [profile_id, text, user.username]).fetchone()[0]
        audit(con, user, "profile.note", profile_id, {"note_id": note_id})
    return int(note_id)


def delete_note(workspace, user: User, note_id: int) -> bool:
    """Delete a note: its author, or an admin."""
    require(user, "edit_profiles")
    with workspace.transaction() as con:
        row = con.execute("SELECT profile_id, created_by FROM profile_notes WHERE note_id = ?",
                          [int(note_id)]).fetchone()
        if row is None:
            return False
        if row[1] != user.username and user.role != "admin":
            raise NoteError("Only the author or an admin can delete a note.")
        con.execute("DELETE FROM profile_notes WHERE note_id = ?", [int(note_id)])
        audit(con, user, "profile.note_delete", row[0], {"note_id": int(note_id)})
    return True


def profile_tags(workspace, profile_id: str) -> pd.DataFrame:
    return workspace.query_df("SELECT tag, created_at, created_by FROM profile_tags WHERE profile_id = ? "
                              "ORDER BY created_at, tag", [profile_id])


def profile_notes(workspace, profile_id: str) -> pd.DataFrame:
    return workspace.query_df("SELECT note_id, body, created_at, created_by FROM profile_notes "
                              "WHERE profile_id = ? ORDER BY created_at DESC, note_id DESC", [profile_id])


def tag_counts(workspace) -> pd.DataFrame:
    """Every tag in use and how many profiles carry it (for tag pickers and segments)."""
    return workspace.query_df("SELECT tag, count(*) AS profiles FROM profile_tags GROUP BY tag "
                              "ORDER BY profiles DESC, tag")
