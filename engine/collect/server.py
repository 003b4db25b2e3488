"""A Segment-compatible HTTP Tracking API, so existing client libraries work unchanged.

Endpoints (POST): /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group,
/v1/alias, /v1/batch (and /v1/import), plus analytics.js's short forms /v1/i,
/v1/t, /v1/p, /v1/s, /v1/g, /v1/a and /v1/b. GET /v1/projects/{writeKey}/settings
answers analytics.js's settings request with the collector as its API host.
GET /health tells whether the collector is up: 200 ok, or 503 degraded with the reason
(landing in the workspace failing, the spool refusing writes).

A request is answered 200 only after its events are fsynced to the spool
(engine.collect.spool); the loader (engine.collect.loader) lands them in the
workspace in micro-batches. The request model (routes, limits, validation and stamping) is
protocol.py, reading a body off the wire http_body.py, write keys keys.py, and what the endpoints
answer intake.py (which the app's server also serves when it collects in process).
"""
from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from engine.collect.http_body import CHUNKED, body_framing, drain, read_body
from engine.collect.intake import (  # noqa: F401 - spool_dir, status_path: importable from here too
    NO_ENDPOINT, Intake, body_limit, cors_headers, error_body, not_found, post_kind, spool_dir, status_path)
from engine.collect.protocol import (  # noqa: F401 - the request model, importable from here too
    MAX_BATCH_BYTES, MAX_EVENT_BYTES, ROUTES, ApiError, decode_body, parse_json, prepare_request,
    too_large, write_key_from_header)
from engine.workspace import Workspace

log = logging.getLogger("cdp.collect")


# -- the HTTP server --------------------------------------------------------------------

class CollectorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OpenCDP-Collector/1"
    timeout = 60  # seconds a connection may sit idle or stall mid-body before it is closed
    # Answers are small and sent as soon as they are ready: with Nagle's algorithm on, a
    # keep-alive client waits for the delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True
    collector: "Collector"

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's name
        log.debug("%s %s", self.address_string(), format % args)

    # -- responses --
    def _cors(self) -> None:
        if getattr(self, "headers", None) is None:  # the request line itself was refused
            return
        for name, value in cors_headers(self.headers).items():
            self.send_header(name, value)

    def _reply(self, status: int, payload: dict, close: bool = False) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self._cors()
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        try:
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:  # the sender hung up before reading its answer
            self.close_connection = True

    def _error(self, exc: ApiError, close: bool = False) -> None:
        self.collector.count("rejected_requests")
        self._reply(exc.status, error_body(exc), close=close)

    def send_error(self, code, message=None, explain=None):
        """http.server's own refusals (request line, headers, methods) as JSON like ours."""
        if self.request_version == "HTTP/0.9":  # an unreadable request line: answer in HTTP/1.1
            self.request_version = "HTTP/1.1"
        self._error(ApiError(code, message or explain or "Bad request."), close=True)

    # -- methods --
    def do_OPTIONS(self):  # noqa: N802 - http.server's naming
        self.send_response(204)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        self._reply(*self.collector.get(self.path, self.headers))

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        try:
            self._post()
        except Exception:  # noqa: BLE001 - a bug must cost one request, answered, not the connection
            log.exception("collector: unexpected error answering %s", self.path[:200])
            self._error(ApiError(500, "The collector failed on this request; retry."), close=True)

    def _post(self) -> None:
        kind = post_kind(self.path)
        if kind is None:
            self._reply(*not_found(NO_ENDPOINT), close=True)
            return
        # Headers first, body last: framing, size and a write key sent in a header are all
        # checked before a byte of the body is read. A refused body is never parsed: a
        # Content-Length one is read and discarded (bounded) so the sender sees the answer,
        # a chunked one is not read at all; either way the connection closes.
        framing = CHUNKED
        try:
            framing = body_framing(self.headers)
            source = self.collector.judge(kind, framing, self.headers)
            raw = read_body(self.rfile, framing, body_limit(kind))
        except ApiError as exc:
            if framing != CHUNKED:
                drain(self.rfile, framing)
            self._error(exc, close=True)
            return
        try:
            self.collector.accept(kind, raw, self.headers, source)
        except ApiError as exc:
            self._error(exc)
            return
        self.collector.count("requests")
        self._reply(200, {"success": True})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class Collector(Intake):
    """`cdp collect`: the intake behind its own HTTP server. `start()` serves in a thread; `stop()` drains."""

    def __init__(self, workspace: Workspace, host: str = "127.0.0.1", port: int = 8088, *,
                 interval: float = 1.0, max_events: int = 50_000, fsync: bool = True):
        handler = type("Handler", (CollectorHandler,), {"collector": self})
        self.server = _Server((host, port), handler)
        self.host, self.port = self.server.server_address[:2]
        try:
            super().__init__(workspace, interval=interval, max_events=max_events, fsync=fsync,
                             status={"host": self.host, "port": self.port})
        except BaseException:
            self.server.server_close()
            raise
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def default_host(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "Collector":
        self.start_landing()
        self._thread = threading.Thread(target=self.server.serve_forever, name="collect-http",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop taking requests, land what is spooled, release the spool."""
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(10)
        self.stop_landing()

    def __enter__(self) -> "Collector":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
