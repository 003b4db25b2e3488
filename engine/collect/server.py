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
protocol.py, reading a body off the wire http_body.py, write keys keys.py.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from engine.collect.http_body import CHUNKED, body_framing, drain, read_body
from engine.collect.keys import KeyRing
from engine.collect.loader import Loader
from engine.collect.protocol import (  # noqa: F401 - the request model, importable from here too
    MAX_BATCH_BYTES, MAX_EVENT_BYTES, ROUTES, ApiError, decode_body, parse_json, prepare_request,
    too_large, write_key_from_header)
from engine.collect.spool import Spool, SpoolError
from engine.workspace import Workspace

log = logging.getLogger("cdp.collect")

_SETTINGS = re.compile(r"^/v1/projects/([^/]+)/settings$")


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
        origin = self.headers.get("Origin")
        self.send_header("Access-Control-Allow-Origin", origin or "*")
        if origin:
            self.send_header("Vary", "Origin")
        self.send_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
        self.send_header("Access-Control-Allow-Headers",
                         self.headers.get("Access-Control-Request-Headers")
                         or "Content-Type, Authorization, Content-Encoding")
        self.send_header("Access-Control-Max-Age", "86400")

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
        self._reply(exc.status, {"success": False, "code": _CODES.get(exc.status, "error"),
                                 "message": exc.message}, close=close)

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
        path = self.path.split("?", 1)[0]
        if path in ("/health", "/v1/health"):
            health = self.collector.health()
            self._reply(200 if health["ok"] else 503, health)
            return
        match = _SETTINGS.match(path)
        if match:
            key = match.group(1)
            if self.collector.keyring.source_for(key) is None:
                self._reply(404, {"success": False, "code": "not_found",
                                  "message": "Invalid path or write key provided."})
                return
            self._reply(200, self.collector.settings_for(key, self.headers))
            return
        self._reply(404, {"success": False, "code": "not_found", "message": "No such endpoint."})

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        try:
            self._post()
        except Exception:  # noqa: BLE001 - a bug must cost one request, answered, not the connection
            log.exception("collector: unexpected error answering %s", self.path[:200])
            self._error(ApiError(500, "The collector failed on this request; retry."), close=True)

    def _post(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        kind = ROUTES.get(path)
        if kind is None:
            self._reply(404, {"success": False, "code": "not_found",
                              "message": "No such endpoint; see /v1/batch, /v1/track, ..."}, close=True)
            return
        limit = MAX_BATCH_BYTES if kind == "batch" else MAX_EVENT_BYTES
        # Headers first, body last: framing, size and a write key sent in a header are all
        # checked before a byte of the body is read. A refused body is never parsed: a
        # Content-Length one is read and discarded (bounded) so the sender sees the answer,
        # a chunked one is not read at all; either way the connection closes.
        framing = CHUNKED
        try:
            framing = body_framing(self.headers)
            if framing > limit:
                raise too_large(limit)
            header_key = write_key_from_header(self.headers.get("Authorization"))
            source = None
            if header_key is not None:
                source = self.collector.keyring.source_for(header_key)
                if source is None:
                    raise _unknown_key()
            raw = read_body(self.rfile, framing, limit)
        except ApiError as exc:
            if framing != CHUNKED:
                drain(self.rfile, framing)
            self._error(exc, close=True)
            return
        try:
            received = datetime.now(timezone.utc)
            payload = parse_json(decode_body(raw, self.headers.get("Content-Encoding"), limit))
            if source is None:  # analytics.js sends the key in the body (a text/plain beacon)
                key = payload.get("writeKey")
                if not isinstance(key, str) or not key:
                    raise ApiError(401, "No write key: send it as the Basic auth user name, "
                                        "a Bearer token or `writeKey` in the body.")
                source = self.collector.keyring.source_for(key)
                if source is None:
                    raise _unknown_key()
            payload.pop("writeKey", None)
            data, count = prepare_request(kind, payload, received)
            try:
                self.collector.spool.append(source, data, count)
            except SpoolError as exc:
                log.error("spool: %s", exc)
                raise ApiError(503, "The collector could not store the events; retry.") from None
        except ApiError as exc:
            self._error(exc)
            return
        self.collector.count("requests")
        self._reply(200, {"success": True})


def _unknown_key() -> ApiError:
    return ApiError(401, "Unknown write key; check it on the Sources page (it may have been rotated).")


_CODES = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 411: "length_required",
          413: "payload_too_large", 414: "uri_too_long", 415: "unsupported_encoding",
          431: "headers_too_large", 500: "internal_error", 501: "not_implemented", 503: "unavailable"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


def spool_dir(workspace: Workspace) -> Path:
    """The collector's spool folder, beside the workspace file."""
    return workspace.folder / f"{workspace.path.stem}.spool"


def status_path(workspace: Workspace) -> Path:
    return spool_dir(workspace) / "collector.json"


class Collector:
    """Server + spool + loader for one workspace. `start()` serves in a thread; `stop()` drains."""

    def __init__(self, workspace: Workspace, host: str = "127.0.0.1", port: int = 8088, *,
                 interval: float = 1.0, max_events: int = 50_000, fsync: bool = True):
        self.workspace = workspace
        self.keyring = KeyRing(workspace)
        self.spool = Spool(spool_dir(workspace), fsync=fsync)
        self._counters = {"requests": 0, "rejected_requests": 0}
        self._counter_lock = threading.Lock()
        handler = type("Handler", (CollectorHandler,), {"collector": self})
        try:
            self.server = _Server((host, port), handler)
        except OSError:
            self.spool.close()
            raise
        self.host, self.port = self.server.server_address[:2]
        self.loader = Loader(workspace, self.spool, interval=interval, max_events=max_events,
                             status_path=status_path(workspace),
                             status={"host": self.host, "port": self.port,
                                     "started_at": time.time(), "workspace": str(workspace.path)},
                             before_cycle=self.keyring.maybe_refresh)
        self.keyring.on_request = self.loader.wake
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def count(self, name: str) -> None:
        with self._counter_lock:
            self._counters[name] += 1

    def counters(self) -> dict:
        with self._counter_lock:
            out = dict(self._counters)
        out.update(acked_events=self.spool.appended_events,
                   landed_events=self.loader.stats.landed_events)
        return out

    def health(self) -> dict:
        """ok, or degraded with the reason: landing failing, or the spool refusing writes."""
        problem = self.loader.problem()
        out = {"ok": problem is None, "status": "ok" if problem is None else "degraded"}
        if problem:
            out["reason"] = problem
        return {**out, **self.counters()}

    def settings_for(self, key: str, headers) -> dict:
        """The settings analytics.js fetches: send everything back to this collector."""
        host = headers.get("X-Forwarded-Host") or headers.get("Host") or f"{self.host}:{self.port}"
        protocol = headers.get("X-Forwarded-Proto") or "http"
        return {
            "integrations": {"Segment.io": {
                "apiKey": key, "apiHost": f"{host}/v1", "protocol": protocol,
                "unbundledIntegrations": [], "addBundledMetadata": True,
                "maybeBundledConfigIds": {}, "versionSettings": {"version": "4.4.7",
                                                                 "componentTypes": ["browser"]},
            }},
            "plan": {"track": {"__default": {"enabled": True, "integrations": {}}},
                     "identify": {"__default": {"enabled": True}},
                     "group": {"__default": {"enabled": True}}},
            "edgeFunction": {}, "analyticsNextEnabled": True,
            "middlewareSettings": {}, "enabledMiddleware": {},
            "metrics": {"sampleRate": 0}, "legacyVideoPluginsEnabled": False,
            "remotePlugins": [],
        }

    def start(self) -> "Collector":
        try:
            self.keyring.refresh()
        except Exception as exc:  # noqa: BLE001 - the loader retries; requests wait for it
            log.warning("collector: could not read write keys yet: %s", exc)
        self.loader.start()
        self._thread = threading.Thread(target=self.server.serve_forever, name="collect-http",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop taking requests, land what is spooled, release the spool."""
        self.server.shutdown()
        self.server.server_close()
        if self._thread:
            self._thread.join(10)
        self.loader.stop()
        self.spool.close()
        try:
            self.loader.land_closed()
        except Exception as exc:  # noqa: BLE001 - stays in the spool for the next start
            log.warning("collector: left events in the spool for the next start: %s", exc)
        try:
            self.loader.write_status(stopped_at=time.time())
        except OSError as exc:
            log.warning("collector: could not write the status file: %s", exc)

    def __enter__(self) -> "Collector":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
