"""The users file under writers in several processes (the app, `cdp users`, a second app server):
each change is made on the file as it is under the lock, so none is lost and no check is made
on a copy another process has since changed."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from engine.access import users as user_store
from engine.access.roles import system_user
from tests.conftest import ROOT
from tests.engine.test_access_login import auth  # noqa: F401 - the demo users file fixture


def _waiting_on_flock() -> set[int]:
    """Processes blocked waiting for a flock (Linux /proc/locks marks waiters with '->')."""
    waiting = set()
    for line in Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[1] == "->" and parts[2] == "FLOCK":
            waiting.add(int(parts[5]))
    return waiting


def _at_once(auth: Path, workspace, calls: list[str]) -> list[subprocess.CompletedProcess]:
    """Run each call in its own process, all released together once each waits for the file lock."""
    if not Path("/proc/locks").exists():
        pytest.skip("needs Linux /proc/locks to see the processes wait")
    env = {**os.environ, "CDP_AUTH_FILE": str(auth)}
    head = ("from engine.access import users; from engine.access.roles import system_user; "
            f"from engine.workspace import Workspace; ws = Workspace({str(workspace.path)!r}); ")
    with open(auth.with_name(auth.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        procs = [subprocess.Popen([sys.executable, "-c", head + call], cwd=ROOT, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for call in calls]
        deadline = time.monotonic() + 120
        while {p.pid for p in procs} - _waiting_on_flock():
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
                [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.05)
        fcntl.flock(lock, fcntl.LOCK_UN)
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=120), *p.communicate()) for p in procs]


def test_two_processes_adding_users_at_once_lose_none(workspace, auth):
    calls = [f"[users.add_user(ws, system_user(), '{who}' + str(i), '{who}', '', 'a-long-password', 'analyst') "
             "for i in range(3)]" for who in ("ann", "bob")]
    done = _at_once(auth, workspace, calls)
    assert [p.returncode for p in done] == [0, 0], [p.stderr for p in done]
    names = set(yaml.safe_load(auth.read_text())["credentials"]["usernames"])
    assert {f"{w}{i}" for w in ("ann", "bob") for i in range(3)} <= names and len(names) == 3 + 6
    assert workspace.scalar("SELECT count(*) FROM audit_log WHERE action = 'user.add'") == 6
    assert not list(auth.parent.glob(".auth.yaml.*.tmp"))


def test_two_processes_demoting_the_last_two_admins_leave_one(workspace, auth):
    user_store.add_user(workspace, system_user(), "root2", "Root", "", "a-long-password", "admin", path=auth)
    done = _at_once(auth, workspace, [f"users.set_role(ws, system_user(), {who!r}, 'analyst')"
                                      for who in ("admin", "root2")])
    assert sorted(p.returncode for p in done) == [0, 1]
    assert "only admin left" in "".join(p.stderr for p in done)
    config = user_store.load_config(auth)
    assert len(user_store._enabled_admins(config)) == 1
