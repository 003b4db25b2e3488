"""Local fake ad-platform / CRM servers on 127.0.0.1 for the activation tests.

One threaded http.server per destination kind. Every request is checked against the
platform's rules (shape, batch limits, hash format, separate add and remove calls) and
answered with the platform's success or error shapes. `faults` queues responses (429 with
Retry-After, 5xx, 401) returned before normal handling; `violations` lists what the platform
would refuse (answered with its 400), `warnings` what it accepts but warns about.
"""
from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import re
import threading
import urllib.parse
from datetime import datetime
from http.server import BaseHTTPRequestHandler

import pytest

from engine.activation import audiences, config
from engine.activation.http import HttpClient
from tests.engine.local_server import LocalServer

HEX = re.compile(r"^[0-9a-f]{64}$")
# Meta: mobile advertiser ids in plain lowercase with hyphens (IDFA/GAID are UUIDs), never hashed.
MADID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Standard Webhooks: a payload should stay under 20 kB.
WEBHOOK_MAX_BYTES = 20_000
TOKEN = "test-token-123"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"super-secret-key-bytes").decode()

# Klaviyo retires a revision two years after release; as of its 2026-10-15 revision the 2024
# revisions are retired and 2025 ones deprecated.
KLAVIYO_OLDEST_REVISION = "2025-01-15"
KLAVIYO_PROFILE_FIELDS = {"email", "phone_number", "external_id", "_kx", "first_name", "last_name",
                          "organization", "locale", "title", "image", "location", "properties"}

ERROR_SHAPES = {
    "meta": {
        401: {"error": {"message": "Error validating access token: Session has expired.",
                        "type": "OAuthException", "code": 190, "fbtrace_id": "AbC"}},
        400: {"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                        "error_user_msg": "The data you uploaded is not in the right format.", "fbtrace_id": "AbC"}},
        429: {"error": {"message": "User request limit reached", "type": "OAuthException", "code": 17}},
        500: {"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}},
    },
    "google": {
        401: {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED"}},
        400: {"error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"}},
        429: {"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED"}},
        500: {"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}},
        503: {"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}},
    },
    "klaviyo": {
        401: {"errors": [{"id": "1", "status": 401, "code": "not_authenticated",
                          "title": "Authentication credentials were not provided.",
                          "detail": "Missing or invalid private key."}]},
        400: {"errors": [{"id": "1", "status": 400, "code": "invalid", "title": "Invalid input.",
                          "detail": "Invalid input."}]},
        429: {"errors": [{"id": "1", "status": 429, "code": "throttled", "title": "Request was throttled.",
                          "detail": "Request was throttled. Expected available in 1 second."}]},
        500: {"errors": [{"id": "1", "status": 500, "code": "error", "title": "A server error occurred.",
                          "detail": "A server error occurred."}]},
    },
    "hubspot": {
        401: {"status": "error", "message": "Authentication credentials not found.",
              "category": "INVALID_AUTHENTICATION", "correlationId": "c1"},
        400: {"status": "error", "message": "Invalid input JSON", "category": "VALIDATION_ERROR",
              "correlationId": "c1"},
        429: {"status": "error", "message": "You have reached your secondly limit.", "category": "RATE_LIMITS"},
        500: {"status": "error", "message": "internal error", "category": "INTERNAL_ERROR"},
    },
    "linkedin": {
        401: {"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN",
              "message": "Invalid access token"},
        400: {"status": 400, "code": "VALIDATION_FAILED", "message": "Invalid request"},
        429: {"status": 429, "message": "Resource level throttle limit exceeded"},
        500: {"status": 500, "message": "Internal Server Error"},
    },
    "webhook": {401: {"error": "bad signature"}, 400: {"error": "bad request"},
                429: {"error": "slow down"}, 500: {"error": "oops"}},
}


class FakePlatform(LocalServer):
    def __init__(self, kind: str, batch_limit: int | None = None):
        self.kind = kind
        self.batch_limit = batch_limit or {"meta": 10_000, "google": 10_000, "klaviyo": 1_000,
                                           "hubspot": 100, "linkedin": 5_000,
                                           "webhook": 1_000}[kind]
        self.requests: list[dict] = []
        self.violations: list[str] = []
        self.warnings: list[str] = []
        self.value_based_audiences: set[str] = set()   # Meta audiences created with is_value_based
        self.invalid_keys: set[str] = set()            # hashed values Meta reports as invalid entries
        self.google_status: dict = {}                  # request id -> RequestStatusPerDestination extras
        self.faults: collections.deque = collections.deque()
        self.members: dict[str, object] = {}     # platform-side audience: key -> member
        self.add_calls = self.remove_calls = 0
        self.webhook_ids: list[str] = []
        self.hubspot_ids: dict[str, str] = {}
        self.deletions: list[str] = []           # people deleted outright (Klaviyo, HubSpot, webhook)
        self.klaviyo_profiles: dict[str, str] = {}   # email -> profile id
        self.klaviyo_consent: dict[str, str] = {}    # email -> email-marketing consent
        self.subscription_calls = 0
        self.lock = threading.Lock()
        self.serve(self._handler())

    def fail(self, status: int, times: int = 1, retry_after: str | None = None):
        for _ in range(times):
            self.faults.append((status, {"Retry-After": retry_after} if retry_after else {}))

    # -- handler ----------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _go(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with fake.lock:
                    fake.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers), "body": raw})
                    if fake.faults:
                        status, headers = fake.faults.popleft()
                        return self._reply(status, ERROR_SHAPES[fake.kind].get(status, {}), headers)
                    try:
                        status, body = getattr(fake, f"_{fake.kind}")(self, raw)
                    except AssertionError as exc:
                        fake.violations.append(f"{self.command} {self.path}: {exc}")
                        status, body = 400, ERROR_SHAPES[fake.kind][400]
                    return self._reply(status, body)

            def _reply(self, status, body, headers=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _go

        return Handler

    def _auth(self, h, header="Authorization", scheme="Bearer"):
        if h.headers.get(header) != f"{scheme} {TOKEN}":
            raise _Unauthorized()

    # -- platforms --------------------------------------------------------
    def _meta(self, h, raw):
        """Meta's Custom Audience users edge (POST adds, DELETE removes): a multi-key payload
        {schema, is_raw, data} and a session; keys SHA-256 hex except MADID (plain lowercase) and
        LOOKALIKE_VALUE (a number, only for value-based audiences, which require it)."""
        try:
            self._auth(h)
        except _Unauthorized:
            return 401, ERROR_SHAPES["meta"][401]
        m = re.fullmatch(r"/([0-9A-Za-z_]+)/users", h.path)
        assert m, "path must be /{audience_id}/users"
        assert h.command in ("POST", "DELETE"), "adds are POST, removes DELETE"
        body = json.loads(raw)
        payload, session = body["payload"], body["session"]
        schema, data = payload["schema"], payload["data"]
        assert len(data) <= 10_000, f"{len(data)} rows > 10,000 per request"
        assert len(set(schema)) == len(schema), "repeated schema key"
        assert {"session_id", "batch_seq", "last_batch_flag", "estimated_num_total"} <= set(session)
        if len(schema) > 1 and payload.get("is_raw") is not True:
            self.warnings.append(f"{h.command} {h.path}: multi-key upload without is_raw: true")
        value_based = m.group(1) in self.value_based_audiences
        assert ("LOOKALIKE_VALUE" in schema) == value_based, \
            "LOOKALIKE_VALUE is required by, and only accepted for, a value-based audience"
        invalid = {}
        for row in data:
            assert len(row) == len(schema), "row length differs from schema"
            assert any(v not in ("", None) for k, v in zip(schema, row) if k != "LOOKALIKE_VALUE"), "row without any key"
            for k, v in zip(schema, row):
                if k == "LOOKALIKE_VALUE":
                    assert isinstance(v, (int, float)) and v >= 0, f"LOOKALIKE_VALUE must be a number >= 0: {v!r}"
                elif k == "MADID":
                    assert v == "" or MADID.match(v), f"MADID must be plain lowercase, not hashed: {v!r}"
                else:
                    assert v == "" or HEX.match(v), f"not a lowercase SHA-256 hex: {v!r}"
                    if v in self.invalid_keys:
                        invalid[v] = f"invalid {k}"
        valid = [row for row in data if not any(v in invalid for v in row)]
        key = schema.index("EMAIL") if "EMAIL" in schema else 0
        if h.command == "POST":
            self.add_calls += 1
            for row in valid:
                self.members[row[key] or json.dumps(row)] = row
        else:
            self.remove_calls += 1
            for row in valid:
                self.members.pop(row[key] or json.dumps(row), None)
        return 200, {"audience_id": m.group(1), "session_id": session["session_id"],
                     "num_received": len(data), "num_invalid_entries": len(data) - len(valid),
                     "invalid_entry_samples": invalid}

    def _google(self, h, raw):
        """Data Manager API: audienceMembers:ingest / :remove, and requestStatus:retrieve for
        the diagnostics of a request id it answered with."""
        try:
            self._auth(h)
        except _Unauthorized:
            return 401, ERROR_SHAPES["google"][401]
        path, _, query = h.path.partition("?")
        if path == "/requestStatus:retrieve":
            assert h.command == "GET" and not raw, "requestStatus:retrieve is a GET with an empty body"
            rid = dict(urllib.parse.parse_qsl(query)).get("requestId")
            assert rid in self.google_status, f"no request {rid!r}"
            return 200, {"requestStatusPerDestination": [self.google_status[rid]]}
        assert h.command == "POST"
        assert path in ("/audienceMembers:ingest", "/audienceMembers:remove"), path
        body = json.loads(raw)
        assert body.get("encoding") == "HEX", "encoding must be HEX"
        dests = body["destinations"]
        assert dests and dests[0]["operatingAccount"]["accountId"] and dests[0]["productDestinationId"]
        members = body["audienceMembers"]
        assert 0 < len(members) <= 10_000, f"{len(members)} members per request"
        ingest = path.endswith("ingest")
        if ingest:
            assert body["termsOfService"]["customerMatchTermsOfServiceStatus"] == "ACCEPTED"
            assert body["consent"] == {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"}
        identifiers = 0
        for mem in members:
            ids = mem["userData"]["userIdentifiers"]
            assert 0 < len(ids) <= 10
            identifiers += len(ids)
            for ident in ids:
                assert len(ident) == 1, "exactly one identifier per UserIdentifier"
                (k, v), = ident.items()
                if k in ("emailAddress", "phoneNumber"):
                    assert HEX.match(v), f"{k} not hex SHA-256"
                else:
                    assert k == "address"
                    assert HEX.match(v["givenName"]) and HEX.match(v["familyName"])
                    assert re.fullmatch(r"[A-Z]{2}", v["regionCode"]) and v["postalCode"] == v["postalCode"].strip()
            first = json.dumps(ids[0], sort_keys=True)
            if ingest:
                self.members[first] = mem
            else:
                self.members.pop(first, None)
        if ingest:
            self.add_calls += 1
        else:
            self.remove_calls += 1
        rid = f"req-{len(self.requests)}"
        counts = {"recordCount": str(len(members)), "userIdentifierCount": str(identifiers)}
        self.google_status[rid] = {
            "destination": dests[0], "requestStatus": "SUCCESS",
            **({"audienceMembersIngestionStatus": {"userDataIngestionStatus": {
                **counts, "uploadMatchRateRange": "MATCH_RATE_RANGE_20_TO_30"}}} if ingest else
               {"audienceMembersRemovalStatus": {"userDataRemovalStatus": counts}})}
        return 200, {"requestId": rid}

    def _klaviyo(self, h, raw):
        """Klaviyo as its API reference documents it (revision 2026-10-15): list membership through
        Bulk Import Profiles (with a `lists` relationship), Get Profiles (filter any(email, ...)),
        Add/Remove Profiles to/from List (profile ids, at most 1,000). The subscription endpoints
        change consent: a sync calling them is a violation (counted in `subscription_calls`).
        `klaviyo_consent` is each profile's email-marketing consent, which list calls never change."""
        try:
            self._auth(h, scheme="Klaviyo-API-Key")
        except _Unauthorized:
            return 401, ERROR_SHAPES["klaviyo"][401]
        revision = h.headers.get("revision") or ""
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", revision), "revision header required"
        assert revision[:10] >= KLAVIYO_OLDEST_REVISION, f"revision {revision} is retired"
        path, _, query = h.path.partition("?")
        path = path.rstrip("/")
        if "subscription" in path:
            self.subscription_calls += 1
            raise AssertionError(f"{path} changes email consent; list membership must not")
        if h.command == "GET":
            assert path == "/api/profiles", path
            params = dict(urllib.parse.parse_qsl(query))
            assert 1 <= int(params.get("page[size]", "20")) <= 100, "page[size] is 1..100"
            m = re.fullmatch(r"any\(email,(\[.*\])\)", params.get("filter", ""))
            assert m, f"filter must be any(email,[...]): {params.get('filter')!r}"
            emails = json.loads(m.group(1))
            assert len(emails) <= int(params.get("page[size]", "20")), "more emails than one page holds"
            return 200, {"data": [{"type": "profile", "id": self.klaviyo_profiles[e], "attributes": {"email": e}}
                                  for e in emails if e in self.klaviyo_profiles], "links": {"next": None}}
        assert h.headers.get("Content-Type") == "application/vnd.api+json"
        assert len(raw) <= 5 * 1024 * 1024, "payload over 5 MB"
        body = json.loads(raw)
        if path == "/api/data-privacy-deletion-jobs":   # Request Profile Deletion: exactly one identifier
            data = body["data"]
            assert h.command == "POST" and data["type"] == "data-privacy-deletion-job"
            profile = data["attributes"]["profile"]["data"]
            assert profile["type"] == "profile"
            (id_kind, ident), = profile["attributes"].items()
            assert id_kind in ("email", "phone_number", "id")
            self.deletions.append(ident)
            self.members.pop(ident, None)
            return 202, None
        if path == "/api/profile-bulk-import-jobs":
            assert h.command == "POST"
            data = body["data"]
            assert data["type"] == "profile-bulk-import-job"
            profiles = data["attributes"]["profiles"]["data"]
            assert 0 < len(profiles) <= 10_000, f"{len(profiles)} profiles > 10,000 per job"
            lists = data["relationships"]["lists"]["data"]
            assert lists and all(x["type"] == "list" and x["id"] for x in lists)
            for p in profiles:
                assert p["type"] == "profile" and set(p["attributes"]) <= KLAVIYO_PROFILE_FIELDS, \
                    f"not a profile attribute: {sorted(set(p['attributes']) - KLAVIYO_PROFILE_FIELDS)}"
                email = p["attributes"]["email"]
                assert "@" in email and not HEX.match(email)
            for p in profiles:
                email = p["attributes"]["email"]
                pid = self.klaviyo_profiles.setdefault(email, f"01K{len(self.klaviyo_profiles):07d}")
                self.klaviyo_consent.setdefault(email, "NEVER_SUBSCRIBED")
                self.members[email] = pid
            self.add_calls += 1
            return 202, {"data": {"type": "profile-bulk-import-job", "id": f"job-{len(self.requests)}",
                                  "attributes": {"status": "queued", "total_count": len(profiles)}}}
        m = re.fullmatch(r"/api/lists/([^/]+)/relationships/profiles", path)
        assert m and h.command in ("POST", "DELETE"), f"{h.command} {path} is not a list membership call"
        data = body["data"]
        assert isinstance(data, list) and 0 < len(data) <= 1000, f"{len(data)} profiles > 1,000 per call"
        by_id = {v: k for k, v in self.klaviyo_profiles.items()}
        for p in data:
            assert set(p) == {"type", "id"} and p["type"] == "profile", "profiles are given by id only"
            assert p["id"] in by_id, f"no profile {p['id']}"
        for p in data:
            if h.command == "POST":
                self.members[by_id[p["id"]]] = p["id"]
            else:
                self.members.pop(by_id[p["id"]], None)
        if h.command == "POST":
            self.add_calls += 1
        else:
            self.remove_calls += 1
        return 204, None

    def _hubspot(self, h, raw):
        """HubSpot's CRM v3 as its API reference documents it: contacts batch upsert/read by email,
        list membership PUT /crm/v3/lists/{listId}/memberships/add|remove (record ids, which leave
        subscriptions as they are), GDPR delete. The communication-preferences (subscription)
        endpoints change consent: a sync calling them is a violation (`subscription_calls`)."""
        try:
            self._auth(h)
        except _Unauthorized:
            return 401, ERROR_SHAPES["hubspot"][401]
        if "communication-preferences" in h.path:
            self.subscription_calls += 1
            raise AssertionError(f"{h.path} changes a subscription; list membership must not")
        assert h.headers.get("Content-Type") == "application/json"
        body = json.loads(raw)
        if h.path == "/crm/v3/objects/contacts/gdpr-delete":
            assert h.command == "POST" and set(body) <= {"objectId", "idProperty"} and body["objectId"]
            if body.get("idProperty") == "email":
                assert "@" in body["objectId"]
                rid = self.hubspot_ids.pop(body["objectId"], None)
            else:
                rid = body["objectId"]
            self.deletions.append(body["objectId"])
            self.members.pop(rid, None)
            return 204, None
        if h.path == "/crm/v3/objects/contacts/batch/upsert":
            assert len(body["inputs"]) <= 100
            out = []
            for inp in body["inputs"]:
                assert inp["idProperty"] == "email" and "@" in inp["id"]
                rid = self.hubspot_ids.setdefault(inp["id"], str(1000 + len(self.hubspot_ids)))
                out.append({"id": rid, "properties": {"email": inp["id"]}})
            return 200, {"status": "COMPLETE", "results": out}
        if h.path == "/crm/v3/objects/contacts/batch/read":
            assert len(body["inputs"]) <= 100
            return 200, {"status": "COMPLETE", "results": [
                {"id": self.hubspot_ids[i["id"]], "properties": {"email": i["id"]}}
                for i in body["inputs"] if i["id"] in self.hubspot_ids]}
        m = re.fullmatch(r"/crm/v3/lists/(\w+)/memberships/(add|remove)", h.path)
        assert m and h.command == "PUT", h.path
        assert isinstance(body, list) and len(body) <= 100
        if m.group(2) == "add":
            self.add_calls += 1
            self.members.update({i: True for i in body})
            return 200, {"recordIdsAdded": body, "recordIdsMissing": []}
        self.remove_calls += 1
        for i in body:
            self.members.pop(i, None)
        return 200, {"recordIdsRemoved": body, "recordIdsMissing": []}

    def _linkedin(self, h, raw):
        """LinkedIn DMP Segment Users: POST /dmpSegments/{id}/users as a BATCH_CREATE of
        {action ADD|REMOVE, userIds [{idType, idValue}], firstName?, lastName?} elements."""
        try:
            self._auth(h)
        except _Unauthorized:
            return 401, ERROR_SHAPES["linkedin"][401]
        m = re.fullmatch(r"/dmpSegments/(\d+)/users", h.path)
        assert m and h.command == "POST", f"{h.command} {h.path} is not DMP Segment Users"
        assert h.headers.get("X-RestLi-Method") == "BATCH_CREATE", "a batch needs X-RestLi-Method: BATCH_CREATE"
        assert h.headers.get("X-Restli-Protocol-Version") == "2.0.0"
        version = h.headers.get("LinkedIn-Version") or ""
        assert re.fullmatch(r"20\d{4}", version), f"LinkedIn-Version YYYYMM required: {version!r}"
        elements = json.loads(raw)["elements"]
        assert 0 < len(elements) <= self.batch_limit, f"{len(elements)} users per call"
        for e in elements:
            assert e["action"] in ("ADD", "REMOVE") and set(e) <= {"action", "userIds", "firstName", "lastName"}
            assert e["userIds"], "a user needs at least one id"
            for uid in e["userIds"]:
                assert uid["idType"] in ("SHA256_EMAIL", "SHA512_EMAIL", "GOOGLE_AID"), uid["idType"]
                assert uid["idType"] != "SHA256_EMAIL" or HEX.match(uid["idValue"]), "SHA256_EMAIL is hex"
        adds = [e for e in elements if e["action"] == "ADD"]
        for e in elements:
            if e["action"] == "ADD":
                self.members[e["userIds"][0]["idValue"]] = e
            else:
                self.members.pop(e["userIds"][0]["idValue"], None)
        self.add_calls += bool(adds)
        self.remove_calls += len(adds) < len(elements)
        return 200, {"elements": [{"status": 201} for _ in elements]}

    def _webhook(self, h, raw):
        """A Standard Webhooks receiver: signature headers checked, payload {type, timestamp, data}."""
        msg_id, ts, sig = (h.headers.get(k) for k in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        key = base64.b64decode(WEBHOOK_SECRET[len("whsec_"):])
        expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + raw, hashlib.sha256).digest()).decode()
        if sig != f"v1,{expected}":
            return 401, ERROR_SHAPES["webhook"][401]
        if len(raw) > WEBHOOK_MAX_BYTES:
            self.warnings.append(f"payload of {len(raw):,} bytes is over the 20 kB Standard Webhooks recommend")
        body = json.loads(raw)
        assert set(body) == {"type", "timestamp", "data"}, f"not a Standard Webhooks payload: {sorted(body)}"
        datetime.fromisoformat(body["timestamp"])
        data = body["data"]
        assert len(data["members"]) <= self.batch_limit
        self.webhook_ids.append(msg_id)
        if body["type"] == "profile.deleted":
            assert data["request_id"]
            for mem in data["members"]:
                self.deletions.append(mem["profile_id"])
                self.members.pop(mem["profile_id"], None)
            return 200, {"ok": True}
        assert body["type"] in ("audience.members.added", "audience.members.removed"), body["type"]
        for mem in data["members"]:
            assert HEX.match(mem["email_sha256"] or "0" * 64)
            if body["type"] == "audience.members.added":
                self.members[mem["profile_id"]] = mem
            else:
                self.members.pop(mem["profile_id"], None)
        if body["type"] == "audience.members.added":
            self.add_calls += 1
        else:
            self.remove_calls += 1
        return 200, {"ok": True}


class _Unauthorized(Exception):
    pass


# -- a configured stand-in per test ------------------------------------------------
SETTINGS = {
    "meta": {"audience_id": "23850000"},
    "google": {"customer_id": "123-456-7890", "audience_id": "555", "terms_of_service_accepted": "yes"},
    "klaviyo": {"list_id": "Xy12Ab"},
    "hubspot": {"list_id": "77"},
    "linkedin": {"segment_id": "987654"},
    "webhook": {},
}
SECRET_ENV = {"meta": "ACCESS_TOKEN", "google": "ACCESS_TOKEN", "klaviyo": "API_KEY",
              "hubspot": "ACCESS_TOKEN", "linkedin": "ACCESS_TOKEN", "webhook": "SECRET"}


def fast():
    return HttpClient(base_delay=0.01, max_attempts=4)


def connect(workspace, admin, monkeypatch, fake: FakePlatform, batch_size=None, source=("list", "test"),
            **extra) -> str:
    """Configure a running stand-in as destination `fake.kind`, link `source` to it: the audience key."""
    kind = fake.kind
    monkeypatch.setenv(f"CDP_DEST_{kind.upper()}_{SECRET_ENV[kind]}", WEBHOOK_SECRET if kind == "webhook" else TOKEN)
    settings = dict(SETTINGS[kind], base_url=fake.url, **extra)
    if batch_size:
        settings["batch_size"] = str(batch_size)
    config.add_destination(workspace, admin, kind, kind, settings, replace=True)
    return audiences.link_audience(workspace, admin, *source, kind)


@pytest.fixture
def platform(workspace, admin, monkeypatch, tmp_path):
    """Factory: a running fake of `kind`, configured as destination `kind`, linked to list:test."""
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    started = []

    def make(kind, batch_size=None, **extra):
        fake = FakePlatform(kind).__enter__()
        started.append(fake)
        return fake, connect(workspace, admin, monkeypatch, fake, batch_size, **extra)

    yield make
    for fake in started:
        fake.__exit__()
