"""Helpers shared by the collector tests: HTTP calls, waiting for landings, a collector subprocess."""
from __future__ import annotations

import base64
import gzip as gzip_module
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.child_process import Child, kill_group

ROOT = Path(__file__).resolve().parents[2]


def post(url: str, path: str, body, *, key: str | None = None, auth: str = "basic",
         gzip: bool = False, headers: dict | None = None, raw: bytes | None = None,
         timeout: float = 30):
    """POST to the collector; returns (status, parsed JSON answer)."""
    data = raw if raw is not None else json.dumps(body).encode("utf-8")
    if gzip:
        data = gzip_module.compress(data)
    request = urllib.request.Request(url + path, data=data, method="POST")
    request.add_header("Content-Type", "text/plain")
    if key and auth == "basic":
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{key}:".encode()).decode())
    elif key and auth == "bearer":
        request.add_header("Authorization", f"Bearer {key}")
    if gzip:
        request.add_header("Content-Encoding", "gzip")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_for(predicate, timeout: float = 20, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def event_count(workspace) -> int:
    return workspace.scalar("SELECT count(*) FROM events")


class CollectorProcess:
    """`cdp collect` in a subprocess on a free loopback port; always killed in teardown."""

    def __init__(self, workspace_path: Path, interval: float = 0.5):
        env = {**os.environ, "CDP_WORKSPACE": str(workspace_path), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.child = Child([sys.executable, "-m", "engine.cli.main", "collect", "--port", "0",
                            "--interval", str(interval)], env=env)
        self.proc = self.child.proc
        line = self.child.first_line()
        if "Collecting events on " not in line:
            self.kill()
            raise RuntimeError(f"collector did not start: {self.child.output()!r}")
        self.url = line.split("Collecting events on ", 1)[1].split()[0]

    def kill(self) -> None:
        """SIGKILL, as a crash would (the group: nothing it started outlives it)."""
        kill_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        self.child.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()


class InAppCollectorServer:
    """The collector's endpoints as the app's server serves them (ui/collector_routes.py, CDP_COLLECT_IN_APP),
    on uvicorn in a thread on a free loopback port: `url`, `host`, `port`, `loader` like a Collector."""

    def __init__(self, workspace, interval: float = 0.2, base: str = ""):
        import socket
        import threading

        import uvicorn
        from starlette.applications import Starlette

        from ui.collector_routes import InAppCollector

        self.routes = InAppCollector(lambda: workspace.path, base, interval=interval)
        app = Starlette(routes=self.routes.routes(), lifespan=self.routes.lifespan)
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.host, self.port = self._socket.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}{base}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        if not wait_for(lambda: self.server.started and self.routes.intake is not None, 30):
            raise RuntimeError("the in-app collector did not start")
        self.intake = self.routes.intake

    @property
    def loader(self):
        return self.intake.loader

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(60)
        self._socket.close()
