"""The event collector: a Segment-compatible HTTP API, a durable spool and micro-batch landing.

`Collector(workspace, host, port).start()` serves the Segment HTTP Tracking API;
see server.py (requests), spool.py (durability), loader.py (landing) and tail.py
(what the app shows).
"""
from engine.collect.server import MAX_BATCH_BYTES, MAX_EVENT_BYTES, ApiError, Collector, spool_dir

__all__ = ["ApiError", "Collector", "MAX_BATCH_BYTES", "MAX_EVENT_BYTES", "spool_dir"]
