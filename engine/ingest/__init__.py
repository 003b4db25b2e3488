"""File uploads and event batches into the typed tables, with quarantine of bad rows.

Modules: readers (format detection, staging as text), fields (canonical fields per kind),
mapping (column suggestions), validate (typing as SQL), load (ingest_file, over plan,
typed_rows, write, first_load, event_files and load_warnings), events (Segment spec),
quarantine (listing and export), landing (the raw copies loads keep, and the leftovers of
interrupted loads).
"""
from engine.ingest.common import IngestError
from engine.ingest.events import EventCounts, load_events_ndjson
from engine.ingest.load import LoadResult, ingest_file, suggest_for_file

__all__ = ["EventCounts", "IngestError", "LoadResult", "ingest_file", "load_events_ndjson",
           "suggest_for_file"]
