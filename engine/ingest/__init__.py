"""File uploads and event batches into the typed tables, with quarantine of bad rows.

Modules: readers (format detection, staging as text), mapping (column suggestions),
validate (typing as SQL), load (ingest_file), events (Segment spec), quarantine.
"""
from engine.ingest.common import IngestError
from engine.ingest.events import EventCounts, load_events_ndjson

__all__ = ["EventCounts", "IngestError", "load_events_ndjson"]
