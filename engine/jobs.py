"""Long work in the background: a resolve, a CLV fit, a sync or an erasure started from a screen.

A job runs in a worker thread of the process that started it (the app's server), so it goes on
when the browser tab that started it is closed, and other people's screens keep reading while
it runs. Its state lives in a small JSON file under `<workspace folder>/jobs/`, written
atomically as it progresses, so anyone who opens the screen (in any session or process) sees
the progress and the result without opening the database. One job of a kind runs at a time
per workspace. A job whose process died is shown as interrupted: the work itself is one
transaction, so nothing half-written is left behind.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from engine.processes import pid_alive

PROGRESS_INTERVAL = 0.5       # seconds between progress writes (the last one is always written)
KEEP = 50                     # finished jobs kept per kind and workspace
_START_LOCK = threading.Lock()


class JobRunning(RuntimeError):
    """A job of this kind is already running on the workspace."""


@dataclass
class Job:
    id: str
    kind: str
    title: str
    started_by: str
    started_at: float
    pid: int
    state: str = "running"            # running | done | failed | interrupted
    fraction: float = 0.0
    message: str = "Starting"
    result: Any = None
    error: str | None = None
    finished_at: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def seconds(self) -> float:
        return (self.finished_at or time.time()) - self.started_at


def jobs_folder(workspace) -> Path:
    return Path(workspace.folder) / "jobs"


def _path(workspace, job_id: str) -> Path:
    return jobs_folder(workspace) / f"{job_id}.json"


def _write(workspace, job: Job) -> None:
    folder = jobs_folder(workspace)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{job.id}.{threading.get_ident()}.tmp"
    tmp.write_text(json.dumps(asdict(job), default=str), encoding="utf-8")
    os.replace(tmp, _path(workspace, job.id))


def _read(path: Path) -> Job | None:
    try:
        job = Job(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if job.running and not pid_alive(job.pid):
        job.state, job.error = "interrupted", "The process running this job stopped before it finished."
    return job


def list_jobs(workspace, kind: str | None = None, limit: int = 10) -> list[Job]:
    """Newest first; running jobs of dead processes are reported as interrupted."""
    folder = jobs_folder(workspace)
    if not folder.is_dir():
        return []
    found = [job for p in folder.glob("*.json") if (job := _read(p)) and (kind is None or job.kind == kind)]
    return sorted(found, key=lambda j: j.started_at, reverse=True)[:limit]


def get_job(workspace, job_id: str) -> Job | None:
    return _read(_path(workspace, job_id))


def running_job(workspace, kind: str) -> Job | None:
    return next((j for j in list_jobs(workspace, kind, limit=KEEP) if j.running), None)


def _prune(workspace, kind: str) -> None:
    """Keep the newest KEEP finished jobs of a kind (frequent kinds never push out others' results)."""
    finished = [j for j in list_jobs(workspace, kind, limit=10_000) if not j.running]
    for job in finished[KEEP:]:
        _path(workspace, job.id).unlink(missing_ok=True)


def start_job(workspace, kind: str, title: str, started_by: str,
              work: Callable[[Callable[[float, str], None]], Any], *, wait: bool = False) -> Job:
    """Run work(progress) in a worker thread; returns the job as started (or finished, with wait).

    `progress(fraction, message)` is what the engine functions already take. The result must be
    JSON-serialisable (it is shown to whoever opens the screen later). Raises JobRunning when a
    job of this kind is still running on the workspace.
    """
    with _START_LOCK:
        if (current := running_job(workspace, kind)) is not None:
            raise JobRunning(f"{current.title} is already running (started by {current.started_by}, "
                             f"{current.seconds:.0f} s ago); it shows its progress here.")
        job = Job(id=f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}", kind=kind, title=title,
                  started_by=started_by, started_at=time.time(), pid=os.getpid())
        _write(workspace, job)
    thread = threading.Thread(target=_run, args=(workspace, job, work), name=f"job-{kind}", daemon=True)
    thread.start()
    if wait:
        thread.join()
        return get_job(workspace, job.id) or job
    return job


def _run(workspace, job: Job, work) -> None:
    last = [0.0]

    def progress(fraction: float, message: str) -> None:
        job.fraction, job.message = min(max(float(fraction), 0.0), 1.0), str(message)
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL:
            last[0] = now
            _write(workspace, job)

    try:
        result = work(progress)
        job.result = json.loads(json.dumps(result, default=str))
        job.state, job.fraction, job.message = "done", 1.0, "Finished"
    except Exception as exc:  # the screen shows it; the work's own transaction rolled back
        job.state, job.error = "failed", str(exc) or type(exc).__name__
    finally:
        job.finished_at = time.time()
        _write(workspace, job)
        _prune(workspace, job.kind)
