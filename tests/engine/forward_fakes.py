"""Local stand-ins for the Meta Conversions API and the Google Data Manager API.

They check every request against the platforms' rules and answer with their success and
error shapes; `script` queues status codes to answer with (429, 500, 401, 400) before 200.
"""
from __future__ import annotations

import json
import re
import time
from http.server import BaseHTTPRequestHandler

from tests.engine.local_server import LocalServer

HEX64 = re.compile(r"^[0-9a-f]{64}$")
META_ACTION_SOURCES = {"email", "website", "app", "phone_call", "chat", "physical_store", "system_generated",
                       "business_messaging", "other"}


def check_meta(body: dict) -> list[str]:
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
        if not isinstance(e.get("event_time"), int) or e["event_time"] < time.time() - 7 * 86400 - 60:
            if e.get("action_source") != "physical_store":
                problems.append("event_time older than 7 days")
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


def check_google(body: dict, headers) -> list[str]:
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
    for e in events:
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", e.get("eventTimestamp", "")):
            problems.append("eventTimestamp must be RFC 3339")
        ids = e.get("adIdentifiers", {})
        users = (e.get("userData") or {}).get("userIdentifiers", [])
        if not ids and not users:
            problems.append("an event needs a click id or user data")
        for u in users:
            for key in ("emailAddress", "phoneNumber"):
                if key in u and not HEX64.match(u[key]):
                    problems.append(f"{key} must be SHA-256 hex")
        if e.get("consent", {}).get("adUserData") not in ("CONSENT_GRANTED", "CONSENT_DENIED"):
            problems.append("consent.adUserData required")
    return problems


class FakePlatform(LocalServer):
    """A threaded HTTP server on 127.0.0.1; `requests` holds every parsed body it got."""

    def __init__(self, kind: str):
        self.kind = kind
        self.requests: list[dict] = []
        self.problems: list[str] = []
        self.script: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                status = fake.script.pop(0) if fake.script else 200
                if status == 200:
                    problems = check_meta(body) if fake.kind == "meta" else check_google(body, self.headers)
                    if problems:
                        fake.problems.extend(problems)
                        status = 400
                    else:
                        fake.requests.append(body)
                self._answer(status, body)

            def _answer(self, status, body):
                if status == 200:
                    payload = ({"events_received": len(body["data"]), "messages": [], "fbtrace_id": "A1"}
                               if fake.kind == "meta" else {"requestId": "req-1"})
                elif fake.kind == "meta":
                    payload = {"error": {"message": {401: "Invalid OAuth access token.", 429: "User request limit reached",
                                                     400: "Invalid parameter"}.get(status, "Service temporarily unavailable"),
                                         "type": "OAuthException", "code": 190 if status == 401 else 2}}
                else:
                    payload = {"error": {"code": status, "message": "Request failed", "status": "INVALID_ARGUMENT"}}
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
