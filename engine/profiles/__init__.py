"""Profiles: search, the 360 view, the timeline, tags and notes."""
from engine.profiles.notes import (
    NoteError, add_note, add_tag, delete_note, profile_notes, profile_tags, remove_tag, tag_counts,
)
from engine.profiles.search import refresh_search_index, search_profiles
from engine.profiles.timeline import TIMELINE_TYPES, profile_timeline
from engine.profiles.view import ProfileNotFound, ProfileView, profile_view

__all__ = [
    "NoteError", "ProfileNotFound", "ProfileView", "TIMELINE_TYPES", "add_note", "add_tag",
    "delete_note", "profile_notes", "profile_tags", "profile_timeline", "profile_view",
    "refresh_search_index", "remove_tag", "search_profiles", "tag_counts",
]
