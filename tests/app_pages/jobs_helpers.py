"""Waiting for the background jobs a screen started (engine/jobs.py) in an AppTest."""
from __future__ import annotations

import time

from engine.jobs import list_jobs


def wait_for_jobs(workspace, timeout: float = 120) -> bool:
    """True once no job of the workspace is running (False after timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(job.running for job in list_jobs(workspace, limit=50)):
            return True
        time.sleep(0.1)
    return False


def wait_for_recounts(timeout: float = 120) -> bool:
    """True once no read shown as of before the last change is being recounted (ui/recent.py)."""
    from ui.recent import recounts_running
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not recounts_running():
            return True
        time.sleep(0.05)
    return False


def settle(at, workspace):
    """The screen again once the jobs it started (a derived-table refresh, a push) are done, and
    the reads it showed as of before them are recounted (the page reruns itself for both)."""
    assert wait_for_jobs(workspace)
    at.run()
    while any(c.value.startswith(":material/sync: Counting") for c in at.caption):
        assert wait_for_recounts()
        at.run()
    assert not at.exception, at.exception
    return at
