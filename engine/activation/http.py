"""HTTP with retries: exponential backoff and full jitter on 429/5xx, honouring Retry-After;
no retry on authentication or validation errors; errors in plain words.

Error messages never include request headers or bodies (they carry tokens and personal data).
"""
from __future__ import annotations

import email.utils
import json
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
_DEFAULT = urllib.request.build_opener()

RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class DeliveryError(Exception):
    """A request the destination did not accept; `message` is for people."""

    retryable = False

    def __init__(self, message: str, status: int | None = None, body: bytes = b""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body or b""      # the platform's error body, for callers that read its details


class AuthError(DeliveryError):
    """The destination refused our credentials (401/403): nothing will work until they are fixed."""


class RejectedError(DeliveryError):
    """The destination rejected the request's content (400/404/422): retrying will not help."""


class UnavailableError(DeliveryError):
    """Still failing after every retry (rate limit, server error or network)."""

    retryable = True


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            return {}


@dataclass
class Request:
    method: str
    url: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


class HttpClient:
    """Sends one request with retries. `describe(status, body) -> str` turns a platform's
    error response into plain words."""

    def __init__(self, max_attempts: int = 5, base_delay: float = 1.0, max_delay: float = 60.0,
                 timeout: float = 60.0, sleep: Callable[[float], None] = time.sleep):
        self.max_attempts = max(1, int(max_attempts))
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.timeout = float(timeout)
        self.sleep = sleep
        self.attempts_made = 0      # across the client's life, for reporting
        self.waited = 0.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait between 0 and base * 2**attempt, capped."""
        return random.uniform(0, min(self.max_delay, self.base_delay * (2 ** attempt)))

    def send(self, req: Request, describe: Callable[[int, bytes], str]) -> Response:
        last = "no response"
        for attempt in range(self.max_attempts):
            self.attempts_made += 1
            wait = None
            try:
                resp = self._once(req)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"could not reach the destination ({reason})"
            else:
                if 200 <= resp.status < 300:
                    return resp
                text = describe(resp.status, resp.body)
                if resp.status in (401, 403):
                    raise AuthError(f"The destination refused our credentials: {text}", resp.status, resp.body)
                if resp.status not in RETRY_STATUSES:
                    raise RejectedError(f"The destination rejected the request: {text}", resp.status, resp.body)
                last = text
                wait = retry_after_seconds(resp.headers.get("retry-after"))
            if attempt + 1 >= self.max_attempts:
                break
            delay = self.backoff(attempt)
            if wait is not None:
                delay = max(delay, min(wait, self.max_delay))
            self.waited += delay
            self.sleep(delay)
        raise UnavailableError(
            f"The destination is unavailable after {self.max_attempts} attempts: {last}")

    def _once(self, req: Request) -> Response:
        r = urllib.request.Request(req.url, data=req.body, method=req.method, headers=req.headers)
        opener = _DIRECT if r.host.split(":")[0] in ("127.0.0.1", "localhost", "[::1]") else _DEFAULT
        try:
            with opener.open(r, timeout=self.timeout) as resp:
                return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
        except urllib.error.HTTPError as exc:
            body = exc.read() if exc.fp else b""
            return Response(exc.code, {k.lower(): v for k, v in (exc.headers or {}).items()}, body)
