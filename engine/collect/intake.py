"""The collector without a transport: write keys, spool, loader and the endpoints' answers.

`Intake` judges a request in two steps, so a refusal never needs its body: `judge(kind,
framing, headers)` looks at the headers only (size, a write key sent in a header), then
`accept(kind, raw, headers, source)` parses the body and makes its events durable in the spool
(returning means acknowledged). `get(path, headers)` answers the GET endpoints. Both transports
serve it with the same paths and answers: `cdp collect`'s own HTTP server (server.py) and the
app's server when it collects in process (ui/collector_routes.py).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from engine.collect.keys import KeyRing
from engine.collect.loader import Loader
from engine.collect.protocol import (MAX_BATCH_BYTES, MAX_EVENT_BYTES, ROUTES, ApiError, decode_body,
                                     parse_json, prepare_request, too_large, write_key_from_header)
from engine.collect.spool import Spool, SpoolError
from engine.workspace import Workspace

log = logging.getLogger("cdp.collect")

SETTINGS_PATH = re.compile(r"^/v1/projects/([^/]+)/settings$")
HEALTH_PATHS = ("/health", "/v1/health")
CODES = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 411: "length_required",
         413: "payload_too_large", 414: "uri_too_long", 415: "unsupported_encoding",
         431: "headers_too_large", 500: "internal_error", 501: "not_implemented", 503: "unavailable"}
NO_ENDPOINT = "No such endpoint; see /v1/batch, /v1/track, ..."


def spool_dir(workspace: Workspace) -> Path:
    """The collector's spool folder, beside the workspace file."""
    return workspace.folder / f"{workspace.path.stem}.spool"


def status_path(workspace: Workspace) -> Path:
    return spool_dir(workspace) / "collector.json"


def error_body(exc: ApiError) -> dict:
    return {"success": False, "code": CODES.get(exc.status, "error"), "message": exc.message}


def not_found(message: str) -> tuple[int, dict]:
    return 404, {"success": False, "code": "not_found", "message": message}


def cors_headers(headers) -> dict[str, str]:
    """CORS answer headers for a request's headers (analytics.js posts from the shop's origin)."""
    origin = headers.get("Origin")
    out = {"Access-Control-Allow-Origin": origin or "*"}
    if origin:
        out["Vary"] = "Origin"
    out["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
    out["Access-Control-Allow-Headers"] = (headers.get("Access-Control-Request-Headers")
                                           or "Content-Type, Authorization, Content-Encoding")
    out["Access-Control-Max-Age"] = "86400"
    return out


def post_kind(path: str) -> str | None:
    """The call kind a POST path stands for (trailing slash and query ignored), or None."""
    return ROUTES.get(path.split("?", 1)[0].rstrip("/"))


def body_limit(kind: str) -> int:
    return MAX_BATCH_BYTES if kind == "batch" else MAX_EVENT_BYTES


def unknown_key() -> ApiError:
    return ApiError(401, "Unknown write key; check it on the Sources page (it may have been rotated).")


class Intake:
    """Write keys + spool + loader for one workspace; `start()` lands in a thread, `stop()` drains."""

    def __init__(self, workspace: Workspace, *, interval: float = 1.0, max_events: int = 50_000,
                 fsync: bool = True, status: dict | None = None, api_base: str = ""):
        self.workspace = workspace
        self.api_base = api_base       # a path prefix the endpoints are served under ("/cdp")
        self.keyring = KeyRing(workspace)
        self.spool = Spool(spool_dir(workspace), fsync=fsync)
        self._counters = {"requests": 0, "rejected_requests": 0}
        self._counter_lock = threading.Lock()
        self.loader = Loader(workspace, self.spool, interval=interval, max_events=max_events,
                             status_path=status_path(workspace),
                             status={"started_at": time.time(), "workspace": str(workspace.path), **(status or {})},
                             before_cycle=self.keyring.maybe_refresh)
        self.keyring.on_request = self.loader.wake

    # -- requests --
    def judge(self, kind: str, framing: int, headers) -> str | None:
        """Headers only, before any body byte: refuse a body over the limit or an unknown header
        write key; returns the source a header key names (None: the key must be in the body)."""
        if framing > body_limit(kind):
            raise too_large(body_limit(kind))
        header_key = write_key_from_header(headers.get("Authorization"))
        if header_key is None:
            return None
        source = self.keyring.source_for(header_key)
        if source is None:
            raise unknown_key()
        return source

    def accept(self, kind: str, raw: bytes, headers, source: str | None) -> None:
        """Parse the body and make its events durable in the spool (then it may be acknowledged)."""
        received = datetime.now(timezone.utc)
        payload = parse_json(decode_body(raw, headers.get("Content-Encoding"), body_limit(kind)))
        if source is None:  # analytics.js sends the key in the body (a text/plain beacon)
            key = payload.get("writeKey")
            if not isinstance(key, str) or not key:
                raise ApiError(401, "No write key: send it as the Basic auth user name, "
                                    "a Bearer token or `writeKey` in the body.")
            source = self.keyring.source_for(key)
            if source is None:
                raise unknown_key()
        payload.pop("writeKey", None)
        data, count = prepare_request(kind, payload, received)
        try:
            self.spool.append(source, data, count)
        except SpoolError as exc:
            log.error("spool: %s", exc)
            raise ApiError(503, "The collector could not store the events; retry.") from None

    def get(self, path: str, headers) -> tuple[int, dict]:
        """(status, JSON answer) of a GET: the health check or analytics.js's settings."""
        path = path.split("?", 1)[0]
        if path in HEALTH_PATHS:
            health = self.health()
            return (200 if health["ok"] else 503), health
        match = SETTINGS_PATH.match(path)
        if not match:
            return not_found("No such endpoint.")
        key = match.group(1)
        if self.keyring.source_for(key) is None:
            return not_found("Invalid path or write key provided.")
        return 200, self.settings_for(key, headers)

    # -- figures --
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

    def default_host(self) -> str:
        return "localhost"

    def settings_for(self, key: str, headers) -> dict:
        """The settings analytics.js fetches: send everything back to this collector."""
        host = headers.get("X-Forwarded-Host") or headers.get("Host") or self.default_host()
        protocol = headers.get("X-Forwarded-Proto") or "http"
        return {
            "integrations": {"Segment.io": {
                "apiKey": key, "apiHost": f"{host}{self.api_base}/v1", "protocol": protocol,
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

    # -- life --
    def start_landing(self) -> None:
        try:
            self.keyring.refresh()
        except Exception as exc:  # noqa: BLE001 - the loader retries; requests wait for it
            log.warning("collector: could not read write keys yet: %s", exc)
        self.loader.start()

    def stop_landing(self) -> None:
        """Land what is spooled and release the spool (after requests stopped coming)."""
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
