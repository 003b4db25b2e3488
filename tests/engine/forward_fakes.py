"""Local stand-ins for the Meta Conversions API and the Google Data Manager API.

They check every request against the platforms' rules and answer with their success and
error shapes; `script` queues answers to give before the checks run: a status code (429, 500,
401, 400) or "token-expired" (Meta's HTTP 400 OAuthException code 190). `reject_ids` are event
ids the platform refuses for reasons of its own. Event ages are measured from `clock()` (seconds),
so tests can set the time the platform believes it is.

Meta refuses the whole request when one event is bad (one message, no index); Google's Data
Manager API refuses it too but names each bad event in `fieldViolations` (`events[i].field`).
"""
from __future__ import annotations

import calendar
import json
import re
import time
from http.server import BaseHTTPRequestHandler

from tests.engine.local_server import LocalServer

HEX64 = re.compile(r"^[0-9a-f]{64}$")
META_ACTION_SOURCES = {"email", "website", "app", "phone_call", "chat", "physical_store", "system_generated",
                       "business_messaging", "other"}


def check_meta(body: dict, now: float | None = None, reject_ids=()) -> list[str]:
    now = time.time() if now is None else now
    problems = []
    data = body.get("data")
    if not isinstance(data, list) or not 1 <= len(data) <= 1000:
        return ["data must hold 1 to 1000 events"]
    if not body.get("access_token"):
        problems.append("missing access_token")
    ids = [e.get("event_id") for e in data]
    if len(set(ids)) != len(ids):
        problems.append("duplicate event_id in one request")
    for e in data:
        for key in ("event_name", "event_time", "action_source", "user_data", "event_id"):
            if key not in e:
                problems.append(f"missing {key}")
        if e.get("event_id") in reject_ids:
            problems.append(f"event {e.get('event_id')} refused")
        max_days = 62 if e.get("action_source") == "physical_store" else 7
        if not isinstance(e.get("event_time"), int) or e["event_time"] < now - max_days * 86400:
            problems.append(f"event_time older than {max_days} days")
        if isinstance(e.get("event_time"), int) and e["event_time"] > now + 600:
            problems.append("event_time in the future")
        if e.get("action_source") not in META_ACTION_SOURCES:
            problems.append(f"bad action_source {e.get('action_source')}")
        if e.get("action_source") == "website" and not e.get("user_data", {}).get("client_user_agent"):
            problems.append("website events need client_user_agent")
        ud = e.get("user_data", {})
        for key in ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "external_id"):
            if key in ud and not (isinstance(ud[key], list) and all(HEX64.match(v) for v in ud[key])):
                problems.append(f"user_data.{key} must be a list of SHA-256 hex")
        if "fbc" in ud and not re.match(r"^fb\.1\.\d+\.\S+$", ud["fbc"]):
            problems.append("fbc must be fb.1.<ms>.<fbclid>, unhashed")
        if not any(k in ud for k in ("em", "ph", "external_id", "fbc", "fbp", "client_ip_address")):
            problems.append("no customer information parameter")
    return problems


def check_google(body: dict, headers, now: float | None = None, reject_ids=()) -> list[str]:
    """Problems; those of one event start with `events[i].` (the index in the request)."""
    now = time.time() if now is None else now
    problems = []
    if not headers.get("Authorization", "").startswith("Bearer "):
        problems.append("missing bearer token")
    if body.get("encoding") != "HEX":
        problems.append("encoding must be HEX")
    if not body.get("destinations"):
        problems.append("destinations required")
    events = body.get("events") or []
    if not 1 <= len(events) <= 2000:
        problems.append("events must hold 1 to 2000 events")
    for i, e in enumerate(events):
        at = f"events[{i}]"
        stamp = e.get("eventTimestamp", "")
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", stamp):
            problems.append(f"{at}.event_timestamp: must be RFC 3339")
        elif calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) < now - 90 * 86400:
            problems.append(f"{at}.event_timestamp: older than the 90-day click-through window")
        if e.get("transactionId") in reject_ids:
            problems.append(f"{at}.transaction_id: refused")
        ids = e.get("adIdentifiers", {})
        users = (e.get("userData") or {}).get("userIdentifiers", [])
        if not ids and not users:
            problems.append(f"{at}: an event needs a click id or user data")
        for u in users:
            for key in ("emailAddress", "phoneNumber"):
                if key in u and not HEX64.match(u[key]):
                    problems.append(f"{at}.user_data: {key} must be SHA-256 hex")
        if e.get("consent", {}).get("adUserData") not in ("CONSENT_GRANTED", "CONSENT_DENIED"):
            problems.append(f"{at}.consent: adUserData required")
    return problems


GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 429: "RESOURCE_EXHAUSTED"}


class FakePlatform(LocalServer):
    """A threaded HTTP server on 127.0.0.1; `requests` holds every accepted body."""

    def __init__(self, kind: str, clock=time.time):
        self.kind = kind
        self.clock = clock
        self.requests: list[dict] = []
        self.attempts = 0                 # every POST, accepted or not
        self.problems: list[str] = []
        self.script: list = []
        self.reject_ids: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                fake.attempts += 1
                answer = fake.script.pop(0) if fake.script else 200
                problems = []
                if answer == 200:
                    problems = (check_meta(body, fake.clock(), fake.reject_ids) if fake.kind == "meta"
                                else check_google(body, self.headers, fake.clock(), fake.reject_ids))
                    if problems:
                        fake.problems.extend(problems)
                        answer = 400
                    else:
                        fake.requests.append(body)
                self._answer(answer, body, problems)

            def _answer(self, answer, body, problems):
                status = 400 if answer == "token-expired" else answer
                if status == 200:
                    payload = ({"events_received": len(body["data"]), "messages": [], "fbtrace_id": "A1"}
                               if fake.kind == "meta" else {"requestId": "req-1"})
                elif fake.kind == "meta":
                    if answer == "token-expired" or status == 401:
                        error = {"message": "Error validating access token: Session has expired.",
                                 "type": "OAuthException", "code": 190, "error_subcode": 463}
                    else:
                        error = {"message": {429: "User request limit reached", 400: "Invalid parameter"}.get(
                            status, "Service temporarily unavailable"), "type": "OAuthException",
                            "code": 100 if status == 400 else 2}
                    payload = {"error": error}
                else:
                    violations = [{"field": p.split(": ", 1)[0], "description": p.split(": ", 1)[-1]}
                                  for p in problems if p.startswith("events[")]
                    payload = {"error": {"code": status, "message": "Request failed",
                                         "status": GOOGLE_STATUS.get(status, "UNAVAILABLE"),
                                         "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                                      "fieldViolations": violations}] if violations else []}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.serve(Handler)

    def events(self) -> list[dict]:
        key = "data" if self.kind == "meta" else "events"
        return [e for body in self.requests for e in body[key]]
