"""What a screen shows while the derived tables it reads are being updated (engine/derived.py).

Screens read those tables as last built (engine/freshness.AS_BUILT) and never rebuild them in
their own request. `keep_fresh(...)` at the top of a screen: when a table it reads is stale, it
starts the background refresh (or finds the one running) and says "Updating <tables> (N s)…";
the page reruns once when the refresh ends. When a table has never been built at all, there is
nothing to show yet: it says so with the refresh's progress and returns False (stop the screen).
Whether a table is stale is checked only when the data changed since the last check in this
process (`derived.stale_now`), so a rerun with nothing new costs no query.
"""
from __future__ import annotations

import time

import streamlit as st

from engine import derived
from engine.jobs import Job, get_job, list_jobs
from engine.workspace.versions import NO_EVENTS
from ui.context import cached_query, current_user, workspace
from ui.text import md

RETRY_AFTER = 60.0      # seconds a failed refresh is shown before a screen starts another


def keep_fresh(*tables: str) -> bool:
    """Say whether these derived tables are being updated; False when one has no build to show."""
    behind = [name for name in derived.stale_now(workspace()) if name in tables]
    if not behind:
        return True
    missing = [name for name in cached_query(derived.never_built, reads=NO_EVENTS) if name in tables]
    failed = _recent_failure()
    if failed is not None:      # not again at every click: a later view (or a writer) tries again
        ago = time.time() - (failed.finished_at or failed.started_at)
        st.warning(f"Updating {', '.join(behind)} failed {ago:.0f} s ago: {md(failed.error)}. "
                   "Showing the last complete state.")
        return not missing
    job = derived.start_refresh(workspace(), current_user().username, behind)
    _updating(job, behind, missing)
    return not missing


def _recent_failure(within: float = RETRY_AFTER) -> Job | None:
    latest = next(iter(list_jobs(workspace(), derived.REFRESH_KIND, limit=1)), None)
    if latest is None or latest.state != "failed" or time.time() - (latest.finished_at or 0) > within:
        return None
    return latest


def _updating(job: Job | None, behind: list[str], missing: list[str]) -> None:
    names = ", ".join(behind)
    if job is None:             # it ended just as we looked: the next rerun reads the new build
        st.caption(f":material/sync: Updating {names}…")
        return
    ws = workspace()
    first = [True]          # the run that draws it first never reruns the page (no loop)

    @st.fragment(run_every=1.0)
    def live() -> None:
        now = get_job(ws, job.id) or job
        if not now.running and not first[0]:
            st.rerun()          # the whole page, so it reads the new build
        first[0] = False
        if missing:
            st.info(f"Building {', '.join(missing)} for the first time ({now.seconds:.0f} s)… this screen "
                    "fills in when it is done; you can leave and come back.", icon=":material/hourglass_top:")
            st.progress(now.fraction, text=md(now.message))
        else:
            st.caption(f":material/sync: Updating {names} ({now.seconds:.0f} s)… showing the last complete "
                       "state until then.")
    live()
