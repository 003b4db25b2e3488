"""A screen's view of its background jobs (engine/jobs.py): live progress while one runs, then
its result or error, for whoever opens the screen; the page reruns once when the job ends."""
from __future__ import annotations

import time
from typing import Any, Callable

import streamlit as st

from engine.jobs import Job, JobRunning, get_job, list_jobs, start_job
from ui.context import workspace
from ui.text import md


def _ago(job: Job) -> str:
    seconds = time.time() - (job.finished_at or job.started_at)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago" if seconds < 7200 \
        else f"{seconds / 3600:.0f} h ago"


def start(kind: str, title: str, user, work: Callable[[Callable[[float, str], None]], Any]) -> None:
    """Start work(progress) as a job and rerun so the panel shows it (or say why not)."""
    try:
        start_job(workspace(), kind, title, user.username, work)
    except JobRunning as exc:
        st.warning(md(exc))
        return
    st.rerun()


def job_panel(kind: str, summary: Callable[[Any], str], *, ok: Callable[[Any], bool] | None = None,
              details: Callable[[Any], None] | None = None) -> Job | None:
    """Show the latest job of this kind; returns it (None when there has been none).

    A finished job shows `summary(result)` (as a warning when `ok(result)` is false), then
    whatever `details(result)` draws.
    """
    ws = workspace()
    latest = next(iter(list_jobs(ws, kind, limit=1)), None)
    if latest is None:
        return None
    if latest.running:
        @st.fragment(run_every=1.0)
        def live() -> None:
            job = get_job(ws, latest.id)
            if job is None or not job.running:
                st.rerun()      # the whole page, so it reads what the job wrote
            st.progress(job.fraction, text=f"{md(job.title)}: {md(job.message)} · {job.seconds:.0f} s · "
                                           f"started by {md(job.started_by)}. You can leave this page; "
                                           "it goes on.")
        live()
    elif latest.state == "done":
        good = ok is None or ok(latest.result)
        (st.success if good else st.warning)(
            f"{md(summary(latest.result))} ({md(latest.title)}, {latest.seconds:.1f} s, "
            f"by {md(latest.started_by)}, {_ago(latest)})",
            icon=":material/check_circle:" if good else ":material/warning:")
        if details is not None:
            details(latest.result)
    else:
        st.error(f"{md(latest.title)} {'failed' if latest.state == 'failed' else 'was interrupted'} "
                 f"({_ago(latest)}) and nothing was changed: {md(latest.error)}")
    return latest
