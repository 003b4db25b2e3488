"""The Segment Tracking API's requests as data: routes, limits, write keys in headers, bodies
decoded and parsed, events validated and stamped into spool lines.

As Segment's HTTP API does, a request is refused (400) only when its body is not JSON (or not
an object, or a batch without a `batch` list) and refused (413) when it is too large; a call
that breaks the spec (no userId or anonymousId, a track without an event name, ...) costs
only itself: it is spooled as a rejected line (`REJECTED` holds the reason, `call` the call
as sent) that the loader quarantines with its reason, and the request answers 200.

Pure functions (no socket, no workspace), so every rule is unit-testable; server.py is the
HTTP side and calls them.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
import zlib
from datetime import datetime, timezone

from engine.ingest.events import REJECTED

MAX_EVENT_BYTES = 32 * 1024      # Segment's limit for one event
MAX_BATCH_BYTES = 500 * 1024     # ... and for one batch request
_ENRICHMENT_SLACK = 512          # receivedAt, originalTimestamp, messageId we add

EVENT_TYPES = ("identify", "track", "page", "screen", "group", "alias")
ROUTES = {f"/v1/{t}": t for t in EVENT_TYPES}
ROUTES.update({f"/v1/{t[0]}": t for t in EVENT_TYPES})  # analytics.js: /v1/t, /v1/i, ...
ROUTES.update({"/v1/batch": "batch", "/v1/b": "batch", "/v1/import": "batch"})



class ApiError(Exception):
    """A request the collector refuses, with the HTTP status and a message for the sender."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class InvalidCall(ApiError):
    """One call that breaks the spec: quarantined with this reason, the rest of the request lands."""

    def __init__(self, message: str):
        super().__init__(400, message)


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
        raise too_large(limit)
    return body


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is larger than {limit // 1024} KB "
                         f"(Segment's limit); send smaller batches.")


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ApiError(400, f"The body has a number out of range ({text[:40]}); send it as a string.")
    return value


def _loads_fallback(body: bytes):
    # NaN and Infinity are not JSON, and 1e999 is no number DuckDB (or orjson) can hold
    return json.loads(body, parse_constant=_not_json, parse_float=_finite)


_TOO_DEEP = "The body is nested too deeply (objects and lists within each other); send flatter events."


def _dumps_fallback(value) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" without its pair: valid JSON syntax, not text DuckDB can store
        raise ApiError(400, "The body has a string with an unpaired UTF-16 surrogate (e.g. \\ud800); "
                            "send valid Unicode text.") from None
    except RecursionError:  # orjson stops at 255 levels; the standard library at the stack's depth
        raise ApiError(400, _TOO_DEEP) from None


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
    except RecursionError:  # past orjson's 1,024 levels the standard library's parser runs out of stack
        raise ApiError(400, _TOO_DEEP) from None
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return data


def parse_time(value, field: str, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    if value.__class__ is not str:
        raise InvalidCall(f"{where}: {field} must be an ISO-8601 string.")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidCall(f"{where}: {field} {value[:40]!r} is not an ISO-8601 time.") from None
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
        raise InvalidCall(f"{_where(where)}: {key} must be a string.")
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
        raise InvalidCall(f"{_where(where)}: an event must be a JSON object.")
    if "writeKey" in event:
        del event["writeKey"]  # a secret: never stored
    event.pop(REJECTED, None)  # only the collector marks a call rejected
    if kind is not None:
        event["type"] = kind
    else:
        kind = event.get("type")
        if kind not in EVENT_TYPES:
            raise InvalidCall(f"{_where(where)}: type must be one of {', '.join(EVENT_TYPES)}.")
    if not _as_id(event, "userId", where) and not _as_id(event, "anonymousId", where):
        raise InvalidCall(f"{_where(where)}: userId or anonymousId is required.")
    if kind == "track":
        name = event.get("event")
        if name.__class__ is not str or not name.strip():
            raise InvalidCall(f"{_where(where)}: event (the event name) is required for track.")
    elif kind == "alias" and not _as_id(event, "previousId", where):
        raise InvalidCall(f"{_where(where)}: previousId is required for alias.")
    elif kind == "group" and not _as_id(event, "groupId", where):
        raise InvalidCall(f"{_where(where)}: groupId is required for group.")
    for key in _OBJECT_FIELDS:
        value = event.get(key)
        if value is not None and value.__class__ is not dict:
            raise InvalidCall(f"{_where(where)}: {key} must be a JSON object.")
    if batch_context:
        event["context"] = {**batch_context, **(event.get("context") or {})}
    if not _as_id(event, "messageId", where):
        event["messageId"] = "cdp-" + uuid.uuid4().hex
    own_sent = event.get("sentAt")
    original = event.get("timestamp")
    try:
        if own_sent:
            sent = parse_time(own_sent, "sentAt", _where(where))
            skew, sent_iso = stamp.received - sent, iso(sent)
        else:
            skew, sent_iso = stamp.skew, stamp.sent_iso
        if original:
            timestamp = parse_time(original, "timestamp", _where(where))
            event["originalTimestamp"] = original
            event["timestamp"] = iso(timestamp + skew) if skew is not None else iso(timestamp)
        else:
            event["timestamp"] = stamp.received_iso
    except OverflowError:  # e.g. year 9999 moved forward by the clock-skew correction
        what = f"timestamp {str(original)[:40]!r}" if original else f"sentAt {str(own_sent)[:40]!r}"
        raise InvalidCall(f"{_where(where)}: {what} is out of range once moved to UTC and "
                            f"corrected for the sender's clock (years 1 to 9999).") from None
    if sent_iso is not None:
        event["sentAt"] = sent_iso
    event["receivedAt"] = stamp.received_iso
    line = _dumps(event)
    if len(line) > MAX_EVENT_BYTES + _ENRICHMENT_SLACK:
        raise ApiError(413, f"{_where(where)}: the event is larger than {MAX_EVENT_BYTES // 1024} KB "
                            f"(Segment's limit per event).")
    return line


def rejected_line(call, reason: str) -> bytes:
    """The spool line of a call that breaks the spec: quarantined by the loader with `reason`."""
    line = _dumps({REJECTED: reason, "call": call})
    if len(line) > MAX_EVENT_BYTES + _ENRICHMENT_SLACK:
        raise ApiError(413, f"{reason} The call is also larger than {MAX_EVENT_BYTES // 1024} KB "
                            f"(Segment's limit per event).")
    return line


def _line(event, kind: str | None, stamp: _Stamp, batch_context: dict | None, where) -> bytes:
    try:
        return prepare_event(event, kind, stamp, batch_context, where)
    except InvalidCall as exc:
        return rejected_line(event, exc.message)


def prepare_request(kind: str, payload: dict, received: datetime | None = None) -> tuple[bytes, int]:
    """All of a request's calls as spool lines, and their count.

    A call that breaks the spec becomes a rejected line (see `rejected_line`); the request is
    refused only as a whole body (ApiError: not JSON, no batch list, too large).
    """
    received = received or datetime.now(timezone.utc)
    if kind == "batch":
        events = payload.get("batch")
        if not isinstance(events, list):
            raise ApiError(400, "A batch request needs a `batch` list of events.")
        try:
            stamp = _Stamp(received, parse_time(payload.get("sentAt"), "sentAt", "batch"))
        except OverflowError:
            raise ApiError(400, f"batch: sentAt {str(payload.get('sentAt'))[:40]!r} is out of range "
                                f"(years 1 to 9999 in UTC).") from None
        context = payload.get("context")
        if context is not None and not isinstance(context, dict):
            raise ApiError(400, "batch: context must be a JSON object.")
        lines = [_line(event, None, stamp, context, i) for i, event in enumerate(events)]
        return b"\n".join(lines) + b"\n" if lines else b"", len(lines)
    return _line(payload, kind, _Stamp(received, None), None, kind) + b"\n", 1
