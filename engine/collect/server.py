"""A Segment-compatible HTTP Tracking API, so existing client libraries work unchanged.

Endpoints (POST): /v1/identify, /v1/track, /v1/page, /v1/screen, /v1/group,
/v1/alias, /v1/batch (and /v1/import), plus analytics.js's short forms /v1/i,
/v1/t, /v1/p, /v1/s, /v1/g, /v1/a and /v1/b. GET /v1/projects/{writeKey}/settings
answers analytics.js's settings request with the collector as its API host.
GET /health tells whether the collector is up.

A request is answered 200 only after its events are fsynced to the spool
(engine.collect.spool); the loader (engine.collect.loader) lands them in the
workspace in micro-batches.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import threading
import time
import uuid
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from engine.collect.loader import Loader
from engine.collect.spool import Spool, SpoolError
from engine.workspace import Workspace

log = logging.getLogger("cdp.collect")

MAX_EVENT_BYTES = 32 * 1024      # Segment's limit for one event
MAX_BATCH_BYTES = 500 * 1024     # ... and for one batch request
_ENRICHMENT_SLACK = 512          # receivedAt, originalTimestamp, messageId we add

EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")
ROUTES = {f"/v1/{t}": t for t in EVENT_TYPES}
ROUTES.update({f"/v1/{t[0]}": t for t in EVENT_TYPES})  # analytics.js: /v1/t, /v1/i, ...
ROUTES.update({"/v1/batch": "batch", "/v1/b": "batch", "/v1/import": "batch"})
_SETTINGS = re.compile(r"^/v1/projects/([^/]+)/settings$")


class ApiError(Exception):
    """A request the collector refuses, with the HTTP status and a message for the sender."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# -- request parsing and event preparation (pure: unit-testable without a socket) ---------

def write_key_from_header(authorization: str | None) -> str | None:
    """The write key in an Authorization header: Basic (key as user name) or Bearer."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(401, "The Authorization header is not valid Basic credentials.") from None
        return decoded.partition(":")[0] or None
    if scheme.lower() == "bearer":
        return value or None
    return None


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The request body, gunzipped if needed, refused past `limit` bytes."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise ApiError(400, "The body says Content-Encoding: gzip but is not gzip data.") from None
    elif encoding not in ("identity", ""):
        raise ApiError(415, f"Content-Encoding {encoding!r} is not supported; send gzip or plain JSON.")
    if len(body) > limit:
        raise ApiError(413, f"The request body is larger than {limit // 1024} KB "
                            f"(Segment's limit); send smaller batches.")
    return body


def _loads_fallback(body: bytes):
    return json.loads(body)


def _dumps_fallback(value) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" without its pair: valid JSON syntax, not text DuckDB can store
        raise ApiError(400, "The body has a string with an unpaired UTF-16 surrogate (e.g. \\ud800); "
                            "send valid Unicode text.") from None


try:  # orjson parses and writes JSON several times faster than the standard library
    import orjson

    def _loads(body: bytes):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return _loads_fallback(body)  # e.g. integers past 64 bits; really bad JSON fails again

    def _dumps(value) -> bytes:
        try:
            return orjson.dumps(value)
        except TypeError:
            return _dumps_fallback(value)
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
    _loads, _dumps = _loads_fallback, _dumps_fallback


def parse_json(body: bytes) -> dict:
    try:
        data = _loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return data


def parse_time(value, field: str, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if value.__class__ is not str:
        raise ApiError(400, f"{where}: {field} must be an ISO-8601 string.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{where}: {field} {value[:40]!r} is not an ISO-8601 time.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    if moment.utcoffset():
        moment = moment.astimezone(timezone.utc)
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


_ID_TYPES = (str, int, float)


def _as_id(event: dict, key: str, where) -> str | None:
    value = event.get(key)
    if value.__class__ is str:
        return value or None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, _ID_TYPES):
        raise ApiError(400, f"{_where(where)}: {key} must be a string.")
    value = str(value)
    event[key] = value
    return value


def _where(where) -> str:
    return f"batch[{where}]" if isinstance(where, int) else where


_OBJECT_FIELDS = ("properties", "traits", "context", "integrations")


class _Stamp:
    """One request's receive time, and the times it sent, parsed once."""

    __slots__ = ("received", "received_iso", "sent", "sent_iso", "skew")

    def __init__(self, received: datetime, sent: datetime | None):
        self.received = received
        self.received_iso = iso(received)
        self.sent = sent
        self.sent_iso = iso(sent) if sent is not None else None
        self.skew = received - sent if sent is not None else None


def prepare_event(event, kind: str | None, stamp: _Stamp, batch_context: dict | None, where) -> bytes:
    """Validate one event, stamp and correct its times; returns its spool line."""
    if event.__class__ is not dict:
        raise ApiError(400, f"{_where(where)}: an event must be a JSON object.")
    if "writeKey" in event:
        del event["writeKey"]  # a secret: never stored
    if kind is not None:
        event["type"] = kind
    else:
        kind = event.get("type")
        if kind not in EVENT_TYPES:
            raise ApiError(400, f"{_where(where)}: type must be one of {', '.join(EVENT_TYPES)}.")
    if not _as_id(event, "userId", where) and not _as_id(event, "anonymousId", where):
        raise ApiError(400, f"{_where(where)}: userId or anonymousId is required.")
    if kind == "track":
        name = event.get("event")
        if name.__class__ is not str or not name.strip():
            raise ApiError(400, f"{_where(where)}: event (the event name) is required for track.")
    elif kind == "alias" and not _as_id(event, "previousId", where):
        raise ApiError(400, f"{_where(where)}: previousId is required for alias.")
    elif kind == "group" and not _as_id(event, "groupId", where):
        raise ApiError(400, f"{_where(where)}: groupId is required for group.")
    for key in _OBJECT_FIELDS:
        value = event.get(key)
        if value is not None and value.__class__ is not dict:
            raise ApiError(400, f"{_where(where)}: {key} must be a JSON object.")
    if batch_context:
        event["context"] = {**batch_context, **(event.get("context") or {})}
    if not _as_id(event, "messageId", where):
        event["messageId"] = "cdp-" + uuid.uuid4().hex
    own_sent = event.get("sentAt")
    if own_sent:
        sent = parse_time(own_sent, "sentAt", _where(where))
        skew, sent_iso = stamp.received - sent, iso(sent)
    else:
        skew, sent_iso = stamp.skew, stamp.sent_iso
    original = event.get("timestamp")
    if original:
        timestamp = parse_time(original, "timestamp", _where(where))
        event["originalTimestamp"] = original
        event["timestamp"] = iso(timestamp + skew) if skew is not None else iso(timestamp)
    else:
        event["timestamp"] = stamp.received_iso
    if sent_iso is not None:
        event["sentAt"] = sent_iso
    event["receivedAt"] = stamp.received_iso
    line = _dumps(event)
    if len(line) > MAX_EVENT_BYTES + _ENRICHMENT_SLACK:
        raise ApiError(413, f"{_where(where)}: the event is larger than {MAX_EVENT_BYTES // 1024} KB "
                            f"(Segment's limit per event).")
    return line


def prepare_request(kind: str, payload: dict, received: datetime | None = None) -> tuple[bytes, int]:
    """All of a request's events as spool lines (all-or-nothing), and their count."""
    received = received or datetime.now(timezone.utc)
    if kind == "batch":
        events = payload.get("batch")
        if not isinstance(events, list):
            raise ApiError(400, "A batch request needs a `batch` list of events.")
        stamp = _Stamp(received, parse_time(payload.get("sentAt"), "sentAt", "batch"))
        context = payload.get("context")
        if context is not None and not isinstance(context, dict):
            raise ApiError(400, "batch: context must be a JSON object.")
        lines = [prepare_event(event, None, stamp, context, i) for i, event in enumerate(events)]
        return b"\n".join(lines) + b"\n" if lines else b"", len(lines)
    return prepare_event(payload, kind, _Stamp(received, None), None, kind) + b"\n", 1


# -- write keys -------------------------------------------------------------------------

class KeyRing:
    """Write key -> events source, cached from the workspace and refreshed in the background.

    A key the cache does not know triggers a refresh (at most one every `min_interval`
    seconds), so a source created a moment ago works at once and a rotated key stops
    working within `max_age` seconds.
    """

    def __init__(self, workspace: Workspace, max_age: float = 5.0, min_interval: float = 0.5):
        self.workspace = workspace
        self.max_age = max_age
        self.min_interval = min_interval
        self._keys: dict[str, str] = {}
        self._loaded_at = 0.0
        self._wanted_at = 0.0
        self._cond = threading.Condition()
        self.on_request = None  # set by the collector: wakes the loader thread

    def refresh(self) -> None:
        rows = self.workspace.query_rows(
            "SELECT write_key, name FROM sources WHERE kind = 'events' AND write_key IS NOT NULL")
        with self._cond:
            self._keys = dict(rows)
            self._loaded_at = time.monotonic()
            self._cond.notify_all()

    def maybe_refresh(self) -> None:
        """Called by the loader thread: refresh when stale or when a request asked."""
        now = time.monotonic()
        wanted = self._wanted_at > self._loaded_at and now - self._loaded_at >= self.min_interval
        if wanted or now - self._loaded_at >= self.max_age:
            self.refresh()

    def source_for(self, key: str | None, wait: float = 3.0) -> str | None:
        if not key:
            return None
        with self._cond:
            source = self._keys.get(key)
            if source is not None:
                return source
            asked = time.monotonic()
            self._wanted_at = asked
        if self.on_request:
            self.on_request()
        with self._cond:
            self._cond.wait_for(lambda: self._loaded_at >= asked, timeout=wait)
            return self._keys.get(key)


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
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, exc: ApiError, close: bool = False) -> None:
        self.collector.count("rejected_requests")
        self._reply(exc.status, {"success": False, "code": _CODES.get(exc.status, "error"),
                                 "message": exc.message}, close=close)

    # -- body --
    def _read_body(self, limit: int) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                try:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                except ValueError:
                    raise ApiError(400, "The chunked body is malformed.") from None
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    raise ApiError(413, f"The request body is larger than {limit // 1024} KB "
                                        f"(Segment's limit); send smaller batches.")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            raise ApiError(411, "Send a Content-Length header.")
        try:
            length = int(length)
        except ValueError:
            raise ApiError(400, "Content-Length is not a number.") from None
        if length > limit:
            self._drain(length)  # so the sender reads our answer instead of a broken pipe
            raise ApiError(413, f"The request body is larger than {limit // 1024} KB "
                                f"(Segment's limit); send smaller batches.")
        return self.rfile.read(length)

    def _drain(self, length: int, most: int = 16 << 20) -> None:
        remaining = min(length, most)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                return
            remaining -= len(chunk)

    # -- methods --
    def do_OPTIONS(self):  # noqa: N802 - http.server's naming
        self.send_response(204)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path in ("/health", "/v1/health"):
            self._reply(200, {"ok": True, **self.collector.counters()})
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
        path = self.path.split("?", 1)[0].rstrip("/")
        kind = ROUTES.get(path)
        if kind is None:
            self._reply(404, {"success": False, "code": "not_found",
                              "message": "No such endpoint; see /v1/batch, /v1/track, ..."}, close=True)
            return
        limit = MAX_BATCH_BYTES if kind == "batch" else MAX_EVENT_BYTES
        try:
            raw = self._read_body(limit)
        except ApiError as exc:
            self._error(exc, close=True)  # the unread body would corrupt the next request
            return
        try:
            received = datetime.now(timezone.utc)
            header_key = write_key_from_header(self.headers.get("Authorization"))
            payload = parse_json(decode_body(raw, self.headers.get("Content-Encoding"), limit))
            key = header_key or payload.get("writeKey")
            if not isinstance(key, str) or not key:
                raise ApiError(401, "No write key: send it as the Basic auth user name, "
                                    "a Bearer token or `writeKey` in the body.")
            source = self.collector.keyring.source_for(key)
            if source is None:
                raise ApiError(401, "Unknown write key; check it on the Sources page "
                                    "(it may have been rotated).")
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


_CODES = {400: "invalid_request", 401: "unauthorized", 411: "length_required",
          413: "payload_too_large", 415: "unsupported_encoding", 503: "unavailable"}


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
        self.loader.write_status()
        path = status_path(self.workspace)
        try:
            status = json.loads(path.read_text(encoding="utf-8"))
            status["stopped_at"] = time.time()
            path.write_text(json.dumps(status), encoding="utf-8")
        except (OSError, ValueError):
            pass

    def __enter__(self) -> "Collector":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

