"""Derived tables kept fresh by whoever changes the data, not by the next page view.

Four tables are rebuilt from profiles, identifiers and events: the profile search terms
(engine/profiles/search.py), `journey_events` (engine/journeys/prepare.py), the segment
event index (engine/segments/event_index.py) and the web purchases read from events
(`order_events`, engine/order_events.py). Each keeps a signature of what it was built from
and appends new events when only those arrived.

Writers bring them up to date when they finish: `cdp ingest`, `cdp resolve`, `cdp privacy` and
`cdp profile` call `refresh` after a successful run, the app after an upload or a resolve, and the
collector appends each landing's events (`append_new_events`; a rebuild it leaves to the refresh).
Readers pick a policy (engine/freshness.py): the CLI rebuilds a stale table before answering;
screens read the table as last built and start `start_refresh`, a background job (kind "refresh",
one at a time per workspace), saying "Updating ..." until it is done (ui/freshness.py); they ask
`stale_now`, which checks only when the data versions moved since the last check in this process
(a landing in this process that appended its events carries the answer forward: `carry_forward`).
"""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from engine import jobs, order_events
from engine.journeys.prepare import journeys_built, journeys_stale, prepare_journeys
from engine.profiles.search import refresh_search_index, search_index_built, search_index_stale
from engine.segments import event_index
from engine.workspace.versions import EVENTS

REFRESH_KIND = "refresh"


@dataclass(frozen=True)
class DerivedTable:
    name: str
    is_stale: Callable[[Any], bool]
    is_built: Callable[[Any], bool] | None   # None: its readers fall back to the source (never wait)
    build: Callable[[Any, Any], Any]          # (workspace, progress): append or rebuild
    append: Callable[[Any], Any] | None       # (workspace): add new events only, never rebuild


def _event_index_stale(workspace) -> bool:
    with workspace.connect() as con:
        return not event_index.is_fresh(con, str(workspace.path))


TABLES: tuple[DerivedTable, ...] = (
    DerivedTable("profile search", search_index_stale, search_index_built,
                 lambda ws, progress: refresh_search_index(ws), None),      # events do not change it
    DerivedTable("journeys", journeys_stale, journeys_built,
                 lambda ws, progress: prepare_journeys(ws, progress=progress),
                 lambda ws: prepare_journeys(ws, append_only=True)),
    DerivedTable("web orders", order_events.is_stale, None,      # web_orders reads the events meanwhile
                 lambda ws, progress: order_events.refresh(ws, progress),
                 order_events.append),
    # Last: its build records the data version it is fresh at, which a later append would move
    # (and the next reader would hash events and identities to find it fresh after all).
    DerivedTable("segment event index", _event_index_stale, None,      # counts read the events view
                 lambda ws, progress: event_index.ensure_fresh(ws, progress),
                 lambda ws: event_index.ensure_fresh(ws, append_only=True)),
)
NAMES = tuple(t.name for t in TABLES)


def _table(name: str) -> DerivedTable:
    return next(t for t in TABLES if t.name == name)


def stale(workspace) -> list[str]:
    """The derived tables that do not reflect the data as it is now, by name."""
    if not workspace.exists():
        return []
    return [t.name for t in TABLES if t.is_stale(workspace)]


_CHECKED: dict[str, tuple] = {}     # workspace file -> (data versions checked at, names stale then)
_CHECK_LOCK = threading.Lock()       # one check at a time in this process; the others reuse it
_LANDING: dict[str, int] = {}       # workspace file -> landings under way in this process


@contextlib.contextmanager
def landing(workspace) -> Iterator[None]:
    """Around a collector landing and its appends (engine/collect/loader.py): meanwhile `stale_now`
    in this process answers as it last did. Between the landing's commit and its appends the tables
    look a batch behind; a screen that looked then started a refresh of its own, whose commits
    competed with the next landings for the write."""
    key = workspace.file_key()
    with _CHECK_LOCK:
        _LANDING[key] = _LANDING.get(key, 0) + 1
    try:
        yield
    finally:
        with _CHECK_LOCK:
            _LANDING[key] -= 1
            if not _LANDING[key]:
                del _LANDING[key]


def stale_now(workspace) -> list[str]:
    """`stale()`, checked only when the data changed since the last check in this process (a
    check counts events: 0.4-0.9 s at a million profiles) and no landing is under way in it;
    what a screen calls at every rerun."""
    key = workspace.file_key()
    with _CHECK_LOCK:
        versions = workspace.data_versions().data if workspace.exists() else None
        known = _CHECKED.get(key)
        if known is not None and versions is not None and (known[0] == versions or _LANDING.get(key)):
            return list(known[1])
        behind = stale(workspace)      # versions read first: a commit meanwhile makes the next call look again
        if versions is not None:
            _CHECKED[key] = (versions, tuple(behind))
        return behind


def carry_forward(workspace, before, appended: list[str]) -> None:
    """After `append_new_events` (which returned `appended`) for the events landed since data
    versions `before`: when the tables were up to date at `before`, every table that takes events
    appended them, and nothing but events changed since (the core version did not move), they are
    up to date now, so the next `stale_now` needs no check."""
    if set(appended) != {t.name for t in TABLES if t.append is not None}:
        return
    key = workspace.file_key()
    with _CHECK_LOCK:
        known = _CHECKED.get(key)
        now = workspace.data_versions()
        if known is not None and known[0] == before.data and not known[1] and now.core == before.core:
            _CHECKED[key] = (now.data, ())


def never_built(workspace) -> list[str]:
    """The derived tables with no build at all yet whose readers have nothing else to read."""
    if not workspace.exists():
        return []
    return [t.name for t in TABLES if t.is_built is not None and not t.is_built(workspace)]


def refresh(workspace, progress: Callable[[float, str], None] | None = None) -> dict[str, float]:
    """Bring every stale derived table up to date; {name: seconds} of those it rebuilt.

    The tables built from events commit as changing events only (as a landing's appends do): the
    core data version stays, so the screens' caches of reads that touch no event stay valid, and
    the next landing still knows that no event was deleted and no identity changed since."""
    todo = stale(workspace)
    done: dict[str, float] = {}
    for i, name in enumerate(todo):
        started = time.monotonic()
        step = (lambda f, m, i=i: progress((i + min(max(f, 0.0), 1.0)) / len(todo), m)) if progress else None
        if progress:
            progress(i / len(todo), f"Updating {name}")
        table = _table(name)
        with workspace.changing(EVENTS) if table.append is not None else contextlib.nullcontext():
            table.build(workspace, step)
        done[name] = round(time.monotonic() - started, 2)
    return done


def append_new_events(workspace) -> list[str]:
    """Add newly landed events to the tables that can take them by appending; names of those up to
    date after it. A table that needs a rebuild (identities changed) is left for the refresh."""
    return [t.name for t in TABLES if t.append is not None and t.append(workspace)]


def start_refresh(workspace, started_by: str, tables: list[str] | None = None) -> jobs.Job | None:
    """The refresh job: the one running, else a new one started for what is stale (`tables`, when
    the caller has just looked). None when one finished just as this looked."""
    running = jobs.running_job(workspace, REFRESH_KIND)
    if running is not None:
        return running
    try:
        return jobs.start_job(workspace, REFRESH_KIND, "Updating " + ", ".join(tables or stale(workspace) or NAMES),
                              started_by, lambda progress: refresh(workspace, progress))
    except jobs.JobRunning:
        return jobs.running_job(workspace, REFRESH_KIND)
