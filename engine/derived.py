"""Derived tables kept fresh by whoever changes the data, not by the next page view.

Three tables are rebuilt from profiles, identifiers and events: the profile search terms
(engine/profiles/search.py), `journey_events` (engine/journeys/prepare.py) and the segment
event index (engine/segments/event_index.py). Each keeps a signature of what it was built from
and appends new events when only those arrived. Readers still rebuild a stale table before
they answer (so an answer is never stale), but writers call `refresh` when they finish: `cdp
ingest`, `cdp resolve`, `cdp privacy` and `cdp profile` do it after a successful run, the app
after an upload or a resolve, so the first screen opened afterwards does not wait.
"""
from __future__ import annotations

import time
from typing import Callable

from engine.journeys.prepare import journeys_stale, prepare_journeys
from engine.profiles.search import refresh_search_index, search_index_stale
from engine.segments import event_index


def _event_index_stale(workspace) -> bool:
    with workspace.connect() as con:
        return not event_index.is_fresh(con, str(workspace.path))


# (name, is it stale?, bring it up to date with progress)
TABLES: tuple[tuple[str, Callable, Callable], ...] = (
    ("profile search", search_index_stale, lambda ws, progress: refresh_search_index(ws)),
    ("journeys", journeys_stale, lambda ws, progress: prepare_journeys(ws, progress=progress)),
    ("segment event index", _event_index_stale, lambda ws, progress: event_index.ensure_fresh(ws, progress)),
)


def stale(workspace) -> list[str]:
    """The derived tables a reader would have to rebuild first, by name."""
    if not workspace.exists():
        return []
    return [name for name, is_stale, _ in TABLES if is_stale(workspace)]


def refresh(workspace, progress: Callable[[float, str], None] | None = None) -> dict[str, float]:
    """Bring every stale derived table up to date; {name: seconds} of those it rebuilt."""
    todo = stale(workspace)
    done: dict[str, float] = {}
    for i, name in enumerate(todo):
        started = time.monotonic()
        step = (lambda f, m, i=i: progress((i + min(max(f, 0.0), 1.0)) / len(todo), m)) if progress else None
        if progress:
            progress(i / len(todo), f"Updating {name}")
        build = next(b for n, _, b in TABLES if n == name)
        build(workspace, step)
        done[name] = round(time.monotonic() - started, 2)
    return done
