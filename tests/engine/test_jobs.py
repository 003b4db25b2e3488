"""Background jobs: progress and results in files anyone can read, one job of a kind at a time,
errors kept, and jobs of a dead process shown as interrupted."""
from __future__ import annotations

import json
import threading

import pytest

from engine import jobs

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_a_job_reports_progress_while_it_runs_and_its_result_after(workspace, monkeypatch):
    monkeypatch.setattr(jobs, "PROGRESS_INTERVAL", 0.0)
    halfway, go_on = threading.Event(), threading.Event()

    def work(progress):
        progress(0.5, "Scoring pairs")
        halfway.set()
        go_on.wait(10)
        return {"profiles": 3, "seconds": 0.1}

    job = jobs.start_job(workspace, "resolve", "Identity resolution", "ada", work)
    assert halfway.wait(10)
    seen = jobs.get_job(workspace, job.id)
    assert (seen.state, seen.fraction, seen.message, seen.started_by) == ("running", 0.5, "Scoring pairs", "ada")
    with pytest.raises(jobs.JobRunning, match="already running"):
        jobs.start_job(workspace, "resolve", "Identity resolution", "max", lambda progress: None)
    other = jobs.start_job(workspace, "clv", "CLV fit", "max", lambda progress: 1, wait=True)
    assert other.state == "done" and other.result == 1          # another kind is not blocked
    go_on.set()
    for _ in range(100):
        finished = jobs.get_job(workspace, job.id)
        if not finished.running:
            break
        threading.Event().wait(0.05)
    assert (finished.state, finished.fraction, finished.result) == ("done", 1.0, {"profiles": 3, "seconds": 0.1})
    assert [j.kind for j in jobs.list_jobs(workspace)] == ["clv", "resolve"]


def test_a_failing_job_keeps_its_error_and_frees_its_kind(workspace):
    def work(progress):
        raise ValueError("no records to resolve")

    failed = jobs.start_job(workspace, "resolve", "Identity resolution", "ada", work, wait=True)
    assert failed.state == "failed" and failed.error == "no records to resolve"
    assert jobs.start_job(workspace, "resolve", "Identity resolution", "ada", lambda p: "ok", wait=True).result == "ok"


def test_a_job_whose_process_died_is_interrupted_and_does_not_block(workspace, monkeypatch):
    job = jobs.start_job(workspace, "resolve", "Identity resolution", "ada", lambda p: None, wait=True)
    path = jobs.jobs_folder(workspace) / f"{job.id}.json"
    record = json.loads(path.read_text())
    record.update(state="running", pid=2 ** 22 + 12345)                  # no such process
    path.write_text(json.dumps(record))
    seen = jobs.get_job(workspace, job.id)
    assert seen.state == "interrupted" and "stopped" in seen.error
    assert jobs.running_job(workspace, "resolve") is None


def test_only_the_newest_finished_jobs_are_kept(workspace, monkeypatch):
    monkeypatch.setattr(jobs, "KEEP", 3)
    for n in range(5):
        jobs.start_job(workspace, "sync", f"Sync {n}", "ada", lambda p: None, wait=True)
    assert len(list(jobs.jobs_folder(workspace).glob("*.json"))) == 3


def test_frequent_jobs_do_not_push_out_the_results_of_other_kinds(workspace, monkeypatch):
    monkeypatch.setattr(jobs, "KEEP", 2)
    jobs.start_job(workspace, "erasure", "Erasure (GDPR)", "ada", lambda p: {"request_id": 1}, wait=True)
    for n in range(4):
        jobs.start_job(workspace, "refresh", f"Updating journeys {n}", "max", lambda p: None, wait=True)
    kinds = [j.kind for j in jobs.list_jobs(workspace, limit=50)]
    assert kinds.count("refresh") == 2 and kinds.count("erasure") == 1
